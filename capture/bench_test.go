package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// benchPackets is the size of the benchmark captures: 100k frames of the
// realistic size mix in randPacket (~800 bytes average, ~80 MB a file).
const benchPackets = 100_000

var benchFiles = sync.OnceValue(func() map[string][]byte {
	rng := rand.New(rand.NewPCG(21, 22))
	return map[string][]byte{
		"pcap":   genPcap(rng, benchPackets, binary.LittleEndian, false, 1).data,
		"pcapng": genPcapNG(rng, benchPackets, ngOptions{simple: true}).data,
	}
})

// readLoop reads f to the end in batches of 256, as the engine does.
func readLoop(tb testing.TB, f *File, dst []Frame) (frames int) {
	for {
		n, err := f.ReadBatch(dst)
		frames += n
		if err == io.EOF {
			return frames
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// TestNoAllocs: reading a whole file, Reset included, allocates nothing
// once the File's buffers exist — for pcap and pcapng (two sections,
// several interfaces), with the buffer compacted several times per pass.
// gzip input allocates only inside compress/flate.
func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; run without -race")
	}
	rng := rand.New(rand.NewPCG(31, 32))
	for name, data := range map[string][]byte{
		"pcap":        genPcap(rng, 3000, binary.BigEndian, true, 1).data,
		"pcapng":      genPcapNG(rng, 3000, ngOptions{sections: 2}).data,
		"pcapng-gzip": gz(genPcapNG(rng, 3000, ngOptions{sections: 2}).data),
	} {
		br := bytes.NewReader(data)
		f, err := NewReader(br, name)
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]Frame, 256)
		frames := readLoop(t, f, dst)
		allocs := testing.AllocsPerRun(5, func() {
			br.Reset(data)
			if err := f.Reset(br, name); err != nil {
				t.Fatal(err)
			}
			readLoop(t, f, dst)
		})
		switch {
		case name == "pcapng-gzip":
			// compress/flate allocates Huffman link tables for some
			// dynamic blocks: ~220 per 2.4 MB pass here (Go 1.26), none
			// per frame. Bound it well under one per frame.
			if allocs/float64(frames) > 0.2 {
				t.Errorf("%s: %.0f allocations per pass of %d frames, want < 0.2 per frame", name, allocs, frames)
			}
		case allocs != 0:
			t.Errorf("%s: %.1f allocations per pass of %d frames, want 0", name, allocs, frames)
		}
	}
}

// BenchmarkReadPcap and BenchmarkReadPcapNG read the whole in-memory file
// per iteration, through a bytes.Reader ("mem") or an *os.File ("file",
// page cache), and report ns per packet.
func BenchmarkReadPcap(b *testing.B)   { benchRead(b, "pcap") }
func BenchmarkReadPcapNG(b *testing.B) { benchRead(b, "pcapng") }

func benchRead(b *testing.B, format string) {
	data := benchFiles()[format]
	b.Run("mem", func(b *testing.B) {
		br := bytes.NewReader(data)
		f, err := NewReader(br, format)
		if err != nil {
			b.Fatal(err)
		}
		dst := make([]Frame, 256)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			br.Reset(data)
			if err := f.Reset(br, format); err != nil {
				b.Fatal(err)
			}
			if n := readLoop(b, f, dst); n != benchPackets {
				b.Fatalf("%d frames", n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchPackets), "ns/pkt")
	})
	b.Run("file", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "bench."+format)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
		fh, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer fh.Close()
		f, err := NewReader(fh, format)
		if err != nil {
			b.Fatal(err)
		}
		dst := make([]Frame, 256)
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			fh.Seek(0, io.SeekStart)
			if err := f.Reset(fh, format); err != nil {
				b.Fatal(err)
			}
			if n := readLoop(b, f, dst); n != benchPackets {
				b.Fatalf("%d frames", n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchPackets), "ns/pkt")
	})
}

// BenchmarkBareWalk is the floor the readers are measured against. "copy"
// moves the file through a buffer in readSize reads and does nothing else;
// "walk" also hops from record header to record header in a 1 MiB buffer
// filled that way — the least any buffered reader must do. "inplace" hops through the whole 80 MB file
// without copying: it is slower than the readers, because each header load
// misses the cache and depends on the one before, while a streaming copy
// is prefetched.
func BenchmarkBareWalk(b *testing.B) {
	for _, format := range []string{"pcap", "pcapng"} {
		data := benchFiles()[format]
		b.Run(format+"/copy", func(b *testing.B) {
			buf := make([]byte, readSize)
			br := bytes.NewReader(data)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				br.Reset(data)
				for {
					if _, err := br.Read(buf); err == io.EOF {
						break
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchPackets), "ns/pkt")
		})
		b.Run(format+"/walk", func(b *testing.B) {
			buf := make([]byte, defaultBufSize)
			br := bytes.NewReader(data)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				br.Reset(data)
				if n := streamWalk(br, buf, format); n != benchPackets {
					b.Fatalf("%d frames", n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchPackets), "ns/pkt")
		})
		b.Run(format+"/inplace", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if n := walkInPlace(data, format); n != benchPackets {
					b.Fatalf("%d frames", n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchPackets), "ns/pkt")
		})
	}
}

// recordLen returns the length of the little-endian record or block at
// b[0:] and whether it holds a frame; b has at least 12 bytes.
func recordLen(b []byte, format string) (int, bool) {
	if format == "pcap" {
		return pcapRecordHeaderLen + int(binary.LittleEndian.Uint32(b[8:])), true
	}
	return int(binary.LittleEndian.Uint32(b[4:])), binary.LittleEndian.Uint32(b) == blockEPB
}

// streamWalk reads r through buf, hopping from record to record, moving a
// cut record to the front before each refill.
func streamWalk(r io.Reader, buf []byte, format string) (frames int) {
	start, end := 0, 0
	skip := pcapFileHeaderLen
	if format != "pcap" {
		skip = 0
	}
	for {
		m, err := r.Read(buf[end:min(len(buf), end+readSize)])
		end += m
		for {
			if skip > 0 {
				k := min(skip, end-start)
				start += k
				skip -= k
				if skip > 0 {
					break
				}
			}
			if end-start < 12 {
				break
			}
			n, frame := recordLen(buf[start:], format)
			if frame {
				frames++
			}
			skip = n
		}
		if err == io.EOF {
			return frames
		}
		end = copy(buf, buf[start:end])
		start = 0
	}
}

func walkInPlace(data []byte, format string) (frames int) {
	off := pcapFileHeaderLen
	if format != "pcap" {
		off = 0
	}
	for off+12 <= len(data) {
		n, frame := recordLen(data[off:], format)
		if frame {
			frames++
		}
		off += n
	}
	return frames
}
