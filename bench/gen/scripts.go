package gen

import (
	"encoding/binary"
	"hash/crc32"
)

// Each flow follows a script, one packet per step. A step builds the packet
// into g.buf, counts it toward the truth, moves the script on and schedules
// the next packet with g.after; it returns the frame length and whether the
// flow is done.

const (
	ms = 1_000_000
	us = 1_000
)

// finish ends f's script: at once, or after the ICMP error still due.
func (g *Generator) finish(f *flow) bool {
	if f.flags&fPendErr != 0 {
		f.phase = phEnd
		return false
	}
	return true
}

// ---- TCP ----

// tcpConnect sets f up for a new TCP connection; first is false for a
// reconnection on the same tuple.
func (g *Generator) tcpConnect(f *flow, first bool) {
	s, r := g.s, g.r
	f.flags &^= fUnanswered | fReject | fSynAck | fICMPErr | fAckDue | fBurstSrv | fCloserSrv | fHalf
	if first && r.chance(0.6) {
		f.flags |= fTCPTS
	}
	switch u := r.float(); {
	case u < s.Reject:
		f.flags |= fReject
	case u < s.Reject+s.Unanswered:
		// Unanswered SYNs leave the flow new, and a SYN on a new flow is
		// a retransmission, not a reuse: no reconnection after them.
		if f.reuse == 0 {
			f.flags |= fUnanswered
		}
	case u < s.Reject+s.Unanswered+s.SynAck:
		if first {
			f.flags |= fSynAck
		}
	}
	f.end = uint8(pick(s.ends[:], r.float()))
	if f.reuse > 0 && f.end == endOpen {
		f.end = endFIN // a reconnection needs the connection closed
	}
	if f.end == endFIN && r.chance(s.HalfClose) {
		f.flags |= fHalf
	}
	if r.intn(2) == 1 {
		f.flags |= fCloserSrv
	}
	f.seqC, f.seqS = r.u32(), r.u32()
	fixed := 3
	switch {
	case f.end == endFIN && f.flags&fHalf != 0:
		fixed += 2
	case f.end == endFIN:
		fixed += 3
	case f.end == endRST:
		fixed++
	}
	b := g.budget(fixed + 2) // at least a request and a response
	if first {
		g.timing(f, b)
	}
	f.left = int32(b - fixed)
	f.segs, f.errAt, f.burst, f.sinceA, f.sub = 0, 0, 0, 0, 0
	if f.flags&(fReject|fUnanswered) == 0 && r.chance(s.ICMPErrors) {
		f.flags |= fICMPErr
		f.errAt = uint32(1 + r.intn(int(max(f.left/2, 1))))
	}
	f.phase = phSyn
	if f.flags&fSynAck != 0 {
		f.phase = phSynAck
		f.seqC++ // the SYN we did not see
	}
}

// tcpDone ends a connection: the flow reconnects on the same tuple when a
// reuse is due, or ends.
func (g *Generator) tcpDone(f *flow) bool {
	if f.reuse == 0 {
		return g.finish(f)
	}
	f.reuse--
	g.tcpConnect(f, false)
	g.after(f, g.r.span(10*ms, 500*ms))
	return false
}

// tsval is a TCP timestamp of the client or the server at time t.
func (f *flow) tsval(fromClient bool, t int64) uint32 {
	if fromClient {
		return f.tagC + uint32(t/ms)
	}
	return f.tagS + uint32(t/ms)
}

// tcpOptions returns the options of a segment.
func (g *Generator) tcpOptions(f *flow, fromClient bool, flags uint8) []byte {
	o := g.opts[:0]
	ts := f.flags&fTCPTS != 0
	if flags&rst != 0 {
		return o
	}
	if flags&syn != 0 {
		mss := uint16(g.s.MTU - 40)
		if f.v6() {
			mss -= 20
		}
		o = append(o, 2, 4, byte(mss>>8), byte(mss))
		if ts {
			o = append(o, 4, 2) // SACK permitted
			o = g.tsOption(o, f, fromClient, flags&ack == 0)
			o = append(o, 1, 3, 3, 7) // NOP, window scale 7
		} else {
			o = append(o, 1, 1, 4, 2, 1, 3, 3, 7)
		}
		return o
	}
	if ts {
		o = append(o, 1, 1)
		o = g.tsOption(o, f, fromClient, false)
	}
	return o
}

