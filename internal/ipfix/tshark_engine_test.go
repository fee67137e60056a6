package ipfix_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/ipfix"
	"github.com/flowd/flowd/internal/output"
)

// The exporter's side of the flows written into the pcaps tshark reads.
var (
	exporterIP  = net.IPv4(127, 0, 0, 1)
	collectorIP = net.IPv4(127, 0, 0, 2)
)

const collectorPort = 4739

// keptFlows is an engine sink that keeps a copy of every ended flow: the
// table's counters, to compare with what a decoder reads off the wire.
type keptFlows struct {
	mu    sync.Mutex
	flows []engine.Flow
}

func (k *keptFlows) FlowsEnded(fs []engine.Flow) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.flows = append(k.flows, fs...)
	return nil
}

func (k *keptFlows) Close() error { return nil }

// replayExport replays capBytes through an engine with an ExportSink to
// collector and a keptFlows, as 'flowd replay' does.
func replayExport(t *testing.T, capBytes []byte, cfg ipfix.Config) ([]engine.Flow, ipfix.Stats) {
	t.Helper()
	e, err := engine.New(engine.Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.NewReader(bytes.NewReader(capBytes), "gen")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddSource(src, engine.SourceInfo{Name: "gen"}); err != nil {
		t.Fatal(err)
	}
	kept := &keptFlows{}
	sink, err := output.NewExportSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.AddSink(kept)
	e.AddSink(sink)
	ctx := context.Background()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-e.SourcesDone()
	if err := e.Stop(engine.ReasonActive); err != nil {
		t.Fatal(err)
	}
	return kept.flows, sink.Stats()
}

// flowKey names one direction (uniflow) or one flow (biflow) as tshark
// shows it: protocol, addresses and ports (0 for ICMP, whose type and code
// go in their own element).
type flowKey struct {
	proto            uint8
	src, dst         netip.Addr
	srcPort, dstPort uint16
}

// tally sums counters per key: [packets, octets] of the record, then, for
// biflows, the reverse packets and octets.
type tally map[flowKey][4]uint64

func (tl tally) add(k flowKey, v [4]uint64) {
	s := tl[k]
	for i := range v {
		s[i] += v[i]
	}
	tl[k] = s
}

func addr(family uint8, b [16]byte) netip.Addr {
	if family == 4 {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16(b)
}

// tableTally is what the records should carry, from the table's flows.
func tableTally(flows []engine.Flow, biflow bool) tally {
	tl := tally{}
	for i := range flows {
		f := &flows[i]
		k := flowKey{proto: f.Proto, src: addr(f.Family, f.Src), dst: addr(f.Family, f.Dst),
			srcPort: f.SrcPort, dstPort: f.DstPort}
		if f.Proto == 1 || f.Proto == 58 {
			k.srcPort, k.dstPort = 0, 0
		}
		if biflow {
			tl.add(k, [4]uint64{f.Pkts[0], f.IPBytes[0], f.Pkts[1], f.IPBytes[1]})
			continue
		}
		if f.Pkts[0] > 0 {
			tl.add(k, [4]uint64{f.Pkts[0], f.IPBytes[0]})
		}
		if f.Pkts[1] > 0 {
			r := flowKey{proto: k.proto, src: k.dst, dst: k.src, srcPort: k.dstPort, dstPort: k.srcPort}
			tl.add(r, [4]uint64{f.Pkts[1], f.IPBytes[1]})
		}
	}
	return tl
}

// collect receives what the exporter sends: a TCP stream (everything until
// the exporter closes it) or UDP datagrams (until want have come).
type collect struct {
	addr string
	done chan struct{}
	msgs [][]byte // UDP: one per datagram; TCP: the stream as one
	err  error
	pc   net.PacketConn
}

func listenTCP(t *testing.T) *collect {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c := &collect{addr: "tcp://" + ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		conn, err := ln.Accept()
		if err != nil {
			c.err = err
			return
		}
		defer conn.Close()
		b, err := io.ReadAll(conn)
		c.msgs, c.err = [][]byte{b}, err
	}()
	return c
}

func listenUDP(t *testing.T) *collect {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return &collect{addr: pc.LocalAddr().String(), pc: pc}
}

// readUDP reads n datagrams.
func (c *collect) readUDP(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, 65536)
	for len(c.msgs) < n {
		c.pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		m, _, err := c.pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(c.msgs), n, err)
		}
		c.msgs = append(c.msgs, bytes.Clone(buf[:m]))
	}
}

