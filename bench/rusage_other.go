//go:build !unix

package bench

import "time"

// processCPU is not measured on this OS; CPU columns read 0.
func processCPU() time.Duration { return 0 }

// watchHWM: peak RSS is not measured on this OS.
func watchHWM(int) func() uint64 { return func() uint64 { return 0 } }
