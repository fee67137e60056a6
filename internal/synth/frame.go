package synth

import (
	"encoding/binary"
	"net/netip"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/decode"
)

// This file builds packets from the inside out, one layer at a time, and
// records for every IP level what a flow table must count: its key, its
// IP length and the length of its link-layer unit (the Ethernet frame or,
// for an IP packet carried bare, the packet itself). The truth is made
// from these records, never from a decoder.

// level is one IP packet of a frame, inner levels first in pkt.lv.
type level struct {
	proto        uint8
	src, dst     netip.Addr
	sport, dport uint16 // key ports: transport ports, the SPI's halves for ESP, else 0
	vlan         []uint16
	frame, ip    int
	flags        uint8             // TCP flags
	carries      decode.TunnelKind // the tunnel this packet carries, if any
	fragment     bool              // an IP fragment
	ipv4         bool
}

// pkt is a packet being built: b holds the bytes from the current layer
// inward.
type pkt struct {
	b     []byte
	lv    []level
	sp    uint16 // pending key ports for the next ip call
	dp    uint16
	flags uint8
	carry decode.TunnelKind
}

func (p *pkt) prepend(h []byte) { p.b = append(h, p.b...) }

// payload sets the innermost bytes.
func (p *pkt) payload(n int, seed byte) {
	p.b = make([]byte, n)
	for i := range p.b {
		p.b[i] = byte(i)*7 + seed
	}
}

// pseudo is the sum of the pseudo-header of an upper-layer packet of n
// bytes.
func pseudo(src, dst netip.Addr, proto uint8, n int) uint64 {
	s := gen.OnesSum(0, src.AsSlice())
	s = gen.OnesSum(s, dst.AsSlice())
	return s + uint64(proto) + uint64(n)
}

// udp wraps p.b in a UDP header with its checksum (kept 0 over IPv4 when
// zeroSum, as tunnel endpoints send).
func (p *pkt) udp(src, dst netip.Addr, sp, dp uint16, zeroSum bool) {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(p.b)))
	p.prepend(h)
	if !(zeroSum && src.Is4()) {
		c := gen.Fold(gen.OnesSum(pseudo(src, dst, decode.ProtoUDP, len(p.b)), p.b))
		if c == 0 {
			c = 0xFFFF
		}
		binary.BigEndian.PutUint16(p.b[6:], c)
	}
	p.sp, p.dp = sp, dp
}

// tcp wraps p.b in a TCP header (no options) with its checksum.
func (p *pkt) tcp(src, dst netip.Addr, sp, dp uint16, seq, ack uint32, flags uint8) {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	binary.BigEndian.PutUint32(h[4:], seq)
	binary.BigEndian.PutUint32(h[8:], ack)
	h[12] = 5 << 4
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], 64240)
	p.prepend(h)
	binary.BigEndian.PutUint16(p.b[16:], gen.Fold(gen.OnesSum(pseudo(src, dst, decode.ProtoTCP, len(p.b)), p.b)))
	p.sp, p.dp, p.flags = sp, dp, flags
}

// esp wraps p.b (the encrypted part) in an ESP header.
func (p *pkt) esp(spi, seq uint32) {
	h := make([]byte, 8)
	binary.BigEndian.PutUint32(h[0:], spi)
	binary.BigEndian.PutUint32(h[4:], seq)
	p.prepend(h)
	p.sp, p.dp = uint16(spi>>16), uint16(spi)
}

// ip wraps p.b in an IPv4 or IPv6 header (by the addresses) and records
// the level.
func (p *pkt) ip(src, dst netip.Addr, proto uint8, id uint16) {
	if src.Is4() {
		h := make([]byte, 20)
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(p.b)))
		binary.BigEndian.PutUint16(h[4:], id)
		h[8], h[9] = 64, proto
		s, d := src.As4(), dst.As4()
		copy(h[12:], s[:])
		copy(h[16:], d[:])
		binary.BigEndian.PutUint16(h[10:], gen.Fold(gen.OnesSum(0, h)))
		p.prepend(h)
	} else {
		h := make([]byte, 40)
		h[0] = 0x60
		binary.BigEndian.PutUint16(h[4:], uint16(len(p.b)))
		h[6], h[7] = proto, 64
		s, d := src.As16(), dst.As16()
		copy(h[8:], s[:])
		copy(h[24:], d[:])
		p.prepend(h)
	}
	p.lv = append(p.lv, level{proto: proto, src: src, dst: dst, sport: p.sp, dport: p.dp,
		frame: len(p.b), ip: len(p.b), flags: p.flags, carries: p.carry, ipv4: src.Is4()})
	p.sp, p.dp, p.flags, p.carry = 0, 0, 0, decode.TunnelNone
}

