package flowtable

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Key identifies a flow whichever way its packets travel. It is packed,
// comparable and pointer-free: 44 bytes, no padding holes that could carry
// garbage into == or the hash (the trailing pad is always zero).
//
// The two endpoints are stored in a canonical order, A ≤ B comparing the
// address bytes and then the port, so both directions of a flow build the
// same Key and hash alike (Suricata sorts the tuple the same way). Whether a
// given packet travels A→B or B→A is returned by MakeKey next to the Key.
type Key struct {
	A, B         [16]byte // addresses; IPv4 in the first 4 bytes, rest zero
	APort, BPort uint16   // 0 for protocols without ports
	VLAN         [2]uint16
	Proto        uint8
	Family       uint8 // 4 or 6
	_            [2]byte
}

// KeySize is the size of Key in bytes, all of which is hashed.
const KeySize = int(unsafe.Sizeof(Key{}))

// MakeKey builds the canonical key of a packet from src to dst. reversed
// reports whether the packet travels from the key's B side to its A side.
func MakeKey(src, dst *[16]byte, sport, dport uint16, proto, family uint8, vlan [2]uint16) (k Key, reversed bool) {
	reversed = endpointLess(dst, dport, src, sport)
	if reversed {
		k.A, k.B = *dst, *src
		k.APort, k.BPort = dport, sport
	} else {
		k.A, k.B = *src, *dst
		k.APort, k.BPort = sport, dport
	}
	k.VLAN = vlan
	k.Proto = proto
	k.Family = family
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

// Hash returns xxhash64 of the key's bytes. Equal keys hash equally, and since
// keys are canonical, so do both directions of a flow.
func (k *Key) Hash() uint64 {
	return xxhash.Sum64(k.bytes())
}

// bytes views the key as its 44 bytes. The slice aliases k and must not
// outlive it; Key has no pointers and no implicit padding, so every byte is
// defined.
func (k *Key) bytes() []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(k)), KeySize)
}

// Addr returns one of the key's addresses as a netip.Addr (side 0 = A,
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
