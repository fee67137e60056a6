package gen

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestTshark compares the truth with Wireshark's conversation statistics
// on captures without fragments, ICMP errors, port reuse or malformed
// frames (tshark counts those differently or merges them): every TCP and
// UDP conversation must have the truth's packets and frame bytes, summed
// over both directions and, as a pair, per direction.
func TestTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install tshark, or make deps): skipping the Wireshark cross-check")
	}
	for _, tc := range []struct {
		name   string
		pcapng bool
		cfg    Config
	}{
		{"ethernet-v4-v6-vlan", false, Config{Flows: 300, IPv6: 0.4, VLAN: 0.2, QinQ: 0.2, IPOptions: 0.2, SynAck: 0.1}},
		{"pcapng-sll2-raw", true, Config{Flows: 200, IPv6: 0.4, Interfaces: []Interface{{Link: SLL2}, {Link: Raw, Resolution: Micro}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Seed = 11
			cfg.Fragments, cfg.ICMPErrors, cfg.Reuse, cfg.Malformed = Off, Off, Off, -1
			cfg.Sizes = Small // keeps most conversations under 10 kB, which tshark prints exactly
			b, tr := generate(t, tc.pcapng, cfg)
			file := filepath.Join(t.TempDir(), "conv.pcap")
			if err := os.WriteFile(file, b, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(tshark, "-n", "-r", file, "-q", "-z", "conv,tcp", "-z", "conv,udp").Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			convs, err := parseConv(out)
			if err != nil {
				t.Fatal(err)
			}
			type truthStat struct{ frames, bytes [2]uint64 }
			want := map[convKey]truthStat{}
			for _, f := range tr.Flows {
				if f.Proto != protoTCP && f.Proto != protoUDP {
					continue
				}
				k := newConvKey(f.Proto, netip.AddrPortFrom(f.Src, f.SrcPort), netip.AddrPortFrom(f.Dst, f.DstPort))
				if _, dup := want[k]; dup {
					t.Fatalf("two flows on %v", k)
				}
				want[k] = truthStat{
					frames: [2]uint64{f.PktsToServer, f.PktsToClient},
					bytes:  [2]uint64{f.BytesToServer, f.BytesToClient},
				}
			}
			if len(convs) != len(want) {
				t.Errorf("tshark: %d conversations; truth: %d TCP/UDP flows", len(convs), len(want))
			}
			exact := 0
			for k, w := range want {
				c, ok := convs[k]
				if !ok {
					t.Errorf("%v: not in tshark's conversations", k)
					continue
				}
				if c.frames[0]+c.frames[1] != w.frames[0]+w.frames[1] || c.total != w.frames[0]+w.frames[1] {
					t.Errorf("%v: tshark %v frames (total %d), truth %v", k, c.frames, c.total, w.frames)
				}
				if c.frames != w.frames && c.frames != [2]uint64{w.frames[1], w.frames[0]} {
					t.Errorf("%v: tshark frames per direction %v, truth %v", k, c.frames, w.frames)
				}
				tot := w.bytes[0] + w.bytes[1]
				if !c.totalBytes.matches(tot) {
					t.Errorf("%v: tshark bytes %v, truth %d", k, c.totalBytes, tot)
				}
				if c.totalBytes.exact() {
					exact++
				}
				if !(c.bytes[0].matches(w.bytes[0]) && c.bytes[1].matches(w.bytes[1]) ||
					c.bytes[0].matches(w.bytes[1]) && c.bytes[1].matches(w.bytes[0])) {
					t.Errorf("%v: tshark bytes per direction %v, truth %v", k, c.bytes, w.bytes)
				}
			}
			t.Logf("%d conversations agree with tshark (%d with exact byte totals, the rest within tshark's kB rounding)", len(want), exact)
			if exact < len(want)*9/10 {
				t.Errorf("only %d of %d conversations had exact byte totals", exact, len(want))
			}
		})
	}
}

type convKey struct {
	proto uint8
	a, b  netip.AddrPort
}

func newConvKey(proto uint8, a, b netip.AddrPort) convKey {
	if a.Compare(b) > 0 {
		a, b = b, a
	}
	return convKey{proto, a, b}
}

// size is a byte count as tshark prints it: exact below 10 kB, else
// rounded to kB or MB.
type size struct {
	v    float64
	unit float64
}

func (s size) exact() bool { return s.unit == 1 }

func (s size) matches(n uint64) bool {
	return math.Abs(float64(n)-s.v*s.unit) < s.unit
}

func (s size) String() string {
	if s.exact() {
		return fmt.Sprintf("%.0f", s.v)
	}
	return fmt.Sprintf("%g×%g", s.v, s.unit)
}

type convStat struct {
	frames     [2]uint64
	total      uint64
	bytes      [2]size
	totalBytes size
}

// parseConv reads the TCP and UDP sections of tshark's conversation
// statistics. A line is
//
//	A:port <-> B:port  framesBA bytesBA  framesAB bytesAB  frames bytes  start duration
//
// where each byte count is "N bytes" or "N kB" or "N MB".
func parseConv(out []byte) (map[convKey]convStat, error) {
	res := map[convKey]convStat{}
	var proto uint8
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "TCP Conversations"):
			proto = protoTCP
			continue
		case strings.HasPrefix(line, "UDP Conversations"):
			proto = protoUDP
			continue
		case !strings.Contains(line, "<->"):
			continue
		}
		f := strings.Fields(line)
		if len(f) < 14 || f[1] != "<->" {
			return nil, fmt.Errorf("tshark line %q: unexpected format", line)
		}
		a, err1 := netip.ParseAddrPort(bracket(f[0]))
		b, err2 := netip.ParseAddrPort(bracket(f[2]))
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("tshark line %q: addresses: %v %v", line, err1, err2)
		}
		var c convStat
		var perr error
		num := func(s string) uint64 {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil && perr == nil {
				perr = fmt.Errorf("tshark line %q: %q is not a count", line, s)
			}
			return v
		}
		sz := func(v, unit string) size {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil && perr == nil {
				perr = fmt.Errorf("tshark line %q: %q is not a size", line, v)
			}
			u := map[string]float64{"bytes": 1, "kB": 1e3, "MB": 1e6}[unit]
			if u == 0 && perr == nil {
				perr = fmt.Errorf("tshark line %q: unit %q", line, unit)
			}
			return size{x, u}
		}
		c.frames[0], c.bytes[0] = num(f[3]), sz(f[4], f[5])
		c.frames[1], c.bytes[1] = num(f[6]), sz(f[7], f[8])
		c.total, c.totalBytes = num(f[9]), sz(f[10], f[11])
		if perr != nil {
			return nil, perr
		}
		res[newConvKey(proto, a, b)] = c
	}
	return res, sc.Err()
}

