package gen

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/capture"
)

// twinConfigs are the configurations the twin checks, each for several
// seeds: every link type, both file formats and resolutions, and the rare
// kinds of traffic turned up high.
var twinConfigs = []struct {
	name   string
	pcapng bool
	cfg    Config
}{
	{"default", false, Config{}},
	{"v6-vlan-qinq", false, Config{Flows: 300, IPv6: 0.6, VLAN: 0.3, QinQ: 0.3, IPOptions: 0.3}},
	{"rare-kinds", false, Config{
		Flows: 400, IPv6: 0.4, Fragments: 0.5, ICMPErrors: 0.3, Reuse: 0.3, SynAck: 0.2,
		Reject: 0.1, Unanswered: 0.1, HalfClose: 0.5, IPOptions: 0.2, Malformed: 40,
		Interfaces: []Interface{{Resolution: Nano}},
	}},
	{"elephants", false, Config{Flows: 60, MeanPackets: 40, Skew: 3, Sizes: Large, MTU: 9000, Fragments: 0.5}},
	{"small-uniform", false, Config{Flows: 200, Sizes: Uniform, MTU: 1280, Fragments: 0.5, IPv6: 0.5}},
	{"sll", false, Config{Flows: 150, Interfaces: []Interface{{Link: SLL}}, Fragments: 0.3, ICMPErrors: 0.2}},
	{"sll2", false, Config{Flows: 150, Interfaces: []Interface{{Link: SLL2}}, Fragments: 0.3, ICMPErrors: 0.2}},
	{"raw", false, Config{Flows: 150, Interfaces: []Interface{{Link: Raw}}, IPv6: 0.5, Fragments: 0.3}},
	{"null", false, Config{Flows: 150, Interfaces: []Interface{{Link: Null}}, IPv6: 0.5, Fragments: 0.3}},
	{"pcapng-two-ifaces-us", true, Config{
		Flows: 300, Fragments: 0.3, ICMPErrors: 0.2, Reuse: 0.2,
		Interfaces: []Interface{{Link: Ethernet}, {Link: Raw, Resolution: Micro}},
	}},
	{"pcapng-gopacket-ns", true, Config{
		Flows: 300, VLAN: 0.3, QinQ: 0.2,
		Interfaces: []Interface{{Link: Ethernet}, {Link: SLL2}, {Link: Null, Weight: 0.5}},
	}},
}

