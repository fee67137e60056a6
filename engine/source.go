package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/flowtable"
)

// source reads one capture source, decodes its frames, and hands the packets
// to the workers in batches.
//
// Every batch of frames takes the same steps, in one loop (readAll): count
// it and move the engine clock; decode it into packets (decodeBatch: right
// here with one worker, on the decoder pool with several, see pipeline.go);
// then, in capture order, run the fragment tracker and deal the packets to
// the workers that own their flows (finish).
type source struct {
	e    *Engine
	id   uint16
	src  capture.Source
	info SourceInfo
	// inline: one worker fed by this one source, so this goroutine updates
	// the worker's shard itself until it ends, and no batch crosses
	// goroutines (see worker.run).
	inline bool
	// domain is the tracking domain the source's packets are keyed in
	// (Engine.domainFor): 0 for files, one per live interface.
	domain uint8

	frames  []capture.Frame
	dec     decode.Packet
	local   *rawBatch           // the batch decoded on this goroutine (one worker)
	out     []*batch            // the batch being filled for each worker
	scratch [1]flowtable.Packet // a parked fragment being released
	frag    fragTracker
	pipe    *pipeline // decoders, with several workers (pipeline.go)

	st sourceCounters // owned by the source goroutine

	mu  sync.Mutex // guards pub
	pub SourceStatus
	_   [64]byte
}

// sourceCounters are the per-source packet counters.
type sourceCounters struct {
	frames, bytes uint64
	errors        [decode.NumReasons]uint64
	tunnels       [decode.NumTunnelKinds]uint64
	tunnelErrors  [decode.NumReasons]uint64
}

func newSource(e *Engine, id uint16, src capture.Source, info SourceInfo) *source {
	s := &source{e: e, id: id, src: src, info: info,
		frames: make([]capture.Frame, e.cfg.BatchSize),
		out:    make([]*batch, len(e.workers)),
		domain: e.domainFor(info),
	}
	s.frag.init(int64(e.cfg.FragTimeout), e.cfg.FragMax, id, s.domain)
	s.pub = SourceStatus{ID: id, Info: info}
	return s
}

func (s *source) run(ctx context.Context, inline bool) {
	defer s.e.srcWG.Done()
	s.inline = inline
	if inline {
		// The shard is ours until we end; then the worker takes over.
		defer close(s.e.workers[0].inlineDone)
	}
	if len(s.e.workers) > 1 && !s.info.Live {
		s.startPipeline(len(s.e.workers))
	} else {
		// One worker, or a live source: a live interface is read by one
		// socket per worker already (fanout), and its ring's frames are
		// decoded in place, with no copy.
		s.local = newRawBatch(0, s.e.cfg.BatchSize)
	}
	err := s.readAll(ctx)
	s.frag.expireAll()
	for wi := range s.out {
		s.flush(wi)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		// A damaged file's error names the file already.
		if fe := (*capture.FormatError)(nil); !errors.As(err, &fe) {
			err = fmt.Errorf("%s: %w", s.info.Name, err)
		}
		s.e.setErr(err)
	} else {
		err = nil
	}
	cerr := s.src.Close()
	if err == nil && cerr != nil {
		err = fmt.Errorf("%s: close: %w", s.info.Name, cerr)
		s.e.setErr(err)
	}
	s.publish(true, err)
}

// readAll reads, decodes and deals batches until the source ends, fails,
// or ctx is done. A live source then drains: it goes on reading what the
// kernel took in before the stop (drain).
func (s *source) readAll(ctx context.Context) error {
	if s.pipe != nil {
		defer s.stopPipeline()
	}
	for ctx.Err() == nil {
		n, err := s.src.ReadBatch(s.frames)
		s.hand(s.frames[:n])
		if err != nil {
			return err
		}
	}
	if s.info.Live {
		return s.drain(time.Now().UnixNano())
	}
	return nil
}

// liveDrainMax bounds a live source's drain, for a link so busy that no
// read ever comes back empty and a clock that stamps frames in the future.
const liveDrainMax = time.Second

// drain reads a live source after the stop at stopAt until a read finds
// nothing (it waits the source's poll timeout first) or a frame stamped
// after stopAt, so that frames received before the stop are counted
// rather than lost with the socket: the last ring block may still be
// filling when the signal comes. Frames after stopAt are left out.
func (s *source) drain(stopAt int64) error {
	for deadline := time.Now().Add(liveDrainMax); time.Now().Before(deadline); {
		n, err := s.src.ReadBatch(s.frames)
		keep := n
		for i := range n {
			if s.frames[i].Timestamp > stopAt {
				keep = i
				break
			}
		}
		s.hand(s.frames[:keep])
		if err != nil || n == 0 || keep < n {
			return err
		}
	}
	return nil
}

