// Package filter compiles the FlowFilters of one AWS Network Firewall flow
// operation (StartFlowCapture, StartFlowFlush) into a Set, and tells for each
// flow of a table scan whether the operation selects it.
//
// Semantics. A Set holds 1 to MaxFilters filters. Within a filter every
// member that is given must match; a filter with no members matches every
// flow. Across filters, any matching filter selects the flow. Matching is
// directional: SourceAddress and SourcePort are compared with the flow's
// initiator, DestinationAddress and DestinationPort with its responder.
//   - Addresses: an IPv4 or IPv6 CIDR, or a bare address (a /32 or /128).
//     Host bits beyond the prefix length are cleared: "10.1.2.3/8" means
//     10.0.0.0/8. IPv4 prefixes never match IPv6 flows and IPv6 prefixes
//     never match IPv4 flows, /0 included. An IPv4-mapped IPv6 address
//     (::ffff:a.b.c.d) is not unmapped, on either side: it is an IPv6 prefix
//     and matches only IPv6 flows that carry such addresses, as on the wire
//     an IPv6 packet is never an IPv4 one.
//   - Ports: "ANY", "N" or "N:M" (0 <= N <= M <= 65535). Only TCP (6), UDP
//     (17) and SCTP (132) have ports; a port member other than ANY, even
//     "0:65535", never matches a flow of another protocol (ICMP, ...).
//   - Protocols: decimal protocol numbers 0 to 255; duplicates are fine; an
//     empty list matches every protocol, not only the ones AWS lists.
//   - MinimumFlowAgeInSeconds: flows younger than it (in whole seconds) are
//     not selected.
//
// Validation. Compile reports the first broken rule only, so the message
// stays short and exact, checking in this order: the number of filters,
// MinimumFlowAgeInSeconds, then each filter in turn (SourceAddress,
// DestinationAddress, SourcePort, DestinationPort, Protocols). The error is
// a *ValidationError whose text names the member and the rule with the
// value quoted (cut after 64 bytes), and which matches ErrInvalid with
// errors.Is. Ports, protocols and prefix lengths may have leading zeros
// ("080", "10.0.0.0/08"), IPv4 octets may not ("010.0.0.1" is ambiguous);
// signs, blanks and IPv6 zones are refused; ANY is upper case only.
//
// Filters returns the filters in normalized form for DescribeFlowOperation;
// String describes a Set for logs.
//
// Allocation contract: Compile allocates (once per operation: a few KiB, 2
// KiB per table node, at most about 1.2 MiB for 20 filters with unrelated
// IPv6 /128s on both sides); (*Set).Match never allocates.
//
// Concurrency: a Set is immutable once Compile returns; Match may be called
// from any number of goroutines at once, and only reads the Flow it is given.
//
// Cost: Match evaluates all filters at once. Each dimension (protocol,
// source and destination port, source and destination address of the
// flow's family) maps its value to the bitmask of the filters that accept
// it, through a 256-entry table for the protocol and a fully expanded
// 8-bit-stride trie for the others; Match ANDs the masks. On the shared
// 2-core AMD EPYC VM this was written on (2026-11-21), a scan of 1 Mi flows
// costs about 18 ns per IPv4 flow with 20 filters, 30 ns per IPv6 flow, 9 ns
// with one filter, reading the flows included (BenchmarkMatch).
//
// filter is a leaf: it imports no other flowd package. The engine copies
// each flow's key and age into a Flow and calls Match.
package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// MaxFilters is how many filters one flow operation may carry.
const MaxFilters = 20

// Filter is one AWS FlowFilter. A nil member is absent and matches
// anything; a present member is validated by Compile, so an empty string is
// an error, not "any".
type Filter struct {
	// SourceAddress and DestinationAddress are the AddressDefinition of the
	// AWS Address object. (An Address object without AddressDefinition is
	// for the API layer to reject; this type cannot express it.)
	SourceAddress      *string
	DestinationAddress *string
	SourcePort         *string
	DestinationPort    *string
	Protocols          []string // empty: any protocol
}

