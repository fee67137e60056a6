package flowtable

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Key identifies a flow whichever way its packets travel. It is packed,
// comparable and pointer-free: 44 bytes, every one of them defined (Set
// writes them all), so == and the hash never see garbage.
//
// The two endpoints are stored in a canonical order, A ≤ B comparing the
// address bytes and then the port, so both directions of a flow build the
// same Key and hash alike (Suricata sorts the tuple the same way). Whether a
// given packet travels A→B or B→A is returned by MakeKey next to the Key.
type Key struct {
	A, B         [16]byte // addresses; IPv4 in the first 4 bytes, rest zero
	APort, BPort uint16   // 0 for protocols without ports
	// VLAN holds up to three VLAN ids, outermost first, as Suricata keys
	// flows by three: 12 bits each, packed into 5 bytes so the key stays
	// at 44. Its top 4 bits hold the key's tracking domain (see Domain).
	VLAN   VLANs
	Proto  uint8
	Family uint8 // 4 or 6
	// Depth is how many tunnels deep the packet was (0: not tunnelled), so
	// that a tunnelled flow and one outside with the same tuple stay apart,
	// as Suricata keys flows by recursion level. Set leaves it 0.
	Depth uint8
}

// VLANs packs three 12-bit VLAN ids, outermost first, into 40 bits, little
// endian: id i is bits 12i to 12i+11. The top 4 bits are the key's
// tracking domain: PackVLANs leaves them 0, and IDs ignores them.
type VLANs [5]byte

// MaxDomain is the largest tracking domain a key holds.
//
// A tracking domain keeps flows apart that have the same tuple: packets are
// counted into one flow only when their keys name the same domain, as
// Suricata keys flows by live device (livedev.use-for-tracking). The engine
// gives each live interface a domain of its own and every file domain 0.
// The domain takes the 4 spare bits above the VLAN ids, so the key stays at
// 44 bytes, the flow slot at 120, and Hash and Equal read the same words as
// before: a 2-byte field would make the key 46 bytes and the flow slot 128.
const MaxDomain = 15

// Domain returns the key's tracking domain (see MaxDomain).
func (k *Key) Domain() uint8 { return k.VLAN[4] >> 4 }

// SetDomain sets the key's tracking domain (only its low 4 bits are kept).
// The packet path sets it with the rest of the key, by Packet.SetKeyIn.
func (k *Key) SetDomain(d uint8) { k.VLAN[4] = k.VLAN[4]&0x0f | d<<4 }

// PackVLANs packs ids; only the low 12 bits of each are kept.
func PackVLANs(ids [3]uint16) VLANs {
	x := packVLANs(ids)
	return VLANs{byte(x), byte(x >> 8), byte(x >> 16), byte(x >> 24), byte(x >> 32)}
}

func packVLANs(ids [3]uint16) uint64 {
	return uint64(ids[0]&0xfff) | uint64(ids[1]&0xfff)<<12 | uint64(ids[2]&0xfff)<<24
}

// IDs unpacks the ids, outermost first, 0 where absent.
func (v VLANs) IDs() [3]uint16 {
	x := uint64(v[0]) | uint64(v[1])<<8 | uint64(v[2])<<16 | uint64(v[3])<<24 | uint64(v[4])<<32
	return [3]uint16{uint16(x & 0xfff), uint16(x >> 12 & 0xfff), uint16(x >> 24 & 0xfff)}
}

// KeySize is the size of Key in bytes, all of which is hashed.
const KeySize = int(unsafe.Sizeof(Key{}))

// MakeKey builds the canonical key of a packet from src to dst. reversed
// reports whether the packet travels from the key's B side to its A side.
// Set does the same in place, which is faster on the packet path.
func MakeKey(src, dst *[16]byte, sport, dport uint16, proto, family uint8, vlan [3]uint16) (k Key, reversed bool) {
	reversed = k.Set(src, dst, sport, dport, proto, family, vlan)
	return k, reversed
}

// endpointLess orders endpoints by address bytes, then port. Two big-endian
// 8-byte loads per address keep it to four compares at most.
func endpointLess(a *[16]byte, ap uint16, b *[16]byte, bp uint16) bool {
	a0, b0 := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if a0 != b0 {
		return a0 < b0
	}
	a1, b1 := binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:])
	if a1 != b1 {
		return a1 < b1
	}
	return ap < bp
}

// Hash returns a 64-bit hash of the key. Equal keys hash equally, and since
// keys are canonical, so do both directions of a flow. The table picks a
// flow's shard from the high 32 bits and its index slot from the low 32.
//
// It is the multiply-fold construction of wyhash: pairs of 8-byte words,
// each xor-ed with its own constant, are multiplied to 128 bits and the two
// halves folded; the three products are independent, so they run in
// parallel. xxhash was the first choice; issue 5 asked for a cheaper hash where
// xxhash measures slow on these keys, and it does: 3.4 ns against 10.7-12.3 ns
// for xxhash.Sum64 over the 44 bytes (BenchmarkHash, 2-vCPU EPYC VM,
// 2026-11-21), about 7 % of a replay. xxhash still names flows (Flow.ID).
func (k *Key) Hash() uint64 {
	w := k.words()
	h := mum(w.w0^0xa0761d6478bd642f, w.w1^0xe7037ed1a0b428db) ^
		mum(w.w2^0x8ebc6af09c88c6e3, w.w3^0x589965cc75374cc3) ^
		mum(w.w4^0x1d8e4e27c47d124f, uint64(k.tail())^0xeb44accab455d165)
	return mum(h^0xa0761d6478bd642f, uint64(KeySize)^0xe7037ed1a0b428db)
}

