package engine

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/flowd/flowd/capture"
)

// tcpExchange writes a TCP connection 10.0.0.1:40000 -> 10.0.0.2:443 with
// toServer packets from the client and toClient from the server, the
// handshake included, one per millisecond.
func tcpExchange(t testing.TB, toServer, toClient int) *capBuilder {
	c := newCap(t)
	pkt := func(fromClient bool, flags string, n int) {
		src, dst, sp, dp := "10.0.0.1", "10.0.0.2", uint16(40000), uint16(443)
		if !fromClient {
			src, dst, sp, dp = dst, src, dp, sp
		}
		h := ip4(src, dst, layers.IPProtocolTCP)
		tc := tcp(sp, dp, flags)
		tc.SetNetworkLayerForChecksum(h)
		c.frame(time.Millisecond, nil, h, tc, payload(n))
	}
	pkt(true, "S", 0)
	pkt(false, "SA", 0)
	for i := 1; i < toServer; i++ {
		pkt(true, "PA", 100)
	}
	for i := 1; i < toClient; i++ {
		pkt(false, "PA", 200)
	}
	return c
}

func live(name string) SourceInfo { return SourceInfo{Name: name, Live: true} }

func file(name string) SourceInfo { return SourceInfo{Name: name} }

// bySource orders flows by the source of their first packet.
func bySource(flows []Flow) []Flow {
	slices.SortFunc(flows, func(a, b Flow) int { return int(a.Source) - int(b.Source) })
	return flows
}

// TestLiveInterfacesKeepFlowsApart: the same connection seen on two live
// interfaces at the same time is two flows, each with its own interface's
// packets, its own source and its own flow id (as Suricata keys flows by
// live device); seen in two files, or on two sockets of one interface's
// fanout group, it is one flow with every packet.
func TestLiveInterfacesKeepFlowsApart(t *testing.T) {
	a, b := tcpExchange(t, 3, 2), tcpExchange(t, 2, 1)
	for _, workers := range []int{1, 2} {
		flows, st := runCapsAs(t, Config{Workers: workers}, []SourceInfo{live("eth0"), live("eth1")}, a, b)
		if len(flows) != 2 {
			for _, f := range flows {
				t.Log(describe(&f))
			}
			t.Fatalf("%d workers, two interfaces: %d flows, want 2", workers, len(flows))
		}
		bySource(flows)
		for i, want := range [][2]uint64{{3, 2}, {2, 1}} {
			f := &flows[i]
			if f.Source != uint16(i) || f.Pkts != want || f.SrcAddr().String() != "10.0.0.1" || f.SrcPort != 40000 ||
				f.DstAddr().String() != "10.0.0.2" || f.DstPort != 443 || f.State != StateEstablished {
				t.Errorf("%d workers: flow %d: source %d %s, want source %d packets %v", workers, i, f.Source, describe(f), i, want)
			}
		}
		if flows[0].First != flows[1].First {
			t.Fatalf("the captures should start at the same time: %d, %d", flows[0].First, flows[1].First)
		}
		if flows[0].ID == flows[1].ID {
			t.Errorf("%d workers: both interfaces' flows have flow id %d", workers, flows[0].ID)
		}
		if st.Packets != 8 {
			t.Errorf("%d workers: %d packets counted, want 8", workers, st.Packets)
		}

		for _, infos := range [][]SourceInfo{{file("a.pcap"), file("b.pcap")}, {live("eth0"), live("eth0")}} {
			flows, _ := runCapsAs(t, Config{Workers: workers}, infos, a, b)
			if len(flows) != 1 || flows[0].Pkts != [2]uint64{5, 3} || flows[0].Source > 1 {
				for _, f := range flows {
					t.Log(describe(&f))
				}
				t.Errorf("%d workers, %s and %s (live %v): %d flows, want one of 5+3 packets", workers,
					infos[0].Name, infos[1].Name, infos[0].Live, len(flows))
			}
		}
	}
}

