package engine

import (
	"math"
	"net/netip"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/flowtable"
)

// Results are the flows an operation found, kept in the chunks the shards
// collected them in (a million results are never copied into one slice).
// Immutable once the operation has ended; copies share the chunks.
type Results struct {
	chunks [][]FlowResult
	starts []int // starts[i] is the index of chunks[i][0]
	n      int
}

// Len is the number of results.
func (r *Results) Len() int { return r.n }

// At returns result i, 0 <= i < Len(). The pointer is into shared,
// read-only memory.
func (r *Results) At(i int) *FlowResult {
	c, _ := slices.BinarySearch(r.starts, i+1)
	c--
	return &r.chunks[c][i-r.starts[c]]
}

// Page returns a copy of results [from, from+n), cut at Len().
func (r *Results) Page(from, n int) []FlowResult {
	if from < 0 || from >= r.n || n <= 0 {
		return nil
	}
	to := min(from+n, r.n)
	out := make([]FlowResult, 0, to-from)
	for i := from; i < to; {
		c, _ := slices.BinarySearch(r.starts, i+1)
		c--
		chunk := r.chunks[c][i-r.starts[c]:]
		chunk = chunk[:min(len(chunk), to-i)]
		out = append(out, chunk...)
		i += len(chunk)
	}
	return out
}

// All returns every result, in one new slice.
func (r *Results) All() []FlowResult { return r.Page(0, r.n) }

// NewResults wraps flows as Results (for tests and other backends).
func NewResults(flows []FlowResult) Results {
	var r Results
	if len(flows) > 0 {
		r.add(flows)
	}
	return r
}

// Bytes is the memory the results hold.
func (r *Results) Bytes() int64 {
	var n int64
	for _, c := range r.chunks {
		n += int64(cap(c)) * int64(unsafe.Sizeof(FlowResult{}))
	}
	return n
}

func (r *Results) add(c []FlowResult) {
	r.chunks = append(r.chunks, c)
	r.starts = append(r.starts, r.n)
	r.n += len(c)
}

// FlowResult is one flow of an operation's results, as the scan saw it:
// 56 bytes, pointer-free, so a million of them cost the garbage collector
// nothing to keep.
type FlowResult struct {
	// Bytes is the IP-layer bytes of both directions.
	Bytes int64
	// Src is the initiator's address, Dst the responder's (IPv4 in the
	// first 4 bytes).
	Src, Dst [16]byte
	// SrcPort and DstPort are 0 for protocols without ports.
	SrcPort, DstPort uint16
	Proto            uint8
	Family           uint8 // 4 or 6
	// Age is the engine clock at the scan minus the flow's first packet,
	// in whole seconds; Packets counts both directions. Both are clamped to
	// 2^31-1 (the AWS shapes are 32-bit).
	Age     int32
	Packets int32
}

// SrcAddr and DstAddr return the initiator's and the responder's address.
func (r *FlowResult) SrcAddr() netip.Addr { return addrOf(r.Family, &r.Src) }

// DstAddr: see SrcAddr.
func (r *FlowResult) DstAddr() netip.Addr { return addrOf(r.Family, &r.Dst) }

// SrcCIDR and DstCIDR format the addresses as /32 or /128 CIDRs, as the
// AWS Address shape carries them.
func (r *FlowResult) SrcCIDR() string { return cidr(r.SrcAddr()) }

// DstCIDR: see SrcCIDR.
func (r *FlowResult) DstCIDR() string { return cidr(r.DstAddr()) }

func cidr(a netip.Addr) string {
	b := a.AppendTo(make([]byte, 0, 48))
	b = append(b, '/')
	return string(strconv.AppendInt(b, int64(a.BitLen()), 10))
}

// makeResult turns a flow found by a scan at engine time now into a result.
func makeResult(f *flowtable.Flow, now int64) FlowResult {
	r := FlowResult{Proto: f.Key.Proto, Family: f.Key.Family}
	src, sp := f.SrcRaw()
	dst, dp := f.DstRaw()
	r.Src, r.Dst = *src, *dst
	if decode.HasPorts(f.Key.Proto) {
		r.SrcPort, r.DstPort = sp, dp
	}
	r.Age = clamp32(ageSeconds(f, now))
	r.Packets = clamp32(int64(min(f.TotalPkts(), math.MaxInt32)))
	r.Bytes = int64(min(f.TotalIPBytes(), math.MaxInt64))
	return r
}

// ageSeconds is the flow's age at now in whole seconds, never negative.
func ageSeconds(f *flowtable.Flow, now int64) int64 {
	if now <= f.First {
		return 0
	}
	return (now - f.First) / int64(time.Second)
}

func clamp32(v int64) int32 { return int32(min(max(v, 0), math.MaxInt32)) }
