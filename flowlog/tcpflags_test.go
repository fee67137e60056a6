package flowlog

import (
	"math/rand/v2"
	"testing"
)

// TCP header flag bits, for readable fixtures.
const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
	fURG = 0x20
	fECE = 0x40
	fCWR = 0x80
)

func TestPacketTCPFlags(t *testing.T) {
	for _, c := range []struct {
		name string
		raw  uint8
		want TCPFlags
	}{
		{"none", 0, 0},
		{"ACK", fACK, 0},
		{"PSH-ACK", fPSH | fACK, 0},
		{"URG ECE CWR", fURG | fECE | fCWR, 0},
		{"FIN", fFIN, 1},
		{"FIN-ACK", fFIN | fACK, 1},
		{"SYN", fSYN, 2},
		{"SYN+ECE (ECN setup)", fSYN | fECE | fCWR, 2},
		{"RST", fRST, 4},
		{"RST-ACK", fRST | fACK, 4},
		{"SYN-ACK", fSYN | fACK, 18},
		{"SYN-ACK+ECE", fSYN | fACK | fECE, 18},
		{"SYN-FIN (invalid on the wire, still reported)", fSYN | fFIN, 3},
	} {
		if got := PacketTCPFlags(c.raw); got != c.want {
			t.Errorf("%s (%#02x): %d, want %d", c.name, c.raw, got, c.want)
		}
	}
}

// TestWindowTCPFlags replays the AWS examples: a client's SYN direction is 2,
// the server's SYN-ACK direction 18; a short connection whose handshake and
// teardown fall in one window reads 3 and 19; a later window with only the
// FIN reads 1.
func TestWindowTCPFlags(t *testing.T) {
	for _, c := range []struct {
		name string
		pkts []uint8
		want TCPFlags
	}{
		{"client, handshake then data", []uint8{fSYN, fACK, fPSH | fACK, fACK}, 2},
		{"server, handshake then data", []uint8{fSYN | fACK, fPSH | fACK, fACK}, 18},
		{"client, short connection", []uint8{fSYN, fACK, fPSH | fACK, fFIN | fACK, fACK}, 3},
		{"server, short connection", []uint8{fSYN | fACK, fPSH | fACK, fFIN | fACK}, 19},
		{"later window with the FIN", []uint8{fACK, fFIN | fACK}, 1},
		{"refused", []uint8{fRST | fACK}, 4},
		{"server refuses after SYN-ACK", []uint8{fSYN | fACK, fRST}, 22},
		{"everything", []uint8{fSYN | fACK, fRST, fFIN}, 23},
		{"only data", []uint8{fACK, fPSH | fACK}, 0},
		{"empty", nil, 0},
	} {
		got := WindowTCPFlags(c.pkts)
		if got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
		if !got.Valid() {
			t.Errorf("%s: %d not valid", c.name, got)
		}
		var acc TCPFlags
		for _, p := range c.pkts {
			acc = acc.Add(p)
		}
		if acc != got {
			t.Errorf("%s: Add gives %d, WindowTCPFlags %d", c.name, acc, got)
		}
	}
}

// TestTCPFlagsTwin checks random windows against the rule written the long
// way, and that only the documented values appear.
func TestTCPFlagsTwin(t *testing.T) {
	allowed := map[TCPFlags]bool{18: true, 19: true, 22: true, 23: true}
	for v := range 8 {
		allowed[TCPFlags(v)] = true
	}
	for v := range 256 {
		if TCPFlags(v).Valid() != allowed[TCPFlags(v)] {
			t.Errorf("Valid(%d) = %v", v, TCPFlags(v).Valid())
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		n := rng.IntN(6)
		pkts := make([]uint8, n)
		want := 0
		for i := range pkts {
			pkts[i] = uint8(rng.UintN(256))
			p := pkts[i]
			if p&fFIN != 0 {
				want |= 1
			}
			if p&fSYN != 0 {
				want |= 2
			}
			if p&fRST != 0 {
				want |= 4
			}
			if p&fSYN != 0 && p&fACK != 0 {
				want |= 16
			}
		}
		got := WindowTCPFlags(pkts)
		if int(got) != want || !allowed[got] {
			t.Fatalf("%v: %d, want %d", pkts, got, want)
		}
	}
}

func TestTCPFlagsInlined(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() {
		var tf TCPFlags
		tf = tf.Add(fSYN | fACK)
		_ = tf
	}); n != 0 {
		t.Errorf("%v allocs", n)
	}
}
