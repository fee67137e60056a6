package decode

import (
	"net/netip"

	"github.com/flowd/flowd/capture"
)

// Fixtures: one frame per case, built from named header regions with a
// comment each (the style of tailscale's net/packet tests), and the Packet
// Decode must make of it. For frames that cannot be used only the Reason is
// checked (the contract guarantees nothing else); CapLen is always len(b).

// Addresses used throughout.
var (
	addrA4 = addr4(192, 0, 2, 1)    // client
	addrB4 = addr4(198, 51, 100, 2) // server
	addrR4 = addr4(203, 0, 113, 254)
	addrA6 = netip.MustParseAddr("2001:db8::1").As16()
	addrB6 = netip.MustParseAddr("2001:db8::2").As16()
	addrR6 = netip.MustParseAddr("2001:db8::ff").As16()
)

func addr4(a, b, c, d byte) (x [16]byte) {
	x[0], x[1], x[2], x[3] = a, b, c, d
	return x
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// Link-layer regions.
var (
	// Ethernet II destination and source: 02:00:00:00:00:02 <- 02:00:00:00:00:01
	ethAddrs = []byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	etIPv4   = []byte{0x08, 0x00} // ethertype IPv4
	etIPv6   = []byte{0x86, 0xdd} // ethertype IPv6
	etARP    = []byte{0x08, 0x06} // ethertype ARP
	// 802.1Q tag: TPID 0x8100, PCP 0, VID 100
	tagQ100 = []byte{0x81, 0x00, 0x00, 0x64}
	// 802.1ad service tag: TPID 0x88a8, PCP 0, VID 200
	tagAD200 = []byte{0x88, 0xa8, 0x00, 0xc8}
	// pre-standard QinQ tag: TPID 0x9100, PCP 5, DEI 0, VID 300
	tag9100v300 = []byte{0x91, 0x00, 0xa1, 0x2c}
	// 802.1Q tag: TPID 0x8100, VID 1
	tagQ1 = []byte{0x81, 0x00, 0x00, 0x01}

	// Linux cooked v1: packet type 0 (to us), ARPHRD_ETHER, address length 6,
	// address 02:00:00:00:00:01 padded to 8 bytes; the protocol follows.
	sllPrefix = []byte{0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}
	// Linux cooked v2 after the protocol: reserved, ifindex 2, ARPHRD_ETHER,
	// packet type 4 (outgoing), address length 6, address padded to 8.
	sll2Suffix = []byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x04, 0x06, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}

	nullLE2  = []byte{0x02, 0x00, 0x00, 0x00} // BSD null, AF_INET, little-endian host
	nullBE30 = []byte{0x00, 0x00, 0x00, 0x1e} // BSD null, AF_INET6 (Darwin 30), big-endian host
	nullLE28 = []byte{0x1c, 0x00, 0x00, 0x00} // BSD null, AF_INET6 (FreeBSD 28), little-endian host
	nullLE10 = []byte{0x0a, 0x00, 0x00, 0x00} // BSD null, AF_INET6 (Linux 10)
	loop2    = []byte{0x00, 0x00, 0x00, 0x02} // OpenBSD loop, AF_INET, network order
	loop24   = []byte{0x00, 0x00, 0x00, 0x18} // OpenBSD loop, AF_INET6 (24), network order
)

// Network-layer address regions.
var (
	ip4AtoB = []byte{0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02} // 192.0.2.1 -> 198.51.100.2
	ip4BtoA = []byte{0xc6, 0x33, 0x64, 0x02, 0xc0, 0x00, 0x02, 0x01} // 198.51.100.2 -> 192.0.2.1
	ip4RtoA = []byte{0xcb, 0x00, 0x71, 0xfe, 0xc0, 0x00, 0x02, 0x01} // 203.0.113.254 -> 192.0.2.1
	// 2001:db8::1 -> 2001:db8::2
	ip6AtoB = []byte{
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
	}
	// 2001:db8::2 -> 2001:db8::1
	ip6BtoA = []byte{
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	}
	// 2001:db8::ff -> 2001:db8::1
	ip6RtoA = []byte{
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	}
)

// Transport regions.
var (
	// TCP 50000 -> 80, seq 1000, ack 0, data offset 5, SYN, window 64240
	tcpSYN = []byte{0xc3, 0x50, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00}
	// TCP 50000 -> 80, seq 1001, ack 2001, data offset 5, ACK|PSH
	tcpACK = []byte{0xc3, 0x50, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe9, 0x00, 0x00, 0x07, 0xd1, 0x50, 0x18, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00}
	// UDP 12345 -> 53, length 13, then 5 bytes of payload "hello"
	udpDNS = []byte{0x30, 0x39, 0x00, 0x35, 0x00, 0x0d, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f}
	// UDP 12345 -> 53, length 8, no payload
	udpEmpty = []byte{0x30, 0x39, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00}
)

func udpWant(src, dst [16]byte, fam uint8) Tuple {
	return Tuple{Src: src, Dst: dst, SrcPort: 12345, DstPort: 53, Proto: ProtoUDP, Family: fam}
}

func tcpWant(src, dst [16]byte, fam uint8) Tuple {
	return Tuple{Src: src, Dst: dst, SrcPort: 50000, DstPort: 80, Proto: ProtoTCP, Family: fam}
}

type fixture struct {
	name string
	link capture.LinkType
	b    []byte
	want Packet // CapLen is filled in from len(b)
	// inner are the packets DecodeInner finds in the frame, level by
	// level (CapLen as written: the inner bytes).
	inner []Packet
}

