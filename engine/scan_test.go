package engine

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/filter"
	"github.com/flowd/flowd/flowtable"
)

// startEngine replays c into a started engine and waits for the file's end;
// the caller stops it.
func startEngine(t *testing.T, cfg Config, c *capBuilder, sink Sink) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.NewReader(bytes.NewReader(c.buf.Bytes()), "scan")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddSource(src, SourceInfo{Name: "scan"}); err != nil {
		t.Fatal(err)
	}
	if sink != nil {
		e.AddSink(sink)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-e.SourcesDone()
	return e
}

// udpPairs writes n one-packet UDP flows from 10.0.0.1:1000+i to 10.0.0.2:53,
// one second apart.
func udpPairs(t *testing.T, n int) *capBuilder {
	c := newCap(t)
	for i := range n {
		ip := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
		u := &layers.UDP{SrcPort: layers.UDPPort(1000 + i), DstPort: 53}
		u.SetNetworkLayerForChecksum(ip)
		c.frame(time.Second, nil, ip, u, payload(10))
	}
	return c
}

func TestScanCaptureAndFlush(t *testing.T) {
	for _, workers := range []int{1, 3} {
		sink := &memSink{}
		// 20 flows, one second apart: all within the UDP new timeout (30 s).
		e := startEngine(t, Config{Workers: workers}, udpPairs(t, 20), sink)
		ctx := context.Background()
		// Source ports 1000-1009: half the flows.
		half := compile(t, 0, filter.Filter{SourcePort: str("1000:1009")})
		// Capture: 10 match, the table is unchanged, Limit caps the results.
		res, err := e.Scan(ctx, ScanRequest{Filters: half, Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		if res.Matched != 10 || res.Flows.Len() != 4 || !res.Truncated() {
			t.Fatalf("%d workers: capture matched %d, returned %d, truncated %v", workers, res.Matched, res.Flows.Len(), res.Truncated())
		}
		if res.Now != e.Now() || res.Now == 0 {
			t.Errorf("scan clock %d, engine clock %d", res.Now, e.Now())
		}
		// Ages count at the scan clock.
		old := compile(t, 10, filter.Filter{})
		if res, _ := e.Scan(ctx, ScanRequest{Filters: old}); res.Matched != 10 {
			t.Errorf("flows at least 10 s old: %d, want 10", res.Matched)
		}
		// A source out of scope is not scanned.
		if res, _ := e.Scan(ctx, ScanRequest{Sources: []bool{false}}); res.Matched != 0 {
			t.Errorf("out-of-scope source: %d flows matched", res.Matched)
		}
		// Flush: the matching flows end with reason flush and leave the table.
		res, err = e.Scan(ctx, ScanRequest{Filters: half, Flush: true, Limit: 100})
		if err != nil || res.Matched != 10 || res.Flows.Len() != 10 || res.Truncated() {
			t.Fatalf("flush: %+v %v", res, err)
		}
		if st := e.Status(); st.Table.Active != 10 || st.Table.Ended[ReasonFlush] != 10 {
			t.Fatalf("after flush: %d active, %d flushed", st.Table.Active, st.Table.Ended[ReasonFlush])
		}
		if res, _ := e.Scan(ctx, ScanRequest{Filters: half}); res.Matched != 0 {
			t.Fatalf("flushed flows still match: %d", res.Matched)
		}
		// Stop with shutdown: the sinks see every flow end.
		if err := e.Stop(ReasonShutdown); err != nil {
			t.Fatal(err)
		}
		reasons := map[EndReason]int{}
		for _, f := range sink.flows {
			reasons[f.Reason]++
		}
		if reasons[ReasonFlush] != 10 || reasons[ReasonShutdown] != 10 || len(sink.flows) != 20 {
			t.Fatalf("sink saw %v (%d flows)", reasons, len(sink.flows))
		}
	}
}

func TestReplayTimeouts(t *testing.T) {
	// 20 flows one second apart; with a 5 s UDP timeout, all but the last 5
	// have timed out by the end of the file (the final sweep finds them).
	c := udpPairs(t, 20)
	flows, st := c.run(Config{Table: flowtable.Config{Timeouts: flowtable.Timeouts{UDPNew: 5 * time.Second}}})
	n := map[EndReason]int{}
	for _, f := range flows {
		n[f.Reason]++
	}
	// The last flow starts at 20 s; flows whose last packet is ≥ 5 s before
	// it have expired: those at 1..15 s.
	if n[ReasonTimeout] != 15 || n[ReasonActive] != 5 {
		t.Fatalf("reasons %v, want 15 timeout and 5 active", n)
	}
	if st.Table.Ended[ReasonTimeout] != 15 {
		t.Errorf("status says %d timed out", st.Table.Ended[ReasonTimeout])
	}
}

func TestEmergencyThroughEngine(t *testing.T) {
	// 50 flows into a table of 16: it stays bounded, evictions are counted,
	// and every flow is still reported once.
	flows, st := udpPairs(t, 50).run(Config{Table: flowtable.Config{MaxFlows: 16}})
	if st.Table.EmergencyEntered == 0 || st.Table.Active > 16 {
		t.Fatalf("emergency entered %d times, %d active", st.Table.EmergencyEntered, st.Table.Active)
	}
	var ended uint64
	for _, n := range st.Table.Ended {
		ended += n
	}
	if len(flows) != 50 || ended+st.Table.Active != 50 {
		t.Fatalf("%d flows reported, %d ended + %d active; want 50", len(flows), ended, st.Table.Active)
	}
}

func TestScanShardTimeout(t *testing.T) {
	e := startEngine(t, Config{Workers: 2}, udpPairs(t, 10), nil)
	defer e.Stop(ReasonActive)
	block := make(chan struct{})
	// Keep worker 1 busy so it cannot answer in time.
	go e.workers[1].request(context.Background(), ctlReq{fn: func(int, *flowtable.Shard) { <-block }, done: make(chan struct{})})
	time.Sleep(20 * time.Millisecond)
	res, err := e.Scan(context.Background(), ScanRequest{Limit: 100, ShardTimeout: 50 * time.Millisecond})
	close(block)
	if err != nil {
		t.Fatal(err)
	}
	if res.ShardsLate != 1 {
		t.Fatalf("ShardsLate = %d, want 1", res.ShardsLate)
	}
}
