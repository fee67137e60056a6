package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/testnet"
)

// startServeLive starts flowd serve in B on B's end of the pair and returns
// its URL and an HTTP client that dials from inside B (flowd listens on B's
// loopback). It is killed at cleanup.
func startServeLive(t *testing.T, bin string, p *testnet.Pair, args ...string) (*exec.Cmd, string, *http.Client) {
	t.Helper()
	cmd := p.B.Command(bin, append([]string{"serve", "--iface", p.IfB, "--listen", "127.0.0.1:0", "--poll-interval", "20ms"}, args...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stderr)
	url, said := "", ""
	for url == "" && lines.Scan() {
		said += lines.Text() + "\n"
		if _, rest, ok := strings.Cut(lines.Text(), "listening on "); ok {
			url, _, _ = strings.Cut(rest, " ")
		}
	}
	if url == "" {
		t.Fatalf("flowd serve never said where it listens:\n%s", said)
	}
	go io.Copy(io.Discard, stderr)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		err = p.B.Do(func() (err error) {
			c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}}}
	return cmd, url, hc
}

// liveStatus is the part of /status these tests read.
type liveStatus struct {
	Packets uint64
	Sources []struct {
		ID       uint16
		Name     string
		Live     bool
		Packets  uint64
		Drops    uint64
		Received uint64
		Freezes  uint64 `json:"ring_full"`
		State    string
		Sockets  []struct {
			ID       uint16
			Packets  uint64
			Drops    uint64
			Received uint64
			State    string
		}
	}
}

