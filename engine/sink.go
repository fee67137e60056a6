package engine

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/flowd/flowd/flowtable"
)

// Sink receives flows that left the table: every output (table, CSV, JSON,
// EVE, and later flow logs and IPFIX) is a Sink added with Engine.AddSink.
// All calls to one engine's sinks come from one goroutine of the engine's,
// never from a worker, so a slow sink delays no packet (it can only make the
// workers wait for room, or drop: Config.DropWhenSinksBehind).
type Sink interface {
	// FlowsEnded receives a batch of ended flows; the slice is reused after
	// the call returns. An error stops no one: it is remembered and returned
	// by Engine.Stop.
	FlowsEnded(flows []Flow) error
	// Close flushes and releases the sink after the last FlowsEnded.
	Close() error
}

// sinkBatch is the number of ended flows handed to the sinks at once.
const sinkBatch = 256

// sinkRunner moves ended flows from the workers to the sinks on a goroutine
// of its own, so that slow output never runs on a worker. The workers hand
// over table flows; the runner turns them into Flows there, off the packet
// path.
type sinkRunner struct {
	handoff[flowtable.Flow] // dropped: flows dropped because the sinks fell behind
	sinks                   []Sink
	done                    chan struct{}
	delivered               atomic.Uint64 // flows handed to the sinks

	errMu sync.Mutex
	err   error
}

func newSinkRunner(workers int) *sinkRunner {
	return &sinkRunner{handoff: newHandoff[flowtable.Flow](workers, sinkBatch), done: make(chan struct{})}
}

func (r *sinkRunner) add(s Sink) { r.sinks = append(r.sinks, s) }

func (r *sinkRunner) start() {
	go func() {
		defer close(r.done)
		out := make([]Flow, 0, sinkBatch)
		for b := range r.ch {
			if b == nil {
				// mark: the drain in start order begins.
				for _, s := range r.sinks {
					if os, ok := s.(OrderedSink); ok && os.StartOrder() {
						if err := os.DrainSorted(); err != nil {
							r.setErr(err)
						}
					}
				}
				continue
			}
			out = out[:len(b)]
			for i := range b {
				flowOf(&b[i], &out[i])
			}
			for _, s := range r.sinks {
				if err := s.FlowsEnded(out); err != nil {
					r.setErr(err)
				}
			}
			r.delivered.Add(uint64(len(b)))
			r.recycle(b)
		}
	}()
}

// send hands a full batch over and returns an empty one (see
// handoff.send); without sinks it only empties the batch.
func (r *sinkRunner) send(b []flowtable.Flow, drop bool) []flowtable.Flow {
	if len(r.sinks) == 0 {
		return b[:0]
	}
	return r.handoff.send(b, drop)
}

// mark tells the sinks, in line with the batches sent before it, that the
// flows that follow come in start order (see drain.go).
func (r *sinkRunner) mark() { r.ch <- nil }

func (r *sinkRunner) setErr(err error) {
	r.errMu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.errMu.Unlock()
}

// stop waits for the queued batches and closes the sinks.
func (r *sinkRunner) stop() error {
	close(r.ch)
	<-r.done
	var errs []error
	r.errMu.Lock()
	if r.err != nil {
		errs = append(errs, r.err)
	}
	r.errMu.Unlock()
	for _, s := range r.sinks {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
