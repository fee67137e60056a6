package output

import (
	"fmt"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/ipfix"
)

// ExportSink sends ended flows to an IPFIX or NetFlow v9 collector (an
// engine.Sink). The exporter runs on its own goroutine behind a bounded
// queue: a collector that is down or slow costs counted drops (Stats),
// never a wait.
//
// Long flows are reported while they last when the engine has an active
// timeout (engine.Flow.Partial): each report carries what was counted since
// the flow's previous report, with flowEndReason active timeout, and the
// final record the rest, so the records of a flow sum to its counters.
type ExportSink struct {
	x        *ipfix.Exporter
	rec      ipfix.Record
	reported map[reportKey]counts // what was reported of flows still in the table
}

// reportKey names a flow across its reports: its id, and its first packet
// and source to keep apart flows whose ids collide.
type reportKey struct {
	id     uint64
	first  int64
	source uint16
}

type counts struct{ pkts, octets [2]uint64 }

// NewExportSink starts an exporter for cfg.
func NewExportSink(cfg ipfix.Config) (*ExportSink, error) {
	x, err := ipfix.New(cfg)
	if err != nil {
		return nil, err
	}
	return &ExportSink{x: x, reported: make(map[reportKey]counts)}, nil
}

// exportReasons maps end reasons onto flowEndReason: idle timeout for
// timeouts, end of flow for TCP closes, forced end for flushes, shutdowns
// and flows still active when a replay ends, lack of resources for flows
// evicted by a full table.
var exportReasons = [engine.NumEndReasons]ipfix.EndReason{
	engine.ReasonActive:    ipfix.EndForced,
	engine.ReasonTimeout:   ipfix.EndIdleTimeout,
	engine.ReasonTCPClosed: ipfix.EndOfFlow,
	engine.ReasonFlush:     ipfix.EndForced,
	engine.ReasonEvicted:   ipfix.EndLackOfResources,
	engine.ReasonShutdown:  ipfix.EndForced,
}

// FlowsEnded implements engine.Sink. It never blocks on the collector.
func (s *ExportSink) FlowsEnded(flows []engine.Flow) error {
	r := &s.rec
	for i := range flows {
		f := &flows[i]
		*r = ipfix.Record{
			Src: f.Src, Dst: f.Dst, SrcPort: f.SrcPort, DstPort: f.DstPort,
			Packets: f.Pkts, Octets: f.IPBytes,
			Start: f.First, End: f.Last,
			Ingress: uint32(f.Source),
			VLAN:    f.VLAN,
			Family:  f.Family, Proto: f.Proto,
			TCPFlags: f.TCPFlags,
			ICMPType: f.ICMPType, ICMPCode: f.ICMPCode,
		}
		if f.Reason < engine.NumEndReasons {
			r.EndReason = exportReasons[f.Reason]
		}
		k := reportKey{id: f.ID, first: f.First, source: f.Source}
		if before, ok := s.reported[k]; ok {
			for d := range 2 {
				r.Packets[d] -= min(before.pkts[d], r.Packets[d])
				r.Octets[d] -= min(before.octets[d], r.Octets[d])
			}
		}
		if f.Partial {
			if r.Packets == [2]uint64{} {
				continue // nothing new since the last report
			}
			r.EndReason = ipfix.EndActiveTimeout
			s.reported[k] = counts{pkts: f.Pkts, octets: f.IPBytes}
		} else {
			delete(s.reported, k)
		}
		s.x.Add(r) // a drop is counted in Stats
	}
	return nil
}

// Close sends what is queued (within the exporter's CloseTimeout) and says
// what could not be sent.
func (s *ExportSink) Close() error {
	if _, err := s.x.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// Stats returns the exporter's counters.
func (s *ExportSink) Stats() ipfix.Stats { return s.x.Stats() }
