package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/testnet"
)

// Live-capture tests: real traffic crosses a veth pair between two network
// namespaces (testnet), sent by Go clients, by raw ICMP and by tcpreplay,
// and the sources under test capture it on the receiving end, inside its
// namespace. They need root; testnet skips them otherwise.

// got is one captured frame, copied out of the source's buffer.
type got struct {
	sock int // index of the source in the group
	data []byte
	wire uint32
	ts   int64
	link LinkType
}

// collector reads sources in goroutines until stopped.
type collector struct {
	mu     sync.Mutex
	frames []got
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	errs   []error
}

// collect starts reading srcs; the readers stop at c.end or, at the latest,
// when the test ends (before the sources' own cleanup closes them).
func collect[S Source](t *testing.T, srcs []S) *collector {
	c := &collector{stop: make(chan struct{})}
	t.Cleanup(c.halt)
	for i, s := range srcs {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			batch := make([]Frame, 64)
			for {
				select {
				case <-c.stop:
					return
				default:
				}
				n, err := s.ReadBatch(batch)
				c.mu.Lock()
				for _, f := range batch[:n] {
					c.frames = append(c.frames, got{i, bytes.Clone(f.Data), f.WireLen, f.Timestamp, f.LinkType})
				}
				if err != nil {
					c.errs = append(c.errs, err)
				}
				c.mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	return c
}

func (c *collector) halt() {
	c.once.Do(func() { close(c.stop) })
	c.wg.Wait()
}

// waitFor waits until pred holds for the frames so far, or d passes.
func (c *collector) waitFor(d time.Duration, pred func([]got) bool) bool {
	deadline := time.Now().Add(d)
	for {
		c.mu.Lock()
		ok := pred(c.frames)
		c.mu.Unlock()
		if ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// end stops the readers and returns everything captured.
func (c *collector) end(t *testing.T) []got {
	c.halt()
	for _, err := range c.errs {
		t.Errorf("ReadBatch: %v", err)
	}
	return c.frames
}

// marker is the payload tag that identifies a test packet: a prefix, the
// test's tag and a sequence number.
func marker(tag string, i int) []byte { return fmt.Appendf(nil, "FLOWDMARK/%s/%06d/", tag, i) }

// markers counts, per sequence number, frames carrying tag's marker.
func markers(frames []got, tag string) map[int][]got {
	m := map[int][]got{}
	prefix := []byte("FLOWDMARK/" + tag + "/")
	for _, f := range frames {
		i := bytes.Index(f.data, prefix)
		if i < 0 || len(f.data) < i+len(prefix)+6 {
			continue
		}
		seq, err := strconv.Atoi(string(f.data[i+len(prefix) : i+len(prefix)+6]))
		if err != nil {
			continue
		}
		m[seq] = append(m[seq], f)
	}
	return m
}

func countMarkers(tag string, n int) func([]got) bool {
	return func(fs []got) bool { return len(markers(fs, tag)) >= n }
}

// udpSink listens on port in ns and discards what arrives, so the kernel
// sends no ICMP port-unreachable replies that would add frames.
func udpSink(t *testing.T, ns testnet.Namespace, addr netip.Addr, port int) {
	t.Helper()
	var conn *net.UDPConn
	err := ns.Do(func() (err error) {
		conn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(port))))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
}

// udpSend sends one datagram per payload from ns, from srcPort (0: any) to
// dst.
func udpSend(t *testing.T, ns testnet.Namespace, src netip.Addr, srcPort int, dst netip.AddrPort, payloads [][]byte) {
	t.Helper()
	err := ns.Do(func() error {
		c, err := net.DialUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, uint16(srcPort))), net.UDPAddrFromAddrPort(dst))
		if err != nil {
			return err
		}
		defer c.Close()
		for _, p := range payloads {
			if _, err := c.Write(p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func payloads(tag string, from, n, size int) [][]byte {
	ps := make([][]byte, n)
	for i := range ps {
		p := marker(tag, from+i)
		ps[i] = append(p, bytes.Repeat([]byte{'x'}, max(0, size-len(p)))...)
	}
	return ps
}

// openAF opens n AF_PACKET sources on the pair's B end, inside B.
func openAF(t *testing.T, p *testnet.Pair, n int, cfg AFPacketConfig) []*AFPacket {
	t.Helper()
	var srcs []*AFPacket
	err := p.B.Do(func() (err error) {
		srcs, err = OpenAFPacket(p.IfB, n, cfg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range srcs {
			s.Close()
		}
	})
	return srcs
}

// ipv4UDP decodes an untagged Ethernet/IPv4/UDP frame's addresses, ports
// and payload (test helper, no options).
func ipv4UDP(b []byte) (src, dst netip.AddrPort, payload []byte, ok bool) {
	if len(b) < 42 || binary.BigEndian.Uint16(b[12:]) != 0x0800 || b[23] != 17 {
		return
	}
	ihl := int(b[14]&15) * 4
	if len(b) < 14+ihl+8 {
		return
	}
	s4, d4 := [4]byte(b[26:30]), [4]byte(b[30:34])
	u := b[14+ihl:]
	src = netip.AddrPortFrom(netip.AddrFrom4(s4), binary.BigEndian.Uint16(u))
	dst = netip.AddrPortFrom(netip.AddrFrom4(d4), binary.BigEndian.Uint16(u[2:]))
	return src, dst, u[8:], true
}

// TestLiveAFPacketUDP: datagrams from A to B are each captured once on
// B's veth, with the right addresses, ports, payload, lengths, link type
// and a timestamp taken while the test ran.
func TestLiveAFPacketUDP(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	srcs := openAF(t, p, 1, AFPacketConfig{})
	if srcs[0].LinkType() != LinkEthernet {
		t.Fatalf("link type %v", srcs[0].LinkType())
	}
	udpSink(t, p.B, p.AddrB, 7000)
	c := collect(t, srcs)
	start := time.Now().UnixNano()
	const n = 300
	udpSend(t, p.A, p.AddrA, 40000, netip.AddrPortFrom(p.AddrB, 7000), payloads("udp", 0, n, 200))
	c.waitFor(5*time.Second, countMarkers("udp", n))
	frames := c.end(t)
	end := time.Now().UnixNano()
	m := markers(frames, "udp")
	for i := range n {
		fs := m[i]
		if len(fs) != 1 {
			t.Fatalf("marker %d captured %d times", i, len(fs))
		}
		f := fs[0]
		src, dst, pl, ok := ipv4UDP(f.data)
		if !ok || src != netip.AddrPortFrom(p.AddrA, 40000) || dst != netip.AddrPortFrom(p.AddrB, 7000) || !bytes.Equal(pl, payloads("udp", i, 1, 200)[0]) {
			t.Fatalf("marker %d: frame % x", i, f.data)
		}
		if !bytes.Equal(f.data[0:6], p.MACB) || !bytes.Equal(f.data[6:12], p.MACA) {
			t.Fatalf("marker %d: MACs % x", i, f.data[:12])
		}
		if len(f.data) != 14+20+8+200 || f.wire != uint32(len(f.data)) || f.link != LinkEthernet {
			t.Fatalf("marker %d: len %d wire %d link %v", i, len(f.data), f.wire, f.link)
		}
		if f.ts < start || f.ts > end {
			t.Fatalf("marker %d: timestamp %d outside [%d, %d]", i, f.ts, start, end)
		}
	}
	st := srcs[0].LiveStats()
	if !st.Up || st.State != "capturing" || st.Frames != uint64(len(frames)) || st.Drops != 0 || st.Size != -1 {
		t.Fatalf("stats %+v", st)
	}
	if st.Received != st.Frames {
		t.Errorf("kernel received %d, delivered %d", st.Received, st.Frames)
	}
}

// TestLiveAFPacketFanout: two sockets in one fanout group in hash mode
// (FanoutHash) share the traffic of many UDP and TCP flows: every marked frame is captured exactly
// once across the group, both sockets get some, and all frames of one flow
// (both directions for TCP) land on the same socket.
func TestLiveAFPacketFanout(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	srcs := openAF(t, p, 2, AFPacketConfig{Fanout: FanoutHash})
	if srcs[0].FanoutGroup() == 0 && srcs[1].FanoutGroup() != srcs[0].FanoutGroup() {
		t.Fatalf("fanout groups %d %d", srcs[0].FanoutGroup(), srcs[1].FanoutGroup())
	}
	udpSink(t, p.B, p.AddrB, 7000)
	// A TCP server in B that reads one message and answers with it.
	var ln net.Listener
	if err := p.B.Do(func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(p.AddrB, 7001).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var srv sync.WaitGroup
	srv.Add(1)
	go func() {
		defer srv.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 100)
			n, _ := conn.Read(buf)
			conn.Write(buf[:n])
			conn.Close()
		}
	}()
	defer func() { ln.Close(); srv.Wait() }()

	c := collect(t, srcs)
	const flows, per = 32, 10
	for f := range flows {
		udpSend(t, p.A, p.AddrA, 41000+f, netip.AddrPortFrom(p.AddrB, 7000), payloads("fan", f*per, per, 100))
	}
	err := p.A.Do(func() error {
		for f := range flows {
			conn, err := net.Dial("tcp4", netip.AddrPortFrom(p.AddrB, 7001).String())
			if err != nil {
				return err
			}
			conn.Write(marker("tcp", f))
			buf := make([]byte, 100)
			if _, err := conn.Read(buf); err != nil {
				return err
			}
			conn.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.waitFor(5*time.Second, func(fs []got) bool {
		return len(markers(fs, "fan")) >= flows*per && len(markers(fs, "tcp")) >= flows
	})
	time.Sleep(200 * time.Millisecond) // let the last FIN/ACKs arrive
	frames := c.end(t)

	m := markers(frames, "fan")
	perSock := [2]int{}
	for f := range flows {
		sock := -1
		for i := f * per; i < (f+1)*per; i++ {
			if len(m[i]) != 1 {
				t.Fatalf("udp marker %d captured %d times", i, len(m[i]))
			}
			if sock >= 0 && m[i][0].sock != sock {
				t.Fatalf("udp flow %d split over sockets", f)
			}
			sock = m[i][0].sock
		}
		perSock[sock]++
	}
	if perSock[0] == 0 || perSock[1] == 0 {
		t.Errorf("flows per socket %v: fanout did not spread", perSock)
	}
	// TCP: the request marker is seen once from A and once echoed back
	// from B; every frame of a connection is on one socket.
	tm := markers(frames, "tcp")
	conns := map[[2]netip.AddrPort]int{} // sorted endpoints -> socket
	for f := range flows {
		if len(tm[f]) != 2 {
			t.Fatalf("tcp marker %d captured %d times, want 2 (request and echo)", f, len(tm[f]))
		}
	}
	for _, fr := range frames {
		b := fr.data
		if len(b) < 54 || binary.BigEndian.Uint16(b[12:]) != 0x0800 || b[23] != 6 {
			continue
		}
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[26:30])), binary.BigEndian.Uint16(b[34:]))
		z := netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[30:34])), binary.BigEndian.Uint16(b[36:]))
		if z.Compare(a) < 0 {
			a, z = z, a
		}
		k := [2]netip.AddrPort{a, z}
		if s, ok := conns[k]; ok && s != fr.sock {
			t.Fatalf("tcp connection %v split over sockets", k)
		}
		conns[k] = fr.sock
	}
	if len(conns) != flows {
		t.Errorf("%d tcp connections seen, want %d", len(conns), flows)
	}
	var total uint64
	for _, s := range srcs {
		st := s.LiveStats()
		total += st.Frames
		if st.Drops != 0 || !st.Up {
			t.Errorf("stats %+v", st)
		}
	}
	if total != uint64(len(frames)) {
		t.Errorf("stats count %d frames, collected %d", total, len(frames))
	}
}

// TestLiveAFPacketICMP: an echo request sent from a raw ICMP socket in A
// and the kernel's reply from B are both captured.
func TestLiveAFPacketICMP(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	srcs := openAF(t, p, 1, AFPacketConfig{})
	c := collect(t, srcs)
	err := p.A.Do(func() error {
		conn, err := net.ListenPacket("ip4:icmp", p.AddrA.String())
		if err != nil {
			return err
		}
		defer conn.Close()
		for i := range 3 {
			msg := append([]byte{8, 0, 0, 0, 0x12, 0x34, 0, byte(i)}, marker("ping", i)...)
			binary.BigEndian.PutUint16(msg[2:], ^onesSum(msg))
			if _, err := conn.WriteTo(msg, &net.IPAddr{IP: p.AddrB.AsSlice()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.waitFor(5*time.Second, func(fs []got) bool {
		m := markers(fs, "ping")
		return len(m) == 3 && len(m[0]) == 2 && len(m[1]) == 2 && len(m[2]) == 2
	})
	m := markers(c.end(t), "ping")
	for i := range 3 {
		if len(m[i]) != 2 {
			t.Fatalf("ping %d: %d frames, want request and reply", i, len(m[i]))
		}
		types := map[byte]bool{}
		for _, f := range m[i] {
			types[f.data[34]] = true
		}
		if !types[8] || !types[0] {
			t.Fatalf("ping %d: ICMP types %v", i, types)
		}
	}
}

func onesSum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// replayFrames builds frames for tcpreplay from A's MAC to B's: untagged
// IPv4 and IPv6 UDP, 802.1Q, 802.1ad and 802.1ad+802.1Q (QinQ) tagged
// IPv4 UDP, of several sizes, each with a marker in its payload.
func replayFrames(p *testnet.Pair, tag string, n int) [][]byte {
	frames := make([][]byte, n)
	for i := range frames {
		var f []byte
		f = append(f, p.MACB...)
		f = append(f, p.MACA...)
		switch i % 5 {
		case 1:
			f = append(f, 0x81, 0x00, 0x20, 0x64) // 802.1Q, PCP 1, VLAN 100
		case 2:
			f = append(f, 0x88, 0xa8, 0x00, 0xc8) // 802.1ad, VLAN 200
		case 3:
			f = append(f, 0x88, 0xa8, 0x00, 0xc8, 0x81, 0x00, 0x01, 0x2c) // 802.1ad 200, 802.1Q 300
		}
		pl := marker(tag, i)
		pl = append(pl, bytes.Repeat([]byte{byte(i)}, []int{6, 100, 500, 1200, 20}[i%5])...)
		if i%5 == 4 {
			f = append(f, 0x86, 0xdd)
			ip := make([]byte, 40)
			ip[0] = 0x60
			binary.BigEndian.PutUint16(ip[4:], uint16(8+len(pl)))
			ip[6], ip[7] = 17, 64
			copy(ip[8:], netip.MustParseAddr("fd00::1").AsSlice())
			copy(ip[24:], netip.MustParseAddr("fd00::2").AsSlice())
			f = append(f, ip...)
		} else {
			f = append(f, 0x08, 0x00)
			ip := []byte{0x45, 0, 0, 0, byte(i >> 8), byte(i), 0, 0, 64, 17, 0, 0}
			binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(pl)))
			ip = append(ip, p.AddrA.AsSlice()...)
			ip = append(ip, p.AddrB.AsSlice()...)
			binary.BigEndian.PutUint16(ip[10:], ^onesSum(ip))
			f = append(f, ip...)
		}
		udp := []byte{0x9c, 0x40, 0x1b, 0x58, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(udp[4:], uint16(8+len(pl)))
		f = append(f, udp...)
		f = append(f, pl...)
		frames[i] = f
	}
	return frames
}

// writePcap writes frames as a microsecond pcap file in dir.
func writePcap(t *testing.T, dir string, frames [][]byte) string {
	t.Helper()
	var b []byte
	le := binary.LittleEndian
	b = le.AppendUint32(b, 0xa1b2c3d4)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, 65535)
	b = le.AppendUint32(b, 1)
	for i, f := range frames {
		b = le.AppendUint32(b, 1_700_000_000)
		b = le.AppendUint32(b, uint32(i))
		b = le.AppendUint32(b, uint32(len(f)))
		b = le.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	name := filepath.Join(dir, "replay.pcap")
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func needBPF(t *testing.T) {
	if !haveLibpcap {
		t.Skip("BPF filters are compiled by libpcap: needs a cgo build with libpcap-dev")
	}
}

func needTcpreplay(t *testing.T) {
	if _, err := exec.LookPath("tcpreplay"); err != nil {
		t.Skip("needs tcpreplay (apt-get install tcpreplay)")
	}
}

// TestLiveAFPacketReplay: frames replayed with tcpreplay onto A's veth
// arrive on B's byte for byte, including 802.1Q, 802.1ad and QinQ tags
// that the kernel strips from the outer tag and the source puts back.
func TestLiveAFPacketReplay(t *testing.T) {
	needTcpreplay(t)
	p := testnet.NewPair(t, testnet.Options{})
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("sockets=%d", n), func(t *testing.T) {
			srcs := openAF(t, p, n, AFPacketConfig{})
			tag := fmt.Sprintf("replay%d", n)
			sent := replayFrames(p, tag, 200)
			file := writePcap(t, t.TempDir(), sent)
			c := collect(t, srcs)
			p.A.Run(t, "tcpreplay", "-q", "-t", "-i", p.IfA, file)
			c.waitFor(5*time.Second, countMarkers(tag, len(sent)))
			// B answers the untagged IPv4 datagrams with ICMP port
			// unreachable, quoting them: keep only frames from A.
			var fromA []got
			for _, f := range c.end(t) {
				if bytes.Equal(f.data[6:12], p.MACA) {
					fromA = append(fromA, f)
				}
			}
			m := markers(fromA, tag)
			for i, want := range sent {
				if len(m[i]) != 1 {
					t.Fatalf("frame %d captured %d times", i, len(m[i]))
				}
				f := m[i][0]
				if !bytes.Equal(f.data, want) || f.wire != uint32(len(want)) {
					t.Fatalf("frame %d (wire %d):\n got % x\nwant % x", i, f.wire, f.data, want)
				}
			}
		})
	}
}

// TestLiveAFPacketVLAN: traffic sent through VLAN sub-interfaces (802.1Q
// id 10, 802.1ad id 20) on A is captured on B's parent veth with its tag:
// TPID and VLAN id as sent.
func TestLiveAFPacketVLAN(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	srcs := openAF(t, p, 1, AFPacketConfig{})
	c := collect(t, srcs)
	for _, v := range []struct {
		id    int
		proto string
		tpid  uint16
	}{{10, "802.1Q", 0x8100}, {20, "802.1ad", 0x88a8}} {
		vl := p.AddVLAN(t, v.id, v.proto)
		udpSink(t, p.B, vl.AddrB, 7000)
		tag := fmt.Sprintf("vlan%d", v.id)
		udpSend(t, p.A, vl.AddrA, 42000, netip.AddrPortFrom(vl.AddrB, 7000), payloads(tag, 0, 20, 64))
		if !c.waitFor(5*time.Second, countMarkers(tag, 20)) {
			t.Fatalf("vlan %d: frames missing", v.id)
		}
		c.mu.Lock()
		m := markers(c.frames, tag)
		c.mu.Unlock()
		for i := range 20 {
			if len(m[i]) != 1 {
				t.Fatalf("vlan %d marker %d: %d frames", v.id, i, len(m[i]))
			}
			b := m[i][0].data
			if binary.BigEndian.Uint16(b[12:]) != v.tpid || int(binary.BigEndian.Uint16(b[14:])&0xfff) != v.id ||
				binary.BigEndian.Uint16(b[16:]) != 0x0800 || m[i][0].wire != uint32(len(b)) || len(b) != 18+20+8+64 {
				t.Fatalf("vlan %d marker %d: frame % x", v.id, i, b)
			}
		}
	}
	c.end(t)
}

// TestLiveAFPacketBPF: a filter passes only matching traffic; a filter
// that does not compile is refused with ErrBadFilter, naming it.
func TestLiveAFPacketBPF(t *testing.T) {
	needBPF(t)
	p := testnet.NewPair(t, testnet.Options{})
	srcs := openAF(t, p, 2, AFPacketConfig{LiveConfig: LiveConfig{BPF: "udp dst port 7000"}})
	udpSink(t, p.B, p.AddrB, 7000)
	udpSink(t, p.B, p.AddrB, 7002)
	c := collect(t, srcs)
	udpSend(t, p.A, p.AddrA, 0, netip.AddrPortFrom(p.AddrB, 7002), payloads("no", 0, 50, 50))
	udpSend(t, p.A, p.AddrA, 0, netip.AddrPortFrom(p.AddrB, 7000), payloads("yes", 0, 50, 50))
	c.waitFor(5*time.Second, countMarkers("yes", 50))
	time.Sleep(100 * time.Millisecond)
	frames := c.end(t)
	if n := len(markers(frames, "yes")); n != 50 {
		t.Errorf("%d of 50 matching frames captured", n)
	}
	if len(frames) != 50 {
		t.Errorf("%d frames captured, want only the 50 matching ones", len(frames))
	}

	err := p.B.Do(func() error {
		_, err := OpenAFPacket(p.IfB, 2, AFPacketConfig{LiveConfig: LiveConfig{BPF: "udp port banana"}})
		return err
	})
	if !errors.Is(err, ErrBadFilter) || !bytes.Contains([]byte(err.Error()), []byte(`"udp port banana"`)) {
		t.Fatalf("bad filter: %v", err)
	}
	t.Logf("bad filter: %v", err)
}

// TestLiveAFPacketLoopback: on a loopback interface (Ethernet-framed,
// zero MACs) each datagram is delivered once, although the kernel passes
// it to packet sockets twice (leaving and arriving).
func TestLiveAFPacketLoopback(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	var srcs []*AFPacket
	if err := p.A.Do(func() (err error) { srcs, err = OpenAFPacket("lo", 1, AFPacketConfig{}); return err }); err != nil {
		t.Fatal(err)
	}
	defer srcs[0].Close()
	if srcs[0].LinkType() != LinkEthernet {
		t.Fatalf("link type %v", srcs[0].LinkType())
	}
	lo := netip.MustParseAddr("127.0.0.1")
	udpSink(t, p.A, lo, 7000)
	c := collect(t, srcs)
	udpSend(t, p.A, lo, 45000, netip.AddrPortFrom(lo, 7000), payloads("lo", 0, 50, 80))
	c.waitFor(5*time.Second, countMarkers("lo", 50))
	time.Sleep(100 * time.Millisecond)
	m := markers(c.end(t), "lo")
	for i := range 50 {
		if len(m[i]) != 1 {
			t.Fatalf("marker %d captured %d times", i, len(m[i]))
		}
		if src, dst, _, ok := ipv4UDP(m[i][0].data); !ok || src.Addr() != lo || dst.Port() != 7000 {
			t.Fatalf("marker %d: % x", i, m[i][0].data)
		}
	}
}

// TestLiveAFPacketBPFVLAN: "vlan 100" and "inbound" filters behave as with
// tcpdump on Linux, though the kernel has taken the tag out of the frame.
func TestLiveAFPacketBPFVLAN(t *testing.T) {
	needBPF(t)
	needTcpreplay(t)
	p := testnet.NewPair(t, testnet.Options{})
	sent := replayFrames(p, "bpfvlan", 100)
	file := writePcap(t, t.TempDir(), sent)
	for _, c := range []struct {
		expr string
		want func(i int) bool
	}{
		{"vlan 100", func(i int) bool { return i%5 == 1 }},
		{"vlan 200 and vlan 300", func(i int) bool { return i%5 == 3 }},
		{"inbound and ip6", func(i int) bool { return i%5 == 4 }},
	} {
		srcs := openAF(t, p, 1, AFPacketConfig{LiveConfig: LiveConfig{BPF: c.expr}})
		col := collect(t, srcs)
		p.A.Run(t, "tcpreplay", "-q", "-t", "-i", p.IfA, file)
		col.waitFor(3*time.Second, countMarkers("bpfvlan", 20))
		time.Sleep(100 * time.Millisecond)
		m := markers(col.end(t), "bpfvlan")
		srcs[0].Close()
		for i, f := range sent {
			if n := len(m[i]); (n == 1) != c.want(i) || n > 1 {
				t.Fatalf("%q: frame %d captured %d times", c.expr, i, n)
			}
			if len(m[i]) == 1 && !bytes.Equal(m[i][0].data, f) {
				t.Fatalf("%q: frame %d differs", c.expr, i)
			}
		}
	}
}
