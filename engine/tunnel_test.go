package engine

import (
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/google/gopacket/layers"

	"github.com/flowd/flowd/decode"
)

// TestTunnelFlows: packets inside VXLAN and GRE are flows of their own, one
// tunnel deep, while the outer packets count toward the tunnels' own flows
// (Suricata's model); with 1 and 3 workers alike. A flow inside a tunnel
// and one outside with the same tuple stay apart.
func TestTunnelFlows(t *testing.T) {
	c := newCap(t)
	innerEth := func() *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 1, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 1, 2},
			EthernetType: layers.EthernetTypeIPv4}
	}
	// Three inner UDP flows, two packets each, in one VXLAN tunnel
	// 192.0.2.1:50000 -> 192.0.2.2:4789.
	for i := range 6 {
		outer := ip4("192.0.2.1", "192.0.2.2", layers.IPProtocolUDP)
		ou := &layers.UDP{SrcPort: 50000, DstPort: 4789}
		ou.SetNetworkLayerForChecksum(outer)
		in := ip4("10.1.0.1", "10.1.0.2", layers.IPProtocolUDP)
		iu := &layers.UDP{SrcPort: layers.UDPPort(1000 + i%3), DstPort: 53}
		iu.SetNetworkLayerForChecksum(in)
		c.frame(time.Millisecond, nil, outer, ou, &layers.VXLAN{ValidIDFlag: true, VNI: 42}, innerEth(), in, iu, payload(20))
	}
	// One TCP SYN inside GRE (IPv4 in GRE), and the same SYN outside any
	// tunnel.
	for range 2 {
		outer := ip4("198.51.100.1", "198.51.100.2", layers.IPProtocolGRE)
		in := ip4("10.2.0.1", "10.2.0.2", layers.IPProtocolTCP)
		tc := tcp(4000, 80, "S")
		tc.SetNetworkLayerForChecksum(in)
		c.frame(time.Millisecond, nil, outer, &layers.GRE{Protocol: layers.EthernetTypeIPv4}, in, tc)
	}
	plain := ip4("10.2.0.1", "10.2.0.2", layers.IPProtocolTCP)
	tc := tcp(4000, 80, "S")
	tc.SetNetworkLayerForChecksum(plain)
	c.frame(time.Millisecond, nil, plain, tc)

	var want []string
	for _, workers := range []int{1, 3} {
		flows, st := c.run(Config{Workers: workers})
		var got []string
		for i := range flows {
			f := &flows[i]
			got = append(got, fmt.Sprintf("%d %v:%d>%v:%d depth %d pkts %v ipbytes %v", f.Proto, f.SrcAddr(), f.SrcPort,
				f.DstAddr(), f.DstPort, f.Depth, f.Pkts, f.IPBytes))
		}
		slices.Sort(got)
		if workers == 1 {
			want = []string{
				"17 10.1.0.1:1000>10.1.0.2:53 depth 1 pkts [2 0] ipbytes [96 0]",
				"17 10.1.0.1:1001>10.1.0.2:53 depth 1 pkts [2 0] ipbytes [96 0]",
				"17 10.1.0.1:1002>10.1.0.2:53 depth 1 pkts [2 0] ipbytes [96 0]",
				"17 192.0.2.1:50000>192.0.2.2:4789 depth 0 pkts [6 0] ipbytes [588 0]",
				"47 198.51.100.1:0>198.51.100.2:0 depth 0 pkts [2 0] ipbytes [128 0]",
				"6 10.2.0.1:4000>10.2.0.2:80 depth 0 pkts [1 0] ipbytes [40 0]",
				"6 10.2.0.1:4000>10.2.0.2:80 depth 1 pkts [2 0] ipbytes [80 0]",
			}
			slices.Sort(want)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%d workers: flows\n%v\nwant\n%v", workers, got, want)
		}
		var tunnels [decode.NumTunnelKinds]uint64
		for _, s := range st.Sources {
			for k, n := range s.Tunnels {
				tunnels[k] += n
			}
		}
		if tunnels[decode.TunnelVXLAN] != 6 || tunnels[decode.TunnelGRE] != 2 {
			t.Errorf("%d workers: tunnel counts %v", workers, tunnels)
		}
	}
}

// TestTunnelPathAllocs: decoding and counting tunnelled packets, outer and
// inner, allocates nothing once the flows exist.
func TestTunnelPathAllocs(t *testing.T) {
	c := newCap(t)
	for i := range 512 {
		outer := ip4("192.0.2.1", "192.0.2.2", layers.IPProtocolUDP)
		ou := &layers.UDP{SrcPort: 50000, DstPort: 4789}
		ou.SetNetworkLayerForChecksum(outer)
		in := ip4("10.1.0.1", "10.1.0.2", layers.IPProtocolUDP)
		iu := &layers.UDP{SrcPort: layers.UDPPort(1000 + i%64), DstPort: 53}
		iu.SetNetworkLayerForChecksum(in)
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 1, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 1, 2},
			EthernetType: layers.EthernetTypeIPv4}
		c.frame(time.Millisecond, nil, outer, ou, &layers.VXLAN{ValidIDFlag: true, VNI: 42}, eth, in, iu, payload(20))
	}
	frames := framesOf(t, c.buf.Bytes())
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := newSource(e, 0, nil, SourceInfo{Name: "allocs"})
	s.inline, s.local = true, newRawBatch(0, e.cfg.BatchSize)
	step := func() {
		for i := 0; i < len(frames); i += 256 {
			s.take(frames[i:min(i+256, len(frames))])
		}
	}
	step()
	if a := testing.AllocsPerRun(5, step); a != 0 {
		t.Errorf("%v allocations per pass over %d tunnelled frames", a, len(frames))
	}
	if s.st.tunnels[decode.TunnelVXLAN] == 0 {
		t.Fatal("no VXLAN seen")
	}
}
