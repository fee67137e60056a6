package main

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/internal/clidoc"
)

// runBin runs the built flowd with stdin (may be nil) and returns its
// stdout, stderr and exit status.
func runBin(t *testing.T, stdin io.Reader, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(buildFlowd(t), args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	}
	t.Fatalf("flowd %q: %v", args, err)
	return "", "", -1
}

// genCapture writes a generated pcap and returns its bytes and path.
func genCapture(t *testing.T, dir string, flows int, seed uint64) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	if _, err := gen.WritePcap(&b, gen.Config{Seed: seed, Flows: flows, Duration: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "whole.pcap")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), path
}

// splitPcap cuts a pcap into files of the given numbers of records (the
// last takes the rest), each with the file header.
func splitPcap(b []byte, counts ...int) [][]byte {
	hdr := b[:24]
	off := 24
	var out [][]byte
	for i := 0; i <= len(counts); i++ {
		start := off
		for n := 0; off < len(b) && (i == len(counts) || n < counts[i]); n++ {
			off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
		}
		out = append(out, append(slices.Clone(hdr), b[start:off]...))
	}
	return out
}

func TestHelpOnStdout(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"help"}, {"help", "replay"},
		{"replay", "-h"}, {"replay", "--help"}, {"serve", "-h"}, {"serve", "--help"},
		{"watch", "-h"}, {"gen", "-h"}, {"gen", "--help"}, {"bench", "-h"}, {"bench", "report", "-h"},
		{"version", "-h"}, {"completion", "-h"}, {"man", "-h"},
	} {
		out, errs, code := runBin(t, nil, args...)
		if code != 0 || !strings.Contains(out, "Usage") || errs != "" {
			t.Errorf("flowd %q: exit %d, stdout %d bytes, stderr %q", args, code, len(out), errs)
		}
	}
	out, _, _ := runBin(t, nil, "replay", "-h")
	// The groups, common ones first.
	last := -1
	for _, g := range []string{groupInput, groupOutput, groupSelect, groupTable, groupEmergency, groupExport, groupFlowLogs, groupAdvanced} {
		i := strings.Index(out, "\n\n"+g+":\n")
		if i < 0 || i < last {
			t.Errorf("replay -h: group %q missing or out of order", g)
		}
		last = i
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, code := runBin(t, nil, args...)
		if code != 0 || !strings.HasPrefix(out, "flowd ") || !strings.Contains(out, "commit: ") || !strings.Contains(out, "go: go1.") {
			t.Errorf("flowd %q: %d\n%s", args, code, out)
		}
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	b, pcap := genCapture(t, dir, 50, 2)
	damaged := filepath.Join(dir, "damaged.pcap")
	os.WriteFile(damaged, append(slices.Clone(b[:len(b)-10]), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0o644)
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"replay", "--no-such-flag", pcap}, 2},
		{[]string{"replay", "--workers", "many", pcap}, 2},
		{[]string{"replay", "--workers", "0", pcap}, 2},
		{[]string{"replay", "--format", "yaml", pcap}, 2},
		{[]string{"replay", "--top", "3", "--by", "size", pcap}, 2},
		{[]string{"replay", "--since", "yesterday", pcap}, 2},
		{[]string{"replay", "--capture", "Nope=1", pcap}, 2},
		{[]string{"replay"}, 2},
		{[]string{"serve", "extra"}, 2},
		{[]string{"serve", "--listen"}, 2},
		{[]string{"gen", "-flows", "0"}, 2},
		{[]string{"gen", "extra"}, 2},
		{[]string{"bench", "-n", "0"}, 2},
		{[]string{"bench", "report"}, 2},
		{[]string{"completion"}, 2},
		{[]string{"completion", "tcsh"}, 2},
		{[]string{"man"}, 2},
		{[]string{"no-such-command"}, 2},
		{[]string{}, 2},
		{[]string{"replay", "--format", "none", damaged}, 1},
		{[]string{"replay", filepath.Join(dir, "missing.pcap")}, 1},
		{[]string{"replay", "--format", "none", pcap}, 0},
	} {
		_, errs, code := runBin(t, nil, c.args...)
		if code != c.code {
			t.Errorf("flowd %q: exit %d, want %d\n%s", c.args, code, c.code, errs)
			continue
		}
		// A usage error is one line of reason and a pointer to -h, never
		// the flag list (flowd alone prints the command list).
		if code == 2 && len(c.args) > 0 && (strings.Count(errs, "\n") != 2 || !strings.Contains(errs, "-h' for")) {
			t.Errorf("flowd %q: stderr is not one reason and a pointer:\n%s", c.args, errs)
		}
	}
}

