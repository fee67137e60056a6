package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/testnet"
)

// TestWatchVeth runs flowd watch inside a network namespace on one end of a
// veth pair while Go clients in the other namespace exchange UDP datagrams
// with an echo server, then stops it with SIGTERM at once: every flow is
// written with reason shutdown, both directions in one flow, with the
// packets and frame and IP bytes the test sent; with AF_PACKET (1 and 2 workers, so the
// fanout spreads flows over two sockets) and with libpcap.
func TestWatchVeth(t *testing.T) {
	testnet.Require(t)
	bin := buildFlowd(t)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"afpacket-1", []string{"--source", "afpacket", "--workers", "1"}},
		{"afpacket-2", []string{"--source", "afpacket", "--workers", "2"}},
		{"libpcap", []string{"--source", "libpcap"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := testnet.NewPair(t, testnet.Options{})
			out := filepath.Join(t.TempDir(), "flows.csv")
			cmd, stderr := startWatch(t, bin, p, out, c.args...)

			const flows, per, payload = 16, 5, 100
			ports := echoFlows(t, p, flows, per, payload)
			// SIGTERM right away: the frames still in the ring (the last
			// block may not be handed over yet) are read before the
			// sockets close. Without that drain this lost flows.
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("flowd watch: %v\n%s", err, stderr.String())
			}

			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, row := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
				c := strings.Split(row, ",")
				if c[0] != "17" {
					continue
				}
				got[c[1]+":"+c[2]+">"+c[3]+":"+c[4]] = strings.Join(c[6:12], ",") + "," + c[16]
			}
			frame, ip := 14+20+8+payload, 20+8+payload
			want := fmt.Sprintf("%d,%d,%d,%d,%d,%d,shutdown", per, per, per*frame, per*frame, per*ip, per*ip)
			for _, port := range ports {
				key := fmt.Sprintf("%s:%d>%s:9000", p.AddrA, port, p.AddrB)
				if got[key] != want {
					t.Errorf("flow %s: %q, want %q (pkts, frame bytes, IP bytes per direction, reason)\n%s", key, got[key], want, b)
				}
			}
			if len(got) != flows {
				t.Errorf("%d UDP flows written, want %d:\n%s", len(got), flows, b)
			}
		})
	}
}

// echoFlows runs an echo server on UDP port 9000 in B and, from A, flows
// UDP flows of per datagrams of payload bytes each way, from distinct
// source ports, which it returns.
func echoFlows(t *testing.T, p *testnet.Pair, flows, per, payload int) []int {
	t.Helper()
	var srv *net.UDPConn
	if err := p.B.Do(func() (err error) {
		srv, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 9000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				return
			}
			srv.WriteToUDP(buf[:n], from)
		}
	}()
	var ports []int
	for range flows {
		var conn *net.UDPConn
		if err := p.A.Do(func() (err error) {
			conn, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: p.AddrB.AsSlice(), Port: 9000})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		ports = append(ports, conn.LocalAddr().(*net.UDPAddr).Port)
		// Open until every flow is done, so that no two flows draw the
		// same ephemeral port (one flow, then, to flowd).
		defer conn.Close()
		buf := make([]byte, payload)
		for range per {
			conn.Write(buf)
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := conn.Read(buf); err != nil {
				t.Fatalf("echo: %v", err)
			}
		}
	}
	return ports
}

// startWatch starts flowd watch in B on B's end of the pair, writing csv
// to out, and waits until it captures; it is killed at cleanup.
func startWatch(t *testing.T, bin string, p *testnet.Pair, out string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := p.B.Command(bin, append([]string{"watch", "--iface", p.IfB, "--format", "csv", "--view", "flows", "-o", out,
		"--poll-interval", "20ms"}, args...)...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, stderr, "capturing")
	return cmd, stderr
}
