//go:build !cgo

package capture

// haveLibpcap: this build has no libpcap (no cgo), so no BPF filters.
const haveLibpcap = false
