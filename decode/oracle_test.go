package decode

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/flowd/flowd/capture"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// oracle is the dumb twin of Decode: every header is decoded by
// github.com/google/gopacket/layers, and the result is expressed as the
// Packet that Decode should produce.
//
// The two decoders legitimately differ in the places listed below. Each one
// is handled explicitly where it arises (look for its tag, e.g. "[D3]"), never by
// skipping a frame:
//
//	[D1]  gopacket v1.1.19 has no Linux SLL2 layer: the oracle reads the
//	      protocol at bytes 0-1 of the 20-byte header itself.
//	[D2]  gopacket's LinuxSLL slices the link address by its length field and
//	      panics past the frame; flowd ignores the field. The oracle caps it.
//	[D3]  gopacket does not know the pre-standard 0x9100 QinQ tag; flowd
//	      treats it like 0x8100 and 0x88a8. The oracle decodes it with Dot1Q.
//	[D4]  gopacket walks any number of VLAN tags; flowd refuses more than
//	      MaxVLANTags (ReasonTooManyVLANs).
//	[D5]  gopacket trusts the ethertype / family and never checks the IP
//	      version nibble; flowd requires it to match (ReasonBadIPVersion).
//	[D6]  gopacket rejects malformed IPv4 options (and TCP options); flowd
//	      skips options by the header length without reading them. The
//	      oracle replaces IPv4 options with NOPs before decoding.
//	[D7]  IPv6: gopacket decodes the hop-by-hop header inside the IPv6 layer,
//	      validates its options and jumbogram rules, and mis-trims the payload
//	      after it; it rejects routing headers other than type 0; it rejects a
//	      payload length of 0. flowd skips every extension header by its
//	      length and reads a zero payload length (next header not 59) as
//	      "the captured bytes", like a zero IPv4 total length (which gopacket
//	      also reads that way). The oracle decodes the fixed header with
//	      gopacket and walks the chain with IPv6ExtensionSkipper (0, 43, 60),
//	      the IPv6Fragment decoder (44) and the IPSecAH decoder (51).
//	[D8]  gopacket accepts an AH header whose length field gives fewer than
//	      its 12 fixed bytes; flowd rejects it (ReasonBadExtHeader).
//	[D9]  flowd follows at most MaxExtHeaders IPv6 extension headers.
//	[D10] gopacket stops at the first IPv4 or IPv6 fragment (it returns a
//	      Fragment layer); flowd decodes the transport header of a first
//	      fragment, and takes only the ports when the fragment ends inside
//	      it. The oracle decodes the first fragment's payload itself.
//	[D11] gopacket needs the whole 20-byte TCP header including options;
//	      flowd needs the first 14 bytes (through the flags) captured, and
//	      the header (by its data offset) inside the IP datagram, but not
//	      necessarily captured (snap length). UDP: gopacket needs 8 bytes and
//	      a sane length field; flowd needs the 4 bytes of ports. SCTP:
//	      gopacket needs the 12-byte common header; flowd the ports. The
//	      oracle decodes these fields with gopacket from a zero-padded copy
//	      and applies flowd's length rules.
//	[D12] gopacket does not look inside ICMP errors. The oracle decodes the
//	      quoted packet with gopacket's IPv4/IPv6 layers after setting the
//	      quoted length field to the quote's length (flowd does not read it:
//	      quotes are cut by design), and takes the ports from the first 4
//	      bytes of the quoted transport header [D11], or for a quoted ICMP
//	      packet its type (flowd keeps it in SrcPort) from the first byte.
//
// Tunnels and link encapsulations (oracle_tunnel_test.go):
//
//	[D13] gopacket has no Cisco HDLC layer: the oracle reads its 4-byte
//	      header (address, control, ethertype) itself.
//	[D14] gopacket's MPLS decoder guesses the payload from its first byte
//	      only, and knows no explicit-null labels, reserved bottom labels,
//	      pseudowires or stack limit. The oracle decodes each label with
//	      it and applies flowd's rules to the payload: labels 0 and 2 name
//	      IPv4 and IPv6, labels 1 and 3-15 at the bottom are unusable, a
//	      first nibble 0 is a pseudowire (the oracle skips the 4-byte
//	      control word; gopacket decodes the Ethernet frame), at most
//	      MaxMPLSLabels labels, no pseudowire in a pseudowire or over PPP.
//	[D15] gopacket's PPPoE decoder checks neither version, type nor code,
//	      and panics when the length runs past the frame; flowd refuses
//	      the first three and caps the length at the captured bytes. The
//	      oracle checks the header and caps the length before decoding.
//	[D16] gopacket's PPP decoder reads bytes past short frames; the oracle
//	      decodes with gopacket.NewPacket, which recovers, and treats a
//	      missing PPP layer as unusable.
//	[D17] GENEVE: gopacket reads one of the two version bits and four of
//	      the five option length bits (the fifth shows as the low bit of
//	      its option Flags), keeps a uint8 offset, and checks neither the
//	      reserved bits nor that the options fill the options length. The
//	      oracle checks the version, reserved bits and option total itself,
//	      and walks the options by hand when gopacket cannot.
//	[D18] VXLAN: gopacket checks neither the I flag nor the reserved bits;
//	      the oracle applies Suricata's strict rule (flowd's default).
//	[D19] GRE: gopacket panics on headers cut short and checks neither the
//	      version, the recursion control, the reserved flags, nor
//	      PPTP's rules (key present, protocol PPP). The oracle decodes
//	      under recover and applies those rules; for PPTP flowd's GREKey
//	      is the call id (the low half of gopacket's Key).
//	[D20] ERSPAN II: gopacket panics on short headers and does not check
//	      the version (1); the oracle does both.
//	[D21] gopacket knows neither ERSPAN type III nor Teredo: the oracle
//	      reads ERSPAN III's 12-byte header by hand, and applies Suricata's
//	      Teredo rule with gopacket's IPv6 layer reading the header.
//	[D22] EtherIP: gopacket does not check the version (3); the oracle does.
//	[D23] ESP: gopacket's decoder needs 8 bytes (and panics on fewer);
//	      flowd reads the SPI from the first 4. The oracle reads 4 to 7
//	      bytes by hand.
//	[D24] flowd does not decapsulate the first fragment of a tunnel
//	      packet (ReasonTunnelFragment); gopacket never sees it, since it
//	      stops at fragments [D10]. The oracle applies the rule.
//	[D25] The UDP payload flowd reads a tunnel header from ends where the
//	      UDP length says when that lies within the datagram, else where
//	      the datagram ends; gopacket ends it at the captured bytes or
//	      rejects UDP lengths 1-7. The oracle trims the payload itself.
//	[D26] gopacket v1.1.19 has no NSH (RFC 8300) layer: the oracle reads its
//	      header itself (version 0, MD type 1 of 24 bytes or MD type 2;
//	      IPv4, IPv6, Ethernet or MPLS next), as Suricata decodes it.
//	[D27] The packet an ERSPAN type II header carries gets that header's
//	      VLAN id first in its VLAN ids (Suricata keys its flow by it);
//	      the oracle, decoding the inner bytes alone, adds it.
//
// An unusable tunnel header is compared as unusable, whatever the reason
// (ReasonTruncated or the tunnel's own), and the tunnel identity read
// before the problem (GRE key, VNI, options) is not compared then.
type oracle struct {
	b    []byte // private copy of the frame: the oracle patches it [D6, D7, D12]
	want Packet
	why  string // when the frame is unusable, what rejected it
}

