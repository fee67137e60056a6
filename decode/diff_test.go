package decode

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowd/flowd/capture"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

var (
	diffMax    = flag.Int("decode.diffmax", 200_000, "compare at most this many packets per capture file against gopacket (0: all)")
	diffRandom = flag.Int("decode.random", 20_000, "random packets to compare against gopacket")
	diffSeed   = flag.Uint64("decode.seed", 1, "seed for the random packets")
	diffPcaps  = flag.String("decode.pcaps", "", "more capture files to compare against gopacket (comma-separated globs)")
)

// differ compares Decode with the gopacket oracle frame by frame.
type differ struct {
	t      testing.TB
	frames int
	usable int // frames usable to both
	inner  int // tunnelled packets compared
	// innerUsable counts the tunnelled packets usable to both.
	innerUsable int
	tunnels     int // usable packets carrying a tunnel
	failures    int
}

func (d *differ) check(b []byte, link capture.LinkType, what string) {
	d.t.Helper()
	d.frames++
	var got Packet
	got.Decode(b, link)
	checkInvariants(d.t, &got, b)
	want, ok, why, panicked := refDecode(b, link)
	if !d.compare(b, link, what, &got, &want, ok, why, panicked, &d.usable) {
		return
	}
	// Then every packet inside, level by level, each against the oracle
	// run on the inner bytes alone.
	for depth := 1; got.HasInner(); depth++ {
		start := got.FrameOffset + got.InnerOffset
		in, inLink := b[start:start+got.InnerLen], got.InnerLink
		var erspanVLAN uint16 // an ERSPAN II header's VLAN leads the mirrored packet's [D27]
		if got.Tunnel == TunnelERSPAN2 {
			erspanVLAN = got.ERSPANVLAN
		}
		if !got.DecodeInner(&got, b) {
			d.report(b, link, what, "DecodeInner refused level %d", depth)
			return
		}
		checkInvariants(d.t, &got, in)
		d.inner++
		want, ok, why, panicked = refDecode(in, inLink)
		want.FrameOffset, want.TunnelDepth = start, uint8(depth)
		if erspanVLAN != 0 && ok {
			want.VLAN = [3]uint16{erspanVLAN, want.VLAN[0], want.VLAN[1]}
			want.NumVLAN = min(want.NumVLAN+1, 3)
		}
		if want.HasInner() && depth >= int(tunnels.maxDepth) {
			want.TunnelReason = ReasonTunnelTooDeep
		}
		if !d.compare(b, link, fmt.Sprintf("%s, tunnelled packet %d (%v at %d)", what, depth, inLink, start), &got, &want, ok, why, panicked, &d.innerUsable) {
			return
		}
	}
}

// compare reports whether the decoders agree on a packet that both can use
// (and so its tunnel may be followed); it counts such packets in *usable.
func (d *differ) compare(b []byte, link capture.LinkType, what string, got, want *Packet, ok bool, why string, panicked bool, usable *int) bool {
	d.t.Helper()
	switch {
	case panicked:
		d.report(b, link, what, "the oracle cannot judge: %s\n got %s", why, dump(got))
	case ok && got.Reason == ReasonOK:
		*usable++
		if got.TunnelReason != ReasonOK && want.TunnelReason != ReasonOK {
			// Both find the tunnel header unusable: the reason and what
			// was read before the problem are not compared.
			want.TunnelReason, want.VNI, want.GREKey, want.HasGREKey = got.TunnelReason, got.VNI, got.GREKey, got.HasGREKey
			want.ERSPANSession, want.ERSPANVLAN, want.GWLB = got.ERSPANSession, got.ERSPANVLAN, got.GWLB
		}
		if got.Tunnel != TunnelNone {
			d.tunnels++
		}
		if *got == *want {
			return true
		}
		d.report(b, link, what, "decoders disagree\n got %s\nwant %s", dump(got), dump(want))
	case ok:
		d.report(b, link, what, "flowd says %v, gopacket decodes it\nwant %s", got.Reason, dump(want))
	case got.Reason == ReasonOK:
		d.report(b, link, what, "flowd decodes it, gopacket says %s\n got %s", why, dump(got))
	}
	return false
}

