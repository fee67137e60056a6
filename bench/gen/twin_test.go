package gen

// The dumb twin: read a generated capture back with gopacket's pcapgo
// readers and layers, and recompute every flow's counters with plain code
// that follows the rules in Truth's documentation, knowing nothing of how
// the generator made the packets. Every checksum (IPv4 header, TCP, UDP
// also over reassembled fragments, ICMP, ICMPv6, SCTP CRC32c) is recomputed
// by gopacket's serializers and compared, and every malformed frame is
// classified by what gopacket fails on, with the reason names of
// decode.Reason.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"testing"

	"github.com/flowd/flowd/capture"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// capFrame is one frame read back from a capture file.
type capFrame struct {
	data  []byte
	ts    int64
	wire  int
	link  capture.LinkType
	iface int
}

// linkOf undoes gopacket v1.1.19's uint8 link types: the only generated
// link type above 255 is SLL2 (276), which reads back as 276 & 0xff.
func linkOf(l layers.LinkType) capture.LinkType {
	if l == layers.LinkType(capture.LinkLinuxSLL2&0xff) {
		return capture.LinkLinuxSLL2
	}
	return capture.LinkType(l)
}

// readCapture reads a pcap or pcapng file with gopacket's readers.
func readCapture(t testing.TB, b []byte) []capFrame {
	t.Helper()
	var out []capFrame
	if len(b) >= 4 && binary.LittleEndian.Uint32(b) == 0x0A0D0D0A {
		r, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			t.Fatalf("pcapng: %v", err)
		}
		for {
			data, ci, err := r.ReadPacketData()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatalf("pcapng: %v", err)
			}
			in, err := r.Interface(ci.InterfaceIndex)
			if err != nil {
				t.Fatalf("pcapng: %v", err)
			}
			out = append(out, capFrame{data, ci.Timestamp.UnixNano(), ci.Length, linkOf(in.LinkType), ci.InterfaceIndex})
		}
	}
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("pcap: %v", err)
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("pcap: %v", err)
		}
		out = append(out, capFrame{data, ci.Timestamp.UnixNano(), ci.Length, linkOf(r.LinkType()), 0})
	}
}

// twinPkt is what the twin needs from one frame.
type twinPkt struct {
	bad          string // decode reason name when the frame is malformed
	vlan         []uint16
	proto        uint8
	src, dst     netip.Addr
	sport, dport uint16
	flags        uint8
	ipLen        int
	icmpErr      bool
	inner        twinTuple // the quoted packet's tuple, for an ICMP error
	frag         bool
	fragFirst    bool
	fragID       uint32
	fragOff      int  // bytes
	fragMore     bool // more fragments follow
	fragData     []byte
	net          gopacket.NetworkLayer
}

type twinTuple struct {
	proto        uint8
	src, dst     netip.Addr
	sport, dport uint16
}

var errChecksum = errors.New("bad checksum")

