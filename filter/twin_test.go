package filter

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
)

// twin is the dumb twin of Set: the filters kept as parsed values and
// checked one by one with netip.Prefix.Contains, straight from the package
// doc's rules. It parses with its own straightforward code and is only ever
// fed filters that Compile accepted.
type twin struct {
	minAge  int64
	filters []twinFilter
}

type twinFilter struct {
	src, dst         *netip.Prefix
	srcPort, dstPort *twinPort
	protos           []int
}

type twinPort struct {
	any    bool
	lo, hi int
}

func newTwin(filters []Filter, minAge int64) *twin {
	t := &twin{minAge: minAge}
	for _, f := range filters {
		var tf twinFilter
		tf.src = twinPrefix(f.SourceAddress)
		tf.dst = twinPrefix(f.DestinationAddress)
		tf.srcPort = twinPortOf(f.SourcePort)
		tf.dstPort = twinPortOf(f.DestinationPort)
		for _, p := range f.Protocols {
			n, err := strconv.Atoi(p)
			if err != nil {
				panic(err)
			}
			tf.protos = append(tf.protos, n)
		}
		t.filters = append(t.filters, tf)
	}
	return t
}

func twinPrefix(s *string) *netip.Prefix {
	if s == nil {
		return nil
	}
	a, bits, ok := strings.Cut(*s, "/")
	addr := netip.MustParseAddr(a)
	n := addr.BitLen()
	if ok {
		var err error
		if n, err = strconv.Atoi(bits); err != nil {
			panic(err)
		}
	}
	p, err := addr.Prefix(n)
	if err != nil {
		panic(err)
	}
	return &p
}

func twinPortOf(s *string) *twinPort {
	if s == nil {
		return nil
	}
	if *s == "ANY" {
		return &twinPort{any: true}
	}
	lo, hi, ok := strings.Cut(*s, ":")
	if !ok {
		hi = lo
	}
	l, err1 := strconv.Atoi(lo)
	h, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil {
		panic(*s)
	}
	return &twinPort{lo: l, hi: h}
}

func (t *twin) match(f *Flow) bool {
	if f.AgeSeconds < t.minAge {
		return false
	}
	var src, dst netip.Addr // invalid for a family other than 4 and 6
	switch f.Family {
	case 4:
		src = netip.AddrFrom4([4]byte(f.Src[:4]))
		dst = netip.AddrFrom4([4]byte(f.Dst[:4]))
	case 6:
		src = netip.AddrFrom16(f.Src)
		dst = netip.AddrFrom16(f.Dst)
	}
	ports := f.Proto == 6 || f.Proto == 17 || f.Proto == 132
	portOK := func(p *twinPort, v uint16) bool {
		switch {
		case p == nil || p.any:
			return true
		case !ports:
			return false
		}
		return p.lo <= int(v) && int(v) <= p.hi
	}
	for _, tf := range t.filters {
		if tf.src != nil && !tf.src.Contains(src) {
			continue
		}
		if tf.dst != nil && !tf.dst.Contains(dst) {
			continue
		}
		if !portOK(tf.srcPort, f.SrcPort) || !portOK(tf.dstPort, f.DstPort) {
			continue
		}
		if len(tf.protos) > 0 {
			found := false
			for _, p := range tf.protos {
				found = found || p == int(f.Proto)
			}
			if !found {
				continue
			}
		}
		return true
	}
	return false
}

// Random workloads. Addresses come from a few bases so that prefixes nest
// and overlap and flows land inside, outside and right at their edges.

var (
	bases4 = []netip.Addr{
		netip.MustParseAddr("10.0.0.0"),
		netip.MustParseAddr("10.1.2.3"),
		netip.MustParseAddr("192.168.1.77"),
		netip.MustParseAddr("0.0.0.0"),
		netip.MustParseAddr("255.255.255.255"),
	}
	bases6 = []netip.Addr{
		netip.MustParseAddr("2001:db8::"),
		netip.MustParseAddr("2001:db8:0:1::42"),
		netip.MustParseAddr("fe80::1"),
		netip.MustParseAddr("::ffff:10.0.0.1"), // IPv4-mapped: an IPv6 address here
		netip.MustParseAddr("::"),
		netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
	}
	portPool  = []int{0, 1, 22, 53, 80, 443, 1023, 1024, 8080, 32768, 65534, 65535}
	protoPool = []int{0, 1, 6, 17, 47, 58, 132, 255}
)

