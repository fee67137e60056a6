package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/sys"
	"github.com/flowd/flowd/internal/testnet"
)

// openPty opens a pseudo-terminal: the master, which the test reads, and
// the slave, which the child writes to as its terminal.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, s, err := sys.OpenPTY()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

var topHeader = regexp.MustCompile(`flows (\d+) active, (\d+) created   packets/s (\d+)   bits/s [0-9.]+ \S*   kernel drops (\d+)`)

// TestWatchTopView runs flowd watch with its standard output on a
// pseudo-terminal while 8 UDP flows send from A to B, as a person at a
// terminal would: without --view it picks the top view on its own. The
// screen must be redrawn every second (at least three frames in 3.5 s),
// show the 8 flows with their endpoints, a packet rate above zero while
// they send and the kernel's drops (0); SIGTERM must exit 0. With -o (and
// --view top, since -o alone means the flows view) the same view runs and
// every flow is written to the file on SIGTERM, with the packets sent.
func TestWatchTopView(t *testing.T) {
	testnet.Require(t)
	bin := buildFlowd(t)
	for _, c := range []struct {
		name string
		args []string
		file bool
	}{
		{"auto", nil, false},
		{"top-with-file", []string{"--view", "top"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := testnet.NewPair(t, testnet.Options{})
			master, slave := openPty(t)
			out := filepath.Join(t.TempDir(), "flows.csv")
			args := []string{"watch", "--iface", p.IfB, "--workers", "2", "--poll-interval", "20ms"}
			if c.file {
				args = append(args, "--format", "csv", "-o", out)
			}
			cmd := p.B.Command(bin, append(args, c.args...)...)
			stderr := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = slave, stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			screen := &syncBuffer{}
			go io.Copy(screen, master) // ends when the pty closes at cleanup
			waitFor(t, stderr, "capturing")

			// 8 UDP flows, a datagram every 5 ms each, for 3.5 s.
			const flows = 8
			var sent [flows]atomic.Uint64
			ports := make([]int, flows)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for i := range flows {
				var conn *net.UDPConn
				if err := p.A.Do(func() (err error) {
					conn, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: p.AddrB.AsSlice(), Port: 9000})
					return err
				}); err != nil {
					t.Fatal(err)
				}
				ports[i] = conn.LocalAddr().(*net.UDPAddr).Port
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer conn.Close()
					tick := time.NewTicker(5 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-stop:
							return
						case <-tick.C:
							if _, err := conn.Write(make([]byte, 64)); err == nil {
								sent[i].Add(1)
							}
						}
					}
				}()
			}
			time.Sleep(3500 * time.Millisecond)
			close(stop)
			wg.Wait()
			time.Sleep(200 * time.Millisecond)
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("flowd watch on SIGTERM: %v\n%s", err, stderr.String())
			}

			frames := strings.Split(screen.String(), "\x1b[H\x1b[2J")[1:]
			if len(frames) < 3 {
				t.Fatalf("%d screens drawn in 3.5 s, want a redraw every second:\n%q", len(frames), screen.String())
			}
			moving := false
			for _, f := range frames {
				m := topHeader.FindStringSubmatch(f)
				if m == nil {
					t.Fatalf("a screen without the header line:\n%s", f)
				}
				if m[4] != "0" {
					t.Errorf("kernel drops %s at a few hundred packets/s:\n%s", m[4], f)
				}
				if pps, _ := strconv.Atoi(m[3]); pps > 0 {
					moving = true
				}
			}
			if !moving {
				t.Errorf("no screen shows a packet rate above 0 while %d flows sent:\n%s", flows, strings.Join(frames, "\n----\n"))
			}
			last := frames[len(frames)-1]
			if m := topHeader.FindStringSubmatch(last); m[1] != strconv.Itoa(flows) {
				t.Errorf("last screen: %s active flows, want %d:\n%s", m[1], flows, last)
			}
			for _, port := range ports {
				ep := fmt.Sprintf("%s:%d", p.AddrA, port)
				if !regexp.MustCompile(`(?m)^UDP\s+` + regexp.QuoteMeta(ep) + `\s+` + regexp.QuoteMeta(p.AddrB.String()) + `:9000\s+\d+`).MatchString(last) {
					t.Errorf("last screen lacks the flow from %s:\n%s", ep, last)
				}
			}
			if !strings.Contains(stderr.String(), "stopped:") {
				t.Errorf("no summary on stderr:\n%s", stderr.String())
			}
			if !c.file {
				return
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got := map[int]string{}
			for _, row := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
				f := strings.Split(row, ",")
				if f[0] == "17" && f[1] == p.AddrA.String() && f[3] == p.AddrB.String() {
					port, _ := strconv.Atoi(f[2])
					got[port] = f[6] + "," + f[16]
				}
			}
			for i, port := range ports {
				if want := fmt.Sprintf("%d,shutdown", sent[i].Load()); got[port] != want {
					t.Errorf("flow from port %d: %q (packets to server, reason), want %q", port, got[port], want)
				}
			}
			if len(got) != flows {
				t.Errorf("%d flows written, want %d:\n%s", len(got), flows, b)
			}
		})
	}
}
