package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowd/flowd/engine"
)

// StatusJSON is the body of GET /status.
type StatusJSON struct {
	// Clock is the engine clock (RFC 3339, UTC; empty before the first
	// packet) and ClockUnixNano the same in Unix nanoseconds.
	Clock         string       `json:"clock"`
	ClockUnixNano int64        `json:"clock_unix_nano"`
	Workers       int          `json:"workers"`
	Packets       uint64       `json:"packets"` // counted into the flow table
	Flows         FlowsJSON    `json:"flows"`
	Sources       []SourceJSON `json:"sources"`
	SinkDropped   uint64       `json:"sink_dropped"`
	Done          bool         `json:"done"` // every source has ended and its packets are all counted
	Firewall      string       `json:"firewall_arn"`
}

// FlowsJSON is the flow table part of StatusJSON.
type FlowsJSON struct {
	Active          uint64            `json:"active"`
	Created         uint64            `json:"created"`
	Ended           map[string]uint64 `json:"ended"` // by end reason
	Emergency       bool              `json:"emergency"`
	EmergencyShards int               `json:"emergency_shards"`
	ICMPErrorNoFlow uint64            `json:"icmp_error_without_flow"`
}

// SourceJSON is one source in StatusJSON.
type SourceJSON struct {
	ID               uint16 `json:"id"`
	Name             string `json:"name"`
	Path             string `json:"path,omitempty"`
	Live             bool   `json:"live"`
	AvailabilityZone string `json:"availability_zone,omitempty"`
	VpcEndpointID    string `json:"vpc_endpoint_id,omitempty"`
	Packets          uint64 `json:"packets"` // frames read
	Bytes            uint64 `json:"bytes"`   // captured bytes read
	Drops            uint64 `json:"drops"`   // kernel drops (live sources)
	// Live interfaces: frames the kernel passed to the socket (drops
	// included), times the ring was full, frames the interface dropped,
	// reopens after it went away, and what the source is doing
	// ("capturing", or why not and since when).
	Received uint64 `json:"received,omitempty"`
	Freezes  uint64 `json:"ring_full,omitempty"`
	IfDrops  uint64 `json:"if_drops,omitempty"`
	Reopens  uint64 `json:"reopens,omitempty"`
	State    string `json:"state,omitempty"`
	// DecodeErrors counts the frames not counted toward a flow, by reason
	// (decode reasons, and fragment_without_first); reasons that never
	// happened are left out.
	DecodeErrors map[string]uint64 `json:"decode_errors"`
	// Tunnels counts the packets that carried each kind of tunnel (GENEVE,
	// VXLAN, ...); TunnelErrors the tunnelled packets that could not be
	// decoded, by reason. Left out when there were none.
	Tunnels      map[string]uint64 `json:"tunnels,omitempty"`
	TunnelErrors map[string]uint64 `json:"tunnel_errors,omitempty"`
	EOF          bool              `json:"eof"`
	Offset       int64             `json:"offset,omitempty"` // file bytes consumed
	Size         int64             `json:"size,omitempty"`   // file size, -1 unknown
	Error        string            `json:"error,omitempty"`
	// Sockets: a live interface read by several sockets (AF_PACKET, one
	// per worker in a fanout group) is one source, its counters the sums
	// of its sockets'; here is each socket's share.
	Sockets []SocketJSON `json:"sockets,omitempty"`
}

// SocketJSON is one socket of a live interface in SourceJSON.
type SocketJSON struct {
	ID       uint16 `json:"id"`
	Packets  uint64 `json:"packets"`
	Bytes    uint64 `json:"bytes"`
	Drops    uint64 `json:"drops"`
	Received uint64 `json:"received"`
	Freezes  uint64 `json:"ring_full,omitempty"`
	Reopens  uint64 `json:"reopens,omitempty"`
	State    string `json:"state,omitempty"`
}

