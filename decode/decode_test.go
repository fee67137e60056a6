package decode

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/flowd/flowd/capture"
)

func TestDecodeFixtures(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			if seen[f.name] {
				t.Fatalf("duplicate fixture name")
			}
			seen[f.name] = true
			var p Packet
			p.Decode(f.b, f.link)
			checkInvariants(t, &p, f.b)
			want := f.want
			want.CapLen = uint32(len(f.b))
			if want.Reason != ReasonOK {
				if p.Reason != want.Reason {
					t.Fatalf("Reason = %v, want %v\n got %s", p.Reason, want.Reason, dump(&p))
				}
				return
			}
			if p != want {
				t.Fatalf("mismatch\n got %s\nwant %s", dump(&p), dump(&want))
			}
		})
	}
}

// Every Reason is reachable from at least one fixture, so each has a proof.
func TestFixturesCoverReasons(t *testing.T) {
	var hit [NumReasons]bool
	for _, f := range fixtures {
		hit[f.want.Reason] = true
	}
	for r, ok := range hit {
		if !ok {
			t.Errorf("no fixture expects %v", Reason(r))
		}
	}
}

// Decode must reset every field: decoding a frame into a Packet that holds
// the result of any other frame gives the same result as into a zero Packet.
func TestDecodeResets(t *testing.T) {
	for _, prev := range fixtures {
		for _, f := range fixtures {
			var fresh, reused Packet
			fresh.Decode(f.b, f.link)
			reused.Decode(prev.b, prev.link)
			reused.Decode(f.b, f.link)
			if fresh != reused {
				t.Fatalf("%s after %s:\n got %s\nwant %s", f.name, prev.name, dump(&reused), dump(&fresh))
			}
		}
	}
}

func TestDecodeAllocs(t *testing.T) {
	var p Packet
	for _, f := range fixtures {
		if n := testing.AllocsPerRun(100, func() { p.Decode(f.b, f.link) }); n != 0 {
			t.Errorf("%s: %v allocations per Decode, want 0", f.name, n)
		}
	}
}

