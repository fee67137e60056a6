//go:build cgo

package capture

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket/pcap"

	"github.com/flowd/flowd/internal/testnet"
)

func openPcap(t *testing.T, p *testnet.Pair, cfg LibpcapConfig) *Libpcap {
	t.Helper()
	var s *Libpcap
	err := p.B.Do(func() (err error) {
		s, err = OpenLibpcap(p.IfB, cfg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestLiveLibpcapReplay: frames replayed onto A's veth arrive through
// libpcap on B's byte for byte (libpcap also puts VLAN tags back), in
// batch-copy and zero-copy mode.
func TestLiveLibpcapReplay(t *testing.T) {
	needTcpreplay(t)
	p := testnet.NewPair(t, testnet.Options{})
	for _, zc := range []bool{false, true} {
		t.Run(fmt.Sprintf("zerocopy=%v", zc), func(t *testing.T) {
			s := openPcap(t, p, LibpcapConfig{ZeroCopy: zc})
			if s.LinkType() != LinkEthernet {
				t.Fatalf("link type %v", s.LinkType())
			}
			tag := fmt.Sprintf("pcap%v", zc)
			sent := replayFrames(p, tag, 200)
			file := writePcap(t, t.TempDir(), sent)
			c := collect(t, []*Libpcap{s})
			start := time.Now().UnixNano()
			p.A.Run(t, "tcpreplay", "-q", "-t", "-i", p.IfA, file)
			c.waitFor(5*time.Second, countMarkers(tag, len(sent)))
			var fromA []got
			for _, f := range c.end(t) {
				if bytes.Equal(f.data[6:12], p.MACA) {
					fromA = append(fromA, f)
				}
			}
			// Timestamps are the capture time, in nanoseconds (libpcap
			// grants nanosecond precision on Linux; microseconds would
			// leave every one a multiple of 1000).
			end, nanos := time.Now().UnixNano(), 0
			for _, f := range fromA {
				if f.ts < start || f.ts > end {
					t.Fatalf("timestamp %d outside the replay [%d, %d]", f.ts, start, end)
				}
				if f.ts%1000 != 0 {
					nanos++
				}
			}
			if nanos == 0 {
				t.Errorf("all %d timestamps are whole microseconds", len(fromA))
			}
			m := markers(fromA, tag)
			for i, want := range sent {
				if len(m[i]) != 1 {
					t.Fatalf("frame %d captured %d times", i, len(m[i]))
				}
				if f := m[i][0]; !bytes.Equal(f.data, want) || f.wire != uint32(len(want)) {
					t.Fatalf("frame %d (wire %d):\n got % x\nwant % x", i, f.wire, f.data, want)
				}
			}
			if st := s.LiveStats(); !st.Up || st.Frames < uint64(len(sent)) || st.Drops != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestLiveLibpcapBPF: only matching traffic passes; a bad expression is
// refused with ErrBadFilter; an unknown interface with ErrNoInterface.
func TestLiveLibpcapBPF(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	s := openPcap(t, p, LibpcapConfig{LiveConfig: LiveConfig{BPF: "udp dst port 7000"}})
	udpSink(t, p.B, p.AddrB, 7000)
	udpSink(t, p.B, p.AddrB, 7002)
	c := collect(t, []*Libpcap{s})
	udpSend(t, p.A, p.AddrA, 0, netip.AddrPortFrom(p.AddrB, 7002), payloads("no", 0, 50, 50))
	udpSend(t, p.A, p.AddrA, 0, netip.AddrPortFrom(p.AddrB, 7000), payloads("yes", 0, 50, 50))
	c.waitFor(5*time.Second, countMarkers("yes", 50))
	frames := c.end(t)
	if n := len(markers(frames, "yes")); n != 50 || len(frames) != 50 {
		t.Errorf("%d frames, %d matching markers; want 50 and 50", len(frames), n)
	}
	for _, c := range []struct {
		iface string
		cfg   LibpcapConfig
		kind  error
		msg   string
	}{
		{"nosuch9", LibpcapConfig{}, ErrNoInterface, "libpcap: nosuch9: no such interface"},
		{p.IfB, LibpcapConfig{LiveConfig: LiveConfig{BPF: "udp port banana"}}, ErrBadFilter, `libpcap: veth-b: bad BPF filter "udp port banana": `},
	} {
		err := p.B.Do(func() error {
			s, err := OpenLibpcap(c.iface, c.cfg)
			if err == nil {
				s.Close()
			}
			return err
		})
		if !errors.Is(err, c.kind) || !strings.HasPrefix(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want %q...", c.iface, err, c.msg)
		}
	}
}

// TestLiveLibpcapDrops: a small libpcap buffer nobody reads during a flood
// drops frames, and pcap_stats' drops show in Stats.
func TestLiveLibpcapDrops(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	s := openPcap(t, p, LibpcapConfig{BufferSize: 64 << 10})
	udpSink(t, p.B, p.AddrB, 7000)
	const sent = 5000
	udpSend(t, p.A, p.AddrA, 43000, netip.AddrPortFrom(p.AddrB, 7000), payloads("pdrop", 0, sent, 100))
	time.Sleep(200 * time.Millisecond)
	var captured uint64
	batch := make([]Frame, 64)
	for {
		n, err := s.ReadBatch(batch)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		captured += uint64(n)
	}
	st := s.LiveStats()
	t.Logf("sent %d, captured %d, dropped %d, received %d", sent, captured, st.Drops, st.Received)
	if st.Drops == 0 || captured+st.Drops != sent {
		t.Errorf("captured %d + dropped %d != sent %d", captured, st.Drops, sent)
	}
}

// TestLiveLibpcapNoAllocs: ReadBatch allocates nothing in either mode.
func TestLiveLibpcapNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	needTcpreplay(t)
	p := testnet.NewPair(t, testnet.Options{})
	file := writePcap(t, t.TempDir(), replayFrames(p, "palloc", 100))
	replayLoop(t, p.A, p.IfA, file, 20000)
	for _, zc := range []bool{false, true} {
		s := openPcap(t, p, LibpcapConfig{ZeroCopy: zc, LiveConfig: LiveConfig{PollTimeout: 5 * time.Millisecond}})
		batch := make([]Frame, 64)
		for range 20 {
			s.ReadBatch(batch)
		}
		before := s.Stats().Frames
		if a := testing.AllocsPerRun(200, func() { s.ReadBatch(batch) }); a != 0 {
			t.Errorf("zerocopy=%v: %v allocations per ReadBatch", zc, a)
		}
		if got := s.Stats().Frames - before; got < 100 {
			t.Errorf("zerocopy=%v: only %d frames read during the test", zc, got)
		}
		s.Close()
	}
}

// TestLiveLibpcapGone: when the interface disappears the source reports
// it, and reopens it by itself once it is back.
func TestLiveLibpcapGone(t *testing.T) {
	p := testnet.NewPair(t, testnet.Options{})
	s := openPcap(t, p, LibpcapConfig{LiveConfig: LiveConfig{PollTimeout: 20 * time.Millisecond, RetryInterval: 100 * time.Millisecond}})
	udpSink(t, p.B, p.AddrB, 7000)
	c := collect(t, []*Libpcap{s})
	p.DeleteLink(t)
	if !c.waitFor(5*time.Second, func([]got) bool { return !s.LiveStats().Up }) {
		t.Fatalf("still up after the interface vanished: %+v", s.LiveStats())
	}
	t.Logf("gone: %s", s.LiveStats().State)
	p.AddLink(t)
	if !c.waitFor(5*time.Second, func([]got) bool { return s.LiveStats().Up }) {
		t.Fatalf("not back: %+v", s.LiveStats())
	}
	udpSend(t, p.A, p.AddrA, 44000, netip.AddrPortFrom(p.AddrB, 7000), payloads("back", 0, 10, 50))
	if !c.waitFor(5*time.Second, countMarkers("back", 10)) {
		t.Errorf("no frames after reopening")
	}
	c.end(t)
	if st := s.LiveStats(); st.Reopens != 1 {
		t.Errorf("reopens %d, want 1", st.Reopens)
	}
}

// TestCompileLiveTwin: compiling against a live handle on the loopback
// interface (with its netmask, so "ip broadcast" compiles) gives the
// programs gopacket/pcap gives.
func TestCompileLiveTwin(t *testing.T) {
	if _, err := compileLive("lo", "udp", LinkEthernet, DefaultSnapLen); err != nil {
		if pe := (*pcapError)(nil); errors.As(err, &pe) && (pe.status == pcapErrPermDenied || pe.status == pcapErrPromiscPermDenied) {
			t.Skip("opening a live libpcap handle needs CAP_NET_RAW: run as root")
		}
		t.Fatal(err)
	}
	in, err := pcap.NewInactiveHandle("lo")
	if err != nil {
		t.Fatal(err)
	}
	defer in.CleanUp()
	ref, err := in.Activate()
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for _, expr := range []string{"udp", "ip broadcast", "vlan 10 and udp", "inbound and tcp", "udp port banana"} {
		got, err := compileLive("lo", expr, LinkEthernet, DefaultSnapLen)
		want, werr := ref.CompileBPFFilter(expr)
		if (err != nil) != (werr != nil) || err != nil && err.Error() != werr.Error() {
			t.Errorf("%q: error %v, gopacket %v", expr, err, werr)
			continue
		}
		if len(got) != len(want) {
			t.Errorf("%q: %d instructions, gopacket %d", expr, len(got), len(want))
			continue
		}
		for i, w := range want {
			if g := got[i]; g.Code != w.Code || g.Jt != w.Jt || g.Jf != w.Jf || g.K != w.K {
				t.Errorf("%q: instruction %d %+v, gopacket %+v", expr, i, g, w)
			}
		}
	}
}
