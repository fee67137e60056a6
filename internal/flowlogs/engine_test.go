package flowlogs

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowlog"
	"github.com/flowd/flowd/flowtable"
)

// TestWindowTCPFlagsRule: the table's per-packet tcp-flags mapping is
// flowlog's rule for every flags byte.
func TestWindowTCPFlagsRule(t *testing.T) {
	for raw := range 256 {
		if got, want := flowtable.WindowTCPFlags(uint8(raw)), flowlog.PacketTCPFlags(uint8(raw)); got != uint8(want) {
			t.Errorf("flags %#02x: table %d, flowlog %d", raw, got, want)
		}
	}
}

// slowSink delays every batch, so that an engine that drops when its
// window sinks fall behind drops some.
type slowSink struct{ *Sink }

func (s slowSink) FlowWindows(ws []engine.FlowWindow) error {
	time.Sleep(20 * time.Millisecond)
	return s.Sink.FlowWindows(ws)
}

// TestSkipDataFromDrops runs a live-style engine (DropWhenSinksBehind) with
// a writer too slow for it: the windows it drops are counted, and the
// intervals they fell in get SKIPDATA records.
func TestSkipDataFromDrops(t *testing.T) {
	var buf bytes.Buffer
	if _, err := gen.WritePcap(&buf, gen.Config{Seed: 9, Flows: 20000, MeanPackets: 4, Duration: 10 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{DropWhenSinksBehind: true, BatchSize: 256}
	cfg.Table.Window = time.Minute
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.NewReader(bytes.NewReader(buf.Bytes()), "cap")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddSource(src, engine.SourceInfo{Name: "cap"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	set := settings(t, flowlog.Definition{LogDestinationType: flowlog.DestinationFirehose,
		LogDestination: "arn:aws:firehose:us-east-1:123456789012:deliverystream/st", MaxAggregationInterval: 60})
	sink, err := New(Config{Interfaces: testIfaces[:1], Window: time.Minute, FirehoseDir: dir, Skipped: e.WindowsDropped,
		Logs: func() ([]Log, uint64) { return []Log{{ID: "fl-d", Settings: set, Interfaces: []int{0}}}, 1 }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.AddWindowSink(slowSink{sink}); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-e.SourcesDone()
	if err := e.Stop(engine.ReasonShutdown); err != nil {
		t.Fatal(err)
	}
	if e.WindowsDropped() == 0 {
		t.Skip("the engine dropped no window: this machine kept up with a 20 ms writer")
	}
	st := sink.Stats()
	if st.SkipData == 0 {
		t.Errorf("%d windows dropped but no SKIPDATA record (stats %+v)", e.WindowsDropped(), st)
	}
	lines := fileLines(t, dir)
	skip := 0
	for _, l := range lines {
		if bytes.HasSuffix([]byte(l), []byte("SKIPDATA")) {
			skip++
		}
	}
	if uint64(skip) != st.SkipData {
		t.Errorf("%d SKIPDATA lines, stats say %d", skip, st.SkipData)
	}
}