var fixtures = []fixture{
	// ---- link layers -------------------------------------------------------
	{
		name: "eth-ipv4-tcp-syn",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: IHL 5, total 40, id 1, DF, TTL 64, TCP, checksum 0
			[]byte{0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB,
			tcpSYN),
		want: Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 40, L3Offset: 14, L4Offset: 34,
			TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "eth-ipv6-tcp-synack-mss",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: flow label 0, payload 24, next header TCP, hop limit 64
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x06, 0x40}, ip6BtoA,
			// TCP 80 -> 50000, seq 2000, ack 1001, data offset 6, SYN|ACK
			[]byte{0x00, 0x50, 0xc3, 0x50, 0x00, 0x00, 0x07, 0xd0, 0x00, 0x00, 0x03, 0xe9, 0x60, 0x12, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00},
			// TCP option MSS 1460
			[]byte{0x02, 0x04, 0x05, 0xb4}),
		want: Packet{Tuple: Tuple{Src: addrB6, Dst: addrA6, SrcPort: 80, DstPort: 50000, Proto: ProtoTCP, Family: 6},
			IPLen: 64, L3Offset: 14, L4Offset: 54, TCPFlags: TCPSyn | TCPAck, TCPHeaderLen: 24, TCPSeq: 2000},
	},
	{
		name: "eth-vlan-ipv4-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, tagQ100, etIPv4,
			// IPv4: total 33, id 2, TTL 64, UDP
			[]byte{0x45, 0x00, 0x00, 0x21, 0x00, 0x02, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB,
			udpDNS),
		want: Packet{VLAN: [3]uint16{100}, NumVLAN: 1, Tuple: udpWant(addrA4, addrB4, 4), IPLen: 33, L3Offset: 18, L4Offset: 38},
	},
	{
		name: "eth-qinq-ipv4-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, tagAD200, tagQ100, etIPv4,
			// IPv4: total 40, TCP
			[]byte{0x45, 0x00, 0x00, 0x28, 0x00, 0x03, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB,
			tcpACK),
		want: Packet{VLAN: [3]uint16{200, 100}, NumVLAN: 2, Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 40, L3Offset: 22, L4Offset: 42,
			TCPFlags: TCPAck | TCPPsh, TCPHeaderLen: 20, TCPSeq: 1001},
	},
	{
		name: "eth-3tags-ipv4-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, tag9100v300, tagAD200, tagQ100, etIPv4,
			// IPv4: total 33, UDP
			[]byte{0x45, 0x00, 0x00, 0x21, 0x00, 0x04, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB,
			udpDNS),
		// Three tags: all three ids are kept.
		want: Packet{VLAN: [3]uint16{300, 200, 100}, NumVLAN: 3, Tuple: udpWant(addrA4, addrB4, 4), IPLen: 33, L3Offset: 26, L4Offset: 46},
	},
	{
		name: "eth-vlan-ipv6-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, tagQ100, etIPv6,
			// IPv6: payload 8, UDP
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x11, 0x40}, ip6AtoB,
			udpEmpty),
		want: Packet{VLAN: [3]uint16{100}, NumVLAN: 1, Tuple: udpWant(addrA6, addrB6, 6), IPLen: 48, L3Offset: 18, L4Offset: 58},
	},
	{
		name: "eth-8-vlan-tags-ipv4-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, tagQ1, tagAD200, tagQ1, tagQ1, tagQ1, tagQ1, tagQ1, tagQ1, etIPv4,
			// IPv4: total 28, UDP
			[]byte{0x45, 0x00, 0x00, 0x1c, 0x00, 0x04, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB,
			udpEmpty),
		// MaxVLANTags tags: the limit itself is accepted.
		want: Packet{VLAN: [3]uint16{1, 200, 1}, NumVLAN: 3, Tuple: udpWant(addrA4, addrB4, 4), IPLen: 28, L3Offset: 46, L4Offset: 66},
	},
	{
		name: "sll-ipv4-udp",
		link: capture.LinkLinuxSLL,
		b: cat(sllPrefix, etIPv4,
			// IPv4: total 33, UDP
			[]byte{0x45, 0x00, 0x00, 0x21, 0x00, 0x05, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB,
			udpDNS),
		want: Packet{Tuple: udpWant(addrA4, addrB4, 4), IPLen: 33, L3Offset: 16, L4Offset: 36},
	},
	{
		name: "sll-vlan-ipv4-udp",
		link: capture.LinkLinuxSLL,
		b: cat(sllPrefix, tagQ100, etIPv4,
			// IPv4: total 33, UDP
			[]byte{0x45, 0x00, 0x00, 0x21, 0x00, 0x05, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB,
			udpDNS),
		want: Packet{VLAN: [3]uint16{100}, NumVLAN: 1, Tuple: udpWant(addrA4, addrB4, 4), IPLen: 33, L3Offset: 20, L4Offset: 40},
	},
	{
		name: "sll2-ipv6-udp",
		link: capture.LinkLinuxSLL2,
		b: cat(etIPv6, sll2Suffix,
			// IPv6: payload 13, UDP
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x11, 0x40}, ip6AtoB,
			udpDNS),
		want: Packet{Tuple: udpWant(addrA6, addrB6, 6), IPLen: 53, L3Offset: 20, L4Offset: 60},
	},
	{
		name: "raw-ipv4-icmp-echo-request",
		link: capture.LinkRaw,
		b: cat(
			// IPv4: total 32, ICMP
			[]byte{0x45, 0x00, 0x00, 0x20, 0x00, 0x06, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00}, ip4AtoB,
			// ICMP echo request, id 0x1234, seq 1
			[]byte{0x08, 0x00, 0x00, 0x00, 0x12, 0x34, 0x00, 0x01},
			// echo data
			[]byte{0xde, 0xad, 0xbe, 0xef}),
		want: Packet{Tuple: Tuple{Src: addrA4, Dst: addrB4, Proto: ProtoICMP, Family: 4}, IPLen: 32, L4Offset: 20,
			ICMPType: 8, IsICMPEcho: true, ICMPEchoID: 0x1234},
	},
	{
		name: "raw-ipv6-icmpv6-echo-reply",
		link: capture.LinkRaw,
		b: cat(
			// IPv6: payload 8, ICMPv6
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x3a, 0x40}, ip6BtoA,
			// ICMPv6 echo reply, id 0xabcd, seq 7
			[]byte{0x81, 0x00, 0x00, 0x00, 0xab, 0xcd, 0x00, 0x07}),
		want: Packet{Tuple: Tuple{Src: addrB6, Dst: addrA6, Proto: ProtoICMPv6, Family: 6}, IPLen: 48, L4Offset: 40,
			ICMPType: 129, IsICMPEcho: true, ICMPEchoID: 0xabcd},
	},
	{
		name: "linktype-ipv4-tcp",
		link: capture.LinkIPv4,
		b: cat(
			// IPv4: total 40, TCP
			[]byte{0x45, 0x00, 0x00, 0x28, 0x00, 0x07, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB,
			tcpSYN),
		want: Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 40, L4Offset: 20, TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "linktype-ipv6-udp",
		link: capture.LinkIPv6,
		b: cat(
			// IPv6: payload 8, UDP
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x11, 0x40}, ip6AtoB,
			udpEmpty),
		want: Packet{Tuple: udpWant(addrA6, addrB6, 6), IPLen: 48, L4Offset: 40},
	},
	{
		name: "null-le-ipv4-udp",
		link: capture.LinkNull,
		b: cat(nullLE2,
			// IPv4: total 28, UDP
			[]byte{0x45, 0x00, 0x00, 0x1c, 0x00, 0x08, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB,
			udpEmpty),
		want: Packet{Tuple: udpWant(addrA4, addrB4, 4), IPLen: 28, L3Offset: 4, L4Offset: 24},
	},
	{
		name: "null-be-darwin-ipv6-tcp",
		link: capture.LinkNull,
		b: cat(nullBE30,
			// IPv6: payload 20, TCP
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x40}, ip6AtoB,
			tcpSYN),
		want: Packet{Tuple: tcpWant(addrA6, addrB6, 6), IPLen: 60, L3Offset: 4, L4Offset: 44, TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "null-le-freebsd-ipv6-udp",
		link: capture.LinkNull,
		b: cat(nullLE28,
			// IPv6: payload 8, UDP
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x11, 0x40}, ip6AtoB,
			udpEmpty),
		want: Packet{Tuple: udpWant(addrA6, addrB6, 6), IPLen: 48, L3Offset: 4, L4Offset: 44},
	},
	{
		name: "null-le-linux-ipv6-udp",
		link: capture.LinkNull,
		b: cat(nullLE10,
			// IPv6: payload 8, UDP
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x11, 0x40}, ip6AtoB,
			udpEmpty),
		want: Packet{Tuple: udpWant(addrA6, addrB6, 6), IPLen: 48, L3Offset: 4, L4Offset: 44},
	},
	{
		name: "loop-ipv4-tcp",
		link: capture.LinkLoop,
		b: cat(loop2,
			// IPv4: total 40, TCP
			[]byte{0x45, 0x00, 0x00, 0x28, 0x00, 0x09, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB,
			tcpSYN),
		want: Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 40, L3Offset: 4, L4Offset: 24, TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "loop-ipv6-udp",
		link: capture.LinkLoop,
		b: cat(loop24,
			// IPv6: payload 8, UDP
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x11, 0x40}, ip6AtoB,
			udpEmpty),
		want: Packet{Tuple: udpWant(addrA6, addrB6, 6), IPLen: 48, L3Offset: 4, L4Offset: 44},
	},

	// ---- IPv4 --------------------------------------------------------------
	{
		name: "eth-ipv4-options-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: IHL 8 (32 bytes), total 52, TCP
			[]byte{0x48, 0x00, 0x00, 0x34, 0x00, 0x0a, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB,
			// options: router alert; 4 x NOP; record route (length 3, no room); end of list
			[]byte{0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x01, 0x07, 0x03, 0x04, 0x00},
			tcpSYN),
		want: Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 52, L3Offset: 14, L4Offset: 46, TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "eth-ipv4-udp-padded",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: total 28, UDP
			[]byte{0x45, 0x00, 0x00, 0x1c, 0x00, 0x0b, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB,
			udpEmpty,
			// Ethernet padding to the 60-byte minimum
			make([]byte, 18)),
		want: Packet{Tuple: udpWant(addrA4, addrB4, 4), IPLen: 28, L3Offset: 14, L4Offset: 34},
	},
	{
		name: "eth-ipv4-tcp-cut-in-options",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: total 152, TCP
			[]byte{0x45, 0x00, 0x00, 0x98, 0x00, 0x0c, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB,
			// TCP: the first 14 bytes (through the flags) of a 32-byte header,
			// data offset 8, ACK; the snap length cut the rest
			[]byte{0xc3, 0x50, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe9, 0x00, 0x00, 0x07, 0xd1, 0x80, 0x10}),
		want: Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 152, L3Offset: 14, L4Offset: 34, TCPFlags: TCPAck, TCPHeaderLen: 32, TCPSeq: 1001},
	},
	{
		name: "eth-ipv4-tso-zero-total-length",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: total length 0 (segmentation offload), TCP
			[]byte{0x45, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB,
			tcpACK,
			// 20 bytes of TCP payload
			make([]byte, 20)),
		want: Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 60, L3Offset: 14, L4Offset: 34, TCPFlags: TCPAck | TCPPsh, TCPHeaderLen: 20, TCPSeq: 1001},
	},
	{
		name: "eth-ipv4-frag-first-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: total 36, id 0xabcd, MF, offset 0, UDP
			[]byte{0x45, 0x00, 0x00, 0x24, 0xab, 0xcd, 0x20, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB,
			// UDP 5000 -> 5001, length 1500 (the whole datagram)
			[]byte{0x13, 0x88, 0x13, 0x89, 0x05, 0xdc, 0x00, 0x00},
			// first 8 bytes of UDP payload
			make([]byte, 8)),
		want: Packet{Tuple: Tuple{Src: addrA4, Dst: addrB4, SrcPort: 5000, DstPort: 5001, Proto: ProtoUDP, Family: 4},
			IPLen: 36, L3Offset: 14, L4Offset: 34, IsFragment: true, MoreFragments: true, FragID: 0xabcd},
	},
	{
		name: "eth-ipv4-frag-later",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: total 28, id 0xabcd, offset 185 (1480 bytes), last fragment, UDP
			[]byte{0x45, 0x00, 0x00, 0x1c, 0xab, 0xcd, 0x00, 0xb9, 0x40, 0x11, 0x00, 0x00}, ip4AtoB,
			// 8 bytes of fragment data
			[]byte{1, 2, 3, 4, 5, 6, 7, 8},
			// Ethernet padding
			make([]byte, 18)),
		want: Packet{Tuple: Tuple{Src: addrA4, Dst: addrB4, Proto: ProtoUDP, Family: 4},
			IPLen: 28, L3Offset: 14, IsFragment: true, FragOffset: 1480, FragID: 0xabcd},
	},
	{
		name: "linktype-ipv4-frag-first-tiny-tcp",
		link: capture.LinkIPv4,
		b: cat(
			// IPv4: total 28, id 7, MF, offset 0, TCP
			[]byte{0x45, 0x00, 0x00, 0x1c, 0x00, 0x07, 0x20, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB,
			// the first 8 bytes of a TCP header: ports and sequence number
			[]byte{0xc3, 0x50, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8}),
		// The ports name the flow; flags and header length are in the next fragment.
		want: Packet{Tuple: tcpWant(addrA4, addrB4, 4), IPLen: 28, L4Offset: 20, IsFragment: true, MoreFragments: true, FragID: 7},
	},
	{
		name: "eth-ipv4-sctp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: total 36, SCTP
			[]byte{0x45, 0x00, 0x00, 0x24, 0x00, 0x0e, 0x40, 0x00, 0x40, 0x84, 0x00, 0x00}, ip4AtoB,
			// SCTP common header: 2905 -> 3868, verification tag, checksum
			[]byte{0x0b, 0x59, 0x0f, 0x1c, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00},
			// COOKIE ACK chunk
			[]byte{0x0b, 0x00, 0x00, 0x04}),
		want: Packet{Tuple: Tuple{Src: addrA4, Dst: addrB4, SrcPort: 2905, DstPort: 3868, Proto: ProtoSCTP, Family: 4},
			IPLen: 36, L3Offset: 14, L4Offset: 34},
	},
	{
		name: "eth-ipv4-gre",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: total 28, GRE (47)
			[]byte{0x45, 0x00, 0x00, 0x1c, 0x00, 0x0f, 0x40, 0x00, 0x40, 0x2f, 0x00, 0x00}, ip4AtoB,
			// GRE: no flags, protocol IPv4, then the start of a tunnelled packet
			[]byte{0x00, 0x00, 0x08, 0x00, 0x45, 0x00, 0x00, 0x14}),
		// A GRE tunnel whose inner packet is cut short.
		want: Packet{Tuple: Tuple{Src: addrA4, Dst: addrB4, Proto: 47, Family: 4}, IPLen: 28, L3Offset: 14, L4Offset: 34,
			Tunnel: TunnelGRE, InnerLink: capture.LinkIPv4, InnerOffset: 38, InnerLen: 4},
		inner: []Packet{{Reason: ReasonTruncated}},
	},
	{
		name: "eth-ipv4-esp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: total 36, ESP (50)
			[]byte{0x45, 0x00, 0x00, 0x24, 0x00, 0x10, 0x40, 0x00, 0x40, 0x32, 0x00, 0x00}, ip4AtoB,
			// ESP: SPI 0x100, sequence 1, 8 bytes of ciphertext
			[]byte{0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8}),
		want: Packet{Tuple: Tuple{Src: addrA4, Dst: addrB4, Proto: 50, Family: 4}, IPLen: 36, L3Offset: 14, L4Offset: 34, SPI: 0x100},
	},

	// ---- IPv6 extension headers and fragments ------------------------------
	{
		name: "eth-ipv6-hopbyhop-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload 21, next header hop-by-hop
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x15, 0x00, 0x01}, ip6AtoB,
			// hop-by-hop: next UDP, length 0 (8 bytes), router alert (MLD), PadN 0
			[]byte{0x11, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00},
			udpDNS),
		want: Packet{Tuple: udpWant(addrA6, addrB6, 6), IPLen: 61, L3Offset: 14, L4Offset: 62},
	},
	{
		name: "eth-ipv6-routing-srh-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload 44, next header routing
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x2b, 0x40}, ip6AtoB,
			// routing: next TCP, length 2 (24 bytes), type 4 (segment routing),
			// segments left 0, last entry 0, flags 0, tag 0
			[]byte{0x06, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00},
			// segment list[0]: 2001:db8::2
			ip6AtoB[16:],
			tcpSYN),
		want: Packet{Tuple: tcpWant(addrA6, addrB6, 6), IPLen: 84, L3Offset: 14, L4Offset: 78, TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "eth-ipv6-destopts-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload 21, next header destination options
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x15, 0x3c, 0x40}, ip6AtoB,
			// destination options: next UDP, length 0, PadN 4
			[]byte{0x11, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00},
			udpDNS),
		want: Packet{Tuple: udpWant(addrA6, addrB6, 6), IPLen: 61, L3Offset: 14, L4Offset: 62},
	},
	{
		name: "eth-ipv6-ah-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload 44, next header AH
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x33, 0x40}, ip6AtoB,
			// AH: next TCP, payload length 4 ((4+2)*4 = 24 bytes), reserved,
			// SPI 0x100, sequence 1
			[]byte{0x06, 0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01},
			// AH integrity check value, 12 bytes
			[]byte{0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc},
			tcpSYN),
		want: Packet{Tuple: tcpWant(addrA6, addrB6, 6), IPLen: 84, L3Offset: 14, L4Offset: 78, TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000},
	},
	{
		name: "eth-ipv6-esp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload 16, next header ESP
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x32, 0x40}, ip6AtoB,
			// ESP: SPI 0x100, sequence 1, 8 bytes of ciphertext
			[]byte{0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8}),
		want: Packet{Tuple: Tuple{Src: addrA6, Dst: addrB6, Proto: 50, Family: 6}, IPLen: 56, L3Offset: 14, L4Offset: 54, SPI: 0x100},
	},
	{
		name: "eth-ipv6-no-next-header-padded",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload 0, no next header (59)
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3b, 0x40}, ip6AtoB,
			// Ethernet padding to 60 bytes: not payload
			make([]byte, 6)),
		want: Packet{Tuple: Tuple{Src: addrA6, Dst: addrB6, Proto: 59, Family: 6}, IPLen: 40, L3Offset: 14, L4Offset: 54},
	},
	{
		name: "eth-ipv6-tso-zero-payload-length",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload length 0 (segmentation offload), TCP
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x40}, ip6AtoB,
			tcpACK,
			// 20 bytes of TCP payload
			make([]byte, 20)),
		want: Packet{Tuple: tcpWant(addrA6, addrB6, 6), IPLen: 80, L3Offset: 14, L4Offset: 54, TCPFlags: TCPAck | TCPPsh, TCPHeaderLen: 20, TCPSeq: 1001},
	},
	{
		name: "eth-ipv6-frag-first-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload 24, next header fragment
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x2c, 0x40}, ip6AtoB,
			// fragment: next UDP, offset 0, M, id 0xcafe
			[]byte{0x11, 0x00, 0x00, 0x01, 0x00, 0x00, 0xca, 0xfe},
			// UDP 5000 -> 5001, length 3000
			[]byte{0x13, 0x88, 0x13, 0x89, 0x0b, 0xb8, 0x00, 0x00},
			// first 8 bytes of UDP payload
			make([]byte, 8)),
		want: Packet{Tuple: Tuple{Src: addrA6, Dst: addrB6, SrcPort: 5000, DstPort: 5001, Proto: ProtoUDP, Family: 6},
			IPLen: 64, L3Offset: 14, L4Offset: 62, IsFragment: true, MoreFragments: true, FragID: 0xcafe},
	},
	{
		name: "eth-ipv6-frag-later",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload 16, next header fragment
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x2c, 0x40}, ip6AtoB,
			// fragment: next UDP, offset 181 (1448 bytes), last, id 0xcafe
			[]byte{0x11, 0x00, 0x05, 0xa8, 0x00, 0x00, 0xca, 0xfe},
			// 8 bytes of fragment data
			[]byte{1, 2, 3, 4, 5, 6, 7, 8}),
		want: Packet{Tuple: Tuple{Src: addrA6, Dst: addrB6, Proto: ProtoUDP, Family: 6},
			IPLen: 56, L3Offset: 14, IsFragment: true, FragOffset: 1448, FragID: 0xcafe},
	},
	{
		name: "eth-ipv6-atomic-fragment-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload 16, next header fragment
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x2c, 0x40}, ip6AtoB,
			// fragment: next UDP, offset 0, no M, id 1 (RFC 6946 atomic fragment)
			[]byte{0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01},
			udpEmpty),
		want: Packet{Tuple: udpWant(addrA6, addrB6, 6), IPLen: 56, L3Offset: 14, L4Offset: 62},
	},
	{
		name: "eth-ipv6-full-chain-frag-first-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload 68, next header hop-by-hop
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x44, 0x00, 0x40}, ip6AtoB,
			// hop-by-hop: next destination options, length 0, PadN 4
			[]byte{0x3c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00},
			// destination options: next routing, length 0, PadN 4
			[]byte{0x2b, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00},
			// routing: next fragment, length 2, type 4, segments left 0
			[]byte{0x2c, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00},
			// segment list[0]
			ip6AtoB[16:],
			// fragment: next TCP, offset 0, M, id 0x12345678
			[]byte{0x06, 0x00, 0x00, 0x01, 0x12, 0x34, 0x56, 0x78},
			tcpSYN),
		want: Packet{Tuple: tcpWant(addrA6, addrB6, 6), IPLen: 108, L3Offset: 14, L4Offset: 102, TCPFlags: TCPSyn, TCPHeaderLen: 20, TCPSeq: 1000,
			IsFragment: true, MoreFragments: true, FragID: 0x12345678},
	},

	// ---- ICMP --------------------------------------------------------------
	{
		name: "eth-ipv4-icmp-echo-reply",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: total 28, ICMP
			[]byte{0x45, 0x00, 0x00, 0x1c, 0x00, 0x11, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00}, ip4BtoA,
			// ICMP echo reply, id 0x42, seq 9
			[]byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x42, 0x00, 0x09},
			// Ethernet padding
			make([]byte, 18)),
		want: Packet{Tuple: Tuple{Src: addrB4, Dst: addrA4, Proto: ProtoICMP, Family: 4}, IPLen: 28, L3Offset: 14, L4Offset: 34,
			IsICMPEcho: true, ICMPEchoID: 0x42},
	},
	{
		name: "eth-ipv4-icmp-port-unreachable-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: total 56, ICMP, from the server back to the client
			[]byte{0x45, 0x00, 0x00, 0x38, 0x00, 0x12, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00}, ip4BtoA,
			// ICMP destination unreachable, port unreachable, unused
			[]byte{0x03, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			// quoted IPv4: total 33, UDP, client -> server
			[]byte{0x45, 0x00, 0x00, 0x21, 0x00, 0x02, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB,
			// quoted UDP header
			udpDNS[:8]),
		want: Packet{Tuple: Tuple{Src: addrB4, Dst: addrA4, Proto: ProtoICMP, Family: 4}, IPLen: 56, L3Offset: 14, L4Offset: 34,
			ICMPType: 3, ICMPCode: 3, IsICMPError: true, Inner: udpWant(addrA4, addrB4, 4)},
	},
	{
		name: "eth-ipv4-icmp-ttl-exceeded-tcp-quoted-options",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: total 60, ICMP, from a router to the client
			[]byte{0x45, 0xc0, 0x00, 0x3c, 0x00, 0x13, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00}, ip4RtoA,
			// ICMP time exceeded in transit, unused
			[]byte{0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			// quoted IPv4: IHL 6, total 60, TTL 1, TCP, client -> server
			[]byte{0x46, 0x00, 0x00, 0x3c, 0x00, 0x01, 0x40, 0x00, 0x01, 0x06, 0x00, 0x00}, ip4AtoB,
			// quoted IPv4 options: 3 x NOP, end of list
			[]byte{0x01, 0x01, 0x01, 0x00},
			// the first 8 bytes of the quoted TCP header
			tcpSYN[:8]),
		want: Packet{Tuple: Tuple{Src: addrR4, Dst: addrA4, Proto: ProtoICMP, Family: 4}, IPLen: 60, L3Offset: 14, L4Offset: 34,
			ICMPType: 11, IsICMPError: true, Inner: tcpWant(addrA4, addrB4, 4)},
	},
	{
		name: "eth-ipv4-icmp-unreachable-quoted-echo",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: total 56, ICMP, router -> client
			[]byte{0x45, 0x00, 0x00, 0x38, 0x00, 0x14, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00}, ip4RtoA,
			// ICMP destination unreachable, host unreachable
			[]byte{0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			// quoted IPv4: total 28, ICMP, client -> server
			[]byte{0x45, 0x00, 0x00, 0x1c, 0x00, 0x06, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00}, ip4AtoB,
			// quoted ICMP echo request
			[]byte{0x08, 0x00, 0x00, 0x00, 0x12, 0x34, 0x00, 0x01}),
		want: Packet{Tuple: Tuple{Src: addrR4, Dst: addrA4, Proto: ProtoICMP, Family: 4}, IPLen: 56, L3Offset: 14, L4Offset: 34,
			ICMPType: 3, ICMPCode: 1, IsICMPError: true, Inner: Tuple{Src: addrA4, Dst: addrB4, SrcPort: 8, Proto: ProtoICMP, Family: 4}},
	},
	{
		name: "eth-ipv4-icmp-frag-needed-quoted-first-fragment",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv4,
			// IPv4: total 56, ICMP, router -> client
			[]byte{0x45, 0x00, 0x00, 0x38, 0x00, 0x15, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00}, ip4RtoA,
			// ICMP destination unreachable, fragmentation needed, MTU 1400
			[]byte{0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x05, 0x78},
			// quoted IPv4: total 1500, MF, offset 0, UDP, client -> server
			[]byte{0x45, 0x00, 0x05, 0xdc, 0xab, 0xcd, 0x20, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB,
			// quoted UDP header
			udpDNS[:8]),
		want: Packet{Tuple: Tuple{Src: addrR4, Dst: addrA4, Proto: ProtoICMP, Family: 4}, IPLen: 56, L3Offset: 14, L4Offset: 34,
			ICMPType: 3, ICMPCode: 4, IsICMPError: true, Inner: udpWant(addrA4, addrB4, 4)},
	},
	{
		name: "eth-ipv6-icmpv6-port-unreachable-udp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload 60, ICMPv6, router -> client
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x3c, 0x3a, 0x40}, ip6RtoA,
			// ICMPv6 destination unreachable, port unreachable, unused
			[]byte{0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			// quoted IPv6: payload 13, UDP, client -> server
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x11, 0x40}, ip6AtoB,
			// quoted UDP header and 4 bytes of its payload
			udpDNS[:12]),
		want: Packet{Tuple: Tuple{Src: addrR6, Dst: addrA6, Proto: ProtoICMPv6, Family: 6}, IPLen: 100, L3Offset: 14, L4Offset: 54,
			ICMPType: 1, ICMPCode: 4, IsICMPError: true, Inner: udpWant(addrA6, addrB6, 6)},
	},
	{
		name: "eth-ipv6-icmpv6-time-exceeded-quoted-destopts-tcp",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload 64, ICMPv6, router -> client
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x40, 0x3a, 0x40}, ip6RtoA,
			// ICMPv6 time exceeded, hop limit, unused
			[]byte{0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			// quoted IPv6: payload 28, destination options, hop limit 1
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x1c, 0x3c, 0x01}, ip6AtoB,
			// quoted destination options: next TCP, length 0, PadN 4
			[]byte{0x06, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00},
			// the first 8 bytes of the quoted TCP header
			tcpSYN[:8]),
		want: Packet{Tuple: Tuple{Src: addrR6, Dst: addrA6, Proto: ProtoICMPv6, Family: 6}, IPLen: 104, L3Offset: 14, L4Offset: 54,
			ICMPType: 3, IsICMPError: true, Inner: tcpWant(addrA6, addrB6, 6)},
	},
	{
		name: "raw-ipv6-icmpv6-packet-too-big-tcp",
		link: capture.LinkRaw,
		b: cat(
			// IPv6: payload 68, ICMPv6, router -> client
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x44, 0x3a, 0x40}, ip6RtoA,
			// ICMPv6 packet too big, MTU 1280
			[]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00},
			// quoted IPv6: payload 1400, TCP
			[]byte{0x60, 0x00, 0x00, 0x00, 0x05, 0x78, 0x06, 0x40}, ip6AtoB,
			// quoted TCP header
			tcpACK),
		want: Packet{Tuple: Tuple{Src: addrR6, Dst: addrA6, Proto: ProtoICMPv6, Family: 6}, IPLen: 108, L4Offset: 40,
			ICMPType: 2, IsICMPError: true, Inner: tcpWant(addrA6, addrB6, 6)},
	},
	{
		name: "eth-ipv6-icmpv6-neighbor-solicitation",
		link: capture.LinkEthernet,
		b: cat(ethAddrs, etIPv6,
			// IPv6: payload 24, ICMPv6, hop limit 255
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x3a, 0xff}, ip6AtoB,
			// ICMPv6 neighbor solicitation, reserved
			[]byte{0x87, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			// target address
			ip6AtoB[16:]),
		want: Packet{Tuple: Tuple{Src: addrA6, Dst: addrB6, Proto: ProtoICMPv6, Family: 6}, IPLen: 64, L3Offset: 14, L4Offset: 54,
			ICMPType: 135},
	},

	// ---- frames that cannot be used ----------------------------------------
	{name: "bad-eth-truncated", link: capture.LinkEthernet,
		b:    ethAddrs[:10],
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-eth-arp", link: capture.LinkEthernet,
		b: cat(ethAddrs, etARP,
			// ARP request: Ethernet/IPv4, who-has 198.51.100.2
			[]byte{0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01}, ethAddrs[6:], ip4AtoB[:4], make([]byte, 6), ip4AtoB[4:]),
		want: Packet{Reason: ReasonNonIP}},
	{name: "bad-eth-8023-llc-stp", link: capture.LinkEthernet,
		b: cat(ethAddrs,
			// 802.3 length 38
			[]byte{0x00, 0x26},
			// LLC: DSAP/SSAP 0x42 (STP), UI; then BPDU bytes
			[]byte{0x42, 0x42, 0x03, 0x00, 0x00, 0x00, 0x00}),
		want: Packet{Reason: ReasonNonIP}},
	{name: "bad-eth-vlan-cut", link: capture.LinkEthernet,
		b:    cat(ethAddrs, tagQ100[:3]),
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-eth-vlan-arp", link: capture.LinkEthernet,
		b:    cat(ethAddrs, tagQ100, etARP, make([]byte, 28)),
		want: Packet{Reason: ReasonNonIP}},
	{name: "bad-eth-9-vlan-tags", link: capture.LinkEthernet,
		b: cat(ethAddrs, tagQ1, tagQ1, tagQ1, tagQ1, tagQ1, tagQ1, tagQ1, tagQ1, tagQ1, etIPv4,
			[]byte{0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB, udpEmpty),
		want: Packet{Reason: ReasonTooManyVLANs}},
	{name: "bad-sll-truncated", link: capture.LinkLinuxSLL,
		b:    sllPrefix[:14],
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-sll2-arp", link: capture.LinkLinuxSLL2,
		b:    cat(etARP, sll2Suffix, make([]byte, 28)),
		want: Packet{Reason: ReasonNonIP}},
	{name: "bad-sll2-truncated", link: capture.LinkLinuxSLL2,
		b:    cat(etIPv4, sll2Suffix[:10]),
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-link-80211", link: 105,
		b:    make([]byte, 64),
		want: Packet{Reason: ReasonUnsupportedLink}},
	{name: "bad-raw-empty", link: capture.LinkRaw,
		b:    nil,
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-raw-version-5", link: capture.LinkRaw,
		b:    cat([]byte{0x55, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB, udpEmpty),
		want: Packet{Reason: ReasonBadIPVersion}},
	{name: "bad-eth-ipv4-ethertype-version-6", link: capture.LinkEthernet,
		b:    cat(ethAddrs, etIPv4, []byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x11, 0x40}, ip6AtoB, udpEmpty),
		want: Packet{Reason: ReasonBadIPVersion}},
	{name: "bad-linktype-ipv6-carrying-ipv4", link: capture.LinkIPv6,
		b:    cat([]byte{0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB, udpEmpty, make([]byte, 12)),
		want: Packet{Reason: ReasonBadIPVersion}},
	{name: "bad-null-family-7", link: capture.LinkNull,
		b:    cat([]byte{0x07, 0x00, 0x00, 0x00}, make([]byte, 28)),
		want: Packet{Reason: ReasonNonIP}},
	{name: "bad-null-truncated", link: capture.LinkNull,
		b:    nullLE2[:3],
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-ipv4-short-header", link: capture.LinkIPv4,
		b:    []byte{0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0x00, 0x02},
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-ipv4-ihl-4", link: capture.LinkIPv4,
		b:    cat([]byte{0x44, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB, udpEmpty),
		want: Packet{Reason: ReasonBadIPHeaderLen}},
	{name: "bad-ipv4-total-below-ihl", link: capture.LinkIPv4,
		// IHL 6 (24 bytes) but total length 20
		b:    cat([]byte{0x46, 0x00, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB, []byte{1, 1, 1, 0}, udpEmpty),
		want: Packet{Reason: ReasonBadIPTotalLen}},
	{name: "bad-ipv4-options-cut", link: capture.LinkIPv4,
		// IHL 15 (60 bytes), total 80, only 28 bytes captured
		b:    cat([]byte{0x4f, 0x00, 0x00, 0x50, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB, []byte{1, 1, 1, 1, 1, 1, 1, 1}),
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-tcp-cut-at-10-bytes", link: capture.LinkIPv4,
		// total 40, TCP, snap length cut the TCP header after 10 bytes
		b:    cat([]byte{0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB, tcpSYN[:10]),
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-tcp-data-offset-4", link: capture.LinkIPv4,
		b: cat([]byte{0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB,
			// TCP with data offset 4
			[]byte{0xc3, 0x50, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x40, 0x02, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00}),
		want: Packet{Reason: ReasonBadTCPHeaderLen}},
	{name: "bad-tcp-data-offset-beyond-datagram", link: capture.LinkIPv4,
		b: cat([]byte{0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB,
			// TCP with data offset 15 (60 bytes) in a 20-byte segment
			[]byte{0xc3, 0x50, 0x00, 0x50, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x02, 0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00}),
		want: Packet{Reason: ReasonBadTCPHeaderLen}},
	{name: "bad-tcp-datagram-too-short", link: capture.LinkEthernet,
		// total 30: 10 bytes of TCP, the rest of the frame is padding
		b: cat(ethAddrs, etIPv4, []byte{0x45, 0x00, 0x00, 0x1e, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB,
			tcpSYN[:10], make([]byte, 16)),
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-udp-cut-at-2-bytes", link: capture.LinkIPv4,
		b:    cat([]byte{0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}, ip4AtoB, udpEmpty[:2]),
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-ipv6-short-header", link: capture.LinkIPv6,
		b:    cat([]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x11, 0x40}, ip6AtoB[:22]),
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-ipv6-ext-beyond-payload", link: capture.LinkIPv6,
		b: cat([]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x40}, ip6AtoB,
			// hop-by-hop, length 1 (16 bytes) in an 8-byte payload
			[]byte{0x11, 0x01, 0x01, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, udpEmpty),
		want: Packet{Reason: ReasonBadExtHeader}},
	{name: "bad-ipv6-ext-cut", link: capture.LinkIPv6,
		b: cat([]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x18, 0x00, 0x40}, ip6AtoB,
			// hop-by-hop, length 1 (16 bytes); the capture ends after 10
			[]byte{0x11, 0x01, 0x01, 0x0c, 0, 0, 0, 0, 0, 0}),
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-ipv6-9-ext-headers", link: capture.LinkIPv6,
		b: cat([]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x50, 0x3c, 0x40}, ip6AtoB,
			// nine destination options headers, then UDP
			bytes9DestOpts(), udpEmpty),
		want: Packet{Reason: ReasonBadExtHeader}},
	{name: "bad-ipv6-ah-too-short", link: capture.LinkIPv6,
		b: cat([]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x33, 0x40}, ip6AtoB,
			// AH with payload length 0: 8 bytes, below the 12-byte fixed part
			[]byte{0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00}, udpEmpty),
		want: Packet{Reason: ReasonBadExtHeader}},
	{name: "bad-ipv6-frag-header-cut", link: capture.LinkIPv6,
		b:    cat([]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x2c, 0x40}, ip6AtoB, []byte{0x11, 0x00, 0x00, 0x01, 0x00}),
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-icmp4-error-quote-cut", link: capture.LinkIPv4,
		b: cat([]byte{0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00}, ip4RtoA,
			[]byte{0x03, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			// 12 bytes of the quoted IPv4 header
			[]byte{0x45, 0x00, 0x00, 0x21, 0x00, 0x02, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00}),
		want: Packet{Reason: ReasonBadICMPError}},
	{name: "bad-icmp4-error-quote-without-ports", link: capture.LinkIPv4,
		b: cat([]byte{0x45, 0x00, 0x00, 0x32, 0x00, 0x01, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00}, ip4RtoA,
			[]byte{0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			// quoted IPv4 TCP header, then only 2 bytes of TCP
			[]byte{0x45, 0x00, 0x00, 0x28, 0x00, 0x01, 0x40, 0x00, 0x01, 0x06, 0x00, 0x00}, ip4AtoB, tcpSYN[:2]),
		want: Packet{Reason: ReasonBadICMPError}},
	{name: "bad-icmp4-error-quote-later-fragment", link: capture.LinkIPv4,
		b: cat([]byte{0x45, 0x00, 0x00, 0x38, 0x00, 0x01, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00}, ip4RtoA,
			[]byte{0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			// quoted IPv4: offset 185, UDP; its first 8 bytes are data, not ports
			[]byte{0x45, 0x00, 0x00, 0x1c, 0xab, 0xcd, 0x00, 0xb9, 0x01, 0x11, 0x00, 0x00}, ip4AtoB, make([]byte, 8)),
		want: Packet{Reason: ReasonBadICMPError}},
	{name: "bad-icmp4-error-quote-ipv6", link: capture.LinkIPv4,
		b: cat([]byte{0x45, 0x00, 0x00, 0x4c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00}, ip4RtoA,
			[]byte{0x03, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x11, 0x40}, ip6AtoB, udpEmpty),
		want: Packet{Reason: ReasonBadICMPError}},
	{name: "bad-icmp6-error-quote-ext-cut", link: capture.LinkIPv6,
		b: cat([]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x34, 0x3a, 0x40}, ip6RtoA,
			[]byte{0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
			// quoted IPv6 whose destination options header is cut after 4 bytes
			[]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x3c, 0x40}, ip6AtoB, []byte{0x11, 0x00, 0x01, 0x04}),
		want: Packet{Reason: ReasonBadICMPError}},
	{name: "bad-icmp6-error-no-quote", link: capture.LinkIPv6,
		b: cat([]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x06, 0x3a, 0x40}, ip6RtoA,
			[]byte{0x01, 0x04, 0x00, 0x00, 0x00, 0x00}),
		want: Packet{Reason: ReasonBadICMPError}},
	{name: "bad-icmp4-header-cut", link: capture.LinkIPv4,
		b: cat([]byte{0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00}, ip4AtoB,
			[]byte{0x08, 0x00, 0x00, 0x00, 0x12, 0x34}),
		want: Packet{Reason: ReasonTruncated}},
	{name: "bad-icmp6-echo-cut", link: capture.LinkIPv6,
		b: cat([]byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x3a, 0x40}, ip6AtoB,
			[]byte{0x80, 0x00, 0x00, 0x00, 0x12, 0x34}),
		want: Packet{Reason: ReasonTruncated}},
}

// bytes9DestOpts is a chain of nine 8-byte destination options headers, the
// last pointing at UDP: one more than MaxExtHeaders.
func bytes9DestOpts() []byte {
	var b []byte
	for i := range 9 {
		next := byte(0x3c)
		if i == 8 {
			next = 0x11
		}
		// destination options: next header, length 0, PadN 4
		b = append(b, next, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00)
	}
	return b
}