func (d *differ) report(b []byte, link capture.LinkType, what, format string, args ...any) {
	d.t.Helper()
	d.failures++
	if d.failures > 20 {
		if d.failures == 21 {
			d.t.Errorf("more mismatches follow; stopping the report")
		}
		return
	}
	d.t.Errorf("%s (link %v, %d bytes): %s\n%s", what, link, len(b), fmt.Sprintf(format, args...), hex.Dump(b))
}

// TestDiffFixtures checks the hand-written fixtures against gopacket too.
func TestDiffFixtures(t *testing.T) {
	d := &differ{t: t}
	for _, f := range fixtures {
		d.check(f.b, f.link, f.name)
	}
}

// TestDiffPcaps compares the decoders on every capture in the repository's
// testdata and in decode/testdata.
func TestDiffPcaps(t *testing.T) {
	var files []string
	pats := []string{"../testdata/*.pcap*", "testdata/*.pcap*"}
	if *diffPcaps != "" {
		pats = append(pats, strings.Split(*diffPcaps, ",")...)
	}
	for _, pat := range pats {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skip("no capture files in ../testdata or testdata yet")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { diffPcap(t, f) })
	}
}

// diffPcap decodes every frame of a pcap or pcapng file (optionally
// gzip-compressed) with Decode and with the gopacket oracle, and fails on
// any disagreement. It returns how many frames it compared and how many of
// them were usable.
func diffPcap(t *testing.T, path string) (frames, usable int) {
	t.Helper()
	secs, err := pcapngSections(path)
	if err != nil {
		t.Fatal(err)
	}
	r, closeFn, err := openCapture(path)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(24)
	if err != nil {
		t.Fatalf("%s: reading the file header: %v", path, err)
	}
	var next func() ([]byte, gopacket.CaptureInfo, error)
	var linkOf func(gopacket.CaptureInfo) capture.LinkType
	if binary.LittleEndian.Uint32(magic) == 0x0a0d0d0a {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		next = ng.ReadPacketData
		// pcapgo numbers interfaces per section; follow the sections by
		// counting their packets.
		sec, seen := 0, 0
		linkOf = func(ci gopacket.CaptureInfo) capture.LinkType {
			for sec < len(secs) && seen == secs[sec].packets {
				sec, seen = sec+1, 0
			}
			seen++
			if sec == len(secs) || ci.InterfaceIndex >= len(secs[sec].links) {
				t.Fatalf("%s: packet on unknown interface %d", path, ci.InterfaceIndex)
			}
			return secs[sec].links[ci.InterfaceIndex]
		}
	} else {
		// pcapgo.Reader.LinkType is a uint8 in gopacket v1.1.19, which
		// cannot hold LINKTYPE_LINUX_SLL2 (276): read the field ourselves.
		var link uint32
		switch binary.LittleEndian.Uint32(magic) {
		case 0xa1b2c3d4, 0xa1b23c4d:
			link = binary.LittleEndian.Uint32(magic[20:])
		default:
			link = binary.BigEndian.Uint32(magic[20:])
		}
		lt := capture.NormalizeLinkType(link & 0xffff)
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		next = pr.ReadPacketData
		linkOf = func(gopacket.CaptureInfo) capture.LinkType { return lt }
	}
	d := &differ{t: t}
	for *diffMax == 0 || d.frames < *diffMax {
		data, ci, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: after %d frames: %v", path, d.frames, err)
		}
		d.check(data, linkOf(ci), fmt.Sprintf("%s frame %d", filepath.Base(path), d.frames+1))
	}
	if *diffMax != 0 && d.frames == *diffMax {
		t.Logf("%s: compared the first %d frames only (-decode.diffmax)", path, d.frames)
	}
	t.Logf("%s: %d frames compared, %d usable", path, d.frames, d.usable)
	return d.frames, d.usable
}

func openCapture(path string) (io.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, func() { f.Close() }, nil
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return z, func() { z.Close(); f.Close() }, nil
}

