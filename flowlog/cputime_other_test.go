//go:build !unix

package flowlog

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
