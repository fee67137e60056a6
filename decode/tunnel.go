package decode

import (
	"fmt"

	"github.com/flowd/flowd/capture"
)

// Default tunnel settings.
const (
	GenevePort = 6081 // IANA; AWS Gateway Load Balancer
	VXLANPort  = 4789 // IANA
	TeredoPort = 3544 // IANA

	// DefaultMaxTunnelDepth is how many tunnels deep DecodeInner goes
	// unless Config says otherwise: a packet found at that depth that
	// carries yet another tunnel gets TunnelReason ReasonTunnelTooDeep.
	// Three covers the nestings seen in practice (VXLAN in GENEVE behind
	// a Gateway Load Balancer, mirrored with ERSPAN) and bounds the work
	// an attacker can ask for with a tunnel in a tunnel in a tunnel.
	DefaultMaxTunnelDepth = 3

	// MaxTunnelPorts is how many ports each of Config's port lists holds.
	MaxTunnelPorts = 8
)

// Config holds the tunnel settings. Its zero value means the defaults.
type Config struct {
	// GenevePorts are the UDP ports (source or destination) whose payload
	// is a GENEVE header. nil means GenevePort; an empty, non-nil list
	// turns GENEVE decoding off. The same holds for the other lists.
	GenevePorts []uint16
	// VXLANPorts are the UDP destination ports whose payload is a VXLAN
	// header (only the destination: VXLAN senders pick the source port
	// from a hash of the inner flow). nil means VXLANPort.
	VXLANPorts []uint16
	// TeredoPorts are the UDP ports (source or destination) whose payload
	// may be Teredo; it is taken for Teredo only if it looks like an IPv6
	// packet of the right length, as Suricata decides. nil means TeredoPort.
	TeredoPorts []uint16
	// VXLANPermissive accepts VXLAN headers whose reserved bits are set
	// (group policy extension, vendor uses); by default they are
	// ReasonBadVXLAN, as in Suricata's strict mode.
	VXLANPermissive bool
	// MaxTunnelDepth is how many tunnels deep DecodeInner goes (1 to 16);
	// 0 means DefaultMaxTunnelDepth.
	MaxTunnelDepth int
	// NoTunnels turns tunnel decoding off: Packet.Tunnel stays TunnelNone.
	NoTunnels bool
}

// portSet is a small fixed set of ports, searched linearly: a handful of
// compares is cheaper than any table for up to MaxTunnelPorts entries.
type portSet struct {
	n     int
	ports [MaxTunnelPorts]uint16
}

func (s *portSet) has(port uint16) bool {
	for _, x := range s.ports[:s.n] {
		if x == port {
			return true
		}
	}
	return false
}

type tunnelConfig struct {
	geneve, vxlan, teredo portSet
	vxlanPermissive       bool
	maxDepth              uint8
	off                   bool
	// any has a bit set for every port in the three sets: one load tells
	// most UDP datagrams they carry no tunnel. Checking the sets instead
	// cost every UDP datagram 7 ns (2026-12-04, BenchmarkDecode vlan-udp
	// 18.4 ns against 9.8 before tunnels; with the bitmap 11.3 ns).
	any [65536 / 64]uint64
}

// mayTunnel reports whether a UDP datagram between ports sp and dp may
// carry a tunnel.
func (t *tunnelConfig) mayTunnel(sp, dp uint16) bool {
	return (t.any[sp>>6]>>(sp&63)|t.any[dp>>6]>>(dp&63))&1 != 0
}

// tunnels is read by every Decode; Configure replaces it.
var tunnels = mustTunnelConfig(Config{})

func mustTunnelConfig(c Config) tunnelConfig {
	t, err := c.compile()
	if err != nil {
		panic(err) // the defaults are valid
	}
	return t
}

// Configure sets the tunnel settings for every later Decode and DecodeInner.
// Call it before decoding starts: it is not safe while another goroutine
// decodes. On error the settings are unchanged.
func Configure(c Config) error {
	t, err := c.compile()
	if err != nil {
		return err
	}
	tunnels = t
	return nil
}

