package capture

import (
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/testnet"
)

// TestLiveAFPacketOpenErrors: the errors a command line turns into a usage
// error name the interface and the cause, and match their sentinels.
func TestLiveAFPacketOpenErrors(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	open := func(iface string, cfg AFPacketConfig) error {
		return p.B.Do(func() error {
			srcs, err := OpenAFPacket(iface, 2, cfg)
			for _, s := range srcs {
				s.Close()
			}
			return err
		})
	}
	for _, c := range []struct {
		iface string
		cfg   AFPacketConfig
		kind  error
		msg   string
	}{
		{"nosuch9", AFPacketConfig{}, ErrNoInterface, "afpacket: nosuch9: no such interface"},
		{p.IfB, AFPacketConfig{BlockSize: 1000}, ErrBadConfig, "afpacket: veth-b: bad capture configuration (BlockSize 1000: a multiple of the page size"},
		{p.IfB, AFPacketConfig{LiveConfig: LiveConfig{BPF: "tcp and"}}, ErrBadFilter, `afpacket: veth-b: bad BPF filter "tcp and": `},
	} {
		err := open(c.iface, c.cfg)
		if !errors.Is(err, c.kind) || !strings.HasPrefix(err.Error(), c.msg) {
			t.Errorf("%s %+v: got %v, want %q...", c.iface, c.cfg, err, c.msg)
		}
	}
	testnet.SetLink(t, p.B, p.IfB, false)
	if err := open(p.IfB, AFPacketConfig{}); !errors.Is(err, ErrInterfaceDown) || err.Error() != "afpacket: veth-b: interface is down" {
		t.Errorf("down interface: %v", err)
	}
}

// TestLiveAFPacketPermission runs the test binary again without
// CAP_NET_RAW (setpriv) and checks that opening fails with ErrPermission.
func TestLiveAFPacketPermission(t *testing.T) {
	if os.Getenv("FLOWD_TEST_NO_NET_RAW") == "1" {
		_, err := OpenAFPacket("lo", 1, AFPacketConfig{})
		if !errors.Is(err, ErrPermission) || err.Error() != "afpacket: lo: need CAP_NET_RAW (run as root or grant the capability)" {
			t.Fatalf("without CAP_NET_RAW: %v", err)
		}
		_, err = OpenLibpcap("lo", LibpcapConfig{})
		if !errors.Is(err, ErrPermission) && !errors.Is(err, ErrNotSupported) {
			t.Fatalf("libpcap without CAP_NET_RAW: %v", err)
		}
		t.Logf("libpcap: %v", err)
		return
	}
	testnet.Require(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux) to drop CAP_NET_RAW")
	}
	cmd := exec.Command("setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw", "--",
		os.Args[0], "-test.run=^TestLiveAFPacketPermission$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FLOWD_TEST_NO_NET_RAW=1")
	cmd.Args = append(cmd.Args, "-test.v")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestLiveAFPacketPermission") {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestLiveAFPacketDrops: a tiny ring (2 blocks of one page) that nobody
// reads while a flood arrives fills up; the kernel's drops show in Stats,
// and frames captured plus frames dropped add up to frames sent.
func TestLiveAFPacketDrops(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	page := os.Getpagesize()
	srcs := openAF(t, p, 1, AFPacketConfig{BlockSize: page, BlockCount: 2, FrameSize: page / 2})
	udpSink(t, p.B, p.AddrB, 7000)
	const sent = 2000
	udpSend(t, p.A, p.AddrA, 43000, netip.AddrPortFrom(p.AddrB, 7000), payloads("drop", 0, sent, 100))
	time.Sleep(100 * time.Millisecond) // block timeouts retire the last block
	before := srcs[0].LiveStats()
	var captured uint64
	batch := make([]Frame, 64)
	for {
		n, err := srcs[0].ReadBatch(batch)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		captured += uint64(n)
	}
	st := srcs[0].LiveStats()
	t.Logf("sent %d, captured %d, dropped %d, kernel received %d, freezes %d", sent, captured, st.Drops, st.Received, st.Freezes)
	if before.Drops == 0 || st.Drops != before.Drops {
		t.Errorf("drops before reading %d, after %d: want the same, non-zero", before.Drops, st.Drops)
	}
	if captured+st.Drops != sent || st.Received != sent || st.Frames != captured {
		t.Errorf("captured %d + dropped %d != sent %d (kernel received %d, stats frames %d)", captured, st.Drops, sent, st.Received, st.Frames)
	}
	if st.Freezes == 0 {
		t.Errorf("no queue freeze counted")
	}
	if st.Stats != srcs[0].Stats() {
		t.Errorf("Stats %+v differs from LiveStats %+v", srcs[0].Stats(), st.Stats)
	}
}

