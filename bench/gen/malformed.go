package gen

import (
	"encoding/binary"

	"github.com/flowd/flowd/decode"
)

// MalformedKind is a kind of malformed frame and the reason flowd's decoder
// must give it.
type MalformedKind struct {
	Name   string
	Reason decode.Reason
}

// MalformedKinds are the malformed frames the generator makes, in the order
// it cycles through them. They come from 203.0.113.0/24 (or 2001:db8:bad::)
// on the first interface. On a raw-IP interface, which cannot carry
// non-IP frames, "arp" is replaced by a frame with IP version 7
// (bad_ip_version).
var MalformedKinds = [...]MalformedKind{
	{"arp", decode.ReasonNonIP},                                 // ARP request (BSD null: address family 16)
	{"ipv4-header-cut", decode.ReasonTruncated},                 // capture cut 12 bytes into the IPv4 header
	{"ipv4-ihl-below-5", decode.ReasonBadIPHeaderLen},           // IHL 4
	{"ipv4-total-length-below-ihl", decode.ReasonBadIPTotalLen}, // total length 16, IHL 5
	{"ip-version-7", decode.ReasonBadIPVersion},                 // IPv4 ethertype/family, version nibble 7
	{"tcp-data-offset-below-5", decode.ReasonBadTCPHeaderLen},   // data offset 3
	{"tcp-header-cut", decode.ReasonTruncated},                  // capture cut 10 bytes into the TCP header
	{"ipv6-ext-header-overrun", decode.ReasonBadExtHeader},      // hop-by-hop header of 88 bytes in a 16-byte payload
	{"icmp-error-quote-cut", decode.ReasonBadICMPError},         // unreachable quoting 12 bytes of an IPv4 header
}

// malformed makes the k-th malformed frame into g.buf and returns its
// length; g.wire is set when the frame was cut short.
func (g *Generator) malformed(k int) int {
	kind := k % len(MalformedKinds)
	link := g.s.ifaces[0].Link
	if kind == 0 && link == Raw {
		kind = 4
	}
	f := &g.malFlow
	*f = flow{id: uint32(k), host: 0xffff00 + uint32(k&0xff)}
	b := g.buf
	var src, dst [16]byte
	addr4(src[:], v4(203, 0, 113, byte(k%254+1)))
	addr4(dst[:], v4(198, 51, 100, 1))
	reason := MalformedKinds[kind].Reason
	n := 0
	// ip4 writes a plain 20-byte IPv4 header for a packet of total bytes.
	ip4 := func(b []byte, proto uint8, total int) {
		ipHeader(b, false, false, 0, &src, &dst, proto, 64, uint16(k), false, total-20, nil)
	}
	switch kind {
	case 0: // ARP request
		n = g.linkHeader(b, f, true, etherARP)
		a := b[n : n+28]
		binary.BigEndian.PutUint16(a[0:], 1)      // Ethernet
		binary.BigEndian.PutUint16(a[2:], 0x0800) // IPv4
		a[4], a[5] = 6, 4
		binary.BigEndian.PutUint16(a[6:], 1) // request
		f.clientMAC(a[8:14])
		copy(a[14:18], src[:4])
		clear(a[18:24])
		copy(a[24:28], dst[:4])
		n += 28
	case 1: // IPv4 header cut by the snap length
		n = g.linkHeader(b, f, true, etherIPv4)
		ip4(b[n:], protoTCP, 40)
		g.wire = n + 40
		n += 12
	case 2: // IHL 4
		n = g.linkHeader(b, f, true, etherIPv4)
		ip4(b[n:], protoUDP, 28)
		b[n] = 0x44
		g.udpJunk(b[n+20:], 8)
		n += 28
	case 3: // total length below the header length
		n = g.linkHeader(b, f, true, etherIPv4)
		ip4(b[n:], protoUDP, 28)
		binary.BigEndian.PutUint16(b[n+2:], 16)
		g.udpJunk(b[n+20:], 8)
		n += 28
	case 4: // version 7 where IPv4 was announced
		n = g.linkHeader(b, f, true, etherIPv4)
		ip4(b[n:], protoUDP, 28)
		b[n] = 0x75
		g.udpJunk(b[n+20:], 8)
		n += 28
	case 5: // TCP data offset 3
		n = g.linkHeader(b, f, true, etherIPv4)
		ip4(b[n:], protoTCP, 40)
		tcpHeader(b[n+20:], 40000+uint16(k), 80, uint32(k), 0, syn, 1024, nil)
		b[n+20+12] = 3 << 4
		n += 40
	case 6: // TCP header cut by the snap length
		n = g.linkHeader(b, f, true, etherIPv4)
		ip4(b[n:], protoTCP, 60)
		tcpHeader(b[n+20:], 40000+uint16(k), 80, uint32(k), 0, syn, 1024, nil)
		g.wire = n + 60
		n += 30
	case 7: // IPv6 hop-by-hop header longer than the payload
		routerAddr(src[:], true)
		src[4], src[5], src[6], src[7] = 0x0b, 0xad, 0, 0
		binary.BigEndian.PutUint16(src[14:], uint16(k))
		copy(dst[:], src[:])
		dst[15] ^= 0xff
		n = g.linkHeader(b, f, true, etherIPv6)
		ipHeader(b[n:], true, false, 0, &src, &dst, ip6HopByHop, 64, 0, false, 16, nil)
		h := b[n+40 : n+56]
		h[0], h[1] = protoUDP, 10 // (10+1)*8 = 88 bytes
		for i := 2; i < 16; i++ {
			h[i] = 0
		}
		n += 56
	case 8: // ICMP unreachable quoting 12 bytes of an IPv4 header
		n = g.linkHeader(b, f, true, etherIPv4)
		ip4(b[n:], protoICMP, 40)
		c := b[n+20 : n+40]
		c[0], c[1] = 3, 1 // host unreachable
		clear(c[2:8])
		var q [20]byte
		ipHeader(q[:], false, false, 0, &dst, &src, protoTCP, 63, uint16(k), true, 20, nil)
		copy(c[8:], q[:12])
		binary.BigEndian.PutUint16(c[2:], Fold(OnesSum(0, c)))
		n += 40
	}
	g.truth.DecodeErrors[reason]++
	if g.wire != 0 {
		return n // cut by the capture, not padded
	}
	return g.finishFrame(0, n)
}

// udpJunk writes an 8-byte UDP header with ports but no checksum.
func (g *Generator) udpJunk(b []byte, l int) {
	binary.BigEndian.PutUint16(b[0:], 40000)
	binary.BigEndian.PutUint16(b[2:], 53)
	binary.BigEndian.PutUint16(b[4:], uint16(l))
	b[6], b[7] = 0, 0
}