func (c Config) compile() (tunnelConfig, error) {
	t := tunnelConfig{vxlanPermissive: c.VXLANPermissive, off: c.NoTunnels, maxDepth: DefaultMaxTunnelDepth}
	if c.MaxTunnelDepth != 0 {
		if c.MaxTunnelDepth < 1 || c.MaxTunnelDepth > 16 {
			return t, fmt.Errorf("decode: MaxTunnelDepth: %d is out of range (1-16, or 0 for %d)", c.MaxTunnelDepth, DefaultMaxTunnelDepth)
		}
		t.maxDepth = uint8(c.MaxTunnelDepth)
	}
	for _, l := range []struct {
		name  string
		ports []uint16
		def   uint16
		set   *portSet
	}{
		{"GenevePorts", c.GenevePorts, GenevePort, &t.geneve},
		{"VXLANPorts", c.VXLANPorts, VXLANPort, &t.vxlan},
		{"TeredoPorts", c.TeredoPorts, TeredoPort, &t.teredo},
	} {
		ports := l.ports
		if ports == nil {
			ports = []uint16{l.def}
		}
		if len(ports) > MaxTunnelPorts {
			return t, fmt.Errorf("decode: %s: %d ports, at most %d", l.name, len(ports), MaxTunnelPorts)
		}
		for i, port := range ports {
			if port == 0 {
				return t, fmt.Errorf("decode: %s[%d]: 0 is not a port (1-65535)", l.name, i)
			}
			l.set.ports[i] = port
			if !t.off {
				t.any[port>>6] |= 1 << (port & 63)
			}
		}
		l.set.n = len(ports)
	}
	return t, nil
}

// Tunnel header sizes.
const (
	udpHeaderLen    = 8
	geneveLen       = 8
	vxlanLen        = 8
	greLen          = 4
	erspan2Len      = 8
	erspan3Len      = 12
	erspan3SubLen   = 8 // platform-specific subheader, when the O bit is set
	etherIPLen      = 2
	teredoOriginLen = 8
	gwlbOptionClass = 0x0108
	greMaxSREs      = 16 // source route entries walked in a GRE header
	geneveOptHdrLen = 4
)

// setInner records a usable tunnel of kind k whose inner packet, of link
// type link, starts at offset at in the frame and holds n captured bytes.
func (p *Packet) setInner(k TunnelKind, link capture.LinkType, at, n int) {
	p.Tunnel, p.InnerLink, p.InnerOffset, p.InnerLen = k, link, uint32(at), uint32(n)
}

// tunnelFail records a tunnel of kind k whose inner packet cannot be
// decoded, and why.
func (p *Packet) tunnelFail(k TunnelKind, r Reason) {
	p.Tunnel, p.TunnelReason = k, r
}

// udpTunnel looks for a tunnel in the UDP datagram t (the captured bytes
// from the UDP header on; the datagram holds dlen bytes from there) whose
// ports are already in p and passed tunnels.mayTunnel. It tries Suricata's
// order, Teredo, GENEVE, VXLAN; a port match whose header is unusable is
// reported only if no later one fits.
func (p *Packet) udpTunnel(t []byte, dlen int) {
	cfg := &tunnels
	sp, dp := p.SrcPort, p.DstPort
	geneve := cfg.geneve.has(sp) || cfg.geneve.has(dp)
	vxlan := cfg.vxlan.has(dp)
	teredo := cfg.teredo.has(sp) || cfg.teredo.has(dp)
	if !geneve && !vxlan && !teredo {
		return
	}
	if p.IsFragment {
		// A first fragment: the tunnelled packet continues in the
		// others. Teredo is a guess that needs the whole datagram.
		switch {
		case geneve:
			p.tunnelFail(TunnelGeneve, ReasonTunnelFragment)
		case vxlan:
			p.tunnelFail(TunnelVXLAN, ReasonTunnelFragment)
		}
		return
	}
	// The payload ends where the UDP length says, if that is sane, else
	// where the datagram does.
	plen := dlen - udpHeaderLen
	var u []byte
	if len(t) >= udpHeaderLen {
		if ul := int(t[4])<<8 | int(t[5]); ul >= udpHeaderLen && ul <= dlen {
			plen = ul - udpHeaderLen
		}
		u = t[udpHeaderLen:]
		if plen < len(u) {
			u = u[:plen]
		}
	}
	at := int(p.L4Offset) + udpHeaderLen
	if teredo && p.teredo(u, plen, at) {
		return
	}
	if geneve && p.geneve(u, plen, at) {
		return
	}
	if vxlan {
		// A failed GENEVE guess gives way.
		p.Tunnel, p.TunnelReason, p.VNI, p.GWLB = TunnelNone, ReasonOK, 0, GWLBOptions{}
		p.vxlan(u, plen, at)
	}
}

