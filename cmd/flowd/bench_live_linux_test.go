package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/testnet"
)

// TestLiveEngineSweep is the P9 measuring harness, not a check: it sends
// small UDP frames (1024 flows, 49-byte frames) over a veth with tcpreplay
// at increasing rates, each for FLOWD_LIVE_BENCH_SECONDS (default 3), and
// for each capture path reports the highest rate at which the kernel
// dropped nothing and every frame sent was counted. The paths are the
// whole of flowd watch (AF_PACKET, 1 and 2 workers; frames decoded and
// counted into the flow table, flows written as CSV to /dev/null on
// SIGTERM) and, in the same run on the same veth, dumpcap and tcpdump (where
// installed) writing to /dev/null. flowd's rings are cut to 8 MiB per
// socket (FLOWD_LIVE_BENCH_RING_BLOCKS blocks of 1 MiB) so a step is longer
// than the ring can hide: at a rate the reader cannot sustain, the ring
// fills and the kernel drops. The sender shares the machine's cores with
// the readers, so the numbers are the machine's, not the reader's alone.
//
// Run it as root: FLOWD_LIVE_BENCH=1 go test ./cmd/flowd -run
// TestLiveEngineSweep -v (or bench/live-sweep.sh).
func TestLiveEngineSweep(t *testing.T) {
	if os.Getenv("FLOWD_LIVE_BENCH") != "1" {
		t.Skip("a measurement, not a test: set FLOWD_LIVE_BENCH=1 to run it")
	}
	testnet.Require(t)
	if _, err := exec.LookPath("tcpreplay"); err != nil {
		t.Skip("needs tcpreplay (apt-get install tcpreplay)")
	}
	bin := buildFlowd(t)
	secs := 3.0
	if v, err := strconv.ParseFloat(os.Getenv("FLOWD_LIVE_BENCH_SECONDS"), 64); err == nil && v > 0 {
		secs = v
	}
	blocks := "8"
	if v := os.Getenv("FLOWD_LIVE_BENCH_RING_BLOCKS"); v != "" {
		blocks = v
	}
	p := testnet.NewPair(t, testnet.Options{})
	file := floodPcap(t, 1024)
	rates := []int{25_000, 50_000, 100_000, 150_000, 200_000, 300_000, 400_000, 600_000, 0} // 0: top speed

	// send runs tcpreplay for one step and returns the frames sent and
	// the rate tcpreplay achieved.
	send := func(rate int) (uint64, float64) {
		n := int(secs * float64(rate))
		speed := "--pps=" + strconv.Itoa(rate)
		if rate == 0 {
			n, speed = int(secs*1_000_000), "--topspeed"
		}
		out, err := p.A.Command("tcpreplay", "-q", "--limit="+strconv.Itoa(n), "--loop=0", speed, "-i", p.IfA, file).CombinedOutput()
		if err != nil {
			t.Fatalf("tcpreplay: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`Actual: (\d+) packets.*\n.*Rated: .*?, ([0-9.]+) pps`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("tcpreplay output not understood:\n%s", out)
		}
		sent, _ := strconv.ParseUint(string(m[1]), 10, 64)
		pps, _ := strconv.ParseFloat(string(m[2]), 64)
		return sent, pps
	}
	type result struct{ got, drops uint64 }
	type path struct {
		name string
		run  func(rate int) (sent uint64, pps float64, r result)
	}
	watch := func(workers int) func(int) (uint64, float64, result) {
		return func(rate int) (uint64, float64, result) {
			cmd, stderr := startWatch(t, bin, p, os.DevNull, "--workers", strconv.Itoa(workers), "--ring-blocks", blocks)
			sent, pps := send(rate)
			time.Sleep(300 * time.Millisecond)
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("flowd watch: %v\n%s", err, stderr.String())
			}
			m := stoppedLine.FindStringSubmatch(stderr.String())
			if m == nil {
				t.Fatalf("no summary from flowd watch:\n%s", stderr.String())
			}
			got, _ := strconv.ParseUint(m[1], 10, 64)
			drops, _ := strconv.ParseUint(m[3], 10, 64)
			return sent, pps, result{got, drops}
		}
	}
	paths := []path{{"flowd watch, 1 worker", watch(1)}, {"flowd watch, 2 workers", watch(2)}}
	for _, tool := range []string{"tcpdump", "dumpcap"} {
		if _, err := exec.LookPath(tool); err == nil {
			paths = append(paths, path{tool + " -w /dev/null", func(rate int) (uint64, float64, result) {
				return toolRun(t, p, tool, func() (uint64, float64) { return send(rate) })
			}})
		}
	}
	var report strings.Builder
	fmt.Fprintf(&report, "%d CPUs; steps of %.0f s; flowd rings %s x 1 MiB per socket\n", runtime.NumCPU(), secs, blocks)
	fmt.Fprintf(&report, "%-24s %10s %10s %10s %10s %8s\n", "path", "asked pps", "sent pps", "sent", "counted", "dropped")
	best := map[string]float64{}
	capped := map[string]string{}
	for _, pa := range paths {
		for _, rate := range rates {
			sent, pps, r := pa.run(rate)
			fmt.Fprintf(&report, "%-24s %10d %10.0f %10d %10d %8d\n", pa.name, rate, pps, sent, r.got, r.drops)
			if r.drops > 0 || r.got < sent {
				capped[pa.name] = fmt.Sprintf("lost frames at %.0f pps", pps)
				break // higher rates only lose more
			}
			if pps > best[pa.name] {
				best[pa.name] = pps
			}
		}
		if capped[pa.name] == "" {
			capped[pa.name] = "no loss at any rate: the sender's ceiling, not the reader's"
		}
	}
	report.WriteString("\nhighest rate with nothing lost (frames/s, 49-byte UDP frames, 1024 flows):\n")
	for _, pa := range paths {
		fmt.Fprintf(&report, "  %-24s %10.0f  (%s)\n", pa.name, best[pa.name], capped[pa.name])
	}
	t.Log("\n" + report.String())
}

// toolRun runs tcpdump or dumpcap writing to /dev/null in B while send
// sends, stops it with SIGINT and reads its summary: frames captured and
// dropped by the kernel.
func toolRun(t *testing.T, p *testnet.Pair, tool string, send func() (uint64, float64)) (uint64, float64, struct{ got, drops uint64 }) {
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
	time.Sleep(700 * time.Millisecond) // let it open the interface
	sent, pps := send()
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	out := errb.String()
	var r struct{ got, drops uint64 }
	if m := regexp.MustCompile(`received/dropped on interface '[^']*': (\d+)/(\d+)`).FindStringSubmatch(out); m != nil {
		rc, _ := strconv.ParseUint(m[1], 10, 64)
		r.drops, _ = strconv.ParseUint(m[2], 10, 64)
		r.got = rc - min(rc, r.drops)
		return sent, pps, r
	}
	for _, line := range strings.Split(out, "\n") { // tcpdump
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "packets" {
			v, _ := strconv.ParseUint(f[0], 10, 64)
			switch {
			case f[2] == "captured":
				r.got = v
			case strings.HasPrefix(line, f[0]+" packets dropped by kernel"):
				r.drops = v
			}
		}
	}
	if r.got == 0 && r.drops == 0 {
		t.Logf("%s output not understood:\n%s", tool, out)
	}
	return sent, pps, r
}
