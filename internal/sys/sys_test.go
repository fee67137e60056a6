package sys

import (
	"testing"
	"unsafe"
)

// TestAdviseHugePages: advice over a big allocation, a small one (no whole
// huge page inside) and an empty range leaves the memory usable and intact.
func TestAdviseHugePages(t *testing.T) {
	for _, n := range []int{0, 100, 8 << 20} {
		b := make([]byte, n+1)
		AdviseHugePages(unsafe.Pointer(&b[0]), uintptr(n))
		for i := range b {
			b[i] = byte(i)
		}
		for i := range b {
			if b[i] != byte(i) {
				t.Fatalf("n=%d: byte %d is %d", n, i, b[i])
			}
		}
	}
}