// ngSection is what diffPcap needs to know of one pcapng section: the
// 16-bit link type of each interface (pcapgo narrows it to 8 bits), and how
// many packet blocks the section holds.
type ngSection struct {
	links   []capture.LinkType
	packets int
}

// pcapngSections scans a pcapng file's blocks. It returns nil for pcap files.
func pcapngSections(path string) ([]ngSection, error) {
	r, closeFn, err := openCapture(path)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	br := bufio.NewReaderSize(r, 1<<16)
	var secs []ngSection
	var order binary.ByteOrder = binary.LittleEndian
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return secs, nil
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		typ := binary.LittleEndian.Uint32(hdr[:4])
		if len(secs) == 0 && typ != 0x0a0d0d0a {
			return nil, nil // a pcap file
		}
		if typ == 0x0a0d0d0a {
			secs = append(secs, ngSection{})
			bom, err := br.Peek(4)
			if err != nil {
				return nil, err
			}
			order = binary.LittleEndian
			if binary.BigEndian.Uint32(bom) == 0x1a2b3c4d {
				order = binary.BigEndian
			}
		}
		sec := &secs[len(secs)-1]
		n := int64(order.Uint32(hdr[4:])) - 8
		if n < 0 {
			return nil, fmt.Errorf("%s: bad block length", path)
		}
		switch order.Uint32(hdr[:4]) {
		case 1: // interface description
			body := make([]byte, n)
			if _, err := io.ReadFull(br, body); err != nil {
				return nil, err
			}
			sec.links = append(sec.links, capture.LinkType(order.Uint16(body[:2])))
			continue
		case 2, 3, 6: // packet, simple packet, enhanced packet
			sec.packets++
		}
		if _, err := io.CopyN(io.Discard, br, n); err != nil {
			return nil, err
		}
	}
}

// TestDiffRandom compares the decoders on random frames built with gopacket's
// serializers: IPv4 and IPv6, TCP, UDP, SCTP, ICMP echo and errors, other
// protocols, VLAN tags, extension headers, fragments, every link type, and
// damaged copies (cut short, a length field changed, a byte flipped).
func TestDiffRandom(t *testing.T) {
	n := *diffRandom
	if testing.Short() {
		n /= 10
	}
	r := rand.New(rand.NewPCG(*diffSeed, 0x5eed))
	d := &differ{t: t}
	kinds := map[string]int{}
	for i := range n {
		g := gen{r: r}
		b, link := g.frame()
		kinds[g.kind()]++
		d.check(b, link, fmt.Sprintf("random frame %d (seed %d): %s", i, *diffSeed, strings.Join(g.desc, " ")))
		if d.failures > 20 {
			break
		}
	}
	t.Logf("%d random frames, %d usable to both decoders, %d carrying a tunnel; %d tunnelled packets compared, %d usable",
		d.frames, d.usable, d.tunnels, d.inner, d.innerUsable)
	if d.inner < d.frames/20 {
		t.Errorf("only %d tunnelled packets in %d frames", d.inner, d.frames)
	}
	if testing.Verbose() {
		for k, v := range kinds {
			t.Logf("%6d %s", v, k)
		}
	}
	if d.usable < d.frames/2 {
		t.Errorf("only %d of %d random frames were usable: the generator is too destructive", d.usable, d.frames)
	}
}

// gen builds one random frame.
type gen struct {
	r     *rand.Rand
	desc  []string
	l3    int  // offset of the outer IP header in the frame
	v6    bool // whether it is IPv6
	level int  // tunnels around the packet being built
}

func (g *gen) note(format string, args ...any) { g.desc = append(g.desc, fmt.Sprintf(format, args...)) }

func (g *gen) kind() string {
	var k []string
	for _, s := range g.desc {
		if i := strings.IndexAny(s, "(="); i > 0 {
			s = s[:i]
		}
		k = append(k, s)
	}
	return strings.Join(k, " ")
}

func (g *gen) pct(p int) bool { return g.r.IntN(100) < p }

func (g *gen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return b
}

