package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/bench/gen"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{7}, 7},
		{[]float64{3, 1}, 2},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{9, 9, 1, 9, 1}, 9},
	} {
		in := append([]float64(nil), c.in...)
		if got := Median(in); got != c.want {
			t.Errorf("Median(%v) = %g, want %g", c.in, got, c.want)
		}
		for i := range in {
			if in[i] != c.in[i] {
				t.Fatalf("Median reordered its input: %v", in)
			}
		}
	}
}

// fakeReport is a report with every section filled, at a table size.
func fakeReport(flows int, date time.Time, engineNs float64) *Report {
	n := uint64(flows * 10)
	ph := func(name string, w int, ns float64) Phase {
		return Phase{Name: name, Workers: w, Packets: n, WallNs: ns * float64(n), CPUNs: ns * float64(n),
			NsPerPacket: ns, CPUNsPerPacket: ns, PacketsPerSec: 1e9 / ns, AllocsPerPacket: 0.0001}
	}
	return &Report{
		Version: ReportVersion, Date: date, Runs: 3,
		Machine: Machine{CPUs: 2, CPUModel: "Test CPU <x> & co", Kernel: "6.1", OS: "linux", GoVersion: "go1.26", Load1: 1},
		Input:   Input{Name: "generated", Gen: &GenParams{Flows: flows}, Frames: n, Flows: uint64(flows)},
		Phases: []Phase{ph(PhaseWalk, 0, 50), ph(PhaseDecode, 0, 70), ph(PhaseEngine, 1, engineNs),
			ph(PhaseEngine, 2, engineNs/1.8), ph(PhaseMap, 0, engineNs*3)},
		Memory:  &Memory{Flows: uint64(flows), TableMax: flows, BytesPerFlow: 130, MapBytesPerFlow: 230, FlowSize: 112},
		Churn:   &Churn{Flows: 1000, CreatedPerSec: 1e6, ExpiredPerSec: 9e5},
		Scan:    &Scan{Filters: 20, Flows: uint64(flows), FlowsPerSecPerCore: 60e6, WallNs: 1e6},
		Capture: &CaptureOp{Flows: uint64(flows), Status: "COMPLETED", Ms: 12},
		Vs: &Vs{Pcap: "/tmp/x.pcap", Frames: n, Runs: 3,
			Flowd: &ToolRow{Name: "flowd", Runs: 3, WallNs: 1e8, CPUNs: 1e8, PacketsPerSec: float64(n) / 0.1},
			Rows: []ToolRow{
				{Name: "softflowd", Runs: 3, WallNs: 6e8, CPUNs: 5e8, Ratio: 6, CPURatio: 5, PacketsPerSec: float64(n) / 0.6},
				{Name: "argus", Runs: 3, WallNs: 25e8, CPUNs: 2e9, Ratio: 25, CPURatio: 20, PacketsPerSec: float64(n) / 2.5},
				{Name: "tshark | fields", Runs: 1, WallNs: 40e9, Ratio: 400, PacketsPerSec: float64(n) / 40},
			},
			Missing: []string{"nfpcapd"}},
	}
}

const goBenchOut = `goos: linux
goarch: amd64
pkg: github.com/flowd/flowd/flowtable
cpu: AMD EPYC
BenchmarkUpdate/flows=1000000/zipf/table-2         	 6966783	       160.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkUpdate/flows=1000000/zipf/table-batch-2   	14226114	        80.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkUpdate/flows=1000000/zipf/map-2           	 3000000	       500.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkUpdate/flows=1000000/zipf/table-2         	 6966783	       170.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkUpdate/flows=1000000/zipf/table-batch-2   	14226114	        90.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkUpdate/flows=1000000/zipf/map-2           	 3000000	       450.0 ns/op	       0 B/op	       0 allocs/op
PASS
ok  	github.com/flowd/flowd/flowtable	12.3s
pkg: github.com/flowd/flowd/engine
BenchmarkScanFilters/selective/workers=1/flows=1M-2  	      30	  20000000 ns/op	  50000000 flows/s	     50000 matched
    ops_bench_test.go:99: a log line
PASS
`

