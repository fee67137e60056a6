package flowtable

import (
	"math/bits"
	"math/rand/v2"
	"testing"
	"unsafe"
)

func TestHashAllocs(t *testing.T) {
	k := Key{Proto: 6, Family: 4}
	if a := testing.AllocsPerRun(100, func() { sinkHash += k.Hash() }); a != 0 {
		t.Fatalf("Hash allocates %v times", a)
	}
}

var sinkHash uint64

// BenchmarkHash: the key hash against xxhash.Sum64 over the same bytes.
func BenchmarkHash(b *testing.B) {
	keys := make([]Key, 1024)
	for i := range keys {
		keys[i].A[0], keys[i].APort, keys[i].Proto = byte(i), uint16(i), 6
	}
	b.Run("key", func(b *testing.B) {
		i := 0
		for b.Loop() {
			sinkHash += keys[i&1023].Hash()
			i++
		}
	})
	b.Run("xxhash", func(b *testing.B) {
		i := 0
		for b.Loop() {
			sinkHash += keys[i&1023].xxhash()
			i++
		}
	})
}

// TestHashQuality: keys differing in a single bit anywhere hash to values
// that differ in about half their bits (avalanche), and a million keys
// differing only in address and port bytes collide in the low 32 bits no
// more often than random numbers would.
func TestHashQuality(t *testing.T) {
	var base Key
	base.Set(&[16]byte{10, 0, 0, 1}, &[16]byte{192, 0, 2, 1}, 40000, 443, 6, 4, [3]uint16{10, 20})
	h0 := base.Hash()
	total := 0
	for bit := range KeySize * 8 {
		k := base
		(*[KeySize]byte)(unsafe.Pointer(&k))[bit/8] ^= 1 << (bit % 8)
		d := bits.OnesCount64(k.Hash() ^ h0)
		if d < 12 || d > 52 {
			t.Errorf("flipping bit %d changes %d of 64 hash bits", bit, d)
		}
		total += d
	}
	if avg := float64(total) / float64(KeySize*8); avg < 29 || avg > 35 {
		t.Errorf("flipping one bit changes %.1f hash bits on average, want about 32", avg)
	}
	const n = 1 << 20
	seen := make(map[uint32]struct{}, n)
	collisions := 0
	for i := range n {
		var k Key
		k.Set(&[16]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}, &[16]byte{192, 0, 2, byte(i % 3)}, uint16(i*7), 443, 6, 4, [3]uint16{})
		h := uint32(k.Hash())
		if _, dup := seen[h]; dup {
			collisions++
		}
		seen[h] = struct{}{}
	}
	// Random 32-bit values: n²/2³³ ≈ 128 expected collisions.
	if collisions > 200 {
		t.Errorf("%d collisions in the low 32 bits over %d keys, about 128 expected", collisions, n)
	}
}

func TestSetBuildsCanonicalKey(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		var src, dst [16]byte
		for i := range src {
			src[i], dst[i] = byte(r.UintN(3)), byte(r.UintN(3))
		}
		sp, dp := uint16(r.UintN(3)), uint16(r.UintN(3))
		vlan := [3]uint16{uint16(r.Uint32()), uint16(r.Uint32()), uint16(r.Uint32())}
		proto, fam := uint8(r.Uint32()), uint8(r.Uint32())
		// The obvious construction, field by field.
		want := Key{A: src, B: dst, APort: sp, BPort: dp, VLAN: PackVLANs(vlan), Proto: proto, Family: fam}
		wrev := string(dst[:]) < string(src[:]) || (src == dst && dp < sp)
		if wrev {
			want.A, want.B, want.APort, want.BPort = dst, src, dp, sp
		}
		got := Key{A: [16]byte{1}}
		got.Depth = 7 // Set must clear every byte it does not set
		grev := got.Set(&src, &dst, sp, dp, proto, fam, vlan)
		if got != want || grev != wrev || got.Hash() != want.Hash() {
			t.Fatalf("Set gave %+v %v, MakeKey %+v %v", got, grev, want, wrev)
		}
	}
}

