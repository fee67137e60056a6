package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/output"
)

// This file is an external test: it runs the engine as a command does,
// with an output sink plugged in, and compares what the sink wrote.

// exactCases are generator configurations that between them cover every
// kind of traffic the generator makes, on every link type.
var exactCases = []struct {
	name   string
	pcapng bool
	cfg    gen.Config
}{
	{"default", false, gen.Config{Flows: 400}},
	{"ipv6-heavy", false, gen.Config{Flows: 300, IPv6: 0.8, IPOptions: 0.3}},
	{"vlan-qinq", false, gen.Config{Flows: 300, VLAN: 0.4, QinQ: 0.4}},
	{"fragments", false, gen.Config{Flows: 300, UDP: 1, TCP: gen.Off, ICMP: gen.Off, SCTP: gen.Off, Fragments: 0.6, MTU: 1280}},
	{"icmp-errors", false, gen.Config{Flows: 300, ICMPErrors: 0.5}},
	{"reuse-synack-reject", false, gen.Config{Flows: 300, Reuse: 0.3, SynAck: 0.2, Reject: 0.1, Unanswered: 0.1, HalfClose: 0.3}},
	{"elephants", false, gen.Config{Flows: 50, MeanPackets: 200, Skew: 2}},
	{"malformed", false, gen.Config{Flows: 100, Malformed: 60}},
	{"sll", false, gen.Config{Flows: 200, Interfaces: []gen.Interface{{Link: gen.SLL}}}},
	{"raw", false, gen.Config{Flows: 200, Interfaces: []gen.Interface{{Link: gen.Raw}}}},
	{"null", false, gen.Config{Flows: 200, Interfaces: []gen.Interface{{Link: gen.Null}}}},
	{"pcapng-3if", true, gen.Config{Flows: 300, Fragments: 0.2, ICMPErrors: 0.1, Interfaces: []gen.Interface{
		{Link: gen.Ethernet}, {Link: gen.SLL2, Resolution: gen.Micro}, {Link: gen.Raw}}}},
}

// TestExactAgainstTruth replays generated captures and requires every flow's
// key, direction, counters, times, state and end reason to equal the
// generator's truth, and the unusable frames to match by reason; with 1 and
// 3 workers, for several seeds.
func TestExactAgainstTruth(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, tc := range exactCases {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed%d", tc.name, seed), func(t *testing.T) {
				cfg := tc.cfg
				cfg.Seed = seed
				var buf bytes.Buffer
				var tr *gen.Truth
				var err error
				if tc.pcapng {
					tr, err = gen.WritePcapNG(&buf, cfg)
				} else {
					tr, err = gen.WritePcap(&buf, cfg)
				}
				if err != nil {
					t.Fatal(err)
				}
				var want bytes.Buffer
				if err := tr.WriteCSV(&want); err != nil {
					t.Fatal(err)
				}
				wantRows := sortedRows(want.String())
				for _, workers := range []int{1, 3} {
					got, st := replayCSV(t, buf.Bytes(), engine.Config{Workers: workers})
					gotRows := sortedRows(got)
					if !slices.Equal(gotRows, wantRows) {
						t.Fatalf("%d workers: flows differ from the truth (%d vs %d rows)\n%s",
							workers, len(gotRows), len(wantRows), rowDiff(gotRows, wantRows))
					}
					var errs [decode.NumReasons]uint64
					for _, s := range st.Sources {
						for r, n := range s.DecodeErrors {
							errs[r] += n
						}
						if s.FragmentsWithoutFirst != 0 {
							t.Errorf("%d fragments without first", s.FragmentsWithoutFirst)
						}
					}
					for r := decode.Reason(1); r < decode.NumReasons; r++ {
						if errs[r] != tr.DecodeErrors[r] {
							t.Errorf("%d workers: %d frames %s, truth says %d", workers, errs[r], r, tr.DecodeErrors[r])
						}
					}
					if st.Table.ICMPErrorNoFlow != 0 {
						t.Errorf("%d ICMP errors matched no flow", st.Table.ICMPErrorNoFlow)
					}
				}
			})
		}
	}
}

// replayCSV replays a capture held in memory through a csv sink and
// returns what it wrote, as replay does: flows ended during the replay and,
// when the engine stops, those still active.
func replayCSV(t *testing.T, capBytes []byte, cfg engine.Config) (string, engine.Status) {
	t.Helper()
	e := capEngine(t, capBytes, cfg)
	path := filepath.Join(t.TempDir(), "flows.csv")
	sink, err := output.NewSink(output.SinkConfig{Format: output.FormatCSV, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	e.AddSink(sink)
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-e.SourcesDone()
	st := e.Status()
	if err := e.Stop(engine.ReasonActive); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), st
}

// capEngine returns an engine with cfg reading the capture held in memory,
// not started.
func capEngine(t *testing.T, capBytes []byte, cfg engine.Config) *engine.Engine {
	t.Helper()
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.NewReader(bytes.NewReader(capBytes), "cap")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddSource(src, engine.SourceInfo{Name: "cap"}); err != nil {
		t.Fatal(err)
	}
	return e
}

func sortedRows(csv string) []string {
	rows := strings.Split(strings.TrimSpace(csv), "\n")
	slices.Sort(rows)
	return rows
}

func rowDiff(got, want []string) string {
	var b strings.Builder
	g := map[string]bool{}
	for _, r := range got {
		g[r] = true
	}
	w := map[string]bool{}
	for _, r := range want {
		w[r] = true
	}
	n := 0
	for _, r := range got {
		if !w[r] && n < 8 {
			fmt.Fprintf(&b, "  flowd only: %s\n", r)
			n++
		}
	}
	n = 0
	for _, r := range want {
		if !g[r] && n < 8 {
			fmt.Fprintf(&b, "  truth only: %s\n", r)
			n++
		}
	}
	return b.String()
}