func (g *Generator) tsOption(o []byte, f *flow, fromClient, noEcho bool) []byte {
	t := g.now
	var ecr uint32
	if !noEcho {
		ecr = f.tsval(!fromClient, t-f.rtt/2)
	}
	o = append(o, 8, 10)
	o = binary.BigEndian.AppendUint32(o, f.tsval(fromClient, t))
	return binary.BigEndian.AppendUint32(o, ecr)
}

// tcpSeg makes one TCP segment with plen payload bytes.
func (g *Generator) tcpSeg(f *flow, fromClient bool, flags uint8, seq, ackn uint32, plen int) int {
	opt := g.tcpOptions(f, fromClient, flags)
	hl := 20 + len(opt)
	l4 := hl + plen
	off, ps := g.begin(f, fromClient, protoTCP, l4, true, nil)
	b := g.buf[off : off+l4]
	sp, dp := f.cport, f.sport
	win := uint16(502)
	if !fromClient {
		sp, dp, win = dp, sp, 501
	}
	if flags&syn != 0 {
		win = 64240
	}
	tcpHeader(b, sp, dp, seq, ackn, flags, win, opt)
	po := 2 * g.r.intn(patLen/8)
	copy(b[hl:], g.pat.b[po:po+plen])
	binary.BigEndian.PutUint16(b[16:], Fold(ps+OnesSum(0, b[:hl])+g.pat.sum(po, plen)))
	g.ipHdr, g.ipLen = off-g.ipOff+8, off-g.ipOff+l4 // 8: what RFC 792 quotes at least
	frame := g.finishFrame(f.iface, off+l4)
	g.count(f, fromClient, frame, off-g.ipOff+l4, flags, false)
	return frame
}

// newBurst starts a burst of data segments from the server when srv, else
// from the client.
func (g *Generator) newBurst(f *flow, srv bool) {
	if srv {
		f.flags |= fBurstSrv
		f.burst = int32(g.r.between(1, int(min(max(f.left, 1), 64))))
	} else {
		f.flags &^= fBurstSrv
		f.burst = int32(g.r.between(1, 2))
	}
	f.sinceA = 0
}

func (g *Generator) stepTCP(f *flow) (int, bool) {
	closer := f.flags&fCloserSrv == 0 // true: the client closes
	switch f.phase {
	case phSyn:
		seq := f.seqC
		if f.sub > 0 {
			seq-- // a retransmission
		}
		n := g.tcpSeg(f, true, syn, seq, 0, 0)
		if f.sub == 0 {
			f.seqC++
		}
		switch {
		case f.flags&fUnanswered != 0:
			f.sub++
			if f.sub >= 3 {
				return n, g.tcpDone(f)
			}
			g.after(f, 1000*ms<<(f.sub-1))
		case f.flags&fReject != 0:
			f.phase = phRejectRst
			g.after(f, f.rtt)
		default:
			f.phase = phSynAck
			g.after(f, f.rtt)
		}
		return n, false
	case phSynAck:
		n := g.tcpSeg(f, false, syn|ack, f.seqS, f.seqC, 0)
		f.seqS++
		f.phase = phAck
		g.after(f, f.gap)
		return n, false
	case phAck:
		n := g.tcpSeg(f, true, ack, f.seqC, f.seqS, 0)
		f.phase = phData
		g.newBurst(f, false)
		g.after(f, f.gap)
		return n, false
	case phData:
		return g.tcpData(f)
	case phRejectRst:
		n := g.tcpSeg(f, false, rst|ack, 0, f.seqC, 0)
		return n, g.tcpDone(f)
	case phFin1:
		n := g.tcpCtl(f, closer, fin|ack)
		f.phase = phFin2
		g.after(f, f.rtt)
		return n, false
	case phFin2:
		if f.flags&fHalf != 0 {
			n := g.tcpCtl(f, !closer, ack)
			return n, g.tcpDone(f)
		}
		n := g.tcpCtl(f, !closer, fin|ack)
		f.phase = phFin3
		g.after(f, f.gap)
		return n, false
	case phFin3:
		n := g.tcpCtl(f, closer, ack)
		return n, g.tcpDone(f)
	case phRst:
		n := g.tcpCtl(f, closer, rst|ack)
		return n, g.tcpDone(f)
	}
	return 0, true
}

