package filter

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/gaissmai/bart"
)

// BenchmarkAddrLookup compares ways to answer one address dimension (which
// of n filters' prefixes contain this address) on the BenchmarkMatch
// workload's destination addresses:
//   - table: this package's table (4 fixed steps for IPv4, a walk that
//     stops at the first final mask after the shared leading bytes for IPv6);
//   - bart, bart-fast: gaissmai/bart Table[uint32] and Fast[uint32], whose
//     value at each prefix is the OR of the masks of all filters whose
//     prefix contains it, so one longest-prefix match gives the answer;
//   - linear: every prefix checked in turn, branch-free.
//
// The figures are quoted in the table type's comment.
func BenchmarkAddrLookup(b *testing.B) {
	for _, fam := range []string{"v4", "v6"} {
		v6 := fam == "v6"
		flows := benchFlowSlice(fam)[:1<<16]
		addrs := make([]netip.Addr, len(flows))
		for i := range flows {
			if v6 {
				addrs[i] = netip.AddrFrom16(flows[i].Dst)
			} else {
				addrs[i] = netip.AddrFrom4([4]byte(flows[i].Dst[:4]))
			}
		}
		for _, n := range []int{1, 5, 20} {
			r := rand.New(rand.NewPCG(uint64(n), 9))
			fs := make([]Filter, n)
			ps := make([]netip.Prefix, n)
			for i := range fs {
				fs[i] = Filter{DestinationAddress: str(benchPrefix(r, v6, 1+r.IntN(2)))}
				ps[i] = netip.MustParsePrefix(*fs[i].DestinationAddress)
			}
			s := mustCompile(b, fs, 0)
			d := &s.dst4
			if v6 {
				d = &s.dst6
			}

			var bt bart.Table[uint32]
			var bf bart.Fast[uint32]
			for _, p := range ps {
				var m uint32
				for j, q := range ps {
					if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
						m |= 1 << j
					}
				}
				bt.Insert(p, m)
				bf.Insert(p, m)
			}
			lin := newLinear(ps)

			for i := range flows { // all four agree before they race
				a := addrs[i]
				var want uint32
				if v6 {
					want = d.lookup6(&flows[i].Dst)
				} else {
					want = d.lookup4(&flows[i].Dst)
				}
				v1, _ := bt.Lookup(a)
				v2, _ := bf.Lookup(a)
				if v1 != want || v2 != want || lin.lookup(&flows[i].Dst, v6) != want {
					b.Fatalf("%v: table %x bart %x fast %x linear %x", a, want, v1, v2, lin.lookup(&flows[i].Dst, v6))
				}
			}

			var sink uint32
			run := func(name string, f func(i int) uint32) {
				b.Run(fmt.Sprintf("%s/prefixes=%d/%s", fam, n, name), func(b *testing.B) {
					i := 0
					cpu0, cpuOK := processCPU()
					for b.Loop() {
						sink += f(i & 0xffff)
						i++
					}
					if cpu1, ok := processCPU(); ok && cpuOK {
						b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
					}
				})
			}
			if v6 {
				run("table", func(i int) uint32 { return d.lookup6(&flows[i].Dst) })
			} else {
				run("table", func(i int) uint32 { return d.lookup4(&flows[i].Dst) })
			}
			run("bart", func(i int) uint32 { v, _ := bt.Lookup(addrs[i]); return v })
			run("bart-fast", func(i int) uint32 { v, _ := bf.Lookup(addrs[i]); return v })
			run("linear", func(i int) uint32 { return lin.lookup(&flows[i].Dst, v6) })
			_ = sink
		}
	}
}

// linear is the branch-free linear scan contender.
type linear struct{ e []linEntry }

type linEntry struct {
	netHi, netLo, maskHi, maskLo uint64 // IPv4: in the top half of hi
	bit                          uint32
}

func newLinear(ps []netip.Prefix) *linear {
	l := &linear{}
	for i, p := range ps {
		var k [16]byte
		copy(k[:], p.Masked().Addr().AsSlice())
		hi, lo := netmask(p.Bits(), p.Addr().BitLen())
		l.e = append(l.e, linEntry{binary.BigEndian.Uint64(k[:8]) & hi, binary.BigEndian.Uint64(k[8:]) & lo, hi, lo, 1 << i})
	}
	return l
}

func netmask(bits, width int) (hi, lo uint64) {
	switch {
	case width == 32:
		return uint64(^uint32(0)<<(32-bits)) << 32, 0
	case bits <= 64:
		return ^uint64(0) << (64 - bits), 0
	}
	return ^uint64(0), ^uint64(0) << (128 - bits)
}

func (l *linear) lookup(k *[16]byte, v6 bool) uint32 {
	hi := binary.BigEndian.Uint64(k[:8])
	lo := binary.BigEndian.Uint64(k[8:])
	if !v6 {
		hi &= 0xffffffff00000000
		lo = 0
	}
	var m uint32
	for i := range l.e {
		e := &l.e[i]
		x := (hi&e.maskHi ^ e.netHi) | (lo&e.maskLo ^ e.netLo)
		m |= e.bit & -uint32((x-1)>>63&^(x>>63)) // x == 0
	}
	return m
}
