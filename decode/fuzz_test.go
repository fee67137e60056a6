package decode

import (
	"math/rand/v2"
	"testing"

	"github.com/flowd/flowd/capture"
)

// addFixtureSeeds seeds a fuzz target with every fixture and with random
// frames from the differential generator (tunnels, MPLS, PPPoE, PPP and
// Cisco HDLC among them).
func addFixtureSeeds(f *testing.F) {
	for _, fx := range fixtures {
		f.Add(fx.b, uint16(fx.link))
	}
	r := rand.New(rand.NewPCG(7, 0x5eed))
	for range 300 {
		g := gen{r: r}
		b, link := g.frame()
		f.Add(b, uint16(link))
	}
}

// FuzzDecode: Decode never panics, and what it returns is self-consistent
// (checkInvariants: offsets within the frame, Reason < NumReasons, a usable
// packet has Family 4 or 6, a tunnel's inner bytes lie within the frame,
// ...); the same holds for every packet DecodeInner finds inside, and the
// chain ends within the depth limit. Crashers live in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, link uint16) {
		var p Packet
		p.Decode(data, capture.LinkType(link))
		checkInvariants(t, &p, data)
		for n := 1; p.DecodeInner(&p, data); n++ {
			if int(p.TunnelDepth) != n || n > int(tunnels.maxDepth) {
				t.Fatalf("level %d has TunnelDepth %d (limit %d)", n, p.TunnelDepth, tunnels.maxDepth)
			}
			checkInvariants(t, &p, data[p.FrameOffset:p.FrameOffset+p.CapLen])
		}
	})
}

// FuzzDiff: Decode and the gopacket oracle agree on arbitrary frames, and
// on every packet tunnelled in them (see oracle_test.go for the documented
// differences).
func FuzzDiff(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, link uint16) {
		switch lt := capture.LinkType(link); lt {
		case capture.LinkEthernet, capture.LinkLinuxSLL, capture.LinkLinuxSLL2, capture.LinkRaw,
			capture.LinkIPv4, capture.LinkIPv6, capture.LinkNull, capture.LinkLoop, LinkPPP, LinkCiscoHDLC:
			d := &differ{t: t}
			d.check(data, lt, "fuzz input")
		}
	})
}
