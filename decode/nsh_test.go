package decode

import (
	"testing"

	"github.com/flowd/flowd/capture"
)

// TestDecodeNSH checks the RFC 8300 Network Service Header (ethertype
// 0x894F): the packet it carries is the frame's packet, as Suricata decodes
// it; headers Suricata refuses leave the frame without IP.
func TestDecodeNSH(t *testing.T) {
	etNSH := []byte{0x89, 0x4f}
	// version 0, TTL 63, length 6 words, MD type 1, next protocol np; SPI 1,
	// SI 255; four context headers.
	md1 := func(np byte) []byte {
		return []byte{0x0f, 0xc6, 0x01, np, 0x00, 0x00, 0x01, 0xff,
			0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4}
	}
	// MD type 2, length 2 words: no metadata.
	md2 := func(np byte) []byte { return []byte{0x0f, 0xc2, 0x02, np, 0x00, 0x00, 0x01, 0xff} }
	ip4udp := ip4(17, ip4TtoU, udp(5000, 53))
	ip6udp := ip6(17, cat(addrA6[:], addrB6[:]), udp(12345, 53))
	d := &differ{t: t}
	for _, c := range []struct {
		name   string
		b      []byte
		reason Reason
		want   Tuple
		vlan   uint16
	}{
		{"md1 ipv4", cat(ethAddrs, etNSH, md1(1), ip4udp), ReasonOK, udpT(5000, 53), 0},
		{"md2 ipv6", cat(ethAddrs, etNSH, md2(2), ip6udp), ReasonOK, udpWant(addrA6, addrB6, 6), 0},
		{"md2 ethernet vlan ipv4", cat(ethAddrs, etNSH, md2(3), ethAddrsInner, tagQ100, etIPv4, ip4udp), ReasonOK, udpT(5000, 53), 100},
		{"vlan md1 ipv4", cat(ethAddrs, tagQ100, etNSH, md1(1), ip4udp), ReasonOK, udpT(5000, 53), 100},
		{"md1 with a wrong length", cat(ethAddrs, etNSH, md2(1)[:2], []byte{0x01, 0x01, 0, 0, 1, 0xff}, ip4udp), ReasonNonIP, Tuple{}, 0},
		{"version 1", cat(ethAddrs, etNSH, []byte{0x4f, 0xc2, 0x02, 0x01, 0, 0, 1, 0xff}, ip4udp), ReasonNonIP, Tuple{}, 0},
		{"md type 3", cat(ethAddrs, etNSH, []byte{0x0f, 0xc2, 0x03, 0x01, 0, 0, 1, 0xff}, ip4udp), ReasonNonIP, Tuple{}, 0},
		{"next protocol NSH", cat(ethAddrs, etNSH, md2(4), ip4udp), ReasonNonIP, Tuple{}, 0},
		{"length past the frame", cat(ethAddrs, etNSH, md1(1)[:20]), ReasonTruncated, Tuple{}, 0},
		{"short header", cat(ethAddrs, etNSH, md2(1)[:6]), ReasonTruncated, Tuple{}, 0},
	} {
		d.check(c.b, capture.LinkEthernet, c.name) // against the oracle [D26]
		var p Packet
		p.Decode(c.b, capture.LinkEthernet)
		if p.Reason != c.reason {
			t.Errorf("%s: reason %v, want %v", c.name, p.Reason, c.reason)
			continue
		}
		if c.reason != ReasonOK {
			continue
		}
		if p.Tuple != c.want || p.VLAN[0] != c.vlan {
			t.Errorf("%s: %s", c.name, dump(&p))
		}
	}
}
