package output

import (
	"net/netip"
	"testing"

	"github.com/flowd/flowd/engine"
)

// TestCommunityID checks the IDs the Community ID specification publishes
// for its baseline flows (seed 0), in both directions where it gives both.
// For ICMP the specification's "ports" are the type and the reply type or
// code; here the flow's first packet's type and code stand for them.
func TestCommunityID(t *testing.T) {
	for _, c := range []struct {
		proto    uint8
		src, dst string
		sport    uint16 // ICMP: type
		dport    uint16 // ICMP: code
		want     string
	}{
		{6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
		{17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
		{132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
		{132, "192.168.170.56", "192.168.170.8", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
		{6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
		{6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
		{46, "10.1.12.1", "10.1.12.2", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
		{46, "10.1.12.2", "10.1.12.1", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
		// ICMP echo request and its reply: one ID.
		{1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
		{1, "192.168.0.1", "192.168.0.89", 0, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
		// Time exceeded: one way, the order kept.
		{1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="},
		// ICMPv6 neighbour solicitation and advertisement, echo, router
		// solicitation, destination unreachable and time exceeded.
		{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 0, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
		{58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 0, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
		{58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 0, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
		{58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 0, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
		{58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 0, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="},
		{58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="},
		{58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4, "1:hLZd0XGWojozrvxqE0dWB1iM6R0="},
	} {
		f := engine.Flow{Proto: c.proto}
		s, d := netip.MustParseAddr(c.src), netip.MustParseAddr(c.dst)
		if s.Is4() {
			f.Family = 4
			s4, d4 := s.As4(), d.As4()
			copy(f.Src[:], s4[:])
			copy(f.Dst[:], d4[:])
		} else {
			f.Family, f.Src, f.Dst = 6, s.As16(), d.As16()
		}
		if c.proto == 1 || c.proto == 58 {
			f.ICMPType, f.ICMPCode = uint8(c.sport), uint8(c.dport)
		} else if c.proto == 6 || c.proto == 17 || c.proto == 132 {
			f.SrcPort, f.DstPort = c.sport, c.dport
		}
		if got := string(appendCommunityID(nil, &f, 0)); got != c.want {
			t.Errorf("%d %s:%d > %s:%d: %s, want %s", c.proto, c.src, c.sport, c.dst, c.dport, got, c.want)
		}
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = appendCommunityID(buf[:0], &engine.Flow{Family: 4, Proto: 6}, 0) }); n != 0 {
		t.Errorf("%v allocations per ID", n)
	}
}
