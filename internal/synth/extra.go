package synth

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/decode"
)

// TunnelKind is a kind of tunnelled flow the extra traffic holds.
type TunnelKind uint8

// Tunnel kinds. Each inner flow is carried by one of them, in turn.
const (
	Geneve    TunnelKind = iota // GENEVE (UDP 6081) with the Gateway Load Balancer's options, IP inside
	VXLAN                       // VXLAN (UDP 4789), Ethernet inside; each direction its own outer flow
	GRE                         // GRE version 0 with a key (some with checksum and sequence), IP inside
	GRETEB                      // GRE version 0 with a key, transparent Ethernet bridging
	ERSPAN1                     // ERSPAN type I (GRE 0x88BE, no sequence): mirrored frames, one way
	ERSPAN2                     // ERSPAN type II (GRE 0x88BE with sequence, 8-byte header)
	ERSPAN3                     // ERSPAN type III (GRE 0x22EB, 12-byte header, some with the 8-byte subheader)
	IPIP                        // IPv4 in IPv4 (protocol 4)
	SixInFour                   // IPv6 in IPv4 (protocol 41)
	FourInSix                   // IPv4 in IPv6 (next header 4)
	SixInSix                    // IPv6 in IPv6 (next header 41)
	EtherIP                     // EtherIP (protocol 97), Ethernet inside
	Teredo                      // Teredo (UDP 3544), IPv6 inside, some with an origin indication
	Nested                      // VXLAN in GENEVE; every third with GRE inside too, every third IP in that
	OuterFrag                   // VXLAN or GRE whose outer IPv4 datagram is cut in two fragments once per flow
	InnerFrag                   // UDP in VXLAN or IPv4 in IPv4 with one datagram cut in IPv4 fragments inside the tunnel
	NumTunnelKinds
)

var tunnelKindNames = [NumTunnelKinds]string{"geneve", "vxlan", "gre", "gre-teb", "erspan1", "erspan2", "erspan3",
	"ipip", "6in4", "4in6", "6in6", "etherip", "teredo", "nested", "outer-frag", "inner-frag"}

func (k TunnelKind) String() string {
	if k < NumTunnelKinds {
		return tunnelKindNames[k]
	}
	return fmt.Sprintf("tunnel(%d)", uint8(k))
}

// AllTunnelKinds lists every kind.
func AllTunnelKinds() []TunnelKind {
	ks := make([]TunnelKind, NumTunnelKinds)
	for i := range ks {
		ks[i] = TunnelKind(i)
	}
	return ks
}

// ParseTunnelKinds parses a comma-separated list of kind names ("all" for
// every kind).
func ParseTunnelKinds(s string) ([]TunnelKind, error) {
	if strings.EqualFold(s, "all") {
		return AllTunnelKinds(), nil
	}
	var ks []TunnelKind
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		i := slices.IndexFunc(tunnelKindNames[:], func(x string) bool { return strings.EqualFold(x, n) })
		if i < 0 {
			return nil, fmt.Errorf("tunnel kind %q is not one of all, %s", n, strings.Join(tunnelKindNames[:], ", "))
		}
		if !slices.Contains(ks, TunnelKind(i)) {
			ks = append(ks, TunnelKind(i))
		}
	}
	return ks, nil
}