func (g *gen) ip4() net.IP { return net.IP(g.bytes(4)) }
func (g *gen) ip6() net.IP { return net.IP(g.bytes(16)) }

func serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		panic(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// frame returns a frame and its link type.
func (g *gen) frame() ([]byte, capture.LinkType) {
	v6 := g.pct(50)
	ipPkt := g.ipPacket(v6, 0)
	b, link, l3 := g.link(ipPkt, v6)
	g.l3, g.v6 = l3, v6
	return g.damage(b), link
}

// link puts the IP packet in a frame; it returns the frame, its link type and
// the offset of the packet in it.
func (g *gen) link(ip []byte, v6 bool) ([]byte, capture.LinkType, int) {
	et := layers.EthernetTypeIPv4
	family := layers.ProtocolFamilyIPv4
	if v6 {
		et = layers.EthernetTypeIPv6
		family = []layers.ProtocolFamily{layers.ProtocolFamilyIPv6BSD, layers.ProtocolFamilyIPv6FreeBSD,
			layers.ProtocolFamilyIPv6Darwin, layers.ProtocolFamilyIPv6Linux}[g.r.IntN(4)]
	}
	if b, link, l3, ok := g.otherLink(ip, v6); ok {
		return b, link, l3
	}
	switch x := g.r.IntN(100); {
	case x < 60:
		g.note("eth")
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr(g.bytes(6)), DstMAC: net.HardwareAddr(g.bytes(6)), EthernetType: et}
		ls := []gopacket.SerializableLayer{eth}
		ntags := []int{0, 0, 0, 1, 1, 2, 3}[g.r.IntN(7)]
		if g.pct(1) {
			ntags = MaxVLANTags + g.r.IntN(2) // at and past the limit
		}
		prev := &eth.EthernetType
		for range ntags {
			tpid := []layers.EthernetType{layers.EthernetTypeDot1Q, layers.EthernetTypeQinQ, 0x9100}[g.r.IntN(3)]
			tag := &layers.Dot1Q{Priority: uint8(g.r.IntN(8)), VLANIdentifier: uint16(g.r.IntN(4096)), Type: et}
			*prev = tpid
			prev = &tag.Type
			ls = append(ls, tag)
			g.note("vlan(%#x,%d)", uint16(tpid), tag.VLANIdentifier)
		}
		ls = append(ls, g.linkShim(prev, v6)...)
		ls = append(ls, gopacket.Payload(ip))
		b := serialize(ls...)
		l3 := len(b) - len(ip)
		if len(b) < 60 && g.pct(70) {
			b = append(b, make([]byte, 60-len(b))...) // Ethernet padding
		}
		return b, capture.LinkEthernet, l3
	case x < 70:
		g.note("sll")
		// gopacket v1.1.19 cannot serialize SLL: packet type, ARPHRD,
		// address length, address, protocol by hand.
		h := []byte{0, byte(g.r.IntN(5)), 0, 1, 0, 6}
		h = append(h, g.bytes(8)...)
		h = binary.BigEndian.AppendUint16(h, uint16(et))
		return append(h, ip...), capture.LinkLinuxSLL, len(h)
	case x < 80:
		g.note("sll2")
		h := binary.BigEndian.AppendUint16(nil, uint16(et))
		h = append(h, 0, 0)
		h = binary.BigEndian.AppendUint32(h, g.r.Uint32N(16))
		h = append(h, 0, 1, byte(g.r.IntN(5)), 6)
		h = append(h, g.bytes(8)...)
		return append(h, ip...), capture.LinkLinuxSLL2, len(h)
	case x < 85:
		g.note("raw")
		return ip, capture.LinkRaw, 0
	case x < 90:
		if v6 {
			g.note("linktype-ipv6")
			return ip, capture.LinkIPv6, 0
		}
		g.note("linktype-ipv4")
		return ip, capture.LinkIPv4, 0
	case x < 95:
		g.note("null(%d)", family)
		b := serialize(&layers.Loopback{Family: family}, gopacket.Payload(ip)) // little-endian
		if g.pct(50) {
			binary.BigEndian.PutUint32(b, uint32(family))
		}
		return b, capture.LinkNull, 4
	default:
		g.note("loop(%d)", family)
		b := binary.BigEndian.AppendUint32(nil, uint32(family))
		return append(b, ip...), capture.LinkLoop, 4
	}
}