// replayLoop starts tcpreplay in ns looping file onto ifc at pps frames
// per second until the test ends.
func replayLoop(t *testing.T, ns testnet.Namespace, ifc, file string, pps int) {
	t.Helper()
	cmd := ns.Command("tcpreplay", "-q", "--loop=0", "--pps="+strconv.Itoa(pps), "-i", ifc, file)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

// TestLiveAFPacketNoAllocs: ReadBatch allocates nothing, both while frames
// stream in (tcpreplay in a separate process, so its work is not counted)
// and while it waits in poll with nothing to read.
func TestLiveAFPacketNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	needTcpreplay(t)
	p := testnet.NewPair(t, testnet.Options{})
	srcs := openAF(t, p, 1, AFPacketConfig{LiveConfig: LiveConfig{PollTimeout: 5 * time.Millisecond}})
	s := srcs[0]
	batch := make([]Frame, 64)
	if a := testing.AllocsPerRun(5, func() { s.ReadBatch(batch) }); a != 0 {
		t.Errorf("idle ReadBatch: %v allocations per call", a)
	}
	file := writePcap(t, t.TempDir(), replayFrames(p, "alloc", 100))
	replayLoop(t, p.A, p.IfA, file, 20000)
	var frames int
	deadline := time.Now().Add(5 * time.Second)
	for frames < 1000 && time.Now().Before(deadline) {
		n, _ := s.ReadBatch(batch)
		frames += n
	}
	if frames < 1000 {
		t.Fatalf("only %d frames arrived", frames)
	}
	before := s.Stats().Frames
	if a := testing.AllocsPerRun(200, func() { s.ReadBatch(batch) }); a != 0 {
		t.Errorf("ReadBatch with traffic: %v allocations per call", a)
	}
	if got := s.Stats().Frames - before; got < 500 {
		t.Errorf("only %d frames read during the allocation test", got)
	}
}

// TestLiveAFPacketDownUp: when the interface goes down the source says so
// and returns (0, nil); when it comes back capture resumes on the same
// socket; when it is deleted and made again the source reopens it by
// itself and captures again, in the namespace it was opened in.
func TestLiveAFPacketDownUp(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	srcs := openAF(t, p, 2, AFPacketConfig{LiveConfig: LiveConfig{PollTimeout: 20 * time.Millisecond, RetryInterval: 100 * time.Millisecond}})
	udpSink(t, p.B, p.AddrB, 7000)
	c := collect(t, srcs)
	send := func(tag string) {
		udpSend(t, p.A, p.AddrA, 44000, netip.AddrPortFrom(p.AddrB, 7000), payloads(tag, 0, 10, 50))
		if !c.waitFor(5*time.Second, countMarkers(tag, 10)) {
			t.Fatalf("%s: frames missing", tag)
		}
	}
	state := func(up bool, contains string) {
		t.Helper()
		ok := c.waitFor(5*time.Second, func([]got) bool {
			for _, s := range srcs {
				st := s.LiveStats()
				if st.Up != up || !strings.Contains(st.State, contains) {
					return false
				}
			}
			return true
		})
		if !ok {
			t.Fatalf("want up=%v, state containing %q; got %+v / %+v", up, contains, srcs[0].LiveStats(), srcs[1].LiveStats())
		}
	}
	send("before")
	testnet.SetLink(t, p.B, p.IfB, false)
	state(false, "veth-b: network is down")
	t.Logf("down: %s", srcs[0].LiveStats().State)
	testnet.SetLink(t, p.B, p.IfB, true)
	state(true, "capturing")
	send("after-up")

	p.DeleteLink(t)
	state(false, "veth-b: ")
	t.Logf("gone: %s", srcs[0].LiveStats().State)
	time.Sleep(300 * time.Millisecond) // a few failed retries
	if st := srcs[0].LiveStats(); !strings.Contains(st.State, "reopen failed") {
		t.Logf("while gone: %s", st.State)
	}
	p.AddLink(t)
	state(true, "capturing")
	send("after-new")
	frames := c.end(t)
	for _, tag := range []string{"before", "after-up", "after-new"} {
		for i, fs := range markers(frames, tag) {
			if len(fs) != 1 {
				t.Errorf("%s marker %d captured %d times (sockets %d, %d)", tag, i, len(fs), fs[0].sock, fs[len(fs)-1].sock)
			}
		}
	}
	for _, s := range srcs {
		if st := s.LiveStats(); st.Reopens != 1 {
			t.Errorf("reopens %d, want 1", st.Reopens)
		}
	}
	t.Logf("fanout groups after reopening: %d %d", srcs[0].FanoutGroup(), srcs[1].FanoutGroup())
	if srcs[0].FanoutGroup() != srcs[1].FanoutGroup() {
		t.Errorf("after reopening, sockets are in groups %d and %d", srcs[0].FanoutGroup(), srcs[1].FanoutGroup())
	}
}

