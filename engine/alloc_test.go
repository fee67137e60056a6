package engine

import (
	"testing"
	"time"
)

// TestPacketPathAllocs: decoding, keying, hashing, dispatching and counting a
// batch of frames (and the expiry sweep after it) allocates nothing once the
// table has seen the flows.
func TestPacketPathAllocs(t *testing.T) {
	c := randomTraffic(t, 3, 4096)
	frames := framesOf(t, c.buf.Bytes())
	// One worker, fed inline (one source) and through its channel (several
	// sources).
	for _, inline := range []bool{true, false} {
		e, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		s := newSource(e, 0, nil, SourceInfo{Name: "allocs"})
		s.inline, s.local = inline, newRawBatch(0, e.cfg.BatchSize)
		step := func() {
			for i := 0; i < len(frames); i += 256 {
				s.take(frames[i:min(i+256, len(frames))])
				if !inline {
					// Play the workers' part on this goroutine.
					for wi := range s.out {
						s.flush(wi)
					}
					for _, w := range e.workers {
						for len(w.in) > 0 {
							w.take(<-w.in)
						}
					}
				}
			}
		}
		step() // the flows now exist
		if a := testing.AllocsPerRun(5, step); a != 0 {
			t.Errorf("inline=%v: %v allocations per pass over %d frames", inline, a, len(frames))
		}
	}

	// The pipelined path of several workers (pipeline.go): copy a batch,
	// decode it on the decoder goroutine, deal it out, and count it (the
	// workers' part played on this goroutine).
	e, err := New(Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := newSource(e, 0, nil, SourceInfo{Name: "allocs"})
	s.startPipeline(1)
	defer s.stopPipeline()
	step := func() {
		for i := 0; i < len(frames); i += 256 {
			s.take(frames[i:min(i+256, len(frames))])
			for len(s.pipe.pending) > 0 {
				s.finishOldest()
			}
			for wi := range s.out {
				s.flush(wi)
			}
			for _, w := range e.workers {
				for len(w.in) > 0 {
					w.take(<-w.in)
				}
			}
		}
	}
	step()
	if a := testing.AllocsPerRun(5, step); a != 0 {
		t.Errorf("pipeline: %v allocations per pass over %d frames", a, len(frames))
	}
}

// discardWindows is a WindowSink that keeps nothing.
type discardWindows struct{}

func (discardWindows) FlowWindows([]FlowWindow) error { return nil }
func (discardWindows) Close() error                   { return nil }

// TestWindowPathAllocs: with flow-log windows on, counting packets into
// their windows and closing windows (every flow reported to the window
// sinks) allocates nothing once the batches exist.
func TestWindowPathAllocs(t *testing.T) {
	c := randomTraffic(t, 5, 4096)
	frames := framesOf(t, c.buf.Bytes())
	cfg := Config{}
	cfg.Table.Window = time.Second
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddWindowSink(discardWindows{}); err != nil {
		t.Fatal(err)
	}
	e.windows.start()
	defer e.windows.stop()
	w := e.workers[0]
	w.windows = e.windows.newBatch()
	w.shard.SetWindowSink(w)
	s := newSource(e, 0, nil, SourceInfo{Name: "allocs"})
	s.inline, s.local = true, newRawBatch(0, e.cfg.BatchSize)
	now := int64(0)
	reports := 0
	step := func() {
		for i := 0; i < len(frames); i += 256 {
			s.take(frames[i:min(i+256, len(frames))])
		}
		// Move the shard's clock a window on: every flow with packets in
		// the window is reported.
		now = max(now, w.shard.WindowStart()) + int64(time.Second)
		reports += len(w.windows)
		w.shard.Expire(now, 0)
		reports += len(w.windows)
		w.flushEnded()
	}
	step()
	if a := testing.AllocsPerRun(5, step); a != 0 {
		t.Errorf("%v allocations per pass over %d frames", a, len(frames))
	}
	if reports == 0 {
		t.Error("no window was reported")
	}
}
