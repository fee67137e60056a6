package filter

// trie is the build-time form of a table: a fully expanded multibit trie
// with 8-bit strides over keys of up to 16 bytes (a port, an IPv4 or an IPv6
// address). Each node has 256 entries; an entry is either a final mask or,
// with childFlag set, the index of the node for the next key byte. Every
// final mask already holds the OR of all ranges that contain its keys, the
// filters that do not constrain the dimension included, so one walk yields
// every matching filter. compile turns it into the table Match walks.
//
// Size: a prefix adds at most one node per whole byte it fixes, a port range
// at most two per level; 20 filters need at most 1 + 20*15 nodes (for IPv6
// /128s spread apart), far fewer for typical /8 to /64 prefixes.
type trie struct {
	nodes [][256]uint32 // nodes[0] is the root
}

// childFlag marks an entry that points at a node. Filter masks use bits 0
// to MaxFilters-1, so the flag never collides with a mask.
const childFlag = 1 << 31

var (
	zeros [16]byte
	ones  = [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// newTrie returns a trie that maps every key to any.
func newTrie(any uint32) *trie {
	t := &trie{nodes: make([][256]uint32, 1, 8)}
	for i := range t.nodes[0] {
		t.nodes[0][i] = any
	}
	return t
}

// add ORs bit into the mask of every key k with lo <= k <= hi, compared as
// big-endian byte strings of equal length.
func (t *trie) add(lo, hi []byte, bit uint32) {
	t.addAt(0, lo, hi, bit)
}

func (t *trie) addAt(n int, lo, hi []byte, bit uint32) {
	a, b := int(lo[0]), int(hi[0])
	rest := len(lo) - 1
	for e := a; e <= b; e++ {
		// The entry is covered whole when the range runs past both of its
		// ends; otherwise the range splits it and it needs a child node.
		lowWhole := e > a || allBytes(lo[1:], 0)
		highWhole := e < b || allBytes(hi[1:], 0xff)
		if lowWhole && highWhole {
			t.orAll(n, e, bit)
			continue
		}
		c := t.child(n, e)
		l, h := zeros[:rest], ones[:rest]
		if e == a {
			l = lo[1:]
		}
		if e == b {
			h = hi[1:]
		}
		t.addAt(c, l, h, bit)
	}
}

// orAll ORs bit into entry e of node n and, if it is a child, into every
// entry below it.
func (t *trie) orAll(n, e int, bit uint32) {
	v := t.nodes[n][e]
	if v&childFlag == 0 {
		t.nodes[n][e] = v | bit
		return
	}
	c := int(v &^ childFlag)
	for i := range 256 {
		t.orAll(c, i, bit)
	}
}

// child returns the node below entry e of node n, creating it (every entry
// holding the mask e had) when e is a final mask.
func (t *trie) child(n, e int) int {
	v := t.nodes[n][e]
	if v&childFlag != 0 {
		return int(v &^ childFlag)
	}
	var node [256]uint32
	for i := range node {
		node[i] = v
	}
	t.nodes = append(t.nodes, node)
	c := len(t.nodes) - 1
	t.nodes[n][e] = childFlag | uint32(c)
	return c
}

func allBytes(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}

// compile lays the trie out as a table. Final masks become cells at the
// front of table.t, each pointing at itself; node i starts at
// cells + 256*i.
//
// skip (IPv6 only, at most 8 bytes) is a run of leading key bytes that
// every prefix of the dimension starts with: lookup6 compares it in one go
// instead of walking one node per byte, and answers outside for keys that
// do not start with it. The caller guarantees that no prefix is shorter
// than skip, so outside is the mask of the filters that do not constrain
// the dimension.
func (t *trie) compile(skip []byte, outside uint32) *table {
	tb := &table{}
	var masks []uint32 // the final masks, in cell order
	cell := map[uint32]uint32{}
	for _, n := range t.nodes {
		prev := uint32(childFlag) // entries repeat in runs: look up each run once
		for _, e := range n {
			if e == prev || e&childFlag != 0 {
				continue
			}
			prev = e
			if _, ok := cell[e]; !ok {
				cell[e] = uint32(len(masks))
				masks = append(masks, e)
			}
		}
	}
	cells := uint32(len(masks))
	encode := func(e uint32) uint64 {
		if e&childFlag != 0 {
			return uint64(cells+256*(e&^childFlag))<<1 | 1
		}
		return uint64(e)<<32 | uint64(cell[e])<<1
	}
	tb.root = cells
	tb.t = make([]uint64, int(cells)+256*len(t.nodes))
	for c := range cells {
		tb.t[c] = encode(masks[c])
	}
	for i, n := range t.nodes {
		prev, enc := n[0], encode(n[0])
		for j, e := range n {
			if e != prev {
				prev, enc = e, encode(e)
			}
			tb.t[int(cells)+256*i+j] = enc
		}
	}

	// Walk the skipped bytes in the trie to find where lookup6 resumes.
	e := uint32(childFlag) // the root, as if an entry pointed at it
	for _, b := range skip {
		e = t.nodes[e&^childFlag][b]
		if e&childFlag == 0 {
			break // a prefix ends exactly at the skipped bytes
		}
	}
	tb.start = encode(e)
	tb.skip = len(skip)
	for i, b := range skip {
		tb.seg |= uint64(b) << (56 - 8*i)
		tb.segMask |= 0xff << (56 - 8*i)
	}
	tb.outside = outside
	return tb
}