// Extra describes traffic added to bench/gen's: flows carried in tunnels
// (counted one level deeper, beside the tunnels' own flows), flows with
// three (some four) VLAN tags, and ESP security association pairs. Its
// addresses lie outside bench/gen's (100.64.0.0/10 and fd01::/16 for
// tunnel endpoints, 172.16.0.0/12 and fd02::/16 inside tunnels, 2001::/32
// Teredo clients, 192.168.0.0/16 and fd03::/16 for ESP and tagged flows),
// so no flow of one shares a key with a flow of the other.
//
// Flows inside tunnels are TCP connections (6 in 10), UDP exchanges (3 in
// 10) or ESP pairs (1 in 10). The truth counts every IP level of a frame
// as flowd's rules say (README, "How flows are counted"): each level is a
// flow of its own keyed one tunnel deeper than the level around it, with
// the frame bytes of its own link unit (the inner Ethernet frame, or the
// bare inner IP packet) and its IP bytes; VLAN tags key the level whose
// Ethernet header carries them (an outer tag does not key the flows
// inside), except that an ERSPAN type II header's VLAN id comes first in
// the mirrored frame's key and its 8 bytes count in that flow's frame
// bytes, as Suricata keys and counts it; a level deeper than
// flowd's default limit (3) is not counted, the packet holding it is; an
// outer IPv4 datagram cut in fragments counts toward the tunnel's flow
// only (flowd decodes no tunnel in a fragment), while fragments inside a
// tunnel count toward their datagram's inner flow.
type Extra struct {
	Seed uint64
	// Tunnelled is the number of flows carried in tunnels; kinds take
	// turns (Kinds, all when empty), so each appears once Tunnelled
	// reaches their number.
	Tunnelled int
	Kinds     []TunnelKind
	// VLAN3 is the number of flows with three VLAN tags (every fourth
	// with four: flows are keyed by the outer three).
	VLAN3 int
	// ESP is the number of ESP security association pairs (two flows
	// each, one per direction and SPI).
	ESP int
	// MeanPackets is about how many packets a flow has (default 10).
	MeanPackets float64
	// Start, Duration: flows start over [Start, Start+Duration) (defaults
	// those of bench/gen).
	Start    time.Time
	Duration time.Duration
	// Step is the timestamp resolution in ns (1000 for microseconds).
	Step int64
}

// On reports whether x adds any traffic.
func (x *Extra) On() bool { return x.Tunnelled > 0 || x.VLAN3 > 0 || x.ESP > 0 }

// Frame is one generated frame (Ethernet).
type Frame struct {
	T    int64
	Data []byte
	lv   []counted // what the frame counts toward, once sorted
}

// counted is a level of a frame with the depth flowd must key it at.
type counted struct {
	depth int
	l     level
}

// Traffic is what Make generates: the frames in time order and the truth
// about them.
type Traffic struct {
	Frames []Frame
	// Flows: every flow, the tunnels' own included, in bench/gen's
	// truth order.
	Flows []gen.Flow
	// Tunnels counts the packets that carry each kind of tunnel at a depth
	// flowd decodes; TunnelErrors the tunnelled packets whose inner packet
	// must not be decoded (a first fragment, a tunnel too deep).
	Tunnels      [decode.NumTunnelKinds]uint64
	TunnelErrors map[decode.Reason]uint64
}

// maxDepth is flowd's default tunnel depth limit (decode.DefaultMaxTunnelDepth):
// a packet deeper than this is not decoded.
const maxDepth = 3

// mtu is the outer link's MTU for OuterFrag.
const mtu = 1500

type maker struct {
	x     Extra
	r     *rand.Rand
	out   Traffic
	recs  map[fkey]*frec
	order int
	ipid  uint16
	seq   uint32
}

