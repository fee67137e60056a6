package decode

import (
	"math/bits"

	"github.com/flowd/flowd/capture"
)

// Header sizes and limits.
const (
	ethHeaderLen   = 14
	vlanTagLen     = 4
	sllHeaderLen   = 16 // Linux cooked capture v1; protocol at bytes 14-15
	sll2HeaderLen  = 20 // Linux cooked capture v2; protocol at bytes 0-1
	nullHeaderLen  = 4  // BSD null / OpenBSD loop: a 4-byte address family
	chdlcHeaderLen = 4  // Cisco HDLC: address, control, ethertype
	mplsLabelLen   = 4
	mplsPWLen      = 4 // the control word before a pseudowire's Ethernet frame
	pppoeLen       = 6 // PPPoE session header before the PPP protocol

	// MaxVLANTags is the deepest VLAN tag stack Decode walks through. Real
	// networks stack at most three (Suricata refuses more than three); the cap
	// bounds the work per frame and keeps L3Offset within a uint16.
	MaxVLANTags = 8

	// MaxMPLSLabels is the deepest MPLS label stack Decode walks through;
	// a deeper one is ReasonBadMPLS. Deployed stacks hold a handful of
	// labels (transport, service, entropy); the cap bounds the work.
	MaxMPLSLabels = 8
)

// Link types flowd decodes beyond the classic ones, named here too so that
// the decoder's cases read as the link layers they are.
const (
	// LinkPPP is LINKTYPE_PPP: a PPP frame, with or without the 0xff 0x03
	// address and control bytes, then a 1- or 2-byte protocol.
	LinkPPP = capture.LinkPPP
	// LinkCiscoHDLC is LINKTYPE_C_HDLC: address, control and an ethertype.
	LinkCiscoHDLC = capture.LinkCHDLC
)

// Ethertypes.
const (
	etherTypeIPv4     = 0x0800
	etherTypeIPv6     = 0x86DD
	etherTypeVLAN     = 0x8100 // IEEE 802.1Q customer tag
	etherTypeQinQ     = 0x88A8 // IEEE 802.1ad service tag
	etherTypeQinQ9100 = 0x9100 // pre-standard QinQ service tag
	etherTypeMPLS     = 0x8847 // MPLS unicast
	etherTypeMPLSMC   = 0x8848 // MPLS multicast (same label format)
	etherTypePPPoE    = 0x8864 // PPPoE session stage
	etherTypeTEB      = 0x6558 // transparent Ethernet bridging
	etherTypeERSPAN   = 0x88BE // ERSPAN type I and II
	etherTypeERSPAN3  = 0x22EB // ERSPAN type III
	etherTypePPP      = 0x880B // PPP, in PPTP's GRE
	etherTypeNSH      = 0x894F // RFC 8300 Network Service Header
)

// PPP protocol numbers.
const (
	pppIPv4   = 0x0021
	pppIPv6   = 0x0057
	pppMPLS   = 0x0281
	pppMPLSMC = 0x0283
)

// Address families found in BSD null and loop headers. IPv4 is 2 everywhere;
// IPv6 depends on the capturing OS.
const (
	afINET         = 2
	afINET6Linux   = 10
	afINET6BSD     = 24     // NetBSD, OpenBSD, BSD/OS
	afINET6FreeBSD = 28     // FreeBSD, DragonFly BSD
	afINET6Darwin  = 30     // macOS, iOS
	maxAddrFamily  = 0xFFFF // families are small; a larger value was written byte-swapped
)

// Decode parses the frame b, captured with link-layer type link, into p. It
// resets every field of p first; afterwards p.Reason says whether p describes
// a usable IP packet, and p.Tunnel whether it carries another one
// (DecodeInner). Decode keeps no reference to b, never allocates and never
// panics.
func (p *Packet) Decode(b []byte, link capture.LinkType) {
	*p = Packet{CapLen: uint32(len(b))}

	var off int
	var et uint16
	switch link {
	case capture.LinkEthernet:
		if len(b) < ethHeaderLen {
			p.Reason = ReasonTruncated
			return
		}
		off, et = ethHeaderLen, uint16(b[12])<<8|uint16(b[13])
	case capture.LinkLinuxSLL:
		if len(b) < sllHeaderLen {
			p.Reason = ReasonTruncated
			return
		}
		off, et = sllHeaderLen, uint16(b[14])<<8|uint16(b[15])
	case capture.LinkLinuxSLL2:
		if len(b) < sll2HeaderLen {
			p.Reason = ReasonTruncated
			return
		}
		off, et = sll2HeaderLen, uint16(b[0])<<8|uint16(b[1])
	case LinkCiscoHDLC:
		if len(b) < chdlcHeaderLen {
			p.Reason = ReasonTruncated
			return
		}
		off, et = chdlcHeaderLen, uint16(b[2])<<8|uint16(b[3])
	case LinkPPP:
		p.decodePPP(b, 0)
		return
	case capture.LinkRaw:
		p.decodeRaw(b, 0)
		return
	case capture.LinkIPv4:
		p.decodeIPv4(b, 0)
		return
	case capture.LinkIPv6:
		p.decodeIPv6(b, 0)
		return
	case capture.LinkNull, capture.LinkLoop:
		if len(b) < nullHeaderLen {
			p.Reason = ReasonTruncated
			return
		}
		// LINKTYPE_NULL stores the family in the capturing host's byte
		// order, LINKTYPE_LOOP in network order; families are small, so
		// a value with the high half set was written the other way round.
		// Both link types accept both orders, as libpcap and gopacket do.
		fam := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		if fam > maxAddrFamily {
			fam = bits.ReverseBytes32(fam)
		}
		switch fam {
		case afINET:
			p.decodeIPv4(b[nullHeaderLen:], nullHeaderLen)
		case afINET6Linux, afINET6BSD, afINET6FreeBSD, afINET6Darwin:
			p.decodeIPv6(b[nullHeaderLen:], nullHeaderLen)
		default:
			p.Reason = ReasonNonIP
		}
		return
	default:
		p.Reason = ReasonUnsupportedLink
		return
	}
	p.decodeEtherType(b[off:], off, et)
}

