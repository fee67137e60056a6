//go:build cgo

package capture

// haveLibpcap: this build has libpcap (cgo), so BPF filters compile.
const haveLibpcap = true