// Flow is what Match looks at of one flow: 48 bytes, no pointers. The engine
// fills it from its flow key; a caller can keep one on its stack and refill
// it per flow.
type Flow struct {
	// Src is the initiator's address and Dst the responder's. An IPv4
	// address takes the first 4 bytes; the other 12 are not read.
	Src, Dst [16]byte
	// Family is 4 or 6. A flow of any other family matches only filters
	// without address members.
	Family uint8
	// SrcPort and DstPort matter only when Proto is TCP, UDP or SCTP.
	SrcPort, DstPort uint16
	// Proto is the IP protocol number.
	Proto uint8
	// AgeSeconds is the engine clock minus the flow's first-seen time.
	AgeSeconds int64
}

// Set is the compiled form of the filters of one flow operation. Each
// dimension maps its value to a bitmask of the filters it admits (bit i is
// filter i); Match ANDs the masks. Compile builds it; it never changes
// afterwards.
type Set struct {
	minAge int64
	// proto[p] is the mask of the filters whose Protocols admit p. For a
	// protocol without ports it is already ANDed with the masks of the
	// filters whose ports are ANY or absent, so Match skips the ports.
	proto [256]uint32

	srcPort, dstPort dim
	src4, dst4       dim
	src6, dst6       dim

	filters []Filter // normalized, for Filters
}

// dim is one dimension of the match (a port, or an address of one family,
// in one direction).
type dim struct {
	// any is the mask of the filters that accept every value here: the
	// member is absent (or ANY, for ports).
	any uint32
	// t maps a value to the mask of the filters that accept it, any
	// included. It is nil when no filter constrains this dimension; then
	// any holds every filter for ports, and for addresses every filter
	// without this address member.
	t *table
}

// Compile validates filters and minAgeSeconds and compiles them into a Set.
// It returns a *ValidationError (matching ErrInvalid) for the first rule
// broken; see the package doc for the rules and their order.
func Compile(filters []Filter, minAgeSeconds int64) (*Set, error) {
	switch n := len(filters); {
	case n == 0:
		return nil, invalid("FlowFilters", "no filters given, at least 1 is required")
	case n > MaxFilters:
		return nil, invalid("FlowFilters", "%d filters given, at most %d are allowed", n, MaxFilters)
	}
	if minAgeSeconds < 0 {
		return nil, invalid("MinimumFlowAgeInSeconds", "%d is negative", minAgeSeconds)
	}
	cs := make([]compiled, len(filters))
	for i := range filters {
		if err := cs[i].parse(&filters[i], i); err != nil {
			return nil, err
		}
	}
	s := &Set{minAge: minAgeSeconds, filters: make([]Filter, len(cs))}
	for i := range cs {
		s.filters[i] = cs[i].normalized()
	}
	s.build(cs)
	return s, nil
}

// compiled is one filter after parsing; nil members are absent.
type compiled struct {
	src, dst         *netip.Prefix
	srcPort, dstPort *portRange
	protos           []uint8 // nil: any
}

func (c *compiled) parse(f *Filter, i int) error {
	path := "FlowFilters[" + strconv.Itoa(i) + "]."
	var msg string
	if f.SourceAddress != nil {
		var p netip.Prefix
		if p, msg = parseAddress(*f.SourceAddress); msg != "" {
			return &ValidationError{Path: path + "SourceAddress.AddressDefinition", Msg: msg}
		}
		c.src = &p
	}
	if f.DestinationAddress != nil {
		var p netip.Prefix
		if p, msg = parseAddress(*f.DestinationAddress); msg != "" {
			return &ValidationError{Path: path + "DestinationAddress.AddressDefinition", Msg: msg}
		}
		c.dst = &p
	}
	if f.SourcePort != nil {
		var r portRange
		if r, msg = parsePort(*f.SourcePort); msg != "" {
			return &ValidationError{Path: path + "SourcePort", Msg: msg}
		}
		c.srcPort = &r
	}
	if f.DestinationPort != nil {
		var r portRange
		if r, msg = parsePort(*f.DestinationPort); msg != "" {
			return &ValidationError{Path: path + "DestinationPort", Msg: msg}
		}
		c.dstPort = &r
	}
	for j, p := range f.Protocols {
		n, msg := parseProtocol(p)
		if msg != "" {
			return &ValidationError{Path: path + "Protocols[" + strconv.Itoa(j) + "]", Msg: msg}
		}
		c.protos = append(c.protos, n)
	}
	return nil
}