// Frames beyond 64 KiB (GRO/TSO captures, a 262144-byte snap length) keep
// lengths and offsets exact.
func TestDecodeBigFrame(t *testing.T) {
	const n = 70000
	for _, tc := range []struct {
		name   string
		header []byte
		iplen  uint32
		l4     uint16
	}{
		// IPv4 total length 0: segmentation offload, the captured bytes count
		{"ipv4-tso", cat(ethAddrs, etIPv4, []byte{0x45, 0x00, 0x00, 0x00, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB, tcpACK), n - 14, 34},
		// IPv6 payload length 0 (Linux BIG TCP)
		{"ipv6-big-tcp", cat(ethAddrs, etIPv6, []byte{0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x40}, ip6AtoB, tcpACK), n - 14, 54},
		// IPv4 total length 1500 in a frame cut at 70000 (never mind why)
		{"ipv4-1500", cat(ethAddrs, etIPv4, []byte{0x45, 0x00, 0x05, 0xdc, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00}, ip4AtoB, tcpACK), 1500, 34},
	} {
		b := append(tc.header, make([]byte, n-len(tc.header))...)
		var p Packet
		p.Decode(b, capture.LinkEthernet)
		checkInvariants(t, &p, b)
		if p.Reason != ReasonOK || p.IPLen != tc.iplen || p.L4Offset != tc.l4 || p.CapLen != n || p.TCPFlags != TCPAck|TCPPsh {
			t.Errorf("%s: %s", tc.name, dump(&p))
		}
	}
}

func TestReasonString(t *testing.T) {
	seen := map[string]Reason{}
	for r := range NumReasons {
		s := r.String()
		if s == "" || s == "unknown" || strings.ContainsAny(s, " -") {
			t.Errorf("Reason(%d).String() = %q", r, s)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("Reason %d and %d are both %q", prev, r, s)
		}
		seen[s] = r
	}
	if s := NumReasons.String(); s != "unknown" {
		t.Errorf("NumReasons.String() = %q, want unknown", s)
	}
}

func TestFragmentHelpers(t *testing.T) {
	for _, tc := range []struct {
		p            Packet
		first, later bool
	}{
		{Packet{}, false, false},
		{Packet{IsFragment: true, MoreFragments: true}, true, false},
		{Packet{IsFragment: true, FragOffset: 1480}, false, true},
	} {
		if got := tc.p.FirstFragment(); got != tc.first {
			t.Errorf("%+v FirstFragment() = %v", tc.p, got)
		}
		if got := tc.p.LaterFragment(); got != tc.later {
			t.Errorf("%+v LaterFragment() = %v", tc.p, got)
		}
	}
}

// checkInvariants holds for every frame, whatever its bytes.
func checkInvariants(t testing.TB, p *Packet, b []byte) {
	t.Helper()
	if p.Reason >= NumReasons {
		t.Fatalf("Reason %d >= NumReasons", p.Reason)
	}
	if int(p.CapLen) != len(b) {
		t.Fatalf("CapLen %d, len(b) %d", p.CapLen, len(b))
	}
	if int(p.L3Offset) > len(b) || int(p.L4Offset) > len(b) {
		t.Fatalf("offsets L3 %d L4 %d beyond %d bytes", p.L3Offset, p.L4Offset, len(b))
	}
	if p.NumVLAN > 2 {
		t.Fatalf("NumVLAN %d", p.NumVLAN)
	}
	if p.Reason != ReasonOK {
		return
	}
	if p.Family != 4 && p.Family != 6 {
		t.Fatalf("Reason OK with Family %d", p.Family)
	}
	if p.L4Offset != 0 && p.L4Offset < p.L3Offset {
		t.Fatalf("L4Offset %d before L3Offset %d", p.L4Offset, p.L3Offset)
	}
	if p.LaterFragment() && (p.L4Offset != 0 || p.SrcPort != 0 || p.DstPort != 0) {
		t.Fatalf("later fragment with a transport header: %s", dump(p))
	}
	if !p.LaterFragment() && p.L4Offset == 0 {
		t.Fatalf("no L4Offset: %s", dump(p))
	}
	if p.IsICMPError && p.Inner.Family != 4 && p.Inner.Family != 6 {
		t.Fatalf("ICMP error with inner Family %d", p.Inner.Family)
	}
	if !p.IsICMPError && p.Inner != (Tuple{}) {
		t.Fatalf("Inner set without IsICMPError: %s", dump(p))
	}
	if !HasPorts(p.Proto) && (p.SrcPort != 0 || p.DstPort != 0) {
		t.Fatalf("ports for protocol %d", p.Proto)
	}
	if p.Family == 4 {
		for _, x := range p.Src[4:] {
			if x != 0 {
				t.Fatalf("IPv4 address with bytes past the fourth: %s", dump(p))
			}
		}
	}
}

// dump prints a Packet with addresses in their usual form.
func dump(p *Packet) string {
	return fmt.Sprintf("{Reason:%v VLAN:%v/%d %s IPLen:%d CapLen:%d L3:%d L4:%d TCP:flags=%#x hl=%d seq=%d ICMP:%d/%d echo=%v/%#x err=%v inner=%s Frag:%v mf=%v off=%d id=%#x}",
		p.Reason, p.VLAN, p.NumVLAN, tupleString(p.Tuple), p.IPLen, p.CapLen, p.L3Offset, p.L4Offset,
		p.TCPFlags, p.TCPHeaderLen, p.TCPSeq, p.ICMPType, p.ICMPCode, p.IsICMPEcho, p.ICMPEchoID,
		p.IsICMPError, tupleString(p.Inner), p.IsFragment, p.MoreFragments, p.FragOffset, p.FragID)
}

func tupleString(t Tuple) string {
	switch t.Family {
	case 4:
		return fmt.Sprintf("%d.%d.%d.%d:%d->%d.%d.%d.%d:%d/%d", t.Src[0], t.Src[1], t.Src[2], t.Src[3], t.SrcPort,
			t.Dst[0], t.Dst[1], t.Dst[2], t.Dst[3], t.DstPort, t.Proto)
	case 6:
		return fmt.Sprintf("[%x]:%d->[%x]:%d/%d", t.Src, t.SrcPort, t.Dst, t.DstPort, t.Proto)
	}
	if t == (Tuple{}) {
		return "-"
	}
	return fmt.Sprintf("%+v", t)
}

// Packet stays compact: Decode zeroes it for every frame.
func TestPacketSize(t *testing.T) {
	if n := unsafe.Sizeof(Packet{}); n > 120 {
		t.Errorf("Packet is %d bytes, want at most 120", n)
	}
}