func generate(t testing.TB, pcapng bool, cfg Config) ([]byte, *Truth) {
	t.Helper()
	var buf bytes.Buffer
	var tr *Truth
	var err error
	if pcapng {
		tr, err = WritePcapNG(&buf, cfg)
	} else {
		tr, err = WritePcap(&buf, cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), tr
}

func TestTwin(t *testing.T) {
	for _, tc := range twinConfigs {
		for _, seed := range []uint64{1, 2, 3} {
			t.Run(tc.name+"/seed"+string(rune('0'+seed)), func(t *testing.T) {
				cfg := tc.cfg
				cfg.Seed = seed
				b, tr := generate(t, tc.pcapng, cfg)
				want := cfg.Flows
				if want == 0 {
					want = 100
				}
				if len(tr.Flows) != want {
					t.Errorf("truth has %d flows, want %d", len(tr.Flows), want)
				}
				checkTwin(t, b, tr)
			})
		}
	}
}

// TestCoverage checks that the rare-kinds configuration really makes every
// kind of flow and every malformed frame, so the twin checks them.
func TestCoverage(t *testing.T) {
	cfg := twinConfigs[2].cfg
	cfg.Seed = 1
	b, tr := generate(t, false, cfg)
	if res := twin(t, readCapture(t, b)); res.errorsTo[0] == 0 || res.errorsTo[1] == 0 {
		t.Errorf("ICMP errors counted to-server, to-client: %v; want both", res.errorsTo)
	}
	seen := map[string]int{}
	for _, f := range tr.Flows {
		for _, w := range strings.Fields(f.Kind) {
			seen[w]++
		}
		if f.Reused {
			seen["reused"]++
		}
		if f.Reversed {
			seen["reversed"]++
		}
		if f.Fragmented && f.Src.Is6() {
			seen["v6-fragments"]++
		}
		if f.Fragmented && f.Src.Is4() {
			seen["v4-fragments"]++
		}
		if f.ICMPErrors > 0 && f.Src.Is6() {
			seen["icmpv6-errors"]++
		}
		if f.ICMPErrors > 0 && f.Src.Is4() {
			seen["icmpv4-errors"]++
		}
		seen["state-"+f.State]++
		seen["reason-"+f.Reason]++
		seen["vlans-"+string(rune('0'+len(f.VLAN)))]++
	}
	for _, k := range []string{"tcp", "udp", "icmp", "icmpv6", "sctp", "fin", "rst", "open", "half-close",
		"reject", "unanswered", "synack-first", "time-exceeded", "port-unreachable", "fragments", "echo",
		"reused", "reversed", "v4-fragments", "v6-fragments", "icmpv4-errors", "icmpv6-errors",
		"state-new", "state-established", "state-closing", "state-closed", "reason-active", "reason-tcp-closed",
		"vlans-0", "vlans-1", "vlans-2"} {
		if seen[k] == 0 {
			t.Errorf("no %q flow in %d flows", k, len(tr.Flows))
		}
	}
	for _, k := range MalformedKinds {
		if tr.DecodeErrors[k.Reason] == 0 {
			t.Errorf("no malformed frame with reason %v", k.Reason)
		}
	}
}

func TestDeterminism(t *testing.T) {
	for _, tc := range twinConfigs {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Seed = 7
			a, ta := generate(t, tc.pcapng, cfg)
			b, tb := generate(t, tc.pcapng, cfg)
			if !bytes.Equal(a, b) {
				t.Fatal("same seed, different bytes")
			}
			var ca, cb bytes.Buffer
			ta.WriteCSV(&ca)
			tb.WriteCSV(&cb)
			if !bytes.Equal(ca.Bytes(), cb.Bytes()) {
				t.Fatal("same seed, different truth")
			}
			cfg.Seed = 8
			c, _ := generate(t, tc.pcapng, cfg)
			if bytes.Equal(a, c) {
				t.Fatal("different seeds, same bytes")
			}
		})
	}
}

// TestStream checks the streaming API against the writers: the same
// frames, in timestamp order, and frames valid as the Frame contract says.
func TestStream(t *testing.T) {
	cfg := Config{Seed: 3, Flows: 500, Fragments: 0.2, ICMPErrors: 0.2}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var fr capture.Frame
	var n, bytesN uint64
	last := int64(0)
	for g.Next(&fr) {
		n++
		bytesN += uint64(len(fr.Data))
		if fr.Timestamp < last {
			t.Fatalf("packet %d at %d before %d", n, fr.Timestamp, last)
		}
		last = fr.Timestamp
		if fr.LinkType != capture.LinkEthernet || int(fr.WireLen) < len(fr.Data) {
			t.Fatalf("packet %d: %+v", n, fr)
		}
	}
	tr := g.Truth()
	if tr.Packets != n || tr.Bytes != bytesN || len(tr.Flows) != 500 {
		t.Fatalf("truth %d packets %d bytes %d flows; stream %d packets %d bytes", tr.Packets, tr.Bytes, len(tr.Flows), n, bytesN)
	}
	if g.Next(&fr) {
		t.Fatal("Next after the end returned a packet")
	}
	// With nanosecond resolution the pcap twin sees exactly the stream.
	cfg.Interfaces = []Interface{{Resolution: Nano}}
	b, tp := generate(t, false, cfg)
	var c1, c2 bytes.Buffer
	tr.WriteCSV(&c1)
	tp.WriteCSV(&c2)
	if c1.String() != c2.String() {
		t.Fatal("stream truth differs from the pcap writer's")
	}
	checkTwin(t, b, tr)
}

