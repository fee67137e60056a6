package engine

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowd/flowd/bench/gen"
)

// TestAgainstTshark replays generated captures through the engine and
// through Wireshark's dissectors (tshark -T fields, reassembly off), and
// requires the same packets, frame bytes and IP bytes per conversation and
// direction. tshark is an independent decoder: the test only applies flowd's
// attribution rules to its per-frame fields (ICMP errors count toward the
// quoted conversation, later fragments toward their datagram's). TCP port
// reuse is not modelled, so conversations are compared per 5-tuple + VLAN
// and direction, summing flows that reuse a tuple. The captures hold no
// malformed frames: how flowd counts those is checked against the
// generator's truth (TestExactAgainstTruth).
func TestAgainstTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: `make test` installs it as root (apt-get install tshark)")
	}
	cases := []struct {
		name string
		cfg  gen.Config
	}{
		{"mixed", gen.Config{Seed: 21, Malformed: -1, Flows: 400, VLAN: 0.2, QinQ: 0.2, IPv6: 0.4, Fragments: 0.3, ICMPErrors: 0.2, Reuse: 0.1, SynAck: 0.1, IPOptions: 0.2}},
		{"sll", gen.Config{Seed: 22, Malformed: -1, Flows: 200, IPv6: 0.5, Fragments: 0.3, ICMPErrors: 0.2, Interfaces: []gen.Interface{{Link: gen.SLL}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := gen.WritePcap(&buf, tc.cfg); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "tshark.pcap")
			if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			want := tsharkConversations(t, tshark, file)

			flows := replayFlows(t, buf.Bytes(), Config{Workers: 2})
			got := map[convKey]*convCount{}
			for i := range flows {
				f := &flows[i]
				src, sp := f.SrcAddr(), f.SrcPort
				dst, dp := f.DstAddr(), f.DstPort
				k, rev := newConvKey(f.Proto, src, sp, dst, dp, f.VLAN)
				c := got[k]
				if c == nil {
					c = &convCount{}
					got[k] = c
				}
				ts, tc := 0, 1
				if rev {
					ts, tc = 1, 0
				}
				c.pkts[ts] += uint64(f.Pkts[0])
				c.pkts[tc] += uint64(f.Pkts[1])
				c.bytes[ts] += f.Bytes[0]
				c.bytes[tc] += f.Bytes[1]
				c.ipbytes[ts] += f.IPBytes[0]
				c.ipbytes[tc] += f.IPBytes[1]
			}
			if len(got) != len(want) {
				t.Errorf("flowd has %d conversations, tshark %d", len(got), len(want))
			}
			bad := 0
			for k, w := range want {
				g := got[k]
				if g == nil {
					g = &convCount{}
				}
				if *g != *w && bad < 10 {
					bad++
					t.Errorf("%v: flowd %+v, tshark %+v", k, *g, *w)
				}
			}
			for k := range got {
				if want[k] == nil && bad < 10 {
					bad++
					t.Errorf("%v: only in flowd", k)
				}
			}
			t.Logf("%d conversations compared", len(want))
		})
	}
}

// convKey is a conversation with its endpoints in canonical order.
type convKey struct {
	proto uint8
	a, b  netip.AddrPort
	vlan  [3]uint16
}

func (k convKey) String() string {
	return fmt.Sprintf("%d %v<->%v vlan%v", k.proto, k.a, k.b, k.vlan)
}

type convCount struct {
	pkts, bytes, ipbytes [2]uint64 // [0] from a to b, [1] from b to a
}

// newConvKey orders the endpoints; rev reports that src is the key's b.
func newConvKey(proto uint8, src netip.Addr, sp uint16, dst netip.Addr, dp uint16, vlan [3]uint16) (convKey, bool) {
	s, d := netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
	if d.Compare(s) < 0 {
		return convKey{proto: proto, a: d, b: s, vlan: vlan}, true
	}
	return convKey{proto: proto, a: s, b: d, vlan: vlan}, false
}

var tsharkFields = []string{
	"frame.cap_len", "vlan.id",
	"ip.src", "ip.dst", "ip.proto", "ip.len", "ip.id", "ip.flags.mf", "ip.frag_offset",
	"ipv6.src", "ipv6.dst", "ipv6.plen", "ipv6.fraghdr.ident", "ipv6.fraghdr.offset",
	"tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "sctp.srcport", "sctp.dstport",
	"icmp.type", "icmpv6.type", "ieee8021ad.id",
}

