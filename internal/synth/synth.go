// Package synth makes synthetic traffic. Source is a capture source for
// benchmarks: it fills a flow table with a given number of distinct flows
// as fast as the engine can take them, without a file. Make, WritePcap and
// WritePcapNG (`flowd gen -tunnels/-vlan3/-esp`) add to bench/gen's traffic
// flows carried in every kind of tunnel flowd decodes, flows with three or
// four VLAN tags and ESP pairs, with their exact truth: every IP level of a
// frame is counted as its own flow, keyed by its depth, from the bytes as
// they are built, never by a decoder.
package synth

import (
	"encoding/binary"
	"io"
	"time"

	"github.com/flowd/flowd/capture"
)

// Source yields one packet per flow, n flows, as raw IP frames: 4 in 5
// IPv4, 1 in 5 IPv6; TCP SYNs and UDP datagrams; clients counting up from
// 10.0.0.1 (fd00::1), five server ports; one flow starts every 20 µs, so a
// million flows span 20 s and their ages spread over it.
type Source struct {
	n, i  int
	buf   []byte
	start int64
}

// New returns a source of n flows.
func New(n int) *Source {
	return &Source{n: n, start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}
}

var ports = [5]uint16{53, 80, 443, 123, 8080}

// ReadBatch implements capture.Source.
func (s *Source) ReadBatch(dst []capture.Frame) (int, error) {
	const frameMax = 64
	if cap(s.buf) < len(dst)*frameMax {
		s.buf = make([]byte, len(dst)*frameMax)
	}
	k := 0
	for ; k < len(dst) && s.i < s.n; k, s.i = k+1, s.i+1 {
		b := s.buf[k*frameMax : (k+1)*frameMax]
		clear(b)
		i := uint32(s.i)
		tcp := i%3 == 0
		l4 := 8
		proto := byte(17)
		if tcp {
			l4, proto = 20, 6
		}
		var n int
		if i%5 == 4 { // IPv6
			b[0] = 0x60
			binary.BigEndian.PutUint16(b[4:], uint16(l4))
			b[6], b[7] = proto, 64
			b[8] = 0xfd
			binary.BigEndian.PutUint32(b[20:], i+1)
			b[24], b[25], b[26], b[27] = 0x20, 0x01, 0x0d, 0xb8
			b[39] = byte(i%250) + 1
			n = 40
		} else {
			b[0] = 0x45
			binary.BigEndian.PutUint16(b[2:], uint16(20+l4))
			b[8], b[9] = 64, proto
			binary.BigEndian.PutUint32(b[12:], 10<<24+i+1)
			binary.BigEndian.PutUint32(b[16:], 198<<24|18<<16|(i%250)<<8|1)
			n = 20
		}
		t := b[n:]
		binary.BigEndian.PutUint16(t[0:], uint16(1024+i%50000))
		binary.BigEndian.PutUint16(t[2:], ports[i%5])
		if tcp {
			t[12] = 5 << 4
			t[13] = 0x02 // SYN
		} else {
			binary.BigEndian.PutUint16(t[4:], 8)
		}
		dst[k] = capture.Frame{Data: b[:n+l4], Timestamp: s.start + int64(i)*20e3, WireLen: uint32(n + l4), LinkType: capture.LinkRaw}
	}
	if s.i == s.n {
		return k, io.EOF
	}
	return k, nil
}

// Stats implements capture.Source.
func (s *Source) Stats() capture.Stats { return capture.Stats{Frames: uint64(s.i)} }

// Close implements capture.Source.
func (s *Source) Close() error { return nil }
