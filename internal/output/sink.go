package output

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/flowd/flowd/engine"
)

// Order says in which order a Sink writes flows.
type Order uint8

const (
	// OrderStart writes flows by their first packet (then protocol,
	// initiator, responder and VLAN ids), whatever order they ended in, so
	// that the output does not depend on timing or the number of workers:
	// the order replay's output and the generator's truth files share.
	// Flows are formatted as they end and held, up to SinkConfig.MemoryBytes,
	// then written to temporary files as sorted runs, which Close merges.
	OrderStart Order = iota
	// OrderEnd writes each flow as soon as it ends: nothing is held, and a
	// file being written follows the table (serve's --eve, live watching).
	OrderEnd
)

// ParseOrder accepts "start" and "end".
func ParseOrder(s string) (Order, error) {
	switch s {
	case "start":
		return OrderStart, nil
	case "end":
		return OrderEnd, nil
	}
	return 0, fmt.Errorf("order %q: want start or end", s)
}

// DefaultMemoryBytes is SinkConfig.MemoryBytes's default.
const DefaultMemoryBytes = 128 << 20

// SinkConfig says what a Sink writes and where. The zero value writes a
// table to standard output in start order.
type SinkConfig struct {
	Format Format // FormatNone is not a sink: NewSink refuses it
	// Path is the file written; "" or "-" is standard output.
	Path string
	// Append opens Path for appending instead of truncating it.
	Append bool
	Order  Order
	// MemoryBytes bounds the formatted flows OrderStart holds before it
	// spills a sorted run to TempDir (default DefaultMemoryBytes).
	MemoryBytes int64
	// TempDir holds the runs (default os.TempDir()).
	TempDir string
	Options
}

// Sink writes the flows the engine hands it (an engine.Sink).
type Sink struct {
	cfg     SinkConfig
	out     io.WriteCloser // nil for standard output
	w       *Writer
	sorter  *sorter
	ended   []engine.Flow // the ended flows of a batch that also held reports
	taken   atomic.Uint64 // flows handed to the sink
	written atomic.Uint64 // flows written out (to the destination's buffer)
	omitted atomic.Uint64 // ended flows the format leaves out (Omitted)
	events  events        // stats events (stats.go)
}

// NewSink opens cfg's destination and returns a Sink for engine.AddSink.
func NewSink(cfg SinkConfig) (*Sink, error) {
	if cfg.Format == FormatNone {
		return nil, errors.New("output: format none writes nothing: add no sink")
	}
	if cfg.MemoryBytes == 0 {
		cfg.MemoryBytes = DefaultMemoryBytes
	}
	s := &Sink{cfg: cfg}
	var dst io.Writer = os.Stdout
	if cfg.Path != "" && cfg.Path != "-" {
		mode := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
		if cfg.Append {
			mode = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		}
		f, err := os.OpenFile(cfg.Path, mode, 0o644)
		if err != nil {
			return nil, err
		}
		s.out, dst = f, f
	}
	w, err := New(cfg.Format, dst, cfg.Options)
	if err != nil {
		s.closeOut()
		return nil, err
	}
	s.w = w
	if cfg.Order == OrderStart {
		s.sorter = newSorter(w, cfg.MemoryBytes, cfg.TempDir, &s.written)
		s.sorter.events = s.mergeEvents
	}
	return s, nil
}

// Taken counts the flows the sink has been handed: written, or held to be
// written when it closes.
func (s *Sink) Taken() uint64 { return s.taken.Load() }

// Written counts the flows written out so far; after Close it equals Taken
// unless writing failed.
func (s *Sink) Written() uint64 { return s.written.Load() }

// Omitted counts the ended flows the sink does not write: in EVE, flows of
// protocols Suricata makes no flow of (see eveTracks).
func (s *Sink) Omitted() uint64 { return s.omitted.Load() }

// keep reports whether the sink writes f: never a report of a flow still
// in the table (engine.Flow.Partial, for exporters); in EVE only flows of
// the protocols Suricata tracks as flows.
func (s *Sink) keep(f *engine.Flow) bool {
	return !f.Partial && (s.cfg.Format != FormatEVE || eveTracks(f.Proto))
}

// FlowsEnded implements engine.Sink. Reports of flows still in the table
// (engine.Flow.Partial, for exporters) are not written, nor are EVE's
// omitted flows.
func (s *Sink) FlowsEnded(flows []engine.Flow) error {
	for i := range flows {
		if !s.keep(&flows[i]) {
			s.ended = s.ended[:0]
			for j := range flows {
				if f := &flows[j]; s.keep(f) {
					s.ended = append(s.ended, *f)
				} else if !f.Partial {
					s.omitted.Add(1)
				}
			}
			flows = s.ended
			break
		}
	}
	s.taken.Add(uint64(len(flows)))
	if s.sorter != nil {
		if err := s.sorter.take(flows); err != nil {
			return fmt.Errorf("output: %w", err)
		}
		return nil
	}
	s.events.mu.Lock() // WriteEvent writes from other goroutines
	defer s.events.mu.Unlock()
	for i := range flows {
		if err := s.w.Write(&flows[i]); err != nil {
			return s.wrap(err)
		}
	}
	// A file being followed shows whole batches as they end.
	if err := s.w.Flush(); err != nil {
		return s.wrap(err)
	}
	s.written.Add(uint64(len(flows)))
	return nil
}

// StartOrder implements engine.OrderedSink: an OrderStart sink wants the
// flows left at the engine's stop in start order.
func (s *Sink) StartOrder() bool { return s.sorter != nil }

// DrainSorted implements engine.OrderedSink: the flows that follow come in
// start order, so they are written as they come instead of held.
func (s *Sink) DrainSorted() error {
	if s.sorter == nil {
		return nil
	}
	return s.wrap(s.sorter.stream())
}

// Close writes what is held (OrderStart) and closes the destination.
func (s *Sink) Close() error {
	var err error
	if s.sorter != nil {
		err = s.sorter.writeAll()
	}
	err = errors.Join(err, s.writeLate(), s.w.Flush())
	return s.wrap(errors.Join(err, s.closeOut()))
}

func (s *Sink) closeOut() error {
	if s.out == nil {
		return nil
	}
	return s.out.Close()
}

func (s *Sink) wrap(err error) error {
	if err == nil {
		return nil
	}
	name := s.cfg.Path
	if name == "" || name == "-" {
		name = "standard output"
	}
	return fmt.Errorf("output %s to %s: %w", s.cfg.Format, name, err)
}