// refDecode returns the Packet gopacket makes of the frame, or ok false and
// why not. panicked reports a gopacket panic (it still has a few on hostile
// input): the oracle then cannot judge, and the caller reports it.
func refDecode(frame []byte, link capture.LinkType) (want Packet, ok bool, why string, panicked bool) {
	o := &oracle{b: append([]byte(nil), frame...)}
	o.want.CapLen = uint32(len(frame))
	defer func() {
		if r := recover(); r != nil {
			want, ok, why, panicked = Packet{}, false, fmt.Sprintf("gopacket panicked: %v", r), true
		}
	}()
	if !o.decode(link) {
		return Packet{}, false, o.why, false
	}
	return o.want, true, "", false
}

func (o *oracle) fail(format string, args ...any) bool {
	o.why = fmt.Sprintf(format, args...)
	return false
}

// off is the offset of sub in the frame; sub must share its backing array.
func (o *oracle) off(sub []byte) int { return cap(o.b) - cap(sub) }

var df = gopacket.NilDecodeFeedback

func (o *oracle) decode(link capture.LinkType) bool {
	b := o.b
	var et layers.EthernetType
	var rest []byte
	switch link {
	case capture.LinkEthernet:
		var eth layers.Ethernet
		if err := eth.DecodeFromBytes(b, df); err != nil {
			return o.fail("ethernet: %v", err)
		}
		et, rest = eth.EthernetType, eth.Payload
	case capture.LinkLinuxSLL:
		if len(b) >= 16 && binary.BigEndian.Uint16(b[4:6]) > 8 {
			binary.BigEndian.PutUint16(b[4:6], 8) // [D2]
		}
		var sll layers.LinuxSLL
		if err := sll.DecodeFromBytes(b, df); err != nil {
			return o.fail("sll: %v", err)
		}
		et, rest = sll.EthernetType, sll.Payload
	case capture.LinkLinuxSLL2: // [D1]
		if len(b) < 20 {
			return o.fail("sll2: %d bytes", len(b))
		}
		et, rest = layers.EthernetType(binary.BigEndian.Uint16(b[0:2])), b[20:]
	case capture.LinkNull, capture.LinkLoop:
		var lb layers.Loopback
		if err := lb.DecodeFromBytes(b, df); err != nil {
			return o.fail("loopback: %v", err)
		}
		switch lb.Family {
		case layers.ProtocolFamilyIPv4:
			return o.ipv4(lb.Payload)
		case layers.ProtocolFamilyIPv6BSD, layers.ProtocolFamilyIPv6FreeBSD,
			layers.ProtocolFamilyIPv6Darwin, layers.ProtocolFamilyIPv6Linux:
			return o.ipv6(lb.Payload)
		}
		return o.fail("loopback family %d", lb.Family)
	case capture.LinkRaw:
		// gopacket's LinkTypeRaw decoder picks the layer by version nibble.
		if len(b) == 0 {
			return o.fail("raw: empty")
		}
		switch b[0] >> 4 {
		case 4:
			return o.ipv4(b)
		case 6:
			return o.ipv6(b)
		}
		return o.fail("raw: version %d", b[0]>>4)
	case capture.LinkIPv4:
		return o.ipv4(b)
	case capture.LinkIPv6:
		return o.ipv6(b)
	case LinkCiscoHDLC: // [D13]
		if len(b) < 4 {
			return o.fail("c-hdlc: %d bytes", len(b))
		}
		et, rest = layers.EthernetType(binary.BigEndian.Uint16(b[2:4])), b[4:]
	case LinkPPP:
		return o.ppp(b)
	default:
		return o.fail("link type %d", link)
	}
	return o.etherType(et, rest)
}