// tcpCtl makes a segment without payload from the client when fromClient;
// a FIN takes a sequence number.
func (g *Generator) tcpCtl(f *flow, fromClient bool, flags uint8) int {
	if fromClient {
		n := g.tcpSeg(f, true, flags, f.seqC, f.seqS, 0)
		if flags&fin != 0 {
			f.seqC++
		}
		return n
	}
	n := g.tcpSeg(f, false, flags, f.seqS, f.seqC, 0)
	if flags&fin != 0 {
		f.seqS++
	}
	return n
}

func (g *Generator) tcpData(f *flow) (int, bool) {
	r := g.r
	srv := f.flags&fBurstSrv != 0
	if f.flags&fAckDue != 0 {
		f.flags &^= fAckDue
		n := g.tcpCtl(f, srv, ack) // the receiver acknowledges
		f.left--
		if f.left <= 0 {
			return n, g.tcpEnd(f)
		}
		g.after(f, r.span(f.gap/2, f.gap*3/2))
		return n, false
	}
	hdr := f.ipOverhead() + 20
	if f.flags&fTCPTS != 0 {
		hdr += 12
	}
	p := g.payload(hdr, g.s.MTU-hdr)
	f.burst--
	flags := uint8(ack)
	if f.burst <= 0 || f.left <= 1 {
		flags |= psh
	}
	var n int
	if srv {
		n = g.tcpSeg(f, false, flags, f.seqS, f.seqC, p)
		f.seqS += uint32(p)
	} else {
		n = g.tcpSeg(f, true, flags, f.seqC, f.seqS, p)
		f.seqC += uint32(p)
	}
	f.left--
	f.segs++
	f.sinceA++
	if f.segs == f.errAt {
		g.saveQuote(f)
	}
	gap := r.span(f.gap/2, f.gap*3/2)
	switch {
	case f.burst <= 0:
		if f.left > 0 {
			g.newBurst(f, !srv)
		}
		if srv {
			gap = r.span(0, f.pace) // the client thinks
		} else {
			gap = r.span(f.rtt/2, f.rtt) // the server answers
		}
	case f.sinceA >= 2:
		f.sinceA = 0
		f.flags |= fAckDue
	}
	if f.left <= 0 && f.flags&fAckDue == 0 {
		return n, g.tcpEnd(f)
	}
	g.after(f, gap)
	return n, false
}

// tcpEnd moves a connection whose data is done to its ending.
func (g *Generator) tcpEnd(f *flow) bool {
	switch f.end {
	case endFIN:
		f.phase = phFin1
	case endRST:
		f.phase = phRst
	default:
		return g.tcpDone(f)
	}
	g.after(f, g.r.span(f.gap, f.rtt))
	return false
}

// ---- UDP ----

func (g *Generator) udpInit(f *flow) {
	s, r := g.s, g.r
	switch {
	case r.chance(s.Unanswered):
		f.flags |= fUnanswered
		f.pairs = uint16(r.between(1, 3))
		g.timing(f, int(f.pairs))
	case r.chance(s.ICMPErrors):
		f.flags |= fICMPErr
		f.pairs = uint16(r.between(1, 3))
		g.timing(f, 2*int(f.pairs))
	default:
		b := g.budget(2)
		g.timing(f, b)
		f.pairs = g.split(b)
	}
	if f.flags&fICMPErr == 0 && r.chance(s.Fragments) {
		f.fragAt = uint16(1 + r.intn(int(f.pairs)))
		if f.flags&fUnanswered == 0 && r.intn(2) == 1 {
			f.flags |= fFragSrv
		}
		f.nfrag = uint8(r.between(2, 4))
		fd := g.fragData(f)
		f.fragL = uint16((int(f.nfrag)-1)*fd + r.between(1, fd))
		f.fragP = uint16(2 * r.intn(patLen/8))
	}
	f.phase = phReq
}

// fragData returns the data bytes of every fragment but the last.
func (g *Generator) fragData(f *flow) int {
	if f.v6() {
		return (g.s.MTU - f.ipOverhead() - 8) &^ 7
	}
	return (g.s.MTU - f.ipOverhead()) &^ 7
}

