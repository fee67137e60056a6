package filter

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	ok := Filter{}
	many := func(n int) []Filter { return make([]Filter, n) }
	at := func(i int, f Filter) []Filter {
		fs := many(i + 1)
		fs[i] = f
		return fs
	}
	long := strings.Repeat("1", 70)
	cases := []struct {
		name    string
		filters []Filter
		minAge  int64
		want    string
	}{
		{"no filters", nil, 0, `FlowFilters: no filters given, at least 1 is required`},
		{"empty filters", []Filter{}, 0, `FlowFilters: no filters given, at least 1 is required`},
		{"21 filters", many(21), 0, `FlowFilters: 21 filters given, at most 20 are allowed`},
		{"negative age", []Filter{ok}, -1, `MinimumFlowAgeInSeconds: -1 is negative`},
		{"count before age", many(21), -1, `FlowFilters: 21 filters given, at most 20 are allowed`},
		{"age before members", []Filter{{SourcePort: str("x")}}, -5, `MinimumFlowAgeInSeconds: -5 is negative`},

		// Addresses.
		{"prefix too long v4", at(0, Filter{SourceAddress: str("10.0.0.0/33")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: "10.0.0.0/33" is not an IPv4 or IPv6 address or CIDR`},
		{"prefix too long v6", at(2, Filter{DestinationAddress: str("2001:db8::/129")}), 0,
			`FlowFilters[2].DestinationAddress.AddressDefinition: "2001:db8::/129" is not an IPv4 or IPv6 address or CIDR`},
		{"empty address", at(0, Filter{SourceAddress: str("")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: "" is not an IPv4 or IPv6 address or CIDR`},
		{"hostname", at(0, Filter{SourceAddress: str("example.com")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: "example.com" is not an IPv4 or IPv6 address or CIDR`},
		{"zone", at(0, Filter{SourceAddress: str("fe80::1%eth0")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: "fe80::1%eth0" is not an IPv4 or IPv6 address or CIDR`},
		{"octet leading zero", at(0, Filter{SourceAddress: str("010.0.0.1")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: "010.0.0.1" is not an IPv4 or IPv6 address or CIDR`},
		{"octet too big", at(0, Filter{SourceAddress: str("10.0.0.256/24")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: "10.0.0.256/24" is not an IPv4 or IPv6 address or CIDR`},
		{"missing length", at(0, Filter{SourceAddress: str("10.0.0.0/")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: "10.0.0.0/" is not an IPv4 or IPv6 address or CIDR`},
		{"4-digit length", at(0, Filter{SourceAddress: str("::/0128")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: "::/0128" is not an IPv4 or IPv6 address or CIDR`},
		{"negative length", at(0, Filter{SourceAddress: str("10.0.0.0/-1")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: "10.0.0.0/-1" is not an IPv4 or IPv6 address or CIDR`},
		{"two slashes", at(0, Filter{SourceAddress: str("10.0.0.0/8/8")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: "10.0.0.0/8/8" is not an IPv4 or IPv6 address or CIDR`},
		{"no address", at(0, Filter{SourceAddress: str("/8")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: "/8" is not an IPv4 or IPv6 address or CIDR`},
		{"blank", at(0, Filter{SourceAddress: str(" 10.0.0.0/8")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: " 10.0.0.0/8" is not an IPv4 or IPv6 address or CIDR`},
		{"newline", at(0, Filter{SourceAddress: str("10.0.0.0/8\n")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: "10.0.0.0/8\n" is not an IPv4 or IPv6 address or CIDR`},
		{"address too long", at(0, Filter{SourceAddress: str(strings.Repeat("0", 250) + "::/128")}), 0,
			`FlowFilters[0].SourceAddress.AddressDefinition: "` + strings.Repeat("0", 64) + `"... (256 bytes) is not an IPv4 or IPv6 address or CIDR`},

		// Ports.
		{"dash range", at(3, Filter{DestinationPort: str("80-90")}), 0,
			`FlowFilters[3].DestinationPort: "80-90" is not ANY, a port, or a range N:M`},
		{"empty port", at(0, Filter{SourcePort: str("")}), 0,
			`FlowFilters[0].SourcePort: "" is not ANY, a port, or a range N:M`},
		{"lower-case any", at(0, Filter{SourcePort: str("any")}), 0,
			`FlowFilters[0].SourcePort: "any" is not ANY, a port, or a range N:M`},
		{"not a number", at(0, Filter{SourcePort: str("http")}), 0,
			`FlowFilters[0].SourcePort: "http" is not ANY, a port, or a range N:M`},
		{"plus sign", at(0, Filter{SourcePort: str("+80")}), 0,
			`FlowFilters[0].SourcePort: "+80" is not ANY, a port, or a range N:M`},
		{"minus sign", at(0, Filter{SourcePort: str("-1")}), 0,
			`FlowFilters[0].SourcePort: "-1" is not ANY, a port, or a range N:M`},
		{"blank port", at(0, Filter{SourcePort: str(" 80")}), 0,
			`FlowFilters[0].SourcePort: " 80" is not ANY, a port, or a range N:M`},
		{"blank in range", at(0, Filter{SourcePort: str("80: 90")}), 0,
			`FlowFilters[0].SourcePort: "80: 90" is not ANY, a port, or a range N:M`},
		{"half range", at(0, Filter{SourcePort: str("80:")}), 0,
			`FlowFilters[0].SourcePort: "80:" is not ANY, a port, or a range N:M`},
		{"colon only", at(0, Filter{SourcePort: str(":")}), 0,
			`FlowFilters[0].SourcePort: ":" is not ANY, a port, or a range N:M`},
		{"three parts", at(0, Filter{SourcePort: str("1:2:3")}), 0,
			`FlowFilters[0].SourcePort: "1:2:3" is not ANY, a port, or a range N:M`},
		{"port out of range", at(2, Filter{SourcePort: str("70000")}), 0,
			`FlowFilters[2].SourcePort: "70000" is out of range: ports are 0 to 65535`},
		{"range end out of range", at(0, Filter{DestinationPort: str("1:65536")}), 0,
			`FlowFilters[0].DestinationPort: "1:65536" is out of range: ports are 0 to 65535`},
		{"huge number", at(0, Filter{DestinationPort: str("99999999999999999999999")}), 0,
			`FlowFilters[0].DestinationPort: "99999999999999999999999" is out of range: ports are 0 to 65535`},
		{"reversed range", at(0, Filter{DestinationPort: str("90:80")}), 0,
			`FlowFilters[0].DestinationPort: "90:80" is not a range: 90 is greater than 80`},
		{"port too long", at(0, Filter{DestinationPort: str(strings.Repeat("0", 1025))}), 0,
			`FlowFilters[0].DestinationPort: "` + strings.Repeat("0", 64) + `"... (1025 bytes) is not ANY, a port, or a range N:M`},

		// Protocols.
		{"protocol name", at(1, Filter{Protocols: []string{"tcp"}}), 0,
			`FlowFilters[1].Protocols[0]: "tcp" is not a protocol number (0-255)`},
		{"protocol 256", at(0, Filter{Protocols: []string{"6", "256"}}), 0,
			`FlowFilters[0].Protocols[1]: "256" is not a protocol number (0-255)`},
		{"empty protocol", at(0, Filter{Protocols: []string{""}}), 0,
			`FlowFilters[0].Protocols[0]: "" is not a protocol number (0-255)`},
		{"signed protocol", at(0, Filter{Protocols: []string{"+6"}}), 0,
			`FlowFilters[0].Protocols[0]: "+6" is not a protocol number (0-255)`},
		{"protocol too long", at(0, Filter{Protocols: []string{"0000000000006"}}), 0,
			`FlowFilters[0].Protocols[0]: "0000000000006" is not a protocol number (0-255)`},
		{"long value quoted short", at(0, Filter{Protocols: []string{long}}), 0,
			`FlowFilters[0].Protocols[0]: "` + long[:64] + `"... (70 bytes) is not a protocol number (0-255)`},

		// Only the first error is reported, in member order.
		{"first member wins", at(4, Filter{SourceAddress: str("x"), DestinationPort: str("y")}), 0,
			`FlowFilters[4].SourceAddress.AddressDefinition: "x" is not an IPv4 or IPv6 address or CIDR`},
		{"first filter wins", []Filter{{DestinationPort: str("y")}, {SourceAddress: str("x")}}, 0,
			`FlowFilters[0].DestinationPort: "y" is not ANY, a port, or a range N:M`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Compile(c.filters, c.minAge)
			if err == nil {
				t.Fatalf("Compile succeeded: %v", s)
			}
			if s != nil {
				t.Errorf("Compile returned a Set with an error")
			}
			if err.Error() != c.want {
				t.Errorf("error\n got %s\nwant %s", err, c.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(err, ErrInvalid) = false")
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Path+": "+ve.Msg != c.want {
				t.Errorf("errors.As: %#v", ve)
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	for _, f := range []Filter{
		{SourceAddress: str("0.0.0.0/0"), DestinationAddress: str("255.255.255.255")},
		{SourceAddress: str("::"), DestinationAddress: str("::/0")},
		{SourceAddress: str("10.0.0.0/008")}, // \d{1,3}
		{SourceAddress: str("::ffff:10.0.0.1/128")},
		{SourceAddress: str("::ffff:10.0.0.0/104")},
		{SourceAddress: str("2001:DB8::1/64")},
		{SourceAddress: str("1:2:3:4:5:6:7:8")},
		{SourceAddress: str("::1.2.3.4/120")},
		{SourcePort: str("0"), DestinationPort: str("65535")},
		{SourcePort: str("0:0"), DestinationPort: str("65535:65535")},
		{SourcePort: str("0:65535"), DestinationPort: str("ANY")},
		{SourcePort: str("00080"), DestinationPort: str("0001:02")},
		{Protocols: []string{"0", "255", "6", "6", "000000000017"}},
		{Protocols: []string{}},
	} {
		if _, err := Compile([]Filter{f}, 0); err != nil {
			t.Errorf("Compile(%+v): %v", f, err)
		}
	}
	if _, err := Compile(make([]Filter, MaxFilters), 1<<62); err != nil {
		t.Errorf("20 filters: %v", err)
	}
}