// decodeRaw decodes an IP packet whose version nibble says which.
func (p *Packet) decodeRaw(b []byte, off int) {
	if len(b) < 1 {
		p.Reason = ReasonTruncated
		return
	}
	switch b[0] >> 4 {
	case 4:
		p.decodeIPv4(b, off)
	case 6:
		p.decodeIPv6(b, off)
	default:
		p.Reason = ReasonBadIPVersion
	}
}

// decodeEtherType decodes b, found at offset off in the frame, whose
// protocol is the ethertype et: VLAN tags (which Ethernet, SLL, SLL2 and
// Cisco HDLC may carry before the network layer; libpcap re-inserts the
// tag the kernel stripped, for cooked captures too), MPLS label stacks,
// PPPoE sessions, and at last IPv4 or IPv6.
func (p *Packet) decodeEtherType(b []byte, off int, et uint16) {
	ntags := uint(0)
	pw := false // inside an MPLS Ethernet pseudowire
	for {
		switch et {
		case etherTypeVLAN, etherTypeQinQ, etherTypeQinQ9100:
			rest, next := p.decodeVLAN(b, et, &ntags)
			if p.Reason != ReasonOK {
				return
			}
			b, off, et = rest, off+len(b)-len(rest), next
			continue
		case etherTypeIPv4:
			p.decodeIPv4(b, off)
		case etherTypeIPv6:
			p.decodeIPv6(b, off)
		case etherTypeMPLS, etherTypeMPLSMC:
			n, ok := p.decodeMPLS(b, off, pw)
			if !ok {
				return
			}
			// An Ethernet pseudowire: its frame starts n bytes on, and
			// decodeMPLS made sure its header is there.
			pw = true
			eth := b[n : n+ethHeaderLen : n+ethHeaderLen]
			et = uint16(eth[12])<<8 | uint16(eth[13])
			b, off = b[n+ethHeaderLen:], off+n+ethHeaderLen
			continue
		case etherTypePPPoE:
			p.decodePPPoE(b, off)
		case etherTypeNSH:
			n, next, ok := p.decodeNSH(b)
			if !ok {
				return
			}
			b, off, et = b[n:], off+n, next
			if next == etherTypeTEB { // an Ethernet frame follows
				if len(b) < ethHeaderLen {
					p.Reason = ReasonTruncated
					return
				}
				et = uint16(b[12])<<8 | uint16(b[13])
				b, off = b[ethHeaderLen:], off+ethHeaderLen
			}
			continue
		default:
			// 802.3 length fields (< 0x0600), ARP, LLDP, PPPoE discovery, ...
			p.Reason = ReasonNonIP
		}
		return
	}
}

// decodeNSH checks the RFC 8300 Network Service Header at the start of b
// as Suricata does (version 0; MD type 1 with its fixed 24 bytes, or MD
// type 2) and returns its length and what follows it, as an ethertype
// (etherTypeTEB for an Ethernet frame). Other payloads are not IP.
func (p *Packet) decodeNSH(b []byte) (n int, next uint16, ok bool) {
	if len(b) < 8 {
		p.Reason = ReasonTruncated
		return 0, 0, false
	}
	n = int(b[1]&0x3F) * 4
	md := b[2] & 0x0F
	switch {
	case b[0]>>6 != 0, n < 8, md == 1 && n != 24, md != 1 && md != 2:
		p.Reason = ReasonNonIP
		return 0, 0, false
	case n > len(b):
		p.Reason = ReasonTruncated
		return 0, 0, false
	}
	switch b[3] {
	case 1:
		next = etherTypeIPv4
	case 2:
		next = etherTypeIPv6
	case 3:
		next = etherTypeTEB
	case 5:
		next = etherTypeMPLS
	default:
		p.Reason = ReasonNonIP
		return 0, 0, false
	}
	return n, next, true
}