// twinDecode decodes a frame with gopacket. It returns an error for a
// checksum that does not verify.
func twinDecode(fr capFrame) (p twinPkt, err error) {
	var pk gopacket.Packet
	switch fr.link {
	case capture.LinkLinuxSLL2: // gopacket v1.1.19 has no decoder
		if len(fr.data) < 20 {
			p.bad = "truncated"
			return p, nil
		}
		et := layers.EthernetType(binary.BigEndian.Uint16(fr.data))
		pk = gopacket.NewPacket(fr.data[20:], et, gopacket.Default)
	default:
		pk = gopacket.NewPacket(fr.data, layers.LinkType(fr.link), gopacket.Default)
	}
	for _, l := range pk.Layers() {
		if d, ok := l.(*layers.Dot1Q); ok {
			p.vlan = append(p.vlan, d.VLANIdentifier)
		}
	}
	ip4, _ := pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	ip6, _ := pk.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	// gopacket adds a layer before it finds it broken; an error below the
	// transport layer makes the frame malformed. (An error above it, in DNS
	// or NTP that gopacket decodes by port, is no concern of flow tracking.)
	el := pk.ErrorLayer()
	tl := pk.TransportLayer()
	nb := netBytes(pk, fr)
	// Did the IP header itself decode? (gopacket leaves a broken layer
	// in the packet, so decode the header again on its own.)
	ipOK := ip4 != nil || ip6 != nil
	if ip4 != nil {
		ipOK = new(layers.IPv4).DecodeFromBytes(nb, gopacket.NilDecodeFeedback) == nil
	} else if ip6 != nil {
		ipOK = new(layers.IPv6).DecodeFromBytes(nb, gopacket.NilDecodeFeedback) == nil
	}
	switch {
	case !ipOK:
		p.bad = classifyIP(pk, nb)
		return p, nil
	case ip4 != nil && ip4.Version != 4:
		p.bad = "bad_ip_version"
		return p, nil
	case el != nil && (tl == nil || len(tl.LayerContents()) == 0) && pk.Layer(gopacket.LayerTypeFragment) == nil:
		var payload []byte
		if ip4 != nil {
			payload = ip4.Payload
		}
		proto := uint8(0)
		if ip4 != nil {
			proto = uint8(ip4.Protocol)
		}
		p.bad = classifyTransport(proto, payload, el)
		return p, nil
	}
	var net gopacket.NetworkLayer
	if ip4 != nil {
		net = ip4
		p.src, _ = netip.AddrFromSlice(ip4.SrcIP.To4())
		p.dst, _ = netip.AddrFromSlice(ip4.DstIP.To4())
		p.proto = uint8(ip4.Protocol)
		p.ipLen = int(ip4.Length)
		// The header checksum, recomputed by gopacket.
		c := *ip4
		buf := gopacket.NewSerializeBuffer()
		if err := c.SerializeTo(buf, gopacket.SerializeOptions{ComputeChecksums: true}); err != nil {
			return p, err
		}
		if got := binary.BigEndian.Uint16(buf.Bytes()[10:]); got != ip4.Checksum {
			return p, fmt.Errorf("%w: IPv4 header %#04x, want %#04x", errChecksum, ip4.Checksum, got)
		}
		if ip4.Flags&layers.IPv4MoreFragments != 0 || ip4.FragOffset != 0 {
			p.frag, p.fragFirst, p.fragID = true, ip4.FragOffset == 0, uint32(ip4.Id)
			p.fragOff, p.fragMore = int(ip4.FragOffset)*8, ip4.Flags&layers.IPv4MoreFragments != 0
		}
	} else {
		net = ip6
		p.src, _ = netip.AddrFromSlice(ip6.SrcIP)
		p.dst, _ = netip.AddrFromSlice(ip6.DstIP)
		p.ipLen = 40 + int(ip6.Length)
		p.proto = uint8(ip6.NextHeader)
		for _, l := range pk.Layers() {
			switch e := l.(type) {
			case *layers.IPv6HopByHop:
				p.proto = uint8(e.NextHeader)
			case *layers.IPv6Destination:
				p.proto = uint8(e.NextHeader)
			case *layers.IPv6Fragment:
				p.proto = uint8(e.NextHeader)
				p.frag, p.fragFirst, p.fragID = true, e.FragmentOffset == 0, e.Identification
				p.fragOff, p.fragMore = int(e.FragmentOffset)*8, e.MoreFragments
			}
		}
	}
	if p.frag {
		p.fragData = pk.Layer(gopacket.LayerTypeFragment).LayerContents()
		p.net = net
		if p.fragFirst {
			// gopacket does not decode inside fragments: the ports are the
			// first 4 bytes of the fragment's data.
			p.sport, p.dport = binary.BigEndian.Uint16(p.fragData), binary.BigEndian.Uint16(p.fragData[2:])
		}
		return p, nil
	}
	opts := gopacket.SerializeOptions{ComputeChecksums: true}
	switch l := pk.TransportLayer().(type) {
	case *layers.TCP:
		p.sport, p.dport = uint16(l.SrcPort), uint16(l.DstPort)
		p.flags = tcpFlags(l)
		c := *l
		c.SetNetworkLayerForChecksum(net)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, opts, &c, gopacket.Payload(l.Payload)); err != nil {
			return p, err
		}
		if got := binary.BigEndian.Uint16(buf.Bytes()[16:]); got != l.Checksum {
			return p, fmt.Errorf("%w: TCP %#04x, want %#04x", errChecksum, l.Checksum, got)
		}
		if !bytes.Equal(buf.Bytes()[:l.DataOffset*4], l.Contents) {
			return p, fmt.Errorf("TCP header does not survive gopacket's serializer: %x vs %x", l.Contents, buf.Bytes()[:l.DataOffset*4])
		}
	case *layers.UDP:
		p.sport, p.dport = uint16(l.SrcPort), uint16(l.DstPort)
		c := *l
		c.SetNetworkLayerForChecksum(net)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, opts, &c, gopacket.Payload(l.Payload)); err != nil {
			return p, err
		}
		// RFC 768: a computed 0 is sent as 0xffff (0 means "no checksum");
		// gopacket's serializer leaves it 0.
		if got := binary.BigEndian.Uint16(buf.Bytes()[6:]); got != l.Checksum && !(got == 0 && l.Checksum == 0xffff) {
			return p, fmt.Errorf("%w: UDP %#04x, want %#04x", errChecksum, l.Checksum, got)
		}
	case *layers.SCTP:
		p.sport, p.dport = uint16(l.SrcPort), uint16(l.DstPort)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, opts, l, gopacket.Payload(l.Payload)); err != nil {
			return p, err
		}
		// gopacket writes the CRC32c little endian (RFC 9260 appendix A)
		// but reads the field big endian: compare the bytes.
		if got, have := buf.Bytes()[8:12], l.Contents[8:12]; !bytes.Equal(got, have) {
			return p, fmt.Errorf("%w: SCTP %x, want %x", errChecksum, have, got)
		}
	default:
		switch {
		case p.proto == protoICMP:
			l := pk.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
			c := *l
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, opts, &c, gopacket.Payload(l.Payload)); err != nil {
				return p, err
			}
			if got := binary.BigEndian.Uint16(buf.Bytes()[2:]); got != l.Checksum {
				return p, fmt.Errorf("%w: ICMP %#04x, want %#04x", errChecksum, l.Checksum, got)
			}
			switch l.TypeCode.Type() {
			case 3, 4, 5, 11, 12:
				p.icmpErr = true
				p.bad = p.inner.quoted(l.Payload, layers.LayerTypeIPv4)
			}
		case p.proto == protoICMPv6:
			l := pk.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
			c := *l
			c.SetNetworkLayerForChecksum(net)
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, opts, &c, gopacket.Payload(l.Payload)); err != nil {
				return p, err
			}
			if got := binary.BigEndian.Uint16(buf.Bytes()[2:]); got != l.Checksum {
				return p, fmt.Errorf("%w: ICMPv6 %#04x, want %#04x", errChecksum, l.Checksum, got)
			}
			if l.TypeCode.Type() < 128 {
				p.icmpErr = true
				// gopacket's ICMPv6 payload starts with the 4 unused bytes.
				p.bad = p.inner.quoted(l.Payload[4:], layers.LayerTypeIPv6)
			}
		}
	}
	return p, nil
}

