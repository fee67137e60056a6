package synth

import (
	"net/netip"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/decode"
)

// fkey is a flow's key as flowd's rules define it: depth, protocol, both
// endpoints (address and key port) in canonical order, the VLAN ids.
type fkey struct {
	depth, proto uint8
	a, b         netip.Addr
	pa, pb       uint16
	vlan         [3]uint16
}

// frec is a flow's truth being counted.
type frec struct {
	fl       gen.Flow
	sp, dp   uint16 // the initiator's and responder's key ports
	order    int
	progress gen.Progress
}

// count adds one packet of level l, d tunnels deep, sent at t.
func (m *maker) count(t int64, d int, l *level) {
	k := fkey{depth: uint8(d), proto: l.proto, a: l.src, b: l.dst, pa: l.sport, pb: l.dport}
	if c := l.src.Compare(l.dst); c > 0 || c == 0 && l.sport > l.dport {
		k.a, k.b, k.pa, k.pb = l.dst, l.src, l.dport, l.sport
	}
	copy(k.vlan[:], l.vlan)
	r := m.recs[k]
	if r == nil {
		r = &frec{order: m.order, sp: l.sport, dp: l.dport}
		m.order++
		r.fl.Proto, r.fl.Src, r.fl.Dst = l.proto, l.src, l.dst
		if decode.HasPorts(l.proto) {
			r.fl.SrcPort, r.fl.DstPort = l.sport, l.dport
		}
		if len(l.vlan) > 0 {
			r.fl.VLAN = append([]uint16(nil), l.vlan...)
		}
		r.fl.Start = t
		r.fl.Kind = "synth"
		m.recs[k] = r
	}
	dir := 0
	if l.src != r.fl.Src || l.sport != r.sp {
		dir = 1
	}
	if dir == 0 {
		r.fl.PktsToServer++
		r.fl.BytesToServer += uint64(l.frame)
		r.fl.IPBytesToServer += uint64(l.ip)
		r.fl.TCPFlagsToServer |= l.flags
	} else {
		r.fl.PktsToClient++
		r.fl.BytesToClient += uint64(l.frame)
		r.fl.IPBytesToClient += uint64(l.ip)
		r.fl.TCPFlagsToClient |= l.flags
	}
	flags := l.flags
	if l.proto != decode.ProtoTCP {
		flags = 0
	}
	r.progress.Saw(dir, flags)
	if l.fragment {
		r.fl.Fragmented = true
	}
	r.fl.End = max(r.fl.End, t)
}