// pcapWriter frames payloads as a capture on the wire would hold them.
type pcapWriter struct {
	t   *testing.T
	w   *pcapgo.Writer
	ts  time.Time
	seq uint32
}

func newPcapWriter(t *testing.T, f io.Writer) *pcapWriter {
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	return &pcapWriter{t: t, w: w, ts: time.Unix(1_700_000_000, 0), seq: 1000}
}

func (p *pcapWriter) write(l4 gopacket.SerializableLayer, ip *layers.IPv4, payload []byte) {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2},
		EthernetType: layers.EthernetTypeIPv4}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, l4, gopacket.Payload(payload)); err != nil {
		p.t.Fatal(err)
	}
	p.ts = p.ts.Add(time.Millisecond)
	ci := gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
	if err := p.w.WritePacket(ci, buf.Bytes()); err != nil {
		p.t.Fatal(err)
	}
}

func ipv4(proto layers.IPProtocol, fromExporter bool) *layers.IPv4 {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: exporterIP, DstIP: collectorIP}
	if !fromExporter {
		ip.SrcIP, ip.DstIP = collectorIP, exporterIP
	}
	return ip
}

// udp writes one datagram.
func (p *pcapWriter) udp(payload []byte) {
	ip := ipv4(layers.IPProtocolUDP, true)
	u := &layers.UDP{SrcPort: 40000, DstPort: collectorPort}
	u.SetNetworkLayerForChecksum(ip)
	p.write(u, ip, payload)
}

// tcpSegment writes one segment; from the exporter unless back.
func (p *pcapWriter) tcpSegment(back bool, seq, ack uint32, flags string, payload []byte) {
	ip := ipv4(layers.IPProtocolTCP, !back)
	tc := &layers.TCP{SrcPort: 40000, DstPort: collectorPort, Seq: seq, Ack: ack, Window: 65535,
		SYN: strings.Contains(flags, "S"), ACK: strings.Contains(flags, "A"), PSH: strings.Contains(flags, "P"),
		FIN: strings.Contains(flags, "F")}
	if back {
		tc.SrcPort, tc.DstPort = collectorPort, 40000
	}
	tc.SetNetworkLayerForChecksum(ip)
	p.write(tc, ip, payload)
}

// tcpStream writes a whole connection: handshake, the stream cut into
// segments of mss bytes (so messages straddle segments and tshark must
// reassemble them, as a real capture would need), each acknowledged, then
// the close.
func (p *pcapWriter) tcpStream(stream []byte, mss int) {
	const iss, irs = 1000, 5000
	p.tcpSegment(false, iss, 0, "S", nil)
	p.tcpSegment(true, irs, iss+1, "SA", nil)
	p.tcpSegment(false, iss+1, irs+1, "A", nil)
	seq := uint32(iss + 1)
	for off := 0; off < len(stream); off += mss {
		seg := stream[off:min(off+mss, len(stream))]
		p.tcpSegment(false, seq, irs+1, "PA", seg)
		seq += uint32(len(seg))
		p.tcpSegment(true, irs+1, seq, "A", nil)
	}
	p.tcpSegment(false, seq, irs+1, "FA", nil)
	p.tcpSegment(true, irs+1, seq+1, "FA", nil)
	p.tcpSegment(false, seq+1, irs+2, "A", nil)
}

// tsharkTally has tshark's IPFIX dissector decode the pcap and sums the
// counters of the records it read per key.
func tsharkTally(t *testing.T, pcap string, family int, biflow bool) (tally, int) {
	t.Helper()
	srcF, dstF := "cflow.srcaddr", "cflow.dstaddr"
	if family == 6 {
		srcF, dstF = "cflow.srcaddrv6", "cflow.dstaddrv6"
	}
	fields := []string{srcF, dstF, "cflow.srcport", "cflow.dstport", "cflow.protocol", "cflow.packets", "cflow.octets"}
	args := []string{"-n", "-r", pcap, "-d", fmt.Sprintf("udp.port==%d,cflow", collectorPort),
		"-d", fmt.Sprintf("tcp.port==%d,cflow", collectorPort), "-T", "fields",
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
	// Every field's occurrences, over all frames in order: the records
	// of the file, one per address; packets and octets once per record,
	// twice for a biflow (forward, then reverse).
	all := make([][]string, len(fields))
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		cols := strings.Split(line, "\t")
		for i := range fields {
			if i < len(cols) && cols[i] != "" {
				all[i] = append(all[i], strings.Split(cols[i], ";")...)
			}
		}
	}
	n := len(all[0])
	per := map[bool]int{false: 1, true: 2}[biflow]
	for i, f := range fields {
		want := n
		if i >= 5 {
			want = n * per
		}
		if len(all[i]) != want {
			t.Fatalf("tshark: %d values of %s for %d records (want %d)", len(all[i]), f, n, want)
		}
	}
	num := func(s string) uint64 {
		v, err := strconv.ParseUint(s, 0, 64)
		if err != nil {
			t.Fatalf("tshark value %q: %v", s, err)
		}
		return v
	}
	tl := tally{}
	for r := 0; r < n; r++ {
		k := flowKey{src: netip.MustParseAddr(all[0][r]), dst: netip.MustParseAddr(all[1][r]),
			srcPort: uint16(num(all[2][r])), dstPort: uint16(num(all[3][r])), proto: uint8(num(all[4][r]))}
		var v [4]uint64
		for j := 0; j < per; j++ {
			v[2*j], v[2*j+1] = num(all[5][r*per+j]), num(all[6][r*per+j])
		}
		tl.add(k, v)
	}
	return tl, n
}

