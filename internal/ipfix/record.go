package ipfix

// Record is one flow report handed to an Exporter: the whole of a flow that
// ended, or what a long flow did since its previous report (an active-timeout
// partial report). It is a pointer-free value of 104 bytes, copied into the
// exporter's queue, so the caller may reuse it as soon as Add returns.
//
// Direction 0 is the initiator (Src) towards the responder (Dst); direction 1
// the way back. Counters are deltas: for a partial report they hold what was
// counted since the flow's previous report, and the flow's final report holds
// the rest, so a collector that sums the reports of a flow gets its totals.
type Record struct {
	// Src and Dst are the initiator's and the responder's addresses. IPv4
	// uses the first 4 bytes and leaves the rest zero (as flowtable.Key).
	Src, Dst [16]byte

	// Packets and Octets per direction. Octets are IP-layer bytes (IPv4
	// total length, IPv6 payload length + 40), not frame bytes: that is what
	// octetDeltaCount means in the IPFIX registry.
	Packets [2]uint64
	Octets  [2]uint64

	// Start and End are the Unix times in nanoseconds of the flow's first
	// and last packet (for a partial report: the flow's first packet and the
	// last packet counted so far).
	Start, End int64

	// Ingress is the ingress interface or capture source number
	// (ingressInterface).
	Ingress uint32

	SrcPort, DstPort uint16 // 0 for protocols without ports

	// VLAN holds up to three 802.1Q/802.1ad ids, outermost first; 0 means
	// no tag at that depth. The templates carry the first two (vlanId and
	// dot1qCustomerVlanId); the IPFIX registry has no element for a third.
	VLAN [3]uint16

	Family uint8 // 4 or 6; any other value drops the record (counted)
	Proto  uint8 // IP protocol number

	// TCPFlags is the OR of the TCP flags seen per direction (TCP only).
	TCPFlags [2]uint8

	// ICMPType and ICMPCode are those of the flow's first packet (ICMP and
	// ICMPv6 flows only). The reverse direction of an echo, timestamp,
	// information or address-mask request is exported with the matching
	// reply type; other types are exported unchanged both ways.
	ICMPType, ICMPCode uint8

	// EndReason says why this report was made (flowEndReason).
	EndReason EndReason
}

// EndReason is why a flow report was made. The values are those of the
// IPFIX flowEndReason element (RFC 5102, information element 136).
type EndReason uint8

const (
	EndUnknown          EndReason = 0 // not said; exported as 0 (reserved)
	EndIdleTimeout      EndReason = 1 // no packet for the idle timeout
	EndActiveTimeout    EndReason = 2 // partial report of a flow still alive
	EndOfFlow           EndReason = 3 // TCP FIN/RST close observed
	EndForced           EndReason = 4 // flushed, shut down, evicted by policy
	EndLackOfResources  EndReason = 5 // evicted because the table was full
	maxDefinedEndReason           = EndLackOfResources
)

// String names the reason as the IPFIX registry does.
func (r EndReason) String() string {
	switch r {
	case EndIdleTimeout:
		return "idle timeout"
	case EndActiveTimeout:
		return "active timeout"
	case EndOfFlow:
		return "end of flow detected"
	case EndForced:
		return "forced end"
	case EndLackOfResources:
		return "lack of resources"
	}
	return "unknown"
}

// replyICMPType returns the type of the answer to an ICMP (v4) or ICMPv6
// query type, or the type itself where it has no answer. Only the first
// packet's type is tracked per flow, and it is almost always the query.
func replyICMPType(family, t uint8) uint8 {
	if family == 6 {
		switch t {
		case 128: // echo request -> echo reply
			return 129
		case 129:
			return 128
		}
		return t
	}
	switch t {
	case 8: // echo request -> echo reply
		return 0
	case 0:
		return 8
	case 13, 15, 17: // timestamp, information, address mask requests
		return t + 1
	case 14, 16, 18:
		return t - 1
	}
	return t
}

// isICMP says whether the record's protocol carries an ICMP type and code.
func (r *Record) isICMP() bool {
	return (r.Family == 4 && r.Proto == 1) || (r.Family == 6 && r.Proto == 58)
}
