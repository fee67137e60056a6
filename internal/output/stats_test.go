package output_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/eveschema"
	"github.com/flowd/flowd/internal/output"
)

// statsStatus is a status with every counter a stats event reads set to
// a different value: a file source and, when live, a live one.
func statsStatus(live bool) engine.Status {
	file := engine.SourceStatus{Info: engine.SourceInfo{Name: "a.pcap"}, Frames: 1000, Bytes: 150000}
	file.DecodeErrors[decode.ReasonTruncated] = 3
	file.DecodeErrors[decode.ReasonNonIP] = 7
	file.DecodeErrors[decode.ReasonUnsupportedLink] = 11
	file.DecodeErrors[decode.ReasonBadGRE] = 2
	file.FragmentsWithoutFirst = 13
	file.Tunnels[decode.TunnelVXLAN] = 21
	file.Tunnels[decode.TunnelGeneve] = 22
	file.Tunnels[decode.TunnelGRE] = 23
	file.Tunnels[decode.TunnelERSPAN1] = 1
	file.Tunnels[decode.TunnelERSPAN3] = 4
	file.Tunnels[decode.TunnelTeredo] = 25
	file.Tunnels[decode.TunnelIPv4] = 26
	file.TunnelErrors[decode.ReasonTunnelTooDeep] = 5
	file.TunnelErrors[decode.ReasonTunnelFragment] = 6
	st := engine.Status{Sources: []engine.SourceStatus{file}, Packets: 990}
	if live {
		l := engine.SourceStatus{Info: engine.SourceInfo{Name: "eth0", Live: true}, Frames: 500, Bytes: 50000,
			Received: 530, Drops: 30, IfDrops: 2}
		l.DecodeErrors[decode.ReasonBadIPVersion] = 1
		st.Sources = append(st.Sources, l)
	}
	st.Table = engine.TableStats{Active: 40, Created: 100, EmergencyEntered: 3, EmergencyExited: 2}
	st.Table.Ended[engine.ReasonTimeout] = 31
	st.Table.Ended[engine.ReasonTCPClosed] = 17
	st.Table.Ended[engine.ReasonEvicted] = 12
	return st
}

// TestStatsEventCounters: each counter lands under Suricata's name, summed
// over the sources, and counters flowd does not keep are absent.
func TestStatsEventCounters(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC).UnixNano()
	for _, live := range []bool{false, true} {
		st := statsStatus(live)
		line := output.AppendStats(nil, at, &st, output.StatsOptions{Start: at - 90*int64(time.Second) - 1})
		if !bytes.HasSuffix(line, []byte("}\n")) || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("not one line: %q", line)
		}
		var ev struct {
			Timestamp string `json:"timestamp"`
			EventType string `json:"event_type"`
			Stats     struct {
				Uptime  int64                      `json:"uptime"`
				Capture map[string]uint64          `json:"capture"`
				Decoder map[string]uint64          `json:"decoder"`
				Flow    map[string]json.RawMessage `json:"flow"`
			} `json:"stats"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatalf("%v\n%s", err, line)
		}
		if ev.Timestamp != "2026-01-02T03:04:05.678901+0000" || ev.EventType != "stats" || ev.Stats.Uptime != 90 {
			t.Errorf("live %v: head %q %q uptime %d", live, ev.Timestamp, ev.EventType, ev.Stats.Uptime)
		}
		var frames, bytes, invalid uint64
		for i := range st.Sources {
			s := &st.Sources[i]
			frames += s.Frames
			bytes += s.Bytes
			// Malformed frames only: not non-IP ones, unsupported link
			// types or lone later fragments.
			invalid += s.Unusable() - s.DecodeErrors[decode.ReasonNonIP] - s.DecodeErrors[decode.ReasonUnsupportedLink] - s.FragmentsWithoutFirst
		}
		erspan := st.Sources[0].Tunnels[decode.TunnelERSPAN1] + st.Sources[0].Tunnels[decode.TunnelERSPAN3]
		want := map[string]uint64{"pkts": frames, "bytes": bytes, "avg_pkt_size": bytes / frames, "invalid": invalid,
			"too_many_layers": 5, "vxlan": 21, "geneve": 22, "gre": 23 + erspan, "erspan": erspan, "teredo": 25}
		if !mapsEqual(ev.Stats.Decoder, want) {
			t.Errorf("live %v: decoder %v, want %v", live, ev.Stats.Decoder, want)
		}
		flow := map[string]string{}
		for k, v := range ev.Stats.Flow {
			flow[k] = string(v)
		}
		wantFlow := map[string]string{"total": "100", "active": "40", "emerg_mode_entered": "3", "emerg_mode_over": "2",
			"get_used": "12", "mgr": `{"flows_timeout":31}`}
		if !mapsEqual(flow, wantFlow) {
			t.Errorf("live %v: flow %v, want %v", live, flow, wantFlow)
		}
		if !live && ev.Stats.Capture != nil {
			t.Errorf("capture counters without a live source: %v", ev.Stats.Capture)
		}
		if wantCap := map[string]uint64{"kernel_packets": 530, "kernel_drops": 30, "kernel_ifdrops": 2}; live && !mapsEqual(ev.Stats.Capture, wantCap) {
			t.Errorf("capture %v, want %v", ev.Stats.Capture, wantCap)
		}
	}
	// No frames: no average packet size (not a made-up zero).
	var empty engine.Status
	if line := output.AppendStats(nil, at, &empty, output.StatsOptions{Start: at}); bytes.Contains(line, []byte("avg_pkt_size")) {
		t.Errorf("avg_pkt_size of no packets: %s", line)
	}
}

func mapsEqual[V comparable](a, b map[string]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// eveLine is a line of an EVE file: an event's time, or a flow's start.
type eveLine struct {
	stats bool
	at    int64
}

// readEVELines reads an EVE file of flows (with starts by id) and stats
// events.
func readEVELines(t *testing.T, path string, flows map[uint64]int64) []eveLine {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []eveLine
	for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		var ev struct {
			EventType string `json:"event_type"`
			Timestamp string `json:"timestamp"`
			FlowID    uint64 `json:"flow_id"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("%v\n%s", err, l)
		}
		switch ev.EventType {
		case "stats":
			ts, err := time.Parse("2006-01-02T15:04:05.999999-0700", ev.Timestamp)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, eveLine{stats: true, at: ts.UnixNano()})
		case "flow":
			first, ok := flows[ev.FlowID]
			if !ok {
				t.Fatalf("flow %d written, never given", ev.FlowID)
			}
			out = append(out, eveLine{at: first})
		default:
			t.Fatalf("event type %q", ev.EventType)
		}
	}
	return out
}