// Make generates x's traffic and its truth.
func Make(x Extra) (*Traffic, error) {
	if x.Tunnelled < 0 || x.VLAN3 < 0 || x.ESP < 0 {
		return nil, fmt.Errorf("synth: negative counts in %+v", x)
	}
	if x.Tunnelled > 1<<20 || x.VLAN3 > 1<<20 || x.ESP > 1<<15 {
		return nil, fmt.Errorf("synth: at most %d tunnelled, %d VLAN3 flows and %d ESP pairs", 1<<20, 1<<20, 1<<15)
	}
	if len(x.Kinds) == 0 {
		x.Kinds = AllTunnelKinds()
	}
	if x.MeanPackets <= 0 {
		x.MeanPackets = 10
	}
	if x.Start.IsZero() {
		x.Start = gen.DefaultStart
	}
	if x.Duration <= 0 {
		x.Duration = 10 * time.Second
	}
	if x.Step <= 0 {
		x.Step = 1
	}
	m := &maker{x: x, r: rand.New(rand.NewPCG(x.Seed, 0x7e55e1ab5eed)), recs: map[fkey]*frec{},
		out: Traffic{TunnelErrors: map[decode.Reason]uint64{}}}
	for i := range x.Tunnelled {
		m.tunnelled(i, x.Kinds[i%len(x.Kinds)])
	}
	for i := range x.VLAN3 {
		m.vlan3(i)
	}
	for i := range x.ESP {
		m.espPair(i)
	}
	// Count in capture order: a flow's initiator is the sender of its
	// first packet in the capture.
	slices.SortStableFunc(m.out.Frames, func(a, b Frame) int { return cmp.Compare(a.T, b.T) })
	for i := range m.out.Frames {
		fr := &m.out.Frames[i]
		for j := range fr.lv {
			m.count(fr.T, fr.lv[j].depth, &fr.lv[j].l)
		}
		fr.lv = nil
	}
	recs := make([]*frec, 0, len(m.recs))
	for _, r := range m.recs {
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(a, b *frec) int { return cmp.Compare(a.order, b.order) })
	for _, r := range recs {
		r.fl.State = r.progress.State(r.fl.Proto == decode.ProtoTCP)
		r.fl.Reason = "active"
		m.out.Flows = append(m.out.Flows, r.fl)
	}
	gen.SortFlows(m.out.Flows)
	return &m.out, nil
}

// intn returns a number in [0, n).
func (m *maker) intn(n int) int { return int(m.r.Uint64() % uint64(n)) }

// gap is a pause between two packets of a flow: 100 µs to 300 ms.
func (m *maker) gap() int64 { return int64(100_000 + m.intn(300_000_000)) }

func (m *maker) quant(t int64) int64 { return t - t%m.x.Step }

func (m *maker) startTime() int64 {
	return m.x.Start.UnixNano() + int64(m.r.Uint64()%uint64(m.x.Duration))
}

// exchanges is how many request/response pairs a flow makes.
func (m *maker) exchanges() int {
	n := int(m.x.MeanPackets/2) - 2
	return 1 + m.intn(max(1, 2*n))
}

func v4(a, b, c, d byte) netip.Addr { return netip.AddrFrom4([4]byte{a, b, c, d}) }

func v6(pfx0, pfx1 byte, hi uint16, lo uint32) netip.Addr {
	var a [16]byte
	a[0], a[1] = pfx0, pfx1
	a[10], a[11] = byte(hi>>8), byte(hi)
	a[12], a[13], a[14], a[15] = byte(lo>>24), byte(lo>>16), byte(lo>>8), byte(lo)
	return netip.AddrFrom16(a)
}

// innerFlow is the flow carried in a tunnel, or a plain one: TCP, UDP, or
// ESP (a security association each way, spiC from the client).
type innerFlow struct {
	tcp, esp   bool
	spiC, spiS uint32
	cli, srv   netip.Addr
	cport      uint16
	sport      uint16
	seqC, seqS uint32
}

// step is one packet of an inner flow: its direction, TCP flags and
// payload size.
type step struct {
	fromClient bool
	flags      uint8
	size       int
}

// script returns the packets of a flow: a TCP connection (handshake,
// request/response pairs, FINs both ways) or UDP requests and responses.
func (m *maker) script(tcp bool) []step {
	n := m.exchanges()
	var s []step
	const syn, ack, psh, fin = 0x02, 0x10, 0x08, 0x01
	if tcp {
		s = append(s, step{true, syn, 0}, step{false, syn | ack, 0}, step{true, ack, 0})
	}
	for range n {
		req, resp := 20+m.intn(300), 40+m.intn(900)
		if tcp {
			s = append(s, step{true, psh | ack, req}, step{false, psh | ack, resp})
		} else {
			s = append(s, step{true, 0, req}, step{false, 0, resp})
		}
	}
	if tcp {
		s = append(s, step{true, fin | ack, 0}, step{false, fin | ack, 0}, step{true, ack, 0})
	}
	return s
}