// hand decodes and deals a batch of frames read (none: only the status and
// control steps of a read).
func (s *source) hand(frames []capture.Frame) {
	if len(frames) > 0 {
		s.take(frames)
		if s.info.Live {
			// A live link may be slow: hand over what was read now
			// rather than when a batch fills, so that scans and
			// timeouts see every packet within a read.
			for wi := range s.out {
				s.flush(wi)
			}
		}
	}
	s.publish(false, nil)
	if s.inline {
		s.e.workers[0].pollCtl()
	}
}

// take counts a batch of frames, moves the engine clock, and decodes the
// batch (here, or on the decoder pool) and deals its packets out. The clock
// moves before any of the batch's packets reaches a worker, so no worker
// ever sees a packet newer than the clock it sweeps with.
func (s *source) take(frames []capture.Frame) {
	s.st.frames += uint64(len(frames))
	if s.pipe != nil {
		var newest int64
		var bytes uint64
		for i := range frames {
			newest = max(newest, frames[i].Timestamp)
			bytes += uint64(len(frames[i].Data))
		}
		s.st.bytes += bytes
		s.e.clock.observe(newest)
		s.send(frames, bytes)
		return
	}
	rb := s.local
	rb.frames = frames // decoded before the next read
	decodeBatch(rb, &s.dec, s.id, s.domain)
	s.st.bytes += rb.bytes
	s.e.clock.observe(rb.newest)
	s.finish(rb)
}

// rawBatch is a batch of frames and, once decoded, their packets.
type rawBatch struct {
	data   []byte          // pipelined: the frames' bytes, back to back
	frames []capture.Frame // pipelined: Data points into data
	newest int64           // newest frame timestamp
	bytes  uint64          // captured bytes of the frames (decodeBatch)

	// out holds the usable frames' packets, in frame order; frags the
	// fragment details of those that are fragments (rare, so kept aside to
	// keep out dense), each with its index in out.
	out   []flowtable.Packet
	frags []decodedFrag
	errs  [decode.NumReasons]uint64
	// tunnels counts the packets carrying each kind of tunnel, tunnelErrs
	// the tunnelled packets that could not be decoded, by reason.
	tunnels    [decode.NumTunnelKinds]uint64
	tunnelErrs [decode.NumReasons]uint64
	done       chan struct{} // pipelined: the decoder is done with it
}

type decodedFrag struct {
	at int
	x  fragInfo
}

func newRawBatch(frames, size int) *rawBatch {
	return &rawBatch{
		frames: make([]capture.Frame, 0, frames),
		out:    make([]flowtable.Packet, 0, size),
		done:   make(chan struct{}, 1),
	}
}

// decodeBatch decodes rb's frames into rb.out and rb.frags, keyed in
// tracking domain domain.
func decodeBatch(rb *rawBatch, d *decode.Packet, src uint16, domain uint8) {
	var x fragInfo
	rb.out = rb.out[:0]
	rb.frags = rb.frags[:0]
	rb.errs = [decode.NumReasons]uint64{}
	rb.tunnels = [decode.NumTunnelKinds]uint64{}
	rb.tunnelErrs = [decode.NumReasons]uint64{}
	var newest int64
	var bytes uint64
	for i := range rb.frames {
		fr := &rb.frames[i]
		newest = max(newest, fr.Timestamp)
		bytes += uint64(len(fr.Data))
		d.Decode(fr.Data, fr.LinkType)
		if d.Reason != decode.ReasonOK {
			rb.errs[d.Reason]++
			continue
		}
		frameLen := uint32(len(fr.Data))
		for {
			rb.out = slices.Grow(rb.out, 1)[:len(rb.out)+1]
			p := &rb.out[len(rb.out)-1]
			p.Time = fr.Timestamp
			p.FrameLen = frameLen
			prepare(d, p, &x, src, domain)
			if x.kind != fragNone {
				rb.frags = append(rb.frags, decodedFrag{at: len(rb.out) - 1, x: x})
			}
			if d.Tunnel == decode.TunnelNone {
				break
			}
			// A tunnel: the packet above counted toward the tunnel's own
			// flow; the packet inside is a flow of its own, one level
			// deeper, counted with its own bytes (as Suricata does).
			rb.tunnels[d.Tunnel]++
			if d.TunnelReason != decode.ReasonOK {
				rb.tunnelErrs[d.TunnelReason]++
				break
			}
			hdr := d.Tunnel.CountedHeader()
			if !d.DecodeInner(d, fr.Data) {
				break
			}
			if d.Reason != decode.ReasonOK {
				rb.tunnelErrs[d.Reason]++
				break
			}
			frameLen = d.CapLen + hdr
		}
	}
	rb.newest, rb.bytes = newest, bytes
}

