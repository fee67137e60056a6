package decode

import (
	"encoding/binary"

	"github.com/flowd/flowd/capture"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// The oracle's link encapsulations and tunnels; the [D13]-[D25] tags are
// explained in oracle_test.go.

// firstLayer decodes b with gopacket starting at layer type lt, and returns
// the first layer of that type, or nil. NewPacket recovers from decoder
// panics [D16].
func firstLayer(b []byte, lt gopacket.LayerType) gopacket.Layer {
	return gopacket.NewPacket(b, lt, gopacket.NoCopy).Layer(lt)
}

// mpls walks the label stack at b [D14]. It decodes the IP packet under it
// and returns ok; or, for an Ethernet pseudowire, returns the pseudowire's
// Ethernet frame and isPW.
func (o *oracle) mpls(b []byte, noPW bool) (eth []byte, isPW, ok bool) {
	for n := 0; ; n++ {
		if n == MaxMPLSLabels {
			return nil, false, o.fail("more than %d MPLS labels", MaxMPLSLabels)
		}
		if len(b) < 4 {
			return nil, false, o.fail("mpls: %d bytes", len(b))
		}
		m, _ := firstLayer(b[:4:4], layers.LayerTypeMPLS).(*layers.MPLS)
		if m == nil {
			return nil, false, o.fail("mpls: not decoded")
		}
		b = b[4:]
		if !m.StackBottom {
			continue
		}
		switch {
		case m.Label == 0:
			return nil, false, o.ipv4(b)
		case m.Label == 2:
			return nil, false, o.ipv6(b)
		case m.Label < 16:
			return nil, false, o.fail("mpls: reserved label %d at the bottom", m.Label)
		}
		break
	}
	if len(b) < 1 {
		return nil, false, o.fail("mpls: no payload")
	}
	switch b[0] >> 4 {
	case 4:
		return nil, false, o.ipv4(b)
	case 6:
		return nil, false, o.ipv6(b)
	case 0:
		if noPW {
			return nil, false, o.fail("mpls: pseudowire not followed here")
		}
		if len(b) < 4+14 {
			return nil, false, o.fail("mpls pseudowire: %d bytes", len(b))
		}
		return b[4:], true, true
	}
	return nil, false, o.fail("mpls: payload nibble %d", b[0]>>4)
}

// pppoe decodes a PPPoE session frame [D15].
func (o *oracle) pppoe(b []byte) bool {
	if len(b) < 6 {
		return o.fail("pppoe: %d bytes", len(b))
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if b[0] != 0x11 || b[1] != 0 || n < 1 {
		return o.fail("pppoe: version/type %#x, code %d, length %d", b[0], b[1], n)
	}
	if 6+n > len(b) {
		binary.BigEndian.PutUint16(b[4:6], uint16(len(b)-6))
	}
	pe, _ := firstLayer(b, layers.LayerTypePPPoE).(*layers.PPPoE)
	if pe == nil {
		return o.fail("pppoe: not decoded")
	}
	return o.ppp(pe.Payload)
}

// ppp decodes a PPP frame [D16].
func (o *oracle) ppp(b []byte) bool {
	if len(b) == 0 {
		return o.fail("ppp: empty")
	}
	pp, _ := firstLayer(b, layers.LayerTypePPP).(*layers.PPP)
	if pp == nil {
		return o.fail("ppp: not decoded")
	}
	switch pp.PPPType {
	case layers.PPPTypeIPv4:
		return o.ipv4(pp.Payload)
	case layers.PPPTypeIPv6:
		return o.ipv6(pp.Payload)
	case layers.PPPTypeMPLSUnicast, layers.PPPTypeMPLSMulticast:
		_, _, ok := o.mpls(pp.Payload, true)
		return ok
	}
	return o.fail("ppp: protocol %#x", uint16(pp.PPPType))
}

func (o *oracle) tunnel(k TunnelKind, link capture.LinkType, inner []byte) {
	w := &o.want
	w.Tunnel, w.InnerLink, w.InnerOffset, w.InnerLen = k, link, uint32(o.off(inner)), uint32(len(inner))
}

func (o *oracle) tunnelBad(k TunnelKind, r Reason) {
	o.want.Tunnel, o.want.TunnelReason = k, r
}

// udpTunnel looks for GENEVE, VXLAN and Teredo in a UDP datagram whose
// ports are in o.want, in Suricata's order.
func (o *oracle) udpTunnel(t []byte, dlen int, firstFrag bool) {
	cfg := &tunnels
	w := &o.want
	if cfg.off {
		return
	}
	geneve := cfg.geneve.has(w.SrcPort) || cfg.geneve.has(w.DstPort)
	vxlan := cfg.vxlan.has(w.DstPort)
	teredo := cfg.teredo.has(w.SrcPort) || cfg.teredo.has(w.DstPort)
	if firstFrag { // [D24]
		switch {
		case geneve:
			o.tunnelBad(TunnelGeneve, ReasonTunnelFragment)
		case vxlan:
			o.tunnelBad(TunnelVXLAN, ReasonTunnelFragment)
		}
		return
	}
	if !geneve && !vxlan && !teredo {
		return
	}
	plen := dlen - 8 // [D25]
	var u []byte
	if len(t) >= 8 {
		if ul := int(binary.BigEndian.Uint16(t[4:6])); ul >= 8 && ul <= dlen {
			plen = ul - 8
		}
		u = t[8:]
		if plen < len(u) {
			u = u[:plen]
		}
	}
	if teredo && o.teredo(u, plen) {
		return
	}
	if geneve && o.geneve(u, plen) {
		return
	}
	if vxlan {
		w.Tunnel, w.TunnelReason, w.VNI, w.GWLB = TunnelNone, ReasonOK, 0, GWLBOptions{}
		o.vxlan(u, plen)
	}
}

// teredo applies Suricata's rule [D21].
func (o *oracle) teredo(u []byte, plen int) bool {
	skip := 0
	if len(u) >= 2 && u[0] == 0 {
		if u[1] != 0 {
			return false
		}
		skip = 8
	}
	if len(u) < skip+40 {
		return false
	}
	// gopacket fills the fixed header's fields before it looks further.
	var ip layers.IPv6
	_ = ip.DecodeFromBytes(append([]byte(nil), u[skip:skip+40]...), df)
	if ip.Version != 6 || ip.HopLimit == 0 || ip.NextHeader == layers.IPProtocolIPv6HopByHop && ip.Length < 8 ||
		plen != skip+40+int(ip.Length) {
		return false
	}
	o.tunnel(TunnelTeredo, capture.LinkIPv6, u[skip:])
	return true
}

// geneve decodes a GENEVE header with gopacket and flowd's rules [D17].
func (o *oracle) geneve(u []byte, plen int) bool {
	if plen < 8 || len(u) < 8 {
		o.tunnelBad(TunnelGeneve, ReasonBadGeneve)
		return false
	}
	hl := 8 + int(u[0]&0x3f)*4
	if u[0]>>6 != 0 || u[1]&0x3f != 0 || u[7] != 0 || hl > plen || hl > len(u) {
		o.tunnelBad(TunnelGeneve, ReasonBadGeneve)
		return false
	}
	var g layers.Geneve
	err := g.DecodeFromBytes(u, df)
	type opt struct {
		class uint16
		typ   uint8
		data  []byte
	}
	var opts []opt
	byHand := hl > 255
	for _, op := range g.Options {
		if op.Flags&1 != 0 {
			byHand = true
		}
	}
	if byHand || err != nil {
		for off := 8; off < hl; {
			if hl-off < 4 {
				o.tunnelBad(TunnelGeneve, ReasonBadGeneve)
				return false
			}
			n := 4 + int(u[off+3]&0x1f)*4
			if n > hl-off {
				o.tunnelBad(TunnelGeneve, ReasonBadGeneve)
				return false
			}
			opts = append(opts, opt{binary.BigEndian.Uint16(u[off:]), u[off+2], u[off+4 : off+n]})
			off += n
		}
	} else {
		sum := 0
		for _, op := range g.Options {
			sum += int(op.Length)
			opts = append(opts, opt{op.Class, op.Type, op.Data})
		}
		if sum != int(g.OptionsLength) {
			o.tunnelBad(TunnelGeneve, ReasonBadGeneve)
			return false
		}
	}
	w := &o.want
	w.VNI = uint32(u[4])<<16 | uint32(u[5])<<8 | uint32(u[6])
	if err == nil {
		w.VNI = g.VNI
	}
	for _, op := range opts {
		if op.class != 0x0108 {
			continue
		}
		switch {
		case op.typ&0x7f == 1 && len(op.data) == 8:
			w.GWLB.EndpointID = binary.BigEndian.Uint64(op.data)
			w.GWLB.Has |= GWLBHasEndpoint
		case op.typ&0x7f == 2 && len(op.data) == 8:
			w.GWLB.AttachmentID = binary.BigEndian.Uint64(op.data)
			w.GWLB.Has |= GWLBHasAttachment
		case op.typ&0x7f == 3 && len(op.data) == 4:
			w.GWLB.FlowCookie = binary.BigEndian.Uint32(op.data)
			w.GWLB.Has |= GWLBHasCookie
		}
	}
	switch layers.EthernetType(binary.BigEndian.Uint16(u[2:4])) {
	case layers.EthernetTypeTransparentEthernetBridging:
		o.tunnel(TunnelGeneve, capture.LinkEthernet, u[hl:])
	case layers.EthernetTypeIPv4:
		o.tunnel(TunnelGeneve, capture.LinkIPv4, u[hl:])
	case layers.EthernetTypeIPv6:
		o.tunnel(TunnelGeneve, capture.LinkIPv6, u[hl:])
	default:
		o.tunnelBad(TunnelGeneve, ReasonNonIP)
	}
	return true
}

// vxlan decodes a VXLAN header with gopacket and Suricata's strict rule
// [D18].
func (o *oracle) vxlan(u []byte, plen int) {
	if plen < 8 || len(u) < 8 {
		o.tunnelBad(TunnelVXLAN, ReasonBadVXLAN)
		return
	}
	var vx layers.VXLAN
	if err := vx.DecodeFromBytes(u, df); err != nil {
		o.tunnelBad(TunnelVXLAN, ReasonBadVXLAN)
		return
	}
	strictOK := u[0] == 0x08 && u[1] == 0 && vx.GBPGroupPolicyID == 0 && u[7] == 0
	if !vx.ValidIDFlag || !tunnels.vxlanPermissive && !strictOK {
		o.tunnelBad(TunnelVXLAN, ReasonBadVXLAN)
		return
	}
	o.want.VNI = vx.VNI
	o.tunnel(TunnelVXLAN, capture.LinkEthernet, vx.Payload)
}

// decodeGRE runs gopacket's GRE decoder, which panics on short headers
// [D19].
func decodeGRE(g *layers.GRE, t []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return g.DecodeFromBytes(t, df) == nil
}

// gre decodes a GRE header and what it says is under it [D19].
func (o *oracle) gre(t []byte, dlen int, firstFrag bool) {
	if tunnels.off {
		return
	}
	if firstFrag {
		o.tunnelBad(TunnelGRE, ReasonTunnelFragment) // [D24]
		return
	}
	var g layers.GRE
	if !decodeGRE(&g, t) {
		o.tunnelBad(TunnelGRE, ReasonBadGRE)
		return
	}
	w := &o.want
	switch g.Version {
	case 0:
		sres := 1
		for r := g.GRERouting; r != nil; r = r.Next {
			sres++
		}
		if g.RecursionControl != 0 || g.Flags != 0 || g.RoutingPresent && sres > greMaxSREs {
			o.tunnelBad(TunnelGRE, ReasonBadGRE)
			return
		}
		if g.KeyPresent {
			w.GREKey, w.HasGREKey = g.Key, true
		}
	case 1:
		if g.ChecksumPresent || g.RoutingPresent || g.StrictSourceRoute || g.RecursionControl != 0 ||
			!g.KeyPresent || g.Flags&0x0f != 0 || g.Protocol != etherTypePPP {
			o.tunnelBad(TunnelGRE, ReasonBadGRE)
			return
		}
		w.GREKey, w.HasGREKey = g.Key&0xffff, true
	default:
		o.tunnelBad(TunnelGRE, ReasonBadGRE)
		return
	}
	if len(g.Contents) == dlen {
		return // keepalive
	}
	u := g.Payload
	switch g.Protocol {
	case layers.EthernetTypeIPv4:
		o.tunnel(TunnelGRE, capture.LinkIPv4, u)
	case layers.EthernetTypeIPv6:
		o.tunnel(TunnelGRE, capture.LinkIPv6, u)
	case layers.EthernetTypeTransparentEthernetBridging:
		o.tunnel(TunnelGRE, capture.LinkEthernet, u)
	case etherTypePPP:
		if g.Version != 1 {
			o.tunnelBad(TunnelGRE, ReasonNonIP)
			return
		}
		o.tunnel(TunnelGRE, LinkPPP, u)
	case layers.EthernetTypeERSPAN:
		if !g.SeqPresent {
			o.tunnel(TunnelERSPAN1, capture.LinkEthernet, u)
			return
		}
		if len(u) < 8 { // [D20]
			o.tunnelBad(TunnelERSPAN2, ReasonBadERSPAN)
			return
		}
		var e layers.ERSPANII
		if err := e.DecodeFromBytes(u, df); err != nil || e.Version != 1 {
			o.tunnelBad(TunnelERSPAN2, ReasonBadERSPAN)
			return
		}
		w.ERSPANSession, w.ERSPANVLAN = e.SessionID, e.VLANIdentifier
		o.tunnel(TunnelERSPAN2, capture.LinkEthernet, e.Payload)
	case etherTypeERSPAN3: // [D21]
		if len(u) < 12 || u[0]>>4 != 2 {
			o.tunnelBad(TunnelERSPAN3, ReasonBadERSPAN)
			return
		}
		hl := 12
		if u[11]&1 != 0 {
			hl = 20
		}
		if len(u) < hl {
			o.tunnelBad(TunnelERSPAN3, ReasonBadERSPAN)
			return
		}
		w.ERSPANSession = binary.BigEndian.Uint16(u[2:4]) & 0x3ff
		switch u[10] >> 2 & 0x1f {
		case 0:
			o.tunnel(TunnelERSPAN3, capture.LinkEthernet, u[hl:])
		case 2:
			o.tunnel(TunnelERSPAN3, capture.LinkRaw, u[hl:])
		default:
			o.tunnelBad(TunnelERSPAN3, ReasonNonIP)
		}
	default:
		o.tunnelBad(TunnelGRE, ReasonNonIP)
	}
}

// ipTunnel records IP-in-IP and EtherIP [D22].
func (o *oracle) ipTunnel(proto layers.IPProtocol, t []byte, dlen int, firstFrag bool) {
	if tunnels.off {
		return
	}
	k, link := TunnelIPv4, capture.LinkIPv4
	switch proto {
	case layers.IPProtocolIPv6:
		k, link = TunnelIPv6, capture.LinkIPv6
	case layers.IPProtocolEtherIP:
		k, link = TunnelEtherIP, capture.LinkEthernet
	}
	if firstFrag {
		o.tunnelBad(k, ReasonTunnelFragment) // [D24]
		return
	}
	if k == TunnelEtherIP {
		if len(t) < 2 || dlen < 2 {
			o.tunnelBad(k, ReasonBadEtherIP)
			return
		}
		var e layers.EtherIP
		if err := e.DecodeFromBytes(t, df); err != nil || e.Version != 3 {
			o.tunnelBad(k, ReasonBadEtherIP)
			return
		}
		t = e.Payload
	}
	o.tunnel(k, link, t)
}