// inner builds st's IP packet of flow f into a new pkt.
func (m *maker) inner(f *innerFlow, st step) *pkt {
	p := &pkt{}
	p.payload(st.size, byte(f.cport))
	src, dst, sp, dp := f.cli, f.srv, f.cport, f.sport
	if !st.fromClient {
		src, dst, sp, dp = dst, src, dp, sp
	}
	if f.esp {
		spi, seq := f.spiC, &f.seqC
		if !st.fromClient {
			spi, seq = f.spiS, &f.seqS
		}
		*seq++
		p.esp(spi, *seq)
		p.ip(src, dst, decode.ProtoESP, m.nextID())
	} else if f.tcp {
		seq, ack := &f.seqC, &f.seqS
		if !st.fromClient {
			seq, ack = ack, seq
		}
		p.tcp(src, dst, sp, dp, *seq, *ack, st.flags)
		*seq += uint32(st.size)
		if st.flags&0x03 != 0 {
			*seq++
		}
		p.ip(src, dst, decode.ProtoTCP, m.nextID())
	} else {
		p.udp(src, dst, sp, dp, false)
		p.ip(src, dst, decode.ProtoUDP, m.nextID())
	}
	return p
}

func (m *maker) nextID() uint16 { m.ipid++; return m.ipid }

// tunnelEnds are a tunnel's outer addresses for pool index k (0-2):
// IPv6 for pool 2 where the kind allows, else IPv4.
func tunnelEnds(kind TunnelKind, k int, v6outer bool) (netip.Addr, netip.Addr) {
	if v6outer {
		return v6(0xfd, 0x01, uint16(kind), uint32(2*k+1)), v6(0xfd, 0x01, uint16(kind), uint32(2*k+2))
	}
	return v4(100, 64, byte(kind), byte(2*k+1)), v4(100, 64, byte(kind), byte(2*k+2))
}

