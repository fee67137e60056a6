package engine

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/flowd/flowd/capture"
)

// capBuilder writes Ethernet frames into an in-memory pcap, built with
// gopacket's serializer (an implementation independent of flowd's decoder).
type capBuilder struct {
	t   testing.TB
	buf bytes.Buffer
	w   *pcapgo.Writer
	now time.Time
}

func newCap(t testing.TB) *capBuilder {
	c := &capBuilder{t: t, now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	c.w = pcapgo.NewWriterNanos(&c.buf)
	if err := c.w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	return c
}

// frame serializes layers after an Ethernet header (and VLAN tags) and
// writes the frame dt after the previous one.
func (c *capBuilder) frame(dt time.Duration, vlans []uint16, ls ...gopacket.SerializableLayer) {
	c.t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	var next layers.EthernetType
	switch l := ls[0].(type) {
	case *layers.IPv4:
		next = layers.EthernetTypeIPv4
	case *layers.IPv6:
		next = layers.EthernetTypeIPv6
	default:
		c.t.Fatalf("first layer %T", l)
	}
	all := []gopacket.SerializableLayer{eth}
	if len(vlans) == 0 {
		eth.EthernetType = next
	} else {
		eth.EthernetType = layers.EthernetTypeDot1Q
		for i, v := range vlans {
			tag := &layers.Dot1Q{VLANIdentifier: v, Type: layers.EthernetTypeDot1Q}
			if i == len(vlans)-1 {
				tag.Type = next
			}
			all = append(all, tag)
		}
	}
	all = append(all, ls...)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, all...); err != nil {
		c.t.Fatal(err)
	}
	c.now = c.now.Add(dt)
	data := buf.Bytes()
	if err := c.w.WritePacket(gopacket.CaptureInfo{Timestamp: c.now, CaptureLength: len(data), Length: len(data)}, data); err != nil {
		c.t.Fatal(err)
	}
}

func ip4(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4(), Id: 1}
}

func tcp(sp, dp uint16, flags string) *layers.TCP {
	t := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Window: 1000}
	for _, c := range flags {
		switch c {
		case 'S':
			t.SYN = true
		case 'A':
			t.ACK = true
		case 'F':
			t.FIN = true
		case 'R':
			t.RST = true
		case 'P':
			t.PSH = true
		}
	}
	return t
}

func payload(n int) gopacket.Payload { return make(gopacket.Payload, n) }

// run replays the capture through an engine and returns every flow: ended
// ones as the sinks saw them and active ones with reason active.
func (c *capBuilder) run(cfg Config) ([]Flow, Status) {
	c.t.Helper()
	return runCaps(c.t, cfg, c)
}

func runCaps(t testing.TB, cfg Config, caps ...*capBuilder) ([]Flow, Status) {
	t.Helper()
	return runCapsAs(t, cfg, nil, caps...)
}

// runCapsAs is runCaps with the sources described by infos (nil: files
// named cap0, cap1, ...).
func runCapsAs(t testing.TB, cfg Config, infos []SourceInfo, caps ...*capBuilder) ([]Flow, Status) {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range caps {
		src, err := capture.NewReader(bytes.NewReader(c.buf.Bytes()), fmt.Sprintf("cap%d", i))
		if err != nil {
			t.Fatal(err)
		}
		info := SourceInfo{Name: fmt.Sprintf("cap%d", i)}
		if infos != nil {
			info = infos[i]
		}
		if _, err := e.AddSource(src, info); err != nil {
			t.Fatal(err)
		}
	}
	sink := &memSink{}
	e.AddSink(sink)
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-e.SourcesDone()
	st := e.Status()
	if err := e.Stop(ReasonActive); err != nil {
		t.Fatal(err)
	}
	if !sink.closed {
		t.Fatal("sink not closed by Stop")
	}
	return sink.flows, st
}

type memSink struct {
	mu     sync.Mutex
	flows  []Flow
	closed bool
}

func (m *memSink) FlowsEnded(fs []Flow) error {
	m.mu.Lock()
	m.flows = append(m.flows, fs...)
	m.mu.Unlock()
	return nil
}