// ipPacket builds an IPv4 or IPv6 packet. depth > 0 builds the packet quoted
// in an ICMP error.
func (g *gen) ipPacket(v6 bool, depth int) []byte {
	proto, l4 := g.transport(v6, depth)
	fragFirst, fragLater := false, false
	if depth == 0 && g.pct(12) {
		if g.pct(50) {
			fragFirst = true
			// the fragment holds the first 8*k bytes of the datagram
			n := min(len(l4), 8*(1+g.r.IntN(4)))
			if g.pct(20) {
				n = min(len(l4), 8) // tiny first fragment
			}
			l4 = l4[:n]
		} else {
			fragLater = true
			l4 = g.bytes(8 * (1 + g.r.IntN(20)))
		}
	}
	if !v6 {
		ip := &layers.IPv4{Version: 4, TTL: uint8(g.r.IntN(256)), Protocol: proto, Id: uint16(g.r.Uint32()),
			SrcIP: g.ip4(), DstIP: g.ip4(), TOS: uint8(g.r.IntN(256))}
		if g.pct(50) {
			ip.Flags = layers.IPv4DontFragment
		}
		if g.pct(10) {
			g.note("ip4-options")
			ip.Options = []layers.IPv4Option{
				{OptionType: 148, OptionLength: 4, OptionData: []byte{0, 0}}, // router alert
				{OptionType: 1}, {OptionType: 1}, {OptionType: 0},
			}
		}
		if fragFirst {
			ip.Flags = layers.IPv4MoreFragments
			g.note("frag-first")
		}
		if fragLater {
			ip.Flags = 0
			if g.pct(50) {
				ip.Flags = layers.IPv4MoreFragments
			}
			ip.FragOffset = uint16(1 + g.r.IntN(8000))
			g.note("frag-later(%d)", ip.FragOffset)
		}
		g.note("ipv4(%d)", proto)
		return serialize(ip, gopacket.Payload(l4))
	}

	ip := &layers.IPv6{Version: 6, HopLimit: uint8(g.r.IntN(256)), SrcIP: g.ip6(), DstIP: g.ip6(),
		TrafficClass: uint8(g.r.IntN(256)), FlowLabel: g.r.Uint32N(1 << 20)}
	// Extension headers, innermost first; each names the one after it.
	next := proto
	var ext []byte
	var names []string
	push := func(typ layers.IPProtocol, hdr []byte) {
		hdr[0] = byte(next)
		ext = append(hdr, ext...)
		next = typ
		names = append([]string{typ.String()}, names...)
	}
	if fragFirst || fragLater {
		f := make([]byte, 8)
		off := uint16(0)
		m := uint16(1)
		if fragLater {
			off = uint16(1 + g.r.IntN(8000))
			m = uint16(g.r.IntN(2))
		}
		binary.BigEndian.PutUint16(f[2:], off<<3|m)
		binary.BigEndian.PutUint32(f[4:], g.r.Uint32())
		push(layers.IPProtocolIPv6Fragment, f)
	} else if g.pct(3) {
		f := make([]byte, 8) // atomic fragment
		binary.BigEndian.PutUint32(f[4:], g.r.Uint32())
		push(layers.IPProtocolIPv6Fragment, f)
	}
	if g.pct(25) {
		for range 1 + g.r.IntN(3) {
			switch g.r.IntN(4) {
			case 0: // destination options, through gopacket's serializer
				d := &layers.IPv6Destination{Options: []*layers.IPv6DestinationOption{
					{OptionType: 0x1e, OptionData: g.bytes(4 + 8*g.r.IntN(3))}}}
				d.NextHeader = next
				h := serialize(d)
				push(layers.IPProtocolIPv6Destination, h)
			case 1: // routing, type 4 (segment routing) with n segments
				n := 1 + g.r.IntN(3)
				h := append([]byte{0, byte(2 * n), 4, byte(g.r.IntN(n + 1)), byte(n - 1), 0, 0, 0}, g.bytes(16*n)...)
				push(layers.IPProtocolIPv6Routing, h)
			case 2: // AH with a 12- or 16-byte ICV
				icv := 12 + 4*g.r.IntN(2)
				h := append([]byte{0, byte((12+icv)/4 - 2), 0, 0}, g.bytes(8+icv)...)
				push(layers.IPProtocolAH, h)
			case 3: // hop-by-hop (only valid first, but decoders accept it anywhere)
				hb := &layers.IPv6HopByHop{Options: []*layers.IPv6HopByHopOption{
					{OptionType: 0x1e, OptionData: g.bytes(4 + 8*g.r.IntN(2))}}}
				hb.NextHeader = next
				h := serialize(hb)
				push(layers.IPProtocolIPv6HopByHop, h)
			}
		}
	}
	ip.NextHeader = next
	if len(names) > 0 {
		g.note("ext(%s)", strings.Join(names, ","))
	}
	if fragFirst {
		g.note("frag-first")
	}
	if fragLater {
		g.note("frag-later")
	}
	g.note("ipv6(%d)", proto)
	return serialize(ip, gopacket.Payload(append(ext, l4...)))
}

