//go:build !linux

package sys

import (
	"errors"
	"os"
	"unsafe"
)

func adviseHuge(start unsafe.Pointer, n uintptr) {}

func openPTY() (*os.File, *os.File, error) {
	return nil, nil, errors.New("pseudo-terminals: not supported on this system")
}
