package ipfix

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/flowd/flowd/internal/ipfix/nfcapdtest"
)

// writeExportPcap writes msgs as UDP datagrams 127.0.0.1:40000 ->
// 127.0.0.1:4739 into a pcap file, as a capture of the export would hold.
func writeExportPcap(t *testing.T, msgs [][]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "export.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
			EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: net.IPv4(127, 0, 0, 1), DstIP: net.IPv4(127, 0, 0, 1)}
		udp := &layers.UDP{SrcPort: 40000, DstPort: 4739}
		udp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, udp, gopacket.Payload(m)); err != nil {
			t.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: wireNow.Add(time.Duration(i) * time.Millisecond),
			CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// tsharkFields dissects a pcap as NetFlow/IPFIX on UDP 4739 and returns, per
// frame, every occurrence of each field.
func tsharkFields(t *testing.T, pcap string, fields ...string) []map[string][]string {
	t.Helper()
	args := []string{"-r", pcap, "-d", "udp.port==4739,cflow", "-T", "fields",
		"-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=;"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command("tshark", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, stderr.String())
	}
	var frames []map[string][]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		cols := strings.Split(line, "\t")
		m := map[string][]string{}
		for i, f := range fields {
			if i < len(cols) && cols[i] != "" {
				m[f] = strings.Split(cols[i], ";")
			}
		}
		frames = append(frames, m)
	}
	return frames
}

// tsharkRecords are the test's records: IPv4 and IPv6, TCP, UDP one-way,
// ICMPv6 echo and ICMP echo.
func tsharkRecords() []Record {
	v6a := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a}
	v6b := [16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0b}
	base := tcpRecord()
	recs := []Record{base, base, base, base, base}
	recs[1].Family, recs[1].Src, recs[1].Dst = 6, v6a, v6b
	recs[1].SrcPort, recs[1].Packets, recs[1].Octets = 40001, [2]uint64{7, 5}, [2]uint64{7000, 500}
	recs[2].Proto, recs[2].TCPFlags, recs[2].DstPort = 17, [2]uint8{}, 53
	recs[2].Packets, recs[2].Octets = [2]uint64{1, 0}, [2]uint64{76, 0}
	recs[3].Family, recs[3].Src, recs[3].Dst, recs[3].Proto = 6, v6b, v6a, 58
	recs[3].SrcPort, recs[3].DstPort, recs[3].TCPFlags, recs[3].ICMPType = 0, 0, [2]uint8{}, 128
	recs[3].Packets, recs[3].Octets = [2]uint64{4, 4}, [2]uint64{416, 416}
	recs[4].Proto, recs[4].SrcPort, recs[4].DstPort, recs[4].TCPFlags, recs[4].ICMPType = 1, 0, 0, [2]uint8{}, 8
	recs[4].Packets = [2]uint64{1 << 40, 9}
	return recs
}

func joinU(v ...uint64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatUint(x, 10)
	}
	return strings.Join(s, ";")
}

// numbers parses tshark's values ("0x001b" or "42") back into numbers.
func numbers(t *testing.T, vals []string) string {
	t.Helper()
	out := make([]uint64, len(vals))
	for i, v := range vals {
		x, err := strconv.ParseUint(v, 0, 64)
		if err != nil {
			t.Fatalf("tshark value %q: %v", v, err)
		}
		out[i] = x
	}
	return joinU(out...)
}

