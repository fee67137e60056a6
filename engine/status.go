package engine

import (
	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/flowtable"
)

// SourceStatus is what one source has done so far.
type SourceStatus struct {
	ID     uint16
	Info   SourceInfo
	Frames uint64 // frames read
	Bytes  uint64 // captured bytes read
	Drops  uint64 // frames the kernel dropped (live sources)
	// DecodeErrors counts frames that could not be used, by decode.Reason.
	DecodeErrors [decode.NumReasons]uint64
	// Tunnels counts the packets that carried each kind of tunnel (by
	// decode.TunnelKind; nested tunnels count at each level), and
	// TunnelErrors the tunnelled packets that could not be decoded, by
	// reason: the tunnel's own flow still counted them.
	Tunnels      [decode.NumTunnelKinds]uint64
	TunnelErrors [decode.NumReasons]uint64
	// FragmentsWithoutFirst counts later IP fragments whose first fragment
	// never arrived (within the fragment timeout), so no flow could be named.
	FragmentsWithoutFirst uint64
	Offset, Size          int64 // file progress: bytes consumed and file size (-1 unknown)
	// Live interfaces: frames the kernel passed to the socket (drops
	// included), times the ring was found full, frames the interface
	// dropped, reopens after the interface went away; Up and State say
	// whether it is capturing and, when not, why.
	Received, Freezes, IfDrops, Reopens uint64
	Up                                  bool
	State                               string
	EOF                                 bool // the source has ended
	Err                                 string
}

// ReasonFragmentWithoutFirst names SourceStatus.FragmentsWithoutFirst
// among the reasons a frame is unusable.
const ReasonFragmentWithoutFirst = "fragment_without_first"

// UnusableReasons calls fn for every reason a frame can be unusable for
// (each decode.Reason but ok, then ReasonFragmentWithoutFirst), with this
// source's count, zero or not.
func (s *SourceStatus) UnusableReasons(fn func(reason string, n uint64)) {
	for r := decode.Reason(1); r < decode.NumReasons; r++ {
		fn(r.String(), s.DecodeErrors[r])
	}
	fn(ReasonFragmentWithoutFirst, s.FragmentsWithoutFirst)
}

// TunnelCounts calls fn for every kind of tunnel this source's packets
// carried, with the number of packets (nested tunnels count at each
// level).
func (s *SourceStatus) TunnelCounts(fn func(kind string, n uint64)) {
	for k, n := range s.Tunnels {
		if n > 0 {
			fn(decode.TunnelKind(k).String(), n)
		}
	}
}

// TunnelErrorCounts calls fn for every reason a tunnelled packet could not
// be decoded, with its count; the tunnel's own flow still counted those.
func (s *SourceStatus) TunnelErrorCounts(fn func(reason string, n uint64)) {
	for r, n := range s.TunnelErrors {
		if n > 0 {
			fn(decode.Reason(r).String(), n)
		}
	}
}

// Unusable sums the frames this source could not count toward any flow.
func (s *SourceStatus) Unusable() (total uint64) {
	s.UnusableReasons(func(_ string, n uint64) { total += n })
	return total
}

// AddCounts adds o's counters to s (frames, bytes, drops, the decode,
// tunnel and fragment counts, and the live ones), as when the sockets of
// one interface are shown as one; identity, progress and state are left
// to the caller.
func (s *SourceStatus) AddCounts(o *SourceStatus) {
	s.Frames += o.Frames
	s.Bytes += o.Bytes
	s.Drops += o.Drops
	for r := range o.DecodeErrors {
		s.DecodeErrors[r] += o.DecodeErrors[r]
	}
	for k := range o.Tunnels {
		s.Tunnels[k] += o.Tunnels[k]
	}
	for r := range o.TunnelErrors {
		s.TunnelErrors[r] += o.TunnelErrors[r]
	}
	s.FragmentsWithoutFirst += o.FragmentsWithoutFirst
	s.Received += o.Received
	s.Freezes += o.Freezes
	s.IfDrops += o.IfDrops
	s.Reopens += o.Reopens
}

// Status is a snapshot of the engine's counters, summed over workers.
type Status struct {
	Sources []SourceStatus
	// Packets is the number of packets counted into the table (ICMP errors
	// that matched no flow included).
	Packets uint64
	Table   TableStats // summed over shards; Emergency if any shard is
	// EmergencyShards is how many shards are in emergency mode now.
	EmergencyShards int
	// SinkDropped counts ended flows the sinks never saw because they fell
	// behind (only with DropWhenSinksBehind); SinkDelivered those they got.
	SinkDropped   uint64
	SinkDelivered uint64
	// WindowsDropped counts flow windows the window sinks never saw because
	// they fell behind (only with DropWhenSinksBehind).
	WindowsDropped uint64
	Clock          int64 // engine clock, Unix ns
	Workers        int
	// Capacity is the most flows the table holds (Config.Table.MaxFlows,
	// defaults filled in).
	Capacity int
	// Done: every source has ended and every packet read is counted in the
	// table (SourcesDone is closed), so the counts no longer move.
	Done bool
}

// Status returns the engine's counters. Safe to call at any time from any
// goroutine; the figures are as of each worker's and source's last batch.
func (e *Engine) Status() Status {
	st := Status{Clock: e.clock.now(), Workers: len(e.workers), Capacity: e.table.Config().MaxFlows, SinkDropped: e.sinks.dropped.Load(),
		SinkDelivered: e.sinks.delivered.Load(), WindowsDropped: e.windows.dropped.Load()}
	// Done is read before the counts: once it is true, the counts below
	// are final.
	select {
	case <-e.srcDone:
		st.Done = e.started.Load()
	default:
	}
	for _, s := range e.sources {
		st.Sources = append(st.Sources, s.status())
	}
	var table flowtable.Stats
	for _, w := range e.workers {
		ws := w.stats()
		st.Packets += ws.packets
		table.Add(&ws.table)
		if ws.table.Emergency {
			st.EmergencyShards++
		}
	}
	st.Table = tableStats(&table)
	return st
}
