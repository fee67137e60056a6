//go:build cgo

package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/testnet"
)

// TestLiveRateSweep is a measuring harness, not a check: it replays small
// UDP frames over a veth at increasing rates and reports, for each
// capture path, the highest rate at which the kernel dropped nothing and
// every frame was read. The paths are AFPacket with 1 and 2 sockets in a
// fanout group, Libpcap (batch copy and zero copy), and dumpcap writing to
// /dev/null for comparison (tcpdump -w /dev/null where tcpdump exists).
// Readers only count frames, so this measures capture, not flow tracking.
// The sender (tcpreplay) shares the machine's cores with the readers.
//
// Run it with FLOWD_LIVE_BENCH=1 go test ./capture -run TestLiveRateSweep -v
// (root); FLOWD_LIVE_BENCH_SECONDS sets the length of each step (default 1).
func TestLiveRateSweep(t *testing.T) {
	if os.Getenv("FLOWD_LIVE_BENCH") != "1" {
		t.Skip("a measurement, not a test: set FLOWD_LIVE_BENCH=1 to run it")
	}
	needTcpreplay(t)
	p := testnet.NewPair(t, testnet.Options{})
	secs := 1.0
	if v, err := strconv.ParseFloat(os.Getenv("FLOWD_LIVE_BENCH_SECONDS"), 64); err == nil && v > 0 {
		secs = v
	}
	file := writePcap(t, t.TempDir(), benchFrames(p, 1024))
	rates := []int{25_000, 50_000, 100_000, 200_000, 400_000, 800_000, 0} // 0: as fast as tcpreplay can

	type path struct {
		name string
		run  func(send func() (sent int, pps float64)) (got, drops uint64)
	}
	paths := []path{
		{"afpacket-1", func(send func() (int, float64)) (uint64, uint64) { return benchAF(t, p, 1, send) }},
		{"afpacket-2", func(send func() (int, float64)) (uint64, uint64) { return benchAF(t, p, 2, send) }},
		{"libpcap-copy", func(send func() (int, float64)) (uint64, uint64) { return benchPcap(t, p, false, send) }},
		{"libpcap-zerocopy", func(send func() (int, float64)) (uint64, uint64) { return benchPcap(t, p, true, send) }},
	}
	for _, tool := range []string{"tcpdump", "dumpcap"} {
		if _, err := exec.LookPath(tool); err == nil {
			paths = append(paths, path{tool + " -w /dev/null", func(send func() (int, float64)) (uint64, uint64) {
				return benchTool(t, p, tool, send)
			}})
		}
	}
	var report strings.Builder
	fmt.Fprintf(&report, "%-22s %12s %12s %10s %10s\n", "path", "asked pps", "sent pps", "captured", "dropped")
	best := map[string]float64{}
	for _, pa := range paths {
		for _, rate := range rates {
			send := func() (int, float64) {
				n := int(secs * float64(rate))
				speed := "--pps=" + strconv.Itoa(rate)
				if rate == 0 {
					n, speed = int(secs*1_000_000), "--topspeed"
				}
				args := []string{"-q", "--limit=" + strconv.Itoa(n), "--loop=0", speed, "-i", p.IfA}
				out, err := p.A.Command("tcpreplay", append(args, file)...).CombinedOutput()
				if err != nil {
					t.Fatalf("tcpreplay: %v\n%s", err, out)
				}
				return parseTcpreplay(t, out)
			}
			var sent int
			var pps float64
			got, drops := pa.run(func() (int, float64) { sent, pps = send(); return sent, pps })
			fmt.Fprintf(&report, "%-22s %12d %12.0f %10d %10d\n", pa.name, rate, pps, got, drops)
			if drops == 0 && got >= uint64(sent) {
				best[pa.name] = max(best[pa.name], pps)
			} else {
				break // higher rates only drop more
			}
		}
	}
	report.WriteString("\nhighest rate with no loss (frames/s, 60-byte UDP frames):\n")
	for _, pa := range paths {
		fmt.Fprintf(&report, "  %-22s %10.0f\n", pa.name, best[pa.name])
	}
	t.Log("\n" + report.String())
}

// benchFrames makes n minimum-size UDP frames from A to B with distinct
// source ports, so a fanout group spreads them.
func benchFrames(p *testnet.Pair, n int) [][]byte {
	frames := make([][]byte, n)
	for i := range frames {
		f := append(append([]byte{}, p.MACB...), p.MACA...)
		f = append(f, 0x08, 0x00, 0x45, 0, 0, 46-14+14, 0, 0, 0, 0, 64, 17, 0, 0)
		binary.BigEndian.PutUint16(f[16:], 46)
		f = append(f, p.AddrA.AsSlice()...)
		f = append(f, p.AddrB.AsSlice()...)
		binary.BigEndian.PutUint16(f[24:], ^onesSum(f[14:34]))
		f = binary.BigEndian.AppendUint16(f, uint16(10000+i))
		f = append(f, 0x1b, 0x58, 0, 26, 0, 0)
		f = append(f, bytes.Repeat([]byte{'b'}, 18)...)
		frames[i] = f
	}
	return frames
}

var rated = regexp.MustCompile(`Actual: (\d+) packets.*\n.*Rated: .*?, ([0-9.]+) pps`)

func parseTcpreplay(t *testing.T, out []byte) (int, float64) {
	m := rated.FindSubmatch(out)
	if m == nil {
		t.Fatalf("tcpreplay output not understood:\n%s", out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	pps, _ := strconv.ParseFloat(string(m[2]), 64)
	return n, pps
}

// drain reads srcs in goroutines until stop, counting frames.
func drain[S Source](srcs []S, batch int) (stop func() uint64) {
	var n atomic.Uint64
	var wg sync.WaitGroup
	done := make(chan struct{})
	for _, s := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := make([]Frame, batch)
			for {
				select {
				case <-done:
					return
				default:
				}
				k, err := s.ReadBatch(b)
				n.Add(uint64(k))
				if err != nil {
					return
				}
			}
		}()
	}
	return func() uint64 { close(done); wg.Wait(); return n.Load() }
}

