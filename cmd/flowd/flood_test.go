package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/flowd/flowd/bench/gen"
)

// maxFloodHeap is the bound TestSynFloodFlowLog holds the replay's live heap
// to: a table of 20 k flows, and the flow log's aggregation of one 60 s
// interval of the flood (every SYN of the minute is a record of its own,
// about 300 k of them, some 100 B each), with the garbage collector's
// slack. Measured on amd64: 51 MiB; the same replay through a table of 2 M
// flows (no eviction) peaks at 365 MiB.
const maxFloodHeap = 128 << 20

// floodCapture is a SYN flood (300 k unanswered SYNs from distinct ports
// over 60 s) followed, from 90 s, by 3 minutes of ordinary traffic.
func floodCapture(t *testing.T) ([]byte, uint64) {
	t.Helper()
	var b bytes.Buffer
	flood, err := gen.WritePcap(&b, gen.Config{Seed: 3, Flows: 300_000, MeanPackets: 1, Duration: time.Minute,
		TCP: 1, UDP: gen.Off, ICMP: gen.Off, SCTP: gen.Off, Unanswered: 1, Reject: gen.Off, SynAck: gen.Off,
		Malformed: gen.Off, ICMPErrors: gen.Off, Fragments: gen.Off, NoTruth: true})
	if err != nil {
		t.Fatal(err)
	}
	var tail bytes.Buffer
	calm, err := gen.WritePcap(&tail, gen.Config{Seed: 4, Flows: 3000, Duration: 3 * time.Minute,
		Start: time.Date(2025, 1, 1, 0, 1, 30, 0, time.UTC), Malformed: gen.Off, NoTruth: true})
	if err != nil {
		t.Fatal(err)
	}
	b.Write(tail.Bytes()[24:]) // the same pcap header
	return b.Bytes(), flood.Packets + calm.Packets
}

// TestSynFloodFlowLog replays a SYN flood through a table of 20 k flows
// with a flow log on. The table fills (emergency mode, flows evicted),
// memory stays under maxFloodHeap, and the flow log loses nothing: an
// evicted flow reports its window as it leaves, so the records' packets sum
// to every packet of the capture and there is no SKIPDATA (nothing was
// lost that SKIPDATA would report). The flowd binary, serving the same
// capture, reports the emergency in /status and /metrics and leaves it once
// the flood is over.
func TestSynFloodFlowLog(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 300 k flows")
	}
	dir := t.TempDir()
	capture, packets := floodCapture(t)
	pcap := filepath.Join(dir, "flood.pcap")
	if err := os.WriteFile(pcap, capture, 0o644); err != nil {
		t.Fatal(err)
	}
	capture = nil
	runtime.GC()

	peakHeap := sampleHeap()
	tree := filepath.Join(dir, "tree")
	err := runReplay([]string{"--format", "none", "--quiet", "--progress", "never", "--max-flows", "20000",
		"--flow-log-dir", tree, pcap})
	peak := peakHeap()
	if err != nil {
		t.Fatal(err)
	}
	recs, _, _ := readFlowLogTree(t, tree)
	sums, status := okSums(t, recs)
	total := sums.total()
	t.Logf("peak live heap %.1f MiB (bound %d MiB); %d records %v, %d packets of %d", float64(peak)/(1<<20),
		maxFloodHeap>>20, len(recs), status, total.pkts, packets)
	if peak > maxFloodHeap {
		t.Errorf("peak live heap %d bytes, over the bound of %d MiB", peak, maxFloodHeap>>20)
	}
	if total.pkts != packets || status["SKIPDATA"] != 0 || status["OK"] < 300_000 {
		t.Errorf("flow log: %v records holding %d packets; the capture has %d packets of over 300 k flows, none lost",
			status, total.pkts, packets)
	}

	// The binary, serving the capture: the emergency is counted and over.
	bin := buildFlowd(t)
	url, stopServe := startServeWithin(t, 20*time.Second, bin, "--max-flows", "20000", "--pcap", "flood="+pcap)
	defer stopServe()
	deadline := time.Now().Add(30 * time.Second)
	var st struct {
		Done    bool   `json:"done"`
		Packets uint64 `json:"packets"`
		Flows   struct {
			Active    uint64            `json:"active"`
			Created   uint64            `json:"created"`
			Ended     map[string]uint64 `json:"ended"`
			Emergency bool              `json:"emergency"`
		} `json:"flows"`
	}
	for !st.Done {
		if time.Now().After(deadline) {
			t.Fatal("the capture was not read in time")
		}
		time.Sleep(50 * time.Millisecond)
		b, err := httpGet(url + "/status")
		if err == nil {
			json.Unmarshal(b, &st)
		}
	}
	entered := metricValue(url, "flowd_table_emergency_entered_total")
	shards := metricValue(url, "flowd_table_emergency_shards")
	t.Logf("serve: %d packets, %d flows created, %d active, ended %v; emergency entered %v times, %v shards in it at the end",
		st.Packets, st.Flows.Created, st.Flows.Active, st.Flows.Ended, entered, shards)
	if entered < 1 || st.Flows.Ended["evicted"] == 0 {
		t.Errorf("a 300 k-flow flood through a 20 k table: emergency entered %v times, %d evicted", entered, st.Flows.Ended["evicted"])
	}
	if st.Flows.Emergency || shards != 0 {
		t.Errorf("still in emergency mode 3 minutes after the flood (%v shards)", shards)
	}
	if st.Packets != packets || st.Flows.Active > 20000 {
		t.Errorf("serve counted %d packets of %d, %d flows active (max 20000)", st.Packets, packets, st.Flows.Active)
	}
	var ended uint64
	for _, n := range st.Flows.Ended {
		ended += n
	}
	if ended+st.Flows.Active != st.Flows.Created {
		t.Errorf("%d ended + %d active != %d created", ended, st.Flows.Active, st.Flows.Created)
	}
}
