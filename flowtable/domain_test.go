package flowtable

import (
	"math/rand/v2"
	"testing"
)

// TestKeyDomain: SetKeyIn puts the tracking domain, depth and VLAN ids into
// the key without one spilling into another; keys that differ only in their
// domain compare and hash apart, while both directions of a flow in one
// domain still build one key; Set and PackVLANs leave the domain 0.
func TestKeyDomain(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	a, b := [16]byte{10, 0, 0, 1}, [16]byte{10, 0, 0, 2}
	for range 20000 {
		ids := [3]uint16{uint16(r.UintN(4096)), uint16(r.UintN(4096)), uint16(r.UintN(4096))}
		dom, depth := uint8(r.UintN(MaxDomain+1)), uint8(r.UintN(4))
		var p, q Packet
		rev := p.SetKeyIn(&a, &b, 1000, 80, 6, 4, ids, depth, dom)
		back := q.SetKeyIn(&b, &a, 80, 1000, 6, 4, ids, depth, dom)
		if rev == back || !p.Key.Equal(&q.Key) || p.hash != q.hash || p.hash != p.Key.Hash() {
			t.Fatalf("domain %d: the two directions build different keys", dom)
		}
		k := &p.Key
		if k.Domain() != dom || k.VLAN.IDs() != ids || k.Depth != depth || k.Proto != 6 || k.Family != 4 {
			t.Fatalf("SetKeyIn(vlan %v, depth %d, domain %d): vlan %v depth %d domain %d proto %d family %d",
				ids, depth, dom, k.VLAN.IDs(), k.Depth, k.Domain(), k.Proto, k.Family)
		}
		// The same key in another domain.
		other := (dom + 1 + uint8(r.UintN(MaxDomain))) % (MaxDomain + 1)
		var o Packet
		o.SetKeyIn(&a, &b, 1000, 80, 6, 4, ids, depth, other)
		if o.Key.Equal(k) || o.hash == p.hash || o.Key.xxhash() == k.xxhash() {
			t.Fatalf("domains %d and %d: keys compare or hash equal", dom, other)
		}
		// SetDomain moves a key from one domain to the other and back.
		c := *k
		c.SetDomain(other)
		if !c.Equal(&o.Key) || c.VLAN.IDs() != ids {
			t.Fatalf("SetDomain(%d) of %v gives %v, want %v", other, *k, c, o.Key)
		}
		// Set is domain 0 and depth 0.
		var s Key
		s.Set(&a, &b, 1000, 80, 6, 4, ids)
		var z Packet
		z.SetKeyIn(&a, &b, 1000, 80, 6, 4, ids, 0, 0)
		if s.Domain() != 0 || !s.Equal(&z.Key) {
			t.Fatalf("Set: domain %d, or not SetKeyIn's key in domain 0", s.Domain())
		}
	}
	full := Key{VLAN: PackVLANs([3]uint16{0xfff, 0xfff, 0xfff})}
	if d := full.Domain(); d != 0 {
		t.Errorf("PackVLANs of full ids: domain %d", d)
	}
	var k Key
	k.SetDomain(0xff)
	if k.Domain() != MaxDomain || k.VLAN.IDs() != [3]uint16{} {
		t.Errorf("SetDomain(0xff): domain %d vlan %v", k.Domain(), k.VLAN.IDs())
	}
}
