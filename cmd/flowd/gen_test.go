package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd/flowd/bench/gen"
)

// genSamples are the commands that made the samples in testdata (see
// testdata/README.md and bench/gen's package doc).
var genSamples = []struct {
	capture, truth string
	args           string
}{
	{"sample.pcap", "sample.truth.csv",
		"-seed 1 -flows 300 -mean 10 -vlan 0.15 -qinq 0.1 -ip-options 0.1 -frag 0.2 -icmp-errors 0.1 -reuse 0.08 -synack 0.06 -reject 0.04 -unanswered 0.05 -half-close 0.2 -malformed 18"},
	{"sample-2if.pcapng", "sample-2if.truth.csv",
		"-seed 2 -flows 100 -link2 raw -resolution2 us -frag 0.2 -icmp-errors 0.1 -reuse 0.08 -synack 0.06"},
}

// TestGenSamples: the committed samples are what their documented commands
// make.
func TestGenSamples(t *testing.T) {
	for _, s := range genSamples {
		t.Run(s.capture, func(t *testing.T) {
			dir := t.TempDir()
			capFile, truthFile := filepath.Join(dir, s.capture), filepath.Join(dir, s.truth)
			args := append([]string{"-o", capFile, "-truth", truthFile}, strings.Fields(s.args)...)
			if err := runGen(args); err != nil {
				t.Fatal(err)
			}
			for _, f := range [][2]string{{capFile, s.capture}, {truthFile, s.truth}} {
				got, err := os.ReadFile(f[0])
				if err != nil {
					t.Fatal(err)
				}
				want, err := os.ReadFile(filepath.Join("..", "..", "testdata", f[1]))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("testdata/%s differs from what `flowd gen %s` makes: regenerate it (testdata/README.md)", f[1], s.args)
				}
			}
		})
	}
}

// TestGenDefaults: the defaults -h shows are the generator's own.
func TestGenDefaults(t *testing.T) {
	file := filepath.Join(t.TempDir(), "d.pcap")
	if err := runGen([]string{"-o", file}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if _, err := gen.WritePcap(&want, gen.Config{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Error("flowd gen with its default flags differs from gen.Config{Seed: 1}")
	}
}

func TestGenFlags(t *testing.T) {
	dir := t.TempDir()
	if err := runGen([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	for _, args := range [][]string{
		{"-o", filepath.Join(dir, "x.pcap"), "-link2", "raw"}, // pcap holds one interface
		{"-o", filepath.Join(dir, "x.pcap"), "-link", "token-ring"},
		{"-o", filepath.Join(dir, "x.pcap"), "-flows", "0"},
		{"-o", filepath.Join(dir, "x.pcap"), "-sizes", "huge"},
		{"-o", filepath.Join(dir, "x.pcap"), "-start", "yesterday"},
		{"-o", filepath.Join(dir, "x.pcap"), "-mtu", "100"},
		{"-o", filepath.Join(dir, "x.pcap"), "extra"},
	} {
		if err := runGen(args); err == nil {
			t.Errorf("flowd gen %v: no error", args)
		}
	}
	// gzip by suffix, pcapng by suffix.
	gz := filepath.Join(dir, "x.pcapng.gz")
	if err := runGen([]string{"--o", gz, "--flows", "20"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(gz)
	if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("%s is not gzip: %v", gz, err)
	}
}