// tunnelled makes the i-th tunnelled flow, carried by kind.
func (m *maker) tunnelled(i int, kind TunnelKind) {
	round := i / len(m.x.Kinds)
	pool := round % 3
	proto := m.intn(10) // 0-5 TCP, 6-8 UDP, 9 ESP
	if kind == InnerFrag {
		proto = 6
	}
	f := &innerFlow{tcp: proto < 6, esp: proto == 9, cport: uint16(1024 + i%60000), sport: 80,
		seqC: uint32(m.r.Uint64()), seqS: uint32(m.r.Uint64())}
	if !f.tcp {
		f.sport = 40053
	}
	if f.esp {
		f.seqC, f.seqS = 0, 0
		f.spiC, f.spiS = m.spi(), m.spi()
	}
	innerV6 := m.intn(4) == 0
	switch kind {
	case SixInFour, SixInSix, Teredo:
		innerV6 = true
	case IPIP, FourInSix, InnerFrag:
		innerV6 = false
	}
	h := uint32(i + 1)
	if innerV6 {
		f.cli, f.srv = v6(0xfd, 0x02, 1, h), v6(0xfd, 0x02, 2, uint32(i%16+1))
	} else {
		f.cli, f.srv = v4(172, 16+byte(h>>16), byte(h>>8), byte(h)), v4(172, 31, 255, byte(i%16+1))
	}
	if kind == Teredo {
		// A Teredo client's address: 2001:0:<server>:<flags>:<port>:<client>, obscured.
		f.cli = netip.AddrFrom16([16]byte{0x20, 0x01, 0, 0, 0x41, 0x36, 0xe3, 0x78, 0x80, 0,
			^byte(f.cport >> 8), ^byte(f.cport), ^byte(203), ^byte(0), ^byte(h >> 8), ^byte(h)})
	}
	v6outer := pool == 2 && (kind == Geneve || kind == VXLAN || kind == GRE || kind == GRETEB)
	switch kind {
	case FourInSix, SixInSix:
		v6outer = true
	}
	a, b := tunnelEnds(kind, pool, v6outer)
	// Outer frames of pool 1 carry an 802.1Q tag (it keys the tunnel's
	// flow, not the flows inside); every other round of kinds, the inner
	// Ethernet frames carry one too (it keys the inner flow).
	var tags, innerTags []uint16
	if pool == 1 {
		tags = []uint16{uint16(100 + kind)}
	}
	if round%2 == 1 {
		innerTags = []uint16{uint16(500 + i%100)}
	}
	steps := m.script(f.tcp)
	fragAt := -1
	if kind == OuterFrag {
		fragAt = 3 // the first data packet of a TCP flow, the second request of UDP
		if !f.tcp {
			fragAt = 2
			if len(steps) < 4 {
				fragAt = 1
			}
		}
		// An inner packet of 1480-1499 bytes, as an inner MTU of 1500
		// allows; the tunnel's headers take the outer one past 1500.
		hdr := 28
		if f.tcp {
			hdr = 40
		}
		if innerV6 {
			hdr += 20
		}
		steps[fragAt].size = 1480 + m.intn(20) - hdr
	}
	if kind == InnerFrag {
		// The first request, 1000-1400 bytes, in fragments of at most 600.
		fragAt = 0
		steps[0].size = 1000 + m.intn(400)
	}
	t := m.startTime()
	key := uint32(m.r.Uint64())
	session := uint16(m.intn(1024))
	for j, st := range steps {
		if j > 0 {
			t += m.gap()
		}
		fwd := st.fromClient
		src0, dst0 := a, b
		if !fwd {
			src0, dst0 = b, a
		}
		wrap := func(p *pkt) {
			src, dst := src0, dst0
			m.seq++
			switch kind {
			case Geneve:
				et := uint16(etherIPv4)
				if innerV6 {
					et = etherIPv6
				}
				p.geneve(et, uint32(1000+pool), 0x0a0b0c0d00000000|uint64(pool), 0x0102030400000000|uint64(i), uint32(i)*2654435761)
				gp := uint16(40000 + pool)
				if fwd {
					p.udp(src, dst, gp, decode.GenevePort, true)
				} else {
					p.udp(src, dst, decode.GenevePort, gp, true)
				}
				p.ip(src, dst, decode.ProtoUDP, m.nextID())
			case VXLAN, OuterFrag, InnerFrag:
				if kind == InnerFrag && i%2 == 1 {
					p.carry = decode.TunnelIPv4
					p.ip(src, dst, decode.ProtoIPv4, m.nextID())
					break
				}
				if kind == OuterFrag && i%2 == 1 {
					et := uint16(etherIPv4)
					if innerV6 {
						et = etherIPv6
					}
					p.gre(et, false, true, false, key, 0)
					p.ip(src, dst, decode.ProtoGRE, m.nextID())
					break
				}
				p.eth(1, innerTags, false)
				p.vxlan(uint32(5000 + pool))
				p.udp(src, dst, vxlanSrcPort(i, fwd), decode.VXLANPort, true)
				p.ip(src, dst, decode.ProtoUDP, m.nextID())
			case GRE:
				et := uint16(etherIPv4)
				if innerV6 {
					et = etherIPv6
				}
				p.gre(et, j%3 == 1, true, j%2 == 1, key, m.seq)
				p.ip(src, dst, decode.ProtoGRE, m.nextID())
			case GRETEB:
				p.eth(2, innerTags, false)
				p.gre(etherTEB, false, true, false, key, 0)
				p.ip(src, dst, decode.ProtoGRE, m.nextID())
			case ERSPAN1, ERSPAN2, ERSPAN3:
				// A mirror: the switch a sends every mirrored frame to b, padded
				// as it was on the wire.
				src, dst = a, b
				p.eth(3, innerTags, true)
				switch kind {
				case ERSPAN1:
					p.gre(etherERSP, false, false, false, 0, 0)
					p.carry = decode.TunnelERSPAN1
				case ERSPAN2:
					p.erspan2(session, uint16(i%4000), uint32(j))
					p.gre(etherERSP, false, false, true, 0, m.seq)
					p.carry = decode.TunnelERSPAN2
				case ERSPAN3:
					p.erspan3(session, uint32(t/1000), j%2 == 1)
					p.gre(etherERSP3, false, false, true, 0, m.seq)
					p.carry = decode.TunnelERSPAN3
				}
				p.ip(src, dst, decode.ProtoGRE, m.nextID())
			case IPIP, SixInFour, FourInSix, SixInSix:
				proto := uint8(decode.ProtoIPv4)
				p.carry = decode.TunnelIPv4
				if innerV6 {
					proto, p.carry = decode.ProtoIPv6, decode.TunnelIPv6
				}
				p.ip(src, dst, proto, m.nextID())
			case EtherIP:
				p.eth(4, innerTags, false)
				p.prepend([]byte{0x30, 0})
				p.carry = decode.TunnelEtherIP
				p.ip(src, dst, decode.ProtoEtherIP, m.nextID())
			case Teredo:
				relay, client := v4(100, 64, byte(kind), 1), v4(100, 64, byte(kind), byte(10+pool))
				cp := uint16(30000 + pool)
				p.carry = decode.TunnelTeredo
				if fwd {
					p.udp(client, relay, cp, decode.TeredoPort, true)
					src, dst = client, relay
				} else {
					if j%2 == 1 {
						p.teredoOrigin(decode.TeredoPort, relay)
					}
					p.carry = decode.TunnelTeredo
					p.udp(relay, client, decode.TeredoPort, cp, true)
					src, dst = relay, client
				}
				p.ip(src, dst, decode.ProtoUDP, m.nextID())
			case Nested:
				// Innermost first: IPv4 in IPv4 (4 levels: too deep for the
				// innermost), in GRE (3), in VXLAN, in GENEVE.
				levels := 2 + round/3%3
				c1, c2 := v4(100, 65, byte(pool), 1), v4(100, 65, byte(pool), 2)
				if levels == 4 {
					p.carry = decode.TunnelIPv4
					if innerV6 {
						p.carry = decode.TunnelIPv6
					}
					proto := uint8(decode.ProtoIPv4)
					if innerV6 {
						proto = decode.ProtoIPv6
					}
					p.ip(v4(100, 66, 0, 1), v4(100, 66, 0, 2), proto, m.nextID())
				}
				if levels >= 3 {
					proto := uint16(etherIPv4)
					if p.lv[len(p.lv)-1].src.Is6() {
						proto = etherIPv6
					}
					p.gre(proto, false, true, false, key, 0)
					p.ip(v4(100, 65, 10, 1), v4(100, 65, 10, 2), decode.ProtoGRE, m.nextID())
				}
				p.innerEth(5)
				p.vxlan(uint32(7000 + pool))
				c, s := c1, c2
				if !fwd {
					c, s = c2, c1
				}
				p.udp(c, s, vxlanSrcPort(i, fwd), decode.VXLANPort, true)
				p.ip(c, s, decode.ProtoUDP, m.nextID())
				p.innerEth(6)
				p.geneve(etherTEB, uint32(9000+pool), 1, 2, 3)
				gp := uint16(41000 + pool)
				if fwd {
					p.udp(src, dst, gp, decode.GenevePort, true)
				} else {
					p.udp(src, dst, decode.GenevePort, gp, true)
				}
				p.ip(src, dst, decode.ProtoUDP, m.nextID())
			}
		}
		p := m.inner(f, st)
		if kind == InnerFrag && j == fragAt {
			for _, q := range p.fragments(600) {
				wrap(q)
				m.emit(m.quant(t), q, tags, false)
			}
			continue
		}
		wrap(p)
		m.emit(m.quant(t), p, tags, j == fragAt)
	}
}