func (c *compiled) normalized() Filter {
	var f Filter
	if c.src != nil {
		f.SourceAddress = ptr(c.src.String())
	}
	if c.dst != nil {
		f.DestinationAddress = ptr(c.dst.String())
	}
	if c.srcPort != nil {
		f.SourcePort = ptr(c.srcPort.String())
	}
	if c.dstPort != nil {
		f.DestinationPort = ptr(c.dstPort.String())
	}
	for _, p := range c.protos {
		f.Protocols = append(f.Protocols, strconv.Itoa(int(p)))
	}
	return f
}

func ptr(s string) *string { return &s }

// hasPorts reports whether flows of protocol p carry ports: TCP, UDP, SCTP.
func hasPorts(p uint8) bool { return p == 6 || p == 17 || p == 132 }

func (s *Set) build(cs []compiled) {
	s.srcPort = buildPorts(cs, func(c *compiled) *portRange { return c.srcPort })
	s.dstPort = buildPorts(cs, func(c *compiled) *portRange { return c.dstPort })
	src := func(c *compiled) *netip.Prefix { return c.src }
	dst := func(c *compiled) *netip.Prefix { return c.dst }
	s.src4 = buildAddrs(cs, false, src)
	s.dst4 = buildAddrs(cs, false, dst)
	s.src6 = buildAddrs(cs, true, src)
	s.dst6 = buildAddrs(cs, true, dst)

	for i := range cs {
		bit := uint32(1) << i
		if cs[i].protos == nil {
			for p := range s.proto {
				s.proto[p] |= bit
			}
		}
		for _, p := range cs[i].protos {
			s.proto[p] |= bit
		}
	}
	portless := s.srcPort.any & s.dstPort.any
	for p := range s.proto {
		if !hasPorts(uint8(p)) {
			s.proto[p] &= portless
		}
	}
}

func buildPorts(cs []compiled, member func(*compiled) *portRange) dim {
	var d dim
	for i := range cs {
		if r := member(&cs[i]); r == nil || r.any {
			d.any |= 1 << i
		}
	}
	var t *trie
	for i := range cs {
		r := member(&cs[i])
		if r == nil || r.any {
			continue
		}
		if t == nil {
			t = newTrie(d.any)
		}
		lo := [2]byte{byte(r.lo >> 8), byte(r.lo)}
		hi := [2]byte{byte(r.hi >> 8), byte(r.hi)}
		t.add(lo[:], hi[:], 1<<i)
	}
	if t != nil {
		d.t = t.compile(nil, 0)
	}
	return d
}

func buildAddrs(cs []compiled, v6 bool, member func(*compiled) *netip.Prefix) dim {
	var d dim
	for i := range cs {
		if member(&cs[i]) == nil {
			d.any |= 1 << i
		}
	}
	width := 4
	if v6 {
		width = 16
	}
	var t *trie
	var keys [][16]byte
	var lens []int
	for i := range cs {
		p := member(&cs[i])
		if p == nil || p.Addr().Is6() != v6 {
			continue
		}
		if t == nil {
			t = newTrie(d.any)
		}
		var lo [16]byte
		copy(lo[:], p.Addr().AsSlice()) // masked by parseAddress
		hi := lo
		for b := p.Bits(); b < 8*width; b++ {
			hi[b/8] |= 0x80 >> (b % 8)
		}
		t.add(lo[:width], hi[:width], 1<<i)
		keys, lens = append(keys, lo), append(lens, p.Bits())
	}
	if t == nil {
		return d
	}
	var skip []byte
	if v6 {
		skip = keys[0][:commonBytes(keys, lens)]
	}
	d.t = t.compile(skip, d.any)
	return d
}