// byInterface groups the sources as /status and /metrics show them: a live
// interface's sockets (the same name, live) make one source whose counters
// are their sums, with the first socket's id; every other source stands
// alone. members holds the indexes into srcs of each group's sockets, in
// order, when there is more than one.
func byInterface(srcs []engine.SourceStatus) (out []engine.SourceStatus, members [][]int) {
	at := map[string]int{}
	for i := range srcs {
		s := &srcs[i]
		if !s.Info.Live {
			out, members = append(out, *s), append(members, nil)
			continue
		}
		g, ok := at[s.Info.Name]
		if !ok {
			at[s.Info.Name] = len(out)
			out, members = append(out, *s), append(members, []int{i})
			continue
		}
		members[g] = append(members[g], i)
		m := &out[g]
		m.AddCounts(s)
		// The interface is capturing when every socket is; otherwise its
		// state is the first troubled socket's.
		if m.Up && !s.Up {
			m.State = s.State
		}
		m.Up = m.Up && s.Up
		m.EOF = m.EOF && s.EOF
		if m.Err == "" {
			m.Err = s.Err
		}
	}
	for g := range members {
		if len(members[g]) < 2 {
			members[g] = nil
		}
	}
	return out, members
}

// StatusOf renders an engine status as GET /status shows it.
func StatusOf(st engine.Status) StatusJSON {
	out := StatusJSON{
		ClockUnixNano: st.Clock,
		Workers:       st.Workers,
		Packets:       st.Packets,
		SinkDropped:   st.SinkDropped,
		Sources:       []SourceJSON{},
		Done:          st.Done,
		Flows: FlowsJSON{
			Active:          st.Table.Active,
			Created:         st.Table.Created,
			Ended:           map[string]uint64{},
			Emergency:       st.Table.Emergency,
			EmergencyShards: st.EmergencyShards,
			ICMPErrorNoFlow: st.Table.ICMPErrorNoFlow,
		},
	}
	if st.Clock != 0 {
		out.Clock = time.Unix(0, st.Clock).UTC().Format(time.RFC3339Nano)
	}
	for r := engine.ReasonTimeout; r < engine.NumEndReasons; r++ {
		out.Flows.Ended[r.String()] = st.Table.Ended[r]
	}
	srcs, members := byInterface(st.Sources)
	for i := range srcs {
		s := &srcs[i]
		j := SourceJSON{
			ID: s.ID, Name: s.Info.Name, Path: s.Info.Path, Live: s.Info.Live,
			AvailabilityZone: s.Info.AvailabilityZone, VpcEndpointID: s.Info.VpcEndpointID,
			Packets: s.Frames, Bytes: s.Bytes, Drops: s.Drops, EOF: s.EOF, Error: s.Err,
			Offset: s.Offset, Size: s.Size,
			Received: s.Received, Freezes: s.Freezes, IfDrops: s.IfDrops, Reopens: s.Reopens, State: s.State,
			DecodeErrors: map[string]uint64{},
		}
		s.UnusableReasons(func(reason string, n uint64) {
			if n > 0 {
				j.DecodeErrors[reason] = n
			}
		})
		s.TunnelCounts(func(kind string, n uint64) {
			if j.Tunnels == nil {
				j.Tunnels = map[string]uint64{}
			}
			j.Tunnels[kind] = n
		})
		s.TunnelErrorCounts(func(reason string, n uint64) {
			if j.TunnelErrors == nil {
				j.TunnelErrors = map[string]uint64{}
			}
			j.TunnelErrors[reason] = n
		})
		for _, k := range members[i] {
			m := &st.Sources[k]
			j.Sockets = append(j.Sockets, SocketJSON{ID: m.ID, Packets: m.Frames, Bytes: m.Bytes, Drops: m.Drops,
				Received: m.Received, Freezes: m.Freezes, Reopens: m.Reopens, State: m.State})
		}
		out.Sources = append(out.Sources, j)
	}
	return out
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	out := StatusOf(s.cfg.Backend.Status())
	out.Firewall = s.cfg.FirewallArn
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// collector turns Backend.Status into Prometheus metrics at scrape time.
type collector struct{ b Backend }

// Source metrics carry one label, source: the source's name, made unique
// by "#" and the source id only where two sources share a name (or a
// source has none). A live interface's sockets are one source (byInterface).
var (
	srcLabels        = []string{"source"}
	descSrcPackets   = prometheus.NewDesc("flowd_source_packets_total", "Frames read from the source.", srcLabels, nil)
	descSrcBytes     = prometheus.NewDesc("flowd_source_bytes_total", "Captured bytes read from the source.", srcLabels, nil)
	descSrcDrops     = prometheus.NewDesc("flowd_source_drops_total", "Frames the kernel dropped before the source read them.", srcLabels, nil)
	descSrcErrors    = prometheus.NewDesc("flowd_source_decode_errors_total", "Frames not counted toward any flow, by reason.", append(srcLabels, "reason"), nil)
	descSrcTunnels   = prometheus.NewDesc("flowd_source_tunnel_packets_total", "Packets that carried a tunnel, by kind (nested tunnels count at each level).", append(srcLabels, "kind"), nil)
	descSrcTunnelErr = prometheus.NewDesc("flowd_source_tunnel_errors_total", "Tunnelled packets that could not be decoded (the tunnel's flow still counted them), by reason.", append(srcLabels, "reason"), nil)
	descSrcEOF       = prometheus.NewDesc("flowd_source_eof", "1 once the source has reached its end.", srcLabels, nil)
	descSrcFreeze    = prometheus.NewDesc("flowd_source_ring_full_total", "Times a live source's ring was found full by the kernel.", srcLabels, nil)
	descSrcUp        = prometheus.NewDesc("flowd_source_up", "1 while a live source is capturing.", srcLabels, nil)
	descPackets      = prometheus.NewDesc("flowd_packets_total", "Packets counted into the flow table.", nil, nil)
	descActive       = prometheus.NewDesc("flowd_flows_active", "Flows in the table.", nil, nil)
	descCreated      = prometheus.NewDesc("flowd_flows_created_total", "Flows created.", nil, nil)
	descEnded        = prometheus.NewDesc("flowd_flows_ended_total", "Flows ended, by end reason.", []string{"reason"}, nil)
	descEmergency    = prometheus.NewDesc("flowd_table_emergency_shards", "Shards in emergency mode (table full).", nil, nil)
	descEmgEntered   = prometheus.NewDesc("flowd_table_emergency_entered_total", "Times a shard filled up and entered emergency mode.", nil, nil)
	descICMPNoFlow   = prometheus.NewDesc("flowd_icmp_errors_without_flow_total", "ICMP errors quoting a packet of no known flow.", nil, nil)
	descSinkDrop     = prometheus.NewDesc("flowd_sink_dropped_total", "Ended flows the sinks never saw because they fell behind.", nil, nil)
	descClock        = prometheus.NewDesc("flowd_engine_clock_seconds", "The engine clock (packet time), Unix seconds.", nil, nil)
	descOpBytes      = prometheus.NewDesc("flowd_op_results_bytes", "Memory held by the results of ended flow operations.", nil, nil)
	descOpMax        = prometheus.NewDesc("flowd_op_results_max_bytes", "The bound on flowd_op_results_bytes (--op-results-max-bytes).", nil, nil)
	descOpReleased   = prometheus.NewDesc("flowd_op_results_released_total", "Ended flow operations forgotten early to keep their results under the bound.", nil, nil)
	descOpsKept      = prometheus.NewDesc("flowd_ops_kept", "Flow operations kept (in progress or ended).", nil, nil)
	descCapacity     = prometheus.NewDesc("flowd_table_capacity_flows", "The most flows the table holds (--max-flows).", nil, nil)
	descOpsEnded     = prometheus.NewDesc("flowd_flow_operations_total", "Flow operations ended, by type and final status.", []string{"type", "status"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSrcPackets, descSrcBytes, descSrcDrops, descSrcErrors, descSrcTunnels, descSrcTunnelErr, descSrcEOF, descSrcFreeze, descSrcUp,
		descPackets, descActive, descCreated, descEnded, descEmergency, descEmgEntered, descICMPNoFlow, descSinkDrop, descClock,
		descOpBytes, descOpMax, descOpReleased, descOpsKept, descOpsEnded, descCapacity} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.b.Status()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	srcs, _ := byInterface(st.Sources)
	names := make(map[string]int, len(srcs))
	for i := range srcs {
		names[srcs[i].Info.Name]++
	}
	for i := range srcs {
		s := &srcs[i]
		label := s.Info.Name
		if label == "" || names[label] > 1 {
			label += "#" + strconv.Itoa(int(s.ID))
		}
		l := []string{label}
		counter(descSrcPackets, s.Frames, l...)
		counter(descSrcBytes, s.Bytes, l...)
		counter(descSrcDrops, s.Drops, l...)
		s.UnusableReasons(func(reason string, n uint64) {
			counter(descSrcErrors, n, label, reason)
		})
		s.TunnelCounts(func(kind string, n uint64) {
			counter(descSrcTunnels, n, label, kind)
		})
		s.TunnelErrorCounts(func(reason string, n uint64) {
			counter(descSrcTunnelErr, n, label, reason)
		})
		eof := 0.0
		if s.EOF {
			eof = 1
		}
		gauge(descSrcEOF, eof, l...)
		if s.Info.Live {
			counter(descSrcFreeze, s.Freezes, l...)
			up := 0.0
			if s.Up {
				up = 1
			}
			gauge(descSrcUp, up, l...)
		}
	}
	counter(descPackets, st.Packets)
	gauge(descActive, float64(st.Table.Active))
	gauge(descCapacity, float64(st.Capacity))
	counter(descCreated, st.Table.Created)
	for r := engine.ReasonTimeout; r < engine.NumEndReasons; r++ {
		counter(descEnded, st.Table.Ended[r], r.String())
	}
	gauge(descEmergency, float64(st.EmergencyShards))
	counter(descEmgEntered, st.Table.EmergencyEntered)
	counter(descICMPNoFlow, st.Table.ICMPErrorNoFlow)
	counter(descSinkDrop, st.SinkDropped)
	gauge(descClock, float64(st.Clock)/1e9)
	ops := c.b.OpStats()
	gauge(descOpBytes, float64(ops.ResultBytes))
	gauge(descOpMax, float64(ops.MaxBytes))
	counter(descOpReleased, ops.Released)
	gauge(descOpsKept, float64(ops.Kept))
	for typ, byStatus := range ops.Ended {
		for status, n := range byStatus {
			counter(descOpsEnded, n, string(typ), string(status))
		}
	}
}

// OutputCount is what one output has written: Events are flows written to a
// file, records sent to a collector or flow log records delivered; Dropped
// those it lost.
type OutputCount struct {
	Output          string // e.g. "eve", "ipfix 10.0.0.9:4739", "flow logs"
	Events, Dropped uint64
}

var (
	descOutEvents  = prometheus.NewDesc("flowd_output_events_total", "Events each output wrote: flows to a file, records to a collector, flow log records.", []string{"output"}, nil)
	descOutDropped = prometheus.NewDesc("flowd_output_dropped_total", "Events each output lost (queue full, collector down, destination refused).", []string{"output"}, nil)
)

// outputCollector exports Config.Outputs.
type outputCollector func() []OutputCount

func (outputCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descOutEvents
	ch <- descOutDropped
}

func (f outputCollector) Collect(ch chan<- prometheus.Metric) {
	for _, o := range f() {
		ch <- prometheus.MustNewConstMetric(descOutEvents, prometheus.CounterValue, float64(o.Events), o.Output)
		ch <- prometheus.MustNewConstMetric(descOutDropped, prometheus.CounterValue, float64(o.Dropped), o.Output)
	}
}
