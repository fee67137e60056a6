package gen

import (
	"encoding/binary"
	"math"

	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/decode"
)

// Flow protocols of the generator.
const (
	pTCP uint8 = iota
	pUDP
	pICMP
	pSCTP
)

// Flow flag bits.
const (
	fV6         = 1 << iota
	fUnanswered // nobody answers
	fReject     // TCP: the SYN is answered by a RST
	fSynAck     // TCP: captured from the SYN/ACK on
	fICMPErr    // TCP: a segment draws time exceeded; UDP: requests draw port unreachable
	fTCPTS      // TCP: timestamps option on every segment
	fAckDue     // TCP: the receiver owes a pure ACK
	fBurstSrv   // TCP: the current burst is the server's
	fCloserSrv  // TCP: the server closes or resets
	fHalf       // TCP: the FIN ending is a half close
	fPendErr    // an ICMP error quoting the last packet is due next
	fFragSrv    // UDP: the fragmented datagram is the server's
)

// TCP ends.
const (
	endFIN uint8 = iota
	endRST
	endOpen
)

// Script phases.
const (
	// TCP
	phSyn uint8 = iota
	phSynAck
	phAck
	phData
	phFin1
	phFin2
	phFin3
	phRst
	phRejectRst
	// UDP and ICMP echo
	phReq
	phResp
	// SCTP
	phInit
	phInitAck
	phCookieEcho
	phCookieAck
	phSData
	phSSack
	phShutdown
	phShutdownAck
	phShutdownComplete
	phEnd // only the pending ICMP error is left
)

// flow is the generator's state for one flow (and its reconnections): 128
// bytes, pointer-free; flows live in a slab the heap indexes, so a million
// active flows cost 128 MB the garbage collector never scans.
type flow struct {
	next   int64 // time of the next packet, ns
	rtt    int64 // round trip, ns
	gap    int64 // gap between segments of a burst, ns
	pace   int64 // longest think time between exchanges, ns
	id     uint32
	host   uint32 // client host number in its address block
	rec    int32  // current truth record, -1 when none
	quote  int32  // index into Generator.quotes of a pending ICMP error, -1 none
	left   int32  // packets left of the data budget
	burst  int32  // segments left in the current TCP burst
	seqC   uint32 // TCP/SCTP: the client's next sequence number / TSN
	seqS   uint32
	tagC   uint32 // SCTP verification tags; TCP timestamp bases
	tagS   uint32
	fragID uint32
	segs   uint32 // TCP data segments sent
	errAt  uint32 // TCP: the data segment that draws an ICMP error, 0 none
	flags  uint16
	cport  uint16
	sport  uint16
	server uint16
	vlan   [2]uint16
	ipidC  uint16
	ipidS  uint16
	echoID uint16
	seq    uint16 // echo sequence number; SCTP stream sequence
	exch   uint16 // exchanges done
	pairs  uint16 // exchanges to do
	fragAt uint16 // UDP: 1 + the exchange whose datagram is fragmented, 0 none
	fragL  uint16 // its transport length
	fragP  uint16 // its pattern offset
	psize  uint16 // ICMP echo payload size
	proto  uint8
	iface  uint8
	nvlan  uint8
	opt    uint8 // 1: IPv4 router alert option or IPv6 extension header (see ext6)
	phase  uint8
	sub    uint8 // SYN/INIT retries; fragment index; echo id switched
	end    uint8
	reuse  uint8 // reconnections left
	nfrag  uint8
	sinceA uint8 // segments since the receiver last ACKed
}

func (f *flow) v6() bool { return f.flags&fV6 != 0 }

// Generator makes packets one at a time, in timestamp order, from a Config.
// It keeps the active flows in a heap by next-packet time.
//
// Allocation: Next allocates nothing per packet once the flow slab has
// grown to the number of concurrently active flows (and, when truth is kept,
// appends one record per flow). A Generator is not safe for concurrent use.
type Generator struct {
	s   *settings
	r   *rng
	pat *payloadPattern

	flows []flow
	free  []uint32
	heap  []heapEnt // active flows, ordered by (next, id)

	started   int // flows started
	reserved  int // reconnections promised by started flows
	nextStart int64
	hosts     [2][2]uint32 // next host number by [v6][icmp]

	malDone int
	nextMal int64
	malFlow flow // link-layer addressing of malformed frames

	buf   []byte
	wire  int   // the wire length of a frame cut short, else 0
	now   int64 // time of the packet being made
	ipOff int   // offset of its IP header in buf
	ipHdr int   // length of its IP and transport headers
	ipLen int   // its IP length
	src   [16]byte
	dst   [16]byte
	opts  [40]byte
	quote [][]byte // pending ICMP error quotes
	qfree []int32

	truth Truth
	kinds map[uint32]string // Flow.Kind by kindKey
	recs  []rec
	rfree []int32
	done  bool
}

