//go:build cgo

package capture

import (
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcap"
)

// haveLibpcap: this build has libpcap (cgo), so BPF filters compile.
const haveLibpcap = true

// TestCompileDeadTwin: the package's own libpcap binding compiles the same
// classic BPF programs, and refuses the same expressions with the same
// words, as gopacket/pcap, for every link type a live source opens.
func TestCompileDeadTwin(t *testing.T) {
	exprs := []string{
		"", "udp", "tcp port 80", "udp dst port 7000", "vlan 10 and udp", "vlan and vlan",
		"icmp or icmp6", "net 10.0.0.0/8 and not port 22", "ip6 and tcp[tcpflags] & tcp-syn != 0",
		"ip[6:2] & 0x1fff != 0", "ether host 02:00:00:00:00:01", "udp port banana", "ip broadcast", "(",
	}
	for _, link := range []LinkType{LinkEthernet, LinkRaw, LinkLinuxSLL} {
		for _, snap := range []int{96, DefaultSnapLen} {
			for _, expr := range exprs {
				got, err := compileDead(expr, link, snap)
				want, werr := pcap.CompileBPFFilter(layers.LinkType(pcapDLT(link)), snap, expr)
				if (err != nil) != (werr != nil) || err != nil && err.Error() != werr.Error() {
					t.Errorf("%v snap %d %q: error %v, gopacket %v", link, snap, expr, err, werr)
					continue
				}
				if len(got) != len(want) {
					t.Errorf("%v snap %d %q: %d instructions, gopacket %d", link, snap, expr, len(got), len(want))
					continue
				}
				for i, w := range want {
					if g := got[i]; g.Code != w.Code || g.Jt != w.Jt || g.Jf != w.Jf || g.K != w.K {
						t.Errorf("%v snap %d %q: instruction %d %+v, gopacket %+v", link, snap, expr, i, g, w)
					}
				}
			}
		}
	}
}

// TestCompileFilterRaw: a filter for a raw-IP interface compiles even
// where no live handle can be opened (libpcap wants DLT_RAW, not
// LINKTYPE_RAW, for the bare link type), and its accept instructions keep
// the snap length.
func TestCompileFilterRaw(t *testing.T) {
	prog, err := compileFilter("afpacket", "nosuch9", "udp", LinkRaw, 200)
	if err != nil {
		t.Fatal(err)
	}
	accept := false
	for _, in := range prog {
		if in.Code == 0x06 && in.K == 200 { // BPF_RET|BPF_K
			accept = true
		}
	}
	if !accept {
		t.Errorf("no instruction returns the snap length: %+v", prog)
	}
}