// TestCompletionAndManCoverEveryFlag: every flag of every command is in
// each completion script and in the command's man page.
func TestCompletionAndManCoverEveryFlag(t *testing.T) {
	p := flowdDoc()
	if len(p.Cmds) < len(commands) {
		t.Fatalf("described %d commands, want at least %d", len(p.Cmds), len(commands))
	}
	scripts := map[string]string{}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		var b strings.Builder
		if err := p.Completion(&b, sh); err != nil {
			t.Fatal(err)
		}
		scripts[sh] = b.String()
	}
	dir := t.TempDir()
	if _, err := p.WriteMan(dir); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range commands {
		cf := describe(c.run)
		if cf == nil {
			t.Fatalf("%s: no flags described", c.name)
		}
		page, err := os.ReadFile(filepath.Join(dir, p.ManName(c.name)+".1"))
		if err != nil {
			t.Fatal(err)
		}
		cf.VisitAll(func(f *flag.Flag) {
			total++
			if !strings.Contains(scripts["bash"], " "+clidoc.DashName(f.Name)) || !strings.Contains(scripts["zsh"], " "+clidoc.DashName(f.Name)) {
				t.Errorf("%s %s: not in the bash/zsh completion", c.name, f.Name)
			}
			fishOpt := "-l " + f.Name + " "
			if len(f.Name) == 1 {
				fishOpt = "-s " + f.Name + " "
			}
			if !strings.Contains(scripts["fish"], fishOpt) {
				t.Errorf("%s %s: not in the fish completion", c.name, f.Name)
			}
			if !strings.Contains(string(page), clidoc.Roff(clidoc.DashName(f.Name))) {
				t.Errorf("%s %s: not in %s.1", c.name, f.Name, p.ManName(c.name))
			}
		})
	}
	if total < 80 {
		t.Errorf("only %d flags seen", total)
	}
	// The scripts the binary writes parse in their shells.
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if _, err := exec.LookPath(sh); err != nil {
			continue
		}
		out, _, code := runBin(t, nil, "completion", sh)
		f := filepath.Join(dir, "comp."+sh)
		os.WriteFile(f, []byte(out), 0o644)
		check := exec.Command(sh, "-n", f)
		if sh == "fish" {
			check = exec.Command(sh, "--no-execute", f)
		}
		if msg, err := check.CombinedOutput(); code != 0 || err != nil {
			t.Errorf("%s completion: exit %d, %v\n%s", sh, code, err, msg)
		}
	}
	if _, err := exec.LookPath("man"); err == nil {
		if out, err := exec.Command("man", "-l", "-Tutf8", filepath.Join(dir, "flowd-replay.1")).CombinedOutput(); err != nil || !strings.Contains(string(out), "--capture") {
			t.Logf("man -l flowd-replay.1 (informational): %v\n%.300s", err, out)
		}
	}
}

// replayCSV replays args with CSV output and returns stdout.
func replayCSV(t *testing.T, stdin io.Reader, args ...string) string {
	t.Helper()
	out, errs, code := runBin(t, stdin, append([]string{"replay", "--format", "csv", "--quiet", "--progress", "never"}, args...)...)
	if code != 0 {
		t.Fatalf("flowd replay %q: exit %d\n%s", args, code, errs)
	}
	return out
}

