package filter

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"sync"
	"testing"
)

func str(s string) *string { return &s }

// flow builds a Flow from text, for hand-written cases.
func flow(src, dst string, proto uint8, sport, dport uint16, age int64) Flow {
	f := Flow{Proto: proto, SrcPort: sport, DstPort: dport, AgeSeconds: age}
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	if s.Is4() != d.Is4() {
		panic("mixed families")
	}
	f.Family = 6
	if s.Is4() {
		f.Family = 4
	}
	copy(f.Src[:], s.AsSlice())
	copy(f.Dst[:], d.AsSlice())
	return f
}

func mustCompile(t testing.TB, fs []Filter, minAge int64) *Set {
	t.Helper()
	s, err := Compile(fs, minAge)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return s
}

func TestMatchCases(t *testing.T) {
	web := Filter{SourceAddress: str("10.0.1.0/24"), DestinationPort: str("443"), Protocols: []string{"6"}}
	cases := []struct {
		name    string
		filters []Filter
		minAge  int64
		flow    Flow
		want    bool
	}{
		{"all members match", []Filter{web}, 0, flow("10.0.1.15", "198.51.100.7", 6, 49152, 443, 5), true},
		{"directional: reverse flow", []Filter{web}, 0, flow("198.51.100.7", "10.0.1.15", 6, 443, 49152, 5), false},
		{"wrong protocol", []Filter{web}, 0, flow("10.0.1.15", "198.51.100.7", 17, 49152, 443, 5), false},
		{"wrong port", []Filter{web}, 0, flow("10.0.1.15", "198.51.100.7", 6, 49152, 444, 5), false},
		{"outside prefix", []Filter{web}, 0, flow("10.0.2.15", "198.51.100.7", 6, 49152, 443, 5), false},
		{"too young", []Filter{web}, 60, flow("10.0.1.15", "198.51.100.7", 6, 49152, 443, 59), false},
		{"old enough", []Filter{web}, 60, flow("10.0.1.15", "198.51.100.7", 6, 49152, 443, 60), true},
		{"empty filter matches all", []Filter{{}}, 0, flow("::1", "::2", 58, 0, 0, 0), true},
		{"second filter matches", []Filter{web, {Protocols: []string{"17"}}}, 0, flow("1.1.1.1", "8.8.8.8", 17, 5353, 53, 0), true},
		{"bare address is /32", []Filter{{DestinationAddress: str("8.8.8.8")}}, 0, flow("1.1.1.1", "8.8.8.9", 17, 1, 53, 0), false},
		{"host bits masked", []Filter{{DestinationAddress: str("8.8.8.8/24")}}, 0, flow("1.1.1.1", "8.8.8.200", 17, 1, 53, 0), true},
		{"v4 /0 does not match v6", []Filter{{SourceAddress: str("0.0.0.0/0")}}, 0, flow("::1", "::2", 6, 1, 2, 0), false},
		{"v6 /0 does not match v4", []Filter{{SourceAddress: str("::/0")}}, 0, flow("1.2.3.4", "5.6.7.8", 6, 1, 2, 0), false},
		{"v6 /0 matches v6", []Filter{{SourceAddress: str("::/0")}}, 0, flow("2001:db8::1", "::2", 6, 1, 2, 0), true},
		{"v6 /128", []Filter{{DestinationAddress: str("2001:db8::1")}}, 0, flow("::5", "2001:db8::1", 6, 1, 2, 0), true},
		{"v6 /128 miss", []Filter{{DestinationAddress: str("2001:db8::1")}}, 0, flow("::5", "2001:db8::2", 6, 1, 2, 0), false},
		{"mapped prefix is not IPv4", []Filter{{SourceAddress: str("::ffff:10.0.0.0/104")}}, 0, flow("10.1.2.3", "10.0.0.1", 6, 1, 2, 0), false},
		{"mapped prefix matches mapped v6", []Filter{{SourceAddress: str("::ffff:10.0.0.0/104")}}, 0, flow("::ffff:10.1.2.3", "::1", 6, 1, 2, 0), true},
		{"v4 prefix does not match mapped v6", []Filter{{SourceAddress: str("10.0.0.0/8")}}, 0, flow("::ffff:10.1.2.3", "::1", 6, 1, 2, 0), false},
		{"port filter never matches ICMP", []Filter{{DestinationPort: str("0")}}, 0, flow("1.1.1.1", "2.2.2.2", 1, 0, 0, 0), false},
		{"0:65535 is not ANY for ICMP", []Filter{{SourcePort: str("0:65535")}}, 0, flow("1.1.1.1", "2.2.2.2", 1, 0, 0, 0), false},
		{"0:65535 matches UDP", []Filter{{SourcePort: str("0:65535")}}, 0, flow("1.1.1.1", "2.2.2.2", 17, 0, 0, 0), true},
		{"ANY matches ICMP", []Filter{{SourcePort: str("ANY"), DestinationPort: str("ANY")}}, 0, flow("1.1.1.1", "2.2.2.2", 1, 0, 0, 0), true},
		{"SCTP has ports", []Filter{{DestinationPort: str("36412")}}, 0, flow("1.1.1.1", "2.2.2.2", 132, 1, 36412, 0), true},
		{"range low edge", []Filter{{SourcePort: str("1024:2047")}}, 0, flow("1.1.1.1", "2.2.2.2", 6, 1024, 1, 0), true},
		{"range high edge", []Filter{{SourcePort: str("1024:2047")}}, 0, flow("1.1.1.1", "2.2.2.2", 6, 2047, 1, 0), true},
		{"range below", []Filter{{SourcePort: str("1024:2047")}}, 0, flow("1.1.1.1", "2.2.2.2", 6, 1023, 1, 0), false},
		{"range above", []Filter{{SourcePort: str("1024:2047")}}, 0, flow("1.1.1.1", "2.2.2.2", 6, 2048, 1, 0), false},
		{"port 65535", []Filter{{DestinationPort: str("65535")}}, 0, flow("1.1.1.1", "2.2.2.2", 17, 1, 65535, 0), true},
		{"unknown family, address filter", []Filter{{SourceAddress: str("0.0.0.0/0")}}, 0, Flow{Family: 0, Proto: 6}, false},
		{"unknown family, no address filter", []Filter{{Protocols: []string{"6"}}}, 0, Flow{Family: 0, Proto: 6}, true},
		{"duplicate protocols", []Filter{{Protocols: []string{"17", "17", "6"}}}, 0, flow("1.1.1.1", "2.2.2.2", 6, 1, 1, 0), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustCompile(t, c.filters, c.minAge)
			if got := s.Match(&c.flow); got != c.want {
				t.Errorf("Match = %v, want %v; set %v", got, c.want, s)
			}
			if got := newTwin(s.Filters(), c.minAge).match(&c.flow); got != c.want {
				t.Errorf("twin = %v, want %v", got, c.want)
			}
		})
	}
}

