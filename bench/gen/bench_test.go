package gen

import (
	"io"
	"testing"

	"github.com/flowd/flowd/capture"
)

// BenchmarkGenerate measures the stream: packets/s as flowd bench would
// draw them (100 k flows of 10 packets), with and without the truth.
func BenchmarkGenerate(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"100k-flows", Config{Seed: 1, Flows: 100_000, NoTruth: true}},
		{"100k-flows-truth", Config{Seed: 1, Flows: 100_000}},
		{"1M-flows-1s", Config{Seed: 1, Flows: 1_000_000, MeanPackets: 2, Duration: 1e9, NoTruth: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var pkts, bytes uint64
			for b.Loop() {
				g, err := New(bc.cfg)
				if err != nil {
					b.Fatal(err)
				}
				var fr capture.Frame
				for g.Next(&fr) {
					pkts++
					bytes += uint64(len(fr.Data))
				}
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(pkts)/s, "packets/s")
			b.ReportMetric(float64(bytes)/s/1e6, "MB/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(pkts), "ns/packet")
		})
	}
}

// BenchmarkWritePcap measures writing a pcap file (to io.Discard).
func BenchmarkWritePcap(b *testing.B) {
	b.ReportAllocs()
	cfg := Config{Seed: 1, Flows: 10_000}
	var pkts uint64
	for b.Loop() {
		tr, err := WritePcap(io.Discard, cfg)
		if err != nil {
			b.Fatal(err)
		}
		pkts += tr.Packets
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "packets/s")
}
