// Package engine runs flowd's packet path: sources read batches of frames,
// decode them and turn each into a flowtable.Packet; packets travel in
// batches to the worker that owns their shard (chosen by the symmetric flow
// hash); workers update their shard, sweep it for idle flows between
// batches, answer scans sent to them as messages, and hand ended flows to the
// sinks.
//
// Concurrency: one goroutine per source, one per worker, one for the sinks,
// and with several workers a pool of decoders per source (pipeline.go). A
// shard is touched only by its worker (or, with one worker and one source,
// by the source goroutine until the source ends: see inline mode in
// worker.go). Counters are per source and per worker, published once per
// batch, and summed when read.
//
// Allocation contract: the per-packet path (read, decode, key, hash,
// dispatch, update, expiry) allocates nothing in steady state; batches are
// recycled through per-worker free lists.
package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/flowtable"
)

// Config sets up an Engine. The zero value means defaults.
type Config struct {
	// Workers is the number of worker goroutines and table shards (default 1).
	Workers int
	// Table configures the flow table; its Shards field is set to Workers.
	Table flowtable.Config
	// Clock: see ClockMode (default ClockPacket).
	Clock ClockMode
	// BatchSize is the most frames read and packets handed to a worker at a
	// time (default 4096). With several workers, each batch handed over can
	// wake a sleeping goroutine, and those wake-ups cost: replay of 965 k
	// packets with 2 workers on the 2-vCPU VM (Nov 2026), medians of 8,
	// took 81 ms at 1024 and 75 ms at 4096; one worker took 101-106 ms at
	// either.
	BatchSize int
	// FragTimeout bounds how long the ports of a fragmented datagram are
	// remembered for its later fragments (default 60 s, Suricata's defrag
	// timeout), in packet time.
	FragTimeout time.Duration
	// FragMax bounds the datagrams tracked at once per source (default 65535,
	// Suricata's defrag trackers).
	FragMax int
	// DropWhenSinksBehind makes workers drop ended flows (counted) instead of
	// waiting when the sinks fall behind; for live capture, where waiting
	// would drop packets instead. Default false: nothing ended is lost.
	DropWhenSinksBehind bool
	// SweepInterval is how often an idle worker sweeps its shard for expired
	// flows (default 100 ms of wall time).
	SweepInterval time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.Workers < 0 || c.Workers > 256 {
		return c, fmt.Errorf("engine: %d workers: want 1 to 256", c.Workers)
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchSize < 1 || c.BatchSize > 1<<16 {
		return c, fmt.Errorf("engine: batch size %d: want 1 to 65536", c.BatchSize)
	}
	if c.FragTimeout == 0 {
		c.FragTimeout = 60 * time.Second
	}
	if c.FragMax == 0 {
		c.FragMax = 65535
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = 100 * time.Millisecond
	}
	c.Table.Shards = c.Workers
	return c, nil
}

// DefaultBatchSize is Config.BatchSize's default.
const DefaultBatchSize = 4096

// SourceInfo describes a source to the rest of flowd (API scope, status).
type SourceInfo struct {
	Name             string // shown in status; for files, the base name
	Path             string // file path, empty for live sources
	AvailabilityZone string
	VpcEndpointID    string
	AssociationArn   string // the VPC endpoint association, when the endpoint has one
	Live             bool
}

// Engine is a running (or ready to run) packet path. Create it with New, add
// sources and sinks, then Start.
type Engine struct {
	cfg     Config
	table   *flowtable.Table
	clock   clock
	workers []*worker
	sources []*source
	sinks   *sinkRunner
	windows *windowRunner

	started   atomic.Bool
	srcWG     sync.WaitGroup
	srcDone   chan struct{} // closed when every source has ended
	workWG    sync.WaitGroup
	stopOnce  sync.Once
	cancelSrc context.CancelFunc
	runErr    error
	errMu     sync.Mutex
}

// New builds an engine.
func New(cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, srcDone: make(chan struct{})}
	e.clock.mode = cfg.Clock
	e.sinks = newSinkRunner(cfg.Workers)
	e.windows = newWindowRunner(cfg.Workers)
	e.table, err = flowtable.New(cfg.Table, nil)
	if err != nil {
		return nil, err
	}
	for i := range cfg.Workers {
		e.workers = append(e.workers, newWorker(e, i, e.table.Shard(i)))
	}
	return e, nil
}

// TableConfig returns the flow table's configuration with defaults filled.
func (e *Engine) TableConfig() flowtable.Config { return e.table.Config() }

// DropsWhenSinksBehind reports Config.DropWhenSinksBehind: whether outputs
// that fall behind should drop (live capture) rather than hold the engine up.
func (e *Engine) DropsWhenSinksBehind() bool { return e.cfg.DropWhenSinksBehind }