func (m *memSink) Close() error { m.closed = true; return nil }

func describe(f *Flow) string {
	return fmt.Sprintf("%d %v:%d>%v:%d vlan%v pkts%v bytes%v ip%v %v %v", f.Proto, f.SrcAddr(), f.SrcPort, f.DstAddr(), f.DstPort,
		f.VLAN, f.Pkts, f.Bytes, f.IPBytes, f.State, f.Reason)
}

// fragmentCap: one 3000-byte UDP datagram from 10.0.0.1:5000 to
// 10.0.0.2:6000 split by hand into fragments of 1480, 1480 and 48 bytes
// (in order, or the last first), and its reply unfragmented.
func fragmentCap(t testing.TB, order string) *capBuilder {
	c := newCap(t)
	udp := &layers.UDP{SrcPort: 5000, DstPort: 6000}
	whole := gopacket.NewSerializeBuffer()
	ip := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
	udp.SetNetworkLayerForChecksum(ip)
	if err := gopacket.SerializeLayers(whole, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, udp, payload(3000)); err != nil {
		t.Fatal(err)
	}
	data := whole.Bytes() // 3008 bytes of UDP
	type frag struct {
		off int
		end int
		mf  bool
	}
	frags := []frag{{0, 1480, true}, {1480, 2960, true}, {2960, len(data), false}}
	if order == "last-first" {
		frags = []frag{frags[2], frags[0], frags[1]}
	}
	for _, fr := range frags {
		h := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
		h.Id = 777
		h.FragOffset = uint16(fr.off / 8)
		if fr.mf {
			h.Flags = layers.IPv4MoreFragments
		}
		c.frame(time.Millisecond, nil, h, gopacket.Payload(data[fr.off:fr.end]))
	}
	r := ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolUDP)
	ru := &layers.UDP{SrcPort: 6000, DstPort: 5000}
	ru.SetNetworkLayerForChecksum(r)
	c.frame(time.Millisecond, nil, r, ru, payload(10))
	return c
}

func TestFragmentsCountToTheirFlow(t *testing.T) {
	for _, order := range []string{"in-order", "last-first"} {
		t.Run(order, func(t *testing.T) {
			c := fragmentCap(t, order)
			// One worker, and two (decoders in parallel, fragment tracker in
			// capture order: pipeline.go).
			for _, workers := range []int{1, 2} {
				flows, st := c.run(Config{Workers: workers})
				if len(flows) != 1 {
					for _, f := range flows {
						t.Log(describe(&f))
					}
					t.Fatalf("%d workers: %d flows, want 1", workers, len(flows))
				}
				f := flows[0]
				if src, sp := f.SrcAddr(), f.SrcPort; src.String() != "10.0.0.1" || sp != 5000 {
					t.Errorf("source %v:%d", src, sp)
				}
				if f.Pkts != [2]uint64{3, 1} {
					t.Errorf("packets %v, want [3 1]", f.Pkts)
				}
				// IP bytes: three fragment headers + 3008 bytes of UDP; reply 20+8+10.
				if f.IPBytes != [2]uint64{3*20 + 3008, 38} {
					t.Errorf("IP bytes %v", f.IPBytes)
				}
				if f.Bytes != [2]uint64{3*14 + 3*20 + 3008, 14 + 38 + 8} { // reply padded to 60
					t.Errorf("frame bytes %v", f.Bytes)
				}
				if n := st.Sources[0].FragmentsWithoutFirst; n != 0 {
					t.Errorf("%d fragments counted as orphans", n)
				}
			}
		})
	}
}

func TestOrphanFragmentCounted(t *testing.T) {
	c := newCap(t)
	h := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
	h.Id = 9
	h.FragOffset = 185
	c.frame(0, nil, h, payload(100))
	for _, workers := range []int{1, 2} {
		flows, st := c.run(Config{Workers: workers})
		if len(flows) != 0 || st.Sources[0].FragmentsWithoutFirst != 1 {
			t.Fatalf("%d workers: %d flows, %d orphans; want 0 and 1", workers, len(flows), st.Sources[0].FragmentsWithoutFirst)
		}
	}
}

