package filter

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
)

// The benchmark workload imitates a flow table seen from a firewall: clients
// in 10.0.0.0/16 (or 2001:db8:1::/48) talking to servers in 10.1.0.0/16 (or
// 2001:db8:2::/48) and to the internet; 70% TCP, 25% UDP, 5% ICMP;
// destination ports skewed to a few services, ephemeral source ports.
// Filters are what an operator would write: a server subnet or host, a
// client subnet, a service port, a protocol; each member given or not.

var benchPorts = []uint16{443, 443, 443, 80, 80, 53, 22, 8080, 3306, 5432}

func benchAddr(r *rand.Rand, v6 bool, net int) netip.Addr {
	if v6 {
		var a [16]byte
		switch net {
		case 0: // clients
			copy(a[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0, 1})
		case 1: // servers
			copy(a[:], []byte{0x20, 0x01, 0x0d, 0xb8, 0, 2})
		default: // the internet
			a[0], a[1] = 0x20|byte(r.IntN(16)), byte(r.IntN(256))
			a[2], a[3], a[4], a[5] = byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))
		}
		a[6], a[7] = 0, byte(r.IntN(16)) // 16 /64 subnets
		for i := 8; i < 16; i++ {
			a[i] = byte(r.IntN(256))
		}
		if net < 2 {
			a[8], a[9], a[10], a[11], a[12], a[13] = 0, 0, 0, 0, 0, 0 // small hosts
		}
		return netip.AddrFrom16(a)
	}
	switch net {
	case 0:
		return netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(16)), byte(r.IntN(256))})
	case 1:
		return netip.AddrFrom4([4]byte{10, 1, byte(r.IntN(16)), byte(r.IntN(256))})
	}
	return netip.AddrFrom4([4]byte{byte(1 + r.IntN(223)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
}

func benchFlow(r *rand.Rand, v6 bool) Flow {
	var f Flow
	f.Family = 4
	if v6 {
		f.Family = 6
	}
	src, dst := benchAddr(r, v6, 0), benchAddr(r, v6, 1+r.IntN(2))
	if r.IntN(5) == 0 { // inbound
		src, dst = benchAddr(r, v6, 2), benchAddr(r, v6, 1)
	}
	copy(f.Src[:], src.AsSlice())
	copy(f.Dst[:], dst.AsSlice())
	switch x := r.IntN(100); {
	case x < 70:
		f.Proto = 6
	case x < 95:
		f.Proto = 17
	case v6:
		f.Proto = 58
	default:
		f.Proto = 1
	}
	if f.Proto == 6 || f.Proto == 17 {
		f.SrcPort = uint16(32768 + r.IntN(28232))
		f.DstPort = benchPorts[r.IntN(len(benchPorts))]
		if r.IntN(10) == 0 {
			f.DstPort = uint16(r.IntN(65536))
		}
	}
	f.AgeSeconds = int64(r.IntN(600))
	return f
}

func benchPrefix(r *rand.Rand, v6 bool, net int) string {
	a := benchAddr(r, v6, net)
	bits := []int{16, 20, 24, 28, 32}[r.IntN(5)]
	if v6 {
		bits = []int{32, 48, 56, 64, 128}[r.IntN(5)]
	}
	if net == 2 {
		bits /= 2
	}
	return netip.PrefixFrom(a, bits).Masked().String()
}

func benchFilter(r *rand.Rand, v6 bool) Filter {
	var f Filter
	// At least one address: a capture names the hosts it is about.
	switch r.IntN(10) {
	case 0, 1, 2, 3:
		f.DestinationAddress = str(benchPrefix(r, v6, 1+r.IntN(2)))
	case 4, 5, 6:
		f.SourceAddress = str(benchPrefix(r, v6, 0))
	default:
		f.DestinationAddress = str(benchPrefix(r, v6, 1+r.IntN(2)))
		f.SourceAddress = str(benchPrefix(r, v6, 0))
	}
	if r.IntN(10) < 6 {
		f.DestinationPort = str(strconv.Itoa(int(benchPorts[r.IntN(len(benchPorts))])))
		if r.IntN(5) == 0 {
			f.DestinationPort = str("1024:49151")
		}
	}
	if r.IntN(10) < 1 {
		f.SourcePort = str("32768:60999")
	}
	switch r.IntN(10) {
	case 0, 1, 2, 3:
		f.Protocols = []string{"6"}
	case 4, 5:
		f.Protocols = []string{"17"}
	case 6:
		f.Protocols = []string{"6", "17"}
	}
	return f
}

const benchFlows = 1 << 20

func benchFlowSlice(mix string) []Flow {
	r := rand.New(rand.NewPCG(42, 42))
	flows := make([]Flow, benchFlows)
	for i := range flows {
		v6 := mix == "v6" || (mix == "mixed" && r.IntN(5) == 0)
		flows[i] = benchFlow(r, v6)
	}
	return flows
}

// BenchmarkMatch scans 1 Mi flows per iteration, as a capture or flush scan
// does, and reports ns/flow and flows/s (wall clock), cpu-ns/flow (process
// CPU time, steadier on a shared machine) and the share of flows matched.
// Sub-benchmarks: the address family mix (v4, v6, mixed: 80% v4) and the
// number of filters; in "dst-prefixes-only" (IPv4) every filter only names
// a destination prefix, so nothing is ruled out before the address lookup.
// Reading 1 Mi flows alone costs about 3 ns/flow on the machine the
// figures in the package doc come from.
func BenchmarkMatch(b *testing.B) {
	for _, mix := range []string{"v4", "v6", "mixed", "dst-prefixes-only"} {
		flowMix := mix
		if mix == "dst-prefixes-only" {
			flowMix = "v4"
		}
		flows := benchFlowSlice(flowMix)
		for _, n := range []int{1, 5, 20} {
			r := rand.New(rand.NewPCG(uint64(n), 7))
			fs := make([]Filter, n)
			for i := range fs {
				v6 := mix == "v6" || (mix == "mixed" && i%5 == 4)
				fs[i] = benchFilter(r, v6)
				if mix == "dst-prefixes-only" {
					fs[i] = Filter{DestinationAddress: str(benchPrefix(r, false, 1+r.IntN(2)))}
				}
			}
			s := mustCompile(b, fs, 60)
			b.Run(fmt.Sprintf("%s/filters=%d", mix, n), func(b *testing.B) {
				b.ReportAllocs()
				matched := 0
				cpu0, cpuOK := processCPU()
				for b.Loop() {
					matched = 0
					for i := range flows {
						if s.Match(&flows[i]) {
							matched++
						}
					}
				}
				flowsDone := float64(b.N) * float64(len(flows))
				nsPerFlow := float64(b.Elapsed().Nanoseconds()) / flowsDone
				b.ReportMetric(nsPerFlow, "ns/flow")
				b.ReportMetric(1e9/nsPerFlow, "flows/s")
				if cpu1, ok := processCPU(); ok && cpuOK {
					b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/flowsDone, "cpu-ns/flow")
				}
				b.ReportMetric(float64(matched)/float64(len(flows))*100, "%matched")
			})
		}
	}
}
