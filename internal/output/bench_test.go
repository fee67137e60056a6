package output

import (
	"io"
	"testing"
)

// BenchmarkFormat is the cost of one flow's line in each format.
func BenchmarkFormat(b *testing.B) {
	flows := randomFlows(7, 1024)
	for _, format := range []Format{FormatCSV, FormatJSON, FormatEVE, FormatTable} {
		b.Run(string(format), func(b *testing.B) {
			f, _ := newFormatter(format, Options{SourceName: func(uint16) string { return "edge" }})
			var buf []byte
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				buf = f.appendFlow(buf[:0], &flows[i%len(flows)])
				i++
			}
		})
	}
}

// BenchmarkSink is a start-order sink taking flows and writing them out:
// the whole cost of output per flow, without the engine.
func BenchmarkSink(b *testing.B) {
	flows := randomFlows(8, 100_000)
	for _, format := range []Format{FormatCSV, FormatEVE} {
		b.Run(string(format), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s, _ := NewSink(SinkConfig{Format: format, Path: "/dev/null"})
				for i := 0; i < len(flows); i += 256 {
					s.FlowsEnded(flows[i:min(i+256, len(flows))])
				}
				s.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(flows)), "ns/flow")
		})
	}
	_ = io.Discard
}
