// Package decode parses captured frames into the few fields a flow table
// needs: VLAN ids, the IP 5-tuple, lengths, TCP flags, ICMP type and code,
// fragment identity, and the 5-tuple quoted inside ICMP error messages.
//
// Allocation contract: (*Packet).Decode never allocates and never panics,
// whatever the input. A frame that cannot be used sets Packet.Reason; no
// error value is built per packet. It costs about 10-20 ns per frame on one
// core, 5 to 10 times less than gopacket's DecodingLayerParser on the same
// frames (BenchmarkDecode, 2026-11-21, Go 1.26, AMD EPYC VM; the numbers
// are in the benchmark's doc comment).
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
	// header that is needed for the 5-tuple, or the IP datagram (by its own
	// length field) ends inside the transport header. What is needed: TCP up
	// to the flags byte (14 bytes), UDP and SCTP the ports (4), ICMP the
	// 8-byte header (ICMPv6: 4, or 8 for echo).
	ReasonTruncated
	// ReasonUnsupportedLink: the capture's link type is not one flowd decodes.
	ReasonUnsupportedLink
	// ReasonNonIP: the frame carries something other than IPv4/IPv6 (ARP,
	// LLDP, STP, a loopback family other than IP, ...).
	ReasonNonIP
	// ReasonBadIPVersion: the IP version nibble disagrees with the link
	// layer's ethertype or family, or is neither 4 nor 6 on raw links.
	ReasonBadIPVersion
	// ReasonBadIPHeaderLen: IPv4 IHL below 5. (An IHL beyond the total
	// length is ReasonBadIPTotalLen; beyond the captured bytes,
	// ReasonTruncated.)
	ReasonBadIPHeaderLen
	// ReasonBadIPTotalLen: IPv4 total length below the header length. A
	// total length of 0 is not an error: it is what TCP segmentation offload
	// leaves, and the captured bytes are taken as the datagram.
	ReasonBadIPTotalLen
	// ReasonBadExtHeader: an IPv6 extension header runs past the payload
	// length, an AH header is shorter than its 12-byte fixed part, or the
	// chain has more than MaxExtHeaders headers. (One that runs past the
	// captured bytes only is ReasonTruncated.)
	ReasonBadExtHeader
	// ReasonBadTCPHeaderLen: TCP data offset below 5 words, or (except in a
	// first fragment) beyond the end of the IP datagram.
	ReasonBadTCPHeaderLen
	// ReasonBadICMPError: an ICMP error message whose quoted packet cannot
	// name the flow it belongs to: the quoted IP header is cut or malformed,
	// the ports of a TCP, UDP or SCTP packet are cut, or the quoted packet is
	// a later fragment (which has no ports).
	ReasonBadICMPError
	// ReasonTooManyVLANs: more than MaxVLANTags stacked VLAN tags.
	ReasonTooManyVLANs

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
	ReasonTooManyVLANs:    "too_many_vlan_tags",
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

// Packet is the decoded form of one frame. Decode resets every field. It is
// 120 bytes with no pointers: keep one per worker and decode into it.
type Packet struct {
	// Reason is ReasonOK when the fields below describe a usable IP packet.
	// When it is not, fields decoded before the problem may be set, but none
	// is guaranteed.
	Reason Reason

	// VLAN holds up to two 802.1Q / 802.1ad (0x8100, 0x88a8, 0x9100) ids,
	// outermost first; NumVLAN says how many were kept (capped at 2; deeper
	// tags are skipped, up to MaxVLANTags in all). Tags are read after
	// Ethernet, SLL and SLL2 headers.
	VLAN    [2]uint16
	NumVLAN uint8

	// Tuple is the packet's own 5-tuple (for ICMP errors too: the error's
	// sender and receiver, with zero ports).
	Tuple

	// IPLen is the IP-layer length: the IPv4 total length, or 40 plus the
	// IPv6 payload length. It comes from the header, so it can exceed the
	// captured bytes when the capture was cut by a snap length. When the
	// length field is 0 (segmentation offload, jumbograms; for IPv6 unless
	// the next header is 59) it is the captured bytes from the IP header on.
	IPLen uint32
	// CapLen is len(b) as passed to Decode: the frame bytes.
	CapLen uint32
	// L3Offset and L4Offset are the byte offsets in the frame of the IP
	// header and of the header of protocol Proto (after IPv4 options and
	// IPv6 extension headers), whatever that protocol is (TCP, UDP, GRE,
	// ESP, ...). L4Offset is 0 for later fragments, which carry no such
	// header. Both are at most len(b); valid when Reason is ReasonOK.
	L3Offset, L4Offset uint16

	// TCPFlags is the TCP flags byte and TCPHeaderLen the header length in
	// bytes; valid when Proto is TCP and the packet is not a later fragment.
	TCPFlags     uint8
	TCPHeaderLen uint8
	// TCPSeq is the TCP sequence number (Suricata tells a retransmitted SYN
	// from a new connection by it).
	TCPSeq uint32

	// ICMPType and ICMPCode are valid when Proto is ICMP or ICMPv6 and the
	// packet is not a later fragment.
	ICMPType, ICMPCode uint8
	// ICMPEchoID is the identifier of an echo request or reply; valid when
	// IsICMPEcho.
	ICMPEchoID uint16
	IsICMPEcho bool

	// IsICMPError marks an ICMPv4 destination-unreachable, source-quench,
	// redirect, time-exceeded or parameter-problem message (types 3, 4, 5,
	// 11, 12), or an ICMPv6 destination-unreachable, packet-too-big,
	// time-exceeded or parameter-problem message (types 1-4). Inner is then
	// the 5-tuple of the quoted packet, as its original sender wrote it
	// (Inner.Src sent the packet that caused the error); valid when Reason is
	// ReasonOK. Inner ports are zero when the quoted protocol has none (they
	// are never zero because they were cut: that is ReasonBadICMPError).
	IsICMPError bool
	Inner       Tuple

	// Fragment fields. IsFragment is true for any IPv4 packet with MF set or
	// a non-zero offset, and for any IPv6 packet whose Fragment header has M
	// set or a non-zero offset (an RFC 6946 atomic fragment, offset 0 and no
	// M, is a whole datagram and not a fragment). The others are valid when
	// IsFragment: FragOffset is in bytes; FragID is the IPv4 identification
	// or the IPv6 fragment identification. A first fragment (offset 0)
	// carries the ports, even when it ends inside the rest of the transport
	// header (then TCPFlags and TCPHeaderLen are 0); a later one has none and
	// L4Offset 0.
	//
	// For a later IPv6 fragment Proto is the Fragment header's next header.
	// That is the upper-layer protocol unless the fragmentable part starts
	// with more extension headers (destination options, AH), in which case
	// it is that header's number while the first fragment's Proto is the
	// protocol found after them: match IPv6 fragments on (Src, Dst, FragID).
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
