package output

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"

	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/engine"
)

// Community ID, version 1: a hash of a flow's tuple that other tools
// (Suricata, Zeek, Arkime, Wireshark) compute the same way, so their
// records of one flow can be joined. The input, in network byte order, is
// the 2-byte seed, both addresses, the protocol, a zero byte, and both
// ports, with the endpoints ordered so that both directions give one ID;
// its SHA-1 is written in base64 after "1:". ICMP has no ports: its type
// stands in for the source port and the type of the matching reply for the
// destination port, or, for a message that has no reply, the code (and the
// order of the endpoints is then kept as it is).

// appendCommunityID appends the Community ID of f with seed.
func appendCommunityID(b []byte, f *engine.Flow, seed uint16) []byte {
	n := 4
	if f.Family == 6 {
		n = 16
	}
	src, dst := f.Src[:n], f.Dst[:n]
	sport, dport := f.SrcPort, f.DstPort
	ports, oneWay := decode.HasPorts(f.Proto), false
	if f.Proto == decode.ProtoICMP || f.Proto == decode.ProtoICMPv6 {
		ports = true
		sport = uint16(f.ICMPType)
		if reply, ok := icmpCounterpart(f.Proto, f.ICMPType); ok {
			dport = uint16(reply)
		} else {
			dport, oneWay = uint16(f.ICMPCode), true
		}
	}
	if !oneWay {
		c := bytes.Compare(src, dst)
		if c > 0 || (c == 0 && ports && sport > dport) {
			src, dst, sport, dport = dst, src, dport, sport
		}
	}
	var in [2 + 16 + 16 + 2 + 4]byte
	binary.BigEndian.PutUint16(in[0:], seed)
	at := 2 + copy(in[2:], src)
	at += copy(in[at:], dst)
	in[at], in[at+1] = f.Proto, 0
	at += 2
	if ports {
		binary.BigEndian.PutUint16(in[at:], sport)
		binary.BigEndian.PutUint16(in[at+2:], dport)
		at += 4
	}
	sum := sha1.Sum(in[:at])
	b = append(b, "1:"...)
	return appendBase64SHA1(b, &sum)
}

// appendBase64SHA1 appends a SHA-1 sum in standard base64 with padding,
// as encoding/base64 would, without its general-purpose overhead (a tenth
// of an EVE line's cost).
func appendBase64SHA1(b []byte, sum *[sha1.Size]byte) []byte {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i+3 <= len(sum); i += 3 {
		v := uint(sum[i])<<16 | uint(sum[i+1])<<8 | uint(sum[i+2])
		b = append(b, enc[v>>18&63], enc[v>>12&63], enc[v>>6&63], enc[v&63])
	}
	// 20 bytes: 18 in six groups, then two more and one pad.
	v := uint(sum[18])<<16 | uint(sum[19])<<8
	return append(b, enc[v>>18&63], enc[v>>12&63], enc[v>>6&63], '=')
}

// icmpCounterpart is the reply type of an ICMP or ICMPv6 request (and the
// request type of a reply), as the Community ID specification pairs them.
func icmpCounterpart(proto, typ uint8) (uint8, bool) {
	if proto == decode.ProtoICMP {
		switch typ {
		case 8, 0: // echo
			return 8 - typ, true
		case 13, 15, 17: // timestamp, information, address mask requests
			return typ + 1, true
		case 14, 16, 18:
			return typ - 1, true
		case 10: // router solicitation / advertisement
			return 9, true
		case 9:
			return 10, true
		}
		return 0, false
	}
	switch typ {
	case 128, 130, 133, 135, 139, 144: // echo, MLD query, router and neighbour solicitation, who-are-you, HAAD
		return typ + 1, true
	case 129, 131, 134, 136, 140, 145:
		return typ - 1, true
	}
	return 0, false
}