// icmpErrorCap: a UDP query on VLAN 7 answered by an ICMP port
// unreachable quoting it.
func icmpErrorCap(t testing.TB) *capBuilder {
	c := newCap(t)
	q := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
	qu := &layers.UDP{SrcPort: 33000, DstPort: 53}
	qu.SetNetworkLayerForChecksum(q)
	c.frame(0, []uint16{7}, q, qu, payload(20))
	// The quoted packet inside the error: the query's IP header and UDP header.
	quoted := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(quoted, gopacket.SerializeOptions{FixLengths: true}, ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP), &layers.UDP{SrcPort: 33000, DstPort: 53}, payload(20)); err != nil {
		t.Fatal(err)
	}
	e := ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolICMPv4)
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}
	c.frame(time.Millisecond, []uint16{7}, e, icmp, gopacket.Payload(quoted.Bytes()[:28]))
	return c
}

func TestICMPErrorEndToEnd(t *testing.T) {
	c := icmpErrorCap(t)
	flows, st := c.run(Config{})
	if len(flows) != 1 {
		t.Fatalf("%d flows, want 1 (the error must not create a flow)", len(flows))
	}
	f := flows[0]
	if f.Proto != 17 || f.Pkts != [2]uint64{1, 1} || f.State != StateNew || f.VLAN[0] != 7 {
		t.Fatalf("flow %s", describe(&f))
	}
	if st.Table.ICMPErrorNoFlow != 0 {
		t.Errorf("ICMPErrorNoFlow = %d", st.Table.ICMPErrorNoFlow)
	}
}

// ICMP flows are keyed by type pair, as Suricata keys them: an echo
// request and its reply are one flow, a timestamp exchange between the same
// hosts another, and an error quoting the echo request counts toward the
// echo flow.
func TestICMPKeyedByTypePair(t *testing.T) {
	c := newCap(t)
	icmp := func(src, dst string, typ uint8, payloadLen int) {
		h := ip4(src, dst, layers.IPProtocolICMPv4)
		m := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 1, Seq: 1}
		c.frame(time.Millisecond, nil, h, m, payload(payloadLen))
	}
	icmp("10.0.0.1", "10.0.0.2", layers.ICMPv4TypeEchoRequest, 8)
	icmp("10.0.0.2", "10.0.0.1", layers.ICMPv4TypeEchoReply, 8)
	icmp("10.0.0.1", "10.0.0.2", layers.ICMPv4TypeTimestampRequest, 12)
	icmp("10.0.0.2", "10.0.0.1", layers.ICMPv4TypeTimestampReply, 12)
	// A router answers a later echo request with time exceeded, quoting it.
	quoted := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(quoted, gopacket.SerializeOptions{FixLengths: true},
		ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 2}, payload(8)); err != nil {
		t.Fatal(err)
	}
	e := ip4("10.0.0.9", "10.0.0.1", layers.IPProtocolICMPv4)
	c.frame(time.Millisecond, nil, e, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeTimeExceeded, 0)}, gopacket.Payload(quoted.Bytes()[:28]))

	for _, workers := range []int{1, 2} {
		flows, st := c.run(Config{Workers: workers})
		if len(flows) != 2 {
			for _, f := range flows {
				t.Log(describe(&f))
			}
			t.Fatalf("%d workers: %d flows, want 2 (echo, timestamp)", workers, len(flows))
		}
		// Sorted by first packet: the echo flow first.
		echo, ts := flows[0], flows[1]
		if echo.Pkts != [2]uint64{1, 2} {
			t.Errorf("echo flow packets %v, want [1 2] (reply and the error back toward the sender)", echo.Pkts)
		}
		if ts.Pkts != [2]uint64{1, 1} {
			t.Errorf("timestamp flow packets %v, want [1 1]", ts.Pkts)
		}
		for _, f := range flows {
			if f.SrcAddr().String() != "10.0.0.1" || f.SrcPort != 0 || f.DstPort != 0 {
				t.Errorf("flow %s: want initiator 10.0.0.1 and ports 0", describe(&f))
			}
		}
		if st.Table.ICMPErrorNoFlow != 0 {
			t.Errorf("ICMPErrorNoFlow = %d, want 0", st.Table.ICMPErrorNoFlow)
		}
	}
}

