package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/testnet"
)

// Frames for the fanout tests, built by hand and written onto the veth with
// a raw packet socket, so the test decides every byte: VLAN tags, IPv4 and
// IPv6 fragments, ICMP errors from a third address.

// ethFrame wraps an IP packet in Ethernet with tags VLAN tags (0, 1: 802.1Q,
// 2: 802.1ad outside 802.1Q).
func ethFrame(p *testnet.Pair, tags int, v6 bool, pkt []byte) []byte {
	b := append(append([]byte{}, p.MACB...), p.MACA...)
	switch tags {
	case 1:
		b = append(b, 0x81, 0x00, 0x00, 0x64)
	case 2:
		b = append(b, 0x88, 0xa8, 0x00, 0xc8, 0x81, 0x00, 0x00, 0x64)
	}
	if v6 {
		b = append(b, 0x86, 0xdd)
	} else {
		b = append(b, 0x08, 0x00)
	}
	return append(b, pkt...)
}

func ip4Packet(src, dst netip.Addr, proto byte, id uint16, frag uint16, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(h[4:], id)
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8], h[9] = 64, proto
	s, d := src.As4(), dst.As4()
	copy(h[12:], s[:])
	copy(h[16:], d[:])
	binary.BigEndian.PutUint16(h[10:], ^onesSum(h))
	return append(h, payload...)
}

func ip6Packet(src, dst netip.Addr, next byte, payload []byte) []byte {
	h := make([]byte, 40, 40+len(payload))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6], h[7] = next, 64
	s, d := src.As16(), dst.As16()
	copy(h[8:], s[:])
	copy(h[24:], d[:])
	return append(h, payload...)
}

func udpDatagram(sport, dport uint16, data []byte) []byte {
	u := make([]byte, 8, 8+len(data))
	binary.BigEndian.PutUint16(u, sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(data)))
	return append(u, data...)
}

func padded(m []byte, n int) []byte { return append(m, bytes.Repeat([]byte{'.'}, n-len(m))...) }

// fanoutSteps is how many frames each host pair sends; seq/fanoutSteps is
// the pair of the frame with marker seq.
const fanoutSteps = 8

// pairFrames returns the frames of host pair i (hosts a and b) in the order
// they are sent, each with one marker: datagrams both ways, a datagram sent
// as two fragments, an ICMP error from a router on the path quoting a→b
// and one from b quoting a→b, VLAN tags (0, 1 or 2) varying from frame to
// frame.
func pairFrames(p *testnet.Pair, i int, a, b, router netip.Addr) [][]byte {
	v6 := a.Is6()
	sp, dp := uint16(20000+i), uint16(53)
	var out [][]byte
	for step := range fanoutSteps {
		m := marker("fo", i*fanoutSteps+step)
		var pkt []byte
		ip := func(src, dst netip.Addr, proto byte, payload []byte) []byte {
			if v6 {
				return ip6Packet(src, dst, proto, payload)
			}
			return ip4Packet(src, dst, proto, uint16(i), 0, payload)
		}
		quote := func() []byte { // a→b as quoted by an error
			q := ip(a, b, 17, udpDatagram(sp, dp, padded(nil, 20)))
			return q[:len(q)-20]
		}
		icmpErr := func(src netip.Addr) []byte {
			if v6 {
				e := append([]byte{3, 0, 0, 0, 0, 0, 0, 0}, quote()...)
				return ip6Packet(src, a, 58, append(e, m...))
			}
			e := append([]byte{11, 0, 0, 0, 0, 0, 0, 0}, quote()...)
			e = append(e, m...)
			binary.BigEndian.PutUint16(e[2:], ^onesSum(e))
			return ip4Packet(src, a, 1, uint16(i), 0, e)
		}
		frag := func(first bool) []byte {
			id := uint32(0x1000 + i)
			if v6 {
				fh := make([]byte, 8)
				fh[0] = 17
				if first {
					fh[3] = 1 // offset 0, more fragments
				} else {
					binary.BigEndian.PutUint16(fh[2:], 4<<3) // offset 32 bytes
				}
				binary.BigEndian.PutUint32(fh[4:], id)
				data := padded(m, 32)
				if first {
					data = udpDatagram(sp, dp, padded(m, 32))[:32]
				}
				return ip6Packet(a, b, 44, append(fh, data...))
			}
			if first {
				return ip4Packet(a, b, 17, uint16(id), 0x2000, udpDatagram(sp, dp, padded(m, 56))[:32])
			}
			return ip4Packet(a, b, 17, uint16(id), 4, padded(m, 32))
		}
		switch step {
		case 0, 6:
			pkt = ip(a, b, 17, udpDatagram(sp, dp, m))
		case 1, 5:
			pkt = ip(b, a, 17, udpDatagram(dp, sp, m))
		case 2:
			pkt = frag(true)
		case 3:
			pkt = frag(false)
		case 4:
			pkt = icmpErr(router)
		case 7:
			pkt = icmpErr(b)
		}
		// The two fragments of a datagram carry the same tags: with the
		// DEFRAG flag the kernel reassembles only frames whose protocol
		// is IP once the outer tag is out, and a fragment that waits for
		// one it never gets is lost.
		tags := (i + step) % 3
		if step == 3 {
			tags = (i + 2) % 3
		}
		out = append(out, ethFrame(p, tags, v6, pkt))
	}
	return out
}

