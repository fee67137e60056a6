package main

import (
	"encoding/json"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/testnet"
)

// TestWatchStatsInterval: watch on a veth writes stats events among the EVE
// flows every interval of wall time, with the live capture's kernel
// counters, and a final one after every flow that counts every packet
// the test sent; every event validates against Suricata's schema.
func TestWatchStatsInterval(t *testing.T) {
	testnet.Require(t)
	bin := buildFlowd(t)
	p := testnet.NewPair(t, testnet.Options{})
	out := filepath.Join(t.TempDir(), "eve.json")
	cmd, stderr := startWatch(t, bin, p, out, "--format", "eve", "--stats-interval", "100ms")
	const flows, per, payload = 4, 5, 100
	echoFlows(t, p, flows, per, payload)
	time.Sleep(400 * time.Millisecond) // the last frames reach the engine; events go on
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("flowd watch: %v\n%s", err, stderr.String())
	}
	evs, nflows, lastIsStats := readStatsEvents(t, out)
	if len(evs) < 4 || !lastIsStats || evs[len(evs)-1].flowsBefore != nflows {
		t.Fatalf("%d stats events, last line stats %v: want at least 3 and a final one after every flow", len(evs), lastIsStats)
	}
	var lines []string
	for i, ev := range evs {
		lines = append(lines, ev.line)
		var c struct {
			Stats struct {
				Capture *struct {
					KernelPackets *uint64 `json:"kernel_packets"`
					KernelDrops   *uint64 `json:"kernel_drops"`
				} `json:"capture"`
			} `json:"stats"`
		}
		json.Unmarshal([]byte(ev.line), &c)
		if c.Stats.Capture == nil || c.Stats.Capture.KernelPackets == nil || c.Stats.Capture.KernelDrops == nil {
			t.Fatalf("event %d has no kernel counters: %s", i, ev.line)
		}
		if i > 0 && (ev.at < evs[i-1].at || ev.Stats.Decoder.Pkts < evs[i-1].Stats.Decoder.Pkts) {
			t.Errorf("event %d goes back in time or count", i)
		}
	}
	end := evs[len(evs)-1]
	if end.Stats.Decoder.Pkts < 2*flows*per || end.Stats.Flow.Total < flows || end.Stats.Flow.Total != uint64(nflows) {
		t.Errorf("final event: %d packets, %d flows; sent %d packets in %d flows, %d flows written", end.Stats.Decoder.Pkts, end.Stats.Flow.Total, 2*flows*per, flows, nflows)
	}
	validateEVE(t, lines)
}
