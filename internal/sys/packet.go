package sys

import (
	"errors"
	"sync/atomic"
	"unsafe"
)

// ErrNotSupported is returned by the packet-socket and namespace helpers
// on operating systems other than Linux.
var ErrNotSupported = errors.New("not supported on this OS (needs Linux)")

// SockFilter is one classic BPF instruction, laid out as the kernel's
// struct sock_filter (and libpcap's struct bpf_insn).
type SockFilter struct {
	Code uint16
	Jt   uint8
	Jf   uint8
	K    uint32
}

// PacketRing describes a TPACKET_V3 receive ring: BlockCount blocks of
// BlockSize bytes each (BlockSize a multiple of the page size), FrameSize
// the nominal frame size the kernel checks the geometry against, Timeout
// how long (ms) the kernel lets a partly filled block wait before handing
// it to user space, and Reserve the headroom (bytes) the kernel leaves in
// front of each frame's link-layer header.
type PacketRing struct {
	BlockSize  uint32
	BlockCount uint32
	FrameSize  uint32
	TimeoutMs  uint32
	Reserve    uint32
}

// PacketStats is what PACKET_STATISTICS reports for a TPACKET_V3 socket
// since the previous read; the kernel clears its counters on every read.
// Packets includes Drops.
type PacketStats struct {
	Packets uint32
	Drops   uint32
	Freezes uint32
}

// Interface describes a network interface as seen from a socket's network
// namespace.
type Interface struct {
	Index  int
	ARPHRD uint16 // ARPHRD_* hardware type (1 Ethernet, 772 loopback, 65534 none)
	Up     bool   // IFF_UP
}

// ARPHRD_* values the capture code maps onto link types.
const (
	ARPHRDEther    = 1
	ARPHRDRawIP    = 519
	ARPHRDLoopback = 772
	ARPHRDNone     = 0xfffe
)

// Poll results.
const (
	PollReadable = 1 << iota // data (a ready ring block) may be waiting
	PollError                // the socket has a pending error (read it with SocketError)
	PollHangup               // the socket can no longer receive
)

// LoadUint32 atomically reads the naturally aligned 32-bit word at b[off:],
// with acquire ordering: memory that another party (the kernel, for a
// shared ring) wrote before publishing the word is visible afterwards. It
// panics, like any slice access, when off is out of range.
func LoadUint32(b []byte, off int) uint32 {
	w := b[off : off+4 : off+4]
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&w[0])))
}

// StoreUint32 atomically writes v to the naturally aligned 32-bit word at
// b[off:], with release ordering: every read of the memory before the
// store happens before the other party sees v.
func StoreUint32(b []byte, off int, v uint32) {
	w := b[off : off+4 : off+4]
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&w[0])), v)
}
