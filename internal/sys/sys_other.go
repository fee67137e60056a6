//go:build !linux

package sys

import "unsafe"

func adviseHuge(start unsafe.Pointer, n uintptr) {}
