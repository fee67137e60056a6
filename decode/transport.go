package decode

// Bytes of each transport header that Decode needs. TCP needs everything up
// to the flags byte; UDP and SCTP only the ports; ICMP its 8-byte header
// (ICMPv6 messages other than echo and errors only type, code and checksum).
const (
	portsLen    = 4
	tcpNeedLen  = 14
	tcpMinLen   = 20
	icmpLen     = 8
	icmp6MinLen = 4
)

// ICMP message types Decode looks into.
const (
	icmp4EchoReply    = 0
	icmp4Unreachable  = 3
	icmp4SourceQuench = 4
	icmp4Redirect     = 5
	icmp4Echo         = 8
	icmp4TimeExceeded = 11
	icmp4ParamProblem = 12
	icmp6Unreachable  = 1
	icmp6ParamProblem = 4 // 1-4: unreachable, too big, time exceeded, parameter problem
	icmp6EchoRequest  = 128
	icmp6EchoReply    = 129
	icmpQuoteOffset   = 8 // the quoted packet follows the 8-byte ICMP header
)

// HasPorts reports whether proto's header starts with 16-bit source and
// destination ports that name a flow.
func HasPorts(proto uint8) bool {
	return proto == ProtoTCP || proto == ProtoUDP || proto == ProtoSCTP
}

// decodeTransport decodes the header of protocol p.Proto at t[0]. t holds
// the captured bytes of the datagram from there on; the datagram itself has
// dlen bytes from there on (more when the capture was cut short).
func (p *Packet) decodeTransport(t []byte, dlen int) {
	switch p.Proto {
	case ProtoTCP:
		if len(t) < tcpNeedLen {
			p.short(t, dlen, tcpNeedLen)
			return
		}
		h := t[:tcpNeedLen:tcpNeedLen]
		p.SrcPort = uint16(h[0])<<8 | uint16(h[1])
		p.DstPort = uint16(h[2])<<8 | uint16(h[3])
		p.TCPSeq = uint32(h[4])<<24 | uint32(h[5])<<16 | uint32(h[6])<<8 | uint32(h[7])
		p.TCPFlags = h[13]
		hl := int(h[12]>>4) << 2
		// A first fragment may end inside the header (it continues in the
		// next fragment); any other datagram must hold all of it.
		if hl < tcpMinLen || hl > dlen && !p.IsFragment {
			p.Reason = ReasonBadTCPHeaderLen
			return
		}
		p.TCPHeaderLen = uint8(hl)
	case ProtoUDP, ProtoSCTP:
		if len(t) < portsLen {
			p.short(t, dlen, portsLen)
			return
		}
		h := t[:portsLen:portsLen]
		p.SrcPort = uint16(h[0])<<8 | uint16(h[1])
		p.DstPort = uint16(h[2])<<8 | uint16(h[3])
		if p.Proto == ProtoUDP && tunnels.mayTunnel(p.SrcPort, p.DstPort) {
			p.udpTunnel(t, dlen)
		}
	case ProtoESP:
		if len(t) >= 4 {
			h := t[:4:4]
			p.SPI = uint32(h[0])<<24 | uint32(h[1])<<16 | uint32(h[2])<<8 | uint32(h[3])
		}
	case ProtoGRE:
		p.greTunnel(t, dlen)
	case ProtoIPv4, ProtoIPv6, ProtoEtherIP:
		p.ipTunnel(t, dlen)
	case ProtoICMP:
		p.decodeICMPv4(t, dlen)
	case ProtoICMPv6:
		p.decodeICMPv6(t, dlen)
	}
}

// short sets p.Reason for a transport header of which fewer than need bytes
// were captured.
func (p *Packet) short(t []byte, dlen, need int) {
	// A first fragment that ends inside its transport header (RFC 1858's
	// tiny fragments) still names its flow when it holds the ports.
	if p.IsFragment && dlen < need && len(t) >= portsLen && HasPorts(p.Proto) {
		h := t[:portsLen:portsLen]
		p.SrcPort = uint16(h[0])<<8 | uint16(h[1])
		p.DstPort = uint16(h[2])<<8 | uint16(h[3])
		return
	}
	p.Reason = ReasonTruncated
}

func (p *Packet) decodeICMPv4(t []byte, dlen int) {
	if len(t) < icmpLen {
		p.short(t, dlen, icmpLen)
		return
	}
	h := t[:icmpLen:icmpLen]
	p.ICMPType, p.ICMPCode = h[0], h[1]
	switch h[0] {
	case icmp4Echo, icmp4EchoReply:
		p.IsICMPEcho = true
		p.ICMPEchoID = uint16(h[4])<<8 | uint16(h[5])
	case icmp4Unreachable, icmp4SourceQuench, icmp4Redirect, icmp4TimeExceeded, icmp4ParamProblem:
		p.IsICMPError = true
		if !p.Inner.quotedIPv4(t[icmpQuoteOffset:]) {
			p.Reason = ReasonBadICMPError
		}
	}
}

