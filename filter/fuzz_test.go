package filter

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// FuzzCompile feeds arbitrary member strings to Compile. It must never
// panic; when it accepts them, Match must agree with the twin on flows at,
// inside and beside the compiled prefixes and ports, and on random flows.
//
// present selects the members given: bit 0 SourceAddress, 1
// DestinationAddress, 2 SourcePort, 3 DestinationPort, 4 Protocols (split on
// ','), 5 a second, empty filter; the other bits pick the minimum age.
func FuzzCompile(f *testing.F) {
	seeds := []struct {
		sa, da, sp, dp, protos string
		present                uint8
	}{
		{"10.0.1.0/24", "198.51.100.7", "ANY", "443", "6", 0x1f},
		{"192.0.2.44/32", "192.0.2.0/24", "1990:1994", "1994", "6,17", 0x1f},
		{"1111:0000:0000:0000:0000:0000:0000:0111/128", "2001:db8::/64", "0:65535", "53", "17", 0x1f},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8", "80", "80:80", "1,58", 0x1b},
		{"0.0.0.0/0", "::/0", "0", "65535", "132", 0x3f},
		{"10.0.0.0/33", "", "80-90", "70000", "tcp", 0x1f},
		{"10.1.2.3/008", "fe80::1%eth0", "+80", "90:80", "256", 0x1f},
		{"1.2.3.4", "::1.2.3.4/120", "ANY", "ANY", "", 0x0f},
		{"", "", "", "", "", 0},
	}
	for _, s := range seeds {
		f.Add(s.sa, s.da, s.sp, s.dp, s.protos, s.present, uint64(1))
	}
	f.Fuzz(func(t *testing.T, sa, da, sp, dp, protos string, present uint8, seed uint64) {
		var flt Filter
		if present&1 != 0 {
			flt.SourceAddress = &sa
		}
		if present&2 != 0 {
			flt.DestinationAddress = &da
		}
		if present&4 != 0 {
			flt.SourcePort = &sp
		}
		if present&8 != 0 {
			flt.DestinationPort = &dp
		}
		if present&16 != 0 {
			flt.Protocols = strings.Split(protos, ",")
		}
		fs := []Filter{flt}
		if present&32 != 0 {
			fs = append(fs, Filter{Protocols: []string{"255"}})
		}
		minAge := int64(present >> 6)
		s, err := Compile(fs, minAge)
		if err != nil {
			if s != nil {
				t.Fatal("Set and error")
			}
			return
		}
		_ = s.String()
		if _, err := Compile(s.Filters(), minAge); err != nil {
			t.Fatalf("normalized filters do not compile: %v", err)
		}
		tw := newTwin(fs, minAge)
		r := rand.New(rand.NewPCG(seed, 1))
		check := func(fl *Flow) {
			if got, want := s.Match(fl), tw.match(fl); got != want {
				t.Fatalf("Match = %v, twin = %v\nflow %+v\nset %v", got, want, *fl, s)
			}
		}
		for range 50 {
			fl := randFlow(r)
			// Aim at the filter: its protocol, its prefixes' edges, its ports.
			if len(flt.Protocols) > 0 && r.IntN(2) == 0 {
				if p, msg := parseProtocol(flt.Protocols[r.IntN(len(flt.Protocols))]); msg == "" {
					fl.Proto = p
				}
			}
			if flt.SourceAddress != nil {
				edge(r, *flt.SourceAddress, &fl.Family, &fl.Src)
			}
			if flt.DestinationAddress != nil {
				edge(r, *flt.DestinationAddress, &fl.Family, &fl.Dst)
			}
			if flt.SourcePort != nil {
				fl.SrcPort = portEdge(r, *flt.SourcePort, fl.SrcPort)
			}
			if flt.DestinationPort != nil {
				fl.DstPort = portEdge(r, *flt.DestinationPort, fl.DstPort)
			}
			check(&fl)
		}
	})
}