// Workers returns the number of workers (and shards).
func (e *Engine) Workers() int { return len(e.workers) }

// AddSource registers a source before Start and returns its id (the value
// flows carry in Flow.Source).
func (e *Engine) AddSource(src capture.Source, info SourceInfo) (uint16, error) {
	if e.started.Load() {
		return 0, errors.New("engine: AddSource after Start")
	}
	if len(e.sources) >= 1<<16-1 {
		return 0, errors.New("engine: too many sources")
	}
	id := uint16(len(e.sources))
	e.sources = append(e.sources, newSource(e, id, src, info))
	return id, nil
}

// AddSink registers a sink for ended flows before Start.
func (e *Engine) AddSink(s Sink) error {
	if e.started.Load() {
		return errors.New("engine: AddSink after Start")
	}
	e.sinks.add(s)
	return nil
}

// Start launches the workers, the sinks and a reader per source.
func (e *Engine) Start(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("engine: started twice")
	}
	e.sinks.start()
	if len(e.windows.sinks) > 0 {
		e.windows.start()
		for _, w := range e.workers {
			w.windows = e.windows.newBatch()
			w.shard.SetWindowSink(w)
		}
	}
	// One worker fed by one source: the source goroutine updates the shard
	// itself and no batch crosses goroutines (worker.go, inline mode).
	inline := len(e.workers) == 1 && len(e.sources) == 1
	for _, w := range e.workers {
		e.workWG.Add(1)
		go w.run(inline)
	}
	srcCtx, cancel := context.WithCancel(ctx)
	e.cancelSrc = cancel
	for _, s := range e.sources {
		e.srcWG.Add(1)
		go s.run(srcCtx, inline)
	}
	go func() {
		e.srcWG.Wait()
		// Let every worker count what is queued, so that SourcesDone means
		// every packet read is in the table, and then expire what the
		// engine clock has timed out: until now a worker swept only up to
		// its own newest packet (worker.sweepClock), so the table at the
		// end is what it is however many workers, and whenever it is read.
		now := e.clock.now()
		_ = e.do(context.Background(), func(_ int, s *flowtable.Shard) { s.Expire(now, s.Cap()) })
		close(e.srcDone)
	}()
	return nil
}

// SourcesDone is closed when every source has ended (files at their end,
// live sources stopped), the workers have counted every packet read, and
// every shard has expired the flows idle past their timeout at the engine
// clock: the flows left are exactly the active ones.
func (e *Engine) SourcesDone() <-chan struct{} { return e.srcDone }

// Err returns the first source error (a damaged file, a failed read).
func (e *Engine) Err() error {
	e.errMu.Lock()
	defer e.errMu.Unlock()
	return e.runErr
}

func (e *Engine) setErr(err error) {
	e.errMu.Lock()
	if e.runErr == nil {
		e.runErr = err
	}
	e.errMu.Unlock()
}

// Now returns the engine clock (Unix ns).
func (e *Engine) Now() int64 { return e.clock.now() }

// do runs fn inside every worker, between batches, with that worker's shard,
// and waits until all have run it. fn runs on the workers' goroutines
// concurrently, one call per shard.
func (e *Engine) do(ctx context.Context, fn func(shard int, s *flowtable.Shard)) error {
	dones := make([]chan struct{}, len(e.workers))
	for i, w := range e.workers {
		dones[i] = make(chan struct{})
		if err := w.request(ctx, ctlReq{fn: fn, done: dones[i]}); err != nil {
			return err
		}
	}
	for _, d := range dones {
		select {
		case <-d:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Stop ends the engine: sources stop reading, every flow still in the table
// ends with reason and goes to the sinks (ReasonActive hands them over as
// they stand, for a replay's final listing; without sinks nothing is
// handed over), workers stop, and the sinks are flushed and closed. It
// returns the first sink or source error. Later calls do nothing.
func (e *Engine) Stop(reason EndReason) error {
	var err error
	e.stopOnce.Do(func() {
		if !e.started.Load() {
			return
		}
		e.cancelSrc()
		<-e.srcDone
		if len(e.sinks.sinks) > 0 || len(e.windows.sinks) > 0 || reason != ReasonActive {
			e.drain(reason)
		}
		for _, w := range e.workers {
			close(w.quit)
		}
		e.workWG.Wait()
		err = e.sinks.stop()
		if len(e.windows.sinks) > 0 {
			err = errors.Join(err, e.windows.stop())
		}
	})
	if err != nil {
		return err
	}
	return e.Err()
}

// SourceInfos returns the description of every source, indexed by source id.
func (e *Engine) SourceInfos() []SourceInfo {
	infos := make([]SourceInfo, len(e.sources))
	for i, s := range e.sources {
		infos[i] = s.info
	}
	return infos
}