// Match reports whether any filter of s selects f. It does not allocate and
// may run concurrently with other calls on the same Set.
//
// It ANDs one mask per dimension: age, protocol and ports first, without
// branches, then the addresses of f's family. The early return before the
// addresses pays for itself with few filters, where most flows are out by
// then (IPv4, 1 filter: 9.9 ns/flow with it, 11.1 without; 20 filters: no
// difference).
func (s *Set) Match(f *Flow) bool {
	m := s.proto[f.Proto] & -b2u(f.AgeSeconds >= s.minAge)
	if s.dstPort.t != nil || s.srcPort.t != nil {
		p := s.dstPort.any
		if s.dstPort.t != nil {
			p = s.dstPort.t.lookupPort(f.DstPort)
		}
		if s.srcPort.t != nil {
			p &= s.srcPort.t.lookupPort(f.SrcPort)
		}
		// For protocols without ports s.proto already kept only the filters
		// with no port member, and every port lookup includes those.
		m &= p
	}
	if m == 0 {
		return false
	}
	switch f.Family {
	case 4:
		m &= s.dst4.lookup4(&f.Dst) & s.src4.lookup4(&f.Src)
	case 6:
		// IPv6 walks are long: skip them when no filter left needs them.
		if m&^s.dst6.any != 0 {
			m &= s.dst6.lookup6(&f.Dst)
		}
		if m&^s.src6.any != 0 {
			m &= s.src6.lookup6(&f.Src)
		}
	default:
		m &= s.src4.any & s.dst4.any
	}
	return m != 0
}

func (d *dim) lookup4(k *[16]byte) uint32 {
	if d.t == nil {
		return d.any
	}
	return d.t.lookup4(k)
}

func (d *dim) lookup6(k *[16]byte) uint32 {
	if d.t == nil {
		return d.any
	}
	return d.t.lookup6(k)
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// Len is the number of filters in s.
func (s *Set) Len() int { return len(s.filters) }

// MinAgeSeconds is the MinimumFlowAgeInSeconds s was compiled with.
func (s *Set) MinAgeSeconds() int64 { return s.minAge }

// Filters returns the filters of s in normalized form, for
// DescribeFlowOperation: addresses as masked CIDRs with a prefix length
// ("10.1.2.3" becomes "10.1.2.3/32", "10.1.2.3/8" becomes "10.0.0.0/8",
// IPv6 in RFC 5952 form), ports as ANY, N or N:M without leading zeros (N:N
// becomes N), protocols as plain decimal numbers in the order given. Absent
// members stay nil. The slice is a fresh copy on each call.
func (s *Set) Filters() []Filter {
	out := make([]Filter, len(s.filters))
	for i, f := range s.filters {
		out[i] = Filter{
			SourceAddress:      clone(f.SourceAddress),
			DestinationAddress: clone(f.DestinationAddress),
			SourcePort:         clone(f.SourcePort),
			DestinationPort:    clone(f.DestinationPort),
		}
		if f.Protocols != nil {
			out[i].Protocols = append([]string(nil), f.Protocols...)
		}
	}
	return out
}

func clone(p *string) *string {
	if p == nil {
		return nil
	}
	return ptr(*p)
}

// String describes s in one line, for logs: the filters in normalized form,
// then the minimum age and the number of 256-entry table nodes compiled.
func (s *Set) String() string {
	var b strings.Builder
	b.WriteString("filter.Set{")
	for i, f := range s.filters {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "[%d]", i)
		member := func(name string, v *string) {
			if v != nil {
				fmt.Fprintf(&b, " %s=%s", name, *v)
			}
		}
		member("src", f.SourceAddress)
		member("dst", f.DestinationAddress)
		member("sport", f.SourcePort)
		member("dport", f.DestinationPort)
		if len(f.Protocols) > 0 {
			fmt.Fprintf(&b, " proto=%s", strings.Join(f.Protocols, ","))
		}
		if f.SourceAddress == nil && f.DestinationAddress == nil && f.SourcePort == nil &&
			f.DestinationPort == nil && len(f.Protocols) == 0 {
			b.WriteString(" any")
		}
	}
	nodes := 0
	for _, d := range []*dim{&s.srcPort, &s.dstPort, &s.src4, &s.dst4, &s.src6, &s.dst6} {
		if d.t != nil {
			nodes += d.t.nodes()
		}
	}
	fmt.Fprintf(&b, "; min age %ds; %d table nodes}", s.minAge, nodes)
	return b.String()
}
