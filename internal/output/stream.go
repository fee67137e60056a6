package output

import (
	"runtime"
	"sync"

	"github.com/flowd/flowd/engine"
)

// Once the engine hands flows over in start order (a replay's end: the
// flows still in the table, often nearly all of them), the sorter writes
// them as they come. Formatting and writing them is then all the work left,
// so it is spread out: batches go round a few goroutines, each of which
// formats a batch into a buffer of its own and then, when the batch before
// has been written, writes it: the held lines that sort before each flow,
// and the batch's lines in as few writes as that allows.
//
// The buffer stays with the goroutine that fills it and writes it out.
// Handing formatted buffers to one writer goroutine instead made every
// line move between cores twice (written by one, read by the other, then
// written again), and formatting took twice as long as in a benchmark
// (2-vCPU VM, Dec 2026).

// streamBatch is one batch of flows in the pipeline, numbered in the order
// taken.
type streamBatch struct {
	flows []engine.Flow
	seq   uint64
}

// streamOut is the pipeline; take and close are called from one goroutine.
type streamOut struct {
	s      *sorter
	format chan *streamBatch
	free   chan *streamBatch
	wg     sync.WaitGroup
	taken  uint64 // batches taken
	closed bool

	mu   sync.Mutex
	turn *sync.Cond
	next uint64 // the batch to write next
}

func (s *sorter) startOut() *streamOut {
	k := min(runtime.GOMAXPROCS(0), 4)
	o := &streamOut{s: s, format: make(chan *streamBatch, 2*k), free: make(chan *streamBatch, 4*k)}
	o.turn = sync.NewCond(&o.mu)
	o.wg.Add(k)
	for range k {
		go o.run()
	}
	return o
}

// take copies flows (the caller reuses its slice) into the pipeline.
func (o *streamOut) take(flows []engine.Flow) error {
	if err := o.s.error(); err != nil {
		return err
	}
	var b *streamBatch
	select {
	case b = <-o.free:
	default:
		b = &streamBatch{}
	}
	b.flows = append(b.flows[:0], flows...)
	b.seq = o.taken
	o.taken++
	o.format <- b
	return nil
}

// run formats batches and writes each in its turn.
func (o *streamOut) run() {
	defer o.wg.Done()
	f := o.s.w.f
	var buf []byte
	var ends []int // the end of each flow's line in buf
	for b := range o.format {
		if buf == nil {
			// Sized once for lines as long as EVE's usually are, rather
			// than grown by appends from nothing.
			buf = make([]byte, 0, len(b.flows)*768)
		}
		buf, ends = buf[:0], ends[:0]
		for i := range b.flows {
			buf = f.appendFlow(buf, &b.flows[i])
			ends = append(ends, len(buf))
		}
		o.mu.Lock()
		for o.next != b.seq {
			o.turn.Wait()
		}
		if o.s.error() == nil {
			if err := o.s.writeBatch(b.flows, buf, ends); err != nil {
				o.s.setErr(err)
			}
		}
		o.next++
		o.turn.Broadcast()
		o.mu.Unlock()
		select {
		case o.free <- b:
		default:
		}
	}
}

// close waits until every batch taken is written.
func (o *streamOut) close() error {
	if !o.closed {
		o.closed = true
		close(o.format)
		o.wg.Wait()
	}
	return o.s.error()
}

// writeBatch writes the lines of flows, each after the held lines that
// sort before it.
func (s *sorter) writeBatch(flows []engine.Flow, buf []byte, ends []int) error {
	m := s.merging
	next := 0 // the first line not written yet
	for i := range flows {
		if len(m.srcs) == 0 {
			break
		}
		k := flows[i].StartKey()
		if m.srcs[0].key().Compare(&k) > 0 {
			continue
		}
		if err := s.w.writeLines(buf, ends, next, i); err != nil {
			return err
		}
		if err := s.writeHeld(&k); err != nil {
			return err
		}
		next = i
	}
	if err := s.w.writeLines(buf, ends, next, len(flows)); err != nil {
		return err
	}
	s.written.Add(uint64(len(flows)))
	return nil
}