// edge sets family and address to the first or last address of prefix s,
// or one beside it.
func edge(r *rand.Rand, s string, family *uint8, addr *[16]byte) {
	p, msg := parseAddress(s)
	if msg != "" {
		return
	}
	a := p.Masked().Addr()
	if r.IntN(2) == 0 { // last address
		b := a.AsSlice()
		for i := p.Bits(); i < a.BitLen(); i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
		a, _ = netip.AddrFromSlice(b)
		if r.IntN(3) == 0 {
			a = a.Next()
		}
	} else if r.IntN(3) == 0 {
		a = a.Prev()
	}
	if !a.IsValid() {
		return
	}
	*family = 4
	if a.Is6() {
		*family = 6
	}
	*addr = [16]byte{}
	copy(addr[:], a.AsSlice())
}

func portEdge(r *rand.Rand, s string, def uint16) uint16 {
	pr, msg := parsePort(s)
	if msg != "" {
		return def
	}
	switch r.IntN(4) {
	case 0:
		return pr.lo
	case 1:
		return pr.hi
	case 2:
		return pr.lo - 1
	}
	return pr.hi + 1
}

// FuzzParse checks the hand-written member parsers against references
// built on netip.ParsePrefix and strconv.ParseUint: same verdict, same
// value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"10.0.0.0/8", "10.0.0.0/08", "10.0.0.0/008", "10.0.0.0/0008", "1.2.3.4", "::", "::/0",
		"::ffff:1.2.3.4/120", "fe80::1%eth0", "2001:db8::/129", "010.0.0.1", "1.2.3.4/",
		"ANY", "any", "0", "65535", "65536", "1:2", "2:1", "+1", "1:2:3", ":", "007:0080",
		"6", "255", "256", "000000000006", "0000000000006", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, msg := parseAddress(s)
		if rp, ok := refAddress(s); ok != (msg == "") || ok && rp != p {
			t.Errorf("parseAddress(%q) = %v, %q; reference %v, %v", s, p, msg, rp, ok)
		}
		r, msg := parsePort(s)
		if rr, ok := refPort(s); ok != (msg == "") || ok && rr != r {
			t.Errorf("parsePort(%q) = %v, %q; reference %v, %v", s, r, msg, rr, ok)
		}
		n, msg := parseProtocol(s)
		rn, err := strconv.ParseUint(s, 10, 8)
		if ok := err == nil && len(s) <= 12; ok != (msg == "") || ok && uint8(rn) != n {
			t.Errorf("parseProtocol(%q) = %v, %q; reference %v, %v", s, n, msg, rn, err)
		}
	})
}

// refAddress applies the AWS pattern ^([a-fA-F\d:\.]+($|/\d{1,3}))$ and the
// length limit, then lets netip parse (with the prefix length's leading
// zeros dropped, which netip refuses and the pattern allows).
func refAddress(s string) (netip.Prefix, bool) {
	if len(s) > 255 || strings.Trim(s, "0123456789abcdefABCDEF:./") != "" {
		return netip.Prefix{}, false
	}
	addr, bits, slash := strings.Cut(s, "/")
	if !slash {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return netip.Prefix{}, false
		}
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	if len(bits) < 1 || len(bits) > 3 || strings.Trim(bits, "0123456789") != "" {
		return netip.Prefix{}, false
	}
	if t := strings.TrimLeft(bits, "0"); t != "" {
		bits = t
	} else {
		bits = "0"
	}
	p, err := netip.ParsePrefix(addr + "/" + bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

func refPort(s string) (portRange, bool) {
	if s == "ANY" {
		return portRange{0, 65535, true}, true
	}
	if len(s) > 1024 {
		return portRange{}, false
	}
	lo, hi, colon := strings.Cut(s, ":")
	if !colon {
		hi = lo
	}
	l, err1 := strconv.ParseUint(lo, 10, 16)
	h, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil || l > h {
		return portRange{}, false
	}
	return portRange{lo: uint16(l), hi: uint16(h)}, true
}
