package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd/flowd/bench"
)

// TestBenchJSON runs 'flowd bench' end to end on tiny traffic and reads
// its JSON back; then 'flowd bench report' twice over the same results
// file, which must keep the first run's rows.
func TestBenchJSON(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "run.json")
	var stdout, stderr bytes.Buffer
	pcap := filepath.Join(dir, "gen.pcap")
	err := benchMain([]string{"-flows", "300", "-packets", "3000", "-n", "1", "-workers", "1,2",
		"-churn-flows", "2000", "-churn-table", "512", "-json", "-q", "-o", out, "-pcap", pcap}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("flowd bench: %v\n%s", err, stderr.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, stdout.String())
	}
	if rep.Version != bench.ReportVersion || rep.Input.Frames == 0 || rep.Input.Gen == nil || rep.Input.Gen.Flows != 300 {
		t.Errorf("report input %+v", rep.Input)
	}
	if len(rep.Phases) != 10 || rep.Phase(bench.PhaseEngine, 2) == nil || rep.Phase(bench.PhaseReplayEVE, 1) == nil ||
		rep.Output == nil || rep.Output.CSV <= 0 || rep.Output.IPFIXRecords == 0 || rep.Output.FlowLogRecords == 0 || rep.Churn == nil || rep.Scan == nil {
		t.Errorf("report phases %+v churn %+v scan %+v", rep.Phases, rep.Churn, rep.Scan)
	}
	if stderr.Len() != 0 {
		t.Errorf("-q but stderr: %s", stderr.String())
	}
	saved, err := os.ReadFile(out)
	if err != nil || !json.Valid(saved) {
		t.Fatalf("-o file: %v", err)
	}

	// The same capture from the file: the table is sized to its flows.
	stdout.Reset()
	if err := benchMain([]string{"-in", pcap, "-n", "1", "-workers", "1", "-churn-flows", "0", "-filters", "0", "-json", "-q"},
		&stdout, &stderr); err != nil {
		t.Fatalf("flowd bench -in: %v\n%s", err, stderr.String())
	}
	var fromFile bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &fromFile); err != nil {
		t.Fatal(err)
	}
	if fromFile.Input.Frames != rep.Input.Frames || fromFile.Memory == nil || fromFile.Memory.TableMax != int(fromFile.Input.Flows) ||
		fromFile.Churn != nil || fromFile.Scan != nil {
		t.Errorf("-in report: input %+v memory %+v", fromFile.Input, fromFile.Memory)
	}

	results := filepath.Join(dir, "RESULTS.md")
	svg := filepath.Join(dir, "plot.svg")
	for i := range 2 {
		stdout.Reset()
		if err := benchMain([]string{"report", "-results", results, "-svg", svg, "-label", "test", out}, &stdout, &stderr); err != nil {
			t.Fatalf("report %d: %v\n%s", i, err, stderr.String())
		}
	}
	md, _ := os.ReadFile(results)
	rows := bench.OldRows(md)
	if len(rows["P2"]) != 2 || len(rows["P9"]) != 2 {
		t.Errorf("after two reports: P2 %d rows, P9 %d rows, want 2 each\n%s", len(rows["P2"]), len(rows["P9"]), md)
	}
	if !strings.Contains(string(md), "](plot.svg)") {
		t.Error("results do not link the plot by a relative path")
	}
	b, _ := os.ReadFile(svg)
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("plot: %v", err)
		}
	}
}

func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-workers", "0"},
		{"-workers", "1,x"},
		{"-vs", "nosuchtool"},
		{"-sizes", "huge"},
		{"-n", "0"},
	} {
		var stdout, stderr bytes.Buffer
		if err := benchMain(append(args, "-flows", "10", "-q"), &stdout, &stderr); err == nil {
			t.Errorf("flowd bench %q: no error", args)
		}
	}
}