func TestReplayStdin(t *testing.T) {
	b, pcap := genCapture(t, t.TempDir(), 300, 7)
	want := replayCSV(t, nil, pcap)
	got := replayCSV(t, bytes.NewReader(b), "-")
	if got != want || strings.Count(want, "\n") < 300 {
		t.Fatalf("stdin replay differs from the file's (%d vs %d lines)", strings.Count(got, "\n"), strings.Count(want, "\n"))
	}
}

// TestReplayDirectory: a capture cut in three files, named so that their
// names' order is not their time order, replays as the whole capture, given
// as a directory or as a glob.
func TestReplayDirectory(t *testing.T) {
	dir := t.TempDir()
	b, pcap := genCapture(t, dir, 300, 8)
	want := replayCSV(t, nil, pcap)
	set := filepath.Join(dir, "set")
	os.Mkdir(set, 0o755)
	parts := splitPcap(b, 700, 900)
	for i, name := range []string{"c.pcap", "a.pcap", "b.pcap"} {
		os.WriteFile(filepath.Join(set, name), parts[i], 0o644)
	}
	os.WriteFile(filepath.Join(set, "README"), []byte("not a capture\n"), 0o644)
	if got := replayCSV(t, nil, set); got != want {
		t.Errorf("directory replay differs from the whole capture's")
	}
	if got := replayCSV(t, nil, filepath.Join(set, "*.pcap")); got != want {
		t.Errorf("glob replay differs from the whole capture's")
	}
}

// TestReplayFollow writes a rotating set (tcpdump -C naming) while flowd
// follows it, cutting a record in two across writes; the flows equal the
// whole capture's.
func TestReplayFollow(t *testing.T) {
	dir := t.TempDir()
	b, pcap := genCapture(t, dir, 300, 9)
	want := replayCSV(t, nil, pcap)
	parts := splitPcap(b, 500, 800)
	first := filepath.Join(dir, "rot.pcap")
	out := filepath.Join(dir, "out.csv")
	// The first file starts with its header and part of its records.
	half := len(parts[0]) / 2
	if err := os.WriteFile(first, parts[0][:half], 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(buildFlowd(t), "replay", "--follow", "--follow-idle", "3s", "--follow-poll", "20ms",
		"--format", "csv", "-o", out, "--quiet", "--progress", "never", first)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	appendTo := func(path string, p []byte) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(p)
		f.Close()
		time.Sleep(150 * time.Millisecond)
	}
	rest := parts[0][half:]
	appendTo(first, rest[:len(rest)/3]) // likely ends inside a record
	appendTo(first, rest[len(rest)/3:])
	appendTo(first+"1", parts[1][:100]) // the header and a cut record
	appendTo(first+"1", parts[1][100:])
	appendTo(first+"2", parts[2])
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("flowd replay --follow: %v\n%s", err, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("flowd replay --follow did not stop after --follow-idle")
	}
	got, _ := os.ReadFile(out)
	if string(got) != want {
		t.Fatalf("followed replay differs from the whole capture's (%d vs %d bytes)\n%s", len(got), len(want), errb.String())
	}
}

func TestNaturalOrderAndSets(t *testing.T) {
	names := []string{"cap.pcap10", "cap.pcap", "cap.pcap2", "cap.pcap1"}
	sort.Slice(names, func(i, j int) bool { return naturalCompare(names[i], names[j]) < 0 })
	if !slices.Equal(names, []string{"cap.pcap", "cap.pcap1", "cap.pcap2", "cap.pcap10"}) {
		t.Errorf("natural order: %q", names)
	}
	for _, c := range []struct {
		first, name string
		same        bool
	}{
		{"cap.pcap", "cap.pcap3", true},
		{"cap.pcap", "cap.pcapx", false},
		{"edge-20260101-1200.pcap", "edge-20260101-1300.pcap", true},
		{"edge-20260101-1200.pcap", "core-20260101-1300.pcap", false},
		{"edge.pcap", "other.pcap", false},
	} {
		if got := sameSet(c.first, c.name); got != c.same {
			t.Errorf("sameSet(%q, %q) = %v", c.first, c.name, got)
		}
	}
}