func (g *Generator) stepUDP(f *flow) (int, bool) {
	r := g.r
	switch f.phase {
	case phReq:
		var n int
		if f.fragAt == f.exch+1 && f.flags&fFragSrv == 0 {
			n = g.udpFragment(f, true)
			if f.sub < f.nfrag {
				g.after(f, r.span(5*us, 50*us))
				return n, false
			}
			f.sub = 0
		} else {
			n = g.udpDatagram(f, true)
		}
		switch {
		case f.flags&fICMPErr != 0:
			g.saveQuote(f)
			f.exch++
			if f.exch >= f.pairs {
				f.phase = phEnd
			}
			g.after(f, f.rtt)
		case f.flags&fUnanswered != 0:
			f.exch++
			if f.exch >= f.pairs {
				return n, true
			}
			g.after(f, r.span(f.rtt, max(f.rtt, f.pace)))
		default:
			f.phase = phResp
			g.after(f, f.rtt)
		}
		return n, false
	case phResp:
		var n int
		if f.fragAt == f.exch+1 && f.flags&fFragSrv != 0 {
			n = g.udpFragment(f, false)
			if f.sub < f.nfrag {
				g.after(f, r.span(5*us, 50*us))
				return n, false
			}
			f.sub = 0
		} else {
			n = g.udpDatagram(f, false)
		}
		return n, g.answered(f)
	}
	return 0, true
}

// answered ends an exchange whose answer was just sent: it reports whether
// that was the flow's last, and otherwise schedules the next request.
func (g *Generator) answered(f *flow) (done bool) {
	f.exch++
	if f.exch >= f.pairs {
		return true
	}
	f.phase = phReq
	g.after(f, g.r.span(f.gap, f.pace))
	return false
}

func (g *Generator) udpDatagram(f *flow, fromClient bool) int {
	hdr := f.ipOverhead() + 8
	p := g.payload(hdr, g.s.MTU-hdr)
	l4 := 8 + p
	off, ps := g.begin(f, fromClient, protoUDP, l4, false, nil)
	b := g.buf[off : off+l4]
	g.udpHeader(b, f, fromClient, l4)
	po := 2 * g.r.intn(patLen/8)
	copy(b[8:], g.pat.b[po:po+p])
	c := Fold(ps + OnesSum(0, b[:8]) + g.pat.sum(po, p))
	if c == 0 {
		c = 0xFFFF
	}
	binary.BigEndian.PutUint16(b[6:], c)
	g.ipHdr, g.ipLen = off-g.ipOff+8, off-g.ipOff+l4
	frame := g.finishFrame(f.iface, off+l4)
	g.count(f, fromClient, frame, off-g.ipOff+l4, 0, false)
	return frame
}

func (g *Generator) udpHeader(b []byte, f *flow, fromClient bool, l4 int) {
	sp, dp := f.cport, f.sport
	if !fromClient {
		sp, dp = dp, sp
	}
	binary.BigEndian.PutUint16(b[0:], sp)
	binary.BigEndian.PutUint16(b[2:], dp)
	binary.BigEndian.PutUint16(b[4:], uint16(l4))
	b[6], b[7] = 0, 0
}

// udpFragment makes fragment f.sub of the flow's fragmented datagram and
// moves f.sub on.
func (g *Generator) udpFragment(f *flow, fromClient bool) int {
	fd := g.fragData(f)
	total := int(f.fragL)
	i := int(f.sub)
	if i == 0 {
		if f.v6() {
			f.fragID = g.r.u32()
		} else if fromClient {
			f.fragID = uint32(f.ipidC)
		} else {
			f.fragID = uint32(f.ipidS)
		}
	}
	fr := fragment{id: f.fragID, off: i * fd, total: total}
	n := min(fd, total-fr.off)
	fr.more = fr.off+n < total
	off, ps := g.begin(f, fromClient, protoUDP, n, false, &fr)
	b := g.buf[off : off+n]
	po := int(f.fragP)
	if i == 0 {
		g.udpHeader(b, f, fromClient, total)
		copy(b[8:], g.pat.b[po:po+n-8])
		c := Fold(ps + OnesSum(0, b[:8]) + g.pat.sum(po, total-8))
		if c == 0 {
			c = 0xFFFF
		}
		binary.BigEndian.PutUint16(b[6:], c)
	} else {
		copy(b, g.pat.b[po+fr.off-8:po+fr.off-8+n])
	}
	f.sub++
	frame := g.finishFrame(f.iface, off+n)
	g.count(f, fromClient, frame, off-g.ipOff+n, 0, false)
	if f.rec >= 0 {
		g.recs[f.rec].fl.Fragmented = true
	}
	return frame
}

// ---- ICMP echo ----

