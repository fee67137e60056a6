package decode

import (
	"encoding/binary"

	"github.com/flowd/flowd/capture"
)

// Tunnel and link-encapsulation fixtures. The outer headers whose lengths
// depend on what they carry are built by ip4, ip6 and udp below, which fill
// in the length fields; every other header is a named byte string.

// ip4 returns an IPv4 header (IHL 5, id 0x77, DF, TTL 64, checksum 0) for
// protocol proto between the addresses addrs, with the total length of the
// header and payload, followed by the payload.
func ip4(proto byte, addrs []byte, payload ...[]byte) []byte {
	pl := cat(payload...)
	h := []byte{0x45, 0x00, 0, 0, 0x00, 0x77, 0x40, 0x00, 0x40, proto, 0x00, 0x00}
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(pl)))
	return cat(h, addrs, pl)
}

// ip4frag is ip4 for a fragment: identification id, flags-and-offset ff.
func ip4frag(proto byte, addrs []byte, id, ff uint16, payload ...[]byte) []byte {
	b := ip4(proto, addrs, payload...)
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], ff)
	return b
}

// ip6 returns an IPv6 header (hop limit 64) with next header nh between
// the addresses addrs, whose payload length covers the payload, followed
// by the payload.
func ip6(nh byte, addrs []byte, payload ...[]byte) []byte {
	pl := cat(payload...)
	h := []byte{0x60, 0x00, 0x00, 0x00, 0, 0, nh, 0x40}
	binary.BigEndian.PutUint16(h[4:], uint16(len(pl)))
	return cat(h, addrs, pl)
}

// udp returns a UDP header (checksum 0) with the length of the header and
// payload, followed by the payload.
func udp(sport, dport uint16, payload ...[]byte) []byte {
	pl := cat(payload...)
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(pl)))
	return cat(h, pl)
}

// Outer (tunnel endpoint) addresses.
var (
	addrT4 = addr4(203, 0, 113, 10) // tunnel endpoint T
	addrU4 = addr4(203, 0, 113, 20) // tunnel endpoint U
	// 203.0.113.10 -> 203.0.113.20
	ip4TtoU = []byte{0xcb, 0x00, 0x71, 0x0a, 0xcb, 0x00, 0x71, 0x14}
	// 2001:db8::1 -> 2001:db8::2 serve as the IPv6 tunnel endpoints.
	// Inner Ethernet: 02:00:00:00:00:0b <- 02:00:00:00:00:0a
	ethAddrsInner = []byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}
)

// Inner packets.
var (
	// IPv4 192.0.2.1 -> 198.51.100.2, TCP SYN 50000 -> 80 (40 bytes)
	inIP4TCP = ip4(6, ip4AtoB, tcpSYN)
	// IPv6 2001:db8::1 -> 2001:db8::2, UDP 12345 -> 53 "hello" (53 bytes)
	inIP6UDP = ip6(17, ip6AtoB, udpDNS)
	// Ethernet, IPv4, TCP SYN (54 bytes)
	inEthIP4TCP = cat(ethAddrsInner, etIPv4, inIP4TCP)
	// Ethernet, IPv6, UDP (67 bytes)
	inEthIP6UDP = cat(ethAddrsInner, etIPv6, inIP6UDP)
)

