package prefetch

import (
	"testing"
	"unsafe"
)

// TestLines: prefetching real addresses, the same one twice, address 0 and
// an unmapped one neither faults nor changes anything.
func TestLines(t *testing.T) {
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(i)
	}
	addrs := []uintptr{uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&buf[0])),
		uintptr(unsafe.Pointer(&buf[4095])), 0, 1 << 47}
	Lines(addrs)
	Lines(nil)
	for i := range buf {
		if buf[i] != byte(i) {
			t.Fatalf("byte %d changed", i)
		}
	}
	if a := testing.AllocsPerRun(100, func() { Lines(addrs) }); a != 0 {
		t.Fatalf("Lines allocates %v times", a)
	}
}
