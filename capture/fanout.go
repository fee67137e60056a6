package capture

import "github.com/flowd/flowd/internal/sys"

// FanoutMode is how an AF_PACKET fanout group spreads frames over its
// sockets (AFPacketConfig.Fanout).
type FanoutMode uint8

const (
	// FanoutAddr (the default) runs a classic BPF program in the kernel
	// (PACKET_FANOUT_CBPF) that hashes the frame's IP address pair only,
	// the same both ways: every frame between two hosts reaches one socket,
	// in the order the interface saw them, whatever the ports: both
	// directions, every IPv4 and IPv6 fragment, and ICMP and ICMPv6 errors,
	// which are hashed by the addresses of the packet they quote (so an
	// error from a router on the path goes with the flow it is about).
	// Ethernet frames with up to two VLAN tags left in them and raw IP
	// links are understood; other frames go to the first socket. The cost:
	// all traffic of one host pair is one worker's, however busy.
	FanoutAddr FanoutMode = iota
	// FanoutHash is the kernel's own flow hash (PACKET_FANOUT_HASH):
	// addresses and ports, so one busy host pair spreads over workers, but
	// IPv6 fragments (hashed without ports) and ICMP errors (hashed by
	// their own addresses) may reach another socket than the rest of
	// their flow, and their order relative to it is then lost.
	FanoutHash
)

func (m FanoutMode) String() string {
	switch m {
	case FanoutAddr:
		return "addr"
	case FanoutHash:
		return "hash"
	}
	return "FanoutMode(?)"
}

// Classic BPF opcodes (linux/filter.h).
const (
	bpfLD   = 0x00
	bpfLDX  = 0x01
	bpfST   = 0x02
	bpfSTX  = 0x03
	bpfALU  = 0x04
	bpfJMP  = 0x05
	bpfRET  = 0x06
	bpfMISC = 0x07

	bpfW   = 0x00
	bpfH   = 0x08
	bpfB   = 0x10
	bpfIMM = 0x00
	bpfABS = 0x20
	bpfIND = 0x40
	bpfMEM = 0x60

	bpfADD = 0x00
	bpfMUL = 0x20
	bpfAND = 0x50
	bpfLSH = 0x60
	bpfRSH = 0x70
	bpfXOR = 0xa0

	bpfJA   = 0x00
	bpfJEQ  = 0x10
	bpfJGE  = 0x30
	bpfJSET = 0x40

	bpfK   = 0x00
	bpfX   = 0x08
	bpfA   = 0x10
	bpfTAX = 0x00
	bpfTXA = 0x80

	// skfLLOff makes a load's offset relative to the frame's link-layer
	// (MAC) header (SKF_LL_OFF). The fanout program runs with the skb's
	// data at the network header on receive but at the MAC header on
	// transmit; the MAC header is where it is either way.
	skfLLOff = 0xffe00000 // -0x200000
)

// bpfAsm builds a classic BPF program with forward jumps to named labels.
type bpfAsm struct {
	prog   []sys.SockFilter
	labels map[string]int
	fixes  []bpfFix
}

type bpfFix struct {
	at     int
	jt, jf string // "" falls through
	ja     string
}

func (a *bpfAsm) op(code uint16, k uint32) {
	a.prog = append(a.prog, sys.SockFilter{Code: code, K: k})
}

func (a *bpfAsm) label(name string) { a.labels[name] = len(a.prog) }

// jmp is a conditional jump: to jt when the test holds, else to jf.
func (a *bpfAsm) jmp(code uint16, k uint32, jt, jf string) {
	a.fixes = append(a.fixes, bpfFix{at: len(a.prog), jt: jt, jf: jf})
	a.op(bpfJMP|code|bpfK, k)
}

func (a *bpfAsm) ja(to string) {
	a.fixes = append(a.fixes, bpfFix{at: len(a.prog), ja: to})
	a.op(bpfJMP|bpfJA, 0)
}

func (a *bpfAsm) done() []sys.SockFilter {
	rel := func(from int, to string) int {
		if to == "" {
			return 0
		}
		at, ok := a.labels[to]
		if !ok || at <= from {
			panic("bpf: bad label " + to)
		}
		return at - from - 1
	}
	for _, f := range a.fixes {
		if f.ja != "" {
			a.prog[f.at].K = uint32(rel(f.at, f.ja))
			continue
		}
		jt, jf := rel(f.at, f.jt), rel(f.at, f.jf)
		if jt > 255 || jf > 255 {
			panic("bpf: jump too far")
		}
		a.prog[f.at].Jt, a.prog[f.at].Jf = uint8(jt), uint8(jf)
	}
	return a.prog
}

