package decode

import (
	"testing"

	"github.com/flowd/flowd/capture"
)

func addFixtureSeeds(f *testing.F) {
	for _, fx := range fixtures {
		f.Add(fx.b, uint16(fx.link))
	}
}

// FuzzDecode: Decode never panics, and what it returns is self-consistent
// (checkInvariants: offsets within the frame, Reason < NumReasons, a usable
// packet has Family 4 or 6, ...). Crashers live in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, link uint16) {
		var p Packet
		p.Decode(data, capture.LinkType(link))
		checkInvariants(t, &p, data)
	})
}

// FuzzDiff: Decode and the gopacket oracle agree on arbitrary frames (see
// oracle_test.go for the documented differences).
func FuzzDiff(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, link uint16) {
		switch lt := capture.LinkType(link); lt {
		case capture.LinkEthernet, capture.LinkLinuxSLL, capture.LinkLinuxSLL2, capture.LinkRaw,
			capture.LinkIPv4, capture.LinkIPv6, capture.LinkNull, capture.LinkLoop:
			d := &differ{t: t}
			d.check(data, lt, "fuzz input")
		}
	})
}