// Ethernet tag types.
const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86DD
	etherQ     = 0x8100
	etherAD    = 0x88A8
	etherTEB   = 0x6558
	etherERSP  = 0x88BE
	etherERSP3 = 0x22EB
)

// eth wraps p.b (an IP packet, the last level) in an Ethernet header with
// the given tags (the first an 802.1ad tag when there are several), padded
// to 60 bytes when pad, and makes it the level's frame. The level is keyed
// by its first three tags.
func (p *pkt) eth(mac byte, tags []uint16, pad bool) {
	top := &p.lv[len(p.lv)-1]
	et := uint16(etherIPv4)
	if !top.ipv4 {
		et = etherIPv6
	}
	h := make([]byte, 0, 14+4*len(tags))
	h = append(h, 0x02, 0, 0, 0, mac, 1, 0x02, 0, 0, 0, mac, 2)
	for i, v := range tags {
		tpid := uint16(etherQ)
		if i == 0 && len(tags) > 1 {
			tpid = etherAD
		}
		h = binary.BigEndian.AppendUint16(h, tpid)
		h = binary.BigEndian.AppendUint16(h, v)
	}
	h = binary.BigEndian.AppendUint16(h, et)
	p.prepend(h)
	if pad && len(p.b) < 60 {
		p.b = append(p.b, make([]byte, 60-len(p.b))...)
	}
	top.frame = len(p.b)
	if len(tags) > 0 {
		top.vlan = append([]uint16(nil), tags[:min(3, len(tags))]...)
	}
}

// geneve prepends a GENEVE header for protocol et with the Gateway Load
// Balancer's three options (class 0x0108: endpoint id, attachment id, flow
// cookie).
func (p *pkt) geneve(et uint16, vni uint32, endpoint, attachment uint64, cookie uint32) {
	opts := make([]byte, 0, 32)
	opt := func(typ byte, d []byte) {
		opts = append(opts, 0x01, 0x08, typ, byte(len(d)/4))
		opts = append(opts, d...)
	}
	opt(1, binary.BigEndian.AppendUint64(nil, endpoint))
	opt(2, binary.BigEndian.AppendUint64(nil, attachment))
	opt(3, binary.BigEndian.AppendUint32(nil, cookie))
	h := make([]byte, 8, 8+len(opts))
	h[0] = byte(len(opts) / 4)
	binary.BigEndian.PutUint16(h[2:], et)
	h[4], h[5], h[6] = byte(vni>>16), byte(vni>>8), byte(vni)
	p.prepend(append(h, opts...))
	p.carry = decode.TunnelGeneve
}

func (p *pkt) vxlan(vni uint32) {
	p.prepend([]byte{0x08, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0})
	p.carry = decode.TunnelVXLAN
}

// gre prepends a GRE version 0 header: with a checksum when sum, the key
// when key, a sequence number when seq.
func (p *pkt) gre(proto uint16, sum, key, seq bool, k, s uint32) {
	h := make([]byte, 4, 16)
	if sum {
		h[0] |= 0x80
		h = append(h, 0, 0, 0, 0)
	}
	if key {
		h[0] |= 0x20
		h = binary.BigEndian.AppendUint32(h, k)
	}
	if seq {
		h[0] |= 0x10
		h = binary.BigEndian.AppendUint32(h, s)
	}
	binary.BigEndian.PutUint16(h[2:], proto)
	p.prepend(h)
	if sum {
		binary.BigEndian.PutUint16(p.b[4:], gen.Fold(gen.OnesSum(0, p.b)))
	}
	p.carry = decode.TunnelGRE
}

