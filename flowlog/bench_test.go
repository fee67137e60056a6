package flowlog

import (
	"io"
	"testing"
	"time"
)

// benchObjectRecords is the size of one object in the writer benchmarks:
// each iteration writes and finishes a whole object, so the per-object costs
// (gzip trailer, Parquet footer and row-group flush) are counted.
const benchObjectRecords = 50000

// benchDistinct is how many different records the benchmarks cycle through:
// more than a gzip window and a Parquet page hold, so repetition does not
// flatter the compression.
const benchDistinct = 1 << 16

var benchFormats = []struct {
	name   string
	format Format
}{
	{"default", Format{}},
	{"v5", MustParseFormat(awsExamples[len(awsExamples)-1].format)},
}

// cpuClock measures a benchmark's process CPU time. The machines these run
// on are shared, so wall time per record is inflated by other work; CPU
// seconds per record (garbage collection included) is the per-core figure.
type cpuClock struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuClock {
	t, ok := processCPU()
	return cpuClock{start: t, ok: ok}
}

// report adds records/s (wall) and records/cpu-s (per core) metrics.
func (c cpuClock) report(b *testing.B, perIter int) {
	n := float64(perIter) * float64(b.N)
	b.ReportMetric(n/b.Elapsed().Seconds(), "records/s")
	if end, ok := processCPU(); ok && c.ok && end > c.start {
		b.ReportMetric(n/(end-c.start).Seconds(), "records/cpu-s")
	}
}

func BenchmarkAppendText(b *testing.B) {
	recs := randomRecords(9, benchDistinct)
	for _, bf := range benchFormats {
		b.Run(bf.name, func(b *testing.B) {
			b.ReportAllocs()
			clock := startCPU()
			buf := make([]byte, 0, 1024)
			i := 0
			for b.Loop() {
				buf = bf.format.AppendText(buf[:0], &recs[i%benchDistinct])
				i++
			}
			clock.report(b, 1)
		})
	}
}

func BenchmarkGzipText(b *testing.B) {
	recs := randomRecords(9, benchDistinct)
	for _, bf := range benchFormats {
		b.Run(bf.name, func(b *testing.B) {
			b.ReportAllocs()
			clock := startCPU()
			w, err := NewTextWriter(io.Discard, bf.format, 0)
			if err != nil {
				b.Fatal(err)
			}
			var size int64
			for b.Loop() {
				w.Reset(io.Discard)
				for i := range benchObjectRecords {
					if err := w.Write(&recs[i%benchDistinct]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				size = w.Size()
			}
			clock.report(b, benchObjectRecords)
			b.ReportMetric(float64(size)/benchObjectRecords, "B/record")
		})
	}
}

func BenchmarkParquet(b *testing.B) {
	recs := randomRecords(9, benchDistinct)
	for _, bf := range benchFormats {
		b.Run(bf.name, func(b *testing.B) {
			b.ReportAllocs()
			clock := startCPU()
			var size int64
			for b.Loop() {
				w := NewParquetWriter(io.Discard, bf.format)
				for i := range benchObjectRecords {
					if err := w.Write(&recs[i%benchDistinct]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				size = w.Size()
			}
			clock.report(b, benchObjectRecords)
			b.ReportMetric(float64(size)/benchObjectRecords, "B/record")
		})
	}
}