// teredo reports whether the UDP payload u (plen bytes in the datagram, at
// offset at in the frame) is a Teredo packet, and records it if so. Like
// Suricata it skips an origin indication, refuses an authentication one,
// and wants an IPv6 header whose length fills the payload exactly.
func (p *Packet) teredo(u []byte, plen, at int) bool {
	skip := 0
	if len(u) >= 2 && u[0] == 0 {
		if u[1] != 0 {
			return false // authentication indication: a qualification exchange
		}
		skip = teredoOriginLen
	}
	if len(u) < skip+ip6HeaderLen {
		return false
	}
	h := u[skip : skip+ip6HeaderLen : skip+ip6HeaderLen]
	ip6len := int(h[4])<<8 | int(h[5])
	switch {
	case h[0]>>4 != 6,
		h[7] == 0,                         // hop limit 0: a misreading, most likely
		h[6] == ip6HopByHop && ip6len < 8, // hop-by-hop header with no room for it
		plen != skip+ip6HeaderLen+ip6len:
		return false
	}
	p.setInner(TunnelTeredo, capture.LinkIPv6, at+skip, len(u)-skip)
	return true
}

// geneve decodes the GENEVE header at u (plen bytes in the datagram, at
// offset at in the frame). It reports false, with TunnelReason set, when
// the header is unusable.
func (p *Packet) geneve(u []byte, plen, at int) bool {
	if !p.fits(TunnelGeneve, ReasonBadGeneve, geneveLen, plen, len(u)) {
		return false
	}
	h := u[:geneveLen:geneveLen]
	hl := geneveLen + int(h[0]&0x3F)<<2
	switch {
	case h[0]>>6 != 0, h[1]&0x3F != 0, h[7] != 0, hl > plen:
		// version, reserved bits, options past the datagram
		p.tunnelFail(TunnelGeneve, ReasonBadGeneve)
		return false
	case hl > len(u):
		p.tunnelFail(TunnelGeneve, ReasonTruncated)
		return false
	}
	p.VNI = uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6])
	// The options must fill the options length exactly.
	for o := geneveLen; o < hl; {
		if hl-o < geneveOptHdrLen {
			p.tunnelFail(TunnelGeneve, ReasonBadGeneve)
			return false
		}
		oh := u[o : o+geneveOptHdrLen : o+geneveOptHdrLen]
		olen := geneveOptHdrLen + int(oh[3]&0x1F)<<2
		if olen > hl-o {
			p.tunnelFail(TunnelGeneve, ReasonBadGeneve)
			return false
		}
		if uint16(oh[0])<<8|uint16(oh[1]) == gwlbOptionClass {
			p.gwlbOption(oh[2]&0x7F, u[o+geneveOptHdrLen:o+olen])
		}
		o += olen
	}
	var link capture.LinkType
	switch uint16(h[2])<<8 | uint16(h[3]) {
	case etherTypeTEB:
		link = capture.LinkEthernet
	case etherTypeIPv4:
		link = capture.LinkIPv4
	case etherTypeIPv6:
		link = capture.LinkIPv6
	default:
		p.tunnelFail(TunnelGeneve, ReasonNonIP)
		return true // a GENEVE packet, just not one with IP inside
	}
	p.setInner(TunnelGeneve, link, at+hl, len(u)-hl)
	return true
}