// transport returns the upper-layer protocol and its bytes.
func (g *gen) transport(v6 bool, depth int) (layers.IPProtocol, []byte) {
	if depth == 0 && g.level < 2 && g.pct(15) {
		return g.tunnel()
	}
	x := g.r.IntN(100)
	if depth > 0 && x >= 65 {
		x = g.r.IntN(65) // quoted packets: mostly TCP and UDP
	}
	switch {
	case x < 30:
		tcp := &layers.TCP{SrcPort: layers.TCPPort(g.r.IntN(65536)), DstPort: layers.TCPPort(g.r.IntN(65536)),
			Seq: g.r.Uint32(), Ack: g.r.Uint32(), Window: uint16(g.r.Uint32()),
			FIN: g.pct(20), SYN: g.pct(30), RST: g.pct(10), PSH: g.pct(30), ACK: g.pct(70), URG: g.pct(5), ECE: g.pct(5), CWR: g.pct(5)}
		if g.pct(40) {
			tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 0xb4}}}
			if g.pct(50) {
				tcp.Options = append(tcp.Options, layers.TCPOption{OptionType: layers.TCPOptionKindNop},
					layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}})
			}
		}
		g.note("tcp")
		return layers.IPProtocolTCP, serialize(tcp, gopacket.Payload(g.bytes(g.r.IntN(40))))
	case x < 55:
		udp := &layers.UDP{SrcPort: layers.UDPPort(g.r.IntN(65536)), DstPort: layers.UDPPort(g.r.IntN(65536))}
		g.note("udp")
		return layers.IPProtocolUDP, serialize(udp, gopacket.Payload(g.bytes(g.r.IntN(40))))
	case x < 60:
		sctp := &layers.SCTP{SrcPort: layers.SCTPPort(g.r.IntN(65536)), DstPort: layers.SCTPPort(g.r.IntN(65536)), VerificationTag: g.r.Uint32()}
		g.note("sctp")
		return layers.IPProtocolSCTP, serialize(sctp, gopacket.Payload(g.bytes(4*g.r.IntN(8))))
	case x < 65:
		p := []layers.IPProtocol{layers.IPProtocolGRE, layers.IPProtocolESP, layers.IPProtocolOSPF, layers.IPProtocolIGMP,
			layers.IPProtocolNoNextHeader, layers.IPProtocolUDPLite, 253}[g.r.IntN(7)]
		g.note("proto(%d)", p)
		n := g.r.IntN(40)
		if p == layers.IPProtocolNoNextHeader {
			n = 0
		}
		return p, g.bytes(n)
	case x < 80:
		return g.icmp(v6, depth, true)
	default:
		return g.icmp(v6, depth, false)
	}
}

