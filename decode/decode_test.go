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
			checkInnerChain(t, &p, f)
		})
	}
}

// checkInnerChain decodes the packets tunnelled in f, level by level, into
// one Packet (as the engine does) and compares them with f.inner.
func checkInnerChain(t *testing.T, outer *Packet, f fixture) {
	t.Helper()
	d := *outer
	n := 0
	for d.DecodeInner(&d, f.b) {
		checkInvariants(t, &d, f.b[d.FrameOffset:d.FrameOffset+d.CapLen])
		if n == len(f.inner) {
			t.Fatalf("inner packet %d not expected: %s", n+1, dump(&d))
		}
		want := f.inner[n]
		n++
		if want.Reason != ReasonOK {
			if d.Reason != want.Reason {
				t.Fatalf("inner packet %d: Reason = %v, want %v\n got %s", n, d.Reason, want.Reason, dump(&d))
			}
			continue
		}
		if d != want {
			t.Fatalf("inner packet %d mismatch\n got %s\nwant %s", n, dump(&d), dump(&want))
		}
	}
	if n != len(f.inner) {
		t.Fatalf("%d inner packets, want %d", n, len(f.inner))
	}
}

// Every Reason is reachable from at least one fixture, so each has a proof.
func TestFixturesCoverReasons(t *testing.T) {
	var hit [NumReasons]bool
	for _, f := range fixtures {
		hit[f.want.Reason] = true
		hit[f.want.TunnelReason] = true
		for _, in := range f.inner {
			hit[in.Reason] = true
			hit[in.TunnelReason] = true
		}
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

// Decoding a tunnelled frame all the way in, outer packet and every inner
// one, allocates nothing either.
func TestDecodeInnerAllocs(t *testing.T) {
	var p Packet
	tunnelled := 0
	for _, f := range fixtures {
		if len(f.inner) == 0 {
			continue
		}
		tunnelled++
		n := testing.AllocsPerRun(100, func() {
			p.Decode(f.b, f.link)
			for p.DecodeInner(&p, f.b) {
			}
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per outer and inner decode, want 0", f.name, n)
		}
	}
	if tunnelled < 10 {
		t.Errorf("only %d tunnelled fixtures", tunnelled)
	}
}

// DecodeInner refuses a frame that is not the outer packet's, and a packet
// with no usable tunnel, leaving p as it was.
func TestDecodeInnerMisuse(t *testing.T) {
	f := fixtureNamed(t, "eth-ipv4-udp-vxlan-eth-ipv4-tcp")
	var outer, p Packet
	outer.Decode(f.b, f.link)
	p.Decode(f.b, f.link)
	before := p
	if p.DecodeInner(&outer, f.b[:60]) || p != before {
		t.Errorf("DecodeInner with a short frame: decoded %s", dump(&p))
	}
	plain := fixtureNamed(t, "eth-ipv4-tcp-syn")
	outer.Decode(plain.b, plain.link)
	if p.DecodeInner(&outer, plain.b) || p != before {
		t.Errorf("DecodeInner without a tunnel: decoded %s", dump(&p))
	}
}

func TestConfigure(t *testing.T) {
	defer func() {
		if err := Configure(Config{}); err != nil {
			t.Fatal(err)
		}
	}()
	vx := fixtureNamed(t, "eth-ipv4-udp-vxlan-eth-ipv4-tcp")
	gbp := fixtureNamed(t, "eth-ipv4-udp-vxlan-gbp-reserved-bits")
	deep := fixtureNamed(t, "raw-ipv4-ipip-4-deep")
	var p Packet
	for _, tc := range []struct {
		name  string
		cfg   Config
		check func() string
	}{
		{"vxlan port moved", Config{VXLANPorts: []uint16{8472}}, func() string {
			p.Decode(vx.b, vx.link)
			if p.Tunnel != TunnelNone {
				return "VXLAN decoded on a port no longer configured"
			}
			return ""
		}},
		{"vxlan off", Config{VXLANPorts: []uint16{}}, func() string {
			p.Decode(vx.b, vx.link)
			if p.Tunnel != TunnelNone {
				return "VXLAN decoded while off"
			}
			return ""
		}},
		{"vxlan permissive", Config{VXLANPermissive: true}, func() string {
			p.Decode(gbp.b, gbp.link)
			if !p.HasInner() || p.VNI != 0x123456 {
				return "group policy VXLAN refused in permissive mode: " + dump(&p)
			}
			return ""
		}},
		{"no tunnels", Config{NoTunnels: true}, func() string {
			p.Decode(deep.b, deep.link)
			if p.Tunnel != TunnelNone || p.Reason != ReasonOK {
				return "tunnel decoded while off: " + dump(&p)
			}
			return ""
		}},
		{"depth 1", Config{MaxTunnelDepth: 1}, func() string {
			p.Decode(deep.b, deep.link)
			if !p.DecodeInner(&p, deep.b) || p.TunnelDepth != 1 || p.TunnelReason != ReasonTunnelTooDeep || p.DecodeInner(&p, deep.b) {
				return "depth 1 not enforced: " + dump(&p)
			}
			return ""
		}},
	} {
		if err := Configure(tc.cfg); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if msg := tc.check(); msg != "" {
			t.Errorf("%s: %s", tc.name, msg)
		}
	}
	for _, bad := range []Config{
		{GenevePorts: []uint16{6081, 0}},
		{TeredoPorts: make([]uint16, MaxTunnelPorts+1)},
		{MaxTunnelDepth: 17},
		{MaxTunnelDepth: -1},
	} {
		if err := Configure(bad); err == nil {
			t.Errorf("Configure(%+v) accepted", bad)
		}
	}
}

func TestICMPCounterpart(t *testing.T) {
	for _, tc := range []struct {
		proto, typ, want uint8
		ok               bool
	}{
		{ProtoICMP, 8, 0, true}, {ProtoICMP, 0, 8, true},
		{ProtoICMP, 13, 14, true}, {ProtoICMP, 14, 13, true},
		{ProtoICMP, 15, 16, true}, {ProtoICMP, 16, 15, true},
		{ProtoICMP, 17, 18, true}, {ProtoICMP, 18, 17, true},
		{ProtoICMP, 10, 9, true}, {ProtoICMP, 9, 10, true},
		{ProtoICMP, 3, 0, false}, {ProtoICMP, 128, 0, false},
		{ProtoICMPv6, 128, 129, true}, {ProtoICMPv6, 129, 128, true},
		{ProtoICMPv6, 130, 131, true}, {ProtoICMPv6, 133, 134, true},
		{ProtoICMPv6, 136, 135, true}, {ProtoICMPv6, 139, 140, true},
		{ProtoICMPv6, 145, 144, true}, {ProtoICMPv6, 146, 147, true},
		{ProtoICMPv6, 149, 148, true}, {ProtoICMPv6, 151, 152, true},
		{ProtoICMPv6, 157, 158, true},
		{ProtoICMPv6, 1, 0, false}, {ProtoICMPv6, 8, 0, false},
		{ProtoTCP, 8, 0, false},
	} {
		got, ok := ICMPCounterpart(tc.proto, tc.typ)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ICMPCounterpart(%d, %d) = %d, %v; want %d, %v", tc.proto, tc.typ, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTunnelKindString(t *testing.T) {
	seen := map[string]bool{}
	for k := range NumTunnelKinds {
		s := k.String()
		if s == "" || s == "unknown" || seen[s] || strings.ContainsAny(s, " -") {
			t.Errorf("TunnelKind(%d).String() = %q", k, s)
		}
		seen[s] = true
	}
	if NumTunnelKinds.String() != "unknown" {
		t.Errorf("NumTunnelKinds.String() = %q", NumTunnelKinds.String())
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
	if p.NumVLAN > 3 {
		t.Fatalf("NumVLAN %d", p.NumVLAN)
	}
	if p.Tunnel >= NumTunnelKinds || p.TunnelReason >= NumReasons {
		t.Fatalf("Tunnel %d, TunnelReason %d", p.Tunnel, p.TunnelReason)
	}
	if p.Tunnel == TunnelNone && (p.TunnelReason != ReasonOK || p.InnerOffset != 0 || p.InnerLen != 0 || p.InnerLink != 0 ||
		p.VNI != 0 || p.ERSPANSession != 0 || p.GWLB != (GWLBOptions{})) {
		t.Fatalf("tunnel fields without a tunnel: %s", dump(p))
	}
	if p.HasInner() {
		if uint64(p.InnerOffset)+uint64(p.InnerLen) > uint64(len(b)) || p.InnerOffset < uint32(p.L4Offset) {
			t.Fatalf("inner packet at %d+%d in %d bytes, L4 at %d", p.InnerOffset, p.InnerLen, len(b), p.L4Offset)
		}
		switch p.InnerLink {
		case capture.LinkEthernet, capture.LinkIPv4, capture.LinkIPv6, capture.LinkRaw, LinkPPP:
		default:
			t.Fatalf("inner link type %v", p.InnerLink)
		}
	} else if p.TunnelReason == ReasonOK && (p.InnerLen != 0 || p.InnerOffset != 0) {
		t.Fatalf("inner bytes without a tunnel: %s", dump(p))
	}
	if p.Reason != ReasonOK {
		return
	}
	if p.NumVLAN < 3 && p.VLAN[2] != 0 || p.NumVLAN < 2 && p.VLAN[1] != 0 || p.NumVLAN < 1 && p.VLAN[0] != 0 {
		t.Fatalf("NumVLAN %d with VLAN %v", p.NumVLAN, p.VLAN)
	}
	if p.SPI != 0 && p.Proto != ProtoESP {
		t.Fatalf("SPI for protocol %d", p.Proto)
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
	s := fmt.Sprintf("{Reason:%v VLAN:%v/%d %s IPLen:%d CapLen:%d L3:%d L4:%d TCP:flags=%#x hl=%d seq=%d ICMP:%d/%d echo=%v/%#x err=%v inner=%s Frag:%v mf=%v off=%d id=%#x spi=%#x",
		p.Reason, p.VLAN, p.NumVLAN, tupleString(p.Tuple), p.IPLen, p.CapLen, p.L3Offset, p.L4Offset,
		p.TCPFlags, p.TCPHeaderLen, p.TCPSeq, p.ICMPType, p.ICMPCode, p.IsICMPEcho, p.ICMPEchoID,
		p.IsICMPError, tupleString(p.Inner), p.IsFragment, p.MoreFragments, p.FragOffset, p.FragID, p.SPI)
	if p.Tunnel != TunnelNone || p.TunnelDepth != 0 || p.HasGREKey || p.FrameOffset != 0 {
		s += fmt.Sprintf(" Tunnel:%v/%v depth=%d frame@%d inner=%v@%d+%d vni=%#x grekey=%v/%#x erspan=%#x gwlb=%+v",
			p.Tunnel, p.TunnelReason, p.TunnelDepth, p.FrameOffset, p.InnerLink, p.InnerOffset, p.InnerLen,
			p.VNI, p.HasGREKey, p.GREKey, p.ERSPANSession, p.GWLB)
	}
	return s + "}"
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
	if n := unsafe.Sizeof(Packet{}); n > 184 {
		t.Errorf("Packet is %d bytes, want at most 184", n)
	}
}