// gwlbOption records a Gateway Load Balancer option of type typ with data
// d. One of an unexpected size is ignored.
func (p *Packet) gwlbOption(typ uint8, d []byte) {
	g := &p.GWLB
	switch {
	case typ == 1 && len(d) == 8:
		g.EndpointID, g.Has = be64(d), g.Has|GWLBHasEndpoint
	case typ == 2 && len(d) == 8:
		g.AttachmentID, g.Has = be64(d), g.Has|GWLBHasAttachment
	case typ == 3 && len(d) == 4:
		g.FlowCookie, g.Has = uint32(d[0])<<24|uint32(d[1])<<16|uint32(d[2])<<8|uint32(d[3]), g.Has|GWLBHasCookie
	}
}

func be64(d []byte) uint64 {
	d = d[:8:8]
	return uint64(d[0])<<56 | uint64(d[1])<<48 | uint64(d[2])<<40 | uint64(d[3])<<32 |
		uint64(d[4])<<24 | uint64(d[5])<<16 | uint64(d[6])<<8 | uint64(d[7])
}

// vxlan decodes the VXLAN header at u (plen bytes in the datagram, at
// offset at in the frame).
func (p *Packet) vxlan(u []byte, plen, at int) {
	if !p.fits(TunnelVXLAN, ReasonBadVXLAN, vxlanLen, plen, len(u)) {
		return
	}
	h := u[:vxlanLen:vxlanLen]
	if h[0]&0x08 == 0 || !tunnels.vxlanPermissive && (h[0]&^0x08 != 0 || h[1] != 0 || h[2] != 0 || h[3] != 0 || h[7] != 0) {
		p.tunnelFail(TunnelVXLAN, ReasonBadVXLAN)
		return
	}
	p.VNI = uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6])
	p.setInner(TunnelVXLAN, capture.LinkEthernet, at+vxlanLen, len(u)-vxlanLen)
}