// randomTraffic writes n seeded random TCP/UDP packets over a few hundred
// conversations, v4 and v6, some VLAN-tagged.
func randomTraffic(t testing.TB, seed uint64, n int) *capBuilder {
	r := rand.New(rand.NewPCG(seed, 1))
	c := newCap(t)
	for range n {
		a, b := r.IntN(20), r.IntN(20)
		sp, dp := uint16(1000+r.IntN(8)), uint16(80+r.IntN(3))
		var vlans []uint16
		if r.IntN(4) == 0 {
			vlans = []uint16{uint16(1 + r.IntN(3))}
		}
		dt := time.Duration(r.IntN(3_000_000))
		var l3 gopacket.SerializableLayer
		var nl gopacket.NetworkLayer
		if r.IntN(3) == 0 {
			ip := &layers.IPv6{Version: 6, HopLimit: 64, SrcIP: net.ParseIP(fmt.Sprintf("2001:db8::%d", a)), DstIP: net.ParseIP(fmt.Sprintf("2001:db8::%d", b))}
			l3, nl = ip, ip
		} else {
			ip := ip4(fmt.Sprintf("10.0.0.%d", a), fmt.Sprintf("10.0.0.%d", b), 0)
			l3, nl = ip, ip
		}
		if r.IntN(2) == 0 {
			setProto(l3, layers.IPProtocolTCP)
			th := tcp(sp, dp, []string{"S", "SA", "A", "PA", "FA", "R"}[r.IntN(6)])
			th.SetNetworkLayerForChecksum(nl)
			c.frame(dt, vlans, l3, th, payload(r.IntN(200)))
		} else {
			setProto(l3, layers.IPProtocolUDP)
			u := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
			u.SetNetworkLayerForChecksum(nl)
			c.frame(dt, vlans, l3, u, payload(r.IntN(200)))
		}
	}
	return c
}

func setProto(l gopacket.SerializableLayer, p layers.IPProtocol) {
	switch ip := l.(type) {
	case *layers.IPv4:
		ip.Protocol = p
	case *layers.IPv6:
		ip.NextHeader = p
	}
}

func summaries(flows []Flow) []string {
	out := make([]string, len(flows))
	for i := range flows {
		out[i] = describe(&flows[i])
	}
	slices.Sort(out)
	return out
}

// TestWorkersAgree: the same capture through 1, 2, 3 and 8 workers gives the
// same flows (run it with -race: batches cross goroutines here).
func TestWorkersAgree(t *testing.T) {
	c := randomTraffic(t, 5, 20000)
	want := summaries(first(c.run(Config{Workers: 1})))
	if len(want) < 100 {
		t.Fatalf("only %d flows", len(want))
	}
	for _, w := range []int{2, 3, 8} {
		got := summaries(first(c.run(Config{Workers: w, BatchSize: 64})))
		if !slices.Equal(got, want) {
			t.Fatalf("%d workers: %d flows, 1 worker: %d", w, len(got), len(want))
		}
	}
}

// TestSeveralSources: two sources into two workers, flows keep their source.
func TestSeveralSources(t *testing.T) {
	a, b := randomTraffic(t, 1, 3000), randomTraffic(t, 2, 3000)
	flows, st := runCaps(t, Config{Workers: 2}, a, b)
	if len(st.Sources) != 2 || st.Sources[0].Frames != 3000 || st.Sources[1].Frames != 3000 || !st.Sources[1].EOF {
		t.Fatalf("sources: %+v", st.Sources)
	}
	var pk uint64
	for _, f := range flows {
		pk += f.TotalPkts()
	}
	if pk != 6000 || st.Packets != 6000 {
		t.Fatalf("flows hold %d packets, workers counted %d; want 6000", pk, st.Packets)
	}
}

func first(f []Flow, _ Status) []Flow { return f }