// finish takes a decoded batch: it counts its unusable frames, runs the
// fragment tracker over its packets in capture order and deals them to the
// workers.
func (s *source) finish(rb *rawBatch) {
	for r, n := range rb.errs {
		s.st.errors[r] += n
	}
	for k, n := range rb.tunnels {
		s.st.tunnels[k] += n
	}
	for r, n := range rb.tunnelErrs {
		s.st.tunnelErrors[r] += n
	}
	switch {
	case s.inline && len(rb.frags) == 0 && s.frag.ready == 0:
		// The common case, one worker and no fragments: the decoded packets
		// are the batch; count them into the shard where they lie.
		s.flush(0)
		s.e.workers[0].process(rb.out)
	case s.inline:
		// One worker, fragments in the batch: still count the packets where
		// they lie, leaving out the fragments that must wait for their
		// first fragment, and counting the ones a first fragment releases
		// right after it. Copying every packet of such a batch into the
		// worker's batch instead cost 5-8 % of a replay whose fragments
		// spread over most batches (Dec 2026).
		s.flush(0)
		w := s.e.workers[0]
		out, frags := rb.out, rb.frags
		none := fragInfo{}
		j, seg := 0, 0
		for i := range out {
			x := &none
			if len(frags) > 0 && frags[0].at == i {
				x = &frags[0].x
				frags = frags[1:]
			}
			if !s.frag.resolve(&out[i], x) {
				continue
			}
			if j != i {
				out[j] = out[i]
			}
			j++
			if s.frag.ready > 0 {
				w.process(out[seg:j])
				seg = j
				for s.frag.popReady(&s.scratch[0]) {
					w.process(s.scratch[:])
				}
			}
		}
		if j > seg {
			w.process(out[seg:j])
		}
	default:
		none := fragInfo{}
		frags := rb.frags
		for i := range rb.out {
			p := &rb.out[i]
			x := &none
			if len(frags) > 0 && frags[0].at == i {
				x = &frags[0].x
				frags = frags[1:]
			}
			if !s.frag.resolve(p, x) {
				continue
			}
			s.dispatch(p)
			for s.frag.popReady(&s.scratch[0]) {
				s.dispatch(&s.scratch[0])
			}
		}
	}
	s.frag.expire(rb.newest)
}

