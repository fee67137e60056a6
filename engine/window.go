package engine

import (
	"errors"
	"net/netip"
	"sync"

	"github.com/flowd/flowd/flowtable"
)

// FlowWindow is one flow's part of one flow-log window (Config.Table.Window):
// what it counted there per direction (ToServer: sent by Src; ToClient: sent
// to Src). A flow active in several windows gives one FlowWindow per window,
// and their sums are the flow's totals: no packet is counted twice or lost
// between windows.
type FlowWindow struct {
	// Start is the window's start, Unix seconds; it lasts Table.Window.
	Start int64
	// Per direction: packets and IP-layer bytes in the window, and the Unix
	// seconds of the first and last of those packets (valid where Pkts > 0).
	Pkts        [2]uint64
	IPBytes     [2]uint64
	First, Last [2]int64
	// Src is the initiator's address, Dst the responder's (IPv4 in the first
	// 4 bytes); see Family.
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
	// Source is the id of the capture source of the flow's first packet.
	Source uint16
	Proto  uint8
	Family uint8 // 4 or 6
	Depth  uint8 // tunnels deep (0: not tunnelled)
	// TCPFlags is tcp-flags per direction as VPC flow logs define it: the OR
	// over the window's packets of FIN 1, SYN 2, RST 4, and 16 for SYN with
	// ACK.
	TCPFlags [2]uint8
	// Refused: the responder refused the flow (a SYN answered by RST, or an
	// ICMP port unreachable or administratively prohibited about it).
	Refused bool
}

// SrcAddr returns the initiator's address.
func (w *FlowWindow) SrcAddr() netip.Addr { return addrOf(w.Family, &w.Src) }

// DstAddr returns the responder's address.
func (w *FlowWindow) DstAddr() netip.Addr { return addrOf(w.Family, &w.Dst) }

// WindowSink receives flow windows, on a goroutine of the engine's own (never
// a worker), so a slow writer delays no packet. Windows of one flow arrive in
// order; windows of different flows and shards interleave, each shard
// closing its windows as its packets or the engine clock move past them.
type WindowSink interface {
	// FlowWindows receives a batch; the slice is reused after the call
	// returns. An error is remembered and returned by Engine.Stop.
	FlowWindows(ws []FlowWindow) error
	// Close flushes and releases the sink after the last FlowWindows.
	Close() error
}

// windowOf builds the FlowWindow of table flow f from its report r.
func windowOf(f *flowtable.Flow, r *flowtable.WindowReport, out *FlowWindow) {
	src, sp, dst, dp := endpoints(f)
	start := r.Start / 1e9
	*out = FlowWindow{
		Start:   start,
		Pkts:    [2]uint64{uint64(r.Pkts[0]), uint64(r.Pkts[1])},
		IPBytes: r.IPBytes,
		Src:     *src, Dst: *dst, SrcPort: sp, DstPort: dp,
		Source: f.Source, Proto: f.Key.Proto, Family: f.Key.Family, Depth: f.Key.Depth,
		TCPFlags: r.Win.Flags,
		Refused:  f.Refused(),
	}
	for d := range 2 {
		if r.Win.First[d] != 0 {
			out.First[d] = start + int64(r.Win.First[d]) - 1
			out.Last[d] = start + int64(r.Win.Last[d]) - 1
		}
	}
}

// windowBatch is the number of windows handed to the window sinks at once.
const windowBatch = 1024

// windowRunner moves flow windows from the workers to the window sinks on a
// goroutine of its own, as sinkRunner does for ended flows.
type windowRunner struct {
	handoff[FlowWindow] // dropped: windows dropped because the sinks fell behind
	sinks               []WindowSink
	done                chan struct{}

	errMu sync.Mutex
	err   error
}

func newWindowRunner(workers int) *windowRunner {
	return &windowRunner{handoff: newHandoff[FlowWindow](workers, windowBatch), done: make(chan struct{})}
}

func (r *windowRunner) start() {
	go func() {
		defer close(r.done)
		for b := range r.ch {
			for _, s := range r.sinks {
				if err := s.FlowWindows(b); err != nil {
					r.setErr(err)
				}
			}
			r.recycle(b)
		}
	}()
}

func (r *windowRunner) setErr(err error) {
	r.errMu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.errMu.Unlock()
}

// stop waits for the queued batches and closes the sinks.
func (r *windowRunner) stop() error {
	close(r.ch)
	<-r.done
	errs := []error{r.err}
	for _, s := range r.sinks {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// AddWindowSink registers a sink of flow windows before Start. The table
// must have a window (Config.Table.Window).
func (e *Engine) AddWindowSink(s WindowSink) error {
	if e.started.Load() {
		return errors.New("engine: AddWindowSink after Start")
	}
	if e.cfg.Table.Window <= 0 {
		return errors.New("engine: AddWindowSink needs Config.Table.Window")
	}
	e.windows.sinks = append(e.windows.sinks, s)
	return nil
}

// WindowsDropped returns the flow windows dropped because the window sinks
// fell behind (Config.DropWhenSinksBehind).
func (e *Engine) WindowsDropped() uint64 { return e.windows.dropped.Load() }
