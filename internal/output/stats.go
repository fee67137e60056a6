package output

import (
	"errors"
	"math"
	"strconv"
	"sync"

	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/engine"
)

// Suricata EVE `stats` events: the engine's counters, as totals since the
// start, under the names Suricata gives the same counters (its decoder,
// flow and capture counters). Only the counters flowd keeps are written;
// Suricata counters flowd has no equivalent for (packets per protocol,
// flows per protocol, TCP reassembly, ...) are left out rather than
// written as zeros.
//
//	uptime                     seconds from the start to the event
//	capture.kernel_packets     live sources: frames the kernel passed on, drops included
//	capture.kernel_drops       live sources: frames the kernel dropped
//	capture.kernel_ifdrops     live sources: frames the interface dropped
//	decoder.pkts, bytes        frames read and their captured bytes
//	decoder.avg_pkt_size       bytes / pkts (when pkts > 0)
//	decoder.invalid            frames not decodable for a malformed or cut header
//	                           (not: non-IP frames, unsupported link types)
//	decoder.too_many_layers    tunnelled packets nested deeper than flowd follows
//	decoder.vxlan, geneve, gre, erspan, teredo
//	                           packets carrying each tunnel (gre includes ERSPAN,
//	                           which rides on GRE, as in Suricata)
//	flow.total, flow.active    flows created; flows in the table now
//	flow.emerg_mode_entered    times a shard filled up (emergency mode)
//	flow.emerg_mode_over       times one recovered
//	flow.get_used              flows pushed out of a full table to make room
//	flow.mgr.flows_timeout     flows ended by their idle timeout

// StatsOptions say what a stats event adds beyond the engine's counters.
type StatsOptions struct {
	// Start is when the counting started (Unix ns): uptime is the event's
	// time minus Start, in whole seconds.
	Start int64
}

// AppendStats appends an EVE stats event stamped at (Unix ns) with st's
// counters, summed over its sources, and a newline.
func AppendStats(b []byte, at int64, st *engine.Status, o StatsOptions) []byte {
	var frames, bytes, invalid, tooDeep uint64
	var recv, drops, ifdrops uint64
	var tunnels [decode.NumTunnelKinds]uint64
	live := false
	for i := range st.Sources {
		s := &st.Sources[i]
		frames += s.Frames
		bytes += s.Bytes
		for r := decode.Reason(1); r < decode.NumReasons; r++ {
			if r != decode.ReasonNonIP && r != decode.ReasonUnsupportedLink {
				invalid += s.DecodeErrors[r]
			}
		}
		tooDeep += s.TunnelErrors[decode.ReasonTunnelTooDeep]
		for k, n := range s.Tunnels {
			tunnels[k] += n
		}
		if s.Info.Live {
			live = true
			recv += s.Received
			drops += s.Drops
			ifdrops += s.IfDrops
		}
	}
	erspan := tunnels[decode.TunnelERSPAN1] + tunnels[decode.TunnelERSPAN2] + tunnels[decode.TunnelERSPAN3]

	b = append(b, `{"timestamp":"`...)
	b = appendEVETime(b, at)
	b = append(b, `","event_type":"stats","stats":{"uptime":`...)
	b = strconv.AppendInt(b, max(at-o.Start, 0)/1e9, 10)
	if live {
		b = appendCounter(b, `,"capture":{"kernel_packets":`, recv)
		b = appendCounter(b, `,"kernel_drops":`, drops)
		b = appendCounter(b, `,"kernel_ifdrops":`, ifdrops)
		b = append(b, '}')
	}
	b = appendCounter(b, `,"decoder":{"pkts":`, frames)
	b = appendCounter(b, `,"bytes":`, bytes)
	if frames > 0 {
		b = appendCounter(b, `,"avg_pkt_size":`, bytes/frames)
	}
	b = appendCounter(b, `,"invalid":`, invalid)
	b = appendCounter(b, `,"too_many_layers":`, tooDeep)
	b = appendCounter(b, `,"vxlan":`, tunnels[decode.TunnelVXLAN])
	b = appendCounter(b, `,"geneve":`, tunnels[decode.TunnelGeneve])
	b = appendCounter(b, `,"gre":`, tunnels[decode.TunnelGRE]+erspan)
	b = appendCounter(b, `,"erspan":`, erspan)
	b = appendCounter(b, `,"teredo":`, tunnels[decode.TunnelTeredo])
	t := &st.Table
	b = appendCounter(b, `},"flow":{"total":`, t.Created)
	b = appendCounter(b, `,"active":`, t.Active)
	b = appendCounter(b, `,"emerg_mode_entered":`, t.EmergencyEntered)
	b = appendCounter(b, `,"emerg_mode_over":`, t.EmergencyExited)
	b = appendCounter(b, `,"get_used":`, t.Ended[engine.ReasonEvicted])
	b = appendCounter(b, `,"mgr":{"flows_timeout":`, t.Ended[engine.ReasonTimeout])
	return append(b, "}}}}\n"...)
}