// addrFanoutProg returns the FanoutAddr program for frames of link type
// link: it returns a hash of the IP address pair that is the same for
// both directions (the sum of the source and destination address words,
// modulo 2^32, then mixed), and 0 for frames that are not IPv4 or IPv6.
// A sum rather than an XOR: an XOR cancels the bits the two addresses
// share, so pairs such as 10.0.5.1-10.0.5.2 and 10.0.6.1-10.0.6.2 would
// all hash alike.
//
// Registers and scratch memory: X holds the offset of the header being
// looked at from the MAC header; M[0] the offset of the IP header whose
// addresses are hashed; M[1] the sum so far.
func addrFanoutProg(link LinkType) []sys.SockFilter {
	a := &bpfAsm{labels: map[string]int{}}
	ldx := func(k uint32) { a.op(bpfLDX|bpfW|bpfIMM, k) }
	ind := func(size uint16, off uint32) { a.op(bpfLD|size|bpfIND, skfLLOff+off) }
	switch link {
	case LinkRaw:
		// No link header: the IP version is the first nibble.
		ldx(0)
		a.op(bpfLD|bpfB|bpfABS, skfLLOff)
		a.op(bpfALU|bpfRSH|bpfK, 4)
		a.jmp(bpfJEQ, 4, "v4", "")
		a.jmp(bpfJEQ, 6, "v6", "none")
	default:
		// Ethernet: the kernel has taken the outer VLAN tag out of the
		// frame (into metadata) on receive, or not; up to two tags may
		// be left.
		ldx(14)
		a.op(bpfLD|bpfH|bpfABS, skfLLOff+12)
		a.jmp(bpfJEQ, 0x8100, "tag1", "")
		a.jmp(bpfJEQ, 0x88a8, "tag1", "type")
		a.label("tag1")
		ldx(18)
		a.op(bpfLD|bpfH|bpfABS, skfLLOff+16)
		a.jmp(bpfJEQ, 0x8100, "tag2", "")
		a.jmp(bpfJEQ, 0x88a8, "tag2", "type")
		a.label("tag2")
		ldx(22)
		a.op(bpfLD|bpfH|bpfABS, skfLLOff+20)
		a.label("type")
		a.jmp(bpfJEQ, 0x0800, "v4", "")
		a.jmp(bpfJEQ, 0x86dd, "v6", "none")
	}

	// IPv4: an ICMP error (not a later fragment) is hashed by the header
	// it quotes, anything else by its own addresses.
	a.label("v4")
	a.op(bpfSTX, 0)
	ind(bpfB, 9) // protocol
	a.jmp(bpfJEQ, 1, "", "hash4")
	ind(bpfH, 6)
	a.jmp(bpfJSET, 0x1fff, "hash4", "")
	ind(bpfB, 0)
	a.op(bpfALU|bpfAND|bpfK, 0xf)
	a.op(bpfALU|bpfLSH|bpfK, 2)
	a.op(bpfALU|bpfADD|bpfX, 0)
	a.op(bpfMISC|bpfTAX, 0) // X: the ICMP header
	ind(bpfB, 0)            // type
	for _, t := range []uint32{3, 4, 5, 11, 12} {
		a.jmp(bpfJEQ, t, "in4", "")
	}
	a.ja("hash4")
	a.label("in4")
	a.op(bpfMISC|bpfTXA, 0)
	a.op(bpfALU|bpfADD|bpfK, 8)
	a.op(bpfST, 0)
	a.label("hash4")
	a.op(bpfLDX|bpfW|bpfMEM, 0)
	ind(bpfW, 12)
	a.op(bpfST, 1)
	ind(bpfW, 16)
	a.op(bpfLDX|bpfW|bpfMEM, 1)
	a.op(bpfALU|bpfADD|bpfX, 0)
	a.ja("mix")

	// IPv6: an ICMPv6 error (type below 128) right after the fixed
	// header is hashed by the header it quotes.
	a.label("v6")
	a.op(bpfSTX, 0)
	ind(bpfB, 6) // next header
	a.jmp(bpfJEQ, 58, "", "hash6")
	ind(bpfB, 40)
	a.jmp(bpfJGE, 128, "hash6", "")
	a.op(bpfMISC|bpfTXA, 0)
	a.op(bpfALU|bpfADD|bpfK, 48)
	a.op(bpfST, 0)
	a.label("hash6")
	a.op(bpfLDX|bpfW|bpfMEM, 0)
	ind(bpfW, 8)
	a.op(bpfST, 1)
	for off := uint32(12); off < 40; off += 4 {
		a.op(bpfLDX|bpfW|bpfMEM, 0)
		ind(bpfW, off)
		a.op(bpfLDX|bpfW|bpfMEM, 1)
		a.op(bpfALU|bpfADD|bpfX, 0)
		a.op(bpfST, 1)
	}

	// Mix: fold the high half into the low, multiply by an odd constant,
	// fold again, so the low bits (the kernel takes the value modulo the
	// number of sockets) depend on every address bit.
	a.label("mix")
	a.op(bpfMISC|bpfTAX, 0)
	a.op(bpfALU|bpfRSH|bpfK, 16)
	a.op(bpfALU|bpfXOR|bpfX, 0)
	a.op(bpfALU|bpfMUL|bpfK, 0x45d9f3b)
	a.op(bpfMISC|bpfTAX, 0)
	a.op(bpfALU|bpfRSH|bpfK, 16)
	a.op(bpfALU|bpfXOR|bpfX, 0)
	a.op(bpfRET|bpfA, 0)
	a.label("none")
	a.op(bpfRET|bpfK, 0)
	return a.done()
}