// greTunnel decodes the GRE header at t (the captured bytes of the
// datagram from there; the datagram holds dlen bytes from there), and the
// ERSPAN header after it.
func (p *Packet) greTunnel(t []byte, dlen int) {
	if tunnels.off {
		return
	}
	if p.IsFragment {
		p.tunnelFail(TunnelGRE, ReasonTunnelFragment)
		return
	}
	if !p.fits(TunnelGRE, ReasonBadGRE, greLen, dlen, len(t)) {
		return
	}
	h := t[:greLen:greLen]
	flags, proto := h[0], uint16(h[2])<<8|uint16(h[3])
	hl := greLen
	switch h[1] & 0x07 { // version
	case 0:
		// RFC 2784 with RFC 2890's key and sequence number; RFC 1701's
		// recursion control and reserved flags must be clear.
		if flags&0x07 != 0 || h[1]&0xF8 != 0 {
			p.tunnelFail(TunnelGRE, ReasonBadGRE)
			return
		}
		if flags&0xC0 != 0 { // checksum or routing present: checksum and offset
			hl += 4
		}
		if flags&0x20 != 0 { // key
			if len(t) >= hl+4 {
				k := t[hl : hl+4 : hl+4]
				p.GREKey, p.HasGREKey = uint32(k[0])<<24|uint32(k[1])<<16|uint32(k[2])<<8|uint32(k[3]), true
			}
			hl += 4
		}
		if flags&0x10 != 0 { // sequence number
			hl += 4
		}
		if flags&0x40 != 0 { // source route entries, up to an empty one
			for n := 0; ; n++ {
				if n == greMaxSREs || hl+4 > dlen {
					p.tunnelFail(TunnelGRE, ReasonBadGRE)
					return
				}
				if hl+4 > len(t) {
					p.tunnelFail(TunnelGRE, ReasonTruncated)
					return
				}
				sre := t[hl : hl+4 : hl+4]
				hl += 4
				if sre[0] == 0 && sre[1] == 0 && sre[3] == 0 {
					break
				}
				hl += int(sre[3])
			}
		}
	case 1:
		// RFC 2637 (PPTP): PPP, with a key holding the payload length
		// and call id, optionally a sequence and an acknowledgment number.
		if flags&0xCF != 0x00 || h[1]&0x78 != 0 || proto != etherTypePPP || flags&0x20 == 0 {
			p.tunnelFail(TunnelGRE, ReasonBadGRE)
			return
		}
		hl += 4
		if len(t) >= hl {
			p.GREKey, p.HasGREKey = uint32(t[6])<<8|uint32(t[7]), true
		}
		if flags&0x10 != 0 {
			hl += 4
		}
		if h[1]&0x80 != 0 {
			hl += 4
		}
	default:
		p.tunnelFail(TunnelGRE, ReasonBadGRE)
		return
	}
	if !p.fits(TunnelGRE, ReasonBadGRE, hl, dlen, len(t)) {
		return
	}
	if hl == dlen {
		// No payload: a keepalive or a PPTP acknowledgment. No tunnelled
		// packet, no event.
		return
	}
	at := int(p.L4Offset) + hl
	u := t[hl:]
	switch proto {
	case etherTypeIPv4:
		p.setInner(TunnelGRE, capture.LinkIPv4, at, len(u))
	case etherTypeIPv6:
		p.setInner(TunnelGRE, capture.LinkIPv6, at, len(u))
	case etherTypeTEB:
		p.setInner(TunnelGRE, capture.LinkEthernet, at, len(u))
	case etherTypePPP:
		if h[1]&0x07 != 1 {
			p.tunnelFail(TunnelGRE, ReasonNonIP)
			return
		}
		p.setInner(TunnelGRE, LinkPPP, at, len(u))
	case etherTypeERSPAN:
		if flags&0x10 == 0 {
			// Type I: no ERSPAN header, no sequence number.
			p.setInner(TunnelERSPAN1, capture.LinkEthernet, at, len(u))
			return
		}
		p.erspan2(u, dlen-hl, at)
	case etherTypeERSPAN3:
		p.erspan3(u, dlen-hl, at)
	default:
		p.tunnelFail(TunnelGRE, ReasonNonIP)
	}
}

// fits checks that a tunnel header of need bytes lies within the datagram
// (n bytes from the header on) and within the captured bytes (c); if not,
// it records why, bad (the datagram is too short for it) or truncated (the
// capture is), and reports false.
func (p *Packet) fits(k TunnelKind, bad Reason, need, n, c int) bool {
	switch {
	case need > n:
		p.tunnelFail(k, bad)
		return false
	case need > c:
		p.tunnelFail(k, ReasonTruncated)
		return false
	}
	return true
}

// erspan2 decodes an ERSPAN type II header at u (n bytes in the datagram,
// at offset at in the frame).
func (p *Packet) erspan2(u []byte, n, at int) {
	if !p.fits(TunnelERSPAN2, ReasonBadERSPAN, erspan2Len, n, len(u)) {
		return
	}
	h := u[:erspan2Len:erspan2Len]
	if h[0]>>4 != 1 {
		p.tunnelFail(TunnelERSPAN2, ReasonBadERSPAN)
		return
	}
	p.ERSPANSession = (uint16(h[2])<<8 | uint16(h[3])) & 0x3FF
	p.ERSPANVLAN = (uint16(h[0])<<8 | uint16(h[1])) & 0xFFF
	p.setInner(TunnelERSPAN2, capture.LinkEthernet, at+erspan2Len, len(u)-erspan2Len)
}