// etherType decodes rest, whose protocol is the ethertype et: VLAN tags,
// MPLS, PPPoE, then IP.
func (o *oracle) etherType(et layers.EthernetType, rest []byte) bool {
	n, pw := 0, false
	for {
		switch et {
		case layers.EthernetTypeDot1Q, layers.EthernetTypeQinQ, 0x9100: // [D3]
			if n == MaxVLANTags {
				return o.fail("more than %d VLAN tags", MaxVLANTags) // [D4]
			}
			var tag layers.Dot1Q
			if err := tag.DecodeFromBytes(rest, df); err != nil {
				return o.fail("dot1q: %v", err)
			}
			if n < len(o.want.VLAN) {
				o.want.VLAN[n] = tag.VLANIdentifier
			}
			o.want.NumVLAN = uint8(min(n+1, 3))
			n++
			et, rest = tag.Type, tag.Payload
		case layers.EthernetTypeIPv4:
			return o.ipv4(rest)
		case layers.EthernetTypeIPv6:
			return o.ipv6(rest)
		case layers.EthernetTypeMPLSUnicast, layers.EthernetTypeMPLSMulticast:
			eth, isPW, ok := o.mpls(rest, pw)
			if !isPW {
				return ok
			}
			pw = true
			var e layers.Ethernet
			if err := e.DecodeFromBytes(eth, df); err != nil {
				return o.fail("pseudowire ethernet: %v", err)
			}
			et, rest = e.EthernetType, e.Payload
		case layers.EthernetTypePPPoESession:
			return o.pppoe(rest)
		case 0x894F: // [D26]
			if len(rest) < 8 {
				return o.fail("nsh: short header")
			}
			hl, md := int(rest[1]&0x3f)*4, rest[2]&0x0f
			if rest[0]>>6 != 0 || hl < 8 || hl > len(rest) || (md != 1 && md != 2) || (md == 1 && hl != 24) {
				return o.fail("nsh: bad header")
			}
			next, payload := rest[3], rest[hl:]
			switch next {
			case 1:
				et, rest = layers.EthernetTypeIPv4, payload
			case 2:
				et, rest = layers.EthernetTypeIPv6, payload
			case 5:
				et, rest = layers.EthernetTypeMPLSUnicast, payload
			case 3:
				var e layers.Ethernet
				if err := e.DecodeFromBytes(payload, df); err != nil {
					return o.fail("nsh ethernet: %v", err)
				}
				et, rest = e.EthernetType, e.Payload
			default:
				return o.fail("nsh: next protocol %d", next)
			}
		default:
			return o.fail("ethertype %v", et)
		}
	}
}

