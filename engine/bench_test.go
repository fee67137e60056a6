package engine

import (
	"bytes"
	"io"
	"testing"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
)

// framesOf reads a whole capture into memory, the frames' bytes back to
// back in file order, as a reader's buffer holds them.
func framesOf(tb testing.TB, capBytes []byte) []capture.Frame {
	r, err := capture.NewReader(bytes.NewReader(capBytes), "bench")
	if err != nil {
		tb.Fatal(err)
	}
	var frames []capture.Frame
	data := make([]byte, 0, len(capBytes))
	batch := make([]capture.Frame, 256)
	for {
		n, err := r.ReadBatch(batch)
		for _, f := range batch[:n] {
			at := len(data)
			data = append(data, f.Data...)
			f.Data = data[at:len(data):len(data)]
			frames = append(frames, f)
		}
		if err == io.EOF {
			return frames
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkPacketPath measures the CPU side of replay with one worker, inline:
// decode, key, hash and table update of frames already in memory (no file
// reading), over generated traffic of 10 k and 100 k flows. One op is one
// packet.
func BenchmarkPacketPath(b *testing.B) {
	for _, flows := range []int{10_000, 100_000} {
		var buf bytes.Buffer
		if _, err := gen.WritePcap(&buf, gen.Config{Seed: 1, Flows: flows, NoTruth: true, Duration: 5e9}); err != nil {
			b.Fatal(err)
		}
		frames := framesOf(b, buf.Bytes())
		b.Run(itoa(flows)+"flows", func(b *testing.B) {
			e, _ := New(Config{})
			s := newSource(e, 0, nil, SourceInfo{Name: "bench"})
			s.inline, s.local = true, newRawBatch(0, e.cfg.BatchSize)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// One batch per 256 ops.
				if i%256 == 0 {
					j := i % len(frames)
					s.take(frames[j:min(j+256, len(frames))])
				}
				i++
			}
		})
	}
}

func itoa(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return string(rune('0'+n/1_000_000)) + "M"
	case n >= 1000 && n%1000 == 0:
		return itoaSmall(n/1000) + "k"
	}
	return itoaSmall(n)
}

func itoaSmall(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoaSmall(n/10) + string(rune('0'+n%10))
}