func appendCounter(b []byte, name string, n uint64) []byte {
	return strconv.AppendUint(append(b, name...), n, 10)
}

// AtEnd, as the place of an event (Sink.WriteEvent), puts it after every
// flow the sink writes.
const AtEnd = math.MaxInt64

// events are the lines other than flows (stats events) that a Sink writes.
type events struct {
	mu sync.Mutex // also held while an OrderEnd sink writes flows
	// Held events, in the order added: OrderStart merges them among the
	// flows when it writes them out.
	buf   []byte
	held  []heldEvent
	at    int  // the held event being merged out
	merge bool // the held events went to the merge: later ones are late
	// Late events, written when the sink closes, after every flow: those
	// placed AtEnd, and those added once start order was writing out.
	late []byte
}

type heldEvent struct {
	key      engine.StartKey
	off, len int
}

// WriteEvent writes one line that is not a flow (an EVE stats event, from
// AppendStats) into the sink's output, from any goroutine.
//
// at places it. In end order (OrderEnd) it is written at once, between
// the flows written before and after, unless at is AtEnd: then it waits for
// Close and comes after every flow. In start order (OrderStart), where
// flows are written by their first packet, it comes after every flow that
// started before at and before every flow that started at or after it, so
// that the flows before it are those a stats event stamped at has counted
// as created; AtEnd puts it at the very end. Events must be added in the
// order of at.
func (s *Sink) WriteEvent(at int64, line []byte) error {
	if s.cfg.Format != FormatEVE {
		return errors.New("output: events go only into EVE output")
	}
	ev := &s.events
	ev.mu.Lock()
	defer ev.mu.Unlock()
	switch {
	case at == AtEnd || (s.sorter != nil && ev.merge):
		ev.late = append(ev.late, line...)
		return nil
	case s.sorter != nil:
		ev.held = append(ev.held, heldEvent{key: engine.StartKey{First: at}, off: len(ev.buf), len: len(line)})
		ev.buf = append(ev.buf, line...)
		return nil
	}
	if err := s.w.writeLine(line); err != nil {
		return s.wrap(err)
	}
	return s.wrap(s.w.Flush())
}

// mergeEvents hands the held events to the start-order merge (sorter.stream).
func (s *Sink) mergeEvents() mergeSource {
	ev := &s.events
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.merge = true
	ev.at = -1
	return eventSource{ev}
}

// writeLate writes the events that wait for Close.
func (s *Sink) writeLate() error {
	ev := &s.events
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.late) == 0 {
		return nil
	}
	err := s.w.writeLine(ev.late)
	ev.late = ev.late[:0]
	return err
}

// eventSource walks the held events for the merge, as a mergeSource; the
// sorter does not count its lines as flows written.
type eventSource struct{ ev *events }

func (e eventSource) next() (bool, error) {
	e.ev.at++
	return e.ev.at < len(e.ev.held), nil
}
func (e eventSource) key() *engine.StartKey { return &e.ev.held[e.ev.at].key }
func (e eventSource) line() []byte {
	h := &e.ev.held[e.ev.at]
	return e.ev.buf[h.off : h.off+h.len]
}

// isEvent tells the merge's lines that are events from flows.
func isEvent(m mergeSource) bool {
	_, ok := m.(eventSource)
	return ok
}