func (p *Packet) decodeICMPv6(t []byte, dlen int) {
	if len(t) < icmp6MinLen {
		p.short(t, dlen, icmp6MinLen)
		return
	}
	typ := t[0]
	p.ICMPType, p.ICMPCode = typ, t[1]
	switch {
	case typ == icmp6EchoRequest || typ == icmp6EchoReply:
		if len(t) < icmpLen {
			p.short(t, dlen, icmpLen)
			return
		}
		p.IsICMPEcho = true
		p.ICMPEchoID = uint16(t[4])<<8 | uint16(t[5])
	case typ >= icmp6Unreachable && typ <= icmp6ParamProblem:
		p.IsICMPError = true
		if len(t) < icmpLen || !p.Inner.quotedIPv6(t[icmpQuoteOffset:]) {
			p.Reason = ReasonBadICMPError
		}
	}
}

// quotedIPv4 fills t from the IPv4 packet quoted in an ICMP error message
// and reports whether it names a flow: a whole IPv4 header, and the ports
// when the quoted protocol has them. The quoted total length is not checked:
// the quote is cut by design, and some stacks rewrite that field.
func (t *Tuple) quotedIPv4(q []byte) bool {
	if len(q) < ip4HeaderLen {
		return false
	}
	h := q[:ip4HeaderLen:ip4HeaderLen]
	hl := int(h[0]&0x0F) << 2
	if h[0]>>4 != 4 || hl < ip4HeaderLen || hl > len(q) {
		return false
	}
	if (uint16(h[6])<<8|uint16(h[7]))&0x1FFF != 0 {
		return false // a later fragment: no ports to name the flow by
	}
	t.Family = 4
	t.Proto = h[9]
	*(*[4]byte)(t.Src[:]) = [4]byte(h[12:16])
	*(*[4]byte)(t.Dst[:]) = [4]byte(h[16:20])
	return t.quotedPorts(q[hl:])
}

// quotedIPv6 is quotedIPv4 for an IPv6 packet, extension headers included.
func (t *Tuple) quotedIPv6(q []byte) bool {
	if len(q) < ip6HeaderLen {
		return false
	}
	h := q[:ip6HeaderLen:ip6HeaderLen]
	if h[0]>>4 != 6 {
		return false
	}
	e := q[ip6HeaderLen:]
	proto, l4, frag, _, r := walkIPv6(e, h[6], len(e))
	if r != ReasonOK || frag&^7 != 0 {
		return false
	}
	t.Family = 6
	t.Proto = proto
	t.Src = [16]byte(h[8:24])
	t.Dst = [16]byte(h[24:40])
	return t.quotedPorts(l4)
}

func (t *Tuple) quotedPorts(q []byte) bool {
	if t.Proto == ProtoICMP || t.Proto == ProtoICMPv6 {
		if len(q) < 1 {
			return false
		}
		t.SrcPort = uint16(q[0]) // the quoted ICMP type
		return true
	}
	if !HasPorts(t.Proto) {
		return true
	}
	if len(q) < portsLen {
		return false
	}
	h := q[:portsLen:portsLen]
	t.SrcPort = uint16(h[0])<<8 | uint16(h[1])
	t.DstPort = uint16(h[2])<<8 | uint16(h[3])
	return true
}

// ICMPCounterpart returns the ICMP type that answers typ, or the one typ
// answers, for ICMPv4 (proto ProtoICMP) or ICMPv6 (ProtoICMPv6), and false
// when typ has no counterpart. Suricata keys ICMP flows by the pair, so
// that a request and its reply are one flow: echo 8 and reply 0,
// timestamp 13 and 14, information 15 and 16, router solicitation 10 and
// advertisement 9, address mask 17 and 18; ICMPv6 echo 128 and 129, MLD
// query 130 and report 131, router 133 and 134, neighbor 135 and 136, node
// information 139 and 140, home agent address discovery 144 and 145,
// mobile prefix 146 and 147, certification path 148 and 149, multicast
// router solicitation 152 and advertisement 151, duplicate address
// request 157 and confirmation 158.
func ICMPCounterpart(proto, typ uint8) (uint8, bool) {
	var pairs []uint8 // request, reply, request, reply, ...
	switch proto {
	case ProtoICMP:
		pairs = icmp4Pairs[:]
	case ProtoICMPv6:
		pairs = icmp6Pairs[:]
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		switch typ {
		case pairs[i]:
			return pairs[i+1], true
		case pairs[i+1]:
			return pairs[i], true
		}
	}
	return 0, false
}

var (
	icmp4Pairs = [...]uint8{8, 0, 13, 14, 15, 16, 10, 9, 17, 18}
	icmp6Pairs = [...]uint8{128, 129, 130, 131, 133, 134, 135, 136, 139, 140, 144, 145, 146, 147, 148, 149, 152, 151, 157, 158}
)