// decodeIPv4 runs gopacket's IPv4 decoder on b, with the options replaced
// by NOPs when gopacket rejects them [D6].
func decodeIPv4(ip *layers.IPv4, b []byte) error {
	err := ip.DecodeFromBytes(b, df)
	if err != nil && strings.Contains(err.Error(), "option") {
		hl := int(b[0]&0x0f) * 4
		for i := 20; i < hl && i < len(b); i++ {
			b[i] = 1
		}
		err = ip.DecodeFromBytes(b, df)
	}
	return err
}

func (o *oracle) ipv4(b []byte) bool {
	var ip layers.IPv4
	if err := decodeIPv4(&ip, b); err != nil {
		return o.fail("ipv4: %v", err)
	}
	if ip.Version != 4 {
		return o.fail("ipv4: version %d", ip.Version) // [D5]
	}
	w := &o.want
	w.Family = 4
	w.Proto = uint8(ip.Protocol)
	copy(w.Src[:], ip.SrcIP.To4())
	copy(w.Dst[:], ip.DstIP.To4())
	w.IPLen = uint32(ip.Length)
	if binary.BigEndian.Uint16(b[2:4]) == 0 {
		w.IPLen = uint32(len(b)) // gopacket wraps this at 64 KiB
	}
	w.L3Offset = uint16(o.off(b))
	first := false
	if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 { // [D10]
		w.IsFragment = true
		w.MoreFragments = ip.Flags&layers.IPv4MoreFragments != 0
		w.FragOffset = ip.FragOffset * 8
		w.FragID = uint32(ip.Id)
		if ip.FragOffset != 0 {
			return true
		}
		first = true
	}
	return o.transport(ip.Protocol, ip.Payload, int(w.IPLen)-int(ip.IHL)*4, first)
}

// ipv6Header decodes the fixed IPv6 header of b with gopacket, hiding the
// extension headers from it [D7]. It returns the payload as gopacket trims
// it (by the payload length, or the captured bytes when that is shorter).
func ipv6Header(ip *layers.IPv6, b []byte) (payload []byte, nh layers.IPProtocol, err error) {
	if len(b) < 40 {
		return nil, 0, fmt.Errorf("ipv6 header: %d bytes", len(b))
	}
	nh = layers.IPProtocol(b[6])
	saveNH, saveLen := b[6], binary.BigEndian.Uint16(b[4:6])
	eff := int(saveLen)
	if saveLen == 0 && nh != layers.IPProtocolNoNextHeader {
		eff = len(b) - 40 // [D7]
		if eff > 0xffff {
			return nil, 0, fmt.Errorf("ipv6: zero payload length with %d bytes", len(b))
		}
	}
	b[6] = byte(layers.IPProtocolNoNextHeader)
	binary.BigEndian.PutUint16(b[4:6], uint16(eff))
	err = ip.DecodeFromBytes(b, df)
	b[6] = saveNH
	binary.BigEndian.PutUint16(b[4:6], saveLen)
	if eff == 0 {
		// gopacket refuses any zero payload length, even with no next
		// header; its fields are set by then [D7].
		return b[40:40], nh, nil
	}
	return ip.Payload, nh, err
}

