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

// TestGenTunnels: -tunnels, -vlan3 and -esp make the same bytes for the
// same flags and seed, other bytes for another seed, and a truth that lists
// the tunnels' own flows beside -flows; bad values are refused.
func TestGenTunnels(t *testing.T) {
	dir := t.TempDir()
	run := func(name string, extra ...string) ([]byte, []gen.Flow) {
		t.Helper()
		capFile, truthFile := filepath.Join(dir, name+".pcap"), filepath.Join(dir, name+".csv")
		args := append([]string{"-o", capFile, "-truth", truthFile, "-flows", "200", "-tunnels", "0.5",
			"-vlan3", "0.05", "-esp", "0.1"}, extra...)
		if err := runGen(args); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(capFile)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(truthFile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		flows, err := gen.ReadCSV(f)
		if err != nil {
			t.Fatal(err)
		}
		return b, flows
	}
	a, fa := run("a")
	b, _ := run("b")
	c, _ := run("c", "-seed", "2")
	if !bytes.Equal(a, b) {
		t.Error("the same flags and seed made different captures")
	}
	if bytes.Equal(a, c) {
		t.Error("seeds 1 and 2 made the same capture")
	}
	// 100 tunnelled flows, 10 three-tag flows, 10 ESP pairs of 2 flows
	// and 70 of bench/gen's, plus the tunnels' own flows.
	var esp, vlan3 int
	for _, f := range fa {
		if f.Proto == 50 && (f.Src.Is4() && f.Src.As4()[0] == 192 || f.Src.Is6() && f.Src.As16()[1] == 3) {
			esp++ // an ESP pair's flow, not one inside a tunnel
		}
		if len(f.VLAN) == 3 {
			vlan3++
		}
	}
	if esp != 20 || vlan3 != 10 || len(fa) <= 200 {
		t.Errorf("%d flows, %d ESP, %d with three tags; want over 200, 20, 10", len(fa), esp, vlan3)
	}
	for _, args := range [][]string{
		{"-tunnels", "1"},
		{"-esp", "-0.1"},
		{"-tunnels", "0.6", "-vlan3", "0.5"},
		{"-tunnels", "0.1", "-tunnel-kinds", "vxlan,pptp"},
		{"-tunnels", "0.1", "-link", "raw"},
	} {
		if err := runGen(append([]string{"-o", filepath.Join(dir, "x.pcap"), "-flows", "100"}, args...)); err == nil {
			t.Errorf("flowd gen %v: no error", args)
		}
	}
}