func (g *Generator) echoInit(f *flow) {
	s, r := g.s, g.r
	f.echoID = r.u16()
	f.seq = 1
	f.psize = 56 // ping's default
	if r.intn(4) == 0 {
		f.psize = uint16(g.payload(f.ipOverhead()+8, s.MTU-f.ipOverhead()-8))
	}
	if r.chance(s.Unanswered) {
		f.flags |= fUnanswered
		f.pairs = uint16(r.between(1, 4))
		g.timing(f, int(f.pairs))
	} else {
		b := g.budget(2)
		g.timing(f, b)
		f.pairs = g.split(b)
	}
	f.phase = phReq
}

func (g *Generator) stepEcho(f *flow) (int, bool) {
	r := g.r
	switch f.phase {
	case phReq:
		if f.pairs >= 4 && f.exch == f.pairs/2 && f.sub == 0 {
			// A second ping run between the same hosts, with another id:
			// still the same flow, as the echo id is not in the key.
			f.echoID++
			f.seq = 1
			f.sub = 1
		}
		n := g.echo(f, true)
		if f.flags&fUnanswered != 0 {
			f.exch++
			f.seq++
			if f.exch >= f.pairs {
				return n, true
			}
			g.after(f, r.span(f.rtt, max(f.rtt, f.pace)))
			return n, false
		}
		f.phase = phResp
		g.after(f, f.rtt)
		return n, false
	case phResp:
		n := g.echo(f, false)
		f.seq++
		return n, g.answered(f)
	}
	return 0, true
}

func (g *Generator) echo(f *flow, request bool) int {
	p := int(f.psize)
	l4 := 8 + p
	proto := uint8(protoICMP)
	typ := uint8(8)
	if !request {
		typ = 0
	}
	if f.v6() {
		proto, typ = protoICMPv6, 128
		if !request {
			typ = 129
		}
	}
	off, ps := g.begin(f, request, proto, l4, false, nil)
	b := g.buf[off : off+l4]
	b[0], b[1], b[2], b[3] = typ, 0, 0, 0
	binary.BigEndian.PutUint16(b[4:], f.echoID)
	binary.BigEndian.PutUint16(b[6:], f.seq)
	po := 2 * int(f.id%(patLen/8))
	copy(b[8:], g.pat.b[po:po+p])
	s := OnesSum(0, b[:8]) + g.pat.sum(po, p)
	if f.v6() {
		s += ps
	}
	binary.BigEndian.PutUint16(b[2:], Fold(s))
	frame := g.finishFrame(f.iface, off+l4)
	g.count(f, request, frame, off-g.ipOff+l4, 0, false)
	return frame
}

// ---- SCTP ----

func (g *Generator) sctpInit(f *flow) {
	s, r := g.s, g.r
	if r.chance(s.Unanswered) {
		f.flags |= fUnanswered
	}
	// Handshake (4) and shutdown (3) around DATA/SACK pairs.
	b := g.budget(9)
	g.timing(f, b)
	f.pairs = g.split(b - 7)
	f.seqC, f.seqS = r.u32(), r.u32()
	f.phase = phInit
}

// SCTP chunk types.
const (
	chData             = 0
	chInit             = 1
	chInitAck          = 2
	chSack             = 3
	chShutdown         = 7
	chShutdownAck      = 8
	chCookieEcho       = 10
	chCookieAck        = 11
	chShutdownComplete = 14
	cookieLen          = 24
)

