package engine

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// TestThreeVLANsKeyed: a third VLAN tag keeps flows apart, as Suricata keys
// flows by three ids; before, stacks that differed only in the third id
// were one flow. Each stack's reply finds its request's flow.
func TestThreeVLANsKeyed(t *testing.T) {
	stacks := [][]uint16{{10, 20, 30}, {10, 20, 31}, {10, 20}, {4095, 1, 4094}}
	c := newCap(t)
	for _, vl := range stacks {
		q := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
		qu := &layers.UDP{SrcPort: 33000, DstPort: 53}
		qu.SetNetworkLayerForChecksum(q)
		c.frame(time.Millisecond, vl, q, qu, payload(20))
		r := ip4("10.0.0.2", "10.0.0.1", layers.IPProtocolUDP)
		ru := &layers.UDP{SrcPort: 53, DstPort: 33000}
		ru.SetNetworkLayerForChecksum(r)
		c.frame(time.Millisecond, vl, r, ru, payload(40))
	}
	for _, workers := range []int{1, 2} {
		flows, _ := c.run(Config{Workers: workers})
		slices.SortFunc(flows, func(a, b Flow) int { return CompareStart(&a, &b) })
		if len(flows) != len(stacks) {
			for _, f := range flows {
				t.Log(describe(&f))
			}
			t.Fatalf("%d workers: %d flows, want %d (one per VLAN stack)", workers, len(flows), len(stacks))
		}
		for i, f := range flows { // in start order, as the stacks were sent
			var want [3]uint16
			copy(want[:], stacks[i])
			if f.VLAN != want || f.Pkts != [2]uint64{1, 1} || f.SrcPort != 33000 {
				t.Errorf("%d workers: flow %d: %s, want VLAN %v and one packet each way", workers, i, describe(&f), want)
			}
		}
	}
}

// espHeader is an ESP header (SPI, sequence number) and 16 bytes of
// ciphertext.
func espHeader(spi, seq uint32) gopacket.Payload {
	b := make([]byte, 8+16)
	binary.BigEndian.PutUint32(b, spi)
	binary.BigEndian.PutUint32(b[4:], seq)
	return b
}

// TestESPKeyedBySPI: ESP flows are keyed by SPI, as Suricata keys them: the
// two SAs of one IPsec tunnel (one per direction) and a second SA between
// the same hosts are three flows, each showing its SPI and ports 0.
func TestESPKeyedBySPI(t *testing.T) {
	c := newCap(t)
	esp := func(src, dst string, spi, seq uint32) {
		c.frame(time.Millisecond, nil, ip4(src, dst, layers.IPProtocolESP), espHeader(spi, seq))
	}
	esp("10.0.0.1", "10.0.0.2", 0xc0ffee01, 1)
	esp("10.0.0.2", "10.0.0.1", 0x0badf00d, 1)
	esp("10.0.0.1", "10.0.0.2", 0xc0ffee01, 2)
	esp("10.0.0.1", "10.0.0.2", 0x00000100, 1) // a rekeyed SA
	esp("10.0.0.2", "10.0.0.1", 0x0badf00d, 2)
	esp("10.0.0.1", "10.0.0.2", 0x00000100, 2)
	type want struct {
		src  string
		spi  uint32
		pkts [2]uint64
	}
	wants := []want{{"10.0.0.1", 0xc0ffee01, [2]uint64{2, 0}}, {"10.0.0.2", 0x0badf00d, [2]uint64{2, 0}}, {"10.0.0.1", 0x100, [2]uint64{2, 0}}}
	for _, workers := range []int{1, 2} {
		flows, _ := c.run(Config{Workers: workers})
		slices.SortFunc(flows, func(a, b Flow) int { return CompareStart(&a, &b) })
		if len(flows) != len(wants) {
			for _, f := range flows {
				t.Log(describe(&f))
			}
			t.Fatalf("%d workers: %d flows, want %d (one per SA)", workers, len(flows), len(wants))
		}
		for i, f := range flows {
			w := wants[i]
			if f.Proto != 50 || f.SPI != w.spi || f.SrcAddr().String() != w.src || f.Pkts != w.pkts || f.SrcPort != 0 || f.DstPort != 0 {
				t.Errorf("%d workers: flow %d: %s spi %#x, want from %s spi %#x packets %v ports 0",
					workers, i, describe(&f), f.SPI, w.src, w.spi, w.pkts)
			}
		}
	}
}

// TestICMPResponseType: a flow's ResponseICMPType is the type that answers
// its first packet's, whichever side of the exchange came first, and 0 for
// a type nothing answers.
func TestICMPResponseType(t *testing.T) {
	c := newCap(t)
	icmp := func(src, dst string, typ, code uint8) {
		h := ip4(src, dst, layers.IPProtocolICMPv4)
		m := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code), Id: 1, Seq: 1}
		c.frame(time.Millisecond, nil, h, m, payload(8))
	}
	icmp("10.0.0.1", "10.0.0.2", layers.ICMPv4TypeEchoRequest, 0)
	icmp("10.0.0.2", "10.0.0.1", layers.ICMPv4TypeEchoReply, 0)
	icmp("10.0.0.3", "10.0.0.4", layers.ICMPv4TypeTimestampReply, 0) // its request was not captured
	icmp("10.0.0.5", "10.0.0.6", 42, 7)                              // a type without an answer
	flows, _ := c.run(Config{})
	type want struct{ typ, code, resp uint8 }
	wants := []want{{8, 0, 0}, {14, 0, 13}, {42, 7, 0}}
	if len(flows) != len(wants) {
		t.Fatalf("%d flows, want %d", len(flows), len(wants))
	}
	for i, f := range flows {
		if w := wants[i]; f.ICMPType != w.typ || f.ICMPCode != w.code || f.ResponseICMPType != w.resp {
			t.Errorf("flow %d: type %d code %d response type %d, want %v", i, f.ICMPType, f.ICMPCode, f.ResponseICMPType, w)
		}
	}
}
