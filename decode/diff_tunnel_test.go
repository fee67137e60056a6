package decode

import (
	"encoding/binary"
	"net"

	"github.com/flowd/flowd/capture"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// The random generator's tunnels and link encapsulations, serialized by
// gopacket where it can (VXLAN, GRE, ERSPAN II, MPLS, PPPoE, PPP) and by
// hand where it cannot (GENEVE, whose v1.1.19 layer has no serializer,
// ERSPAN III, Teredo, EtherIP, Cisco HDLC).

// otherLink sometimes puts the IP packet on a PPP or Cisco HDLC link.
func (g *gen) otherLink(ip []byte, v6 bool) ([]byte, capture.LinkType, int, bool) {
	switch x := g.r.IntN(100); {
	case x < 3:
		g.note("ppp")
		ls := []gopacket.SerializableLayer{}
		var h []byte
		if g.pct(50) {
			h = []byte{0xff, 0x03} // address and control
		}
		ls = append(ls, g.pppLayers(v6)...)
		ls = append(ls, gopacket.Payload(ip))
		b := append(h, serialize(ls...)...)
		return b, LinkPPP, len(b) - len(ip), true
	case x < 6:
		g.note("c-hdlc")
		et := layers.EthernetTypeIPv4
		if v6 {
			et = layers.EthernetTypeIPv6
		}
		var mid []gopacket.SerializableLayer
		if g.pct(40) {
			et = layers.EthernetTypeMPLSUnicast
			mid = g.mplsLayers(v6)
		}
		h := []byte{[]byte{0x0f, 0x8f}[g.r.IntN(2)], 0x00, byte(et >> 8), byte(et)}
		b := append(h, serialize(append(mid, gopacket.Payload(ip))...)...)
		return b, LinkCiscoHDLC, len(b) - len(ip), true
	}
	return nil, 0, 0, false
}

// pppLayers is a PPP protocol field (sometimes compressed) for IP, or MPLS
// and a label stack.
func (g *gen) pppLayers(v6 bool) []gopacket.SerializableLayer {
	if g.pct(20) {
		return append([]gopacket.SerializableLayer{&layers.PPP{PPPType: layers.PPPTypeMPLSUnicast}}, g.mplsLayers(v6)...)
	}
	t := layers.PPPTypeIPv4
	if v6 {
		t = layers.PPPTypeIPv6
	}
	if g.pct(20) {
		return []gopacket.SerializableLayer{gopacket.Payload{byte(t)}} // compressed protocol
	}
	return []gopacket.SerializableLayer{&layers.PPP{PPPType: t}}
}

// mplsLayers is a stack of 1-3 labels whose bottom one names the payload
// (explicit null) or not.
func (g *gen) mplsLayers(v6 bool) []gopacket.SerializableLayer {
	n := 1 + g.r.IntN(3)
	var ls []gopacket.SerializableLayer
	for i := range n {
		m := &layers.MPLS{Label: 16 + g.r.Uint32N(1<<20-16), TTL: uint8(g.r.IntN(256)), StackBottom: i == n-1}
		if i == n-1 && g.pct(30) {
			m.Label = 0
			if v6 {
				m.Label = 2
			}
		}
		if i == n-1 && g.pct(3) {
			m.Label = 1 + g.r.Uint32N(15) // reserved at the bottom
		}
		ls = append(ls, m)
	}
	g.note("mpls(%d)", n)
	return ls
}

// linkShim sometimes puts MPLS or PPPoE between an Ethernet header (or its
// last VLAN tag, whose type is *et) and the IP packet.
func (g *gen) linkShim(et *layers.EthernetType, v6 bool) []gopacket.SerializableLayer {
	switch x := g.r.IntN(100); {
	case x < 8:
		*et = layers.EthernetTypeMPLSUnicast
		return g.mplsLayers(v6)
	case x < 12:
		*et = layers.EthernetTypePPPoESession
		g.note("pppoe")
		return append([]gopacket.SerializableLayer{&layers.PPPoE{Version: 1, Type: 1, Code: layers.PPPoECodeSession,
			SessionId: uint16(g.r.Uint32())}}, g.pppLayers(v6)...)
	}
	return nil
}

// innerEth is an Ethernet frame, sometimes VLAN-tagged, around an IP packet.
func (g *gen) innerEth() []byte {
	v6 := g.pct(50)
	ip := g.ipPacket(v6, 0)
	et := layers.EthernetTypeIPv4
	if v6 {
		et = layers.EthernetTypeIPv6
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr(g.bytes(6)), DstMAC: net.HardwareAddr(g.bytes(6)), EthernetType: et}
	ls := []gopacket.SerializableLayer{eth}
	if g.pct(20) {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: uint16(g.r.IntN(4096)), Type: et})
		g.note("inner-vlan")
	}
	return serialize(append(ls, gopacket.Payload(ip))...)
}

