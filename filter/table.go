package filter

import (
	"encoding/binary"
	"math/bits"
)

// table is the form of a trie that Match walks. t holds uint64 entries: bit
// 0 set means "a node starts at index uint32(e)>>1"; clear means "final:
// the mask is e>>32". Each final mask has a cell of its own at the front of
// t whose entry is itself (it points at its own index), and the nodes
// follow, 256 entries each. Carrying the mask in the entry saves the last
// dependent load of every walk (5% of Match with 20 filters, against
// uint32 entries and a separate mask array).
//
// The self-pointing cells let a walk take a fixed number of steps without a
// branch: once it reaches a final mask, each further step reads the same
// cell again (the key byte is masked out for cells). IPv4 and port lookups
// do that, a fixed 4 or 2 steps; it measured faster than stopping at the
// first final mask, whose data-dependent exit the CPU mispredicts
// (BenchmarkMatch, IPv4, 20 filters: 18.4 against 21.6 ns/flow). IPv6 keys
// are 16 bytes deep, so there the walk stops at the first final mask (16
// fixed steps: 39 against 30 ns/flow; even 4 fixed steps where no node lies
// deeper lost, 26 against 24), after comparing in one go the leading bytes
// that all prefixes share (2 ns/flow off).
//
// Against the alternatives (BenchmarkAddrLookup: one destination-address
// dimension on the BenchmarkMatch workload, CPU ns per lookup with 1/5/20
// prefixes, 2-core AMD EPYC VM, 2026-11-21):
//
//	        table          bart.Table      bart.Fast       linear scan
//	IPv4    6.0/6.1/6.1    15.8/19.3/24.9  14.1/15.5/21.7  5.4/13.2/31.6
//	IPv6    3.8/8.4/18.6   17.7/17.5/42.8  15.6/14.7/33.9  5.3/12.9/31.8
//
// The linear scan wins only with one IPv4 prefix, by half a nanosecond,
// which does not pay for a second code path. One perfect hash table per prefix length (probes independent of each
// other, no walk) was tried too and lost: Match, IPv6, 20 filters, 50
// against 30 ns/flow.
type table struct {
	t    []uint64 // cells (final masks), then nodes of 256 entries
	root uint32   // the index in t of the root node, = the number of cells

	// IPv6 only (see trie.compile): keys whose first skip bytes are not
	// seg get outside; the others resume at entry start with key byte skip.
	seg, segMask uint64
	skip         int
	start        uint64
	outside      uint32
}

// step is one level of a branch-free walk: from a node, follow key byte b;
// from a cell, stay.
func (tb *table) step(e uint64, b byte) uint64 {
	return tb.t[uint32(e)>>1+uint32(b)&-(uint32(e)&1)]
}

// lookupPort returns the mask of port p: 2 steps.
func (tb *table) lookupPort(p uint16) uint32 {
	e := tb.t[tb.root+uint32(p>>8)]
	e = tb.step(e, byte(p))
	return uint32(e >> 32)
}

// lookup4 returns the mask of the IPv4 address in k[:4]: 4 steps.
func (tb *table) lookup4(k *[16]byte) uint32 {
	e := tb.t[tb.root+uint32(k[0])]
	e = tb.step(e, k[1])
	e = tb.step(e, k[2])
	e = tb.step(e, k[3])
	return uint32(e >> 32)
}

// lookup6 returns the mask of the IPv6 address k.
func (tb *table) lookup6(k *[16]byte) uint32 {
	if (binary.BigEndian.Uint64(k[:8])^tb.seg)&tb.segMask != 0 {
		return tb.outside
	}
	e := tb.start
	for i := tb.skip; e&1 != 0; i++ {
		e = tb.t[uint32(e)>>1+uint32(k[i&15])]
	}
	return uint32(e >> 32)
}

// nodes is the number of 256-entry nodes, for Set.String.
func (tb *table) nodes() int { return (len(tb.t) - int(tb.root)) / 256 }

// commonBytes returns how many leading bytes (at most 8) all of keys share,
// and that no prefix of length lens[i] ends before.
func commonBytes(keys [][16]byte, lens []int) int {
	n := 8
	for i, k := range keys {
		n = min(n, lens[i]/8)
		x := binary.BigEndian.Uint64(k[:8]) ^ binary.BigEndian.Uint64(keys[0][:8])
		n = min(n, bits.LeadingZeros64(x)/8)
	}
	return n
}
