package engine

import (
	"net/netip"

	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/flowtable"
)

// Flow is a flow as the engine's callers see it: an ended flow handed to the
// sinks, or a flow still in the table when the engine stops. It is the
// initiator's view (Src sent the flow's first packet, or received its
// SYN/ACK), pointer-free and fixed in size, so a sink may keep it, sort it
// or write its bytes to a temporary file and read them back.
type Flow struct {
	// ID names the flow as Suricata's flow_id does: start time bits and a
	// hash of the key, kept to 51 bits so JSON readers do not round it.
	ID uint64
	// First and Last are the timestamps (Unix ns) of the first and last
	// packet counted.
	First, Last int64
	// Per direction (ToServer: sent by Src; ToClient: sent to Src):
	// packets, frame bytes (captured length, link header included) and
	// IP-layer bytes.
	Pkts    [2]uint64
	Bytes   [2]uint64
	IPBytes [2]uint64
	// Src is the initiator's address, Dst the responder's (IPv4 in the first
	// 4 bytes, the rest zero); see Family.
	Src, Dst [16]byte
	// SrcPort and DstPort are 0 for protocols without ports.
	SrcPort, DstPort uint16
	// VLAN holds the VLAN ids of the key (up to three), outermost first,
	// 0 where absent.
	VLAN [3]uint16
	// Source is the id of the capture source the first packet came from
	// (Engine.AddSource's return value).
	Source uint16
	Proto  uint8
	Family uint8 // 4 or 6
	// Depth is how many tunnels deep the flow's packets were (0: not
	// tunnelled); the tunnels' own flows have the outer packets.
	Depth  uint8
	State  State
	Reason EndReason
	// TCPFlags is the OR of the TCP flags seen per direction.
	TCPFlags [2]uint8
	// ICMPType and ICMPCode are those of the flow's first packet (ICMP
	// flows only).
	ICMPType, ICMPCode uint8
	// ResponseICMPType is the type that answers ICMPType (echo reply 0 for
	// echo request 8, ...), 0 when none does; ICMP flows only. It comes
	// from the flow's key, which holds that pair: like Suricata, flowd
	// keeps no type or code of the packets that came back, and Suricata's
	// EVE writes this type with code 0 once the flow has a packet to the
	// client.
	ResponseICMPType uint8
	// SPI is the ESP security parameters index the flow is keyed by (ESP
	// flows only); the ports stay 0.
	SPI uint32
	// Reversed: the flow's direction came from a SYN/ACK seen first.
	Reversed bool
	// Emergency: the flow timed out or was evicted while its shard was in
	// emergency mode (as Suricata marks flows).
	Emergency bool
	// Partial: not an ended flow but a report of one still in the table,
	// made every active timeout of its age (flowtable.Config.ActiveTimeout)
	// for flow exporters; its counters are its totals so far and Reason is
	// ReasonActive. The flow is handed over again when it ends. Writers of
	// ended flows skip these.
	Partial bool
}

// Directions, the index of Flow's per-direction counters.
const (
	ToServer = flowtable.ToServer
	ToClient = flowtable.ToClient
)

// addrOf reads an address of the given family (4 or 6) from its 16-byte
// form, IPv4 in the first four bytes.
func addrOf(family uint8, a *[16]byte) netip.Addr {
	if family == 4 {
		return netip.AddrFrom4([4]byte(a[:4]))
	}
	return netip.AddrFrom16(*a)
}

// SrcAddr returns the initiator's address.
func (f *Flow) SrcAddr() netip.Addr { return addrOf(f.Family, &f.Src) }

// DstAddr returns the responder's address.
func (f *Flow) DstAddr() netip.Addr { return addrOf(f.Family, &f.Dst) }

// TotalPkts sums the packets of both directions.
func (f *Flow) TotalPkts() uint64 { return f.Pkts[0] + f.Pkts[1] }

// TotalIPBytes sums the IP-layer bytes of both directions.
func (f *Flow) TotalIPBytes() uint64 { return f.IPBytes[0] + f.IPBytes[1] }

