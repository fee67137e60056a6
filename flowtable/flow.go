package flowtable

import (
	"net/netip"
	"unsafe"
)

// State is a flow's place in its life. The zero value marks a free slab slot.
type State uint8

const (
	StateFree        State = iota // slab slot not in use
	StateNew                      // packets seen in one direction only
	StateEstablished              // both directions seen (no FIN/RST yet for TCP)
	StateClosing                  // TCP: a FIN seen, not from both sides, no RST
	StateClosed                   // TCP: RST seen, or FIN from both sides

	numStates
)

var stateNames = [numStates]string{"free", "new", "established", "closing", "closed"}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "unknown"
}

// EndReason says why a flow left the table. The zero value means the flow
// is still in it.
type EndReason uint8

const (
	ReasonActive    EndReason = iota // still in the table
	ReasonTimeout                    // idle longer than its state's timeout
	ReasonTCPClosed                  // TCP closed: closed-state timeout passed, or a new SYN reused the tuple
	ReasonFlush                      // removed by a flush operation
	ReasonEvicted                    // pushed out by a full table (emergency)
	ReasonShutdown                   // the engine stopped

	NumEndReasons
)

var reasonNames = [NumEndReasons]string{"active", "timeout", "tcp-closed", "flush", "evicted", "shutdown"}

func (r EndReason) String() string {
	if r < NumEndReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Direction indexes the per-direction counters of a Flow.
const (
	ToServer = 0 // packets sent by the flow's source (its initiator)
	ToClient = 1 // packets sent to the flow's source
)

// Flow flag bits.
const (
	flagSourceB   = 1 << iota // the initiator is the key's B side
	flagSeenTS                // a non-error packet went to-server
	flagSeenTC                // a non-error packet went to-client
	flagFinTS                 // a FIN went to-server
	flagFinTC                 // a FIN went to-client
	flagReversed              // direction came from a SYN/ACK seen first
	flagEmergency             // timed out or evicted while the table was in emergency mode
	flagRefused               // the responder answered with an ICMP error that refuses the flow
)

// Flow is one tracked flow: 120 bytes, pointer-free, so a slab of them is
// never scanned by the garbage collector. Fields are valid while State is
// not StateFree; a Flow handed to an EndSink is a copy and stays valid.
type Flow struct {
	Key Key // canonical key; see Src/Dst for the initiator's view

	State    State
	flags    uint8
	TCPFlags [2]uint8 // OR of TCP flags per direction (ToServer, ToClient)

	// First and Last are the timestamps (Unix ns) of the first and last
	// packet counted.
	First, Last int64

	// Per direction: packets, frame bytes (captured length, link header
	// included, as Suricata counts) and IP-layer bytes.
	Pkts    [2]uint32
	Bytes   [2]uint64
	IPBytes [2]uint64

	// ICMPType and ICMPCode of the flow's first packet (ICMP flows only).
	ICMPType, ICMPCode uint8
	// Source is the capture source the first packet came from.
	Source uint16
	// Reason is why the flow ended; ReasonActive while it is in the table.
	Reason EndReason
	// reports counts the active-timeout reports made of the flow (capped).
	reports uint8
	// Win is the flow's part of the current flow-log window (zero when
	// Config.Window is off).
	Win Window
}

// Window is what a flow counted in the current flow-log window beyond its
// per-direction totals: per direction, the second into the window of its
// first and last packet, plus one (0: no packet yet), and the OR of its
// packets' tcp-flags values as VPC flow logs define them (FIN 1, SYN 2,
// RST 4, and 16 for a packet with SYN and ACK together).
type Window struct {
	First, Last [2]uint16
	Flags       [2]uint8
}

// Active reports whether the flow counted a packet in the window.
func (w *Window) Active() bool { return w.First[0]|w.First[1] != 0 }

// WindowTCPFlags maps one packet's TCP flags byte to its tcp-flags value,
// as Window.Flags ORs them.
func WindowTCPFlags(raw uint8) uint8 {
	f := raw & (tcpFin | tcpSyn | tcpRst)
	if raw&(tcpSyn|tcpAck) == tcpSyn|tcpAck {
		f |= 16
	}
	return f
}

// Refused reports whether the responder refused the flow: a TCP SYN
// answered by a RST and no SYN-ACK, or an ICMP destination unreachable
// (port unreachable or administratively prohibited) sent back about it.
func (f *Flow) Refused() bool {
	if f.flags&flagRefused != 0 {
		return true
	}
	return f.Key.Proto == 6 && f.TCPFlags[ToServer]&tcpSyn != 0 &&
		f.TCPFlags[ToClient]&(tcpRst|tcpSyn) == tcpRst
}

// FlowSize is the size of a slab entry in bytes.
const FlowSize = int(unsafe.Sizeof(Flow{}))

// sourceSide returns 0 when the initiator is the key's A side, 1 for B.
func (f *Flow) sourceSide() int { return int(f.flags & flagSourceB) }

// Src returns the initiator's address and port.
func (f *Flow) Src() (netip.Addr, uint16) {
	if f.flags&flagSourceB != 0 {
		return f.Key.addr(1), f.Key.BPort
	}
	return f.Key.addr(0), f.Key.APort
}

// Dst returns the responder's address and port.
func (f *Flow) Dst() (netip.Addr, uint16) {
	if f.flags&flagSourceB != 0 {
		return f.Key.addr(0), f.Key.APort
	}
	return f.Key.addr(1), f.Key.BPort
}

// SrcRaw and DstRaw return the initiator's and responder's address bytes and
// ports without building netip values (for filters on the scan path).
func (f *Flow) SrcRaw() (*[16]byte, uint16) {
	if f.flags&flagSourceB != 0 {
		return &f.Key.B, f.Key.BPort
	}
	return &f.Key.A, f.Key.APort
}

// DstRaw: see SrcRaw.
func (f *Flow) DstRaw() (*[16]byte, uint16) {
	if f.flags&flagSourceB != 0 {
		return &f.Key.A, f.Key.APort
	}
	return &f.Key.B, f.Key.BPort
}

// Reversed reports whether the flow's direction was taken from a SYN/ACK
// seen first, so its source is the receiver of the first packet.
func (f *Flow) Reversed() bool { return f.flags&flagReversed != 0 }

// Emergency reports whether the flow ended while the table was in
// emergency mode.
func (f *Flow) Emergency() bool { return f.flags&flagEmergency != 0 }

// TotalPkts and TotalIPBytes sum both directions.
func (f *Flow) TotalPkts() uint64 { return uint64(f.Pkts[0]) + uint64(f.Pkts[1]) }

// TotalIPBytes: see TotalPkts.
func (f *Flow) TotalIPBytes() uint64 { return f.IPBytes[0] + f.IPBytes[1] }

// ID returns a flow id in the style of Suricata's: start time bits and the
// flow hash, kept to 51 bits so JSON readers do not round it.
func (f *Flow) ID() uint64 {
	h := f.Key.xxhash()
	sec := uint64(f.First / 1e9)
	usec := uint64(f.First%1e9) / 1e3
	id := (sec&0xffff)<<48 | (usec&0xffff)<<32 | h&0xffffffff
	return id & (1<<51 - 1)
}

// uintptrOf gives a slab entry's address for position arithmetic; the slab
// is one heap object that never moves.
func uintptrOf(f *Flow) uintptr { return uintptr(unsafe.Pointer(f)) }