// Tunnel headers.
var (
	// VXLAN: flags I, reserved, VNI 0x123456, reserved
	vxlanVNI123456 = []byte{0x08, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x00}
	// GENEVE: version 0, options length 8 words (32 bytes), no flags,
	// protocol IPv4, VNI 0, reserved
	geneveGWLBIPv4 = []byte{0x08, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00}
	// GENEVE option class 0x0108 (AWS GWLB) type 1 (endpoint id), length 2
	// words: 0x0123456789abcdef
	gwlbEndpoint = []byte{0x01, 0x08, 0x01, 0x02, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}
	// GENEVE option class 0x0108 type 2 (attachment id), length 2: 0x0a0b0c0d0e0f1011
	gwlbAttachment = []byte{0x01, 0x08, 0x02, 0x02, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11}
	// GENEVE option class 0x0108 type 3 (flow cookie), length 1: 0xfeedf00d
	gwlbCookie = []byte{0x01, 0x08, 0x03, 0x01, 0xfe, 0xed, 0xf0, 0x0d}
	// GENEVE: version 0, options length 2 words, O and C flags clear,
	// protocol transparent Ethernet bridging, VNI 0x00abcd, reserved
	geneveTEBOpt = []byte{0x02, 0x00, 0x65, 0x58, 0x00, 0xab, 0xcd, 0x00}
	// GENEVE option class 0x0102 (Linux) type 0x80 (critical), length 1
	geneveOptLinux = []byte{0x01, 0x02, 0x80, 0x01, 0xaa, 0xbb, 0xcc, 0xdd}
	// GENEVE: version 0, no options, protocol transparent Ethernet bridging, VNI 7
	geneveTEB = []byte{0x00, 0x00, 0x65, 0x58, 0x00, 0x00, 0x07, 0x00}

	// GRE: checksum, key and sequence present, version 0, protocol IPv4;
	// checksum 0, offset 0; key 0x0000beef; sequence 42
	greCKSIPv4 = []byte{0xb0, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x2a}
	// GRE: key present, protocol transparent Ethernet bridging, key 7
	greKeyTEB = []byte{0x20, 0x00, 0x65, 0x58, 0x00, 0x00, 0x00, 0x07}
	// GRE: no flags, protocol IPv6
	greIPv6 = []byte{0x00, 0x00, 0x86, 0xdd}
	// GRE: no flags, protocol ERSPAN (type I: no sequence number)
	greERSPAN1 = []byte{0x00, 0x00, 0x88, 0xbe}
	// GRE: sequence present, protocol ERSPAN (type II), sequence 1
	greERSPAN2 = []byte{0x10, 0x00, 0x88, 0xbe, 0x00, 0x00, 0x00, 0x01}
	// ERSPAN II: version 1, VLAN 10, COS 0, encap 0, T 0, session 0x155,
	// reserved, index 0
	erspan2S155 = []byte{0x10, 0x0a, 0x01, 0x55, 0x00, 0x00, 0x00, 0x00}
	// GRE: sequence present, protocol ERSPAN type III, sequence 2
	greERSPAN3 = []byte{0x10, 0x00, 0x22, 0xeb, 0x00, 0x00, 0x00, 0x02}
	// ERSPAN III: version 2, VLAN 0, COS 0, BSO 0, T 0, session 0x3ff;
	// timestamp; SGT 0, P 0, frame type 0 (Ethernet), hardware id 1, D 0,
	// granularity 0, O 0
	erspan3S3FF = []byte{0x20, 0x00, 0x03, 0xff, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x10}
	// GRE version 1 (PPTP): key and sequence present, ack present,
	// protocol PPP; payload length 44, call id 0x4242; sequence 5; ack 4
	grePPTP = []byte{0x30, 0x81, 0x88, 0x0b, 0x00, 0x2c, 0x42, 0x42, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x04}
	// PPP in HDLC-like framing: address 0xff, control 0x03, protocol IPv4
	pppACIPv4 = []byte{0xff, 0x03, 0x00, 0x21}
	// EtherIP: version 3, reserved
	etherIPv3 = []byte{0x30, 0x00}
	// Teredo origin indication: 0x0000, obfuscated port, obfuscated address
	teredoOrigin = []byte{0x00, 0x00, 0xf2, 0x27, 0x3f, 0xff, 0x8d, 0xfe}
	// Teredo authentication indication: 0x0001, id length 0, auth length
	// 0, nonce, confirmation
	teredoAuth = []byte{0x00, 0x01, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0x00}

	etMPLS  = []byte{0x88, 0x47} // ethertype MPLS unicast
	etPPPoE = []byte{0x88, 0x64} // ethertype PPPoE session
	// MPLS label 100, TC 0, not bottom, TTL 64
	mpls100 = []byte{0x00, 0x06, 0x40, 0x40}
	// MPLS label 200, TC 0, bottom of stack, TTL 64
	mpls200Bottom = []byte{0x00, 0x0c, 0x81, 0x40}
	// MPLS label 2 (IPv6 explicit null), bottom of stack, TTL 64
	mplsV6NullBottom = []byte{0x00, 0x00, 0x21, 0x40}
	// MPLS label 3 (implicit null, never on the wire), bottom, TTL 64
	mplsImplicitNullBottom = []byte{0x00, 0x00, 0x31, 0x40}
	// pseudowire control word (RFC 4385): first nibble 0, sequence 0
	pwControlWord = []byte{0x00, 0x00, 0x00, 0x00}
)

// pppoe returns a PPPoE session header (version 1, type 1, code 0, session
// 0x1234) with the length of the payload, then the payload.
func pppoe(payload ...[]byte) []byte {
	pl := cat(payload...)
	h := []byte{0x11, 0x00, 0x12, 0x34, 0, 0}
	binary.BigEndian.PutUint16(h[4:], uint16(len(pl)))
	return cat(h, pl)
}

// Wanted results for the inner packets above.
func wantInIP4TCP(at uint32, l3 uint16, capLen int) Packet {
	return Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 40, L3Offset: l3, L4Offset: l3 + 20,
		TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000, CapLen: uint32(capLen), FrameOffset: at, TunnelDepth: 1}
}

// withVLAN gives a wanted packet the one VLAN id vlan.
func withVLAN(p Packet, vlan uint16) Packet {
	p.VLAN, p.NumVLAN = [3]uint16{vlan}, 1
	return p
}

