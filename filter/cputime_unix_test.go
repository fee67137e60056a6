//go:build unix

package filter

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used. Benchmarks report
// per-op CPU time next to wall time because the machines they run on are
// often shared: time spent waiting for a core counts in wall time only.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
