// Package decode parses captured frames into the few fields a flow table
// needs: VLAN ids, the IP 5-tuple, lengths, TCP flags, ICMP type and code,
// fragment identity, and the 5-tuple quoted inside ICMP error messages.
//
// Allocation contract: (*Packet).Decode never allocates and never panics,
// whatever the input. A frame that cannot be used sets Packet.Reason; no
// error value is built per packet.
//
// Concurrency: a Packet is owned by one goroutine. Decode keeps no state
// between calls; Packet holds no slices into the frame, so it stays valid
// after the frame's buffer is reused.
//
// Of flowd's packages it imports only capture, for the LinkType of a frame;
// it never imports flowtable or filter.
package decode

// Reason says why a frame cannot be used for flow tracking. ReasonOK means
// it can.
type Reason uint8

const (
	ReasonOK Reason = iota
	// ReasonTruncated: the frame ends inside a link, VLAN, IP or transport
	// header that is needed for the 5-tuple.
	ReasonTruncated
	// ReasonUnsupportedLink: the capture's link type is not one flowd decodes.
	ReasonUnsupportedLink
	// ReasonNonIP: the frame carries something other than IPv4/IPv6 (ARP,
	// LLDP, STP, a loopback family other than IP, ...).
	ReasonNonIP
	// ReasonBadIPVersion: the IP version nibble disagrees with the link
	// layer's ethertype or family, or is neither 4 nor 6 on raw links.
	ReasonBadIPVersion
	// ReasonBadIPHeaderLen: IPv4 IHL below 5, or beyond the total length.
	ReasonBadIPHeaderLen
	// ReasonBadIPTotalLen: IPv4 total length below the header length.
	ReasonBadIPTotalLen
	// ReasonBadExtHeader: an IPv6 extension header runs past the packet or
	// past the payload length.
	ReasonBadExtHeader
	// ReasonBadTCPHeaderLen: TCP data offset below 5 words.
	ReasonBadTCPHeaderLen
	// ReasonBadICMPError: an ICMP error message whose quoted packet is too
	// short or malformed to name the flow it belongs to.
	ReasonBadICMPError

	NumReasons // number of Reason values, for counter arrays
)

var reasonNames = [NumReasons]string{
	ReasonOK:              "ok",
	ReasonTruncated:       "truncated",
	ReasonUnsupportedLink: "unsupported_link",
	ReasonNonIP:           "non_ip",
	ReasonBadIPVersion:    "bad_ip_version",
	ReasonBadIPHeaderLen:  "bad_ip_header_len",
	ReasonBadIPTotalLen:   "bad_ip_total_len",
	ReasonBadExtHeader:    "bad_ipv6_ext_header",
	ReasonBadTCPHeaderLen: "bad_tcp_header_len",
	ReasonBadICMPError:    "bad_icmp_error",
}

// String returns the reason's name as counters and summaries show it.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// IP protocol numbers the decoder understands beyond the IP layer.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
	ProtoSCTP   = 132
)

// TCP flag bits as they appear in the TCP header's flags byte.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
	TCPEce = 0x40
	TCPCwr = 0x80
)

// Tuple is an IP 5-tuple. IPv4 addresses occupy the first 4 bytes of Src and
// Dst with the rest zero; Family tells the two apart. Ports are zero for
// protocols without ports.
type Tuple struct {
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
	Proto            uint8
	Family           uint8 // 4 or 6; 0 when no IP header was decoded
}

// Packet is the decoded form of one frame. Decode resets every field.
type Packet struct {
	// Reason is ReasonOK when the fields below describe a usable IP packet.
	// When it is not, fields decoded before the problem may be set, but none
	// is guaranteed.
	Reason Reason

	// VLAN holds up to two 802.1Q / 802.1ad ids, outermost first; NumVLAN
	// says how many were seen (capped at 2; deeper tags are skipped).
	VLAN    [2]uint16
	NumVLAN uint8

	// Tuple is the packet's own 5-tuple (for ICMP errors too: the error's
	// sender and receiver, with zero ports).
	Tuple

	// IPLen is the IP-layer length: the IPv4 total length, or 40 plus the
	// IPv6 payload length. It comes from the header, so it can exceed the
	// captured bytes when the capture was cut by a snap length.
	IPLen uint32
	// CapLen is len(b) as passed to Decode: the frame bytes.
	CapLen uint32
	// L3Offset and L4Offset are the byte offsets of the IP header and of the
	// transport header in the frame; L4Offset is 0 when there is no
	// transport header (non-first fragments, unknown protocols).
	L3Offset, L4Offset uint16

	// TCPFlags is the TCP flags byte and TCPHeaderLen the header length in
	// bytes; valid when Proto is TCP and the packet is not a later fragment.
	TCPFlags     uint8
	TCPHeaderLen uint8
	// TCPSeq is the TCP sequence number (Suricata tells a retransmitted SYN
	// from a new connection by it).
	TCPSeq uint32

	// ICMPType and ICMPCode are valid when Proto is ICMP or ICMPv6.
	ICMPType, ICMPCode uint8
	// ICMPEchoID is the identifier of an echo request or reply; valid when
	// IsICMPEcho.
	ICMPEchoID uint16
	IsICMPEcho bool

	// IsICMPError marks an ICMPv4 destination-unreachable, source-quench,
	// redirect, time-exceeded or parameter-problem message, or an ICMPv6
	// error (type < 128). Inner is then the 5-tuple of the quoted packet, as
	// its original sender wrote it (Inner.Src sent the packet that caused the
	// error). Ports are zero when the quoted packet had none or they were cut.
	IsICMPError bool
	Inner       Tuple

	// Fragment fields. IsFragment is true for any IPv4 packet with MF set or
	// a non-zero offset, and for any IPv6 packet with a fragment header.
	// FragOffset is in bytes. FragID is the IPv4 identification or the IPv6
	// fragment identification. A first fragment (offset 0) carries the
	// ports when they fit; a later one has none and L4Offset 0.
	IsFragment    bool
	MoreFragments bool
	FragOffset    uint16
	FragID        uint32
}

// FirstFragment reports whether p is a fragment carrying the start of its
// datagram (and therefore the transport header).
func (p *Packet) FirstFragment() bool { return p.IsFragment && p.FragOffset == 0 }

// LaterFragment reports whether p is a fragment that does not carry the
// transport header; its ports must come from the datagram's first fragment.
func (p *Packet) LaterFragment() bool { return p.IsFragment && p.FragOffset != 0 }