func TestNoTruth(t *testing.T) {
	g, err := New(Config{Seed: 1, Flows: 200, NoTruth: true})
	if err != nil {
		t.Fatal(err)
	}
	var fr capture.Frame
	n := 0
	for g.Next(&fr) {
		n++
	}
	tr := g.Truth()
	if len(tr.Flows) != 0 || tr.Packets != uint64(n) || n == 0 {
		t.Fatalf("NoTruth: %d flows, %d packets (stream %d)", len(tr.Flows), tr.Packets, n)
	}
}

func TestCSVRoundTrip(t *testing.T) {
	_, tr := generate(t, false, Config{Seed: 5, Flows: 300, VLAN: 0.3, QinQ: 0.3, Reuse: 0.3})
	var buf bytes.Buffer
	if err := tr.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), strings.Join(CSVHeader, ",")+"\n") {
		t.Fatalf("header: %q", strings.SplitN(buf.String(), "\n", 2)[0])
	}
	flows, err := ReadCSV(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != len(tr.Flows) {
		t.Fatalf("read %d flows, wrote %d", len(flows), len(tr.Flows))
	}
	for i := range flows {
		a, b := flows[i].Row(), tr.Flows[i].Row()
		if strings.Join(a, ",") != strings.Join(b, ",") {
			t.Fatalf("row %d: read %v, wrote %v", i, a, b)
		}
	}
	if _, err := ReadCSV(strings.NewReader("proto,src_ip\n6,1.2.3.4\n")); err == nil {
		t.Fatal("ReadCSV accepted a header without the columns")
	}
	bad := strings.Join(CSVHeader, ",") + "\nx,1.2.3.4,1,5.6.7.8,2,,1,1,1,1,1,1,2025-01-01T00:00:00.000000Z,2025-01-01T00:00:00.000000Z,0,new,active\n"
	if _, err := ReadCSV(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "proto") {
		t.Fatalf("ReadCSV on a bad proto: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Flows: -1},
		{Flows: maxFlows + 1},
		{MTU: 500},
		{Duration: -time.Second},
		{Skew: 11},
		{Reject: 0.5, Unanswered: 0.4, SynAck: 0.3},
		{TCP: Off, UDP: Off, ICMP: Off, SCTP: Off},
		{Interfaces: []Interface{{Link: 99}}},
		{Sizes: 42},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted it", cfg)
		}
	}
	if _, err := WritePcap(new(bytes.Buffer), Config{Interfaces: []Interface{{}, {}}}); err == nil {
		t.Error("WritePcap wrote two interfaces")
	}
}

// TestSpan: with the defaults no flow can time out (see Config.Duration).
func TestSpan(t *testing.T) {
	_, tr := generate(t, false, Config{Seed: 1, Flows: 2000})
	if d := time.Duration(tr.Last - tr.First); d >= 30*time.Second {
		t.Fatalf("capture spans %v", d)
	}
}

// TestAllocs: the stream allocates nothing per packet once the flow slab,
// heap and quote pool have grown (a few hundred allocations in all for
// tens of thousands of packets, whatever their number).
func TestAllocs(t *testing.T) {
	var pkts int
	allocs := testing.AllocsPerRun(1, func() {
		g, err := New(Config{Seed: 9, Flows: 5000, NoTruth: true, Fragments: 0.2, ICMPErrors: 0.2})
		if err != nil {
			t.Fatal(err)
		}
		var fr capture.Frame
		for pkts = 0; g.Next(&fr); pkts++ {
		}
	})
	if allocs > 200 {
		t.Fatalf("%v allocations for %d packets", allocs, pkts)
	}
	t.Logf("%v allocations for %d packets", allocs, pkts)
}