// sendRaw writes frames onto ifname from namespace ns.
func sendRaw(t *testing.T, ns testnet.Namespace, ifname string, frames [][]byte) {
	t.Helper()
	err := ns.Do(func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		sa := &syscall.SockaddrLinklayer{Ifindex: ifc.Index}
		for _, f := range frames {
			if err := syscall.Sendto(fd, f, 0, sa); err != nil {
				return fmt.Errorf("sendto: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// allMarkers returns the sequence numbers of every "fo" marker in b (a
// reassembled datagram holds several).
func allMarkers(b []byte) []int {
	var seqs []int
	prefix := []byte("FLOWDMARK/fo/")
	for {
		i := bytes.Index(b, prefix)
		if i < 0 || len(b) < i+len(prefix)+6 {
			return seqs
		}
		b = b[i+len(prefix):]
		if n, err := strconv.Atoi(string(b[:6])); err == nil {
			seqs = append(seqs, n)
		}
	}
}

// fanoutRun sends the frames of v4 IPv4 and v6 IPv6 host pairs through a
// group of two sockets in cfg's mode and returns, per pair, the sockets
// its frames reached and whether they reached each in the order sent, and
// how many frames each socket got.
func fanoutRun(t *testing.T, cfg AFPacketConfig, v4, v6 int) (sockets []map[int]bool, ordered []bool, perSocket [2]int) {
	p := testnet.NewPair(t, testnet.Options{})
	srcs := openAF(t, p, 2, cfg)
	c := collect(t, srcs)
	var frames [][]byte
	var per [][][]byte
	for i := range v4 + v6 {
		a := netip.AddrFrom4([4]byte{10, 1, byte(i), 1})
		b := netip.AddrFrom4([4]byte{10, 2, byte(3*i + 1), 2})
		r := netip.AddrFrom4([4]byte{10, 9, 9, byte(i)})
		if i >= v4 {
			a = netip.AddrFrom16([16]byte{0xfd, 1, 14: byte(i), 15: 1})
			b = netip.AddrFrom16([16]byte{0xfd, 2, 14: byte(3*i + 1), 15: 2})
			r = netip.AddrFrom16([16]byte{0xfd, 9, 15: byte(i)})
		}
		per = append(per, pairFrames(p, i, a, b, r))
	}
	// Interleave the pairs: step by step, every pair's frame of that step.
	for step := range fanoutSteps {
		for _, fs := range per {
			frames = append(frames, fs[step])
		}
	}
	sendRaw(t, p.A, p.IfA, frames)
	want := len(frames)
	seen := func(fs []got) map[int]bool {
		m := map[int]bool{}
		for _, f := range fs {
			for _, s := range allMarkers(f.data) {
				m[s] = true
			}
		}
		return m
	}
	if !c.waitFor(5*time.Second, func(fs []got) bool { return len(seen(fs)) >= want }) {
		c.mu.Lock()
		n := len(seen(c.frames))
		c.mu.Unlock()
		t.Fatalf("%d of %d marked frames captured", n, want)
	}
	got := c.end(t)
	sockets = make([]map[int]bool, len(per))
	ordered = make([]bool, len(per))
	last := make([]int, len(per))
	for i := range per {
		sockets[i], ordered[i], last[i] = map[int]bool{}, true, -1
	}
	for _, f := range got {
		seqs := allMarkers(f.data)
		if len(seqs) == 0 {
			continue
		}
		perSocket[f.sock]++
		hi := -1
		for _, s := range seqs {
			pair := s / fanoutSteps
			if pair >= len(per) || seqs[0]/fanoutSteps != pair {
				t.Fatalf("frame with markers of several pairs: %v", seqs)
			}
			sockets[pair][f.sock] = true
			hi = max(hi, s)
		}
		pair := hi / fanoutSteps
		if hi < last[pair] {
			ordered[pair] = false
		}
		last[pair] = hi
	}
	return sockets, ordered, perSocket
}

// TestAFPacketFanoutAddr runs the FanoutAddr program in the kernel: IPv4
// and IPv6 host pairs, each sending datagrams both ways, a fragmented
// datagram and ICMP errors from a router and from the peer, in frames with
// 0, 1 or 2 VLAN tags, must each reach exactly one of two sockets, in the
// order sent, and both sockets must get some pairs. With the kernel's hash
// (FanoutHash) the same traffic splits some pairs, which shows the check
// can fail.
func TestAFPacketFanoutAddr(t *testing.T) {
	const v4, v6 = 40, 40
	for _, c := range []struct {
		name string
		cfg  AFPacketConfig
	}{
		{"defrag", AFPacketConfig{}},
		{"no-defrag", AFPacketConfig{NoDefrag: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			sockets, ordered, per := fanoutRun(t, c.cfg, v4, v6)
			for i, s := range sockets {
				if len(s) != 1 {
					t.Errorf("pair %d (IPv6 %v): frames on sockets %v, want one", i, i >= v4, s)
				}
				if !ordered[i] {
					t.Errorf("pair %d (IPv6 %v): frames out of order", i, i >= v4)
				}
			}
			if per[0] == 0 || per[1] == 0 {
				t.Errorf("frames per socket %v: want both used", per)
			}
			t.Logf("frames per socket %v", per)
		})
	}
	t.Run("hash-splits", func(t *testing.T) {
		sockets, _, per := fanoutRun(t, AFPacketConfig{Fanout: FanoutHash, NoDefrag: true}, v4, v6)
		split := 0
		for _, s := range sockets {
			if len(s) > 1 {
				split++
			}
		}
		if split == 0 {
			t.Errorf("FanoutHash kept every pair on one socket; the pair check above cannot tell the modes apart")
		}
		t.Logf("FanoutHash: %d of %d pairs split, frames per socket %v", split, len(sockets), per)
	})
}

// TestAddrFanoutProgInterp runs the program in an interpreter over the same
// frames (and, for the raw IP link, the untagged ones without their
// Ethernet header): every frame of a pair gives one value, the values
// differ between pairs, and a frame that is not IP gives 0.
func TestAddrFanoutProgInterp(t *testing.T) {
	p := &testnet.Pair{MACA: net.HardwareAddr{2, 0, 0, 0, 0, 1}, MACB: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	prog, raw := addrFanoutProg(LinkEthernet), addrFanoutProg(LinkRaw)
	vals := map[uint32]int{}
	for i := range 8 {
		a := netip.AddrFrom4([4]byte{10, 1, byte(i), 1})
		b := netip.AddrFrom4([4]byte{10, 2, byte(3*i + 1), 2})
		r := netip.AddrFrom4([4]byte{10, 9, 9, byte(i)})
		if i >= 4 {
			a = netip.AddrFrom16([16]byte{0xfd, 1, 14: byte(i), 15: 1})
			b = netip.AddrFrom16([16]byte{0xfd, 2, 14: byte(3*i + 1), 15: 2})
			r = netip.AddrFrom16([16]byte{0xfd, 9, 15: byte(i)})
		}
		var v0 uint32
		for j, f := range pairFrames(p, i, a, b, r) {
			v := runCBPF(t, prog, f)
			if j == 0 {
				v0 = v
			}
			if v != v0 {
				t.Errorf("pair %d frame %d: %#x, frame 0 %#x", i, j, v, v0)
			}
			if et := binary.BigEndian.Uint16(f[12:]); et == 0x0800 || et == 0x86dd {
				if v := runCBPF(t, raw, f[14:]); v != v0 {
					t.Errorf("pair %d frame %d as raw IP: %#x, frame 0 %#x", i, j, v, v0)
				}
			}
		}
		vals[v0]++
	}
	if v := runCBPF(t, prog, append(make([]byte, 12), 0x08, 0x06, 0, 1)); v != 0 {
		t.Errorf("ARP frame: %#x, want 0", v)
	}
	if len(vals) != 8 {
		t.Errorf("8 pairs hash to %d values", len(vals))
	}
}