// vxlanSrcPort is the outer source port a VXLAN endpoint derives from the
// inner flow: 49152-65535, one per flow and direction.
func vxlanSrcPort(i int, fwd bool) uint16 {
	h := uint32(i)*2654435761 + 12345
	if !fwd {
		h ^= 0x5bd1e995
	}
	return uint16(49152 + h>>8%16384)
}

// vlan3 makes a UDP or TCP flow with three 802.1ad/802.1Q tags, every
// fourth with a fourth tag that flowd skips.
func (m *maker) vlan3(i int) {
	h := uint32(i + 1)
	f := &innerFlow{tcp: m.intn(2) == 0, cport: uint16(1024 + i%60000), sport: 443,
		seqC: uint32(m.r.Uint64()), seqS: uint32(m.r.Uint64())}
	if !f.tcp {
		f.sport = 123
	}
	if m.intn(4) == 0 {
		f.cli, f.srv = v6(0xfd, 0x03, 3, h), v6(0xfd, 0x03, 4, uint32(i%8+1))
	} else {
		f.cli, f.srv = v4(192, 168, byte(h>>8), byte(h)), v4(192, 168, 255, byte(i%8+1))
	}
	tags := []uint16{uint16(10 + i%7), uint16(200 + i%11), uint16(3000 + i%13)}
	if i%4 == 3 {
		tags = append(tags, uint16(4000+i%5))
	}
	t := m.startTime()
	for j, st := range m.script(f.tcp) {
		if j > 0 {
			t += m.gap()
		}
		st.size /= 4
		m.emit(m.quant(t), m.inner(f, st), tags, false)
	}
}

