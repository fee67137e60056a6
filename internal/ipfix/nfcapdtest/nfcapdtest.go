// Package nfcapdtest runs a real nfcapd (Debian's nfdump package) for tests
// and reads back what it stored with nfdump. Tests that use it skip with a
// reason when the tools are missing.
package nfcapdtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer collects a child's output; it may be read while written.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// NeedTools skips the test unless every named program is on PATH.
func NeedTools(t *testing.T, pkg string, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: install the Debian package %s (apt-get install -y %s; make deps does it as root)", tool, pkg, pkg)
		}
	}
}

// FreeUDPPort returns a loopback UDP port that was free a moment ago.
func FreeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// Start runs nfcapd on a loopback port, writing into a temporary
// directory. The returned stop function waits until nfcapd has read every
// datagram queued on its socket, sends SIGTERM (nfcapd then writes out
// what it holds and closes its file), waits for it and returns what it
// printed; t.Cleanup stops it if the test ends first.
func Start(t *testing.T) (addr string, dir string, stop func() string) {
	t.Helper()
	return StartWith(t, exec.Command)
}

// StartWith is Start with nfcapd's command made by command, e.g. one that
// runs it in a network namespace (its loopback address is then that
// namespace's).
func StartWith(t *testing.T, command func(name string, args ...string) *exec.Cmd) (addr string, dir string, stop func() string) {
	t.Helper()
	dir = t.TempDir()
	port := FreeUDPPort(t)
	cmd := command("nfcapd", "-b", "127.0.0.1", "-p", fmt.Sprint(port), "-w", dir, "-t", "3600")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("nfcapd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop = func() string {
		if stopped {
			return out.String()
		}
		stopped = true
		// Datagrams still queued on the socket are lost on SIGTERM.
		waitDrained(cmd.Process.Pid, port)
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("nfcapd did not stop on SIGTERM; output:\n%s", out.String())
		}
		return out.String()
	}
	t.Cleanup(func() { stop() })
	// nfcapd opens its nfcapd.current.PID file once its socket is bound.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, "nfcapd.current.*")); len(m) > 0 {
			break
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("nfcapd exited at start (%v):\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nfcapd did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Sprintf("127.0.0.1:%d", port), dir, stop
}

// waitDrained waits up to 10 s until the UDP socket on port in pid's
// network namespace has nothing queued, read from /proc/PID/net/udp and
// udp6 (tx_queue:rx_queue, hexadecimal, after the two addresses).
func waitDrained(pid, port int) {
	local := fmt.Sprintf(":%04X", port)
	queued := func() bool {
		for _, f := range []string{"udp", "udp6"} {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
			for _, line := range strings.Split(string(b), "\n") {
				c := strings.Fields(line)
				if len(c) > 4 && strings.HasSuffix(c[1], local) && !strings.HasSuffix(c[4], ":00000000") {
					return true
				}
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); queued() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
}

// Rows reads every file nfcapd closed in dir, one line per flow
// record, fields separated by commas as asked in format.
func Rows(t *testing.T, dir, format string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "nfcapd.2*"))
	if len(files) == 0 {
		ents, _ := os.ReadDir(dir)
		t.Fatalf("nfcapd wrote no file in %s: %v", dir, ents)
	}
	var rows []string
	for _, f := range files {
		cmd := exec.Command("nfdump", "-r", f, "-q", "-N", "-6", "-o", "fmt:"+format)
		cmd.Env = append(os.Environ(), "TZ=UTC")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nfdump -r %s: %v\n%s", f, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			parts := strings.Split(line, ",")
			for i := range parts {
				parts[i] = strings.TrimSpace(parts[i])
			}
			rows = append(rows, strings.Join(parts, ","))
		}
	}
	return rows
}