// ipv6Chain walks the extension headers [D7]. It returns the upper-layer
// protocol and its header, and the Fragment header when there is one.
func ipv6Chain(t []byte, nh layers.IPProtocol) (layers.IPProtocol, []byte, *layers.IPv6Fragment, error) {
	var frag *layers.IPv6Fragment
	for n := 0; ; n++ {
		switch nh {
		case layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Routing, layers.IPProtocolIPv6Destination:
			var sk layers.IPv6ExtensionSkipper
			if err := sk.DecodeFromBytes(t, df); err != nil {
				return nh, t, frag, err
			}
			nh, t = sk.NextHeader, sk.Payload
		case layers.IPProtocolIPv6Fragment:
			pk := gopacket.NewPacket(t, layers.LayerTypeIPv6Fragment, gopacket.NoCopy)
			fl, ok := pk.Layer(layers.LayerTypeIPv6Fragment).(*layers.IPv6Fragment)
			if !ok {
				return nh, t, frag, fmt.Errorf("ipv6 fragment: %v", pk.ErrorLayer().Error())
			}
			frag = fl
			nh, t = fl.NextHeader, fl.Payload
			if fl.FragmentOffset != 0 {
				return nh, t, frag, nil
			}
		case layers.IPProtocolAH:
			pk := gopacket.NewPacket(t, layers.LayerTypeIPSecAH, gopacket.NoCopy)
			ah, ok := pk.Layer(layers.LayerTypeIPSecAH).(*layers.IPSecAH)
			if !ok {
				return nh, t, frag, fmt.Errorf("ah: %v", pk.ErrorLayer().Error())
			}
			if ah.ActualLength < 12 {
				return nh, t, frag, fmt.Errorf("ah: length %d", ah.ActualLength) // [D8]
			}
			nh, t = ah.NextHeader, ah.Payload
		default:
			return nh, t, frag, nil
		}
		if n == MaxExtHeaders {
			return nh, t, frag, fmt.Errorf("more than %d extension headers", MaxExtHeaders) // [D9]
		}
	}
}

func (o *oracle) ipv6(b []byte) bool {
	var ip layers.IPv6
	payload, nh, err := ipv6Header(&ip, b)
	if err != nil {
		return o.fail("ipv6: %v", err)
	}
	if ip.Version != 6 {
		return o.fail("ipv6: version %d", ip.Version) // [D5]
	}
	w := &o.want
	w.Family = 6
	copy(w.Src[:], ip.SrcIP)
	copy(w.Dst[:], ip.DstIP)
	w.L3Offset = uint16(o.off(b))
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if plen == 0 && nh != layers.IPProtocolNoNextHeader {
		plen = len(b) - 40
	}
	w.IPLen = uint32(40 + plen)
	proto, t, frag, err := ipv6Chain(payload, nh)
	if err != nil {
		return o.fail("ipv6 extension headers: %v", err)
	}
	w.Proto = uint8(proto)
	first := false
	if frag != nil && (frag.FragmentOffset != 0 || frag.MoreFragments) { // [D10]
		w.IsFragment = true
		w.MoreFragments = frag.MoreFragments
		w.FragOffset = frag.FragmentOffset * 8
		w.FragID = frag.Identification
		if frag.FragmentOffset != 0 {
			return true
		}
		first = true
	}
	return o.transport(proto, t, plen-(o.off(t)-o.off(b)-40), first)
}

// padded returns the first n bytes of t, zero-filled past its end [D11].
func padded(t []byte, n int) []byte {
	p := make([]byte, n)
	copy(p, t)
	return p
}

