// Package sys is flowd's one door to the operating system below the
// standard library: it alone imports golang.org/x/sys/unix. Everything here
// has a portable twin that does nothing or says "not supported", so the
// module builds and tests anywhere.
package sys

import (
	"os"
	"unsafe"
)

// hugePage is the size of a transparent huge page on Linux/amd64 and arm64
// (with 4 KiB base pages).
const hugePage = 2 << 20

// AdviseHugePages asks the kernel to back the memory at p (n bytes) with
// transparent huge pages, where that memory spans whole 2 MiB pages. It is
// advice: errors (THP disabled, not Linux) are ignored. Call it before the
// memory is first touched, so the first faults already map huge pages.
//
// Big random-access tables gain from it because one TLB entry then covers
// 2 MiB instead of 4 KiB; see flowtable for the measured effect.
func AdviseHugePages(p unsafe.Pointer, n uintptr) {
	start := (uintptr(p) + hugePage - 1) &^ (hugePage - 1)
	end := (uintptr(p) + n) &^ (hugePage - 1)
	if end > start {
		adviseHuge(unsafe.Add(p, start-uintptr(p)), end-start)
	}
}

// OpenPTY opens a new pseudo-terminal pair: master is the side a program
// (a test, a terminal emulator) reads and writes; slave is what a child
// process takes as its terminal. Linux only; elsewhere it says so.
func OpenPTY() (master, slave *os.File, err error) { return openPTY() }