func getLiveStatus(t *testing.T, hc *http.Client, url string) liveStatus {
	t.Helper()
	resp, err := hc.Get(url + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st liveStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

var tcpreplaySent = regexp.MustCompile(`Actual: (\d+) packets`)
var tcpreplayFailed = regexp.MustCompile(`Failed packets:\s+(\d+)`)

// floodPcap writes a pcap of n small UDP frames of n distinct flows.
func floodPcap(t *testing.T, n int) string {
	t.Helper()
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = udpFrame(uint16(10000 + i))
	}
	file := filepath.Join(t.TempDir(), "flood.pcap")
	if err := os.WriteFile(file, pcapOf(frames...), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// replayCount runs tcpreplay in ns with args and returns the frames it
// sent; it fails the test when any send failed.
func replayCount(t *testing.T, ns testnet.Namespace, args ...string) uint64 {
	t.Helper()
	out, err := ns.Command("tcpreplay", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpreplay: %v\n%s", err, out)
	}
	m, f := tcpreplaySent.FindSubmatch(out), tcpreplayFailed.FindSubmatch(out)
	if m == nil || f == nil {
		t.Fatalf("tcpreplay output not understood:\n%s", out)
	}
	if string(f[1]) != "0" {
		t.Fatalf("tcpreplay failed to send some frames:\n%s", out)
	}
	n, _ := strconv.ParseUint(string(m[1]), 10, 64)
	return n
}

// TestServeLiveDrops floods flowd serve's AF_PACKET sockets (two workers,
// so two sockets of one interface) through a deliberately tiny ring (two
// 4 KiB blocks per socket, room for a few dozen small frames) faster than
// the engine drains it, and checks the books through the engine: /status
// shows the interface as one source (named by it, with both sockets inside)
// whose kernel drops are not zero; the frames the kernel received on its
// sockets are every frame tcpreplay sent; every one of them was either read
// or dropped (read + dropped = received); the sockets' counts add up to the
// interface's; and every frame read was counted into the flow table.
func TestServeLiveDrops(t *testing.T) {
	testnet.Require(t)
	if _, err := exec.LookPath("tcpreplay"); err != nil {
		t.Skip("needs tcpreplay (apt-get install tcpreplay)")
	}
	bin := buildFlowd(t)
	p := testnet.NewPair(t, testnet.Options{})
	file := floodPcap(t, 1000)
	cmd, url, hc := startServeLive(t, bin, p, "--workers", "2", "--ring-block-size", "4096", "--ring-blocks", "2", "--ring-timeout", "50ms")
	sent := replayCount(t, p.A, "-q", "--topspeed", "--loop=200", "-i", p.IfA, file)

	// Wait until the counts stop moving (the engine has read the rings).
	var st liveStatus
	for deadline, prev := time.Now().Add(5*time.Second), uint64(0); ; {
		time.Sleep(100 * time.Millisecond)
		st = getLiveStatus(t, hc, url)
		if len(st.Sources) == 1 && st.Sources[0].Packets+st.Sources[0].Drops >= sent && st.Packets == prev {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		prev = st.Packets
	}
	if len(st.Sources) != 1 {
		t.Fatalf("/status has %d sources, want one for %s: %+v", len(st.Sources), p.IfB, st.Sources)
	}
	s := st.Sources[0]
	t.Logf("sent %d; /status: received %d, read %d, dropped %d, ring full %d times; %d packets counted into the table; sockets %+v",
		sent, s.Received, s.Packets, s.Drops, s.Freezes, st.Packets, s.Sockets)
	if s.Name != p.IfB || !s.Live || s.State != "capturing" || len(s.Sockets) != 2 {
		t.Errorf("source %+v: want %s, live, capturing, with 2 sockets", s, p.IfB)
	}
	if s.Drops == 0 {
		t.Errorf("no kernel drops through a ring of two 4 KiB blocks flooded with %d frames", sent)
	}
	if s.Received != sent {
		t.Errorf("the kernel passed %d frames to the sockets, tcpreplay sent %d", s.Received, sent)
	}
	if s.Packets+s.Drops != s.Received {
		t.Errorf("read %d + dropped %d = %d, want the %d received", s.Packets, s.Drops, s.Packets+s.Drops, s.Received)
	}
	if st.Packets != s.Packets {
		t.Errorf("%d packets counted into the table, %d frames read", st.Packets, s.Packets)
	}
	var pk, dr, rc uint64
	for _, k := range s.Sockets {
		pk, dr, rc = pk+k.Packets, dr+k.Drops, rc+k.Received
		if k.State != "capturing" {
			t.Errorf("socket %+v not capturing", k)
		}
	}
	if pk != s.Packets || dr != s.Drops || rc != s.Received {
		t.Errorf("sockets sum to %d read, %d dropped, %d received; the interface says %d, %d, %d", pk, dr, rc, s.Packets, s.Drops, s.Received)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("flowd serve on SIGTERM: %v", err)
	}
}

// TestWatchLiveDrops: the same flood through flowd watch with one worker:
// its summary on SIGTERM reports the kernel's drops, and the packets it
// counted plus the drops are every frame sent.
func TestWatchLiveDrops(t *testing.T) {
	testnet.Require(t)
	if _, err := exec.LookPath("tcpreplay"); err != nil {
		t.Skip("needs tcpreplay (apt-get install tcpreplay)")
	}
	bin := buildFlowd(t)
	p := testnet.NewPair(t, testnet.Options{})
	file := floodPcap(t, 1000)
	cmd, stderr := startWatch(t, bin, p, os.DevNull, "--workers", "1", "--ring-block-size", "4096", "--ring-blocks", "2", "--ring-timeout", "50ms")
	sent := replayCount(t, p.A, "-q", "--topspeed", "--loop=200", "-i", p.IfA, file)
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("flowd watch: %v\n%s", err, stderr.String())
	}
	m := stoppedLine.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no summary from flowd watch:\n%s", stderr.String())
	}
	counted, _ := strconv.ParseUint(m[1], 10, 64)
	drops, _ := strconv.ParseUint(m[3], 10, 64)
	t.Logf("sent %d; %s", sent, m[0])
	if drops == 0 {
		t.Errorf("no kernel drops reported through a ring of two 4 KiB blocks flooded with %d frames", sent)
	}
	if counted+drops != sent {
		t.Errorf("counted %d + dropped %d = %d, want the %d sent", counted, drops, counted+drops, sent)
	}
}