// TestStatsSinkStartOrder: in start order, an event comes after every flow
// that started before its time and before every flow that started at or
// after it, whether the flows were held in memory, spilled to sorted runs
// or handed over in order at the end; an AtEnd event comes last. Events are
// not counted as flows written.
func TestStatsSinkStartOrder(t *testing.T) {
	for _, c := range []struct {
		name   string
		memory int64
		drain  bool
	}{{"held", 0, false}, {"spilled", 64 << 10, false}, {"drained", 64 << 10, true}} {
		t.Run(c.name, func(t *testing.T) {
			flows := scatteredFlows(3000)
			firsts := map[uint64]int64{}
			for i := range flows {
				firsts[flows[i].ID] = flows[i].First
			}
			path := filepath.Join(t.TempDir(), "eve.json")
			s, err := output.NewSink(output.SinkConfig{Format: output.FormatEVE, Path: path, MemoryBytes: c.memory})
			if err != nil {
				t.Fatal(err)
			}
			// Events before every flow, at a time flows start at, between
			// flows' starts; then the end. (Whole microseconds, as EVE
			// writes them.)
			ats := []int64{-1e3, 10e6, 25e6 + 1e3, 37e6}
			rest := flows
			if c.drain {
				// Half end during the run; the rest come in start order.
				rest = flows[:len(flows)/2]
			}
			for i := 0; len(rest) > 0; i++ {
				n := min(97, len(rest))
				if err := s.FlowsEnded(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
				if i < len(ats) {
					if err := s.WriteEvent(ats[i], output.AppendStats(nil, ats[i], &engine.Status{}, output.StatsOptions{})); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := s.WriteEvent(output.AtEnd, output.AppendStats(nil, 50e6, &engine.Status{}, output.StatsOptions{})); err != nil {
				t.Fatal(err)
			}
			if c.drain {
				sorted := slices.Clone(flows[len(flows)/2:])
				slices.SortFunc(sorted, func(a, b engine.Flow) int { return engine.CompareStart(&a, &b) })
				if err := s.DrainSorted(); err != nil {
					t.Fatal(err)
				}
				for len(sorted) > 0 {
					n := min(89, len(sorted))
					if err := s.FlowsEnded(sorted[:n]); err != nil {
						t.Fatal(err)
					}
					sorted = sorted[n:]
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if s.Written() != uint64(len(flows)) {
				t.Errorf("written %d, want the %d flows (events are not flows)", s.Written(), len(flows))
			}
			lines := readEVELines(t, path, firsts)
			if len(lines) != len(flows)+len(ats)+1 {
				t.Fatalf("%d lines, want %d flows and %d events", len(lines), len(flows), len(ats)+1)
			}
			if !lines[len(lines)-1].stats {
				t.Error("the AtEnd event is not last")
			}
			seen := 0
			for i, l := range lines[:len(lines)-1] {
				if !l.stats {
					continue
				}
				if l.at != ats[seen] {
					t.Fatalf("event %d at %d, want %d", seen, l.at, ats[seen])
				}
				seen++
				for _, f := range lines[:i] {
					if !f.stats && f.at >= l.at {
						t.Fatalf("a flow that started at %d is before the event at %d", f.at, l.at)
					}
				}
				for _, f := range lines[i+1:] {
					if !f.stats && f.at < l.at {
						t.Fatalf("a flow that started at %d is after the event at %d", f.at, l.at)
					}
				}
			}
			if seen != len(ats) {
				t.Errorf("%d events in place, want %d", seen, len(ats))
			}
		})
	}
}

// scatteredFlows returns n flows with distinct ids, not in start order,
// starting within 50 ms (many at the same millisecond).
func scatteredFlows(n int) []engine.Flow {
	fs := make([]engine.Flow, n)
	for i := range fs {
		f := &fs[i]
		f.ID = uint64(i + 1)
		f.Family, f.Proto = 4, 17
		f.Src, f.Dst = [16]byte{10, 0, byte(i >> 8), byte(i)}, [16]byte{10, 1, 0, 1}
		f.SrcPort, f.DstPort = uint16(1024+i), 53
		f.First = int64((i*7919)%50) * 1e6
		f.Last = f.First + int64(i%3)*1e9
		f.Pkts = [2]uint64{1, 1}
	}
	return fs
}

// TestStatsSinkEndOrder: in end order an event is written at once, between
// the flows before and after it, and an AtEnd event when the sink closes;
// a sink of another format takes no events.
func TestStatsSinkEndOrder(t *testing.T) {
	flows := scatteredFlows(30)
	firsts := map[uint64]int64{}
	for i := range flows {
		firsts[flows[i].ID] = flows[i].First
	}
	path := filepath.Join(t.TempDir(), "eve.json")
	s, err := output.NewSink(output.SinkConfig{Format: output.FormatEVE, Path: path, Order: output.OrderEnd})
	if err != nil {
		t.Fatal(err)
	}
	ev := output.AppendStats(nil, 1, &engine.Status{}, output.StatsOptions{})
	steps := []func() error{
		func() error { return s.FlowsEnded(flows[:10]) },
		func() error { return s.WriteEvent(output.AtEnd, ev) },
		func() error { return s.WriteEvent(1, ev) },
		func() error { return s.FlowsEnded(flows[10:]) },
		func() error { return s.WriteEvent(2, ev) },
		s.Close,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	var at []int
	for i, l := range readEVELines(t, path, firsts) {
		if l.stats {
			at = append(at, i)
		}
	}
	if want := []int{10, 31, 32}; !slices.Equal(at, want) {
		t.Errorf("events at lines %v, want %v", at, want)
	}
	csv, err := output.NewSink(output.SinkConfig{Format: output.FormatCSV, Path: filepath.Join(t.TempDir(), "f.csv"), Order: output.OrderEnd})
	if err != nil {
		t.Fatal(err)
	}
	defer csv.Close()
	if csv.WriteEvent(1, ev) == nil {
		t.Error("a CSV sink took an EVE event")
	}
}

// TestEVESchemaStats: stats events, of a replayed capture's counters and of
// every counter set (live capture included), validate against Suricata's
// EVE schema, whose stats objects take no name Suricata does not write.
func TestEVESchemaStats(t *testing.T) {
	schema := eveschema.Load(t)
	var b bytes.Buffer
	if _, err := gen.WritePcap(&b, gen.Config{Seed: 4, Flows: 200, IPv6: 0.3, VLAN: 0.2, Fragments: 0.1, ICMPErrors: 0.1}); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.Config{})
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.NewReader(bytes.NewReader(b.Bytes()), "cap")
	if err != nil {
		t.Fatal(err)
	}
	e.AddSource(src, engine.SourceInfo{Name: "cap"})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-e.SourcesDone()
	replayed := e.Status()
	e.Stop(engine.ReasonShutdown)
	if replayed.Table.Created == 0 {
		t.Fatal("the replay made no flows")
	}
	var lines [][]byte
	for _, st := range []engine.Status{replayed, statsStatus(false), statsStatus(true), {}} {
		lines = append(lines, output.AppendStats(nil, time.Now().UnixNano(), &st, output.StatsOptions{Start: replayed.Clock}))
	}
	for _, line := range lines {
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, line)
		}
		if err := schema.Validate(v); err != nil {
			t.Fatalf("a stats event breaks Suricata's schema: %v\n%s", err, line)
		}
	}
	// The check can fail: a counter under a name Suricata does not use.
	var bogus any
	json.Unmarshal([]byte(`{"timestamp":"2026-01-01T00:00:00.000000+0000","event_type":"stats","stats":{"decoder":{"frames":1}}}`), &bogus)
	if schema.Validate(bogus) == nil {
		t.Error("the schema accepts a stats event with a counter Suricata does not have")
	}
}
