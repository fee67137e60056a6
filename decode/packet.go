// Package decode parses captured frames into the few fields a flow table
// needs: VLAN ids, the IP 5-tuple, lengths, TCP flags, ICMP type and code,
// fragment identity, the 5-tuple quoted inside ICMP error messages, the ESP
// SPI, and the tunnel a packet carries (GENEVE, VXLAN, GRE, ERSPAN,
// IP-in-IP, Teredo, EtherIP), with its identity (VNI, GRE key, ERSPAN
// session, AWS Gateway Load Balancer options).
//
// Link-level encapsulations (802.1Q/QinQ tags, MPLS label stacks, PPPoE
// sessions, PPP and Cisco HDLC links) are walked through to reach IP. A
// tunnel is different: the outer packet is a flow of its own (the tunnel's
// UDP, GRE or IP flow) and the packet inside is another one. Decode decodes
// the outer packet and says where the inner one is (Packet.Tunnel,
// InnerOffset, InnerLen, InnerLink); DecodeInner decodes it, level by level,
// as Suricata does with its tunnel pseudo-packets.
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
// after the frame's buffer is reused. The tunnel settings (Configure) are
// package-wide and read by every Decode: set them once before decoding
// starts, never while another goroutine decodes.
//
// Of flowd's packages it imports only capture, for the LinkType of a frame;
// it never imports flowtable or filter.
package decode

import "github.com/flowd/flowd/capture"

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

	// The reasons below came with tunnel decoding. The first two make a
	// frame unusable (Packet.Reason). The others only ever appear in
	// Packet.TunnelReason: they say why the packet inside a tunnel cannot
	// be decoded while the outer packet itself is fine. TunnelReason may
	// also be ReasonTruncated (the capture ends inside the tunnel header)
	// or ReasonNonIP (the tunnel carries something other than IP or
	// Ethernet: ARP, an unknown GRE protocol, ...).

	// ReasonBadMPLS: an MPLS label stack deeper than MaxMPLSLabels, a
	// reserved label (1, 3-15) at the bottom of the stack, a payload that
	// is neither IPv4, IPv6 nor an Ethernet pseudowire, or a pseudowire
	// where flowd does not follow one (inside another, or over PPP).
	ReasonBadMPLS
	// ReasonBadPPPoE: a PPPoE session header with a version or type other
	// than 1, a code other than 0 (session data), or a length too short to
	// hold the PPP protocol.
	ReasonBadPPPoE
	// ReasonBadGeneve: a GENEVE header (on a GenevePorts UDP port) with a
	// version other than 0, reserved bits set, options that do not add up
	// to the options length, or a datagram too short for the header.
	ReasonBadGeneve
	// ReasonBadVXLAN: a VXLAN header (to a VXLANPorts UDP port) without
	// the I flag, with reserved bits set (unless Config.VXLANPermissive),
	// or in a datagram too short for it.
	ReasonBadVXLAN
	// ReasonBadGRE: a GRE header with a version other than 0 or 1, with
	// recursion control or reserved flag bits set, a version 1 (PPTP)
	// header that is not PPP with a key, source routes that run past the
	// datagram, or a datagram too short for the header.
	ReasonBadGRE
	// ReasonBadERSPAN: an ERSPAN type II or III header with the wrong
	// version, or in a datagram too short for it.
	ReasonBadERSPAN
	// ReasonBadEtherIP: an EtherIP header whose version is not 3, or a
	// datagram too short for it.
	ReasonBadEtherIP
	// ReasonTunnelFragment: the outer packet is an IP fragment, so the
	// tunnelled packet is incomplete; flowd does not reassemble.
	ReasonTunnelFragment
	// ReasonTunnelTooDeep: the packet carries a tunnel at the deepest
	// level DecodeInner goes (Config.MaxTunnelDepth).
	ReasonTunnelTooDeep

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
	ReasonBadMPLS:         "bad_mpls",
	ReasonBadPPPoE:        "bad_pppoe",
	ReasonBadGeneve:       "bad_geneve",
	ReasonBadVXLAN:        "bad_vxlan",
	ReasonBadGRE:          "bad_gre",
	ReasonBadERSPAN:       "bad_erspan",
	ReasonBadEtherIP:      "bad_etherip",
	ReasonTunnelFragment:  "tunnel_fragment",
	ReasonTunnelTooDeep:   "tunnel_too_deep",
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
	ProtoICMP    = 1
	ProtoIPv4    = 4 // IPv4 in IP
	ProtoTCP     = 6
	ProtoUDP     = 17
	ProtoIPv6    = 41 // IPv6 in IP
	ProtoGRE     = 47
	ProtoESP     = 50
	ProtoICMPv6  = 58
	ProtoEtherIP = 97
	ProtoSCTP    = 132
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
	Src, Dst [16]byte
	// SrcPort and DstPort are 0 for protocols without ports, except in a
	// quoted ICMP or ICMPv6 packet (Packet.Inner), where SrcPort holds the
	// quoted ICMP type.
	SrcPort, DstPort uint16
	Proto            uint8
	Family           uint8 // 4 or 6; 0 when no IP header was decoded
}

