package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/filter"
	"github.com/flowd/flowd/flowtable"
)

var (
	opIDPattern     = regexp.MustCompile(`^([0-9a-f]{8})-([0-9a-f]{4}-){3}([0-9a-f]{12})$`)
	statusMsgPatten = regexp.MustCompile(`^[a-zA-Z0-9- ]+$`)
)

func compile(t testing.TB, minAge int64, fs ...filter.Filter) *filter.Set {
	t.Helper()
	s, err := filter.Compile(fs, minAge)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func str(s string) *string { return &s }

// startSources replays each capture as a source of its own with the given
// infos and waits for their end; the caller stops the engine.
func startSources(t *testing.T, cfg Config, sink Sink, caps []*capBuilder, infos []SourceInfo) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range caps {
		src, err := capture.NewReader(bytes.NewReader(c.buf.Bytes()), infos[i].Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.AddSource(src, infos[i]); err != nil {
			t.Fatal(err)
		}
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

func newOps(t *testing.T, e *Engine, cfg OpsConfig) *Ops {
	t.Helper()
	o, err := NewOps(e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

func runOp(t *testing.T, o *Ops, req OpRequest) Op {
	t.Helper()
	op, err := o.Start(req)
	if err != nil {
		t.Fatal(err)
	}
	if op.Status != OpInProgress || !opIDPattern.MatchString(op.ID) {
		t.Fatalf("Start returned %s %q, want IN_PROGRESS and a lowercase UUID", op.Status, op.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	op, err = o.Wait(ctx, op.ID)
	if err != nil {
		t.Fatal(err)
	}
	if op.StatusMessage != "" && !statusMsgPatten.MatchString(op.StatusMessage) {
		t.Errorf("StatusMessage %q breaks the AWS pattern", op.StatusMessage)
	}
	return op
}

func TestOpsCaptureThenFlush(t *testing.T) {
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprint(workers, "workers"), func(t *testing.T) {
			sink := &memSink{}
			// 10.0.0.1:1000+i -> 10.0.0.2:53, i = 0..19, one second apart.
			e := startEngine(t, Config{Workers: workers}, udpPairs(t, 20), sink)
			o := newOps(t, e, OpsConfig{})
			// Source ports 1000-1009 of flows at least 12 s old: the
			// flow started i+1 s in is 19-i s old at the end (i <= 7).
			set := compile(t, 12, filter.Filter{SourcePort: str("1000:1009"), DestinationAddress: str("10.0.0.2"), Protocols: []string{"17"}})
			op := runOp(t, o, OpRequest{Type: OpCapture, Filters: set})
			if op.Status != OpCompleted || op.Matched != 8 || op.Flows.Len() != 8 || op.StatusMessage != "" {
				t.Fatalf("capture: %s %q, matched %d, %d flows", op.Status, op.StatusMessage, op.Matched, op.Flows.Len())
			}
			seen := map[uint16]bool{}
			for _, r := range op.Flows.All() {
				i := int(r.SrcPort) - 1000
				if r.SrcCIDR() != "10.0.0.1/32" || r.DstCIDR() != "10.0.0.2/32" || r.DstPort != 53 || r.Proto != 17 ||
					r.Packets != 1 || r.Bytes != 20+8+10 || int(r.Age) != 19-i || i < 0 || i > 7 || seen[r.SrcPort] {
					t.Fatalf("result %+v", r)
				}
				seen[r.SrcPort] = true
			}
			if op.Finished.Before(op.Requested) || op.Type != OpCapture || op.MinAgeSeconds != 12 ||
				len(op.Filters) != 1 || *op.Filters[0].DestinationAddress != "10.0.0.2/32" {
				t.Fatalf("echo: %+v", op)
			}
			// Capture changed nothing.
			if st := e.Status(); st.Table.Active != 20 {
				t.Fatalf("%d active after capture", st.Table.Active)
			}

			// Flush the same flows: they end with reason flush and are gone.
			fl := runOp(t, o, OpRequest{Type: OpFlush, Filters: set})
			if fl.Status != OpCompleted || fl.Flows.Len() != 8 {
				t.Fatalf("flush: %s, %d flows", fl.Status, fl.Flows.Len())
			}
			if st := e.Status(); st.Table.Active != 12 || st.Table.Ended[ReasonFlush] != 8 {
				t.Fatalf("after flush: %d active, %d flushed", st.Table.Active, st.Table.Ended[ReasonFlush])
			}
			again := runOp(t, o, OpRequest{Type: OpCapture, Filters: set})
			if again.Status != OpCompleted || again.Flows.Len() != 0 || again.Matched != 0 {
				t.Fatalf("capture after flush: %s, %d flows", again.Status, again.Flows.Len())
			}
			all := runOp(t, o, OpRequest{Type: OpCapture, Filters: compile(t, 0, filter.Filter{})})
			if all.Flows.Len() != 12 {
				t.Fatalf("capture all after flush: %d flows, want 12", all.Flows.Len())
			}
			o.Close()
			if err := e.Stop(ReasonShutdown); err != nil {
				t.Fatal(err)
			}
			n := map[EndReason]int{}
			for _, f := range sink.flows {
				n[f.Reason]++
			}
			if n[ReasonFlush] != 8 || n[ReasonShutdown] != 12 {
				t.Fatalf("sinks saw %v", n)
			}

			// Newest first, and by type.
			list, err := o.List(ListRequest{})
			if err != nil || len(list) != 4 || list[0].ID != all.ID || list[3].ID != op.ID {
				t.Fatalf("list: %d ops, %v", len(list), err)
			}
			flushes, _ := o.List(ListRequest{Type: OpFlush})
			if len(flushes) != 1 || flushes[0].ID != fl.ID {
				t.Fatalf("flush list: %+v", flushes)
			}
		})
	}
}

// twoZones replays four UDP flows on two sources: "a" in us-east-1a behind
// vpce-a (10.0.1.x) and "b" in us-east-1b behind vpce-b (10.0.2.x).
func twoZones(t *testing.T, cfg Config) *Engine {
	var caps []*capBuilder
	for _, net := range []string{"10.0.1.", "10.0.2."} {
		c := newCap(t)
		for i := range 2 {
			ip := ip4(net+"1", net+"2", layers.IPProtocolUDP)
			u := &layers.UDP{SrcPort: layers.UDPPort(2000 + i), DstPort: 53}
			u.SetNetworkLayerForChecksum(ip)
			c.frame(time.Second, nil, ip, u, payload(4))
		}
		caps = append(caps, c)
	}
	return startSources(t, cfg, nil, caps, []SourceInfo{
		{Name: "a", AvailabilityZone: "us-east-1a", VpcEndpointID: "vpce-a"},
		{Name: "b", AvailabilityZone: "us-east-1b", VpcEndpointID: "vpce-b"},
	})
}

func TestOpsScope(t *testing.T) {
	e := twoZones(t, Config{Workers: 2})
	defer e.Stop(ReasonActive)
	assoc := "arn:aws:network-firewall:us-east-1:123456789012:vpc-endpoint-association/x"
	o := newOps(t, e, OpsConfig{Endpoints: []Endpoint{
		{AvailabilityZone: "us-east-1a", VpcEndpointID: "vpce-a"},
		{AvailabilityZone: "us-east-1b", VpcEndpointID: "vpce-b", AssociationArn: assoc},
		{AvailabilityZone: "us-east-1c", VpcEndpointID: "vpce-c"},
	}})
	any := compile(t, 0, filter.Filter{})
	for _, c := range []struct {
		scope Scope
		want  int    // flows
		net   string // their source prefix
	}{
		{Scope{}, 4, ""},
		{Scope{AvailabilityZone: "us-east-1a"}, 2, "10.0.1."},
		{Scope{VpcEndpointID: "vpce-b"}, 2, "10.0.2."},
		{Scope{VpcEndpointAssociationArn: assoc}, 2, "10.0.2."},
		{Scope{AvailabilityZone: "us-east-1b", VpcEndpointID: "vpce-b"}, 2, "10.0.2."},
		{Scope{AvailabilityZone: "us-east-1c"}, 0, ""},
	} {
		op := runOp(t, o, OpRequest{Type: OpCapture, Scope: c.scope, Filters: any})
		if op.Status != OpCompleted || op.Flows.Len() != c.want || op.Scope != c.scope {
			t.Fatalf("%+v: %s, %d flows, want %d", c.scope, op.Status, op.Flows.Len(), c.want)
		}
		for _, r := range op.Flows.All() {
			if s := r.SrcAddr().String(); c.net != "" && s[:len(c.net)] != c.net {
				t.Fatalf("%+v: flow from %s", c.scope, s)
			}
		}
		// Describe in another scope: not found; in its own: found.
		if !c.scope.IsZero() {
			if _, err := o.Op(op.ID, c.scope); err != nil {
				t.Fatalf("Op in own scope: %v", err)
			}
		}
	}
	for _, c := range []struct {
		scope Scope
		msg   string
	}{
		{Scope{AvailabilityZone: "us-east-1z"}, `AvailabilityZone: "us-east-1z" is not an Availability Zone of this firewall (it has "us-east-1a", "us-east-1b", "us-east-1c")`},
		{Scope{VpcEndpointID: "vpce-z"}, `VpcEndpointId: "vpce-z" is not a VPC endpoint of this firewall (it has "vpce-a", "vpce-b", "vpce-c")`},
		{Scope{VpcEndpointAssociationArn: assoc + "y"}, `VpcEndpointAssociationArn: "` + assoc + `y" is not a VPC endpoint association of this firewall (it has "` + assoc + `")`},
		{Scope{AvailabilityZone: "us-east-1a", VpcEndpointID: "vpce-b"}, `VpcEndpointId: "vpce-b" is not in AvailabilityZone "us-east-1a"`},
	} {
		_, err := o.Start(OpRequest{Type: OpCapture, Scope: c.scope, Filters: any})
		var se *ScopeError
		if !errors.As(err, &se) || !errors.Is(err, ErrScope) || err.Error() != c.msg {
			t.Fatalf("%+v: %v\nwant %s", c.scope, err, c.msg)
		}
	}
	// Scoped listing: the unscoped operation ran everywhere, so it shows in
	// every zone; the zone-a one does not show in zone b.
	ops, err := o.List(ListRequest{Scope: Scope{AvailabilityZone: "us-east-1b"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if op.Scope.AvailabilityZone == "us-east-1a" {
			t.Fatalf("zone-a operation listed in zone b")
		}
	}
	if len(ops) != 4 {
		t.Fatalf("%d operations in zone b, want 4", len(ops))
	}
	a, _ := o.List(ListRequest{Scope: Scope{AvailabilityZone: "us-east-1a"}})
	if len(a) != 2 || a[0].Scope.AvailabilityZone != "us-east-1a" || !a[1].Scope.IsZero() {
		t.Fatalf("zone a lists %+v", a)
	}
	if _, err := o.Op(a[0].ID, Scope{AvailabilityZone: "us-east-1b"}); !errors.Is(err, ErrOpNotFound) {
		t.Fatalf("zone-a operation described in zone b: %v", err)
	}
}

// blockWorker keeps worker w of e busy until the returned func is called.
func blockWorker(t *testing.T, e *Engine, w int) func() {
	block := make(chan struct{})
	started := make(chan struct{})
	go e.workers[w].request(context.Background(), ctlReq{fn: func(int, *flowtable.Shard) {
		close(started)
		<-block
	}, done: make(chan struct{})})
	<-started
	var once sync.Once
	return func() { once.Do(func() { close(block) }) }
}

func TestOpsThrottlePerZone(t *testing.T) {
	e := twoZones(t, Config{Workers: 1})
	defer e.Stop(ReasonActive)
	o := newOps(t, e, OpsConfig{})
	any := compile(t, 0, filter.Filter{})
	unblock := blockWorker(t, e, 0)
	defer unblock()
	first, err := o.Start(OpRequest{Type: OpCapture, Scope: Scope{AvailabilityZone: "us-east-1a"}, Filters: any})
	if err != nil {
		t.Fatal(err)
	}
	// Same zone, or every zone: throttled. The other zone: fine.
	for _, s := range []Scope{{AvailabilityZone: "us-east-1a"}, {VpcEndpointID: "vpce-a"}, {}} {
		if _, err := o.Start(OpRequest{Type: OpFlush, Scope: s, Filters: any}); !errors.Is(err, ErrThrottled) {
			t.Fatalf("%+v during an operation in us-east-1a: %v, want throttled", s, err)
		}
	}
	second, err := o.Start(OpRequest{Type: OpCapture, Scope: Scope{AvailabilityZone: "us-east-1b"}, Filters: any})
	if err != nil {
		t.Fatalf("other zone: %v", err)
	}
	if d, _ := o.Op(first.ID, Scope{}); d.Status != OpInProgress {
		t.Fatalf("blocked operation is %s", d.Status)
	}
	unblock()
	for _, id := range []string{first.ID, second.ID} {
		op, err := o.Wait(context.Background(), id)
		if err != nil || op.Status != OpCompleted || op.Flows.Len() != 2 {
			t.Fatalf("%s: %s %d flows %v", id, op.Status, op.Flows.Len(), err)
		}
	}
	// Done: the zone is free again.
	runOp(t, o, OpRequest{Type: OpCapture, Filters: any})
}

func TestOpsShardLate(t *testing.T) {
	e := startEngine(t, Config{Workers: 2}, udpPairs(t, 20), nil)
	defer e.Stop(ReasonActive)
	o := newOps(t, e, OpsConfig{ShardTimeout: 50 * time.Millisecond})
	unblock := blockWorker(t, e, 1)
	op := runOp(t, o, OpRequest{Type: OpCapture, Filters: compile(t, 0, filter.Filter{})})
	unblock()
	if op.Status != OpCompletedWithErrors || op.StatusMessage != MsgTimeout || op.Flows.Len() >= 20 {
		t.Fatalf("%s %q with %d flows, want COMPLETED_WITH_ERRORS, Flow timeout, some flows missing", op.Status, op.StatusMessage, op.Flows.Len())
	}
}

func TestOpsResultCap(t *testing.T) {
	e := startEngine(t, Config{Workers: 3}, udpPairs(t, 20), nil)
	defer e.Stop(ReasonActive)
	o := newOps(t, e, OpsConfig{ResultCap: 5})
	op := runOp(t, o, OpRequest{Type: OpFlush, Filters: compile(t, 0, filter.Filter{})})
	if op.Status != OpCompletedWithErrors || op.StatusMessage != "Result limit of 5 flows reached" || op.Flows.Len() != 5 || op.Matched != 20 {
		t.Fatalf("%s %q, %d flows of %d", op.Status, op.StatusMessage, op.Flows.Len(), op.Matched)
	}
	// A flush past the cap still flushes every matching flow.
	if st := e.Status(); st.Table.Active != 0 {
		t.Fatalf("%d flows left after the flush", st.Table.Active)
	}
	// Exactly at the cap is complete.
	e2 := startEngine(t, Config{}, udpPairs(t, 5), nil)
	defer e2.Stop(ReasonActive)
	o2 := newOps(t, e2, OpsConfig{ResultCap: 5})
	if op := runOp(t, o2, OpRequest{Type: OpCapture, Filters: compile(t, 0, filter.Filter{})}); op.Status != OpCompleted || op.Flows.Len() != 5 {
		t.Fatalf("at the cap: %s, %d flows", op.Status, op.Flows.Len())
	}
}

func TestOpsFailedOnClose(t *testing.T) {
	e := startEngine(t, Config{}, udpPairs(t, 3), nil)
	defer e.Stop(ReasonActive)
	o := newOps(t, e, OpsConfig{})
	unblock := blockWorker(t, e, 0)
	defer unblock()
	op, err := o.Start(OpRequest{Type: OpCapture, Filters: compile(t, 0, filter.Filter{})})
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	got, err := o.Op(op.ID, Scope{})
	if err != nil || got.Status != OpFailed || got.StatusMessage != MsgOpError || got.Flows.Len() != 0 {
		t.Fatalf("after Close: %s %q %d flows %v", got.Status, got.StatusMessage, got.Flows.Len(), err)
	}
	if _, err := o.Start(OpRequest{Type: OpCapture, Filters: compile(t, 0, filter.Filter{})}); !errors.Is(err, ErrOpsClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
}

func TestOpsRetention(t *testing.T) {
	e := startEngine(t, Config{}, udpPairs(t, 3), nil)
	defer e.Stop(ReasonActive)
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	o := newOps(t, e, OpsConfig{Retention: time.Hour, Now: clock})
	any := compile(t, 0, filter.Filter{})
	old := runOp(t, o, OpRequest{Type: OpCapture, Filters: any})
	advance(30 * time.Minute)
	newer := runOp(t, o, OpRequest{Type: OpCapture, Filters: any})
	if !old.Requested.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Requested %v", old.Requested)
	}
	advance(30 * time.Minute) // old is exactly an hour old: gone
	if _, err := o.Op(old.ID, Scope{}); !errors.Is(err, ErrOpNotFound) {
		t.Fatalf("expired operation: %v", err)
	}
	if _, err := o.Wait(context.Background(), old.ID); !errors.Is(err, ErrOpNotFound) {
		t.Fatalf("Wait on expired operation: %v", err)
	}
	if _, err := o.Op(newer.ID, Scope{}); err != nil {
		t.Fatal(err)
	}
	// An operation in progress is never purged.
	unblock := blockWorker(t, e, 0)
	busy, err := o.Start(OpRequest{Type: OpCapture, Filters: any})
	if err != nil {
		t.Fatal(err)
	}
	advance(2 * time.Hour)
	if _, err := o.Op(busy.ID, Scope{}); err != nil {
		t.Fatalf("in-progress operation purged: %v", err)
	}
	if l, _ := o.List(ListRequest{}); len(l) != 1 || l[0].ID != busy.ID {
		t.Fatalf("list after expiry: %+v", l)
	}
	unblock()
	o.Wait(context.Background(), busy.ID)
}

func TestMakeResultClamps(t *testing.T) {
	var f flowtable.Flow
	f.Key.Family, f.Key.Proto = 6, 58 // ICMPv6: no ports
	f.Key.A[15], f.Key.B[15] = 1, 2
	f.Key.APort, f.Key.BPort = 128, 3 // what the key holds is not reported
	f.Pkts = [2]uint32{math.MaxUint32, 5}
	f.IPBytes = [2]uint64{1 << 40, 1}
	f.First = 1
	r := makeResult(&f, math.MaxInt64)
	if r.Age != math.MaxInt32 || r.Packets != math.MaxInt32 || r.Bytes != 1<<40+1 || r.SrcPort != 0 || r.DstPort != 0 ||
		r.SrcCIDR() != "::1/128" || r.DstCIDR() != "::2/128" {
		t.Fatalf("%+v %s %s", r, r.SrcCIDR(), r.DstCIDR())
	}
	// A flow first seen after the scan's clock (a packet raced the scan)
	// has age 0, not a negative one.
	f.First = 100
	if r := makeResult(&f, 50); r.Age != 0 {
		t.Fatalf("age %d", r.Age)
	}
}

func TestMatchFlowAllocs(t *testing.T) {
	set := compile(t, 5, filter.Filter{SourceAddress: str("10.0.0.0/8"), DestinationPort: str("53"), Protocols: []string{"17"}},
		filter.Filter{DestinationAddress: str("2001:db8::/32")})
	var f flowtable.Flow
	f.Key.Family, f.Key.Proto = 4, 17
	f.Key.A = [16]byte{10, 0, 0, 1}
	f.Key.B = [16]byte{10, 0, 0, 2}
	f.Key.BPort = 53
	if !matchFlow(set, &f, int64(10*time.Second)) || matchFlow(set, &f, int64(time.Second)) {
		t.Fatal("matchFlow disagrees with the filter")
	}
	if n := testing.AllocsPerRun(1000, func() { matchFlow(set, &f, int64(10*time.Second)) }); n != 0 {
		t.Fatalf("%v allocations per match", n)
	}
}

func TestResultsChunks(t *testing.T) {
	var r Results
	n := 0
	for _, size := range []int{3, 1, 5, 2} {
		c := make([]FlowResult, size)
		for i := range c {
			c[i].Bytes = int64(n)
			n++
		}
		r.add(c)
	}
	if r.Len() != n {
		t.Fatalf("Len %d, want %d", r.Len(), n)
	}
	for i := range n {
		if r.At(i).Bytes != int64(i) {
			t.Fatalf("At(%d) = %d", i, r.At(i).Bytes)
		}
		for size := 1; size <= n+1; size++ {
			p := r.Page(i, size)
			if len(p) != min(size, n-i) {
				t.Fatalf("Page(%d, %d): %d results", i, size, len(p))
			}
			for j := range p {
				if p[j].Bytes != int64(i+j) {
					t.Fatalf("Page(%d, %d)[%d] = %d", i, size, j, p[j].Bytes)
				}
			}
		}
	}
	if r.Page(n, 5) != nil || r.Page(-1, 5) != nil || len(r.All()) != n {
		t.Fatal("Page out of range")
	}
}

// TestOpsResultBound: the results of ended operations stay under
// MaxResultBytes however many operations run; past it the oldest are
// released first, and asking for one says so, while the newest stay.
func TestOpsResultBound(t *testing.T) {
	e := startEngine(t, Config{}, udpPairs(t, 20), nil)
	defer e.Stop(ReasonActive)
	all := compile(t, 0, filter.Filter{})
	// One capture's results: 20 flows in one chunk of 20.
	one := NewResults(make([]FlowResult, 20))
	per := one.Bytes()
	bound := 3*per + per/2
	o := newOps(t, e, OpsConfig{MaxResultBytes: bound})
	var ids []string
	for i := range 10 {
		op := runOp(t, o, OpRequest{Type: OpCapture, Filters: all})
		if op.Status != OpCompleted || op.Flows.Len() != 20 {
			t.Fatalf("capture %d: %s with %d flows", i, op.Status, op.Flows.Len())
		}
		ids = append(ids, op.ID)
		st := o.OpStats()
		if st.ResultBytes > bound {
			t.Fatalf("after capture %d: %d bytes of results kept, bound %d", i, st.ResultBytes, bound)
		}
	}
	st := o.OpStats()
	if st.Kept != 3 || st.Released != 7 || st.MaxBytes != bound {
		t.Fatalf("stats %+v: want 3 kept, 7 released", st)
	}
	for i, id := range ids {
		_, err := o.Op(id, Scope{})
		switch {
		case i < 7 && !errors.Is(err, ErrResultsReleased):
			t.Errorf("operation %d: %v, want ErrResultsReleased", i, err)
		case i < 7 && !strings.Contains(err.Error(), id):
			t.Errorf("the message does not name the operation: %v", err)
		case i >= 7 && err != nil:
			t.Errorf("newest operation %d: %v", i, err)
		}
	}
	if l, _ := o.List(ListRequest{}); len(l) != 3 || l[0].ID != ids[9] {
		t.Errorf("list: %d operations", len(l))
	}
	// An operation whose results alone are over the bound is released
	// too: the bound holds.
	small := newOps(t, e, OpsConfig{MaxResultBytes: per / 2})
	op := runOp(t, small, OpRequest{Type: OpCapture, Filters: all})
	if _, err := small.Op(op.ID, Scope{}); !errors.Is(err, ErrResultsReleased) {
		t.Errorf("an operation over the bound alone: %v", err)
	}
	if st := small.OpStats(); st.ResultBytes != 0 {
		t.Errorf("%d bytes kept over a bound of %d", st.ResultBytes, per/2)
	}
}
