package engine

import (
	"github.com/flowd/flowd/flowtable"
)

// fragKey names an IP datagram: its addresses, IP identification, VLANs and,
// for IPv4, protocol (RFC 791 / RFC 8200 reassembly keys, plus the VLANs
// flowd keys flows by). IPv6 leaves proto zero: a later fragment's next
// header is the first header of the fragmentable part (destination options,
// say), not the transport protocol the first fragment revealed.
type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	family   uint8
	vlan     [2]uint16
}

type fragPorts struct {
	sport, dport uint16
	proto        uint8 // the transport protocol, from the first fragment
	seen         int64 // packet time of the datagram's newest fragment
}

// parkedFrag is a later fragment that arrived before its first fragment.
type parkedFrag struct {
	key             fragKey
	time            int64
	frameLen, ipLen uint32
	ready           bool
}

// maxParked bounds the later fragments waiting for their first fragment.
const maxParked = 1024

// fragTracker gives the later fragments of a datagram the ports its first
// fragment carried, so every fragment counts toward the datagram's flow
// without reassembly. Fragments are rare, so a Go map is plenty; it stops
// allocating once it has grown to the working set. A datagram's entry lives
// FragTimeout (packet time) after its newest fragment; an IP id reused within
// that time by the same hosts is taken over by the new datagram's first
// fragment.
type fragTracker struct {
	timeout int64
	max     int
	m       map[fragKey]fragPorts
	parked  []parkedFrag
	ready   int // parked fragments whose first fragment has now arrived
}

func (f *fragTracker) init(timeout int64, max int) {
	f.timeout, f.max = timeout, max
	f.m = make(map[fragKey]fragPorts)
}

// first records the ports of a datagram from its first fragment.
func (f *fragTracker) first(k fragKey, sport, dport uint16, proto uint8, now int64) {
	if len(f.m) >= f.max {
		f.purge(now)
	}
	f.m[k] = fragPorts{sport: sport, dport: dport, proto: proto, seen: now}
	for i := range f.parked {
		if f.parked[i].key == k && !f.parked[i].ready {
			f.parked[i].ready = true
			f.ready++
		}
	}
}

// ports returns the transport protocol and ports of the datagram a later
// fragment belongs to.
func (f *fragTracker) ports(k fragKey, now int64) (e fragPorts, ok bool) {
	e, ok = f.m[k]
	if !ok {
		return e, false
	}
	if now-e.seen > f.timeout {
		delete(f.m, k)
		return e, false
	}
	if now > e.seen {
		e.seen = now
		f.m[k] = e
	}
	return e, true
}

// purge drops datagrams idle past the timeout; if the table is still full,
// it drops all of them (their later fragments will wait, then be counted as
// orphans): a flood of fragments must not grow memory without bound.
func (f *fragTracker) purge(now int64) {
	for k, e := range f.m {
		if now-e.seen > f.timeout {
			delete(f.m, k)
		}
	}
	if len(f.m) >= f.max {
		clear(f.m)
	}
}

// park keeps a later fragment until its first fragment shows up.
func (f *fragTracker) park(s *source, k fragKey, p *flowtable.Packet) {
	if len(f.parked) >= maxParked {
		s.st.fragOrphans++
		return
	}
	f.parked = append(f.parked, parkedFrag{key: k, time: p.Time, frameLen: p.FrameLen, ipLen: p.IPLen})
}

// release dispatches the parked fragments whose ports are now known, right
// after the first fragment that brought them.
func (f *fragTracker) release(s *source, inline bool) {
	kept := f.parked[:0]
	for _, pf := range f.parked {
		if !pf.ready {
			kept = append(kept, pf)
			continue
		}
		e := f.m[pf.key]
		p := &s.scratch
		*p = flowtable.Packet{Time: pf.time, FrameLen: pf.frameLen, IPLen: pf.ipLen, Source: s.id}
		p.Reverse = p.SetKey(&pf.key.src, &pf.key.dst, e.sport, e.dport, e.proto, pf.key.family, pf.key.vlan)
		s.dispatch(p, inline)
	}
	f.parked = kept
	f.ready = 0
}

// expire counts parked fragments older than the timeout as orphans.
func (f *fragTracker) expire(s *source, now int64) {
	kept := f.parked[:0]
	for _, pf := range f.parked {
		if now-pf.time > f.timeout {
			s.st.fragOrphans++
			continue
		}
		kept = append(kept, pf)
	}
	f.parked = kept
}

// expireAll counts every parked fragment as an orphan (the source ended).
func (f *fragTracker) expireAll(s *source) {
	s.st.fragOrphans += uint64(len(f.parked))
	f.parked = f.parked[:0]
}
