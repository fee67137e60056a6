package decode

import (
	"math/bits"

	"github.com/flowd/flowd/capture"
)

// Header sizes and limits.
const (
	ethHeaderLen  = 14
	vlanTagLen    = 4
	sllHeaderLen  = 16 // Linux cooked capture v1; protocol at bytes 14-15
	sll2HeaderLen = 20 // Linux cooked capture v2; protocol at bytes 0-1
	nullHeaderLen = 4  // BSD null / OpenBSD loop: a 4-byte address family

	// MaxVLANTags is the deepest VLAN tag stack Decode walks through. Real
	// networks stack at most three (Suricata refuses more than three); the cap
	// bounds the work per frame and keeps L3Offset within a uint16.
	MaxVLANTags = 8
)

// Ethertypes.
const (
	etherTypeIPv4     = 0x0800
	etherTypeIPv6     = 0x86DD
	etherTypeVLAN     = 0x8100 // IEEE 802.1Q customer tag
	etherTypeQinQ     = 0x88A8 // IEEE 802.1ad service tag
	etherTypeQinQ9100 = 0x9100 // pre-standard QinQ service tag
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
// a usable IP packet. Decode keeps no reference to b, never allocates and
// never panics.
func (p *Packet) Decode(b []byte, link capture.LinkType) {
	*p = Packet{CapLen: uint32(len(b))}

	var off int
	var et uint16
	var rest []byte // the frame after the link header
	switch link {
	case capture.LinkEthernet:
		if len(b) < ethHeaderLen {
			p.Reason = ReasonTruncated
			return
		}
		off, et, rest = ethHeaderLen, uint16(b[12])<<8|uint16(b[13]), b[ethHeaderLen:]
	case capture.LinkLinuxSLL:
		if len(b) < sllHeaderLen {
			p.Reason = ReasonTruncated
			return
		}
		off, et, rest = sllHeaderLen, uint16(b[14])<<8|uint16(b[15]), b[sllHeaderLen:]
	case capture.LinkLinuxSLL2:
		if len(b) < sll2HeaderLen {
			p.Reason = ReasonTruncated
			return
		}
		off, et, rest = sll2HeaderLen, uint16(b[0])<<8|uint16(b[1]), b[sll2HeaderLen:]
	case capture.LinkRaw:
		if len(b) < 1 {
			p.Reason = ReasonTruncated
			return
		}
		switch b[0] >> 4 {
		case 4:
			p.decodeIPv4(b, 0)
		case 6:
			p.decodeIPv6(b, 0)
		default:
			p.Reason = ReasonBadIPVersion
		}
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

	// Ethernet, SLL and SLL2 name the network layer by ethertype, and may
	// carry VLAN tags before it (libpcap re-inserts the tag the kernel
	// stripped, for cooked captures too).
	if et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQ9100 {
		rest, et = p.decodeVLAN(rest, et)
		if p.Reason != ReasonOK {
			return
		}
		off = len(b) - len(rest)
	}
	switch et {
	case etherTypeIPv4:
		p.decodeIPv4(rest, off)
	case etherTypeIPv6:
		p.decodeIPv6(rest, off)
	default:
		// 802.3 length fields (< 0x0600), ARP, LLDP, MPLS, PPPoE, ...
		p.Reason = ReasonNonIP
	}
}

// decodeVLAN walks the VLAN tags at the start of b, the first of which has
// the tag protocol id et, and returns what follows the last tag and its
// ethertype. It keeps the two outermost VLAN ids.
func (p *Packet) decodeVLAN(b []byte, et uint16) ([]byte, uint16) {
	n := uint(0)
	for et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQ9100 {
		if n == MaxVLANTags {
			p.Reason = ReasonTooManyVLANs
			return b, et
		}
		if len(b) < vlanTagLen {
			p.Reason = ReasonTruncated
			return b, et
		}
		tag := b[:vlanTagLen:vlanTagLen]
		if n < uint(len(p.VLAN)) {
			p.VLAN[n] = (uint16(tag[0])<<8 | uint16(tag[1])) & 0x0FFF
		}
		et = uint16(tag[2])<<8 | uint16(tag[3])
		b = b[vlanTagLen:]
		n++
	}
	p.NumVLAN = uint8(min(n, uint(len(p.VLAN))))
	return b, et
}