func BenchmarkKeyAndHash(b *testing.B) {
	var src, dst [16]byte
	src[0], dst[0] = 10, 192
	var out [64]Packet
	b.Run("MakeKey", func(b *testing.B) {
		i := 0
		for b.Loop() {
			p := &out[i&63]
			src[3] = byte(i)
			p.Key, p.Reverse = MakeKey(&src, &dst, uint16(i), 443, 6, 4, [3]uint16{uint16(i), 0})
			sinkHash += p.Key.Hash()
			i++
		}
	})
	b.Run("Set", func(b *testing.B) {
		i := 0
		for b.Loop() {
			p := &out[i&63]
			src[3] = byte(i)
			p.Reverse = p.Key.Set(&src, &dst, uint16(i), 443, 6, 4, [3]uint16{uint16(i), 0})
			sinkHash += p.Key.Hash()
			i++
		}
	})
}

func TestEqual(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var a Key
	a.Set(&[16]byte{10, 0, 0, 1}, &[16]byte{10, 0, 0, 2}, 1, 2, 6, 4, [3]uint16{3, 4})
	for i := range KeySize {
		b := a
		(*[KeySize]byte)(unsafe.Pointer(&b))[i] ^= byte(1 + r.UintN(255))
		if a.Equal(&b) || b.Equal(&a) {
			t.Fatalf("keys differing in byte %d compare equal", i)
		}
	}
	b := a
	if !a.Equal(&b) {
		t.Fatal("a key differs from its copy")
	}
}

// TestShardsSpread: flows that differ in one port or one address byte
// spread evenly over 2 and 8 shards.
func TestShardsSpread(t *testing.T) {
	for _, shards := range []int{2, 3, 8} {
		tab, _ := New(Config{Shards: shards, MaxFlows: 1024}, nil)
		counts := make([]int, shards)
		const n = 60000
		for i := range n {
			var p Packet
			p.SetKey(&[16]byte{10, 0, byte(i >> 8), byte(i)}, &[16]byte{192, 0, 2, 1}, uint16(i%7), 443, 6, 4, [3]uint16{})
			counts[tab.ShardOf(&p)]++
		}
		for s, c := range counts {
			if c < n/shards*9/10 || c > n/shards*11/10 {
				t.Errorf("%d shards: shard %d got %d of %d flows", shards, s, c, n)
			}
		}
	}
}

// TestKeySize: the key stays at 44 bytes with three VLAN ids in it.
func TestKeySize(t *testing.T) {
	if KeySize != 44 {
		t.Errorf("Key is %d bytes, want 44", KeySize)
	}
}

// TestVLANs: every 12-bit id survives packing in every position, and
// neither Set nor PackVLANs lets one id spill into another.
func TestVLANs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 100000 {
		ids := [3]uint16{uint16(r.UintN(4096)), uint16(r.UintN(4096)), uint16(r.UintN(4096))}
		if got := PackVLANs(ids).IDs(); got != ids {
			t.Fatalf("PackVLANs(%v).IDs() = %v", ids, got)
		}
		var k Key
		k.Set(&[16]byte{1}, &[16]byte{2}, 3, 4, 17, 4, ids)
		if got := k.VLAN.IDs(); got != ids || k.Proto != 17 || k.Family != 4 || k.Depth != 0 {
			t.Fatalf("Set with %v: VLAN %v proto %d family %d depth %d", ids, got, k.Proto, k.Family, k.Depth)
		}
	}
	// Bits above the 12 of an id are dropped, as decode never sets them.
	if got := PackVLANs([3]uint16{0xf001, 0xf002, 0xf003}).IDs(); got != [3]uint16{1, 2, 3} {
		t.Errorf("high bits kept: %v", got)
	}
	// Keys differing only in the third id differ, and hash apart.
	var a, b Key
	a.Set(&[16]byte{1}, &[16]byte{2}, 3, 4, 17, 4, [3]uint16{10, 20, 30})
	b.Set(&[16]byte{1}, &[16]byte{2}, 3, 4, 17, 4, [3]uint16{10, 20, 31})
	if a.Equal(&b) || a.Hash() == b.Hash() {
		t.Error("keys differing in the third VLAN id compare or hash equal")
	}
}

// TestFlowSize: a slab entry stays at 120 bytes (the P4 memory target).
func TestFlowSize(t *testing.T) {
	if FlowSize != 120 {
		t.Errorf("Flow is %d bytes, want 120", FlowSize)
	}
}