// TestLiveAFPacketCloseWhileReading: Close from another goroutine while
// ReadBatch waits in poll does not pull the ring from under it; the reader
// then gets ErrClosed.
func TestLiveAFPacketCloseWhileReading(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	srcs := openAF(t, p, 2, AFPacketConfig{LiveConfig: LiveConfig{PollTimeout: 50 * time.Millisecond}})
	errs := make(chan error, len(srcs))
	for _, s := range srcs {
		go func() {
			batch := make([]Frame, 16)
			for {
				if _, err := s.ReadBatch(batch); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	file := ""
	if _, err := exec.LookPath("tcpreplay"); err == nil {
		file = writePcap(t, t.TempDir(), replayFrames(p, "close", 100))
		replayLoop(t, p.A, p.IfA, file, 10000)
	}
	time.Sleep(150 * time.Millisecond)
	for _, s := range srcs {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for range srcs {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("after Close: %v", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("ReadBatch did not return after Close")
		}
	}
	if st := srcs[0].LiveStats(); st.Up || st.State != "closed" {
		t.Errorf("after Close: %+v", st)
	}
}

// TestLiveAFPacketSnapLen: a snap length truncates frames in the kernel,
// with and without a BPF filter; WireLen keeps the full length.
func TestLiveAFPacketSnapLen(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	udpSink(t, p.B, p.AddrB, 7000)
	for _, bpf := range []string{"", "udp"} {
		if bpf != "" && !haveLibpcap {
			continue
		}
		srcs := openAF(t, p, 1, AFPacketConfig{LiveConfig: LiveConfig{SnapLen: 64, BPF: bpf}})
		c := collect(t, srcs)
		udpSend(t, p.A, p.AddrA, 46000, netip.AddrPortFrom(p.AddrB, 7000), payloads("snap", 0, 5, 500))
		c.waitFor(5*time.Second, func(fs []got) bool { return len(fs) >= 5 })
		frames := c.end(t)
		srcs[0].Close()
		if len(frames) != 5 {
			t.Fatalf("bpf %q: %d frames", bpf, len(frames))
		}
		for _, f := range frames {
			if len(f.data) != 64 || f.wire != 14+20+8+500 {
				t.Fatalf("bpf %q: captured %d of %d bytes", bpf, len(f.data), f.wire)
			}
		}
	}
}

// TestLiveAFPacketFragments: with the default PACKET_FANOUT_FLAG_DEFRAG
// the kernel reassembles a fragmented datagram before hashing and delivers
// it as one frame to one socket; with NoDefrag the fragments arrive as
// sent.
func TestLiveAFPacketFragments(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	udpSink(t, p.B, p.AddrB, 7000)
	for _, noDefrag := range []bool{false, true} {
		srcs := openAF(t, p, 2, AFPacketConfig{NoDefrag: noDefrag})
		c := collect(t, srcs)
		udpSend(t, p.A, p.AddrA, 47000, netip.AddrPortFrom(p.AddrB, 7000), payloads("frag", 0, 1, 4000))
		want := 1
		if noDefrag {
			want = 3 // 1480 + 1480 + 1048 bytes of IP payload
		}
		c.waitFor(3*time.Second, func(fs []got) bool { return len(fs) >= want })
		time.Sleep(100 * time.Millisecond)
		frames := c.end(t)
		for _, s := range srcs {
			s.Close()
		}
		var sizes []int
		socks := map[int]bool{}
		for _, f := range frames {
			sizes = append(sizes, len(f.data))
			socks[f.sock] = true
		}
		t.Logf("NoDefrag=%v: frames %v on %d socket(s)", noDefrag, sizes, len(socks))
		if len(frames) != want {
			t.Errorf("NoDefrag=%v: %d frames, want %d", noDefrag, len(frames), want)
		}
		if !noDefrag && len(frames) == 1 && len(frames[0].data) != 14+20+8+4000 {
			t.Errorf("reassembled frame is %d bytes", len(frames[0].data))
		}
	}
}

// TestLiveAFPacketPromiscuous: the interface is promiscuous while a
// source asked for it is open, and is not afterwards.
func TestLiveAFPacketPromiscuous(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	// The kernel counts promiscuity requests; ip -d shows the count.
	promisc := func() bool {
		return !strings.Contains(p.B.Run(t, "ip", "-d", "-o", "link", "show", p.IfB), "promiscuity 0 ")
	}
	if promisc() {
		t.Fatal("promiscuous before opening")
	}
	srcs := openAF(t, p, 2, AFPacketConfig{LiveConfig: LiveConfig{Promiscuous: true}})
	if !promisc() {
		t.Fatal("not promiscuous while open")
	}
	for _, s := range srcs {
		s.Close()
	}
	if promisc() {
		t.Fatal("still promiscuous after Close")
	}
}
