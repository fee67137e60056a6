//go:build unix

package bench

import (
	"bytes"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// processCPU returns the user plus system time this process has used. On a
// shared machine it is steadier than the wall clock: time spent waiting for
// a core is not in it.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// watchHWM polls the peak resident set size (VmHWM in /proc/PID/status)
// of a running process every 10 ms until the returned function is called,
// which returns the largest value seen in bytes (0 when never read, as on
// systems without /proc or for processes shorter than a poll).
//
// The rusage of the finished child would be simpler, but its ru_maxrss is
// wrong for children of Go programs on Linux: os/exec starts them with
// vfork(2) semantics, so the exec'd child inherits the parent's RSS high
// water mark as its own.
func watchHWM(pid int) func() uint64 {
	path := "/proc/" + strconv.Itoa(pid) + "/status"
	var peak atomic.Uint64
	read := func() {
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		_, rest, ok := bytes.Cut(b, []byte("VmHWM:"))
		if !ok {
			return
		}
		line, _, _ := bytes.Cut(rest, []byte("\n"))
		kb, err := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(line), []byte(" kB"))), 10, 64)
		if err == nil && kb*1024 > peak.Load() {
			peak.Store(kb * 1024)
		}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return peak.Load()
	}
}
