package flowtable

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// benchWorkload is n distinct IPv4 flows (pkts, one packet each) and a
// stream of packets over them in arrival order, zipf-distributed (s = 1.1)
// or uniform. The stream is laid out sequentially, as the engine hands
// packets to a worker, so reading it costs neither side a cache miss.
type benchWorkload struct {
	pkts   []Packet
	stream []Packet
}

const streamLen = 1 << 20

func newBenchWorkload(n int, zipf bool) *benchWorkload {
	r := rand.New(rand.NewPCG(uint64(n), 42))
	w := &benchWorkload{pkts: make([]Packet, n)}
	for i := range w.pkts {
		var src, dst [16]byte
		v := r.Uint64()
		for j := range 4 {
			src[j], dst[j] = byte(v>>(8*j)), byte(v>>(32+8*j))
		}
		sp, dp := uint16(r.Uint32()), uint16(r.Uint32())
		k, rev := MakeKey(&src, &dst, sp, dp, 6, 4, [3]uint16{})
		w.pkts[i] = Packet{Key: k, Reverse: rev, FrameLen: 100, IPLen: 86, TCPFlags: tcpAck, Time: 1}
	}
	return w.withStream(zipf, r)
}

func (w *benchWorkload) withStream(zipf bool, r *rand.Rand) *benchWorkload {
	n := len(w.pkts)
	z := rand.NewZipf(r, 1.1, 1, uint64(n-1))
	w.stream = make([]Packet, streamLen)
	for i := range w.stream {
		j := r.IntN(n)
		if zipf {
			j = int(z.Uint64())
		}
		w.stream[i] = w.pkts[j]
	}
	return w
}

// BenchmarkUpdate measures updates of existing flows (target P5, docs/TARGETS.md):
// the table, one packet at a time and in batches of 4096 as the engine's
// workers count them (engine.DefaultBatchSize), against a plain
// map[Key]*Flow doing the same counting, at 10 k, 100 k and 1 M flows, with
// zipf and uniform traffic. One op is one packet.
func BenchmarkUpdate(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		for _, dist := range []string{"zipf", "uniform"} {
			w := newBenchWorkload(n, dist == "zipf")
			fill := func(b *testing.B) *Shard {
				tab, _ := New(Config{MaxFlows: n}, nil)
				s := tab.Shard(0)
				for i := range w.pkts {
					s.Update(&w.pkts[i])
				}
				b.ReportAllocs()
				return s
			}
			check := func(b *testing.B, s *Shard) {
				if s.Len() != n {
					b.Fatalf("table holds %d flows, want %d", s.Len(), n)
				}
			}
			b.Run(fmt.Sprintf("flows=%d/%s/table", n, dist), func(b *testing.B) {
				s := fill(b)
				i := 0
				for b.Loop() {
					s.Update(&w.stream[i&(streamLen-1)])
					i++
				}
				check(b, s)
			})
			b.Run(fmt.Sprintf("flows=%d/%s/table-batch", n, dist), func(b *testing.B) {
				s := fill(b)
				const bs = 4096
				i := 0
				for b.Loop() {
					// One op is one packet: count a batch every bs ops.
					i++
					if i%bs == 0 {
						j := (i - bs) & (streamLen - 1)
						s.UpdateBatch(w.stream[j : j+bs])
					}
				}
				check(b, s)
			})
			b.Run(fmt.Sprintf("flows=%d/%s/map", n, dist), func(b *testing.B) {
				m := make(map[Key]*Flow)
				update := func(p *Packet) {
					f := m[p.Key]
					if f == nil {
						f = &Flow{Key: p.Key, State: StateNew, First: p.Time, Last: p.Time}
						m[p.Key] = f
					}
					f.account(p)
				}
				for i := range w.pkts {
					update(&w.pkts[i])
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					update(&w.stream[i&(streamLen-1)])
					i++
				}
			})
		}
	}
}

// BenchmarkInsertExpire measures the churn path: every packet creates a flow
// in a full table and the sweep ends an old one.
func BenchmarkInsertExpire(b *testing.B) {
	const n = 100_000
	w := newBenchWorkload(4*n, false)
	tab, _ := New(Config{MaxFlows: n}, nil)
	s := tab.Shard(0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := &w.pkts[i%len(w.pkts)]
		p.Time = int64(i) * 1e6 // 1 ms apart: 100 k flows span 100 s
		s.Update(p)
		if i%64 == 0 {
			s.Expire(p.Time, 128)
		}
		i++
	}
}

// TestBytesPerFlow reports the table's memory per flow at 1 M flows
// (target P4: ≤ 160 B all-in). It is a measurement, not a timing:
// the count of bytes does not depend on the machine's speed.
func TestBytesPerFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~130 MB")
	}
	const n = 1 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tab, err := New(Config{MaxFlows: n}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := newBenchWorkload(n, false)
	s := tab.Shard(0)
	for i := range w.pkts {
		s.Update(&w.pkts[i])
	}
	w = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / float64(s.Len())
	t.Logf("%d flows: %.1f bytes per flow (Flow %d B + index)", s.Len(), per, FlowSize)
	if per > 160 {
		t.Errorf("%.1f bytes per flow, target is at most 160", per)
	}
	runtime.KeepAlive(tab)
}
