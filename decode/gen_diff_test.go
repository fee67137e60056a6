package decode_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/decode"
)

// TestDiffGenerated runs the decoder and gopacket/layers side by side over
// every kind of capture the project's generator makes: Ethernet with VLAN
// and QinQ, IPv4 options and IPv6 extension headers, fragments, ICMP
// errors, every link type, pcap and pcapng, several seeds, and malformed
// frames (which must be unusable to both).
func TestDiffGenerated(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name   string
		pcapng bool
		cfg    gen.Config
	}{
		{"mixed", false, gen.Config{Flows: 400, VLAN: 0.3, QinQ: 0.3, IPv6: 0.5, IPOptions: 0.3, Fragments: 0.4, ICMPErrors: 0.3, Malformed: 40}},
		{"sll", false, gen.Config{Flows: 200, IPv6: 0.5, Fragments: 0.3, ICMPErrors: 0.3, Interfaces: []gen.Interface{{Link: gen.SLL}}}},
		{"raw", false, gen.Config{Flows: 200, IPv6: 0.5, Fragments: 0.3, Interfaces: []gen.Interface{{Link: gen.Raw}}}},
		{"null", false, gen.Config{Flows: 200, IPv6: 0.5, Interfaces: []gen.Interface{{Link: gen.Null}}}},
		{"pcapng-sll2-eth", true, gen.Config{Flows: 300, VLAN: 0.3, IPv6: 0.5, Fragments: 0.3, ICMPErrors: 0.3,
			Interfaces: []gen.Interface{{Link: gen.SLL2}, {Link: gen.Ethernet, Resolution: gen.Micro}}}},
	}
	for _, tc := range cases {
		for _, seed := range []uint64{1, 2} {
			t.Run(fmt.Sprintf("%s/seed%d", tc.name, seed), func(t *testing.T) {
				cfg := tc.cfg
				cfg.Seed = seed
				var b bytes.Buffer
				var tr *gen.Truth
				var err error
				ext := ".pcap"
				if tc.pcapng {
					ext = ".pcapng"
					tr, err = gen.WritePcapNG(&b, cfg)
				} else {
					tr, err = gen.WritePcap(&b, cfg)
				}
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(dir, fmt.Sprintf("%s-%d%s", tc.name, seed, ext))
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				frames, usable := decode.DiffPcap(t, path)
				var bad uint64
				for _, n := range tr.DecodeErrors {
					bad += n
				}
				if uint64(frames) != tr.Packets || uint64(frames-usable) != bad {
					t.Errorf("%d frames, %d usable; the generator wrote %d, %d malformed", frames, usable, tr.Packets, bad)
				}
			})
		}
	}
}
