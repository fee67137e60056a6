// Package prefetch asks the CPU to start loading cache lines that will be
// needed soon, without waiting for them.
//
// A plain load that misses the cache holds its place in the CPU's reorder
// buffer until the data arrives, so a loop of loads over a batch can only
// run as far ahead as that buffer reaches; a prefetch instruction retires at
// once and the line arrives in the background. Go does not expose prefetch
// instructions outside the runtime, so they are written in assembly for
// amd64 and arm64; elsewhere Lines does nothing.
//
// Prefetching never faults and never changes memory; an address that is not
// mapped is simply ignored by the CPU. The addresses must not be used to
// keep objects alive: they are plain numbers to the garbage collector.
package prefetch

// Lines prefetches the cache line holding each address into all cache
// levels (PREFETCHT0 on amd64, PRFM PLDL1KEEP on arm64: read prefetches,
// which also serve a read-modify-write that follows).
func Lines(addrs []uintptr) {
	if len(addrs) > 0 {
		lines(&addrs[0], len(addrs))
	}
}
