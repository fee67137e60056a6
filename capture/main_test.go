package capture

import (
	"fmt"
	"os"
	"testing"
)

// TestMain fails the run if the tests leave file descriptors open: every
// File that opens a file must close it. (A descriptor whose *os.File became
// unreachable may have been closed by its finalizer first, so this catches
// Files left open, not every dropped error path.)
func TestMain(m *testing.M) {
	// A pipe makes the runtime create its poller descriptors now, so they
	// are not counted as leaks.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	before := openFDs()
	code := m.Run()
	if after := openFDs(); code == 0 && before >= 0 && after > before {
		fmt.Fprintf(os.Stderr, "capture tests leaked %d file descriptors\n", after-before)
		code = 1
	}
	os.Exit(code)
}

// openFDs counts this process's open descriptors, -1 where /proc is absent.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}