// New returns a generator for cfg, or the error that makes cfg unusable.
// Timestamps default to nanosecond resolution.
func New(cfg Config) (*Generator, error) { return newGen(cfg, Nano) }

func newGen(cfg Config, defRes Resolution) (*Generator, error) {
	s, err := cfg.resolve(defRes)
	if err != nil {
		return nil, err
	}
	g := &Generator{
		s:   s,
		r:   newRNG(cfg.Seed),
		pat: pattern(),
		buf: make([]byte, s.MTU+256),
	}
	g.truth.DecodeErrors = make(map[decode.Reason]uint64)
	if g.recording() {
		// The truth holds exactly Flows flows.
		g.truth.Flows = make([]Flow, 0, min(s.Flows, 1<<20))
		g.kinds = make(map[uint32]string)
	}
	g.planStart()
	g.planMalformed()
	return g, nil
}

// Interfaces returns the capture interfaces with their defaults filled in.
func (g *Generator) Interfaces() []Interface { return append([]Interface(nil), g.s.ifaces...) }

const never = math.MaxInt64

// planStart draws the start time of the next flow: flow i starts at a
// random time in the i-th of Flows equal slices of Duration, on a whole
// microsecond.
func (g *Generator) planStart() {
	n := g.s.Flows
	if g.started+g.reserved >= n {
		g.nextStart = never
		return
	}
	i := int64(g.started)
	lo := g.s.start + i*g.s.dur/int64(n)
	hi := g.s.start + (i+1)*g.s.dur/int64(n) - 1
	t := g.r.span(lo, max(lo, hi))
	g.nextStart = max(t/1000*1000, g.s.start)
}

func (g *Generator) planMalformed() {
	m := g.s.Malformed
	if g.malDone >= m {
		g.nextMal = never
		return
	}
	i := int64(g.malDone)
	lo := g.s.start + i*g.s.dur/int64(m)
	hi := g.s.start + (i+1)*g.s.dur/int64(m) - 1
	g.nextMal = max(g.r.span(lo, max(lo, hi))/1000*1000, g.s.start)
}

// Next makes the next packet into fr and reports whether there was one.
// fr.Data aliases the generator's buffer and is valid until the next call.
// Packets come in timestamp order (equal times are possible).
func (g *Generator) Next(fr *capture.Frame) bool {
	for {
		var tf int64 = never
		if len(g.heap) > 0 {
			tf = g.heap[0].t
		}
		switch {
		case tf == never && g.nextStart == never && g.nextMal == never:
			g.finishTruth()
			return false
		case tf <= g.nextStart && tf <= g.nextMal:
			slot := g.heap[0].slot
			f := &g.flows[slot]
			t := f.next
			n, done := g.step(f)
			if done {
				g.pop()
				g.release(slot)
			} else {
				g.heap[0].t = f.next
				g.down(0)
			}
			if n > 0 {
				g.frame(fr, t, f.iface, n)
				return true
			}
		case g.nextStart <= g.nextMal:
			slot := g.newFlow(g.nextStart)
			g.planStart()
			f := &g.flows[slot]
			t := f.next
			n, done := g.step(f)
			if done {
				g.release(slot)
			} else {
				g.push(slot)
			}
			if n > 0 {
				g.frame(fr, t, f.iface, n)
				return true
			}
		default:
			t := g.nextMal
			n := g.malformed(g.malDone)
			g.malDone++
			g.planMalformed()
			g.frame(fr, t, 0, n)
			return true
		}
	}
}

func (g *Generator) frame(fr *capture.Frame, t int64, iface uint8, n int) {
	wire := n
	if g.wire > n {
		wire = g.wire
	}
	g.wire = 0
	*fr = capture.Frame{
		Data:      g.buf[:n:n],
		Timestamp: t,
		WireLen:   uint32(wire),
		LinkType:  g.s.ifaces[iface].Link.LinkType(),
		Interface: uint32(iface),
	}
	g.truth.Packets++
	g.truth.Bytes += uint64(n)
	if t < g.truth.First || g.truth.Packets == 1 {
		g.truth.First = t
	}
	g.truth.Last = max(g.truth.Last, t)
}