// flowOf turns a table flow into the engine's Flow.
func flowOf(t *flowtable.Flow, out *Flow) {
	src, sp, dst, dp := endpoints(t)
	*out = Flow{
		ID:    t.ID(),
		First: t.First, Last: t.Last,
		Pkts:    [2]uint64{uint64(t.Pkts[0]), uint64(t.Pkts[1])},
		Bytes:   t.Bytes,
		IPBytes: t.IPBytes,
		Src:     *src, Dst: *dst,
		SrcPort: sp, DstPort: dp,
		VLAN:   t.Key.VLAN.IDs(),
		Source: t.Source,
		Proto:  t.Key.Proto, Family: t.Key.Family, Depth: t.Key.Depth,
		State:    State(t.State),
		Reason:   EndReason(t.Reason),
		TCPFlags: t.TCPFlags,
		ICMPType: t.ICMPType, ICMPCode: t.ICMPCode,
		SPI:       spiOf(t),
		Reversed:  t.Reversed(),
		Emergency: t.Emergency(),
	}
	if t.Reason == reasonReport {
		out.Reason, out.Partial = ReasonActive, true
	}
	if p := t.Key.Proto; p == decode.ProtoICMP || p == decode.ProtoICMPv6 {
		if _, reply := t.DstRaw(); reply != icmpNoReply {
			out.ResponseICMPType = uint8(reply)
		}
	}
}

// spiOf is the SPI of an ESP flow, 0 for other protocols. The key holds it
// in the port slots, its high half on the side of the packet's sender (see
// prepare), and the flow's source sent its first packet.
func spiOf(t *flowtable.Flow) uint32 {
	if t.Key.Proto != decode.ProtoESP {
		return 0
	}
	_, hi := t.SrcRaw()
	_, lo := t.DstRaw()
	return uint32(hi)<<16 | uint32(lo)
}

// endpoints are a table flow's initiator and responder with their ports,
// 0 for protocols without ports (the key holds ICMP's type pair and ESP's
// SPI there).
func endpoints(t *flowtable.Flow) (src *[16]byte, sp uint16, dst *[16]byte, dp uint16) {
	src, sp = t.SrcRaw()
	dst, dp = t.DstRaw()
	if !decode.HasPorts(t.Key.Proto) {
		sp, dp = 0, 0
	}
	return src, sp, dst, dp
}

// State is a flow's place in its life.
type State uint8

// Flow states. For protocols other than TCP a flow is new until both
// directions have been seen, then established.
const (
	StateNew         = State(flowtable.StateNew)         // packets seen in one direction only
	StateEstablished = State(flowtable.StateEstablished) // both directions seen
	StateClosing     = State(flowtable.StateClosing)     // TCP: a FIN seen, not from both sides, no RST
	StateClosed      = State(flowtable.StateClosed)      // TCP: RST seen, or FIN from both sides
)

func (s State) String() string { return flowtable.State(s).String() }

// EndReason says why a flow left the table.
type EndReason uint8

// End reasons.
const (
	ReasonActive    = EndReason(flowtable.ReasonActive)    // still in the table (handed over as it stands)
	ReasonTimeout   = EndReason(flowtable.ReasonTimeout)   // idle longer than its state's timeout
	ReasonTCPClosed = EndReason(flowtable.ReasonTCPClosed) // TCP closed: closed-state timeout passed, or a new SYN reused the tuple
	ReasonFlush     = EndReason(flowtable.ReasonFlush)     // removed by a flush operation
	ReasonEvicted   = EndReason(flowtable.ReasonEvicted)   // pushed out by a full table (emergency mode)
	ReasonShutdown  = EndReason(flowtable.ReasonShutdown)  // the engine stopped

	NumEndReasons = EndReason(flowtable.NumEndReasons)
)

func (r EndReason) String() string { return flowtable.EndReason(r).String() }

// TableStats are the flow table's counters, summed over shards.
type TableStats struct {
	Active           uint64                // flows in the table now
	Created          uint64                // flows created
	Ended            [NumEndReasons]uint64 // flows ended, by reason
	ICMPErrorNoFlow  uint64                // ICMP errors quoting a packet of no known flow
	EmergencyEntered uint64                // times a shard filled up and entered emergency mode
	EmergencyExited  uint64                // times one recovered
	Emergency        bool                  // a shard is in emergency mode now
}

// tableStats converts the table's counters.
func tableStats(o *flowtable.Stats) TableStats {
	return TableStats{Active: o.Active, Created: o.Created, Ended: o.Ended, ICMPErrorNoFlow: o.ICMPErrorNoFlow,
		EmergencyEntered: o.EmergencyEntered, EmergencyExited: o.EmergencyExited, Emergency: o.Emergency}
}