func tcpFlags(t *layers.TCP) uint8 {
	var f uint8
	for i, b := range []bool{t.FIN, t.SYN, t.RST, t.PSH, t.ACK, t.URG, t.ECE, t.CWR} {
		if b {
			f |= 1 << i
		}
	}
	return f
}

// quoted decodes the packet an ICMP error quotes; it returns the decode
// reason name when it cannot name a flow.
func (q *twinTuple) quoted(b []byte, first gopacket.LayerType) string {
	pk := gopacket.NewPacket(b, first, gopacket.Default)
	var payload []byte
	if nl := pk.NetworkLayer(); nl == nil || len(nl.LayerContents()) == 0 {
		return "bad_icmp_error" // gopacket could not decode the quoted IP header
	}
	switch ip := pk.NetworkLayer().(type) {
	case *layers.IPv4:
		q.src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		q.dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
		q.proto = uint8(ip.Protocol)
		payload = ip.Payload
	case *layers.IPv6:
		q.src, _ = netip.AddrFromSlice(ip.SrcIP)
		q.dst, _ = netip.AddrFromSlice(ip.DstIP)
		q.proto = uint8(ip.NextHeader)
		payload = ip.Payload
		for _, l := range pk.Layers() {
			switch e := l.(type) {
			case *layers.IPv6HopByHop:
				q.proto, payload = uint8(e.NextHeader), e.Payload
			case *layers.IPv6Destination:
				q.proto, payload = uint8(e.NextHeader), e.Payload
			}
		}
	default:
		return "bad_icmp_error"
	}
	switch q.proto {
	case protoTCP, protoUDP, protoSCTP:
		// A quote may hold only 8 bytes of the transport header, too few
		// for gopacket's TCP layer: read the ports.
		if len(payload) < 4 {
			return "bad_icmp_error"
		}
		q.sport, q.dport = binary.BigEndian.Uint16(payload), binary.BigEndian.Uint16(payload[2:])
	}
	return ""
}