// TestLiveDomainsFollowFlows: on live interfaces, what counts toward a flow
// other than by its own key still finds it: later fragments (in order, and
// before the first) and ICMP errors quoting its packets. Each capture runs
// on two interfaces at once, so each gives two flows, each with all of its
// interface's packets.
func TestLiveDomainsFollowFlows(t *testing.T) {
	caps := map[string]*capBuilder{
		"fragments in order":   fragmentCap(t, "in-order"),
		"fragments last first": fragmentCap(t, "last-first"),
		"icmp error":           icmpErrorCap(t),
	}
	want := map[string][2]uint64{"fragments in order": {3, 1}, "fragments last first": {3, 1}, "icmp error": {1, 1}}
	for name, c := range caps {
		for _, workers := range []int{1, 2} {
			flows, st := runCapsAs(t, Config{Workers: workers}, []SourceInfo{live("eth0"), live("eth1")}, c, c)
			if len(flows) != 2 {
				for _, f := range flows {
					t.Log(describe(&f))
				}
				t.Fatalf("%s, %d workers: %d flows, want 2", name, workers, len(flows))
			}
			bySource(flows)
			for i := range flows {
				if f := &flows[i]; f.Source != uint16(i) || f.Pkts != want[name] {
					t.Errorf("%s, %d workers: flow %s from source %d, want packets %v", name, workers, describe(f), f.Source, want[name])
				}
			}
			if st.Table.ICMPErrorNoFlow != 0 {
				t.Errorf("%s, %d workers: %d ICMP errors found no flow", name, workers, st.Table.ICMPErrorNoFlow)
			}
			for _, s := range st.Sources {
				if s.FragmentsWithoutFirst != 0 {
					t.Errorf("%s, %d workers: source %d: %d fragments without first", name, workers, s.ID, s.FragmentsWithoutFirst)
				}
			}
		}
	}
}

// TestLiveDomainsTunnels: a VXLAN tunnel and the flow inside it, seen on
// two live interfaces, are two tunnel flows and two inner flows.
func TestLiveDomainsTunnels(t *testing.T) {
	c := newCap(t)
	for i := range 3 {
		outer := ip4("192.0.2.1", "192.0.2.2", layers.IPProtocolUDP)
		ou := &layers.UDP{SrcPort: 50000, DstPort: 4789}
		ou.SetNetworkLayerForChecksum(outer)
		src, dst, sp, dp := "10.1.0.1", "10.1.0.2", uint16(1000), uint16(53)
		if i == 2 {
			src, dst, sp, dp = dst, src, dp, sp
		}
		in := ip4(src, dst, layers.IPProtocolUDP)
		iu := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
		iu.SetNetworkLayerForChecksum(in)
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 1, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 1, 2},
			EthernetType: layers.EthernetTypeIPv4}
		c.frame(time.Millisecond, nil, outer, ou, &layers.VXLAN{ValidIDFlag: true, VNI: 42}, eth, in, iu, payload(20))
	}
	for _, workers := range []int{1, 3} {
		flows, _ := runCapsAs(t, Config{Workers: workers}, []SourceInfo{live("eth0"), live("eth1")}, c, c)
		var got []string
		for _, f := range flows {
			got = append(got, fmt.Sprintf("source %d depth %d %v:%d pkts %v", f.Source, f.Depth, f.SrcAddr(), f.SrcPort, f.Pkts))
		}
		slices.Sort(got)
		want := []string{
			"source 0 depth 0 192.0.2.1:50000 pkts [3 0]", "source 0 depth 1 10.1.0.1:1000 pkts [2 1]",
			"source 1 depth 0 192.0.2.1:50000 pkts [3 0]", "source 1 depth 1 10.1.0.1:1000 pkts [2 1]",
		}
		if !slices.Equal(got, want) {
			t.Errorf("%d workers:\n got %q\nwant %q", workers, got, want)
		}
	}
}

// TestSourceDomains: files share domain 0; each live interface has its own
// domain, shared by all of its sockets, in the order interfaces are added;
// past the key's 15 domains they start again at 1.
func TestSourceDomains(t *testing.T) {
	e, err := New(Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	empty := newCap(t)
	add := func(info SourceInfo) uint8 {
		t.Helper()
		src, err := capture.NewReader(bytes.NewReader(empty.buf.Bytes()), info.Name)
		if err != nil {
			t.Fatal(err)
		}
		id, err := e.AddSource(src, info)
		if err != nil {
			t.Fatal(err)
		}
		return e.sources[id].domain
	}
	type step struct {
		info SourceInfo
		want uint8
	}
	steps := []step{
		{file("a.pcap"), 0}, {live("eth0"), 1}, {live("eth0"), 1}, {file("b.pcap"), 0},
		{live("eth1"), 2}, {live("eth0"), 1}, {live("eth1"), 2},
	}
	for i := 3; i <= 17; i++ { // eth2 .. eth16: domains 3 .. 15, then 1 and 2 again
		steps = append(steps, step{live(fmt.Sprintf("eth%d", i-1)), uint8((i-1)%15 + 1)})
	}
	steps = append(steps, step{live("eth15"), 1}, step{live("eth2"), 3})
	for _, s := range steps {
		if got := add(s.info); got != s.want {
			t.Errorf("%s (live %v): domain %d, want %d", s.info.Name, s.info.Live, got, s.want)
		}
	}
	for _, s := range e.sources {
		if s.frag.domain != s.domain {
			t.Errorf("%s: fragment tracker in domain %d, source in %d", s.info.Name, s.frag.domain, s.domain)
		}
	}
}
