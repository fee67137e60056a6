package engine

import (
	"context"
	"testing"
	"time"

	"github.com/flowd/flowd/capture"
)

// heldSource is a live source whose frames come out only once the engine's
// sources are told to stop (ctx done), as frames in a ring block the
// kernel hands over after a signal: first early, stamped before the stop;
// then late, stamped after it; then, unless busy, nothing (each empty read
// waits a millisecond, as a poll would). busy repeats early's first frame
// forever instead: a link that never goes quiet.
type heldSource struct {
	ctx         context.Context
	early, late []capture.Frame
	busy        bool
}

func (s *heldSource) ReadBatch(dst []capture.Frame) (int, error) {
	if s.ctx.Err() == nil {
		time.Sleep(time.Millisecond)
		return 0, nil
	}
	switch {
	case len(s.early) > 0:
		n := copy(dst, s.early)
		if !s.busy {
			s.early = s.early[n:]
		}
		return n, nil
	case len(s.late) > 0:
		n := copy(dst, s.late)
		s.late = s.late[n:]
		return n, nil
	}
	time.Sleep(time.Millisecond)
	return 0, nil
}

func (s *heldSource) Stats() capture.Stats { return capture.Stats{} }
func (s *heldSource) Close() error         { return nil }

// stamped returns c's frames stamped from at on, a microsecond apart.
func stamped(t *testing.T, c *capBuilder, at time.Time) []capture.Frame {
	frames := framesOf(t, c.buf.Bytes())
	for i := range frames {
		frames[i].Timestamp = at.UnixNano() + int64(i)*1000
	}
	return frames
}

// TestLiveDrainAtStop: frames a live source gives up only after the stop
// (the last ring block) are counted if they were received before it, and
// those stamped after it are not; a source that never goes quiet still
// lets the engine stop.
func TestLiveDrainAtStop(t *testing.T) {
	for _, busy := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		now := time.Now()
		src := &heldSource{ctx: ctx, busy: busy,
			early: stamped(t, tcpExchange(t, 3, 2), now.Add(-time.Second)),
			late:  stamped(t, tcpExchange(t, 4, 4), now.Add(time.Hour))}
		e, err := New(Config{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.AddSource(src, live("eth0")); err != nil {
			t.Fatal(err)
		}
		sink := &memSink{}
		e.AddSink(sink)
		if err := e.Start(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // a few empty reads
		cancel()
		if err := e.Stop(ReasonShutdown); err != nil {
			t.Fatal(err)
		}
		if busy {
			// The same frame again and again: one flow, its first packet
			// many times over; what matters is that Stop returned.
			if len(sink.flows) != 1 || sink.flows[0].Pkts[0] < 2 {
				t.Fatalf("busy: %d flows, want 1 with the first packet repeated", len(sink.flows))
			}
			continue
		}
		if len(sink.flows) != 1 || sink.flows[0].Pkts != [2]uint64{3, 2} || sink.flows[0].Reason != ReasonShutdown {
			for _, f := range sink.flows {
				t.Log(describe(&f))
			}
			t.Fatalf("%d flows: want the one received before the stop, 3 and 2 packets, none of those after it", len(sink.flows))
		}
	}
}
