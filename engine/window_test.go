package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/engine"
)

// flowsSink keeps every ended flow.
type flowsSink struct{ flows []engine.Flow }

func (s *flowsSink) FlowsEnded(fs []engine.Flow) error { s.flows = append(s.flows, fs...); return nil }
func (s *flowsSink) Close() error                      { return nil }

// windowsSink keeps every flow window.
type windowsSink struct {
	mu     sync.Mutex
	ws     []engine.FlowWindow
	closed bool
}

func (s *windowsSink) FlowWindows(ws []engine.FlowWindow) error {
	s.mu.Lock()
	s.ws = append(s.ws, ws...)
	s.mu.Unlock()
	return nil
}
func (s *windowsSink) Close() error { s.closed = true; return nil }

// tuple names a flow without its times: what windows and ended flows share.
type tuple struct {
	src, dst         [16]byte
	srcPort, dstPort uint16
	proto, depth     uint8
	source           uint16
}

type sums struct{ pkts, bytes [2]uint64 }

// TestWindowsSumToFlows replays generated captures with 2-second windows
// and requires, per flow tuple and direction, the windows' packets and
// IP-layer bytes to sum to the ended flows' counters, every window's times
// to lie inside it, and at most one window per tuple and window start
// (flows reusing a tuple aside).
func TestWindowsSumToFlows(t *testing.T) {
	cases := []struct {
		name string
		cfg  gen.Config
	}{
		{"default", gen.Config{Flows: 400, Duration: 20 * time.Second}},
		{"elephants", gen.Config{Flows: 40, MeanPackets: 300, Skew: 2, Duration: 20 * time.Second}},
		{"fragments-icmp", gen.Config{Flows: 300, Fragments: 0.3, ICMPErrors: 0.3, Duration: 20 * time.Second}},
		{"reuse-reject", gen.Config{Flows: 300, Reuse: 0.3, Reject: 0.2, HalfClose: 0.3, Duration: 20 * time.Second}},
	}
	for _, tc := range cases {
		for _, workers := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/%dw", tc.name, workers), func(t *testing.T) {
				cfg := tc.cfg
				cfg.Seed = 7
				var buf bytes.Buffer
				if _, err := gen.WritePcap(&buf, cfg); err != nil {
					t.Fatal(err)
				}
				flows, ws := replayWindows(t, buf.Bytes(), workers, 2*time.Second)
				want := map[tuple]*sums{}
				for i := range flows {
					f := &flows[i]
					k := tuple{f.Src, f.Dst, f.SrcPort, f.DstPort, f.Proto, f.Depth, f.Source}
					s := want[k]
					if s == nil {
						s = &sums{}
						want[k] = s
					}
					for d := range 2 {
						s.pkts[d] += f.Pkts[d]
						s.bytes[d] += f.IPBytes[d]
					}
				}
				got := map[tuple]*sums{}
				windows := map[int64]bool{}
				for i := range ws {
					w := &ws[i]
					windows[w.Start] = true
					if w.Start%2 != 0 {
						t.Fatalf("window start %d is not aligned to 2 s", w.Start)
					}
					k := tuple{w.Src, w.Dst, w.SrcPort, w.DstPort, w.Proto, w.Depth, w.Source}
					s := got[k]
					if s == nil {
						s = &sums{}
						got[k] = s
					}
					if w.Pkts[0]+w.Pkts[1] == 0 {
						t.Errorf("window %d of %v holds no packet", w.Start, k)
					}
					for d := range 2 {
						s.pkts[d] += w.Pkts[d]
						s.bytes[d] += w.IPBytes[d]
						if w.Pkts[d] == 0 {
							if w.First[d] != 0 || w.TCPFlags[d] != 0 {
								t.Errorf("direction %d of a window without its packets has times or flags: %+v", d, w)
							}
							continue
						}
						if w.First[d] < w.Start || w.Last[d] >= w.Start+2 || w.First[d] > w.Last[d] {
							t.Errorf("direction %d: first %d, last %d outside window [%d, %d)", d, w.First[d], w.Last[d], w.Start, w.Start+2)
						}
					}
				}
				if len(windows) < 5 {
					t.Errorf("only %d distinct windows over a 20 s capture", len(windows))
				}
				if len(got) != len(want) {
					t.Errorf("%d tuples in windows, %d in flows", len(got), len(want))
				}
				for k, w := range want {
					g := got[k]
					if g == nil {
						t.Errorf("%v: no window", k)
						continue
					}
					if *g != *w {
						t.Errorf("%v: windows sum to %+v, flows to %+v", k, *g, *w)
					}
				}
			})
		}
	}
}

// replayWindows replays a capture with windows of the given length and
// returns the ended flows and the flow windows.
func replayWindows(t *testing.T, capBytes []byte, workers int, window time.Duration) ([]engine.Flow, []engine.FlowWindow) {
	t.Helper()
	cfg := engine.Config{Workers: workers}
	cfg.Table.Window = window
	e := capEngine(t, capBytes, cfg)
	fs, ws := &flowsSink{}, &windowsSink{}
	if err := e.AddSink(fs); err != nil {
		t.Fatal(err)
	}
	if err := e.AddWindowSink(ws); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-e.SourcesDone()
	if err := e.Stop(engine.ReasonShutdown); err != nil {
		t.Fatal(err)
	}
	if !ws.closed {
		t.Error("window sink not closed")
	}
	return fs.flows, ws.ws
}

// TestWindowRefused: a SYN answered by a RST, and a UDP datagram answered by
// an ICMP port unreachable, make windows marked refused; an answered SYN does
// not.
func TestWindowRefused(t *testing.T) {
	var buf bytes.Buffer
	if _, err := gen.WritePcap(&buf, gen.Config{Seed: 3, Flows: 300, Reject: 0.3, ICMPErrors: 0.3}); err != nil {
		t.Fatal(err)
	}
	_, ws := replayWindows(t, buf.Bytes(), 1, 60*time.Second)
	var refused, tcp, udp int
	for _, w := range ws {
		if !w.Refused {
			continue
		}
		refused++
		switch w.Proto {
		case 6:
			tcp++
			if w.TCPFlags[engine.ToClient]&4 == 0 || w.TCPFlags[engine.ToClient]&16 != 0 {
				t.Errorf("refused TCP window without a bare RST back: flags %v", w.TCPFlags)
			}
		case 17:
			udp++
		}
	}
	if tcp == 0 || udp == 0 {
		t.Errorf("refused windows: %d TCP, %d UDP; want both kinds (of %d windows)", tcp, udp, len(ws))
	}
}