// Packet is the decoded form of one frame. Decode resets every field. It is
// 184 bytes with no pointers: keep one per worker and decode into it.
type Packet struct {
	// Reason is ReasonOK when the fields below describe a usable IP packet.
	// When it is not, fields decoded before the problem may be set, but none
	// is guaranteed.
	Reason Reason

	// VLAN holds the three outermost 802.1Q / 802.1ad (0x8100, 0x88a8,
	// 0x9100) ids, outermost first, 0 where absent; NumVLAN says how many
	// were kept (capped at 3, as Suricata keys flows by three; deeper tags
	// are skipped, up to MaxVLANTags in all). Tags are read after Ethernet, SLL, SLL2 and
	// Cisco HDLC headers, and in an MPLS Ethernet pseudowire (counted on
	// from the outer tags).
	VLAN    [3]uint16
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

	// SPI is the ESP security parameters index, valid when Proto is
	// ProtoESP and the packet is not a later fragment. It is 0 (a value
	// RFC 4303 reserves) when fewer than 4 bytes of ESP were captured.
	SPI uint32

	// Tunnel is the tunnel the packet carries, TunnelNone if none; valid
	// when Reason is ReasonOK. When it is set, the packet itself is still
	// decoded as the outer (tunnel) flow, and TunnelReason says whether
	// the inner packet can be decoded: ReasonOK, and it lies at InnerOffset
	// for InnerLen captured bytes of the bytes given to Decode, to be
	// decoded with link type InnerLink (HasInner, DecodeInner). Otherwise
	// the tunnel header is unusable: an event to count, while the outer
	// packet still counts as its own flow (Suricata does the same).
	Tunnel       TunnelKind
	TunnelReason Reason
	// TunnelDepth is 0 for a frame given to Decode, and n for the packet
	// DecodeInner found n tunnels deep.
	TunnelDepth uint8
	// HasGREKey says GREKey is valid: the packet's GRE header (GRE,
	// ERSPAN tunnels) has the key flag set.
	HasGREKey bool
	InnerLink capture.LinkType
	// ERSPANSession is the ERSPAN session id (10 bits); valid when Tunnel
	// is TunnelERSPAN2 or TunnelERSPAN3.
	ERSPANSession uint16
	// ERSPANVLAN is the VLAN id of an ERSPAN type II header (0: none);
	// DecodeInner puts it first in the mirrored packet's VLAN ids, as
	// Suricata keys the mirrored packet's flow by it.
	ERSPANVLAN  uint16
	InnerOffset uint32
	InnerLen    uint32
	// FrameOffset is where the bytes this packet was decoded from start in
	// the captured frame: 0 after Decode, and the inner packet's offset in
	// the outermost frame after DecodeInner. The other offsets are
	// relative to those bytes.
	FrameOffset uint32
	// VNI is the 24-bit network identifier; valid when Tunnel is
	// TunnelVXLAN or TunnelGeneve.
	VNI uint32
	// GREKey is the GRE key (version 0), or the PPTP call id (version 1).
	GREKey uint32
	// GWLB holds the AWS Gateway Load Balancer options of a GENEVE header;
	// valid when Tunnel is TunnelGeneve.
	GWLB GWLBOptions
}