func benchAF(t *testing.T, p *testnet.Pair, n int, send func() (int, float64)) (got, drops uint64) {
	var srcs []*AFPacket
	if err := p.B.Do(func() (err error) { srcs, err = OpenAFPacket(p.IfB, n, AFPacketConfig{}); return err }); err != nil {
		t.Fatal(err)
	}
	stop := drain(srcs, 256)
	send()
	time.Sleep(200 * time.Millisecond)
	got = stop()
	for _, s := range srcs {
		drops += s.Stats().Drops
		s.Close()
	}
	return got, drops
}

func benchPcap(t *testing.T, p *testnet.Pair, zc bool, send func() (int, float64)) (got, drops uint64) {
	var s *Libpcap
	if err := p.B.Do(func() (err error) { s, err = OpenLibpcap(p.IfB, LibpcapConfig{ZeroCopy: zc}); return err }); err != nil {
		t.Fatal(err)
	}
	stop := drain([]*Libpcap{s}, 256)
	send()
	time.Sleep(300 * time.Millisecond)
	got = stop()
	drops = s.Stats().Drops
	s.Close()
	return got, drops
}

var dumpcapStats = regexp.MustCompile(`received/dropped on interface '[^']*': (\d+)/(\d+)`)

// benchTool runs tcpdump or dumpcap writing to /dev/null in B while the
// frames are sent, then stops it with SIGINT and reads its summary.
func benchTool(t *testing.T, p *testnet.Pair, tool string, send func() (int, float64)) (got, drops uint64) {
	args := []string{"-i", p.IfB, "-w", "/dev/null"}
	if tool == "dumpcap" {
		args = append(args, "-q")
	}
	cmd := p.B.Command(tool, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // let it open the interface
	send()
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	out := errb.String()
	if m := dumpcapStats.FindStringSubmatch(out); m != nil { // dumpcap
		r, _ := strconv.ParseUint(m[1], 10, 64)
		d, _ := strconv.ParseUint(m[2], 10, 64)
		return r - d, d
	}
	var c, d uint64 // tcpdump: "N packets captured", "M packets dropped by kernel"
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "packets" {
			v, _ := strconv.ParseUint(f[0], 10, 64)
			switch {
			case f[2] == "captured":
				c = v
			case strings.HasPrefix(line, f[0]+" packets dropped by kernel"):
				d = v
			}
		}
	}
	if c == 0 && d == 0 {
		t.Logf("%s output not understood:\n%s", tool, out)
	}
	return c, d
}

// TestLiveReadCost measures the CPU time the reading thread spends per
// frame (user + system, from RUSAGE_THREAD) while tcpreplay, in its own
// process, sends 60-byte frames at a steady rate (FLOWD_LIVE_BENCH_PPS,
// default 50 kpps): the cost of the
// capture path itself, without the kernel's delivery work, which runs in
// the sender's context on a veth. Gated like TestLiveRateSweep.
func TestLiveReadCost(t *testing.T) {
	if os.Getenv("FLOWD_LIVE_BENCH") != "1" {
		t.Skip("a measurement, not a test: set FLOWD_LIVE_BENCH=1 to run it")
	}
	needTcpreplay(t)
	p := testnet.NewPair(t, testnet.Options{})
	file := writePcap(t, t.TempDir(), benchFrames(p, 1024))
	replayLoop(t, p.A, p.IfA, file, benchRate())
	measure := func(s Source) (nsPerFrame float64, frames int) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			batch := make([]Frame, 256)
			for range 20 { // warm up
				s.ReadBatch(batch)
			}
			var before, after syscall.Rusage
			syscall.Getrusage(1, &before) // RUSAGE_THREAD
			end := time.Now().Add(2 * time.Second)
			for time.Now().Before(end) {
				n, _ := s.ReadBatch(batch)
				frames += n
			}
			syscall.Getrusage(1, &after)
			cpu := time.Duration(after.Utime.Nano() - before.Utime.Nano() + after.Stime.Nano() - before.Stime.Nano())
			nsPerFrame = float64(cpu.Nanoseconds()) / float64(max(frames, 1))
		}()
		<-done
		return
	}
	var out strings.Builder
	var af []*AFPacket
	if err := p.B.Do(func() (err error) { af, err = OpenAFPacket(p.IfB, 1, AFPacketConfig{}); return err }); err != nil {
		t.Fatal(err)
	}
	ns, n := measure(af[0])
	af[0].Close()
	fmt.Fprintf(&out, "afpacket          %7.0f ns/frame CPU (%d frames)\n", ns, n)
	for _, zc := range []bool{false, true} {
		var s *Libpcap
		if err := p.B.Do(func() (err error) { s, err = OpenLibpcap(p.IfB, LibpcapConfig{ZeroCopy: zc}); return err }); err != nil {
			t.Fatal(err)
		}
		ns, n := measure(s)
		s.Close()
		fmt.Fprintf(&out, "libpcap zerocopy=%-5v %7.0f ns/frame CPU (%d frames)\n", zc, ns, n)
	}
	t.Log("\n" + out.String())
}

// benchRate is TestLiveReadCost's sending rate: FLOWD_LIVE_BENCH_PPS, or
// 50 kpps.
func benchRate() int {
	if v, err := strconv.Atoi(os.Getenv("FLOWD_LIVE_BENCH_PPS")); err == nil && v > 0 {
		return v
	}
	return 50_000
}