// spi returns a SPI whose halves differ, as SAs pick them (a SPI with
// equal halves is one that flowd matches both ways; see the README).
func (m *maker) spi() uint32 {
	for {
		s := uint32(m.r.Uint64())
		if s>>16 != s&0xFFFF && s >= 256 {
			return s
		}
	}
}

// espPair makes two ESP security associations between two hosts, one per
// direction, each its own flow keyed by its SPI.
func (m *maker) espPair(i int) {
	h := uint32(i + 1)
	a, b := v4(192, 168, 128+byte(h>>8), byte(h)), v4(192, 168, 254, byte(i%8+1))
	if m.intn(4) == 0 {
		a, b = v6(0xfd, 0x03, 5, h), v6(0xfd, 0x03, 6, uint32(i%8+1))
	}
	spiAB, spiBA := m.spi(), m.spi()
	t := m.startTime()
	n := 2 + m.intn(max(1, int(m.x.MeanPackets)))
	var seqAB, seqBA uint32
	for j := range n {
		if j > 0 {
			t += m.gap()
		}
		p := &pkt{}
		p.payload(32+m.intn(200)&^3, byte(j))
		src, dst, spi, seq := a, b, spiAB, &seqAB
		if j%2 == 1 {
			src, dst, spi, seq = b, a, spiBA, &seqBA
		}
		*seq++
		p.esp(spi, *seq)
		p.ip(src, dst, decode.ProtoESP, m.nextID())
		m.emit(m.quant(t), p, nil, false)
	}
}

// emit frames p (its last level the outermost IP packet) in Ethernet with
// tags, cutting the outer IPv4 datagram in fragments when frag, and counts
// every level it holds as flowd must: each level its own flow, keyed by
// its depth, down to flowd's depth limit; a fragmented outer datagram
// counts toward its own flow only (flowd does not look into a tunnel whose
// packet is cut).
func (m *maker) emit(t int64, p *pkt, tags []uint16, frag bool) {
	n := len(p.lv)
	outer := p.lv[n-1]
	if frag {
		if !outer.ipv4 || len(p.b) <= mtu {
			panic("synth: an outer packet to fragment must be IPv4 and above the MTU")
		}
		for _, fb := range fragment4(p.b, mtu) {
			q := &pkt{b: fb, lv: []level{outer}}
			q.lv[0].ip, q.lv[0].fragment = len(fb), true
			q.eth(0, tags, true)
			m.out.Frames = append(m.out.Frames, Frame{T: t, Data: q.b, lv: []counted{{0, q.lv[0]}}})
		}
		m.out.Tunnels[outer.carries]++
		m.out.TunnelErrors[decode.ReasonTunnelFragment]++
		return
	}
	p.eth(0, tags, true)
	fr := Frame{T: t, Data: p.b}
	for d := 0; d < n && d <= maxDepth; d++ {
		l := &p.lv[n-1-d]
		fr.lv = append(fr.lv, counted{d, *l})
		if l.carries != decode.TunnelNone {
			m.out.Tunnels[l.carries]++
			if d == maxDepth {
				m.out.TunnelErrors[decode.ReasonTunnelTooDeep]++
			}
		}
	}
	m.out.Frames = append(m.out.Frames, fr)
}
