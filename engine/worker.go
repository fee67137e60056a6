package engine

import (
	"context"
	"sync"
	"time"

	"github.com/flowd/flowd/flowtable"
)

// batch carries packets from a source to one worker.
type batch struct {
	pkts []flowtable.Packet
}

// ctlReq asks a worker to run fn with its shard between batches.
type ctlReq struct {
	fn   func(shard int, s *flowtable.Shard)
	done chan struct{}
}

// batchesPerWorker is how many batches may be in flight to one worker; with
// 4096 packets of 80 bytes each that is 1.3 MiB, room for the source to run
// ahead of a worker that is sweeping or answering a scan.
const batchesPerWorker = 4

// sweepPerPacket is the expiry budget per packet processed: slab slots
// looked at. One per packet sweeps a shard of 1 M flows fed 1 Mpps once a
// second (Suricata's flow manager aims at a full pass in 1-10 s); two cost
// 6 % of the packet path at 100 k flows for nothing the inline expiry on
// lookup does not already give.
const sweepPerPacket = 1

// worker owns one shard.
type worker struct {
	e     *Engine
	id    int
	shard *flowtable.Shard

	in   chan *batch // full batches from sources
	free chan *batch // empty batches back to sources
	ctl  chan ctlReq
	quit chan struct{}
	// inlineDone is closed by the inline source when it ends and hands the
	// shard over to this worker's goroutine.
	inlineDone chan struct{}

	ended   []flowtable.Flow // ended flows waiting for the sinks
	windows []FlowWindow     // flow windows waiting for the window sinks
	packets uint64
	seen    int64 // the newest packet time this worker counted (sweepClock)

	mu  sync.Mutex // guards pub
	pub workerStats
	_   [64]byte
}

type workerStats struct {
	packets uint64
	table   flowtable.Stats
}

func newWorker(e *Engine, id int, s *flowtable.Shard) *worker {
	w := &worker{
		e: e, id: id, shard: s,
		in:         make(chan *batch, batchesPerWorker),
		free:       make(chan *batch, batchesPerWorker),
		ctl:        make(chan ctlReq, 4),
		quit:       make(chan struct{}),
		inlineDone: make(chan struct{}),
		ended:      e.sinks.newBatch(),
	}
	for range batchesPerWorker {
		w.free <- &batch{pkts: make([]flowtable.Packet, 0, e.cfg.BatchSize)}
	}
	s.SetSink(w)
	return w
}

// FlowEnded implements flowtable.EndSink: it copies the flow into the batch
// bound for the sinks.
func (w *worker) FlowEnded(f *flowtable.Flow) {
	w.ended = append(w.ended, *f)
	if len(w.ended) == cap(w.ended) {
		w.flushEnded()
	}
}

// FlowActive implements flowtable.ActiveSink: a report of a long flow still
// in the table goes to the sinks as a copy marked partial.
func (w *worker) FlowActive(f *flowtable.Flow) {
	w.ended = append(w.ended, *f)
	w.ended[len(w.ended)-1].Reason = reasonReport
	if len(w.ended) == cap(w.ended) {
		w.flushEnded()
	}
}

// reasonReport marks, in the batches bound for the sinks, a flow reported
// while it lasts rather than ended (see Flow.Partial).
const reasonReport = flowtable.EndReason(255)

// FlowWindow implements flowtable.WindowSink: the flow's part of a window
// goes to the window sinks.
func (w *worker) FlowWindow(f *flowtable.Flow, r *flowtable.WindowReport) {
	w.windows = append(w.windows, FlowWindow{})
	windowOf(f, r, &w.windows[len(w.windows)-1])
	if len(w.windows) == cap(w.windows) {
		w.windows = w.e.windows.send(w.windows, w.e.cfg.DropWhenSinksBehind)
	}
}

