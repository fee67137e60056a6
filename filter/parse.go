package filter

import (
	"net/netip"
	"strconv"
)

// Length limits of the AWS shapes (API reference, FlowFilter, Address, Port,
// ProtocolString).
const (
	maxAddressLen  = 255
	maxPortLen     = 1024
	maxProtocolLen = 12
)

// parseAddress reads an AddressDefinition: an IPv4 or IPv6 address, bare or
// with a prefix length, as the AWS pattern ^([a-fA-F\d:\.]+($|/\d{1,3}))$
// allows. A bare address is a /32 or /128; host bits beyond the prefix length
// are cleared ("10.1.2.3/8" is 10.0.0.0/8). IPv4-mapped IPv6 addresses stay
// IPv6 (see the package doc). The error, if any, is the message part of a
// ValidationError.
func parseAddress(s string) (netip.Prefix, string) {
	bad := quote(s) + " is not an IPv4 or IPv6 address or CIDR"
	if len(s) == 0 || len(s) > maxAddressLen {
		return netip.Prefix{}, bad
	}
	addr, bits := s, ""
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == ':', c == '.':
		case c == '/':
			addr, bits = s[:i], s[i+1:]
			i = len(s) // the digits after '/' are checked below
		default:
			return netip.Prefix{}, bad
		}
	}
	a, err := netip.ParseAddr(addr) // charset above already rules out zones
	if err != nil {
		return netip.Prefix{}, bad
	}
	n := a.BitLen()
	if len(addr) < len(s) {
		// \d{1,3}: leading zeros are allowed, as the AWS pattern allows them.
		if len(bits) < 1 || len(bits) > 3 || !allDigits(bits) {
			return netip.Prefix{}, bad
		}
		n, _ = strconv.Atoi(bits)
		if n > a.BitLen() {
			return netip.Prefix{}, bad
		}
	}
	p, err := a.Prefix(n) // clears the host bits
	if err != nil {
		return netip.Prefix{}, bad
	}
	return p, ""
}

// portRange is an inclusive range of ports. ANY is kept apart from an
// explicit 0:65535: only ANY matches flows of protocols without ports.
type portRange struct {
	lo, hi uint16
	any    bool
}

// parsePort reads "ANY", "N" or "N:M" with 0 <= N <= M <= 65535. Numbers are
// ASCII decimal digits only: no sign, no blanks; leading zeros are allowed.
// ANY is upper case only, as the AWS documentation spells it.
func parsePort(s string) (portRange, string) {
	if s == "ANY" {
		return portRange{0, 65535, true}, ""
	}
	syntax := quote(s) + " is not ANY, a port, or a range N:M"
	if len(s) == 0 || len(s) > maxPortLen {
		return portRange{}, syntax
	}
	lo, hi := s, s
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			lo, hi = s[:i], s[i+1:]
			break
		}
	}
	if !allDigits(lo) || !allDigits(hi) {
		return portRange{}, syntax
	}
	l, lok := decimal(lo, 65535)
	h, hok := decimal(hi, 65535)
	if !lok || !hok {
		return portRange{}, quote(s) + " is out of range: ports are 0 to 65535"
	}
	if l > h {
		return portRange{}, quote(s) + " is not a range: " + strconv.Itoa(l) + " is greater than " + strconv.Itoa(h)
	}
	return portRange{lo: uint16(l), hi: uint16(h)}, ""
}

// String is the normalized form: ANY, N, or N:M with N < M.
func (r portRange) String() string {
	switch {
	case r.any:
		return "ANY"
	case r.lo == r.hi:
		return strconv.Itoa(int(r.lo))
	}
	return strconv.Itoa(int(r.lo)) + ":" + strconv.Itoa(int(r.hi))
}

// parseProtocol reads a decimal IANA protocol number, 0 to 255.
func parseProtocol(s string) (uint8, string) {
	if len(s) > 0 && len(s) <= maxProtocolLen && allDigits(s) {
		if n, ok := decimal(s, 255); ok {
			return uint8(n), ""
		}
	}
	return 0, quote(s) + " is not a protocol number (0-255)"
}

// allDigits reports whether s is one or more ASCII digits.
func allDigits(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// decimal parses a string of ASCII digits, reporting false once the value
// passes max (without overflowing, however long the string).
func decimal(s string, max int) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
		if n > max {
			return 0, false
		}
	}
	return n, true
}