// TestTsharkDecodes has Wireshark's NetFlow/IPFIX dissector, an independent
// decoder, read the biflow templates (RFC 5103 reverse elements with the
// enterprise bit and PEN 29305) and the IPv4 and IPv6 templates of IPFIX
// and NetFlow v9, and compares every decoded value with the records.
func TestTsharkDecodes(t *testing.T) {
	nfcapdtest.NeedTools(t, "tshark", "tshark")
	for _, c := range []struct {
		name   string
		p      Protocol
		biflow bool
	}{{"ipfix-biflow", IPFIX, true}, {"ipfix-uniflow", IPFIX, false}, {"netflow9", NetFlow9, false}} {
		t.Run(c.name, func(t *testing.T) {
			clock := &fakeClock{t: wireNow}
			// Small messages, so the records span several of them.
			e, l := syncExporter(t, Config{Collector: "127.0.0.1:9", Protocol: c.p, Biflow: c.biflow,
				ObservationDomain: 77, MaxMessageSize: 260, MessagesPerSecond: -1}, clock)
			recs := tsharkRecords()
			for round := 0; round < 3; round++ {
				for i := range recs {
					e.handle(&recs[i], time.Time{})
				}
			}
			e.flush(time.Time{})
			frames := tsharkFields(t, writeExportPcap(t, l.msgs),
				"cflow.version", "cflow.sequence", "cflow.od_id", "cflow.source_id",
				"cflow.template_id", "cflow.template_ipfix_field_type", "cflow.template_ipfix_pen_provided",
				"cflow.template_ipfix_field_pen", "cflow.template_field_type",
				"cflow.srcaddr", "cflow.dstaddr", "cflow.srcaddrv6", "cflow.dstaddrv6",
				"cflow.srcport", "cflow.dstport", "cflow.protocol", "cflow.packets", "cflow.octets",
				"cflow.tcpflags", "cflow.biflow_direction", "cflow.flow_end_reason", "cflow.inputint",
				"cflow.vlanid", "cflow.dot1q_customer_vlan_id")
			if len(frames) != len(l.msgs) || len(frames) < 4 {
				t.Fatalf("tshark read %d frames of %d", len(frames), len(l.msgs))
			}

			// The template frame.
			tf := frames[0]
			if strings.Join(tf["cflow.template_id"], ";") != map[bool]string{false: "256;257", true: "258;259"}[c.biflow] {
				t.Fatalf("template ids %v", tf["cflow.template_id"])
			}
			if c.p == IPFIX {
				types := strings.Join(tf["cflow.template_ipfix_field_type"], ";")
				want := "8;12;7;11;4;6;2;1;152;153;58;245;32;136;10"
				want6 := "27;28;7;11;4;6;2;1;152;153;58;245;139;136;10"
				if c.biflow {
					want += ";2;1;6;32;239"
					want6 += ";2;1;6;139;239"
				}
				if types != want+";"+want6 {
					t.Fatalf("template field types\n got  %s\n want %s;%s", types, want, want6)
				}
				// Exactly the four reverse elements per template carry
				// the enterprise bit, with PEN 29305.
				pens, flags := tf["cflow.template_ipfix_field_pen"], tf["cflow.template_ipfix_pen_provided"]
				nPen := 0
				for _, f := range flags {
					if f == "1" || f == "True" {
						nPen++
					}
				}
				wantPens := map[bool]int{false: 0, true: 8}[c.biflow]
				if len(pens) != wantPens || nPen != wantPens {
					t.Fatalf("PENs %v, enterprise bits %d; want %d of 29305", pens, nPen, wantPens)
				}
				for _, p := range pens {
					if p != "29305" {
						t.Fatalf("PEN %s, want 29305", p)
					}
				}
			} else if got := strings.Join(tf["cflow.template_field_type"], ";"); got !=
				"8;12;7;11;4;6;2;1;22;21;58;245;32;136;10;27;28;7;11;4;6;2;1;22;21;58;245;32;136;10" {
				t.Fatalf("v9 template field types %s", got)
			}

			// Expected values, in export order.
			var src4, dst4, src6, dst6 []string
			var sport, dport, proto, pkts, octs, flags, bidir, reason, in, vlan, cvlan []uint64
			add := func(r *Record, dir int) {
				s, d := r.Src, r.Dst
				sp, dp := r.SrcPort, r.DstPort
				if dir == 1 {
					s, d, sp, dp = d, s, dp, sp
				}
				if r.Family == 4 {
					src4, dst4 = append(src4, addrString(4, s)), append(dst4, addrString(4, d))
				} else {
					src6, dst6 = append(src6, addrString(6, s)), append(dst6, addrString(6, d))
				}
				sport, dport, proto = append(sport, uint64(sp)), append(dport, uint64(dp)), append(proto, uint64(r.Proto))
				pkts, octs, flags = append(pkts, r.Packets[dir]), append(octs, r.Octets[dir]), append(flags, uint64(r.TCPFlags[dir]))
				reason, in = append(reason, uint64(r.EndReason)), append(in, uint64(r.Ingress))
				vlan, cvlan = append(vlan, uint64(r.VLAN[0])), append(cvlan, uint64(r.VLAN[1]))
				if c.biflow {
					pkts, octs, flags = append(pkts, r.Packets[1]), append(octs, r.Octets[1]), append(flags, uint64(r.TCPFlags[1]))
					bidir = append(bidir, 1)
				}
			}
			for round := 0; round < 3; round++ {
				for i := range recs {
					r := &recs[i]
					if c.biflow {
						add(r, 0)
						continue
					}
					add(r, 0)
					if r.Packets[1] > 0 {
						add(r, 1)
					}
				}
			}

			got := map[string][]string{}
			var dataBefore uint64
			for i, f := range frames {
				if v := f["cflow.version"]; len(v) != 1 || v[0] != fmt.Sprint(map[Protocol]int{IPFIX: 10, NetFlow9: 9}[c.p]) {
					t.Fatalf("frame %d: version %v", i, v)
				}
				domain := f["cflow.od_id"]
				if c.p == NetFlow9 {
					domain = f["cflow.source_id"]
				}
				if len(domain) != 1 || domain[0] != "77" {
					t.Fatalf("frame %d: domain %v", i, domain)
				}
				wantSeq := dataBefore
				if c.p == NetFlow9 {
					wantSeq = uint64(i)
				}
				if s := f["cflow.sequence"]; len(s) != 1 || s[0] != fmt.Sprint(wantSeq) {
					t.Fatalf("frame %d: sequence %v, want %d", i, s, wantSeq)
				}
				n := len(f["cflow.protocol"])
				if i > 0 && n == 0 {
					t.Fatalf("frame %d: tshark decoded no data record", i)
				}
				dataBefore += uint64(n)
				for k, v := range f {
					got[k] = append(got[k], v...)
				}
			}
			check := func(field, want string, numeric bool) {
				t.Helper()
				g := strings.Join(got[field], ";")
				if numeric {
					g = numbers(t, got[field])
				}
				if g != want {
					t.Errorf("%s:\n got  %s\n want %s", field, g, want)
				}
			}
			check("cflow.srcaddr", strings.Join(src4, ";"), false)
			check("cflow.dstaddr", strings.Join(dst4, ";"), false)
			check("cflow.srcaddrv6", strings.Join(src6, ";"), false)
			check("cflow.dstaddrv6", strings.Join(dst6, ";"), false)
			check("cflow.srcport", joinU(sport...), true)
			check("cflow.dstport", joinU(dport...), true)
			check("cflow.protocol", joinU(proto...), true)
			check("cflow.packets", joinU(pkts...), true)
			check("cflow.octets", joinU(octs...), true)
			check("cflow.tcpflags", joinU(flags...), true)
			check("cflow.biflow_direction", joinU(bidir...), true)
			check("cflow.flow_end_reason", joinU(reason...), true)
			check("cflow.inputint", joinU(in...), true)
			check("cflow.vlanid", joinU(vlan...), true)
			check("cflow.dot1q_customer_vlan_id", joinU(cvlan...), true)
		})
	}
}