func (g *gen) icmp(v6 bool, depth int, echo bool) (layers.IPProtocol, []byte) {
	if !v6 {
		ic := &layers.ICMPv4{Id: uint16(g.r.Uint32()), Seq: uint16(g.r.Uint32())}
		var payload []byte
		switch {
		case echo:
			ic.TypeCode = layers.CreateICMPv4TypeCode([]uint8{0, 8}[g.r.IntN(2)], 0)
			payload = g.bytes(g.r.IntN(32))
		case depth == 0 && g.pct(80):
			typ := []uint8{3, 4, 5, 11, 12}[g.r.IntN(5)]
			ic.TypeCode = layers.CreateICMPv4TypeCode(typ, uint8(g.r.IntN(16)))
			ic.Id, ic.Seq = 0, 0
			payload = g.quote(false)
		default:
			ic.TypeCode = layers.CreateICMPv4TypeCode([]uint8{9, 10, 13, 14, 17, 18, 30}[g.r.IntN(7)], 0)
			payload = g.bytes(g.r.IntN(20))
		}
		g.note("icmp4(%d)", ic.TypeCode.Type())
		return layers.IPProtocolICMPv4, serialize(ic, gopacket.Payload(payload))
	}
	ic := &layers.ICMPv6{}
	var ls []gopacket.SerializableLayer
	switch {
	case echo:
		ic.TypeCode = layers.CreateICMPv6TypeCode([]uint8{128, 129}[g.r.IntN(2)], 0)
		ls = []gopacket.SerializableLayer{ic, &layers.ICMPv6Echo{Identifier: uint16(g.r.Uint32()), SeqNumber: uint16(g.r.Uint32())},
			gopacket.Payload(g.bytes(g.r.IntN(32)))}
	case depth == 0 && g.pct(80):
		ic.TypeCode = layers.CreateICMPv6TypeCode(uint8(1+g.r.IntN(4)), uint8(g.r.IntN(8)))
		// 4 bytes unused / MTU / pointer, then the quoted packet
		ls = []gopacket.SerializableLayer{ic, gopacket.Payload(append(g.bytes(4), g.quote(true)...))}
	default:
		ic.TypeCode = layers.CreateICMPv6TypeCode([]uint8{133, 134, 135, 136, 143, 130}[g.r.IntN(6)], 0)
		ls = []gopacket.SerializableLayer{ic, gopacket.Payload(g.bytes(4 + g.r.IntN(28)))}
	}
	g.note("icmp6(%d)", ic.TypeCode.Type())
	return layers.IPProtocolICMPv6, serialize(ls...)
}

// quote builds the packet quoted in an ICMP error: a whole packet, cut to
// what ICMP keeps (IPv4: header + 8 bytes at least; IPv6: as much as fits
// in 1280 bytes), sometimes cut further.
func (g *gen) quote(v6 bool) []byte {
	g.note("quote[")
	q := g.ipPacket(v6, 1)
	g.note("]")
	n := len(q)
	if g.pct(50) {
		n = min(n, 28+g.r.IntN(40))
	}
	if g.pct(10) {
		n = g.r.IntN(n + 1) // cut anywhere: often not enough to name the flow
		g.note("quote-cut(%d)", n)
	}
	return q[:n]
}

// damage sometimes cuts the frame short (a snap length), rewrites an IP
// length field, or flips a byte.
func (g *gen) damage(b []byte) []byte {
	switch x := g.r.IntN(100); {
	case x < 12:
		n := g.r.IntN(len(b) + 1)
		g.note("cut(%d)", n)
		return b[:n]
	case x < 16:
		i := g.r.IntN(min(len(b), 96))
		b[i] ^= byte(1 + g.r.IntN(255))
		g.note("flip(%d)", i)
	case x < 22:
		// The IP length field: 0, a little shorter or longer, or anything.
		at := g.l3 + 2
		if g.v6 {
			at = g.l3 + 4
		}
		old := int(binary.BigEndian.Uint16(b[at:]))
		v := []int{0, old - 1 - g.r.IntN(24), old + 1 + g.r.IntN(24), g.r.IntN(65536)}[g.r.IntN(4)]
		v = max(0, min(v, 0xffff))
		binary.BigEndian.PutUint16(b[at:], uint16(v))
		g.note("iplen(%d->%d)", old, v)
	}
	return b
}