// tsharkConversations dissects file with tshark and counts every frame
// toward its conversation and direction.
func tsharkConversations(t *testing.T, tshark, file string) map[convKey]*convCount {
	t.Helper()
	args := []string{"-n", "-r", file, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
		"-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	type dgram struct {
		src, dst string
		id       string
	}
	type portsOf struct {
		proto  uint8
		sp, dp uint16
	}
	frags := map[dgram]portsOf{}
	convs := map[convKey]*convCount{}
	for ln, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != len(tsharkFields) {
			t.Fatalf("line %d: %d fields", ln+1, len(f))
		}
		get := func(name string) []string {
			for i, n := range tsharkFields {
				if n == name {
					if f[i] == "" {
						return nil
					}
					return strings.Split(f[i], ",")
				}
			}
			panic(name)
		}
		num := func(name string, occ int) uint64 {
			v := get(name)
			if len(v) <= occ {
				return 0
			}
			n, err := strconv.ParseUint(v[occ], 0, 64)
			if err != nil {
				t.Fatalf("line %d: %s=%q", ln+1, name, v[occ])
			}
			return n
		}
		has := func(name string) bool { return get(name) != nil }
		v4 := has("ip.src")
		if !v4 && !has("ipv6.src") {
			continue // ARP and the like
		}
		// tshark names an 802.1ad outer tag ieee8021ad.id and 802.1Q tags
		// vlan.id; flowd keeps them outermost first.
		var vlan [3]uint16
		for i, v := range append(get("ieee8021ad.id"), get("vlan.id")...) {
			if i < len(vlan) {
				n, _ := strconv.Atoi(v)
				vlan[i] = uint16(n)
			}
		}
		capLen := num("frame.cap_len", 0)
		addr := func(occ int) (netip.Addr, netip.Addr) {
			name := "ipv6"
			if v4 {
				name = "ip"
			}
			s, d := get(name+".src"), get(name+".dst")
			if len(s) <= occ || len(d) <= occ {
				t.Fatalf("line %d: no %s addresses #%d", ln+1, name, occ)
			}
			return netip.MustParseAddr(s[occ]), netip.MustParseAddr(d[occ])
		}
		var ipLen uint64
		if v4 {
			ipLen = num("ip.len", 0)
		} else {
			ipLen = 40 + num("ipv6.plen", 0)
		}
		ports := func() (uint8, uint16, uint16, bool) {
			for _, p := range []struct {
				proto uint8
				name  string
			}{{6, "tcp"}, {17, "udp"}, {132, "sctp"}} {
				if has(p.name + ".srcport") {
					return p.proto, uint16(num(p.name+".srcport", 0)), uint16(num(p.name+".dstport", 0)), true
				}
			}
			return 0, 0, 0, false
		}
		icmpErr := (v4 && in(num("icmp.type", 0), 3, 4, 5, 11, 12) && has("icmp.type")) ||
			(!v4 && has("icmpv6.type") && in(num("icmpv6.type", 0), 1, 2, 3, 4))
		src, dst := addr(0)
		var proto uint8
		var sp, dp uint16
		switch {
		case icmpErr:
			// The quoted packet names the conversation; the error travels
			// back to its sender.
			name := "ipv6.src"
			if v4 {
				name = "ip.src"
			}
			p, s, d, ok := ports()
			if len(get(name)) < 2 || !ok {
				continue // the quote is cut: flowd counts it as bad_icmp_error
			}
			isrc, idst := addr(1)
			proto, sp, dp = p, d, s
			src, dst = idst, isrc
		case v4 && (num("ip.flags.mf", 0) == 1 || num("ip.frag_offset", 0) != 0),
			!v4 && has("ipv6.fraghdr.ident"):
			id := fmt.Sprint(num("ip.id", 0))
			off := num("ip.frag_offset", 0)
			if !v4 {
				id = fmt.Sprint(num("ipv6.fraghdr.ident", 0))
				off = num("ipv6.fraghdr.offset", 0)
			}
			dg := dgram{src.String(), dst.String(), id}
			if off == 0 {
				p, s, d, _ := ports()
				frags[dg] = portsOf{p, s, d}
			}
			po, ok := frags[dg]
			if !ok {
				t.Fatalf("line %d: fragment before its first fragment", ln+1)
			}
			proto, sp, dp = po.proto, po.sp, po.dp
		default:
			var ok bool
			if proto, sp, dp, ok = ports(); !ok {
				switch {
				case has("icmp.type"):
					proto = 1
				case has("icmpv6.type"):
					proto = 58
				case v4:
					proto = uint8(num("ip.proto", 0))
				default:
					t.Fatalf("line %d: IPv6 frame without a known transport", ln+1)
				}
			}
		}
		k, rev := newConvKey(proto, src, sp, dst, dp, vlan)
		c := convs[k]
		if c == nil {
			c = &convCount{}
			convs[k] = c
		}
		d := 0
		if rev {
			d = 1
		}
		c.pkts[d]++
		c.bytes[d] += capLen
		c.ipbytes[d] += ipLen
	}
	return convs
}

func in(v uint64, set ...uint64) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

// replayFlows returns every flow of a capture held in memory.
func replayFlows(t *testing.T, capBytes []byte, cfg Config) []Flow {
	t.Helper()
	c := &capBuilder{t: t}
	c.buf.Write(capBytes)
	flows, _ := c.run(cfg)
	return flows
}
