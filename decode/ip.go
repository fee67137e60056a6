package decode

const (
	ip4HeaderLen = 20
	ip6HeaderLen = 40
	ip6FragLen   = 8

	// MaxExtHeaders is the longest IPv6 extension header chain Decode
	// follows. RFC 8200 §4.1 orders at most six (destination options may
	// appear twice); a longer chain is treated as malformed, which also
	// bounds the work an attacker can ask for.
	MaxExtHeaders = 8
)

// IPv6 extension headers (next-header values) that Decode walks through.
const (
	ip6HopByHop    = 0
	ip6Routing     = 43
	ip6Fragment    = 44
	ip6AH          = 51
	ip6DestOptions = 60
	ip6NoNext      = 59
)

// decodeIPv4 decodes the IPv4 packet ip, found at offset off in the frame.
func (p *Packet) decodeIPv4(ip []byte, off int) {
	if len(ip) < ip4HeaderLen {
		p.Reason = ReasonTruncated
		return
	}
	h := ip[:ip4HeaderLen:ip4HeaderLen] // one bounds check for the fixed header
	if h[0]>>4 != 4 {
		p.Reason = ReasonBadIPVersion
		return
	}
	hl := int(h[0]&0x0F) << 2
	if hl < ip4HeaderLen {
		p.Reason = ReasonBadIPHeaderLen
		return
	}
	tot := int(h[2])<<8 | int(h[3])
	if tot == 0 {
		// A total length of 0 is what a sender using TCP segmentation
		// offload (Windows TSO, Linux BIG TCP above 64 KiB) hands to the
		// capture point: the captured bytes are the datagram. Wireshark
		// and gopacket read it the same way.
		tot = len(ip)
	} else if tot < hl {
		p.Reason = ReasonBadIPTotalLen
		return
	}
	if len(ip) < hl {
		p.Reason = ReasonTruncated
		return
	}
	p.Family = 4
	p.Proto = h[9]
	*(*[4]byte)(p.Src[:]) = [4]byte(h[12:16])
	*(*[4]byte)(p.Dst[:]) = [4]byte(h[16:20])
	p.IPLen = uint32(tot)
	p.L3Offset = uint16(off)

	if ff := uint16(h[6])<<8 | uint16(h[7]); ff&0x3FFF != 0 { // MF or offset
		p.IsFragment = true
		p.MoreFragments = ff&0x2000 != 0
		p.FragOffset = ff << 3 // the 13-bit offset counts 8-byte units
		p.FragID = uint32(h[4])<<8 | uint32(h[5])
		if p.FragOffset != 0 {
			return // a later fragment: no transport header
		}
	}
	// The datagram ends at tot (Ethernet pads short frames) or where the
	// capture was cut, whichever comes first.
	t := ip[hl:]
	if n := uint(tot - hl); n < uint(len(t)) {
		t = t[:n]
	}
	p.L4Offset = uint16(off + hl)
	p.decodeTransport(t, tot-hl)
}

// decodeIPv6 decodes the IPv6 packet ip, found at offset off in the frame:
// its extension headers and what follows them.
func (p *Packet) decodeIPv6(ip []byte, off int) {
	if len(ip) < ip6HeaderLen {
		p.Reason = ReasonTruncated
		return
	}
	h := ip[:ip6HeaderLen:ip6HeaderLen]
	if h[0]>>4 != 6 {
		p.Reason = ReasonBadIPVersion
		return
	}
	p.Family = 6
	p.Src = [16]byte(h[8:24])
	p.Dst = [16]byte(h[24:40])
	p.L3Offset = uint16(off)
	nh := h[6]
	plen := int(h[4])<<8 | int(h[5])
	if plen == 0 && nh != ip6NoNext {
		// Only a packet with no next header can have an empty payload; a
		// zero length is TCP segmentation offload (Linux BIG TCP) or a
		// jumbogram (RFC 2675), and the captured bytes are the datagram.
		plen = len(ip) - ip6HeaderLen
	}
	p.IPLen = uint32(ip6HeaderLen + plen)
	t := ip[ip6HeaderLen:]
	if uint(plen) < uint(len(t)) {
		t = t[:plen]
	}

	proto, l4, frag, id, r := walkIPv6(t, nh, plen)
	if r != ReasonOK {
		p.Reason = r
		return
	}
	p.Proto = proto
	if frag&0xFFF9 != 0 { // offset or M set; RFC 6946 atomic fragments are not fragments
		p.IsFragment = true
		p.MoreFragments = frag&1 != 0
		p.FragOffset = frag &^ 7
		p.FragID = id
		if p.FragOffset != 0 {
			return
		}
	}
	hoff := len(t) - len(l4)
	p.L4Offset = uint16(off + ip6HeaderLen + hoff)
	p.decodeTransport(l4, plen-hoff)
}

// walkIPv6 follows the IPv6 extension header chain whose first header, of
// type nh, starts at t[0]. The datagram holds dlen bytes from t[0]; t holds
// those that were captured. It returns the upper-layer protocol and the
// bytes from its header on, and the Fragment header's offset-and-flags word
// and identification when there was one.
//
// A header that runs past dlen, or a chain longer than MaxExtHeaders, is
// ReasonBadExtHeader; one that runs past len(t) only is ReasonTruncated.
// After a later fragment's Fragment header the chain stops: proto is that
// header's next header and rest the fragment data.
func walkIPv6(t []byte, nh uint8, dlen int) (proto uint8, rest []byte, frag uint16, id uint32, r Reason) {
	for n := 0; ; n++ {
		var hlen int
		switch nh {
		case ip6HopByHop, ip6Routing, ip6DestOptions, ip6AH:
			if dlen < 2 {
				return nh, t, frag, id, ReasonBadExtHeader
			}
			if len(t) < 2 {
				return nh, t, frag, id, ReasonTruncated
			}
			if nh == ip6AH {
				// RFC 4302: the length counts 4-byte words minus 2; the
				// fixed part (next header .. sequence number) is 12 bytes.
				hlen = (int(t[1]) + 2) << 2
				if hlen < 12 {
					return nh, t, frag, id, ReasonBadExtHeader
				}
			} else {
				hlen = (int(t[1]) + 1) << 3
			}
			nh = t[0]
		case ip6Fragment:
			if dlen < ip6FragLen {
				return nh, t, frag, id, ReasonBadExtHeader
			}
			if len(t) < ip6FragLen {
				return nh, t, frag, id, ReasonTruncated
			}
			f := t[:ip6FragLen:ip6FragLen]
			nh = f[0]
			frag = uint16(f[2])<<8 | uint16(f[3])
			id = uint32(f[4])<<24 | uint32(f[5])<<16 | uint32(f[6])<<8 | uint32(f[7])
			if frag&^7 != 0 {
				return nh, t[ip6FragLen:], frag, id, ReasonOK
			}
			hlen = ip6FragLen
		default:
			// Upper layer: TCP, UDP, ICMPv6, ESP (opaque from here on),
			// no next header, or anything else.
			return nh, t, frag, id, ReasonOK
		}
		if hlen > dlen || n == MaxExtHeaders {
			return nh, t, frag, id, ReasonBadExtHeader
		}
		if uint(hlen) > uint(len(t)) {
			return nh, t, frag, id, ReasonTruncated // the capture ends inside it
		}
		t = t[hlen:]
		dlen -= hlen
	}
}