// netBytes returns the bytes after the link layer and VLAN tags.
func netBytes(pk gopacket.Packet, fr capFrame) []byte {
	b := fr.data
	if fr.link == capture.LinkLinuxSLL2 {
		b = b[20:]
	}
	for _, l := range pk.Layers() {
		switch l.LayerType() {
		case layers.LayerTypeEthernet, layers.LayerTypeDot1Q, layers.LayerTypeLinuxSLL, layers.LayerTypeLoopback:
			b = l.LayerPayload()
		}
	}
	return b
}

// classifyIP names the reason for a frame without a usable IP layer; b
// holds the bytes after the link layer.
func classifyIP(pk gopacket.Packet, b []byte) string {
	if pk.Layer(layers.LayerTypeARP) != nil {
		return "non_ip"
	}
	if lb, ok := pk.Layer(layers.LayerTypeLoopback).(*layers.Loopback); ok {
		switch lb.Family {
		case 2, 10, 24, 28, 30:
		default:
			return "non_ip"
		}
	}
	if len(b) == 0 {
		return "truncated"
	}
	switch b[0] >> 4 {
	case 4:
		switch {
		case len(b) < 20:
			return "truncated"
		case b[0]&0x0F < 5:
			return "bad_ip_header_len"
		case int(binary.BigEndian.Uint16(b[2:])) < int(b[0]&0x0F)*4:
			return "bad_ip_total_len"
		}
	case 6:
		if len(b) < 40 {
			return "truncated"
		}
		// gopacket decodes hop-by-hop options inside its IPv6 layer.
		if b[6] == 0 && len(b) >= 42 && (int(b[41])+1)*8 > int(binary.BigEndian.Uint16(b[4:])) {
			return "bad_ipv6_ext_header"
		}
	default:
		return "bad_ip_version"
	}
	if el := pk.ErrorLayer(); el != nil {
		return "unclassified: " + el.Error().Error()
	}
	return "unclassified"
}

// classifyTransport names the reason for a transport header gopacket could
// not decode; b holds the IP payload.
func classifyTransport(proto uint8, b []byte, el gopacket.ErrorLayer) string {
	switch proto {
	case protoTCP:
		switch {
		case len(b) < 14:
			return "truncated"
		case b[12]>>4 < 5:
			return "bad_tcp_header_len"
		}
	}
	return "unclassified: " + el.Error().Error()
}

// reassembly collects a fragmented UDP datagram, to check its checksum.
type reassembly struct {
	parts map[int][]byte
	total int // known once the last fragment came
	net   gopacket.NetworkLayer
}