// erspan2 prepends an ERSPAN type II header (session id, original VLAN)
// to the mirrored frame, the last level. A VLAN id other than 0 keys the
// mirrored packet's flow ahead of the frame's own tags (three at most), as
// Suricata keys it.
func (p *pkt) erspan2(session uint16, vlan uint16, index uint32) {
	h := make([]byte, 8)
	vlan &= 0xFFF
	binary.BigEndian.PutUint16(h[0:], 1<<12|vlan)
	binary.BigEndian.PutUint16(h[2:], session&0x3FF)
	binary.BigEndian.PutUint32(h[4:], index&0xFFFFF)
	p.prepend(h)
	top := &p.lv[len(p.lv)-1]
	// The mirrored frame's flow counts the ERSPAN header too: Suricata's
	// packet inside ERSPAN II starts there.
	top.frame += len(h)
	if vlan != 0 {
		v := append([]uint16{vlan}, top.vlan...)
		top.vlan = v[:min(3, len(v))]
	}
}

// erspan3 prepends an ERSPAN type III header for a mirrored Ethernet
// frame, with the 8-byte platform subheader when sub.
func (p *pkt) erspan3(session uint16, ts uint32, sub bool) {
	h := make([]byte, 12, 20)
	// The VLAN field of type III is carried but keys nothing (flowd keys
	// type II's only, Suricata decodes no type III).
	binary.BigEndian.PutUint16(h[0:], 2<<12|(session+1)&0xFFF)
	binary.BigEndian.PutUint16(h[2:], session&0x3FF)
	binary.BigEndian.PutUint32(h[4:], ts)
	h[10] = 0 // P 0, frame type 0 (Ethernet), hardware id 0
	if sub {
		h[11] |= 0x01
		h = append(h, 0x10, 0, 0, 0, 0, 0, 0, 0) // platform id 2 subheader
	}
	p.prepend(h)
}

// teredo prepends an origin indication (Teredo's 8 bytes, port and address
// obscured by inversion).
func (p *pkt) teredoOrigin(port uint16, a netip.Addr) {
	v := a.As4()
	p.prepend([]byte{0, 0, ^byte(port >> 8), ^byte(port), ^v[0], ^v[1], ^v[2], ^v[3]})
}

// innerEth wraps the last level (an IP packet) in an unpadded, untagged
// Ethernet frame, as VXLAN and GENEVE endpoints carry them.
func (p *pkt) innerEth(mac byte) { p.eth(mac, nil, false) }

// fragment4 splits an IPv4 packet ip into fragments of at most mtu bytes.
func fragment4(ip []byte, mtu int) [][]byte {
	hl := int(ip[0]&0x0F) * 4
	data := ip[hl:]
	most := (mtu - hl) &^ 7
	var out [][]byte
	for off := 0; off < len(data); off += most {
		n := min(most, len(data)-off)
		f := make([]byte, hl+n)
		copy(f, ip[:hl])
		copy(f[hl:], data[off:off+n])
		binary.BigEndian.PutUint16(f[2:], uint16(hl+n))
		fo := uint16(off / 8)
		if off+n < len(data) {
			fo |= 0x2000 // more fragments
		}
		binary.BigEndian.PutUint16(f[6:], fo)
		f[10], f[11] = 0, 0
		binary.BigEndian.PutUint16(f[10:], gen.Fold(gen.OnesSum(0, f[:hl])))
		out = append(out, f)
	}
	return out
}

// fragments returns p (one IPv4 level so far) cut in IPv4 fragments of at
// most mtu bytes, each a packet of its own counted toward the datagram's
// flow.
func (p *pkt) fragments(mtu int) []*pkt {
	var out []*pkt
	for _, fb := range fragment4(p.b, mtu) {
		l := p.lv[0]
		l.ip, l.frame, l.fragment = len(fb), len(fb), true
		out = append(out, &pkt{b: fb, lv: []level{l}})
	}
	return out
}
