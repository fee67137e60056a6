package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/flowtable"
)

// source reads one capture source, decodes its frames, and hands the packets
// to the workers in batches.
type source struct {
	e    *Engine
	id   uint16
	src  capture.Source
	info SourceInfo

	frames  []capture.Frame
	dec     decode.Packet
	out     []*batch         // the batch being filled for each worker
	scratch flowtable.Packet // a parked fragment being released (frag.go)
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
	fragOrphans   uint64 // later fragments whose first fragment never came
}

func newSource(e *Engine, id uint16, src capture.Source, info SourceInfo) *source {
	s := &source{e: e, id: id, src: src, info: info,
		frames: make([]capture.Frame, e.cfg.BatchSize),
		out:    make([]*batch, len(e.workers)),
	}
	s.frag.init(int64(e.cfg.FragTimeout), e.cfg.FragMax)
	s.pub = SourceStatus{ID: id, Info: info}
	return s
}

func (s *source) run(ctx context.Context, inline bool) {
	defer s.e.srcWG.Done()
	w0 := s.e.workers[0]
	if inline {
		// The shard is ours until we end; then the worker takes over.
		defer close(w0.inlineDone)
	}
	var err error
	if len(s.e.workers) > 1 {
		s.startPipeline(len(s.e.workers))
		err = s.readAllPipelined(ctx)
	} else {
		err = s.readAll(ctx, inline)
	}
	s.frag.expireAll(s)
	for wi := range s.out {
		s.flush(wi, inline)
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

// readAll reads and handles batches until the source ends, fails, or ctx
// is done.
func (s *source) readAll(ctx context.Context, inline bool) error {
	w0 := s.e.workers[0]
	for ctx.Err() == nil {
		n, err := s.src.ReadBatch(s.frames)
		s.handle(s.frames[:n], inline)
		s.publish(false, nil)
		if inline {
			w0.pollCtl()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// handle decodes a batch of frames and dispatches the packets, with one
// worker (several use the decoder pool: pipeline.go).
func (s *source) handle(frames []capture.Frame, inline bool) {
	// Move the engine clock first, so no worker ever sees a packet newer
	// than the clock it sweeps with.
	var newest int64
	for i := range frames {
		newest = max(newest, frames[i].Timestamp)
	}
	s.e.clock.observe(newest)

	var x fragInfo
	for i := range frames {
		fr := &frames[i]
		s.st.frames++
		s.st.bytes += uint64(len(fr.Data))
		d := &s.dec
		d.Decode(fr.Data, fr.LinkType)
		if d.Reason != decode.ReasonOK {
			s.st.errors[d.Reason]++
			continue
		}
		// The packet is built right in its batch.
		p := s.slot(0)
		p.Time = fr.Timestamp
		p.FrameLen = uint32(len(fr.Data))
		prepare(d, p, &x, s.id)
		s.deal(p, &x, inline)
	}
	s.expireParked(newest)
}

// deal runs the fragment tracker over p, hands p to its worker, and then any
// parked fragments that p, a first fragment, has released.
func (s *source) deal(p *flowtable.Packet, x *fragInfo, inline bool) {
	if !s.resolve(p, x) {
		return
	}
	s.dispatch(p, inline)
	if s.frag.ready > 0 {
		s.frag.release(s, inline)
	}
}

// expireParked counts parked fragments older than the fragment timeout at
// packet time newest as orphans.
func (s *source) expireParked(newest int64) {
	if len(s.frag.parked) > 0 && newest != 0 {
		s.frag.expire(s, newest)
	}
}

// fragInfo is what the fragment tracker needs of a packet: whether it is
// the first or a later fragment of a datagram, the datagram, and (first
// fragments) the transport protocol and ports the later ones will need.
type fragInfo struct {
	kind         uint8 // fragNone, fragFirst, fragLater
	proto        uint8
	sport, dport uint16
	key          fragKey
}

const (
	fragNone = iota
	fragFirst
	fragLater
)

// prepare fills p (Time and FrameLen already set) and x from a decoded
// frame. It depends on the frame alone, so decoders may run it in parallel;
// for a later fragment it leaves p's key to resolve, which knows the
// datagram's ports.
func prepare(d *decode.Packet, p *flowtable.Packet, x *fragInfo, src uint16) {
	t := &d.Tuple
	p.Kind = flowtable.KindNormal
	if d.IsICMPError {
		// Counted toward the flow of the packet it quotes.
		t = &d.Inner
		p.Kind = flowtable.KindICMPError
	}
	x.kind = fragNone
	if d.IsFragment && p.Kind == flowtable.KindNormal {
		x.key = fragKey{src: t.Src, dst: t.Dst, id: d.FragID, family: t.Family, vlan: d.VLAN}
		if t.Family == 4 {
			x.key.proto = t.Proto
		}
		x.kind = fragLater
		if d.FirstFragment() {
			x.kind = fragFirst
			x.sport, x.dport, x.proto = t.SrcPort, t.DstPort, t.Proto
		}
	}
	if x.kind != fragLater {
		p.Reverse = p.SetKey(&t.Src, &t.Dst, t.SrcPort, t.DstPort, t.Proto, t.Family, d.VLAN)
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
	if (t.Proto == decode.ProtoICMP || t.Proto == decode.ProtoICMPv6) && x.kind != fragLater {
		p.ICMPType, p.ICMPCode = d.ICMPType, d.ICMPCode
	}
	p.Source = src
}

// resolve does the part of building a packet that depends on the packets
// before it, in capture order: the fragment tracker. It returns false when a
// later fragment must wait for its first fragment (it is parked).
func (s *source) resolve(p *flowtable.Packet, x *fragInfo) bool {
	switch x.kind {
	case fragFirst:
		s.frag.first(x.key, x.sport, x.dport, x.proto, p.Time)
	case fragLater:
		e, ok := s.frag.ports(x.key, p.Time)
		if !ok {
			s.frag.park(s, x.key, p)
			return false
		}
		k := &x.key
		p.Reverse = p.SetKey(&k.src, &k.dst, e.sport, e.dport, e.proto, k.family, k.vlan)
	}
	return true
}

// slot returns the next free packet of worker wi's batch, to be filled in
// place and then passed to dispatch.
func (s *source) slot(wi int) *flowtable.Packet {
	b := s.out[wi]
	if b == nil {
		b = <-s.e.workers[wi].free
		s.out[wi] = b
	}
	return &b.pkts[:len(b.pkts)+1][len(b.pkts)]
}

// dispatch adds p to the batch of the worker that owns its flow: p is either
// that batch's slot (one worker) or a packet to copy into it.
func (s *source) dispatch(p *flowtable.Packet, inline bool) {
	wi := 0
	if len(s.out) > 1 {
		wi = s.e.table.ShardOf(p)
	}
	dst := s.slot(wi)
	if dst != p {
		*dst = *p
	}
	b := s.out[wi]
	b.pkts = b.pkts[:len(b.pkts)+1]
	if len(b.pkts) == cap(b.pkts) {
		s.flush(wi, inline)
	}
}

// flush hands worker wi's batch over (or, inline, counts it right here).
func (s *source) flush(wi int, inline bool) {
	b := s.out[wi]
	if b == nil || len(b.pkts) == 0 {
		return
	}
	w := s.e.workers[wi]
	if inline {
		w.process(b.pkts)
		b.pkts = b.pkts[:0]
		return
	}
	s.out[wi] = nil
	w.in <- b
}

func (s *source) publish(eof bool, err error) {
	cs := s.src.Stats()
	s.mu.Lock()
	p := &s.pub
	p.Frames, p.Bytes = s.st.frames, s.st.bytes
	p.DecodeErrors = s.st.errors
	p.FragmentsWithoutFirst = s.st.fragOrphans
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