// prepare fills p (Time and FrameLen already set) and x from a decoded
// frame of source src, keying it in tracking domain domain. It depends on
// the frame alone, so decoders may run it in parallel; for a later fragment
// it leaves p's key to resolve, which knows the datagram's ports.
func prepare(d *decode.Packet, p *flowtable.Packet, x *fragInfo, src uint16, domain uint8) {
	t := &d.Tuple
	p.Kind = flowtable.KindNormal
	if d.IsICMPError {
		// Counted toward the flow of the packet it quotes.
		t = &d.Inner
		p.Kind = flowtable.KindICMPError
	}
	// An ICMP flow is keyed by its type and the type of the reply it
	// expects, as Suricata keys it: an echo and a timestamp exchange
	// between the same hosts are two flows, a request and its reply one.
	// An error quoting an ICMP packet names that packet's flow by the
	// quoted type.
	sport, dport := t.SrcPort, t.DstPort
	if (t.Proto == decode.ProtoICMP || t.Proto == decode.ProtoICMPv6) && !d.LaterFragment() {
		typ := d.ICMPType
		if p.Kind == flowtable.KindICMPError {
			typ = uint8(t.SrcPort)
		}
		sport, dport = icmpKeyPorts(t.Proto, typ)
	}
	// An ESP flow is keyed by its SPI, as Suricata keys it: two security
	// associations between the same hosts are two flows. The SPI's halves
	// take the port slots, the high half on the sender's side; each SA
	// carries one direction, so a flow's packets all come from its source.
	if t.Proto == decode.ProtoESP && p.Kind == flowtable.KindNormal && !d.LaterFragment() {
		sport, dport = uint16(d.SPI>>16), uint16(d.SPI)
	}
	x.kind = fragNone
	if d.IsFragment && p.Kind == flowtable.KindNormal {
		x.key = fragKey{src: t.Src, dst: t.Dst, id: d.FragID, family: t.Family, vlan: d.VLAN, depth: d.TunnelDepth}
		if t.Family == 4 {
			x.key.proto = t.Proto
		}
		x.kind = fragLater
		if d.FirstFragment() {
			x.kind = fragFirst
			x.sport, x.dport, x.proto = sport, dport, t.Proto
		}
	}
	if x.kind != fragLater {
		p.Reverse = p.SetKeyIn(&t.Src, &t.Dst, sport, dport, t.Proto, t.Family, d.VLAN, d.TunnelDepth, domain)
		if p.Kind == flowtable.KindICMPError {
			// The error travels back toward the quoted packet's sender.
			p.Reverse = !p.Reverse
		}
	}
	p.IPLen = d.IPLen
	p.TCPFlags = 0
	if t.Proto == decode.ProtoTCP && x.kind != fragLater && !d.IsICMPError {
		p.TCPFlags = d.TCPFlags
	}
	p.ICMPType, p.ICMPCode = 0, 0
	// An ICMP error carries its own type and code (the table tells a refusal
	// from them); an ICMP packet of a flow, the flow's.
	if p.Kind == flowtable.KindICMPError || (t.Proto == decode.ProtoICMP || t.Proto == decode.ProtoICMPv6) && x.kind != fragLater {
		p.ICMPType, p.ICMPCode = d.ICMPType, d.ICMPCode
	}
	p.Source = src
}

// icmpKeyPorts are the key's "ports" of an ICMP or ICMPv6 packet of type
// typ: the type, and the type of its reply (or request), or 255 for a type
// that has none. Both directions of an exchange build the same key.
func icmpKeyPorts(proto, typ uint8) (uint16, uint16) {
	reply, ok := decode.ICMPCounterpart(proto, typ)
	if !ok {
		reply = icmpNoReply
	}
	return uint16(typ), uint16(reply)
}

// icmpNoReply is the reply "type" in the key of an ICMP type that has no
// answer.
const icmpNoReply = 255

// dispatch copies p into the batch of the worker that owns its flow.
func (s *source) dispatch(p *flowtable.Packet) {
	wi := 0
	if len(s.out) > 1 {
		wi = s.e.table.ShardOf(p)
	}
	b := s.out[wi]
	if b == nil {
		b = <-s.e.workers[wi].free
		s.out[wi] = b
	}
	b.pkts = append(b.pkts, *p)
	if len(b.pkts) == cap(b.pkts) {
		s.flush(wi)
	}
}

// flush hands worker wi's batch over (or, inline, counts it right here).
func (s *source) flush(wi int) {
	b := s.out[wi]
	if b == nil || len(b.pkts) == 0 {
		return
	}
	w := s.e.workers[wi]
	if s.inline {
		w.process(b.pkts)
		b.pkts = b.pkts[:0]
		return
	}
	s.out[wi] = nil
	w.in <- b
}

// liveSource is what a live capture source says beyond Stats.
type liveSource interface {
	LiveStats() capture.LiveStats
}

func (s *source) publish(eof bool, err error) {
	var cs capture.Stats
	var live capture.LiveStats
	ls, isLive := s.src.(liveSource)
	if isLive {
		live = ls.LiveStats() // one read of the kernel's counters
		cs = live.Stats
	} else {
		cs = s.src.Stats()
	}
	s.mu.Lock()
	p := &s.pub
	if isLive {
		p.Received, p.Freezes, p.IfDrops, p.Reopens = live.Received, live.Freezes, live.IfDrops, live.Reopens
		p.Up, p.State = live.Up, live.State
	}
	p.Frames, p.Bytes = s.st.frames, s.st.bytes
	p.DecodeErrors = s.st.errors
	p.Tunnels, p.TunnelErrors = s.st.tunnels, s.st.tunnelErrors
	p.FragmentsWithoutFirst = s.frag.orphans
	p.Drops = cs.Drops
	p.Offset, p.Size = cs.Offset, cs.Size
	if eof {
		p.EOF = true
		if err != nil {
			p.Err = err.Error()
		}
	}
	s.mu.Unlock()
}

func (s *source) status() SourceStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub
}