// nearAddr is a base address with a few random bits flipped, mostly low
// ones, so that it falls just inside or just outside nearby prefixes.
func nearAddr(r *rand.Rand, v6 bool) netip.Addr {
	bases, n := bases4, 32
	if v6 {
		bases, n = bases6, 128
	}
	a := bases[r.IntN(len(bases))]
	b := a.AsSlice()
	for range r.IntN(3) {
		bit := n - 1 - r.IntN(n)
		if r.IntN(2) == 0 {
			bit = n - 1 - r.IntN(min(n, 12)) // a low bit
		}
		b[bit/8] ^= 0x80 >> (bit % 8)
	}
	out, _ := netip.AddrFromSlice(b)
	return out
}

func randAddressString(r *rand.Rand) string {
	v6 := r.IntN(3) == 0
	a := nearAddr(r, v6)
	s := a.String()
	switch r.IntN(6) {
	case 0:
		return s // bare address
	case 1:
		if v6 {
			return s + "/128"
		}
		return s + "/32"
	case 2:
		return s + "/0"
	}
	// Host bits are often set here: Compile must clear them.
	return s + "/" + strconv.Itoa(r.IntN(a.BitLen()+1))
}

func randPortString(r *rand.Rand) string {
	p := func() int {
		if r.IntN(4) == 0 {
			return r.IntN(65536)
		}
		return portPool[r.IntN(len(portPool))]
	}
	switch r.IntN(6) {
	case 0:
		return "ANY"
	case 1:
		return "0:65535"
	case 2, 3:
		return strconv.Itoa(p())
	}
	lo, hi := p(), p()
	if lo > hi {
		lo, hi = hi, lo
	}
	if r.IntN(10) == 0 {
		return "0" + strconv.Itoa(lo) + ":" + strconv.Itoa(hi) // leading zero
	}
	return strconv.Itoa(lo) + ":" + strconv.Itoa(hi)
}

func randFilter(r *rand.Rand) Filter {
	var f Filter
	maybe := func(gen func(*rand.Rand) string) *string {
		if r.IntN(2) == 0 {
			return nil
		}
		s := gen(r)
		return &s
	}
	f.SourceAddress = maybe(randAddressString)
	f.DestinationAddress = maybe(randAddressString)
	f.SourcePort = maybe(randPortString)
	f.DestinationPort = maybe(randPortString)
	if r.IntN(2) == 0 {
		for range 1 + r.IntN(3) {
			f.Protocols = append(f.Protocols, strconv.Itoa(protoPool[r.IntN(len(protoPool))]))
		}
	}
	return f
}

func randFilters(r *rand.Rand, n int) []Filter {
	fs := make([]Filter, n)
	for i := range fs {
		fs[i] = randFilter(r)
	}
	return fs
}

func randFlow(r *rand.Rand) Flow {
	var f Flow
	switch r.IntN(20) {
	case 0:
		f.Family = uint8(r.IntN(8)) // 0..7: mostly not 4 or 6
	default:
		f.Family = 4 + 2*uint8(r.IntN(2))
	}
	v6 := f.Family == 6
	src, dst := nearAddr(r, v6).AsSlice(), nearAddr(r, v6).AsSlice()
	copy(f.Src[:], src)
	copy(f.Dst[:], dst)
	f.Proto = uint8(protoPool[r.IntN(len(protoPool))])
	if r.IntN(10) == 0 {
		f.Proto = uint8(r.IntN(256))
	}
	port := func() uint16 {
		p := portPool[r.IntN(len(portPool))] + r.IntN(3) - 1 // at and beside the pool
		return uint16(p)                                     // -1 wraps to 65535
	}
	f.SrcPort, f.DstPort = port(), port()
	f.AgeSeconds = int64(r.IntN(120))
	return f
}

var minAges = []int64{0, 0, 1, 30, 60, 119}
