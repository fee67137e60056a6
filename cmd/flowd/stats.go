package main

import (
	"sync"
	"time"

	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/output"
)

// --stats-interval: Suricata EVE `stats` events with the engine's counters
// (totals since the start), written into the EVE output among the flows.
//
// The clock: serve and watch stamp an event every interval of wall time.
// replay stamps them in capture time, so the same capture gives the same
// events however fast it is read: the first event at the first packet's
// time plus the interval, then every interval, each counting exactly the
// packets before its time (with one source and one worker; with several,
// the others' batches still in flight may be missing). A stretch of
// capture time without packets longer than the interval gives one event,
// at the last interval boundary it passed. Each command ends with one
// more event, the final totals (replay's equal its summary), written after
// every flow. In start order (replay's default) an event comes after the
// flows that started before its time and before those that started at or
// after it (output.Sink.WriteEvent).

// statsFlags are the flags of stats events that replay, serve and watch
// share.
type statsFlags struct {
	interval time.Duration
}

func (x *statsFlags) register(fs *cmdFlags) {
	fs.DurationVar(&x.interval, "stats-interval", 0, "write a Suricata EVE stats event with the engine's counters every this much (replay: capture time; serve, watch: wall time), and one at the end; needs EVE output (0: none)")
}

// check refuses a negative interval, and an interval where no EVE is
// written (want says what would write it).
func (x *statsFlags) check(eve bool, want string) error {
	if x.interval < 0 {
		return usagef("--stats-interval %v: want a positive duration, or 0 for none", x.interval)
	}
	if x.interval > 0 && !eve {
		return usagef("--stats-interval writes EVE stats events: it needs %s", want)
	}
	return nil
}

// statsWriter writes stats events into a sink and keeps the first error.
type statsWriter struct {
	sink  *output.Sink
	start int64 // when counting began, for the events' uptime
	buf   []byte
	err   error
}

func (w *statsWriter) write(place, at int64, st *engine.Status) {
	w.buf = output.AppendStats(w.buf[:0], at, st, output.StatsOptions{Start: w.start})
	if err := w.sink.WriteEvent(place, w.buf); err != nil && w.err == nil {
		w.err = err
	}
}

// replayStats writes a replay's stats events in capture time. Its sources
// (wrap) hand the engine their frames up to each interval boundary, and
// write the boundary's event once the engine has counted them, before the
// frames after it.
type replayStats struct {
	e        *engine.Engine
	interval int64

	mu      sync.Mutex
	w       statsWriter // w.sink set before the engine starts; w.start: the first frame's time
	started bool
	next    int64 // the next boundary
}

// newReplayStats returns nil when interval is 0 (no events).
func newReplayStats(interval time.Duration, e *engine.Engine) *replayStats {
	if interval <= 0 {
		return nil
	}
	return &replayStats{e: e, interval: int64(interval)}
}

// wrap makes src stop at interval boundaries.
func (r *replayStats) wrap(src capture.Source) capture.Source {
	if r == nil {
		return src
	}
	return &statsSource{Source: src, r: r}
}

// due is called with the time of the next frame a source is about to hand
// over, every frame before it counted: it writes the event of the last
// boundary that time reached, and returns the next boundary.
func (r *replayStats) due(ts int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		r.started, r.w.start, r.next = true, ts, ts+r.interval
		return r.next
	}
	if ts >= r.next {
		at := r.next + (ts-r.next)/r.interval*r.interval
		st := r.e.Status()
		r.w.write(at, at, &st)
		r.next = at + r.interval
	}
	return r.next
}

// final writes the last event, with st's counts (the summary's), after
// every flow; it returns the first write that failed.
func (r *replayStats) final(st *engine.Status) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	at := st.Clock // the newest packet's time
	if !r.started || at == 0 {
		at = time.Now().UnixNano()
		if !r.started {
			r.w.start = at
		}
	}
	r.w.write(output.AtEnd, at, st)
	return r.w.err
}

// statsSource hands its source's frames over up to the next boundary,
// keeping the rest (and the source's error) for the next reads: the frames
// stay valid as the source is not read again until they are handed over.
type statsSource struct {
	capture.Source
	r    *replayStats
	held []capture.Frame
	at   int // the first frame of held not handed over
	err  error
}

func (s *statsSource) ReadBatch(dst []capture.Frame) (int, error) {
	if s.at < len(s.held) {
		next := s.r.due(s.held[s.at].Timestamp)
		rest := s.held[s.at:]
		n := copy(dst, rest[:cut(rest, next)])
		s.at += n
		if s.at < len(s.held) {
			return n, nil
		}
		err := s.err
		s.held, s.at, s.err = s.held[:0], 0, nil
		return n, err
	}
	n, err := s.Source.ReadBatch(dst)
	if n == 0 {
		return n, err
	}
	next := s.r.due(dst[0].Timestamp)
	if c := cut(dst[:n], next); c < n {
		s.held = append(s.held[:0], dst[c:n]...)
		s.at, s.err = 0, err
		return c, nil
	}
	return n, err
}

// cut returns the index of the first frame at or past the boundary next
// (len(frames) when none is), never 0: the first frame is due.
func cut(frames []capture.Frame, next int64) int {
	for i := 1; i < len(frames); i++ {
		if frames[i].Timestamp >= next {
			return i
		}
	}
	return len(frames)
}

// liveStats writes serve's and watch's stats events in wall time.
type liveStats struct {
	e    *engine.Engine
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	w    statsWriter
}

// startLiveStats writes an event every interval until finish; nil when
// interval is 0.
func startLiveStats(interval time.Duration, e *engine.Engine, sink *output.Sink) *liveStats {
	if interval <= 0 || sink == nil {
		return nil
	}
	l := &liveStats{e: e, w: statsWriter{sink: sink, start: time.Now().UnixNano()}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-tick.C:
				l.write(time.Now().UnixNano(), false)
			}
		}
	}()
	return l
}

func (l *liveStats) write(at int64, last bool) {
	st := l.e.Status()
	place := at
	if last {
		place = output.AtEnd
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.write(place, at, &st)
}

// finish stops the ticks and writes the last event (call it before the
// engine stops: it is written when the sink closes, after every flow); it
// returns the first write that failed.
func (l *liveStats) finish() error {
	if l == nil {
		return nil
	}
	close(l.stop)
	<-l.done
	l.write(time.Now().UnixNano(), true)
	return l.w.err
}
