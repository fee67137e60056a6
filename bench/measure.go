package bench

import (
	"runtime"
	"slices"
	"time"
)

// Median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Sample is one timed run of a phase.
type Sample struct {
	Wall   time.Duration `json:"wall_ns"` // wall-clock time
	CPU    time.Duration `json:"cpu_ns"`  // user + system time of the whole process over the run
	Allocs uint64        `json:"allocs"`  // heap allocations (runtime.MemStats.Mallocs delta)
}

// meter times one run: wall clock, process CPU time and heap allocations.
// Reading MemStats stops the world, so start and stop sit outside the timed
// work; what they cost is not in the sample.
type meter struct {
	mallocs uint64
	cpu     time.Duration
	t0      time.Time
}

func (m *meter) start() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.mallocs = ms.Mallocs
	m.cpu = processCPU()
	m.t0 = time.Now()
}

func (m *meter) stop() Sample {
	wall := time.Since(m.t0)
	cpu := processCPU() - m.cpu
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Sample{Wall: wall, CPU: cpu, Allocs: ms.Mallocs - m.mallocs}
}

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