// words and tail view the key as five 8-byte words and one 4-byte word,
// in the machine's byte order. Keys sit at the start of Flow and Packet,
// which hold int64 fields, so the words are aligned. The words are fields
// rather than an array: Equal then costs the inliner 64 instead of 84, under
// its budget of 80.
type keyWords struct{ w0, w1, w2, w3, w4 uint64 }

func (k *Key) words() *keyWords { return (*keyWords)(unsafe.Pointer(k)) }

func (k *Key) tail() uint32 { return *(*uint32)(unsafe.Add(unsafe.Pointer(k), 40)) }

// mum multiplies to 128 bits and folds the halves together.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// xxhash returns xxhash64 of the key's bytes, for flow ids.
func (k *Key) xxhash() uint64 {
	return xxhash.Sum64(k.bytes())
}

// bytes views the key as its 44 bytes. The slice aliases k and must not
// outlive it; Key has no pointers and no implicit padding, so every byte is
// defined.
func (k *Key) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(k)), KeySize)
}

// addr returns one of the key's addresses as a netip.Addr (side 0 = A,
// 1 = B). For output, not for the hot path.
func (k *Key) addr(side int) netip.Addr {
	a := &k.A
	if side != 0 {
		a = &k.B
	}
	if k.Family == 4 {
		return netip.AddrFrom4([4]byte(a[:4]))
	}
	return netip.AddrFrom16(*a)
}

// Set fills k with the canonical key of a packet from src to dst, in place,
// and reports whether the packet travels from the key's B side to its A
// side (see MakeKey).
//
// Ports, VLANs, protocol, family and depth go in as one 8-byte and one
// 4-byte store instead of seven narrow ones: Hash reads those bytes right
// after as one 8-byte and one 4-byte load, and a load that spans several
// pending narrow stores cannot be forwarded from the store buffer and waits
// for them to retire. The stores are native ones through the words view:
// binary.LittleEndian.PutUint32 of a value whose top byte the compiler
// knows to be zero compiled to three narrow stores (go1.26, 2026-12-04).
// Set leaves the depth and the tracking domain 0; Packet.SetKeyIn sets
// them in the same stores.
func (k *Key) Set(src, dst *[16]byte, sport, dport uint16, proto, family uint8, vlan [3]uint16) (reversed bool) {
	return k.set(src, dst, sport, dport, proto, family, vlan, 0, 0)
}

// SetKeyIn is SetKey for a packet found depth tunnels deep in tracking
// domain domain (0 to MaxDomain; see MaxDomain): the depth and the domain
// go into the key with the rest of it, in the same two wide stores.
func (p *Packet) SetKeyIn(src, dst *[16]byte, sport, dport uint16, proto, family uint8, vlan [3]uint16, depth, domain uint8) (reversed bool) {
	reversed = p.Key.set(src, dst, sport, dport, proto, family, vlan, depth, domain)
	p.hash = p.Key.Hash()
	return reversed
}

// set is Set with the depth and the tracking domain.
func (k *Key) set(src, dst *[16]byte, sport, dport uint16, proto, family uint8, vlan [3]uint16, depth, domain uint8) (reversed bool) {
	reversed = endpointLess(dst, dport, src, sport)
	if reversed {
		src, dst = dst, src
		sport, dport = dport, sport
	}
	k.A, k.B = *src, *dst
	if littleEndian {
		v := packVLANs(vlan)
		k.words().w4 = uint64(sport) | uint64(dport)<<16 | v<<32
		*(*uint32)(unsafe.Add(unsafe.Pointer(k), 40)) = uint32(v>>32) | uint32(domain&MaxDomain)<<4 |
			uint32(proto)<<8 | uint32(family)<<16 | uint32(depth)<<24
	} else {
		k.APort, k.BPort, k.VLAN, k.Proto, k.Family, k.Depth = sport, dport, PackVLANs(vlan), proto, family, depth
		k.SetDomain(domain)
	}
	return reversed
}

// Equal reports whether k and o are the same key. It compares the 44 bytes
// as five 8-byte words and one 4-byte word, inline: == on Key calls the
// runtime's generic memequal, which profiled at 7 % of the packet path.
func (k *Key) Equal(o *Key) bool {
	a, b := k.words(), o.words()
	return a.w0^b.w0|a.w1^b.w1|a.w2^b.w2|a.w3^b.w3|a.w4^b.w4|uint64(k.tail()^o.tail()) == 0
}

// littleEndian: the struct's multi-byte fields are stored little endian, so
// Set may write them as one little-endian word.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()