// erspan3 decodes an ERSPAN type III header at u (n bytes in the datagram,
// at offset at in the frame): 12 bytes, 8 more when the O flag says a
// platform-specific subheader follows; the frame type says whether an
// Ethernet frame (0) or an IP packet (2) is mirrored.
func (p *Packet) erspan3(u []byte, n, at int) {
	hl := erspan3Len
	if len(u) >= erspan3Len && u[11]&0x01 != 0 {
		hl += erspan3SubLen
	}
	if !p.fits(TunnelERSPAN3, ReasonBadERSPAN, hl, n, len(u)) {
		return
	}
	h := u[:erspan3Len:erspan3Len]
	if h[0]>>4 != 2 {
		p.tunnelFail(TunnelERSPAN3, ReasonBadERSPAN)
		return
	}
	p.ERSPANSession = (uint16(h[2])<<8 | uint16(h[3])) & 0x3FF
	switch (h[10] >> 2) & 0x1F {
	case 0:
		p.setInner(TunnelERSPAN3, capture.LinkEthernet, at+hl, len(u)-hl)
	case 2:
		p.setInner(TunnelERSPAN3, capture.LinkRaw, at+hl, len(u)-hl)
	default:
		p.tunnelFail(TunnelERSPAN3, ReasonNonIP)
	}
}

// ipTunnel records the IPv4 or IPv6 packet (protocol 4 or 41) or the
// EtherIP frame (97) carried in the datagram t.
func (p *Packet) ipTunnel(t []byte, dlen int) {
	if tunnels.off {
		return
	}
	k, link := TunnelIPv4, capture.LinkIPv4
	switch p.Proto {
	case ProtoIPv6:
		k, link = TunnelIPv6, capture.LinkIPv6
	case ProtoEtherIP:
		k, link = TunnelEtherIP, capture.LinkEthernet
	}
	if p.IsFragment {
		p.tunnelFail(k, ReasonTunnelFragment)
		return
	}
	at := int(p.L4Offset)
	if k == TunnelEtherIP {
		// RFC 3378: version 3 in the first nibble, 12 reserved bits.
		if dlen < etherIPLen {
			p.tunnelFail(k, ReasonBadEtherIP)
			return
		}
		if len(t) < etherIPLen {
			p.tunnelFail(k, ReasonTruncated)
			return
		}
		if t[0]>>4 != 3 {
			p.tunnelFail(k, ReasonBadEtherIP)
			return
		}
		t, at = t[etherIPLen:], at+etherIPLen
	}
	p.setInner(k, link, at, len(t))
}

// DecodeInner decodes into p the packet that outer's tunnel carries, and
// reports whether there was one (outer.HasInner()). frame is the frame
// given to Decode for the outermost packet: offsets are kept relative to
// it, so the same frame serves every level. p may be outer itself, which is
// how a loop over nested tunnels needs only one Packet:
//
//	d.Decode(frame, link) // the outer packet: the tunnel's own flow
//	for d.DecodeInner(&d, frame) {
//		// the next packet in: its own flow if d.Reason is ReasonOK
//	}
//
// p.TunnelDepth is outer's plus one, and p.FrameOffset the start of p's
// bytes in frame. A packet at depth Config.MaxTunnelDepth that carries a
// tunnel gets TunnelReason ReasonTunnelTooDeep. Like Decode it never
// allocates and never panics; if frame is not outer's frame it returns
// false.
func (p *Packet) DecodeInner(outer *Packet, frame []byte) bool {
	if !outer.HasInner() {
		return false
	}
	start := uint64(outer.FrameOffset) + uint64(outer.InnerOffset)
	end := start + uint64(outer.InnerLen)
	if end > uint64(len(frame)) {
		return false
	}
	depth, link := outer.TunnelDepth+1, outer.InnerLink
	var vlan uint16
	if outer.Tunnel == TunnelERSPAN2 {
		vlan = outer.ERSPANVLAN
	}
	p.Decode(frame[start:end], link)
	p.FrameOffset, p.TunnelDepth = uint32(start), depth
	if vlan != 0 {
		// The ERSPAN header's VLAN comes before the mirrored frame's tags.
		p.VLAN = [3]uint16{vlan, p.VLAN[0], p.VLAN[1]}
		p.NumVLAN = min(p.NumVLAN+1, 3)
	}
	if p.HasInner() && depth >= tunnels.maxDepth {
		p.TunnelReason = ReasonTunnelTooDeep
	}
	return true
}