func wantInIP6UDP(at uint32, l3 uint16, capLen int) Packet {
	return Packet{Tuple: udpWant(addrA6, addrB6, 6), IPLen: 53, L3Offset: l3, L4Offset: l3 + 40,
		CapLen: uint32(capLen), FrameOffset: at, TunnelDepth: 1}
}

func udpT(sport, dport uint16) Tuple {
	return Tuple{Src: addrT4, Dst: addrU4, SrcPort: sport, DstPort: dport, Proto: ProtoUDP, Family: 4}
}

func protoT(proto uint8) Tuple {
	return Tuple{Src: addrT4, Dst: addrU4, Proto: proto, Family: 4}
}

// nestedIPIP is n IPv4-in-IPv4 headers around inIP4TCP.
func nestedIPIP(n int) []byte {
	b := inIP4TCP
	for range n {
		b = ip4(4, ip4TtoU, b)
	}
	return b
}

var tunnelFixtures = []fixture{
	// ---- UDP tunnels -------------------------------------------------------
	{
		name: "eth-ipv4-udp-vxlan-eth-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(49152, 4789,
					vxlanVNI123456,
					inEthIP4TCP))),
		want: Packet{Tuple: udpT(49152, 4789), IPLen: 90, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelVXLAN, VNI: 0x123456, InnerLink: capture.LinkEthernet, InnerOffset: 50, InnerLen: 54},
		inner: []Packet{wantInIP4TCP(50, 14, 54)},
	},
	{
		name: "eth-ipv4-udp-geneve-gwlb-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(61000, 6081,
					geneveGWLBIPv4, gwlbEndpoint, gwlbAttachment, gwlbCookie,
					inIP4TCP))),
		want: Packet{Tuple: udpT(61000, 6081), IPLen: 108, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelGeneve, InnerLink: capture.LinkIPv4, InnerOffset: 82, InnerLen: 40,
			GWLB: GWLBOptions{EndpointID: 0x0123456789abcdef, AttachmentID: 0x0a0b0c0d0e0f1011, FlowCookie: 0xfeedf00d,
				Has: GWLBHasEndpoint | GWLBHasAttachment | GWLBHasCookie}},
		inner: []Packet{wantInIP4TCP(82, 0, 40)},
	},
	{
		name: "eth-ipv4-udp-geneve-option-eth-ipv6-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(6081, 6081,
					geneveTEBOpt, geneveOptLinux,
					inEthIP6UDP))),
		want: Packet{Tuple: udpT(6081, 6081), IPLen: 111, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelGeneve, VNI: 0xabcd, InnerLink: capture.LinkEthernet, InnerOffset: 58, InnerLen: 67},
		inner: []Packet{wantInIP6UDP(58, 14, 67)},
	},
	{
		// VXLAN inside GENEVE: the outer packet, the VXLAN packet, the
		// TCP packet.
		name: "eth-ipv4-udp-geneve-eth-ipv4-udp-vxlan-eth-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(50000, 6081,
					geneveTEB,
					ethAddrsInner, etIPv4,
					ip4(17, ip4TtoU,
						udp(50001, 4789,
							vxlanVNI123456,
							inEthIP4TCP))))),
		want: Packet{Tuple: udpT(50000, 6081), IPLen: 140, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelGeneve, VNI: 7, InnerLink: capture.LinkEthernet, InnerOffset: 50, InnerLen: 104},
		inner: []Packet{
			{Tuple: udpT(50001, 4789), IPLen: 90, L3Offset: 14, L4Offset: 34, CapLen: 104, FrameOffset: 50, TunnelDepth: 1,
				Tunnel: TunnelVXLAN, VNI: 0x123456, InnerLink: capture.LinkEthernet, InnerOffset: 50, InnerLen: 54},
			func() Packet { p := wantInIP4TCP(100, 14, 54); p.TunnelDepth = 2; return p }(),
		},
	},
	{
		name: "eth-ipv4-udp-teredo-origin-ipv6-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(3544, 40000,
					teredoOrigin,
					inIP6UDP))),
		want: Packet{Tuple: udpT(3544, 40000), IPLen: 89, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelTeredo, InnerLink: capture.LinkIPv6, InnerOffset: 50, InnerLen: 53},
		inner: []Packet{wantInIP6UDP(50, 0, 53)},
	},
	{
		name: "eth-ipv4-udp-teredo-ipv6-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(40000, 3544,
					inIP6UDP))),
		want: Packet{Tuple: udpT(40000, 3544), IPLen: 81, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelTeredo, InnerLink: capture.LinkIPv6, InnerOffset: 42, InnerLen: 53},
		inner: []Packet{wantInIP6UDP(42, 0, 53)},
	},
	{
		// An authentication indication is a qualification exchange, not
		// a tunnelled packet (Suricata's rule): plain UDP.
		name: "eth-ipv4-udp-teredo-auth-not-a-tunnel",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(40000, 3544,
					teredoAuth,
					inIP6UDP))),
		want: Packet{Tuple: udpT(40000, 3544), IPLen: 94, L3Offset: 14, L4Offset: 34},
	},
	{
		// A UDP 3544 payload whose IPv6 length does not fill it is not Teredo.
		name: "eth-ipv4-udp-teredo-length-mismatch-not-a-tunnel",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(40000, 3544,
					inIP6UDP,
					// one byte too many
					[]byte{0x00}))),
		want: Packet{Tuple: udpT(40000, 3544), IPLen: 82, L3Offset: 14, L4Offset: 34},
	},

	// ---- GRE and ERSPAN ----------------------------------------------------
	{
		name: "eth-ipv4-gre-csum-key-seq-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(47, ip4TtoU,
				greCKSIPv4,
				inIP4TCP)),
		want: Packet{Tuple: protoT(47), IPLen: 76, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelGRE, GREKey: 0xbeef, HasGREKey: true, InnerLink: capture.LinkIPv4, InnerOffset: 50, InnerLen: 40},
		inner: []Packet{wantInIP4TCP(50, 0, 40)},
	},
	{
		name: "eth-ipv4-gre-key-teb-eth-ipv6-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(47, ip4TtoU,
				greKeyTEB,
				inEthIP6UDP)),
		want: Packet{Tuple: protoT(47), IPLen: 95, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelGRE, GREKey: 7, HasGREKey: true, InnerLink: capture.LinkEthernet, InnerOffset: 42, InnerLen: 67},
		inner: []Packet{wantInIP6UDP(42, 14, 67)},
	},
	{
		name: "eth-ipv6-gre-ipv6-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			ip6(47, ip6AtoB,
				greIPv6,
				inIP6UDP)),
		want: Packet{Tuple: Tuple{Src: addrA6, Dst: addrB6, Proto: 47, Family: 6}, IPLen: 97, L3Offset: 14, L4Offset: 54,
			Tunnel: TunnelGRE, InnerLink: capture.LinkIPv6, InnerOffset: 58, InnerLen: 53},
		inner: []Packet{wantInIP6UDP(58, 0, 53)},
	},
	{
		name: "eth-ipv4-gre-erspan1-eth-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(47, ip4TtoU,
				greERSPAN1,
				inEthIP4TCP)),
		want: Packet{Tuple: protoT(47), IPLen: 78, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelERSPAN1, InnerLink: capture.LinkEthernet, InnerOffset: 38, InnerLen: 54},
		inner: []Packet{wantInIP4TCP(38, 14, 54)},
	},
	{
		name: "eth-ipv4-gre-erspan2-eth-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(47, ip4TtoU,
				greERSPAN2, erspan2S155,
				inEthIP4TCP)),
		want: Packet{Tuple: protoT(47), IPLen: 90, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelERSPAN2, ERSPANSession: 0x155, ERSPANVLAN: 0x00a, InnerLink: capture.LinkEthernet, InnerOffset: 50, InnerLen: 54},
		inner: []Packet{withVLAN(wantInIP4TCP(50, 14, 54), 0x00a)}, // the ERSPAN header's VLAN
	},
	{
		name: "eth-ipv4-gre-erspan3-eth-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(47, ip4TtoU,
				greERSPAN3, erspan3S3FF,
				inEthIP4TCP)),
		want: Packet{Tuple: protoT(47), IPLen: 94, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelERSPAN3, ERSPANSession: 0x3ff, InnerLink: capture.LinkEthernet, InnerOffset: 54, InnerLen: 54},
		inner: []Packet{wantInIP4TCP(54, 14, 54)},
	},
	{
		name: "eth-ipv4-gre-pptp-ppp-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(47, ip4TtoU,
				grePPTP,
				pppACIPv4, inIP4TCP)),
		want: Packet{Tuple: protoT(47), IPLen: 80, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelGRE, GREKey: 0x4242, HasGREKey: true, InnerLink: LinkPPP, InnerOffset: 50, InnerLen: 44},
		inner: []Packet{wantInIP4TCP(50, 4, 44)},
	},
	{
		// RFC 1701 source routing: checksum and offset, then the source
		// route entries up to an empty one.
		name: "eth-ipv4-gre-routing-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(47, ip4TtoU,
				// GRE: routing present, version 0, protocol IPv4; checksum
				// 0, offset 0
				[]byte{0x40, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00},
				// SRE: address family IPv4, offset 0, length 8; two addresses
				[]byte{0x08, 0x00, 0x00, 0x08}, ip4TtoU,
				// SRE: family 0, length 0: the last one
				[]byte{0x00, 0x00, 0x00, 0x00},
				inIP4TCP)),
		want: Packet{Tuple: protoT(47), IPLen: 84, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelGRE, InnerLink: capture.LinkIPv4, InnerOffset: 58, InnerLen: 40},
		inner: []Packet{wantInIP4TCP(58, 0, 40)},
	},
	{
		name: "eth-ipv4-gre-erspan3-subheader-ipv6-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(47, ip4TtoU,
				greERSPAN3,
				// ERSPAN III: version 2, VLAN 5, session 0x010; timestamp;
				// SGT 0, frame type 2 (IP), hardware id 0, O set
				[]byte{0x20, 0x05, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x08, 0x01},
				// platform-specific subheader
				[]byte{0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
				inIP6UDP)),
		want: Packet{Tuple: protoT(47), IPLen: 101, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelERSPAN3, ERSPANSession: 0x10, InnerLink: capture.LinkRaw, InnerOffset: 62, InnerLen: 53},
		inner: []Packet{wantInIP6UDP(62, 0, 53)},
	},
	{
		// A GRE packet with nothing after its header (a keepalive) carries
		// no tunnelled packet and is no event.
		name: "eth-ipv4-gre-key-empty",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(47, ip4TtoU,
				greKeyTEB)),
		want: Packet{Tuple: protoT(47), IPLen: 28, L3Offset: 14, L4Offset: 34, GREKey: 7, HasGREKey: true},
	},

	// ---- IP in IP, EtherIP -------------------------------------------------
	{
		name: "eth-ipv4-ipip-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(4, ip4TtoU,
				inIP4TCP)),
		want: Packet{Tuple: protoT(4), IPLen: 60, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelIPv4, InnerLink: capture.LinkIPv4, InnerOffset: 34, InnerLen: 40},
		inner: []Packet{wantInIP4TCP(34, 0, 40)},
	},
	{
		name: "eth-ipv4-6in4-ipv6-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(41, ip4TtoU,
				inIP6UDP)),
		want: Packet{Tuple: protoT(41), IPLen: 73, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelIPv6, InnerLink: capture.LinkIPv6, InnerOffset: 34, InnerLen: 53},
		inner: []Packet{wantInIP6UDP(34, 0, 53)},
	},
	{
		name: "raw-ipv6-4in6-ipv4-tcp",
		link: capture.LinkRaw,
		b: ip6(4, ip6AtoB,
			inIP4TCP),
		want: Packet{Tuple: Tuple{Src: addrA6, Dst: addrB6, Proto: 4, Family: 6}, IPLen: 80, L4Offset: 40,
			Tunnel: TunnelIPv4, InnerLink: capture.LinkIPv4, InnerOffset: 40, InnerLen: 40},
		inner: []Packet{wantInIP4TCP(40, 0, 40)},
	},
	{
		name: "eth-ipv4-etherip-eth-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(97, ip4TtoU,
				etherIPv3,
				inEthIP4TCP)),
		want: Packet{Tuple: protoT(97), IPLen: 76, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelEtherIP, InnerLink: capture.LinkEthernet, InnerOffset: 36, InnerLen: 54},
		inner: []Packet{wantInIP4TCP(36, 14, 54)},
	},
	{
		// Four IP-in-IP levels: DecodeInner stops at depth 3
		// (DefaultMaxTunnelDepth), whose packet still counts.
		name: "raw-ipv4-ipip-4-deep",
		link: capture.LinkRaw,
		b:    nestedIPIP(4),
		want: Packet{Tuple: protoT(4), IPLen: 120, L4Offset: 20,
			Tunnel: TunnelIPv4, InnerLink: capture.LinkIPv4, InnerOffset: 20, InnerLen: 100},
		inner: []Packet{
			{Tuple: protoT(4), IPLen: 100, L4Offset: 20, CapLen: 100, FrameOffset: 20, TunnelDepth: 1,
				Tunnel: TunnelIPv4, InnerLink: capture.LinkIPv4, InnerOffset: 20, InnerLen: 80},
			{Tuple: protoT(4), IPLen: 80, L4Offset: 20, CapLen: 80, FrameOffset: 40, TunnelDepth: 2,
				Tunnel: TunnelIPv4, InnerLink: capture.LinkIPv4, InnerOffset: 20, InnerLen: 60},
			{Tuple: protoT(4), IPLen: 60, L4Offset: 20, CapLen: 60, FrameOffset: 60, TunnelDepth: 3,
				Tunnel: TunnelIPv4, TunnelReason: ReasonTunnelTooDeep, InnerLink: capture.LinkIPv4, InnerOffset: 20, InnerLen: 40},
		},
	},

	// ---- fragments of the outer packet -------------------------------------
	{
		// The first fragment of a VXLAN datagram: the tunnel is known,
		// the inner packet incomplete; the outer flow still counts.
		name: "eth-ipv4-frag-first-udp-vxlan",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4frag(17, ip4TtoU, 0x5151, 0x2000,
				// UDP 49152 -> 4789, length 1400 (the whole datagram)
				[]byte{0xc0, 0x00, 0x12, 0xb5, 0x05, 0x78, 0x00, 0x00},
				vxlanVNI123456,
				inEthIP4TCP)),
		want: Packet{Tuple: udpT(49152, 4789), IPLen: 90, L3Offset: 14, L4Offset: 34,
			IsFragment: true, MoreFragments: true, FragID: 0x5151,
			Tunnel: TunnelVXLAN, TunnelReason: ReasonTunnelFragment},
	},
	{
		// A later fragment of it carries no UDP header and so no tunnel.
		name: "eth-ipv4-frag-later-udp-vxlan",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4frag(17, ip4TtoU, 0x5151, 0x000b,
				// 16 bytes of the inner frame's tail
				make([]byte, 16))),
		want: Packet{Tuple: Tuple{Src: addrT4, Dst: addrU4, Proto: ProtoUDP, Family: 4}, IPLen: 36, L3Offset: 14,
			IsFragment: true, FragOffset: 88, FragID: 0x5151},
	},
	{
		name: "eth-ipv4-frag-first-gre",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4frag(47, ip4TtoU, 0x6161, 0x2000,
				greKeyTEB, inEthIP4TCP[:32])),
		want: Packet{Tuple: protoT(47), IPLen: 60, L3Offset: 14, L4Offset: 34,
			IsFragment: true, MoreFragments: true, FragID: 0x6161,
			Tunnel: TunnelGRE, TunnelReason: ReasonTunnelFragment},
	},

	// ---- ESP, VLANs --------------------------------------------------------
	{
		name: "eth-ipv6-destopts-esp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			ip6(60, ip6AtoB,
				// destination options: next ESP, length 0, PadN 4
				[]byte{0x32, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00},
				// ESP: SPI 0xdeadbeef, sequence 9, ciphertext
				[]byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x09, 0x11, 0x22, 0x33, 0x44})),
		want: Packet{Tuple: Tuple{Src: addrA6, Dst: addrB6, Proto: ProtoESP, Family: 6}, IPLen: 60, L3Offset: 14, L4Offset: 62,
			SPI: 0xdeadbeef},
	},
	{
		// The capture ends inside the SPI: the packet names its flow, the
		// SPI is unknown (0).
		name: "raw-ipv4-esp-cut",
		link: capture.LinkRaw,
		b: ip4(50, ip4TtoU,
			// 3 bytes of an ESP header
			[]byte{0x00, 0x00, 0x01}),
		want: Packet{Tuple: protoT(ProtoESP), IPLen: 23, L4Offset: 20},
	},
	{
		name: "sll-3-vlan-tags-ipv4-udp-vxlan",
		link: capture.LinkLinuxSLL,
		b: cat(sllPrefix, tagAD200, tagQ100, tagQ1, etIPv4,
			ip4(17, ip4TtoU,
				udp(49152, 4789,
					vxlanVNI123456,
					inEthIP4TCP))),
		want: Packet{VLAN: [3]uint16{200, 100, 1}, NumVLAN: 3, Tuple: udpT(49152, 4789), IPLen: 90, L3Offset: 28, L4Offset: 48,
			Tunnel: TunnelVXLAN, VNI: 0x123456, InnerLink: capture.LinkEthernet, InnerOffset: 64, InnerLen: 54},
		inner: []Packet{wantInIP4TCP(64, 14, 54)},
	},

	// ---- link-level encapsulations -----------------------------------------
	{
		name: "eth-mpls-2-labels-ipv4-tcp",
		link: capture.LinkEthernet,
		b:    cat(ethAddrs, etMPLS, mpls100, mpls200Bottom, inIP4TCP),
		want: Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 40, L3Offset: 22, L4Offset: 42,
			TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "eth-vlan-mpls-ipv6-explicit-null-udp",
		link: capture.LinkEthernet,
		b:    cat(ethAddrs, tagQ100, etMPLS, mplsV6NullBottom, inIP6UDP),
		want: Packet{VLAN: [3]uint16{100}, NumVLAN: 1, Tuple: udpWant(addrA6, addrB6, 6), IPLen: 53, L3Offset: 22, L4Offset: 62},
	},
	{
		// An Ethernet pseudowire: the VLAN tag inside counts on from the
		// outer one.
		name: "eth-vlan-mpls-pw-eth-vlan-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, tagQ100, etMPLS, mpls100, mpls200Bottom, pwControlWord,
			ethAddrsInner, tagAD200, etIPv4, inIP4TCP),
		want: Packet{VLAN: [3]uint16{100, 200}, NumVLAN: 2, Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 40, L3Offset: 48, L4Offset: 68,
			TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "eth-pppoe-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etPPPoE,
			pppoe(
				// PPP protocol IPv4
				[]byte{0x00, 0x21},
				inIP4TCP)),
		want: Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 40, L3Offset: 22, L4Offset: 42,
			TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "eth-vlan-pppoe-ipv6-udp-padded",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, tagQ100, etPPPoE,
			pppoe(
				// PPP protocol IPv6
				[]byte{0x00, 0x57},
				inIP6UDP),
			// Ethernet padding: not PPPoE payload
			make([]byte, 4)),
		want: Packet{VLAN: [3]uint16{100}, NumVLAN: 1, Tuple: udpWant(addrA6, addrB6, 6), IPLen: 53, L3Offset: 26, L4Offset: 66},
	},
	{
		name: "ppp-address-control-ipv4-tcp",
		link: LinkPPP,
		b:    cat(pppACIPv4, inIP4TCP),
		want: Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 40, L3Offset: 4, L4Offset: 24,
			TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "ppp-no-address-control-ipv6-udp",
		link: LinkPPP,
		b: cat(
			// PPP protocol IPv6, no address and control bytes
			[]byte{0x00, 0x57},
			inIP6UDP),
		want: Packet{Tuple: udpWant(addrA6, addrB6, 6), IPLen: 53, L3Offset: 2, L4Offset: 42},
	},
	{
		name: "ppp-compressed-protocol-ipv4-tcp",
		link: LinkPPP,
		b: cat(
			// address and control, PPP protocol IPv4 compressed to one byte
			[]byte{0xff, 0x03, 0x21},
			inIP4TCP),
		want: Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 40, L3Offset: 3, L4Offset: 23,
			TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "ppp-mpls-ipv4-tcp",
		link: LinkPPP,
		b: cat(
			// address and control, PPP protocol MPLS unicast
			[]byte{0xff, 0x03, 0x02, 0x81},
			mpls200Bottom, inIP4TCP),
		want: Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 40, L3Offset: 8, L4Offset: 28,
			TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "chdlc-ipv4-tcp",
		link: LinkCiscoHDLC,
		b: cat(
			// Cisco HDLC: unicast address 0x0f, control 0, ethertype IPv4
			[]byte{0x0f, 0x00, 0x08, 0x00},
			inIP4TCP),
		want: Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 40, L3Offset: 4, L4Offset: 24,
			TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "chdlc-mpls-ipv6-udp",
		link: LinkCiscoHDLC,
		b: cat(
			// Cisco HDLC: broadcast address 0x8f, control 0, ethertype MPLS
			[]byte{0x8f, 0x00, 0x88, 0x47},
			mpls100, mplsV6NullBottom, inIP6UDP),
		want: Packet{Tuple: udpWant(addrA6, addrB6, 6), IPLen: 53, L3Offset: 12, L4Offset: 52},
	},

	// ---- tunnels whose inner packet cannot be decoded ----------------------
	{
		name: "eth-ipv4-udp-geneve-version-1",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(50000, 6081,
					// GENEVE: version 1, no options, protocol IPv4, VNI 0
					[]byte{0x40, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00},
					inIP4TCP))),
		want: Packet{Tuple: udpT(50000, 6081), IPLen: 76, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelGeneve, TunnelReason: ReasonBadGeneve},
	},
	{
		name: "eth-ipv4-udp-geneve-option-overruns",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(50000, 6081,
					// GENEVE: options length 2 words, protocol IPv4, VNI 1
					[]byte{0x02, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00},
					// option class 0x0108 type 1 with length 2 words: 12
					// bytes in an 8-byte options area
					[]byte{0x01, 0x08, 0x01, 0x02, 0x01, 0x02, 0x03, 0x04},
					inIP4TCP))),
		want: Packet{Tuple: udpT(50000, 6081), IPLen: 84, L3Offset: 14, L4Offset: 34, VNI: 1,
			Tunnel: TunnelGeneve, TunnelReason: ReasonBadGeneve},
	},
	{
		// The snap length cut the GENEVE options: the outer flow counts,
		// the tunnel header is truncated.
		name: "eth-ipv4-udp-geneve-cut",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(50000, 6081,
					geneveGWLBIPv4, gwlbEndpoint, gwlbAttachment, gwlbCookie,
					inIP4TCP))[:60]),
		want: Packet{Tuple: udpT(50000, 6081), IPLen: 108, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelGeneve, TunnelReason: ReasonTruncated},
	},
	{
		name: "eth-ipv4-udp-geneve-arp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(50000, 6081,
					// GENEVE: no options, protocol ARP, VNI 9
					[]byte{0x00, 0x00, 0x08, 0x06, 0x00, 0x00, 0x09, 0x00},
					// ARP request
					[]byte{0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01}, make([]byte, 20)))),
		want: Packet{Tuple: udpT(50000, 6081), IPLen: 64, L3Offset: 14, L4Offset: 34, VNI: 9,
			Tunnel: TunnelGeneve, TunnelReason: ReasonNonIP},
	},
	{
		name: "eth-ipv4-udp-vxlan-no-i-flag",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(49152, 4789,
					// VXLAN without the I flag
					[]byte{0x00, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x00},
					inEthIP4TCP))),
		want: Packet{Tuple: udpT(49152, 4789), IPLen: 90, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelVXLAN, TunnelReason: ReasonBadVXLAN},
	},
	{
		name: "eth-ipv4-udp-vxlan-gbp-reserved-bits",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(49152, 4789,
					// VXLAN with the group policy flag and policy id 0x0101
					[]byte{0x88, 0x00, 0x01, 0x01, 0x12, 0x34, 0x56, 0x00},
					inEthIP4TCP))),
		want: Packet{Tuple: udpT(49152, 4789), IPLen: 90, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelVXLAN, TunnelReason: ReasonBadVXLAN},
	},
	{
		name: "eth-ipv4-udp-vxlan-inner-truncated",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(17, ip4TtoU,
				udp(49152, 4789,
					vxlanVNI123456,
					// 10 bytes of an Ethernet header
					ethAddrsInner[:10]))),
		want: Packet{Tuple: udpT(49152, 4789), IPLen: 46, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelVXLAN, VNI: 0x123456, InnerLink: capture.LinkEthernet, InnerOffset: 50, InnerLen: 10},
		inner: []Packet{{Reason: ReasonTruncated}},
	},
	{
		name: "eth-ipv4-gre-version-2",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(47, ip4TtoU,
				// GRE version 2, protocol IPv4
				[]byte{0x00, 0x02, 0x08, 0x00},
				inIP4TCP)),
		want: Packet{Tuple: protoT(47), IPLen: 64, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelGRE, TunnelReason: ReasonBadGRE},
	},
	{
		name: "eth-ipv4-gre-recursion",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(47, ip4TtoU,
				// GRE version 0 with recursion control 3, protocol IPv4
				[]byte{0x03, 0x00, 0x08, 0x00},
				inIP4TCP)),
		want: Packet{Tuple: protoT(47), IPLen: 64, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelGRE, TunnelReason: ReasonBadGRE},
	},
	{
		name: "eth-ipv4-gre-unknown-protocol",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(47, ip4TtoU,
				// GRE: no flags, protocol 0x1234
				[]byte{0x00, 0x00, 0x12, 0x34},
				make([]byte, 8))),
		want: Packet{Tuple: protoT(47), IPLen: 32, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelGRE, TunnelReason: ReasonNonIP},
	},
	{
		name: "eth-ipv4-gre-erspan2-version-2",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(47, ip4TtoU,
				greERSPAN2,
				// ERSPAN II header with version 2
				[]byte{0x20, 0x0a, 0x01, 0x55, 0x00, 0x00, 0x00, 0x00},
				inEthIP4TCP)),
		want: Packet{Tuple: protoT(47), IPLen: 90, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelERSPAN2, TunnelReason: ReasonBadERSPAN},
	},
	{
		name: "eth-ipv4-etherip-version-2",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			ip4(97, ip4TtoU,
				// EtherIP version 2
				[]byte{0x20, 0x00},
				inEthIP4TCP)),
		want: Packet{Tuple: protoT(97), IPLen: 76, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelEtherIP, TunnelReason: ReasonBadEtherIP},
	},

	// ---- frames that cannot be used ----------------------------------------
	{name: "bad-eth-mpls-implicit-null-bottom", link: capture.LinkEthernet,
		b:    cat(ethAddrs, etMPLS, mplsImplicitNullBottom, inIP4TCP),
		want: Packet{Reason: ReasonBadMPLS}},
	{name: "bad-eth-mpls-9-labels", link: capture.LinkEthernet,
		b:    cat(ethAddrs, etMPLS, mpls100, mpls100, mpls100, mpls100, mpls100, mpls100, mpls100, mpls100, mpls200Bottom, inIP4TCP),
		want: Packet{Reason: ReasonBadMPLS}},
	{name: "bad-eth-mpls-cut", link: capture.LinkEthernet,
		b:    cat(ethAddrs, etMPLS, mpls100, mpls200Bottom[:2]),
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-eth-pppoe-version-2", link: capture.LinkEthernet,
		b: cat(ethAddrs, etPPPoE,
			// PPPoE version 2, type 1, code 0, session 0x1234, length 42
			[]byte{0x21, 0x00, 0x12, 0x34, 0x00, 0x2a}, []byte{0x00, 0x21}, inIP4TCP),
		want: Packet{Reason: ReasonBadPPPoE}},
	{name: "bad-ppp-lcp", link: LinkPPP,
		b: cat(
			// address, control, protocol LCP; configure request id 1, length 4
			[]byte{0xff, 0x03, 0xc0, 0x21, 0x01, 0x01, 0x00, 0x04}),
		want: Packet{Reason: ReasonNonIP}},
	{name: "bad-chdlc-truncated", link: LinkCiscoHDLC,
		b:    []byte{0x0f, 0x00, 0x08},
		want: Packet{Reason: ReasonTruncated}},
}

func init() {
	fixtures = append(fixtures, tunnelFixtures...)
}