// transport decodes the header of proto at t (the captured bytes of the
// datagram from there on; dlen is the datagram's own length from there on).
func (o *oracle) transport(proto layers.IPProtocol, t []byte, dlen int, firstFrag bool) bool {
	w := &o.want
	w.L4Offset = uint16(o.off(t))
	switch proto {
	case layers.IPProtocolTCP:
		var tcp layers.TCP
		err := tcp.DecodeFromBytes(t, df)
		if err != nil && len(t) < 20 { // [D11]
			switch {
			case firstFrag && dlen < 14 && len(t) >= 4:
				// [D10] a first fragment that ends inside the TCP header
				_ = tcp.DecodeFromBytes(padded(t, 20), df)
				w.SrcPort, w.DstPort = uint16(tcp.SrcPort), uint16(tcp.DstPort)
				return true
			case len(t) < 14:
				return o.fail("tcp: %v", err)
			}
			tcp = layers.TCP{}
			err = tcp.DecodeFromBytes(padded(t, 20), df)
		}
		if tcp.DataOffset < 5 {
			return o.fail("tcp: data offset %d", tcp.DataOffset)
		}
		if int(tcp.DataOffset)*4 > dlen && !firstFrag {
			return o.fail("tcp: data offset %d beyond the %d-byte datagram", tcp.DataOffset, dlen)
		}
		// Anything gopacket still objects to is in the options or past
		// the captured bytes, neither of which flowd reads [D6, D11].
		_ = err
		w.SrcPort, w.DstPort = uint16(tcp.SrcPort), uint16(tcp.DstPort)
		w.TCPSeq = tcp.Seq
		w.TCPFlags = tcpFlags(&tcp)
		w.TCPHeaderLen = tcp.DataOffset * 4
	case layers.IPProtocolUDP:
		var udp layers.UDP
		if err := udp.DecodeFromBytes(t, df); err != nil {
			if len(t) < 4 {
				return o.fail("udp: %v", err)
			}
			_ = udp.DecodeFromBytes(padded(t, 8), df) // [D11]
		}
		w.SrcPort, w.DstPort = uint16(udp.SrcPort), uint16(udp.DstPort)
		o.udpTunnel(t, dlen, firstFrag)
	case layers.IPProtocolESP:
		switch {
		case len(t) >= 8:
			pk := gopacket.NewPacket(t, layers.LayerTypeIPSecESP, gopacket.NoCopy)
			if esp, ok := pk.Layer(layers.LayerTypeIPSecESP).(*layers.IPSecESP); ok {
				w.SPI = esp.SPI
			}
		case len(t) >= 4:
			w.SPI = binary.BigEndian.Uint32(t) // [D23]
		}
	case layers.IPProtocolGRE:
		o.gre(t, dlen, firstFrag)
	case layers.IPProtocolIPv4, layers.IPProtocolIPv6, layers.IPProtocolEtherIP:
		o.ipTunnel(proto, t, dlen, firstFrag)
	case layers.IPProtocolSCTP:
		if len(t) < 4 {
			return o.fail("sctp: %d bytes", len(t))
		}
		var sctp layers.SCTP
		_ = sctp.DecodeFromBytes(padded(t, 12), df) // [D11]
		w.SrcPort, w.DstPort = uint16(sctp.SrcPort), uint16(sctp.DstPort)
	case layers.IPProtocolICMPv4:
		var icmp layers.ICMPv4
		if err := icmp.DecodeFromBytes(t, df); err != nil {
			return o.fail("icmpv4: %v", err)
		}
		w.ICMPType, w.ICMPCode = icmp.TypeCode.Type(), icmp.TypeCode.Code()
		switch icmp.TypeCode.Type() {
		case layers.ICMPv4TypeEchoRequest, layers.ICMPv4TypeEchoReply:
			w.IsICMPEcho, w.ICMPEchoID = true, icmp.Id
		case layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4TypeSourceQuench, layers.ICMPv4TypeRedirect,
			layers.ICMPv4TypeTimeExceeded, layers.ICMPv4TypeParameterProblem:
			w.IsICMPError = true
			if err := quotedIPv4(&w.Inner, icmp.Payload); err != nil {
				return o.fail("icmpv4 quote: %v", err)
			}
		}
	case layers.IPProtocolICMPv6:
		var icmp layers.ICMPv6
		if err := icmp.DecodeFromBytes(t, df); err != nil {
			return o.fail("icmpv6: %v", err)
		}
		typ := icmp.TypeCode.Type()
		w.ICMPType, w.ICMPCode = typ, icmp.TypeCode.Code()
		switch {
		case typ == layers.ICMPv6TypeEchoRequest || typ == layers.ICMPv6TypeEchoReply:
			var echo layers.ICMPv6Echo
			if err := echo.DecodeFromBytes(icmp.Payload, df); err != nil {
				return o.fail("icmpv6 echo: %v", err)
			}
			w.IsICMPEcho, w.ICMPEchoID = true, echo.Identifier
		case typ >= layers.ICMPv6TypeDestinationUnreachable && typ <= layers.ICMPv6TypeParameterProblem:
			w.IsICMPError = true
			if len(icmp.Payload) < 4 {
				return o.fail("icmpv6 error: %d bytes after the type", len(icmp.Payload))
			}
			if err := quotedIPv6(&w.Inner, icmp.Payload[4:]); err != nil {
				return o.fail("icmpv6 quote: %v", err)
			}
		}
	}
	return true
}

