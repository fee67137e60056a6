package engine

import (
	"slices"

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
	depth    uint8 // tunnels deep
	vlan     [3]uint16
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
//
// A source owns one tracker and runs every packet through resolve in
// capture order; after a first fragment it takes the fragments that waited
// for it with popReady. The tracker counts the later fragments that never
// found their first fragment itself (orphans).
type fragTracker struct {
	timeout int64
	max     int
	src     uint16 // the source id released fragments carry
	domain  uint8  // the tracking domain their keys are in
	m       map[fragKey]fragPorts
	parked  []parkedFrag
	ready   int    // parked fragments whose first fragment has now arrived
	orphans uint64 // later fragments whose first fragment never came
}

func (f *fragTracker) init(timeout int64, max int, src uint16, domain uint8) {
	f.timeout, f.max, f.src, f.domain = timeout, max, src, domain
	f.m = make(map[fragKey]fragPorts)
}

// resolve does the part of building a packet that depends on the packets
// before it: a first fragment's ports are remembered, a later fragment
// gets them. It returns false when a later fragment must wait for its
// first fragment (it is parked, or counted as an orphan when too many
// wait already).
func (f *fragTracker) resolve(p *flowtable.Packet, x *fragInfo) bool {
	switch x.kind {
	case fragFirst:
		f.first(x.key, x.sport, x.dport, x.proto, p.Time)
	case fragLater:
		e, ok := f.ports(x.key, p.Time)
		if !ok {
			f.park(x.key, p)
			return false
		}
		k := &x.key
		p.Reverse = p.SetKeyIn(&k.src, &k.dst, e.sport, e.dport, e.proto, k.family, k.vlan, k.depth, f.domain)
	}
	return true
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
func (f *fragTracker) park(k fragKey, p *flowtable.Packet) {
	if len(f.parked) >= maxParked {
		f.orphans++
		return
	}
	f.parked = append(f.parked, parkedFrag{key: k, time: p.Time, frameLen: p.FrameLen, ipLen: p.IPLen})
}

// popReady fills p with the oldest parked fragment whose ports are now
// known and forgets it; false when none is ready. The source calls it right
// after a first fragment, so the fragments that waited for it follow it.
func (f *fragTracker) popReady(p *flowtable.Packet) bool {
	if f.ready == 0 {
		return false
	}
	i := slices.IndexFunc(f.parked, func(pf parkedFrag) bool { return pf.ready })
	if i < 0 {
		f.ready = 0
		return false
	}
	pf := f.parked[i]
	f.parked = slices.Delete(f.parked, i, i+1)
	f.ready--
	e := f.m[pf.key]
	*p = flowtable.Packet{Time: pf.time, FrameLen: pf.frameLen, IPLen: pf.ipLen, Source: f.src}
	p.Reverse = p.SetKeyIn(&pf.key.src, &pf.key.dst, e.sport, e.dport, e.proto, pf.key.family, pf.key.vlan, pf.key.depth, f.domain)
	return true
}

// expire counts parked fragments older than the timeout at packet time now
// as orphans.
func (f *fragTracker) expire(now int64) {
	if len(f.parked) == 0 || now == 0 {
		return
	}
	kept := f.parked[:0]
	for _, pf := range f.parked {
		if now-pf.time > f.timeout {
			f.orphans++
			continue
		}
		kept = append(kept, pf)
	}
	f.parked = kept
}

// expireAll counts every parked fragment as an orphan (the source ended).
func (f *fragTracker) expireAll() {
	f.orphans += uint64(len(f.parked))
	f.parked = f.parked[:0]
	f.ready = 0
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