// TestUnusableCapture: a capture of a link type flowd does not decode is
// named in a warning with the share lost, and the replay exits 1.
func TestUnusableCapture(t *testing.T) {
	var b bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 147) // LINKTYPE_USER0
	b.Write(hdr)
	for i := range 10 {
		rec := make([]byte, 16+20)
		binary.LittleEndian.PutUint32(rec[0:], uint32(1700000000+i))
		binary.LittleEndian.PutUint32(rec[8:], 20)
		binary.LittleEndian.PutUint32(rec[12:], 20)
		b.Write(rec)
	}
	path := filepath.Join(t.TempDir(), "user0.pcap")
	os.WriteFile(path, b.Bytes(), 0o644)
	_, errs, code := runBin(t, nil, "replay", "--format", "none", path)
	if code != 1 || !strings.Contains(errs, "linktype-147") || !strings.Contains(errs, "10 of 10 frames (100%)") || !strings.Contains(errs, "nothing usable") {
		t.Fatalf("exit %d\n%s", code, errs)
	}
}

// csvFlow is one row of replay's CSV output.
type csvFlow struct {
	line            string
	proto, src, dst string
	sport, dport    int
	pkts, bytes     uint64
	first, last     time.Time
	srcAddr         netip.Addr
}

func parseCSV(t *testing.T, out string) []csvFlow {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	r := csv.NewReader(strings.NewReader(out))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var flows []csvFlow
	for i, row := range rows[1:] {
		n := func(j int) uint64 { v, _ := strconv.ParseUint(row[j], 10, 64); return v }
		first, _ := time.Parse(time.RFC3339Nano, row[12])
		last, _ := time.Parse(time.RFC3339Nano, row[13])
		sp, _ := strconv.Atoi(row[2])
		dp, _ := strconv.Atoi(row[4])
		flows = append(flows, csvFlow{line: lines[i+1], proto: row[0], src: row[1], dst: row[3], sport: sp, dport: dp,
			pkts: n(6) + n(7), bytes: n(8) + n(9), first: first, last: last, srcAddr: netip.MustParseAddr(row[1])})
	}
	return flows
}

// TestReplayCapture: --capture, --since and --until print the flows a
// filter written by hand over the CSV output keeps.
func TestReplayCapture(t *testing.T) {
	_, pcap := genCapture(t, t.TempDir(), 400, 11)
	all := parseCSV(t, replayCSV(t, nil, pcap))
	header := strings.SplitN(replayCSV(t, nil, pcap), "\n", 2)[0]
	tenSlash8 := netip.MustParsePrefix("10.0.0.0/8")
	start := all[0].first // rows come in order of their first packet
	for _, c := range []struct {
		args []string
		keep func(f csvFlow) bool
	}{
		{[]string{"--capture", "Protocols=17"}, func(f csvFlow) bool { return f.proto == "17" }},
		{[]string{"--capture", "SourceAddress={AddressDefinition=10.0.0.0/8},Protocols=6", "--capture", `[{"DestinationPort":"1:1023","Protocols":["17"]}]`},
			func(f csvFlow) bool {
				return f.proto == "6" && tenSlash8.Contains(f.srcAddr) || f.proto == "17" && f.dport >= 1 && f.dport <= 1023
			}},
		{[]string{"--since", "2s", "--until", "5s"}, func(f csvFlow) bool {
			return !f.last.Before(start.Add(2*time.Second)) && !f.first.After(start.Add(5*time.Second))
		}},
		{[]string{"--capture", "Protocols=6", "--since", start.Add(3 * time.Second).Format(time.RFC3339Nano)}, func(f csvFlow) bool {
			return f.proto == "6" && !f.last.Before(start.Add(3*time.Second))
		}},
	} {
		want := []string{header}
		for _, f := range all {
			if c.keep(f) {
				want = append(want, f.line)
			}
		}
		got := strings.Split(strings.TrimSuffix(replayCSV(t, nil, append(c.args, pcap)...), "\n"), "\n")
		if len(want) < 5 || len(want) == len(all)+1 {
			t.Fatalf("%q: the hand filter keeps %d of %d flows: a poor test", c.args, len(want)-1, len(all))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q: %d flows, the hand filter %d", c.args, len(got)-1, len(want)-1)
		}
	}
}