func TestParseGoBench(t *testing.T) {
	g, err := ParseGoBench(strings.NewReader(goBenchOut))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Names) != 4 {
		t.Fatalf("names %q, want 4", g.Names)
	}
	v, n, ok := g.Median("flowtable BenchmarkUpdate/flows=1000000/zipf/map", "ns/op")
	if !ok || n != 2 || v != 475 {
		t.Errorf("map median = %g over %d (%v), want 475 over 2", v, n, ok)
	}
	if v, _, ok := g.Median("engine BenchmarkScanFilters/selective/workers=1/flows=1M", "flows/s"); !ok || v != 5e7 {
		t.Errorf("flows/s = %g (%v), want 5e7", v, ok)
	}
	if got := g.Match("flowtable ", "table-batch"); len(got) != 1 {
		t.Errorf("Match = %q", got)
	}
}

func TestMergeKeepsOldRows(t *testing.T) {
	g, _ := ParseGoBench(strings.NewReader(goBenchOut))
	d1 := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	d2 := d1.Add(24 * time.Hour)
	run1 := &RunSet{Reports: []*Report{fakeReport(10_000, d1, 200), fakeReport(1_000_000, d1, 300)}, GoBench: g}
	md1 := MergeResults(nil, run1, "throughput.svg")
	// A person adds a row by hand and some prose; both must survive.
	md1 = bytes.Replace(md1, []byte("## P9 — live capture\n"), []byte("## P9 — live capture\n\nSome prose.\n"), 1)
	rows1 := OldRows(md1)
	for _, tg := range Targets {
		if len(rows1[tg.ID]) != 1 {
			t.Fatalf("%s: %d rows after the first run, want 1:\n%s", tg.ID, len(rows1[tg.ID]), md1)
		}
	}
	hand := "| 2020-01-01 | by hand | x | y | z |"
	md1 = bytes.Replace(md1, []byte(rows1["P4"][0]), []byte(rows1["P4"][0]+"\n"+hand), 1)

	run2 := &RunSet{Reports: []*Report{fakeReport(100_000, d2, 250)}, Label: "quick"}
	md2 := MergeResults(md1, run2, "throughput.svg")
	rows2 := OldRows(md2)
	for _, tg := range Targets {
		want := 2
		if tg.ID == "P4" {
			want = 3
		}
		got := rows2[tg.ID]
		if len(got) != want {
			t.Fatalf("%s: %d rows after the second run, want %d:\n%s", tg.ID, len(got), want, md2)
		}
		if !strings.Contains(got[0], "2026-01-03") || !strings.Contains(got[0], "*quick*") {
			t.Errorf("%s: newest row is not first: %q", tg.ID, got[0])
		}
		if got[1] != rows1[tg.ID][0] {
			t.Errorf("%s: old row changed:\n%q\n%q", tg.ID, got[1], rows1[tg.ID][0])
		}
	}
	if rows2["P4"][2] != hand {
		t.Errorf("hand-written row lost: %q", rows2["P4"])
	}
	// Three runs: still everything, and each row has the header's columns
	// (pipes inside cells are escaped).
	md3 := MergeResults(md2, run1, "")
	for _, tg := range Targets {
		rows := OldRows(md3)[tg.ID]
		if len(rows) != len(rows2[tg.ID])+1 {
			t.Errorf("%s: %d rows after the third run", tg.ID, len(rows))
		}
		cols := strings.Count(tg.Header, "|")
		for _, r := range rows[:2] {
			if n := strings.Count(r, "|") - strings.Count(r, `\|`); n != cols {
				t.Errorf("%s: row has %d pipes, header %d: %q", tg.ID, n, cols, r)
			}
		}
	}
	if !bytes.Contains(md1, []byte("](throughput.svg)")) {
		t.Error("plot not linked")
	}
	// Spot-check verdicts from the fake figures.
	if !strings.Contains(rows1["P1"][0], "| met |") || !strings.Contains(rows1["P5"][0], "| met |") {
		t.Errorf("verdicts: P1 %q, P5 %q", rows1["P1"][0], rows1["P5"][0])
	}
	if !strings.Contains(rows1["P9"][0], "not built yet") || !strings.Contains(rows1["P8"][0], "not built yet") {
		t.Errorf("P8/P9 rows: %q %q", rows1["P8"][0], rows1["P9"][0])
	}
}

// wellFormed parses b as XML to the end.
func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
}