// reassemble adds a fragment; when the datagram is complete it checks the
// UDP checksum over all of it with gopacket's serializer.
func reassemble(m map[fragKey]*reassembly, k fragKey, p *twinPkt) error {
	r := m[k]
	if r == nil {
		r = &reassembly{parts: map[int][]byte{}, total: -1}
		m[k] = r
	}
	r.parts[p.fragOff] = p.fragData
	if p.fragOff == 0 {
		r.net = p.net
	}
	if !p.fragMore {
		r.total = p.fragOff + len(p.fragData)
	}
	if r.total < 0 || r.net == nil {
		return nil
	}
	var dg []byte
	for len(dg) < r.total {
		part, ok := r.parts[len(dg)]
		if !ok {
			return nil // not complete yet
		}
		dg = append(dg, part...)
	}
	delete(m, k)
	if p.proto != protoUDP {
		return nil
	}
	var u layers.UDP
	if err := u.DecodeFromBytes(dg, gopacket.NilDecodeFeedback); err != nil {
		return fmt.Errorf("reassembled datagram: %v", err)
	}
	if int(u.Length) != len(dg) {
		return fmt.Errorf("reassembled datagram of %d bytes, UDP length %d", len(dg), u.Length)
	}
	c := u
	c.SetNetworkLayerForChecksum(r.net)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, &c, gopacket.Payload(u.Payload)); err != nil {
		return err
	}
	if got := binary.BigEndian.Uint16(buf.Bytes()[6:]); got != u.Checksum && !(got == 0 && u.Checksum == 0xffff) {
		return fmt.Errorf("%w: reassembled UDP %#04x, want %#04x", errChecksum, u.Checksum, got)
	}
	return nil
}

// The twin's flow table.

type twinKey struct {
	proto  uint8
	a, b   netip.Addr
	pa, pb uint16
	vlan   [2]uint16
	nvlan  int
}

type twinFlow struct {
	fl   Flow
	seen [2]bool
	fin  [2]bool
	rst  bool
}

func keyOf(proto uint8, src, dst netip.Addr, sp, dp uint16, vlan []uint16) twinKey {
	k := twinKey{proto: proto, a: src, b: dst, pa: sp, pb: dp, nvlan: len(vlan)}
	if c := src.Compare(dst); c > 0 || c == 0 && sp > dp {
		k.a, k.b, k.pa, k.pb = dst, src, dp, sp
	}
	copy(k.vlan[:], vlan)
	return k
}

func (f *twinFlow) state() string {
	if f.fl.Proto == protoTCP {
		if f.rst || f.fin[0] && f.fin[1] {
			return "closed"
		}
		if f.fin[0] || f.fin[1] {
			return "closing"
		}
	}
	if f.seen[0] && f.seen[1] {
		return "established"
	}
	return "new"
}

type twinResult struct {
	flows          []Flow
	bad            map[string]uint64
	packets, bytes uint64
	errorsNoFlow   int
	errorsTo       [2]int // ICMP errors counted to-server, to-client
}

type fragKey struct {
	src, dst netip.Addr
	proto    uint8
	id       uint32
}