// bracket turns tshark's "fd00::1:443" into "[fd00::1]:443".
func bracket(s string) string {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || !strings.Contains(s[:i], ":") {
		return s
	}
	return "[" + s[:i] + "]" + s[i:]
}

// TestTsharkChecksums has Wireshark verify every checksum (IPv4 header,
// TCP, UDP over reassembled fragments, ICMP, ICMPv6, SCTP CRC32c) of a
// capture full of rare kinds; only the packets quoted inside ICMP errors,
// cut as real routers cut them, may fail.
func TestTsharkChecksums(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install tshark, or make deps): skipping the Wireshark checksum check")
	}
	cfg := twinConfigs[2].cfg // rare-kinds
	cfg.Seed, cfg.Malformed = 4, -1
	b, tr := generate(t, false, cfg)
	file := filepath.Join(t.TempDir(), "sums.pcap")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(filter string, show bool) int {
		out, err := exec.Command(tshark, "-n", "-r", file,
			"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
			"-o", "udp.check_checksum:TRUE", "-o", "sctp.checksum:CRC-32C",
			"-Y", filter).Output()
		if err != nil {
			t.Fatalf("tshark: %v", err)
		}
		if len(out) > 0 && show {
			t.Logf("%s", firstLines(out, 5))
		}
		return bytes.Count(out, []byte("\n"))
	}
	if n := run("!icmp && !icmpv6 && (ip.checksum.status==0 || tcp.checksum.status==0 || udp.checksum.status==0 || sctp.checksum.status==0 || tcp.checksum.status==2 || udp.checksum.status==2 || sctp.checksum.status==2)", true); n != 0 {
		t.Errorf("%d frames with a bad or unverified checksum", n)
	}
	if n := run("(icmp && icmp.checksum.status!=1) || (icmpv6 && icmpv6.checksum.status!=1)", true); n != 0 {
		t.Errorf("%d ICMP frames with a bad checksum", n)
	}
	if n := run("frame", false); uint64(n) != tr.Packets {
		t.Errorf("tshark read %d frames, truth has %d", n, tr.Packets)
	}
}

func firstLines(b []byte, n int) []byte {
	for i, c := range b {
		if c == '\n' {
			if n--; n == 0 {
				return b[:i]
			}
		}
	}
	return b
}