func (g *Generator) stepSCTP(f *flow) (int, bool) {
	r := g.r
	switch f.phase {
	case phInit:
		n := g.sctp(f, true, chInit, 0)
		if f.flags&fUnanswered != 0 {
			f.sub++
			if f.sub >= 3 {
				return n, true
			}
			g.after(f, 1000*ms<<(f.sub-1))
			return n, false
		}
		f.phase = phInitAck
		g.after(f, f.rtt)
		return n, false
	case phInitAck:
		n := g.sctp(f, false, chInitAck, 0)
		f.phase = phCookieEcho
		g.after(f, f.gap)
		return n, false
	case phCookieEcho:
		n := g.sctp(f, true, chCookieEcho, 0)
		f.phase = phCookieAck
		g.after(f, f.rtt)
		return n, false
	case phCookieAck:
		n := g.sctp(f, false, chCookieAck, 0)
		f.phase = phSData
		g.after(f, f.gap)
		return n, false
	case phSData:
		srv := f.flags&fBurstSrv != 0
		hdr := f.ipOverhead() + 12 + 16
		p := g.payload(hdr, g.s.MTU-hdr-3)
		n := g.sctp(f, !srv, chData, p)
		f.phase = phSSack
		g.after(f, f.rtt)
		return n, false
	case phSSack:
		srv := f.flags&fBurstSrv != 0
		n := g.sctp(f, srv, chSack, 0)
		f.flags ^= fBurstSrv
		f.exch++
		if f.exch >= f.pairs {
			f.phase = phShutdown
			g.after(f, r.span(f.gap, f.rtt))
			return n, false
		}
		f.phase = phSData
		g.after(f, r.span(f.gap, f.pace))
		return n, false
	case phShutdown:
		n := g.sctp(f, true, chShutdown, 0)
		f.phase = phShutdownAck
		g.after(f, f.rtt)
		return n, false
	case phShutdownAck:
		n := g.sctp(f, false, chShutdownAck, 0)
		f.phase = phShutdownComplete
		g.after(f, f.gap)
		return n, false
	case phShutdownComplete:
		n := g.sctp(f, true, chShutdownComplete, 0)
		return n, true
	}
	return 0, true
}

// sctp makes an SCTP packet holding one chunk of type ch (with p payload
// bytes for DATA).
func (g *Generator) sctp(f *flow, fromClient bool, ch uint8, p int) int {
	var cl int // chunk length without padding
	switch ch {
	case chInit:
		cl = 20
	case chInitAck:
		cl = 20 + 4 + cookieLen
	case chCookieEcho:
		cl = 4 + cookieLen
	case chData:
		cl = 16 + p
	case chSack:
		cl = 16
	case chShutdown:
		cl = 8
	default:
		cl = 4
	}
	l4 := 12 + (cl+3)&^3
	off, _ := g.begin(f, fromClient, protoSCTP, l4, true, nil)
	b := g.buf[off : off+l4]
	sp, dp := f.cport, f.sport
	vtag := f.tagS // packets to the server carry the server's tag
	if !fromClient {
		sp, dp, vtag = dp, sp, f.tagC
	}
	if ch == chInit {
		vtag = 0
	}
	binary.BigEndian.PutUint16(b[0:], sp)
	binary.BigEndian.PutUint16(b[2:], dp)
	binary.BigEndian.PutUint32(b[4:], vtag)
	clear(b[8:])
	c := b[12:]
	c[0] = ch
	binary.BigEndian.PutUint16(c[2:], uint16(cl))
	myTag, myTSN, peerTSN := f.tagC, &f.seqC, f.seqS
	if !fromClient {
		myTag, myTSN, peerTSN = f.tagS, &f.seqS, f.seqC
	}
	switch ch {
	case chInit, chInitAck:
		binary.BigEndian.PutUint32(c[4:], myTag)
		binary.BigEndian.PutUint32(c[8:], 106496) // a_rwnd
		binary.BigEndian.PutUint16(c[12:], 10)    // outbound streams
		binary.BigEndian.PutUint16(c[14:], 10)    // inbound streams
		binary.BigEndian.PutUint32(c[16:], *myTSN)
		if ch == chInitAck {
			binary.BigEndian.PutUint16(c[20:], 7) // state cookie
			binary.BigEndian.PutUint16(c[22:], 4+cookieLen)
			copy(c[24:], g.pat.b[int(f.id%1024)*8:][:cookieLen])
		}
	case chCookieEcho:
		copy(c[4:], g.pat.b[int(f.id%1024)*8:][:cookieLen])
	case chData:
		c[1] = 0x03 // beginning and end of a message
		binary.BigEndian.PutUint32(c[4:], *myTSN)
		*myTSN++
		binary.BigEndian.PutUint16(c[8:], 0) // stream
		binary.BigEndian.PutUint16(c[10:], f.seq)
		f.seq++
		binary.BigEndian.PutUint32(c[12:], 0) // payload protocol
		po := 2 * g.r.intn(patLen/8)
		copy(c[16:], g.pat.b[po:po+p])
	case chSack:
		binary.BigEndian.PutUint32(c[4:], peerTSN-1)
		binary.BigEndian.PutUint32(c[8:], 106496)
	case chShutdown:
		binary.BigEndian.PutUint32(c[4:], peerTSN-1)
	}
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b, castagnoli))
	frame := g.finishFrame(f.iface, off+l4)
	g.count(f, fromClient, frame, off-g.ipOff+l4, 0, false)
	return frame
}