// innerIP is an IP packet of the version asked, or either (v < 0).
func (g *gen) innerIP(v int) ([]byte, bool) {
	v6 := v == 6 || v < 0 && g.pct(50)
	return g.ipPacket(v6, 0), v6
}

func (g *gen) udpWith(sport, dport uint16, payload []byte) []byte {
	return serialize(&layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}, gopacket.Payload(payload))
}

func (g *gen) port() uint16 { return uint16(1024 + g.r.IntN(60000)) }

// tunnel returns the upper-layer protocol and bytes of a tunnel packet.
func (g *gen) tunnel() (layers.IPProtocol, []byte) {
	g.level++
	defer func() { g.level-- }()
	switch g.r.IntN(10) {
	case 0:
		g.note("vxlan[")
		vx := &layers.VXLAN{ValidIDFlag: !g.pct(5), VNI: g.r.Uint32N(1 << 24), GBPExtension: g.pct(5)}
		pl := serialize(vx, gopacket.Payload(g.innerEth()))
		g.note("]")
		return layers.IPProtocolUDP, g.udpWith(g.port(), VXLANPort, pl)
	case 1, 2:
		return layers.IPProtocolUDP, g.geneve()
	case 3:
		g.note("teredo[")
		ip, _ := g.innerIP(6)
		if g.pct(50) {
			ip = append([]byte{0, 0, 0xf2, 0x27, 0x3f, 0xff, 0x8d, 0xfe}, ip...) // origin indication
		}
		g.note("]")
		if g.pct(50) {
			return layers.IPProtocolUDP, g.udpWith(TeredoPort, g.port(), ip)
		}
		return layers.IPProtocolUDP, g.udpWith(g.port(), TeredoPort, ip)
	case 4, 5:
		return layers.IPProtocolGRE, g.gre()
	case 6:
		return layers.IPProtocolGRE, g.erspan()
	case 7:
		g.note("pptp[")
		ip, v6 := g.innerIP(-1)
		ppp := append([]byte{0xff, 0x03}, serialize(append(g.pppLayers(v6), gopacket.Payload(ip))...)...)
		gre := &layers.GRE{Version: 1, KeyPresent: true, SeqPresent: g.pct(50), AckPresent: g.pct(30),
			Protocol: layers.EthernetType(etherTypePPP), Key: uint32(len(ppp))<<16 | uint32(g.r.IntN(65536)), Seq: g.r.Uint32(), Ack: g.r.Uint32()}
		g.note("]")
		return layers.IPProtocolGRE, serialize(gre, gopacket.Payload(ppp))
	case 8:
		g.note("ipip[")
		ip, v6 := g.innerIP(-1)
		g.note("]")
		if v6 {
			return layers.IPProtocolIPv6, ip
		}
		return layers.IPProtocolIPv4, ip
	default:
		g.note("etherip[")
		h := []byte{0x30, 0x00}
		if g.pct(5) {
			h[0] = 0x20
		}
		b := append(h, g.innerEth()...)
		g.note("]")
		return layers.IPProtocolEtherIP, b
	}
}

