package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/engine"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildFlowd builds the flowd binary once per test run.
func buildFlowd(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the flowd binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build flowd with")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "flowd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "flowd")
		if out, err := exec.Command(goBin, "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return builtBin
}

// pcapPrefix returns the bytes of a pcap file up to the end of its n-th
// record (the file header counts as nothing).
func pcapPrefix(b []byte, n int) []byte {
	off := 24
	for range n {
		caplen := int(binary.LittleEndian.Uint32(b[off+8:]))
		off += 16 + caplen
	}
	return b[:off]
}

// replaying starts flowd replay on a pipe and writes the first half of a
// generated capture into it, keeping the pipe open, so that flowd is in the
// middle of a replay when the test signals it.
func replaying(t *testing.T, out string) (cmd *exec.Cmd, stderr *bytes.Buffer, closePipe func()) {
	t.Helper()
	bin := buildFlowd(t)
	dir := t.TempDir()
	var capBuf bytes.Buffer
	tr, err := gen.WritePcap(&capBuf, gen.Config{Seed: 5, Flows: 3000, Duration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "live.pcap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	cmd = exec.Command(bin, "replay", "--format", "csv", "-o", out, "--progress", "never", fifo)
	stderr = &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	half := pcapPrefix(capBuf.Bytes(), int(tr.Packets)/2)
	if _, err := w.Write(half); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	closePipe = func() { once.Do(func() { w.Close() }) }
	t.Cleanup(closePipe)
	// Let flowd read what was written.
	time.Sleep(500 * time.Millisecond)
	return cmd, stderr, closePipe
}

var summaryFlows = regexp.MustCompile(`flows: +(\d+) created, (\d+) active at the end(.*)`)

// TestReplaySignals: SIGINT or SIGTERM in the middle of a replay stops
// reading, ends every flow with reason shutdown, writes every flow, and the
// summary counts exactly what the file holds.
func TestReplaySignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "flows.csv")
			cmd, stderr, closePipe := replaying(t, out)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// flowd waits for the read it is in; the writer goes away, as
			// tcpdump does when the same Ctrl-C reaches it.
			time.Sleep(100 * time.Millisecond)
			closePipe()
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1 (interrupted)\n%s", err, stderr)
			}
			if !strings.Contains(stderr.String(), "interrupted") {
				t.Errorf("stderr does not say the replay was interrupted:\n%s", stderr)
			}
			m := summaryFlows.FindStringSubmatch(stderr.String())
			if m == nil {
				t.Fatalf("no flow summary:\n%s", stderr)
			}
			created, _ := strconv.Atoi(m[1])
			if m[2] != "0" {
				t.Errorf("%s flows still active after the stop", m[2])
			}
			shutdown := 0
			if s := regexp.MustCompile(`(\d+) shutdown`).FindStringSubmatch(m[3]); s != nil {
				shutdown, _ = strconv.Atoi(s[1])
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			rows := strings.Split(strings.TrimSpace(string(b)), "\n")[1:]
			var gotShutdown int
			for _, r := range rows {
				if strings.HasSuffix(r, ",shutdown") {
					gotShutdown++
				}
			}
			if created < 100 || len(rows) != created || gotShutdown != shutdown || shutdown == 0 {
				t.Fatalf("summary: %d created, %d shutdown; file: %d flows, %d shutdown\n%s",
					created, shutdown, len(rows), gotShutdown, stderr)
			}
		})
	}
}

// TestReplaySecondSignal: a second signal while the first is being handled
// exits at once, with status 130, and says what was not written.
func TestReplaySecondSignal(t *testing.T) {
	out := filepath.Join(t.TempDir(), "flows.csv")
	cmd, stderr, _ := replaying(t, out)
	cmd.Process.Signal(syscall.SIGINT)
	// The pipe stays open, so the stop waits on the read; a second signal
	// must not.
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Fatalf("exit: %v, want status 130\n%s", err, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("flowd did not exit on the second signal")
	}
	if !regexp.MustCompile(`second signal \(interrupt\): exiting at once; \d+ of \d+ flows were not written`).MatchString(stderr.String()) {
		t.Errorf("stderr does not say what was dropped:\n%s", stderr)
	}
}

// TestTunnelSummary: the summary names the tunnels seen and why packets
// inside some could not be decoded.
func TestTunnelSummary(t *testing.T) {
	var st engine.Status
	st.Sources = make([]engine.SourceStatus, 2)
	st.Sources[0].Tunnels[decode.TunnelVXLAN] = 6
	st.Sources[1].Tunnels[decode.TunnelVXLAN] = 1
	st.Sources[1].Tunnels[decode.TunnelGeneve] = 2
	st.Sources[1].TunnelErrors[decode.ReasonTruncated] = 1
	if got, want := tunnelSummary(st), "geneve 2, vxlan 7; not decodable inside: truncated 1"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got := tunnelSummary(engine.Status{Sources: make([]engine.SourceStatus, 1)}); got != "" {
		t.Errorf("no tunnels: %q", got)
	}
}

// syncBuffer is a bytes.Buffer safe for a child's writes and the test's
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the child's stderr contains want.
func waitFor(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q from flowd:\n%s", want, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWarnClockGaps: sources whose times lie further apart than the longest
// timeout get a warning naming both; close ones none.
func TestWarnClockGaps(t *testing.T) {
	st := engine.Status{Sources: []engine.SourceStatus{{Info: engine.SourceInfo{Name: "old"}},
		{Info: engine.SourceInfo{Name: "new"}}, {Info: engine.SourceInfo{Name: "near"}}}}
	day := int64(24 * time.Hour)
	ws := []*watchedSource{{}, {}, {}}
	ws[0].first.Store(10 * day)
	ws[0].end.Store(10*day + int64(time.Hour))
	ws[1].first.Store(12 * day)
	ws[1].end.Store(12*day + int64(time.Hour))
	ws[2].first.Store(12*day + int64(time.Minute))
	ws[2].end.Store(12*day + int64(2*time.Hour))
	var b bytes.Buffer
	warnClockGaps(&b, st, ws, 350*time.Second)
	if out := b.String(); strings.Count(out, "warning") != 1 || !strings.Contains(out, "new starts 47h0m0s after old ends") {
		t.Errorf("warnings:\n%s", out)
	}
}
