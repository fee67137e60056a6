package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

func adviseHuge(start unsafe.Pointer, n uintptr) {
	// The range lies inside a live Go allocation, so the slice built from
	// it is only a view for the system call.
	_ = unix.Madvise(unsafe.Slice((*byte)(start), n), unix.MADV_HUGEPAGE)
}