// TestMatchAgreesWithTwin compares Set.Match with the linear twin over
// seeded random filter sets and flows.
func TestMatchAgreesWithTwin(t *testing.T) {
	sets, flows := 2000, 200 // 400k comparisons
	if testing.Short() || raceEnabled {
		sets = 200
	}
	r := rand.New(rand.NewPCG(20250321, 1))
	matched, total := 0, 0
	var skips [2]int // IPv6 tables without and with a skip
	for i := range sets {
		n := 1 + r.IntN(MaxFilters)
		if i%4 == 0 {
			n = MaxFilters
		}
		fs := randFilters(r, n)
		minAge := minAges[r.IntN(len(minAges))]
		s := mustCompile(t, fs, minAge)
		for _, d := range []*dim{&s.src6, &s.dst6} {
			if d.t != nil {
				skips[b2i(d.t.skip > 0)]++
			}
		}
		// The twin reads the raw filters, not s.Filters(), so that
		// normalization is checked too (TestFiltersNormalized checks the
		// round trip).
		tw := newTwin(fs, minAge)
		for range flows {
			f := randFlow(r)
			got, want := s.Match(&f), tw.match(&f)
			if got != want {
				t.Fatalf("set %d: Match = %v, twin = %v\nflow %+v\nset %v", i, got, want, f, s)
			}
			total++
			if got {
				matched++
			}
		}
	}
	// A workload where nothing (or everything) matches proves little.
	if matched < total/20 || matched > total*19/20 {
		t.Errorf("%d of %d flows matched: workload is lopsided", matched, total)
	}
	if skips[0] == 0 || skips[1] == 0 {
		t.Errorf("IPv6 tables without and with a skip: %v; a lookup6 path went untested", skips)
	}
	t.Logf("%d comparisons, %d matched; IPv6 tables without and with a skip: %v", total, matched, skips)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestMatchAgreesWithTwinClustered runs the twin comparison on the
// benchmark's workload: addresses clustered in a few networks, so that IPv6
// prefixes share leading bytes (which the IPv6 table skips in one compare)
// and flows fall inside them.
func TestMatchAgreesWithTwinClustered(t *testing.T) {
	r := rand.New(rand.NewPCG(99, 1))
	sets := 1000
	if testing.Short() || raceEnabled {
		sets = 100
	}
	matched, total := 0, 0
	for i := range sets {
		v6 := i%2 == 1
		fs := make([]Filter, 1+r.IntN(MaxFilters))
		for j := range fs {
			fs[j] = benchFilter(r, v6 && (i%4 == 1 || j%2 == 0))
		}
		s := mustCompile(t, fs, 60)
		tw := newTwin(fs, 60)
		for range 200 {
			f := benchFlow(r, v6)
			got, want := s.Match(&f), tw.match(&f)
			if got != want {
				t.Fatalf("set %d: Match = %v, twin = %v\nflow %+v\nset %v", i, got, want, f, s)
			}
			total++
			if got {
				matched++
			}
		}
	}
	if matched < total/20 || matched > total*19/20 {
		t.Errorf("%d of %d flows matched: workload is lopsided", matched, total)
	}
	t.Logf("%d comparisons, %d matched", total, matched)
}

// TestFiltersNormalized checks that the echoed filters compile to a Set
// that agrees with the original, and that normalizing is idempotent.
func TestFiltersNormalized(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		fs := randFilters(r, 1+r.IntN(MaxFilters))
		s := mustCompile(t, fs, 0)
		norm := s.Filters()
		s2 := mustCompile(t, norm, 0)
		if a, b := s.String(), s2.String(); a != b {
			t.Fatalf("normalizing changed the set:\n%s\n%s", a, b)
		}
		for range 100 {
			f := randFlow(r)
			if s.Match(&f) != s2.Match(&f) {
				t.Fatalf("normalized set disagrees on %+v\n%v", f, s)
			}
		}
	}

	s := mustCompile(t, []Filter{
		{SourceAddress: str("10.1.2.3"), DestinationAddress: str("10.1.2.3/8"), SourcePort: str("0080"), DestinationPort: str("1:1"), Protocols: []string{"06", "17"}},
		{SourceAddress: str("2001:DB8:0:0::1/32"), DestinationPort: str("ANY"), SourcePort: str("0:65535")},
		{},
	}, 60)
	want := "filter.Set{[0] src=10.1.2.3/32 dst=10.0.0.0/8 sport=80 dport=1 proto=6,17; " +
		"[1] src=2001:db8::/32 sport=0:65535 dport=ANY; [2] any; min age 60s; 13 table nodes}"
	if got := s.String(); got != want {
		t.Errorf("String:\n got %s\nwant %s", got, want)
	}
	if s.Len() != 3 || s.MinAgeSeconds() != 60 {
		t.Errorf("Len, MinAgeSeconds = %d, %d", s.Len(), s.MinAgeSeconds())
	}
	// Filters returns copies: changing them does not change s.
	f := s.Filters()
	*f[0].SourceAddress = "x"
	f[0].Protocols[0] = "x"
	if g := s.Filters(); *g[0].SourceAddress != "10.1.2.3/32" || g[0].Protocols[0] != "6" || g[2].Protocols != nil {
		t.Errorf("Filters shares memory with the set: %+v", g[0])
	}
}

func TestMatchAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	s := mustCompile(t, randFilters(r, MaxFilters), 0)
	flows := make([]Flow, 64)
	for i := range flows {
		flows[i] = randFlow(r)
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		s.Match(&flows[i%len(flows)])
		i++
	}); n != 0 {
		t.Errorf("Match allocates %v times per call", n)
	}
}

// TestMatchConcurrent runs Match on one Set from many goroutines; under
// -race it proves Match only reads the Set.
func TestMatchConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	fs := randFilters(r, MaxFilters)
	s := mustCompile(t, fs, 30)
	tw := newTwin(fs, 30)
	flows := make([]Flow, 2000)
	want := make([]bool, len(flows))
	for i := range flows {
		flows[i] = randFlow(r)
		want[i] = tw.match(&flows[i])
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range flows {
				j := (i + g*250) % len(flows)
				if s.Match(&flows[j]) != want[j] {
					t.Errorf("goroutine %d: flow %d disagrees", g, j)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestFlowSize(t *testing.T) {
	if n := reflect.TypeFor[Flow]().Size(); n != 48 {
		t.Errorf("Flow is %d bytes, documented as 48", n)
	}
}