// flushEnded hands ended flows and flow windows waiting in the worker over.
func (w *worker) flushEnded() {
	if len(w.ended) > 0 {
		w.ended = w.e.sinks.send(w.ended, w.e.cfg.DropWhenSinksBehind)
	}
	if len(w.windows) > 0 {
		w.windows = w.e.windows.send(w.windows, w.e.cfg.DropWhenSinksBehind)
	}
}

// process counts a batch of packets into the shard and sweeps a little.
func (w *worker) process(pkts []flowtable.Packet) {
	s := w.shard
	s.UpdateBatch(pkts)
	w.packets += uint64(len(pkts))
	if n := len(pkts); n > 0 {
		w.seen = max(w.seen, pkts[n-1].Time)
	}
	s.Expire(w.sweepClock(), len(pkts)*sweepPerPacket+8)
	w.publish()
}

func (w *worker) publish() {
	st := w.shard.Stats()
	w.mu.Lock()
	w.pub = workerStats{packets: w.packets, table: st}
	w.mu.Unlock()
}

func (w *worker) stats() workerStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pub
}

// serve runs a control request. Batches already queued are counted first, so
// a request sent after a source ended sees every packet that source read.
func (w *worker) serve(r ctlReq) {
	w.drain()
	r.fn(w.id, w.shard)
	w.flushEnded()
	w.publish()
	close(r.done)
}

// drain counts the batches already queued.
func (w *worker) drain() {
	for n := len(w.in); n > 0; n-- {
		w.take(<-w.in)
	}
}

func (w *worker) take(b *batch) {
	w.process(b.pkts)
	b.pkts = b.pkts[:0]
	w.free <- b
}

// request queues r for the worker.
func (w *worker) request(ctx context.Context, r ctlReq) error {
	select {
	case w.ctl <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pollCtl serves pending control requests; the inline source calls it
// between batches.
func (w *worker) pollCtl() {
	for {
		select {
		case r := <-w.ctl:
			w.serve(r)
		default:
			return
		}
	}
}

// run is the worker goroutine. In inline mode the single source drives the
// shard itself (no batch crosses goroutines) until it ends; then this
// goroutine takes over for sweeps and requests.
func (w *worker) run(inline bool) {
	defer w.e.workWG.Done()
	if inline {
		select {
		case <-w.inlineDone:
		case <-w.quit:
			w.flushEnded()
			return
		}
	}
	tick := time.NewTicker(w.e.cfg.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case b := <-w.in:
			w.take(b)
		case r := <-w.ctl:
			w.serve(r)
		case <-tick.C:
			// Idle or not, let time expire flows and let ended flows reach the
			// sinks within a tick.
			w.shard.Expire(w.sweepClock(), idleSweep)
			w.flushEnded()
			w.publish()
		case <-w.quit:
			w.drain()
			w.flushEnded()
			w.publish()
			return
		}
	}
}

// idleSweep is the slab slots swept per tick: 64 Ki slots every 100 ms
// covers a 1 M-flow shard in under 2 s when no packets drive the sweep.
const idleSweep = 1 << 16

// sweepClock is the time this worker expires flows (and closes flow-log
// windows) at. The engine clock runs ahead of a worker: a source moves it
// when it reads a batch, while packets of that batch and of the ones
// before may still be on their way to this worker (on the decoders, in a
// batch being filled, in its queue), and a flow idle past its timeout at
// the engine clock may have such a packet coming. With packet time a
// worker therefore sweeps only up to the newest packet it counted itself:
// every packet still to come is newer (capture order is time order), so
// it ends exactly the flows one worker would, whatever the number of
// workers. Once the sources have ended every packet is counted, and the
// engine clock is safe. With wall time the engine clock moves on without
// packets and a live worker's queue is short: it sweeps at the engine
// clock.
func (w *worker) sweepClock() int64 {
	if w.e.clock.mode == ClockPacket {
		select {
		case <-w.e.srcDone:
		default:
			return w.seen
		}
	}
	return w.e.clock.now()
}
