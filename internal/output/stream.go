package output

import (
	"runtime"
	"sync"

	"github.com/flowd/flowd/engine"
)

// Once the engine hands flows over in start order (a replay's end: the
// flows still in the table, often nearly all of them), the sorter writes
// them as they come. Formatting and writing them is then all the work left,
// so it is spread out: batches go round a few formatting goroutines, and
// one writer goroutine takes the formatted batches in the order they came,
// writes the held lines that sort before each flow, and the batch's lines
// in as few writes as that allows. Before, each batch was formatted in two
// halves and then written line by line through the buffer, so writing and
// formatting took turns.

// streamBatch is one batch in the pipeline.
type streamBatch struct {
	flows     []engine.Flow
	buf       []byte
	ends      []int         // the end of each flow's line in buf
	formatted chan struct{} // one value once buf holds the lines
}

// streamOut is the pipeline; take and close are called from one goroutine.
type streamOut struct {
	s        *sorter
	format   chan *streamBatch // to the formatters
	pending  chan *streamBatch // to the writer, in the order taken
	free     chan *streamBatch
	formWG   sync.WaitGroup
	writerWG sync.WaitGroup
	closed   bool
}

func (s *sorter) startOut() *streamOut {
	k := min(runtime.GOMAXPROCS(0), 4)
	o := &streamOut{
		s:       s,
		format:  make(chan *streamBatch, 2*k),
		pending: make(chan *streamBatch, 4*k),
		free:    make(chan *streamBatch, 4*k+2),
	}
	o.formWG.Add(k)
	for range k {
		go o.formatter()
	}
	o.writerWG.Add(1)
	go o.writer()
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
		b = &streamBatch{formatted: make(chan struct{}, 1)}
	}
	b.flows = append(b.flows[:0], flows...)
	// The writer learns the order before the formatters see the batch.
	o.pending <- b
	o.format <- b
	return nil
}

func (o *streamOut) formatter() {
	defer o.formWG.Done()
	f := o.s.w.f
	for b := range o.format {
		if cap(b.buf) == 0 {
			// Sized once for lines as long as EVE's usually are, rather
			// than grown by appends from nothing.
			b.buf = make([]byte, 0, len(b.flows)*768)
		}
		b.buf, b.ends = b.buf[:0], b.ends[:0]
		for i := range b.flows {
			b.buf = f.appendFlow(b.buf, &b.flows[i])
			b.ends = append(b.ends, len(b.buf))
		}
		b.formatted <- struct{}{}
	}
}

func (o *streamOut) writer() {
	defer o.writerWG.Done()
	for b := range o.pending {
		<-b.formatted
		if o.s.error() == nil {
			if err := o.s.writeBatch(b); err != nil {
				o.s.setErr(err)
			}
		}
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
		close(o.pending)
		o.formWG.Wait()
		o.writerWG.Wait()
	}
	return o.s.error()
}

// writeBatch writes a formatted batch, each flow after the held lines that
// sort before it.
func (s *sorter) writeBatch(b *streamBatch) error {
	m := s.merging
	next := 0 // the first line not written yet
	for i := range b.flows {
		if len(m.srcs) == 0 {
			break
		}
		k := b.flows[i].StartKey()
		if m.srcs[0].key().Compare(&k) > 0 {
			continue
		}
		if err := s.w.writeLines(b.buf, b.ends, next, i); err != nil {
			return err
		}
		if err := s.writeHeld(&k); err != nil {
			return err
		}
		next = i
	}
	if err := s.w.writeLines(b.buf, b.ends, next, len(b.flows)); err != nil {
		return err
	}
	s.written.Add(uint64(len(b.flows)))
	return nil
}