func TestPlotWellFormed(t *testing.T) {
	d := time.Now()
	wellFormed(t, Plot(nil))
	wellFormed(t, Plot([]*Report{fakeReport(100_000, d, 200)}))
	b := Plot([]*Report{fakeReport(10_000, d, 200), fakeReport(100_000, d, 250), fakeReport(1_000_000, d, 400)})
	wellFormed(t, b)
	for _, want := range []string{"flowd engine, 1 worker", "flowd engine, 2 workers", "softflowd", "tshark | fields", "polyline"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("plot lacks %q", want)
		}
	}
}

func TestRunSmall(t *testing.T) {
	data, truth, err := Generate(gen.Config{Flows: 200, MeanPackets: 8, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Config{
		Pcap: data, Name: "small", Flows: 200, Runs: 2, Workers: []int{1, 2},
		Churn: ChurnConfig{Flows: 2000, Table: 256},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Input.Frames != truth.Packets {
		t.Errorf("frames %d, want %d", rep.Input.Frames, truth.Packets)
	}
	for _, p := range []struct {
		name string
		w    int
	}{{PhaseWalk, 0}, {PhaseDecode, 0}, {PhaseEngine, 1}, {PhaseEngine, 2}, {PhaseMap, 0}} {
		ph := rep.Phase(p.name, p.w)
		if ph == nil || len(ph.Samples) != 2 || ph.WallNs <= 0 || ph.PacketsPerSec <= 0 {
			t.Errorf("phase %s/%d: %+v", p.name, p.w, ph)
		}
	}
	if rep.Input.Flows < 190 || rep.Memory == nil || rep.Memory.BytesPerFlow <= 0 || rep.Memory.MapBytesPerFlow <= 0 {
		t.Errorf("flows %d, memory %+v", rep.Input.Flows, rep.Memory)
	}
	if c := rep.Churn; c == nil || c.Created < 2000 || c.Expired == 0 {
		t.Errorf("churn %+v", rep.Churn)
	}
	if rep.Scan == nil || rep.Scan.Filters != 20 || rep.Capture == nil || rep.Capture.Status != "COMPLETED" {
		t.Errorf("scan %+v, capture %+v", rep.Scan, rep.Capture)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || len(back.Phases) != len(rep.Phases) {
		t.Fatalf("JSON round trip: %v", err)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "engine, 2 workers") {
		t.Errorf("text: %v\n%s", err, text.String())
	}
}

// TestRunTools drives the -vs machinery with stand-ins: cat reads the
// pcap, true stands for flowd, a missing program is reported.
func TestRunTools(t *testing.T) {
	truePath, err1 := exec.LookPath("true")
	_, err2 := exec.LookPath("cat")
	if err1 != nil || err2 != nil {
		t.Skip("needs true and cat in PATH")
	}
	pcap := filepath.Join(t.TempDir(), "x.pcap")
	if err := os.WriteFile(pcap, []byte("not really a pcap"), 0o644); err != nil {
		t.Fatal(err)
	}
	tools := []Tool{
		{Name: "cat", Steps: []Step{{"cat", []string{"cat", "{pcap}"}}, {"cat+ls", []string{"ls", "{out}"}}}},
		{Name: "broken", Steps: []Step{{"broken", []string{"sh", "-c", "echo oops >&2; exit 3"}}}},
	}
	v, err := RunTools(context.Background(), VsConfig{Pcap: pcap, Frames: 100, Runs: 2, Tools: tools,
		Missing: []string{"nfpcapd"}, Flowd: truePath})
	if err != nil {
		t.Fatal(err)
	}
	if v.Flowd == nil || v.Flowd.Runs != 2 || !strings.Contains(v.Flowd.Command, "replay --format none") {
		t.Fatalf("flowd row %+v", v.Flowd)
	}
	if len(v.Rows) != 3 {
		t.Fatalf("rows %+v", v.Rows)
	}
	c, cl := v.Row("cat"), v.Row("cat+ls")
	if c == nil || c.Runs != 2 || c.Ratio <= 0 || c.PacketsPerSec <= 0 || cl == nil || cl.WallNs < c.WallNs {
		t.Errorf("cat rows %+v %+v", c, cl)
	}
	if !strings.Contains(cl.Command, "cat "+pcap+" && ls $OUT") {
		t.Errorf("command %q", cl.Command)
	}
	if b := v.Row("broken"); b == nil || b.Runs != 0 || !strings.Contains(b.Err, "oops") {
		t.Errorf("broken row %+v", b)
	}
	if _, _, err := LookupTools([]string{"nosuchtool"}); err == nil {
		t.Error("unknown tool accepted")
	}
}
