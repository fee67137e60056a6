package gen

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"sync"

	"github.com/flowd/flowd/decode"
)

// IP protocol numbers, short names for the scripts.
const (
	protoICMP   = decode.ProtoICMP
	protoTCP    = decode.ProtoTCP
	protoUDP    = decode.ProtoUDP
	protoICMPv6 = decode.ProtoICMPv6
	protoSCTP   = decode.ProtoSCTP

	ip6HopByHop = 0
	ip6Fragment = 44
	ip6DestOpts = 60
)

// TCP flags, short names for the scripts.
const (
	fin = decode.TCPFin
	syn = decode.TCPSyn
	rst = decode.TCPRst
	psh = decode.TCPPsh
	ack = decode.TCPAck
)

const (
	etherIPv4 = 0x0800
	etherIPv6 = 0x86DD
	etherARP  = 0x0806
	ether1Q   = 0x8100
	ether1AD  = 0x88A8
)

// minEthernet is the shortest Ethernet frame without its FCS; shorter ones
// are padded with zeros, as a NIC does, so a frame's bytes can exceed the
// IP length it carries.
const minEthernet = 60

// Payload bytes come from one fixed pattern; prefix sums of its 16-bit words
// make the checksum of any even-offset slice O(1), so the generator never
// reads a payload to checksum it.
const patLen = 64 << 10

type payloadPattern struct {
	b   []byte
	pre []uint64 // pre[i] = sum of the first i big-endian 16-bit words
}

var pattern = sync.OnceValue(func() *payloadPattern {
	p := &payloadPattern{b: make([]byte, patLen), pre: make([]uint64, patLen/2+1)}
	var src rand.PCG
	src.Seed(0x7061796c6f6164, 1) // "payload"
	for i := 0; i < patLen; i += 8 {
		binary.LittleEndian.PutUint64(p.b[i:], src.Uint64())
	}
	for i := 0; i < patLen/2; i++ {
		p.pre[i+1] = p.pre[i] + uint64(binary.BigEndian.Uint16(p.b[2*i:]))
	}
	return p
})

// sum returns the one's complement partial sum of b[o:o+n] as it would
// appear at an even offset; o must be even.
func (p *payloadPattern) sum(o, n int) uint64 {
	s := p.pre[(o+n)/2] - p.pre[o/2]
	if n&1 == 1 {
		s += uint64(p.b[o+n-1]) << 8
	}
	return s
}