func tcpFlags(t *layers.TCP) uint8 {
	var f uint8
	for _, x := range []struct {
		set bool
		bit uint8
	}{{t.FIN, TCPFin}, {t.SYN, TCPSyn}, {t.RST, TCPRst}, {t.PSH, TCPPsh}, {t.ACK, TCPAck}, {t.URG, TCPUrg}, {t.ECE, TCPEce}, {t.CWR, TCPCwr}} {
		if x.set {
			f |= x.bit
		}
	}
	return f
}

// quotedIPv4 decodes the packet quoted in an ICMPv4 error [D12].
func quotedIPv4(in *Tuple, q []byte) error {
	if len(q) < 20 {
		return fmt.Errorf("%d bytes", len(q))
	}
	binary.BigEndian.PutUint16(q[2:4], uint16(min(len(q), 0xffff)))
	var ip layers.IPv4
	if err := decodeIPv4(&ip, q); err != nil {
		return err
	}
	if ip.Version != 4 {
		return fmt.Errorf("version %d", ip.Version) // [D5]
	}
	if ip.FragOffset != 0 {
		return fmt.Errorf("a later fragment")
	}
	in.Family = 4
	in.Proto = uint8(ip.Protocol)
	copy(in.Src[:], ip.SrcIP.To4())
	copy(in.Dst[:], ip.DstIP.To4())
	return quotedPorts(in, ip.Payload)
}

// quotedIPv6 decodes the packet quoted in an ICMPv6 error [D12].
func quotedIPv6(in *Tuple, q []byte) error {
	if len(q) < 40 {
		return fmt.Errorf("%d bytes", len(q))
	}
	binary.BigEndian.PutUint16(q[4:6], uint16(min(len(q)-40, 0xffff)))
	var ip layers.IPv6
	payload, nh, err := ipv6Header(&ip, q)
	if err != nil {
		return err
	}
	if ip.Version != 6 {
		return fmt.Errorf("version %d", ip.Version) // [D5]
	}
	proto, t, frag, err := ipv6Chain(payload, nh)
	if err != nil {
		return err
	}
	if frag != nil && frag.FragmentOffset != 0 {
		return fmt.Errorf("a later fragment")
	}
	in.Family = 6
	in.Proto = uint8(proto)
	copy(in.Src[:], ip.SrcIP)
	copy(in.Dst[:], ip.DstIP)
	return quotedPorts(in, t)
}

func quotedPorts(in *Tuple, t []byte) error {
	switch layers.IPProtocol(in.Proto) {
	case layers.IPProtocolTCP, layers.IPProtocolUDP, layers.IPProtocolSCTP:
		if len(t) < 4 {
			return fmt.Errorf("ports cut: %d bytes", len(t))
		}
		var udp layers.UDP
		_ = udp.DecodeFromBytes(padded(t, 8), df) // [D11]
		in.SrcPort, in.DstPort = uint16(udp.SrcPort), uint16(udp.DstPort)
	case layers.IPProtocolICMPv4, layers.IPProtocolICMPv6:
		// A quoted ICMP packet: SrcPort holds its type [D12].
		if len(t) < 1 {
			return fmt.Errorf("quoted ICMP type cut")
		}
		if in.Proto == uint8(layers.IPProtocolICMPv4) {
			var m layers.ICMPv4
			_ = m.DecodeFromBytes(padded(t, 8), df)
			in.SrcPort = uint16(m.TypeCode.Type())
		} else {
			var m layers.ICMPv6
			_ = m.DecodeFromBytes(padded(t, 8), df)
			in.SrcPort = uint16(m.TypeCode.Type())
		}
	}
	return nil
}