// TestReplayTop: --top against an aggregation of the CSV output by hand.
func TestReplayTop(t *testing.T) {
	_, pcap := genCapture(t, t.TempDir(), 400, 12)
	all := parseCSV(t, replayCSV(t, nil, pcap))
	for _, c := range []struct{ by, group string }{
		{"bytes", "src"}, {"packets", "pair"}, {"flows", "port"}, {"bytes", "proto"}, {"flows", "dst"},
	} {
		type agg struct {
			key                string
			flows, pkts, bytes uint64
		}
		groups := map[string]*agg{}
		for _, f := range all {
			var k string
			switch c.group {
			case "src":
				k = f.src
			case "dst":
				k = f.dst
			case "pair":
				k = f.src + "," + f.dst
			case "proto":
				k = map[string]string{"6": "TCP", "17": "UDP", "1": "ICMP", "58": "IPv6-ICMP", "132": "SCTP"}[f.proto]
			case "port":
				k = strconv.Itoa(f.dport)
			}
			g := groups[k]
			if g == nil {
				g = &agg{key: k}
				groups[k] = g
			}
			g.flows++
			g.pkts += f.pkts
			g.bytes += f.bytes
		}
		var list []*agg
		for _, g := range groups {
			list = append(list, g)
		}
		metric := func(g *agg) uint64 {
			return map[string]uint64{"bytes": g.bytes, "packets": g.pkts, "flows": g.flows}[c.by]
		}
		sort.Slice(list, func(i, j int) bool {
			if metric(list[i]) != metric(list[j]) {
				return metric(list[i]) > metric(list[j])
			}
			return strings.ReplaceAll(list[i].key, ",", " ") < strings.ReplaceAll(list[j].key, ",", " ")
		})
		var want []string
		for _, g := range list[:min(5, len(list))] {
			want = append(want, fmt.Sprintf("%s,%d,%d,%d", g.key, g.flows, g.pkts, g.bytes))
		}
		out := replayCSV(t, nil, "--top", "5", "--by", c.by, "--group-by", c.group, pcap)
		got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")[1:]
		if !slices.Equal(got, want) {
			t.Errorf("--top 5 --by %s --group-by %s:\n%s\nwant\n%s", c.by, c.group, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestReplayFollowSignal: a follower ends with SIGINT, writes every flow
// (those in the table with reason shutdown) and exits 0.
func TestReplayFollowSignal(t *testing.T) {
	dir := t.TempDir()
	_, pcap := genCapture(t, dir, 100, 13)
	want := strings.ReplaceAll(replayCSV(t, nil, pcap), ",active\n", ",shutdown\n")
	out := filepath.Join(dir, "out.csv")
	cmd := exec.Command(buildFlowd(t), "replay", "--follow", "--follow-poll", "20ms", "--format", "csv", "-o", out, "--quiet", pcap)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.Sleep(time.Second)
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("flowd replay --follow, then SIGINT: %v\n%s", err, errb.String())
	}
	if got, _ := os.ReadFile(out); string(got) != want {
		t.Fatalf("followed replay differs from the capture's, active flows ended by the signal\n%s", errb.String())
	}
}