// OnesSum adds the big-endian 16-bit words of b to s (a trailing odd byte is
// the high half of a word).
func OnesSum(s uint64, b []byte) uint64 {
	for len(b) >= 4 {
		s += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

// Fold turns a partial sum into the Internet checksum.
func Fold(s uint64) uint16 {
	for s>>16 != 0 {
		s = s&0xFFFF + s>>16
	}
	return ^uint16(s)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Address plan. Every flow has a client address of its own (TCP, UDP and
// SCTP flows share a client host eight at a time, with disjoint port
// ranges; ICMP flows get one each), so generated flows never collide except
// where a port reuse is meant. Servers are a small pool.
const (
	numServers   = 250
	clientSlots  = 8    // TCP/UDP/SCTP flows per client host
	clientPorts  = 7000 // ports per slot, from 1024
	maxHostIndex = 1<<23 - 2
)

// addr4 writes 4 address bytes.
func addr4(b []byte, a uint32) { binary.BigEndian.PutUint32(b, a) }

// v4 returns the IPv4 address a.b.c.d as a number.
func v4(a, b, c, d byte) uint32 { return uint32(a)<<24 | uint32(b)<<16 | uint32(c)<<8 | uint32(d) }

func (f *flow) clientAddr(b []byte) {
	if f.v6() {
		// fd00:0:0:1::/64 for TCP/UDP/SCTP clients, fd00:0:0:2::/64 for ICMP.
		clear(b[:16])
		b[0] = 0xfd
		b[7] = 1
		if f.proto == pICMP {
			b[7] = 2
		}
		binary.BigEndian.PutUint32(b[12:], f.host+1)
		return
	}
	// 10.0.0.0/9 for TCP/UDP/SCTP clients, 10.128.0.0/9 for ICMP.
	base := v4(10, 0, 0, 0)
	if f.proto == pICMP {
		base = v4(10, 128, 0, 0)
	}
	addr4(b, base+f.host+1)
}

func (f *flow) serverAddr(b []byte) {
	if f.v6() {
		// 2001:db8::1:0/112.
		clear(b[:16])
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		b[13] = 1
		binary.BigEndian.PutUint16(b[14:], f.server+1)
		return
	}
	addr4(b, v4(198, 18, 0, 0)+uint32(f.server)+1) // 198.18.0.0/15
}

// routerAddr is the sender of ICMP time-exceeded messages.
func routerAddr(b []byte, v6 bool) {
	if v6 {
		clear(b[:16])
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		b[4], b[5] = 0xff, 0xff
		b[15] = 1
		return
	}
	addr4(b, v4(192, 0, 2, 1))
}

// MAC addresses: clients 02:00:<host>, the gateway every server sits
// behind 02:fe:00:00:00:01.
func (f *flow) clientMAC(b []byte) {
	b[0], b[1] = 0x02, 0x00
	if f.proto == pICMP {
		b[1] = 0x01
	}
	binary.BigEndian.PutUint32(b[2:], f.host)
}

var gatewayMAC = [6]byte{0x02, 0xfe, 0, 0, 0, 1}

// linkHeader writes f's link-layer header for a packet with the given
// ethertype, sent by the client when fromClient, and returns its length.
func (g *Generator) linkHeader(b []byte, f *flow, fromClient bool, etype uint16) int {
	var mac [6]byte
	if fromClient {
		f.clientMAC(mac[:])
	} else {
		mac = gatewayMAC
	}
	switch g.s.ifaces[f.iface].Link {
	case Ethernet:
		var other [6]byte
		if fromClient {
			other = gatewayMAC
		} else {
			f.clientMAC(other[:])
		}
		copy(b[0:6], other[:])
		copy(b[6:12], mac[:])
		n := 12
		switch f.nvlan {
		case 2:
			binary.BigEndian.PutUint16(b[n:], ether1AD)
			binary.BigEndian.PutUint16(b[n+2:], f.vlan[0])
			binary.BigEndian.PutUint16(b[n+4:], ether1Q)
			binary.BigEndian.PutUint16(b[n+6:], f.vlan[1])
			n += 8
		case 1:
			binary.BigEndian.PutUint16(b[n:], ether1Q)
			binary.BigEndian.PutUint16(b[n+2:], f.vlan[0])
			n += 4
		}
		binary.BigEndian.PutUint16(b[n:], etype)
		return n + 2
	case SLL:
		// Captured on the client: its own packets are outgoing (4), the
		// others addressed to it (0).
		pt := uint16(0)
		if fromClient {
			pt = 4
		}
		binary.BigEndian.PutUint16(b[0:], pt)
		binary.BigEndian.PutUint16(b[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(b[4:], 6)
		copy(b[6:12], mac[:])
		b[12], b[13] = 0, 0
		binary.BigEndian.PutUint16(b[14:], etype)
		return 16
	case SLL2:
		binary.BigEndian.PutUint16(b[0:], etype)
		b[2], b[3] = 0, 0
		binary.BigEndian.PutUint32(b[4:], uint32(f.iface)+2) // ifindex
		binary.BigEndian.PutUint16(b[8:], 1)                 // ARPHRD_ETHER
		b[10] = 0
		if fromClient {
			b[10] = 4
		}
		b[11] = 6
		copy(b[12:18], mac[:])
		b[18], b[19] = 0, 0
		return 20
	case Null:
		af := uint32(2)
		switch etype {
		case etherIPv6:
			af = [3]uint32{24, 28, 30}[f.id%3] // NetBSD/OpenBSD, FreeBSD, Darwin
		case etherIPv4:
		default:
			af = 16 // AF_APPLETALK: not IP
		}
		binary.LittleEndian.PutUint32(b, af)
		return 4
	}
	return 0 // Raw
}

// ipHeader writes an IPv4 or IPv6 header (with f's option or extension
// header, and a Fragment header when fr is set) at b for a packet whose
// transport bytes (l4len of them) follow it. It returns the header length
// and the pseudo-header partial sum for the transport checksum (of the
// whole datagram for a fragment).
func ipHeader(b []byte, v6, opt bool, ext uint8, src, dst *[16]byte, proto uint8, ttl uint8, ipid uint16, df bool, l4len int, fr *fragment) (int, uint64) {
	if !v6 {
		hl := 20
		if opt {
			hl = 24
		}
		b[0] = 0x40 | byte(hl/4)
		b[1] = 0
		binary.BigEndian.PutUint16(b[2:], uint16(hl+l4len))
		binary.BigEndian.PutUint16(b[4:], ipid)
		var ff uint16
		if df {
			ff = 0x4000
		}
		if fr != nil {
			ff = uint16(fr.off / 8)
			if fr.more {
				ff |= 0x2000
			}
			binary.BigEndian.PutUint16(b[4:], uint16(fr.id))
		}
		binary.BigEndian.PutUint16(b[6:], ff)
		b[8] = ttl
		b[9] = proto
		b[10], b[11] = 0, 0
		copy(b[12:16], src[:4])
		copy(b[16:20], dst[:4])
		if opt {
			b[20], b[21], b[22], b[23] = 0x94, 0x04, 0, 0 // router alert
		}
		binary.BigEndian.PutUint16(b[10:], Fold(OnesSum(0, b[:hl])))
		dl := l4len
		if fr != nil {
			dl = fr.total
		}
		ps := OnesSum(0, src[:4]) + OnesSum(0, dst[:4]) + uint64(proto) + uint64(dl)
		return hl, ps
	}
	hl := 40
	next := proto
	if fr != nil {
		hl += 8
		next = ip6Fragment
	}
	if opt {
		hl += 8
		next = ext
	}
	binary.BigEndian.PutUint32(b[0:], 6<<28|uint32(ipid)<<4&0xFFFFF) // flow label from the IP id seed
	binary.BigEndian.PutUint16(b[4:], uint16(hl-40+l4len))
	b[6] = next
	b[7] = ttl
	copy(b[8:24], src[:])
	copy(b[24:40], dst[:])
	o := 40
	if opt {
		// Hop-by-hop or destination options holding one PadN option.
		b[o] = proto
		if fr != nil {
			b[o] = ip6Fragment
		}
		b[o+1] = 0
		b[o+2], b[o+3] = 1, 4
		clear(b[o+4 : o+8])
		o += 8
	}
	if fr != nil {
		b[o] = proto
		b[o+1] = 0
		ff := uint16(fr.off)
		if fr.more {
			ff |= 1
		}
		binary.BigEndian.PutUint16(b[o+2:], ff)
		binary.BigEndian.PutUint32(b[o+4:], fr.id)
	}
	dl := l4len
	if fr != nil {
		dl = fr.total
	}
	ps := OnesSum(0, src[:]) + OnesSum(0, dst[:]) + uint64(proto) + uint64(dl)
	return hl, ps
}

// fragment describes one IP fragment of a datagram of total transport
// bytes; off is this fragment's offset in bytes.
type fragment struct {
	id    uint32
	off   int
	total int
	more  bool
}

// tcpHeader writes a TCP header with options opt (a multiple of 4 bytes)
// and returns its length; the checksum is left zero.
func tcpHeader(b []byte, sport, dport uint16, seq, ackn uint32, flags uint8, win uint16, opt []byte) int {
	hl := 20 + len(opt)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], seq)
	binary.BigEndian.PutUint32(b[8:], ackn)
	b[12] = byte(hl/4) << 4
	b[13] = flags
	binary.BigEndian.PutUint16(b[14:], win)
	b[16], b[17], b[18], b[19] = 0, 0, 0, 0
	copy(b[20:], opt)
	return hl
}