// TestTsharkReadsEngineExport replays generated captures (IPv4 only and
// IPv6 only) through the engine with an IPFIX exporter over TCP (RFC 7011
// section 10.4) and over UDP, uniflow and RFC 5103 biflow; writes what the
// collector side received into a pcap with the transport's framing (the
// TCP stream in segments that cut messages, with a handshake and acks);
// and has tshark's IPFIX dissector, an independent decoder, read it. The
// packets and octets tshark reads, per direction (uniflow) or per flow and
// direction (biflow), equal the table's counters of every flow; nfcapd
// could not check this, as it reads neither TCP nor biflows.
func TestTsharkReadsEngineExport(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed: apt-get install -y tshark (scripts/deps.sh does it as root)")
	}
	for _, family := range []int{4, 6} {
		share := gen.Off
		if family == 6 {
			share = 1
		}
		var capBuf bytes.Buffer
		if _, err := gen.WritePcap(&capBuf, gen.Config{Seed: uint64(10 + family), Flows: 300, MeanPackets: 8,
			IPv6: share, Malformed: -1}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name   string
			tcp    bool
			biflow bool
		}{{"tcp-uniflow", true, false}, {"tcp-biflow", true, true}, {"udp-biflow", false, true}} {
			t.Run(fmt.Sprintf("ipv%d/%s", family, c.name), func(t *testing.T) {
				var col *collect
				if c.tcp {
					col = listenTCP(t)
				} else {
					col = listenUDP(t)
				}
				flows, st := replayExport(t, capBuf.Bytes(), ipfix.Config{Collector: col.addr, Protocol: ipfix.IPFIX,
					Biflow: c.biflow, ObservationDomain: 5, MessagesPerSecond: -1})
				if st.Dropped() != 0 || st.Exported != uint64(len(flows)) || len(flows) == 0 {
					t.Fatalf("exporter: %+v for %d flows", st, len(flows))
				}
				path := filepath.Join(t.TempDir(), "export.pcap")
				f, err := os.Create(path)
				if err != nil {
					t.Fatal(err)
				}
				pw := newPcapWriter(t, f)
				if c.tcp {
					<-col.done
					if col.err != nil {
						t.Fatal(col.err)
					}
					if uint64(len(col.msgs[0])) != st.Bytes {
						t.Fatalf("the collector read %d bytes, the exporter sent %d", len(col.msgs[0]), st.Bytes)
					}
					pw.tcpStream(col.msgs[0], 1000)
				} else {
					col.readUDP(t, int(st.Messages+st.Templates))
					for _, m := range col.msgs {
						pw.udp(m)
					}
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				got, n := tsharkTally(t, path, family, c.biflow)
				if uint64(n) != st.DataRecords {
					t.Errorf("tshark decoded %d data records, the exporter sent %d", n, st.DataRecords)
				}
				want := tableTally(flows, c.biflow)
				if len(got) != len(want) {
					t.Errorf("tshark shows %d keys, the table %d", len(got), len(want))
				}
				bad := 0
				for k, w := range want {
					if g := got[k]; g != w && bad < 5 {
						bad++
						t.Errorf("%v %v:%d > %v:%d: tshark %v, table %v", k.proto, k.src, k.srcPort, k.dst, k.dstPort, g, w)
					}
				}
				t.Logf("%d flows, %d data records in %d messages, %d bytes: tshark's counters equal the table's",
					len(flows), n, st.Messages, st.Bytes)
			})
		}
	}
}