// decodeVLAN walks the VLAN tags at the start of b, the first of which has
// the tag protocol id et, and returns what follows the last tag and its
// ethertype. *n counts the tags seen in the frame so far; the three
// outermost ids are kept.
func (p *Packet) decodeVLAN(b []byte, et uint16, n *uint) ([]byte, uint16) {
	for et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQ9100 {
		if *n == MaxVLANTags {
			p.Reason = ReasonTooManyVLANs
			return b, et
		}
		if len(b) < vlanTagLen {
			p.Reason = ReasonTruncated
			return b, et
		}
		tag := b[:vlanTagLen:vlanTagLen]
		id := (uint16(tag[0])<<8 | uint16(tag[1])) & 0x0FFF
		if *n < uint(len(p.VLAN)) {
			p.VLAN[*n] = id
		}
		et = uint16(tag[2])<<8 | uint16(tag[3])
		b = b[vlanTagLen:]
		*n++
	}
	p.NumVLAN = uint8(min(*n, 3))
	return b, et
}

// decodeMPLS walks the MPLS label stack at b (offset off in the frame) and
// decodes the IP packet under it. When an Ethernet pseudowire is under it
// instead, it returns the offset in b of the pseudowire's Ethernet header
// (whose 14 bytes are there) and true; noPW refuses one (ReasonBadMPLS).
func (p *Packet) decodeMPLS(b []byte, off int, noPW bool) (int, bool) {
	n := 0
	for {
		if n == MaxMPLSLabels {
			p.Reason = ReasonBadMPLS
			return 0, false
		}
		if len(b) < mplsLabelLen {
			p.Reason = ReasonTruncated
			return 0, false
		}
		e := b[:mplsLabelLen:mplsLabelLen]
		b, off, n = b[mplsLabelLen:], off+mplsLabelLen, n+1
		if e[2]&0x01 == 0 {
			continue // not the bottom of the stack
		}
		// The bottom label: IPv4 and IPv6 explicit null name the payload;
		// the other reserved labels (router alert, implicit null, ...)
		// cannot be at the bottom.
		switch label := uint32(e[0])<<12 | uint32(e[1])<<4 | uint32(e[2])>>4; {
		case label == 0:
			p.decodeIPv4(b, off)
			return 0, false
		case label == 2:
			p.decodeIPv6(b, off)
			return 0, false
		case label < 16:
			p.Reason = ReasonBadMPLS
			return 0, false
		}
		break
	}
	// Anything else: the first nibble tells IPv4 and IPv6 from a
	// pseudowire control word (RFC 4385: first nibble 0).
	if len(b) < 1 {
		p.Reason = ReasonTruncated
		return 0, false
	}
	switch b[0] >> 4 {
	case 4:
		p.decodeIPv4(b, off)
	case 6:
		p.decodeIPv6(b, off)
	case 0:
		if noPW {
			p.Reason = ReasonBadMPLS
			break
		}
		if len(b) < mplsPWLen+ethHeaderLen {
			p.Reason = ReasonTruncated
			break
		}
		return n*mplsLabelLen + mplsPWLen, true
	default:
		p.Reason = ReasonBadMPLS
	}
	return 0, false
}

// decodePPPoE decodes a PPPoE session frame at b (offset off in the frame)
// and the PPP frame it carries.
func (p *Packet) decodePPPoE(b []byte, off int) {
	if len(b) < pppoeLen {
		p.Reason = ReasonTruncated
		return
	}
	h := b[:pppoeLen:pppoeLen]
	n := int(h[4])<<8 | int(h[5])
	if h[0] != 0x11 || h[1] != 0 || n < 1 {
		p.Reason = ReasonBadPPPoE
		return
	}
	b = b[pppoeLen:]
	if n < len(b) {
		b = b[:n] // the rest is Ethernet padding
	}
	p.decodePPP(b, off+pppoeLen)
}

// decodePPP decodes a PPP frame at b (offset off in the frame): the
// optional address and control bytes (0xff 0x03), the protocol (one byte
// when its low bit is set, as RFC 1661 allows compressing it, else two) and
// IPv4, IPv6 or MPLS under it.
func (p *Packet) decodePPP(b []byte, off int) {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b, off = b[2:], off+2
	}
	if len(b) < 1 {
		p.Reason = ReasonTruncated
		return
	}
	proto := uint16(b[0])
	n := 1
	if b[0]&1 == 0 {
		if len(b) < 2 {
			p.Reason = ReasonTruncated
			return
		}
		proto, n = proto<<8|uint16(b[1]), 2
	}
	b, off = b[n:], off+n
	switch proto {
	case pppIPv4:
		p.decodeIPv4(b, off)
	case pppIPv6:
		p.decodeIPv6(b, off)
	case pppMPLS, pppMPLSMC:
		p.decodeMPLS(b, off, true) // no Ethernet pseudowires over PPP
	default:
		// LCP, IPCP and other control protocols, compressed TCP/IP, ...
		p.Reason = ReasonNonIP
	}
}