// GWLBOptions are the GENEVE options (class 0x0108) that an AWS Gateway
// Load Balancer adds to the packets it sends to its appliances. Each field
// is valid when its bit is set in Has.
type GWLBOptions struct {
	EndpointID   uint64 // type 1: the Gateway Load Balancer endpoint (vpce-...)
	AttachmentID uint64 // type 2: the attachment
	FlowCookie   uint32 // type 3: the flow cookie
	Has          uint8  // GWLBHasEndpoint | GWLBHasAttachment | GWLBHasCookie
}

// Bits of GWLBOptions.Has.
const (
	GWLBHasEndpoint = 1 << iota
	GWLBHasAttachment
	GWLBHasCookie
)

// TunnelKind names the tunnel a packet carries.
type TunnelKind uint8

const (
	TunnelNone    TunnelKind = iota
	TunnelGeneve             // UDP (GenevePorts) GENEVE: Ethernet, IPv4 or IPv6 inside
	TunnelVXLAN              // UDP (VXLANPorts) VXLAN: Ethernet inside
	TunnelGRE                // GRE version 0 (Ethernet, IPv4, IPv6) or 1 (PPTP: PPP)
	TunnelERSPAN1            // GRE 0x88BE without sequence number: Ethernet
	TunnelERSPAN2            // GRE 0x88BE with sequence number, 8-byte header: Ethernet
	TunnelERSPAN3            // GRE 0x22EB, 12- or 20-byte header: Ethernet or IP
	TunnelIPv4               // IPv4 in IPv4 or IPv6 (IP protocol 4)
	TunnelIPv6               // IPv6 in IPv4 or IPv6 (IP protocol 41)
	TunnelTeredo             // UDP (TeredoPorts) Teredo: IPv6 inside
	TunnelEtherIP            // EtherIP (IP protocol 97): Ethernet inside

	NumTunnelKinds // number of TunnelKind values, for counter arrays
)

var tunnelNames = [NumTunnelKinds]string{
	TunnelNone:    "none",
	TunnelGeneve:  "geneve",
	TunnelVXLAN:   "vxlan",
	TunnelGRE:     "gre",
	TunnelERSPAN1: "erspan1",
	TunnelERSPAN2: "erspan2",
	TunnelERSPAN3: "erspan3",
	TunnelIPv4:    "ipv4_in_ip",
	TunnelIPv6:    "ipv6_in_ip",
	TunnelTeredo:  "teredo",
	TunnelEtherIP: "etherip",
}

// CountedHeader is how many bytes of its own header a tunnel of kind k
// adds to the length of the packet inside it, as Suricata counts that
// packet: ERSPAN II's 8 (Suricata decodes the ERSPAN header as part of the
// inner packet), none for the others (the inner packet starts after the
// tunnel's headers). CapLen of the inner packet stays the bytes Decode saw.
func (k TunnelKind) CountedHeader() uint32 {
	if k == TunnelERSPAN2 {
		return erspan2Len
	}
	return 0
}

// String returns the tunnel kind's name as counters and outputs show it.
func (k TunnelKind) String() string {
	if k < NumTunnelKinds {
		return tunnelNames[k]
	}
	return "unknown"
}

// HasInner reports whether p carries a tunnelled packet that DecodeInner
// can decode.
func (p *Packet) HasInner() bool {
	return p.Tunnel != TunnelNone && p.TunnelReason == ReasonOK && p.Reason == ReasonOK
}

// FirstFragment reports whether p is a fragment carrying the start of its
// datagram (and therefore the transport header).
func (p *Packet) FirstFragment() bool { return p.IsFragment && p.FragOffset == 0 }

// LaterFragment reports whether p is a fragment that does not carry the
// transport header; its ports must come from the datagram's first fragment.
func (p *Packet) LaterFragment() bool { return p.IsFragment && p.FragOffset != 0 }