// heapEnt is a heap entry: a flow's slot with its ordering key copied in,
// so that sifting never touches the flow slab (reading the slab to compare
// was 40 % of the CPU profile with 100 k flows, 2026-11).
type heapEnt struct {
	t    int64 // the flow's next
	id   uint32
	slot uint32
}

func (a heapEnt) less(b heapEnt) bool { return a.t < b.t || a.t == b.t && a.id < b.id }

func (g *Generator) push(slot uint32) {
	f := &g.flows[slot]
	g.heap = append(g.heap, heapEnt{f.next, f.id, slot})
	h := g.heap
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (g *Generator) pop() {
	n := len(g.heap) - 1
	g.heap[0] = g.heap[n]
	g.heap = g.heap[:n]
	if n > 0 {
		g.down(0)
	}
}

func (g *Generator) down(i int) {
	h := g.heap
	n := len(h)
	e := h[i]
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r].less(h[l]) {
			m = r
		}
		if !h[m].less(e) {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = e
}

func (g *Generator) release(slot uint32) {
	f := &g.flows[slot]
	if f.quote >= 0 {
		g.qfree = append(g.qfree, f.quote)
		f.quote = -1
	}
	if f.rec >= 0 {
		g.closeRec(f.rec, "active")
		g.rfree = append(g.rfree, f.rec)
		f.rec = -1
	}
	g.free = append(g.free, slot)
}

// budget draws a connection's packet count: least (what its script needs
// at the very least) plus a Lomax draw with the rest of the mean, so that
// every kind of flow averages MeanPackets when it can.
func (g *Generator) budget(least int) int {
	s := g.s
	m := s.MeanPackets - float64(least)
	u := g.r.float()
	if m <= 0 {
		return least
	}
	var x float64
	if s.alpha > 0 {
		x = m * (s.alpha - 1) * (math.Pow(1-u, -1/s.alpha) - 1)
	} else {
		x = -m * math.Log(1-u)
	}
	return max(min(least+int(x+0.5), s.maxPkts), least)
}

// timing sets a flow's pace for a budget of b packets: a round trip of
// 0.3-60 ms (less for big flows), segments of a burst 1/50 of it apart,
// think times up to 6 s/b (at most 1 s), so that even an elephant lasts a
// few seconds and no gap between two packets of a flow reaches 5 s.
func (g *Generator) timing(f *flow, b int) {
	f.rtt = g.r.logSpan(300_000, 60_000_000)
	f.rtt = min(f.rtt, max(50_000, 4_000_000_000/int64(b)))
	f.pace = min(max(6_000_000_000/int64(b), 10_000), 1_000_000_000)
	f.gap = max(f.rtt/50, 2_000)
}

// split turns a budget into request/response exchanges, rounding an odd
// budget up or down at random.
func (g *Generator) split(b int) uint16 {
	p := b / 2
	if b%2 == 1 && g.r.intn(2) == 1 {
		p++
	}
	return uint16(min(max(p, 1), 65535))
}

// newFlow starts a flow at time t and returns its slot.
func (g *Generator) newFlow(t int64) uint32 {
	var slot uint32
	if n := len(g.free); n > 0 {
		slot = g.free[n-1]
		g.free = g.free[:n-1]
	} else {
		g.flows = append(g.flows, flow{})
		slot = uint32(len(g.flows) - 1)
	}
	s, r := g.s, g.r
	f := &g.flows[slot]
	*f = flow{next: t, id: uint32(g.started), rec: -1, quote: -1}
	g.started++
	f.iface = uint8(pick(s.ifCum, r.float()))
	f.proto = uint8(pick(s.mix[:], r.float()))
	if r.chance(s.IPv6) {
		f.flags |= fV6
	}
	if s.ifaces[f.iface].Link == Ethernet {
		u := r.float()
		switch {
		case u < s.QinQ:
			f.nvlan = 2
		case u < s.QinQ+s.VLAN:
			f.nvlan = 1
		}
		for i := range f.nvlan {
			f.vlan[i] = uint16(r.between(1, 4094))
		}
	}
	v, ic := 0, 0
	if f.v6() {
		v = 1
	}
	if f.proto == pICMP {
		ic = 1
		f.host = g.hosts[v][ic]
		g.hosts[v][ic]++
	} else {
		n := g.hosts[v][ic]
		g.hosts[v][ic]++
		f.host = n / clientSlots
		f.cport = uint16(1024 + int(n%clientSlots)*clientPorts + r.intn(clientPorts))
	}
	f.server = uint16(r.intn(numServers))
	if r.chance(s.IPOptions) {
		f.opt = 1
	}
	f.ipidC, f.ipidS = r.u16(), r.u16()
	f.tagC, f.tagS = r.u32()|1, r.u32()|1

	switch f.proto {
	case pTCP:
		f.sport = [...]uint16{443, 443, 443, 80, 80, 22, 8080, 25}[r.intn(8)]
		if r.chance(s.Reuse) && g.started+g.reserved < s.Flows {
			f.reuse = 1
			g.reserved++
		}
		g.tcpConnect(f, true)
	case pUDP:
		f.sport = [...]uint16{53, 53, 53, 123, 443, 514, 161, 5353}[r.intn(8)]
		g.udpInit(f)
	case pICMP:
		g.echoInit(f)
	case pSCTP:
		f.sport = [...]uint16{2905, 3868, 36412, 38412}[r.intn(4)]
		g.sctpInit(f)
	}
	if g.recording() {
		f.rec = g.openRec()
	}
	return slot
}

// ext6 returns the IPv6 extension header type f's packets carry when
// f.opt is set: hop-by-hop options for even flows, destination options for
// odd ones.
func (f *flow) ext6() uint8 {
	if f.id%2 == 0 {
		return ip6HopByHop
	}
	return ip6DestOpts
}

// after schedules f's next packet gap ns later, on a whole tick of its
// interface's resolution.
func (g *Generator) after(f *flow, gap int64) {
	step := g.s.ifStep[f.iface]
	gap = max(gap, step)
	f.next += (gap + step - 1) / step * step
}

// payload draws the IP size of a data packet and returns the payload
// bytes for a packet with hdr bytes of IP and transport headers, between 1
// and max.
func (g *Generator) payload(hdr, most int) int {
	r, mtu := g.r, g.s.MTU
	var ip int
	switch g.s.Sizes {
	case IMIX:
		switch u := r.intn(12); {
		case u < 7:
			ip = r.between(40, 100)
		case u < 11:
			ip = 576
		default:
			ip = mtu
		}
	case Small:
		ip = r.between(40, 128)
	case Large:
		ip = r.between(1000, mtu)
	default:
		ip = r.between(40, mtu)
	}
	return min(max(ip-hdr, 1), most)
}

// ipOverhead returns the IP header bytes of f's packets.
func (f *flow) ipOverhead() int {
	if f.v6() {
		if f.opt != 0 {
			return 48
		}
		return 40
	}
	if f.opt != 0 {
		return 24
	}
	return 20
}

// addrs fills g.src and g.dst for a packet of f sent by the client when
// fromClient.
func (g *Generator) addrs(f *flow, fromClient bool) {
	if fromClient {
		f.clientAddr(g.src[:])
		f.serverAddr(g.dst[:])
	} else {
		f.serverAddr(g.src[:])
		f.clientAddr(g.dst[:])
	}
}

// begin writes the link and IP headers of a packet of f whose transport
// bytes (l4len, or the fragment's) follow, and returns the transport
// offset and the pseudo-header sum.
func (g *Generator) begin(f *flow, fromClient bool, proto uint8, l4len int, df bool, fr *fragment) (int, uint64) {
	g.addrs(f, fromClient)
	et := uint16(etherIPv4)
	if f.v6() {
		et = etherIPv6
	}
	n := g.linkHeader(g.buf, f, fromClient, et)
	g.ipOff = n
	ttl, id := uint8(64), f.ipidC
	if fromClient {
		f.ipidC++
	} else {
		ttl, id = 57, f.ipidS
		f.ipidS++
	}
	if f.v6() {
		id = uint16(f.id * 2654435761 >> 12) // flow label seed
	}
	hl, ps := ipHeader(g.buf[n:], f.v6(), f.opt != 0, f.ext6(), &g.src, &g.dst, proto, ttl, id, df, l4len, fr)
	return n + hl, ps
}

// finishFrame pads an Ethernet frame of n bytes and returns its length.
func (g *Generator) finishFrame(iface uint8, n int) int {
	if g.s.ifaces[iface].Link == Ethernet && n < minEthernet {
		clear(g.buf[n:minEthernet])
		n = minEthernet
	}
	return n
}

func (g *Generator) ipProto(f *flow) uint8 {
	switch f.proto {
	case pTCP:
		return protoTCP
	case pUDP:
		return protoUDP
	case pSCTP:
		return protoSCTP
	}
	if f.v6() {
		return protoICMPv6
	}
	return protoICMP
}

// step makes f's next packet into g.buf and schedules the one after. It
// returns the frame length (0 when the step made no packet) and whether f
// is done.
func (g *Generator) step(f *flow) (int, bool) {
	g.now = f.next
	if f.flags&fPendErr != 0 {
		f.flags &^= fPendErr
		n := g.icmpError(f)
		if f.phase == phEnd {
			return n, true
		}
		g.after(f, g.r.span(f.gap, max(f.gap, f.pace)))
		return n, false
	}
	switch f.proto {
	case pTCP:
		return g.stepTCP(f)
	case pUDP:
		return g.stepUDP(f)
	case pICMP:
		return g.stepEcho(f)
	}
	return g.stepSCTP(f)
}

// saveQuote keeps the IP packet just made (cut to what an ICMP error
// quotes: IPv4 its header and 8 to 64 more bytes, IPv6 as much as fits in
// 1280 bytes) for the error message due next, which the quoted packet's
// sender receives.
func (g *Generator) saveQuote(f *flow) {
	ip, iplen := g.ipOff, g.ipLen
	var q int
	if f.v6() {
		q = min(iplen, 1280-48)
	} else {
		q = min(iplen, g.ipHdr+g.r.intn(57))
	}
	var i int32
	if n := len(g.qfree); n > 0 {
		i = g.qfree[n-1]
		g.qfree = g.qfree[:n-1]
	} else {
		g.quote = append(g.quote, make([]byte, 0, 1280))
		i = int32(len(g.quote) - 1)
	}
	g.quote[i] = append(g.quote[i][:0], g.buf[ip:ip+q]...)
	f.quote = i
	f.flags |= fPendErr
}

// icmpError makes the pending ICMP error of f: port unreachable from the
// server (UDP) or time exceeded from a router (TCP), sent to the sender of
// the quoted packet.
func (g *Generator) icmpError(f *flow) int {
	q := g.quote[f.quote]
	g.qfree = append(g.qfree, f.quote)
	f.quote = -1
	v6 := f.v6()
	var qsrc [16]byte
	if v6 {
		copy(qsrc[:], q[8:24])
	} else {
		copy(qsrc[:4], q[12:16])
	}
	var cl [16]byte
	f.clientAddr(cl[:])
	toClient := qsrc == cl
	typ, code := uint8(11), uint8(0) // time exceeded in transit
	if f.proto == pUDP {
		typ, code = 3, 3 // port unreachable
	}
	if v6 {
		typ, code = 3, 0
		if f.proto == pUDP {
			typ, code = 1, 4
		}
	}
	// The sender: the server for port unreachable, else a router.
	if f.proto == pUDP {
		f.serverAddr(g.src[:])
	} else {
		routerAddr(g.src[:], v6)
	}
	g.dst = qsrc
	et := uint16(etherIPv4)
	proto := uint8(protoICMP)
	if v6 {
		et, proto = etherIPv6, protoICMPv6
	}
	n := g.linkHeader(g.buf, f, !toClient, et)
	g.ipOff = n
	l4 := 8 + len(q)
	ttl := uint8(60)
	hl, ps := ipHeader(g.buf[n:], v6, false, 0, &g.src, &g.dst, proto, ttl, f.ipidS^0x5555, false, l4, nil)
	b := g.buf[n+hl:]
	b[0], b[1], b[2], b[3] = typ, code, 0, 0
	b[4], b[5], b[6], b[7] = 0, 0, 0, 0
	copy(b[8:], q)
	s := OnesSum(0, b[:l4])
	if v6 {
		s += ps
	}
	binary.BigEndian.PutUint16(b[2:], Fold(s))
	frame := g.finishFrame(f.iface, n+hl+l4)
	g.count(f, !toClient, frame, hl+l4, 0, true)
	return frame
}
