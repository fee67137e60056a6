package main

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowd/flowd/bench/gen"
)

// maxReplayHeap is the bound TestReplayHeapBounded holds a churning replay
// with csv output to: the table (20 k flows), the batches and buffers, and
// the 8 MiB of formatted flows the sorter may hold, with room for the
// garbage collector's slack. Holding the replay's 400 k ended flows
// instead, as replay once did, takes over 100 MiB.
const maxReplayHeap = 64 << 20

// TestReplayHeapBounded replays a capture of 400 k short flows through a
// table of 20 k with csv output in start order, and samples the live heap
// while it runs: memory stays bounded however many flows end, and every
// flow is written.
func TestReplayHeapBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and replays 400 k flows")
	}
	dir := t.TempDir()
	pcap := filepath.Join(dir, "churn.pcap")
	f, err := os.Create(pcap)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	tr, err := gen.WritePcap(bw, gen.Config{Seed: 9, Flows: 400_000, MeanPackets: 2, Duration: 20 * time.Second,
		Malformed: gen.Off, ICMPErrors: gen.Off, Unanswered: 0.5, NoTruth: true})
	if err == nil {
		err = bw.Flush()
	}
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()

	peakHeap := sampleHeap()
	out := filepath.Join(dir, "flows.csv")
	err = runReplay([]string{"--format", "csv", "-o", out, "--quiet", "--progress", "never",
		"--max-flows", "20000", "--sort-memory", "8", pcap})
	peak := peakHeap()
	if err != nil {
		t.Fatal(err)
	}
	// Every packet is in the file: the table evicts (so there are more
	// flows than were generated), nothing is lost.
	rf, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	sc := bufio.NewScanner(rf)
	sc.Scan() // header
	var rows, pkts uint64
	for sc.Scan() {
		rows++
		cols := strings.Split(sc.Text(), ",")
		a, _ := strconv.ParseUint(cols[6], 10, 64)
		b, _ := strconv.ParseUint(cols[7], 10, 64)
		pkts += a + b
	}
	if pkts != tr.Packets || rows < 400_000 {
		t.Errorf("%d flows holding %d packets written; the capture has %d packets of 400000 flows", rows, pkts, tr.Packets)
	}
	t.Logf("peak live heap %.1f MiB (bound %d MiB)", float64(peak)/(1<<20), maxReplayHeap>>20)
	if peak > maxReplayHeap {
		t.Errorf("peak live heap %s bytes, over the bound of %d MiB", strconv.FormatUint(peak, 10), maxReplayHeap>>20)
	}
}

// sampleHeap samples the live heap (heap objects, runtime/metrics) every
// 2 ms until the returned function is called, which returns the peak seen.
func sampleHeap() (peak func() uint64) {
	var max atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > max.Load() {
				max.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-sampled
		return max.Load()
	}
}
