package gen

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// rng draws every random choice of a generator. It uses only the raw PCG
// stream (whose algorithm math/rand/v2 fixes) and derives ints and floats
// itself, so a seed keeps meaning the same bytes across Go releases.
type rng struct{ pcg rand.PCG }

func newRNG(seed uint64) *rng {
	r := &rng{}
	r.pcg.Seed(seed, 0x666c6f7764) // "flowd"
	return r
}

func (r *rng) u32() uint32 { return uint32(r.pcg.Uint64() >> 32) }
func (r *rng) u16() uint16 { return uint16(r.pcg.Uint64() >> 48) }

// intn returns a number in [0, n); n > 0. (Lemire's multiply-shift, without
// the rejection step: the bias is below 2^-40 for the n used here.)
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.pcg.Uint64(), uint64(n))
	return int(hi)
}

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.pcg.Uint64()>>11) / (1 << 53) }

func (r *rng) chance(p float64) bool { return p > 0 && r.float() < p }

// span returns a duration in nanoseconds uniformly in [lo, hi].
func (r *rng) span(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	hi2, _ := bits.Mul64(r.pcg.Uint64(), uint64(hi-lo+1))
	return lo + int64(hi2)
}

// logSpan returns a duration log-uniformly in [lo, hi].
func (r *rng) logSpan(lo, hi int64) int64 {
	return int64(float64(lo) * math.Exp(r.float()*math.Log(float64(hi)/float64(lo))))
}