// TestDiffPcapFormats runs diffPcap over captures written here, so its
// reading of pcap, gzip'd pcap and multi-interface pcapng (with link types
// above 255, which pcapgo narrows) is itself tested before real captures
// arrive.
func TestDiffPcapFormats(t *testing.T) {
	dir := t.TempDir()
	var eth [][]byte
	ethOK, allOK := 0, 0
	for _, f := range fixtures {
		ok := f.want.Reason == ReasonOK
		if ok {
			allOK++
		}
		if f.link == capture.LinkEthernet {
			eth = append(eth, f.b)
			if ok {
				ethOK++
			}
		}
	}
	pcap := writePcap(capture.LinkEthernet, eth)
	var gz strings.Builder
	zw := gzip.NewWriter(&gz)
	zw.Write(pcap)
	zw.Close()
	for _, c := range []struct {
		name           string
		data           []byte
		frames, usable int
	}{
		{"eth.pcap", pcap, len(eth), ethOK},
		{"eth.pcap.gz", []byte(gz.String()), len(eth), ethOK},
		{"fixtures.pcapng", writePcapng(fixtures), len(fixtures), allOK},
		// two sections, the second numbering its interfaces differently
		{"two-sections.pcapng", append(writePcapng(fixtures), writePcapng(reversed(fixtures))...), 2 * len(fixtures), 2 * allOK},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Run(c.name, func(t *testing.T) {
			frames, usable := diffPcap(t, path)
			if frames != c.frames || usable != c.usable {
				t.Errorf("%d frames, %d usable; want %d, %d", frames, usable, c.frames, c.usable)
			}
		})
	}
}

func reversed(fs []fixture) []fixture {
	r := make([]fixture, len(fs))
	for i, f := range fs {
		r[len(fs)-1-i] = f
	}
	return r
}

// writePcap returns a little-endian microsecond pcap file.
func writePcap(link capture.LinkType, frames [][]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint64(b, 0)      // thiszone, sigfigs
	b = binary.LittleEndian.AppendUint32(b, 262144) // snaplen
	b = binary.LittleEndian.AppendUint32(b, uint32(link))
	for i, f := range frames {
		b = binary.LittleEndian.AppendUint32(b, uint32(1_700_000_000+i))
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// writePcapng returns a big-endian pcapng file with one interface per link
// type, in order of first use, and one enhanced packet block per fixture.
func writePcapng(fs []fixture) []byte {
	be := binary.BigEndian
	block := func(b []byte, typ uint32, body []byte) []byte {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		n := uint32(12 + len(body))
		b = be.AppendUint32(b, typ)
		b = be.AppendUint32(b, n)
		b = append(b, body...)
		return be.AppendUint32(b, n)
	}
	shb := be.AppendUint32(nil, 0x1a2b3c4d)
	shb = be.AppendUint16(shb, 1)
	shb = be.AppendUint16(shb, 0)
	shb = be.AppendUint64(shb, ^uint64(0))
	b := block(nil, 0x0a0d0d0a, shb)
	iface := map[capture.LinkType]uint32{}
	for _, f := range fs {
		if _, ok := iface[f.link]; !ok {
			iface[f.link] = uint32(len(iface))
			idb := be.AppendUint16(nil, uint16(f.link))
			idb = be.AppendUint16(idb, 0)
			idb = be.AppendUint32(idb, 0)
			b = block(b, 1, idb)
		}
		epb := be.AppendUint32(nil, iface[f.link])
		epb = be.AppendUint64(epb, 1_700_000_000_000_000)
		epb = be.AppendUint32(epb, uint32(len(f.b)))
		epb = be.AppendUint32(epb, uint32(len(f.b)))
		epb = append(epb, f.b...)
		b = block(b, 6, epb)
	}
	return b
}
