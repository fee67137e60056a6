package ipfix

import (
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

var benchModes = []struct {
	name   string
	p      Protocol
	biflow bool
}{{"ipfix", IPFIX, false}, {"ipfix-biflow", IPFIX, true}, {"netflow9", NetFlow9, false}}

// BenchmarkEncode measures appending Records (IPv4 and IPv6 alternately,
// both directions) into 1400-byte messages, finishing each full one.
func BenchmarkEncode(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			e := newEncoder(m.p, m.biflow, 1, DefaultMaxMessageSize)
			recs := [2]Record{tcpRecord(), tcpRecord()}
			recs[1].Family = 6
			now := time.Now()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := &recs[i&1]
				i++
				if e.add(r) == full {
					e.finish(now)
					e.sent()
					e.add(r)
				}
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkExportUDP measures the whole path: Add from the caller, the
// exporting goroutine, and unpaced datagrams to a loopback UDP socket read
// by a goroutine. An op is one Record; Close is inside the timing, so every
// Record was sent when the clock stops. Add is retried when the queue is
// full, to measure throughput rather than drops.
func BenchmarkExportUDP(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer pc.Close()
			pc.SetReadBuffer(8 << 20)
			var received atomic.Uint64
			go func() {
				buf := make([]byte, 65536)
				for {
					if _, err := pc.Read(buf); err != nil {
						return
					}
					received.Add(1)
				}
			}()
			e, err := New(Config{Collector: pc.LocalAddr().String(), Protocol: m.p, Biflow: m.biflow,
				MessagesPerSecond: -1, CloseTimeout: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			recs := [2]Record{tcpRecord(), tcpRecord()}
			recs[1].Family = 6
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				for !e.Add(&recs[i&1]) {
					runtime.Gosched()
				}
				i++
			}
			s, _ := e.Close()
			el := b.Elapsed().Seconds()
			b.ReportMetric(float64(s.Exported)/el, "records/s")
			b.ReportMetric(float64(s.Messages)/el, "datagrams/s")
			b.ReportMetric(float64(s.Bytes)/float64(s.Messages), "B/datagram")
		})
	}
}
