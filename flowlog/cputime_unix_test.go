//go:build unix

package flowlog

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) of the whole process: on a
// shared machine it measures per-core throughput where wall time cannot.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