// twin recomputes the truth of a capture.
func twin(t testing.TB, frames []capFrame) twinResult {
	t.Helper()
	res := twinResult{bad: map[string]uint64{}}
	cur := map[twinKey]*twinFlow{}
	frags := map[fragKey][2]uint16{}
	reasm := map[fragKey]*reassembly{}
	var ended []Flow
	end := func(f *twinFlow, reason string) {
		f.fl.State, f.fl.Reason = f.state(), reason
		ended = append(ended, f.fl)
	}
	nbad := 0
	for i, fr := range frames {
		res.packets++
		res.bytes += uint64(len(fr.data))
		p, err := twinDecode(fr)
		if err != nil {
			nbad++
			if nbad < 5 {
				t.Errorf("frame %d: %v", i+1, err)
			}
			continue
		}
		if p.bad != "" {
			res.bad[p.bad]++
			continue
		}
		if p.icmpErr {
			q := p.inner
			f := cur[keyOf(q.proto, q.src, q.dst, q.sport, q.dport, p.vlan)]
			if f == nil {
				res.errorsNoFlow++
				continue
			}
			if p.dst == f.fl.Src {
				res.errorsTo[1]++
				f.fl.PktsToClient++
				f.fl.BytesToClient += uint64(len(fr.data))
				f.fl.IPBytesToClient += uint64(p.ipLen)
			} else {
				res.errorsTo[0]++
				f.fl.PktsToServer++
				f.fl.BytesToServer += uint64(len(fr.data))
				f.fl.IPBytesToServer += uint64(p.ipLen)
			}
			f.fl.ICMPErrors++
			f.fl.End = fr.ts
			continue
		}
		if p.frag {
			fk := fragKey{p.src, p.dst, p.proto, p.fragID}
			if err := reassemble(reasm, fk, &p); err != nil {
				t.Errorf("frame %d: %v", i+1, err)
			}
			if p.fragFirst {
				frags[fk] = [2]uint16{p.sport, p.dport}
			} else {
				ports, ok := frags[fk]
				if !ok {
					t.Errorf("frame %d: a later fragment before its first", i+1)
					continue
				}
				p.sport, p.dport = ports[0], ports[1]
			}
		}
		if p.proto == protoICMP || p.proto == protoICMPv6 {
			p.sport, p.dport = 0, 0
		}
		k := keyOf(p.proto, p.src, p.dst, p.sport, p.dport, p.vlan)
		f := cur[k]
		reused := false
		if f != nil && p.proto == protoTCP && p.flags&(syn|ack|rst) == syn && (f.rst || f.fin[0] || f.fin[1]) {
			end(f, "tcp-closed")
			f, reused = nil, true
		}
		if f == nil {
			f = &twinFlow{}
			f.fl = Flow{Proto: p.proto, Src: p.src, Dst: p.dst, SrcPort: p.sport, DstPort: p.dport,
				VLAN: append([]uint16(nil), p.vlan...), Start: fr.ts, Interface: fr.iface, Reused: reused}
			if len(f.fl.VLAN) == 0 {
				f.fl.VLAN = nil
			}
			if p.proto == protoTCP && p.flags&(syn|ack) == syn|ack {
				f.fl.Src, f.fl.Dst, f.fl.SrcPort, f.fl.DstPort = p.dst, p.src, p.dport, p.sport
				f.fl.Reversed = true
			}
			cur[k] = f
		}
		f.fl.End = fr.ts
		d := 1
		if p.src == f.fl.Src && p.sport == f.fl.SrcPort {
			d = 0
		}
		if p.frag {
			f.fl.Fragmented = true
		}
		if d == 0 {
			f.fl.PktsToServer++
			f.fl.BytesToServer += uint64(len(fr.data))
			f.fl.IPBytesToServer += uint64(p.ipLen)
			f.fl.TCPFlagsToServer |= p.flags
		} else {
			f.fl.PktsToClient++
			f.fl.BytesToClient += uint64(len(fr.data))
			f.fl.IPBytesToClient += uint64(p.ipLen)
			f.fl.TCPFlagsToClient |= p.flags
		}
		f.seen[d] = true
		if p.flags&rst != 0 {
			f.rst = true
		}
		if p.flags&fin != 0 {
			f.fin[d] = true
		}
	}
	for _, f := range cur {
		end(f, "active")
	}
	SortFlows(ended)
	res.flows = ended
	return res
}

// checkTwin compares a capture's twin with its truth.
func checkTwin(t *testing.T, capBytes []byte, truth *Truth) {
	t.Helper()
	frames := readCapture(t, capBytes)
	res := twin(t, frames)
	if res.packets != truth.Packets || res.bytes != truth.Bytes {
		t.Errorf("twin: %d packets %d bytes; truth: %d packets %d bytes", res.packets, res.bytes, truth.Packets, truth.Bytes)
	}
	if res.errorsNoFlow != 0 {
		t.Errorf("twin: %d ICMP errors matched no flow", res.errorsNoFlow)
	}
	want := map[string]uint64{}
	for r, n := range truth.DecodeErrors {
		want[r.String()] += n
	}
	if !reflect.DeepEqual(res.bad, want) && (len(res.bad) > 0 || len(want) > 0) {
		t.Errorf("malformed frames: twin %v, truth %v", res.bad, want)
	}
	if len(res.flows) != len(truth.Flows) {
		t.Errorf("twin: %d flows; truth: %d", len(res.flows), len(truth.Flows))
	}
	diffs := 0
	for i := 0; i < min(len(res.flows), len(truth.Flows)); i++ {
		tw, tr := res.flows[i], truth.Flows[i]
		tr.Kind = ""
		if !reflect.DeepEqual(tw, tr) {
			diffs++
			if diffs <= 5 {
				t.Errorf("flow %d (%s):\n twin  %+v\n truth %+v", i, truth.Flows[i].Kind, tw, tr)
			}
		}
	}
	if diffs > 5 {
		t.Errorf("... %d flows differ in all", diffs)
	}
}