// geneve is a UDP datagram holding a GENEVE header (options included,
// often a Gateway Load Balancer's) and an Ethernet frame or IP packet.
func (g *gen) geneve() []byte {
	g.note("geneve[")
	var opts []byte
	if g.pct(50) { // AWS Gateway Load Balancer: endpoint, attachment, cookie
		opts = append(opts, 0x01, 0x08, 0x01, 0x02)
		opts = append(opts, g.bytes(8)...)
		opts = append(opts, 0x01, 0x08, 0x02, 0x02)
		opts = append(opts, g.bytes(8)...)
		opts = append(opts, 0x01, 0x08, 0x03, 0x01)
		opts = append(opts, g.bytes(4)...)
	}
	for range g.r.IntN(3) {
		n := g.r.IntN(5)
		if g.pct(5) {
			n = 16 + g.r.IntN(16) // a long option: the fifth length bit
		}
		opts = append(opts, byte(g.r.Uint32()), byte(g.r.Uint32()), byte(g.r.Uint32()), byte(n))
		opts = append(opts, g.bytes(4*n)...)
	}
	if len(opts) > 252 {
		opts = opts[:0]
	}
	h := []byte{byte(len(opts) / 4), 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[4:], g.r.Uint32N(1<<24)<<8)
	if g.pct(3) {
		h[0] |= 0x40 // version 1
	}
	if g.pct(3) {
		h[1] |= 0x01 // a reserved bit
	}
	var inner []byte
	switch g.r.IntN(3) {
	case 0:
		binary.BigEndian.PutUint16(h[2:], etherTypeTEB)
		inner = g.innerEth()
	default:
		ip, v6 := g.innerIP(-1)
		binary.BigEndian.PutUint16(h[2:], etherTypeIPv4)
		if v6 {
			binary.BigEndian.PutUint16(h[2:], etherTypeIPv6)
		}
		inner = ip
	}
	g.note("]")
	pl := append(append(h, opts...), inner...)
	if g.pct(20) {
		return g.udpWith(GenevePort, GenevePort, pl)
	}
	return g.udpWith(g.port(), GenevePort, pl)
}

// gre is a GRE packet (checksum, key, sequence number as they fall) around
// an IPv4 or IPv6 packet or an Ethernet frame.
func (g *gen) gre() []byte {
	gre := &layers.GRE{ChecksumPresent: g.pct(30), KeyPresent: g.pct(50), SeqPresent: g.pct(40),
		Key: g.r.Uint32(), Seq: g.r.Uint32()}
	if g.pct(3) {
		gre.Version = uint8(1 + g.r.IntN(7))
	}
	if g.pct(3) {
		gre.RecursionControl = uint8(1 + g.r.IntN(7))
	}
	g.note("gre(k=%v)[", gre.KeyPresent)
	var inner []byte
	switch g.r.IntN(4) {
	case 0:
		gre.Protocol = layers.EthernetTypeTransparentEthernetBridging
		inner = g.innerEth()
	case 1:
		gre.Protocol = layers.EthernetTypeARP
		inner = g.bytes(28)
	default:
		ip, v6 := g.innerIP(-1)
		gre.Protocol = layers.EthernetTypeIPv4
		if v6 {
			gre.Protocol = layers.EthernetTypeIPv6
		}
		inner = ip
	}
	g.note("]")
	return serialize(gre, gopacket.Payload(inner))
}

// erspan is GRE with ERSPAN type I, II or III around an Ethernet frame (or,
// type III, sometimes an IP packet).
func (g *gen) erspan() []byte {
	gre := &layers.GRE{Protocol: layers.EthernetTypeERSPAN, Seq: g.r.Uint32()}
	switch g.r.IntN(3) {
	case 0:
		g.note("erspan1[")
		inner := g.innerEth()
		g.note("]")
		return serialize(gre, gopacket.Payload(inner))
	case 1:
		g.note("erspan2[")
		gre.SeqPresent = true
		e := &layers.ERSPANII{Version: 1, VLANIdentifier: uint16(g.r.IntN(4096)), SessionID: uint16(g.r.IntN(1024)), Index: g.r.Uint32N(1 << 20)}
		if g.pct(5) {
			e.Version = 2
		}
		inner := g.innerEth()
		g.note("]")
		return serialize(gre, e, gopacket.Payload(inner))
	}
	g.note("erspan3[")
	gre.SeqPresent = true
	gre.Protocol = etherTypeERSPAN3
	h := make([]byte, 12)
	binary.BigEndian.PutUint16(h[0:], 0x2000|uint16(g.r.IntN(4096)))
	binary.BigEndian.PutUint16(h[2:], uint16(g.r.IntN(1024)))
	binary.BigEndian.PutUint32(h[4:], g.r.Uint32())
	var inner []byte
	if g.pct(30) {
		h[10] = 2 << 2 // frame type IP
		inner, _ = g.innerIP(-1)
	} else {
		inner = g.innerEth()
	}
	if g.pct(30) {
		h[11] |= 0x01 // platform-specific subheader
		h = append(h, g.bytes(8)...)
	}
	g.note("]")
	return serialize(gre, gopacket.Payload(append(h, inner...)))
}
