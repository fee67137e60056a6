package flowlogs

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowlog"
)

// BenchmarkSink feeds batches of windows of distinct flows, one 60 s window
// after another, through a sink writing gzip text to a directory: the cost
// per window (two records) from the engine's batch to the object.
func BenchmarkSink(b *testing.B) {
	set, err := (&flowlog.Definition{ResourceType: flowlog.ResourceNetworkInterface, ResourceIds: []string{"eni-0"},
		TrafficType: flowlog.TrafficAll, LogDestinationType: flowlog.DestinationS3, LogDestination: "arn:aws:s3:::bkt",
		MaxAggregationInterval: 60}).Settings()
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{Interfaces: testIfaces[:1], Window: time.Minute, S3: flowlog.DirStore{Root: b.TempDir()},
		Logs: func() ([]Log, uint64) { return []Log{{ID: "fl-b", Settings: set, Interfaces: []int{0}}}, 1 }})
	if err != nil {
		b.Fatal(err)
	}
	const perWindow = 50_000
	batch := make([]engine.FlowWindow, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		n := min(len(batch), b.N-i)
		for j := range batch[:n] {
			k := i + j
			w := win(t0+int64(k/perWindow)*60, 0, 3, 2, 2, 18)
			binary.BigEndian.PutUint32(w.Src[:4], uint32(k%perWindow)|0x0a000000)
			batch[j] = w
		}
		if err := s.FlowWindows(batch[:n]); err != nil {
			b.Fatal(err)
		}
		i += n
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}
