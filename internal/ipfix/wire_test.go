package ipfix

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// hx turns a fixture written as hex bytes, with "|" separators and "#"
// comments to the end of a line, into bytes.
func hx(s string) []byte {
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, c := range line {
			if c != ' ' && c != '|' && c != '\t' {
				clean.WriteRune(c)
			}
		}
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		panic(err)
	}
	return b
}

// wireNow is the export time of the fixtures: 2023-11-14T22:15:00Z.
var wireNow = time.Unix(1700000100, 0)

// tcpRecord is an IPv4 TCP flow, 10.0.0.1:1234 -> 10.0.0.2:80, QinQ 100/200.
func tcpRecord() Record {
	return Record{
		Src: [16]byte{10, 0, 0, 1}, Dst: [16]byte{10, 0, 0, 2},
		SrcPort: 1234, DstPort: 80, Family: 4, Proto: 6,
		TCPFlags: [2]uint8{0x1b, 0x12}, // FIN|SYN|PSH|ACK, SYN|ACK
		Packets:  [2]uint64{3, 2}, Octets: [2]uint64{180, 120},
		Start: 1700000000123456789, End: 1700000000456999999,
		VLAN: [3]uint16{100, 200}, EndReason: EndOfFlow, Ingress: 3,
	}
}

func checkBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			t.Fatalf("%s: first difference at byte %d: got %02x want %02x\n got  %x\n want %x", what, i, got[i], want[i], got, want)
		}
	}
	t.Fatalf("%s: length %d, want %d\n got  %x\n want %x", what, len(got), len(want), got, want)
}

// The uniflow IPv4 template field specifiers of RFC 7011 section 3.2 (id,
// length), in the exporter's order.
const ipfixUni4Fields = `
00 08 00 04  # sourceIPv4Address
00 0c 00 04  # destinationIPv4Address
00 07 00 02  # sourceTransportPort
00 0b 00 02  # destinationTransportPort
00 04 00 01  # protocolIdentifier
00 06 00 02  # tcpControlBits (RFC 7125: 16 bits)
00 02 00 08  # packetDeltaCount
00 01 00 08  # octetDeltaCount
00 98 00 08  # flowStartMilliseconds (152)
00 99 00 08  # flowEndMilliseconds (153)
00 3a 00 02  # vlanId (58)
00 f5 00 02  # dot1qCustomerVlanId (245)
00 20 00 02  # icmpTypeCodeIPv4 (32)
00 88 00 01  # flowEndReason (136)
00 0a 00 04  # ingressInterface (10)
`

const ipfixUni6Fields = `
00 1b 00 10  # sourceIPv6Address (27)
00 1c 00 10  # destinationIPv6Address (28)
00 07 00 02 | 00 0b 00 02 | 00 04 00 01 | 00 06 00 02
00 02 00 08 | 00 01 00 08 | 00 98 00 08 | 00 99 00 08
00 3a 00 02 | 00 f5 00 02
00 8b 00 02  # icmpTypeCodeIPv6 (139)
00 88 00 01 | 00 0a 00 04
`

// RFC 5103 reverse elements: enterprise bit set on the id, then PEN 29305.
const biflowExtraFields = `
80 02 00 08 00 00 72 79  # reversePacketDeltaCount
80 01 00 08 00 00 72 79  # reverseOctetDeltaCount
80 06 00 02 00 00 72 79  # reverseTcpControlBits
80 20 00 02 00 00 72 79  # reverseIcmpTypeCodeIPv4
00 ef 00 01              # biflowDirection (239)
`

func TestWireIPFIXUniflow(t *testing.T) {
	e := newEncoder(IPFIX, false, 7, 1400)

	tm := e.templateMessage(wireNow)
	want := hx(`
00 0a | 00 94 | 65 53 f1 64 | 00 00 00 00 | 00 00 00 07  # version 10, length 148, export time, sequence 0, domain 7
00 02 | 00 84              # template set, length 132
01 00 | 00 0f              # template 256, 15 fields
` + ipfixUni4Fields + `
01 01 | 00 0f              # template 257, 15 fields
` + ipfixUni6Fields)
	checkBytes(t, "template message", tm, want)
	e.templateSent()

	r := tcpRecord()
	if got := e.add(&r); got != added {
		t.Fatalf("add: %v", got)
	}
	m := e.finish(wireNow)
	want = hx(`
00 0a | 00 88 | 65 53 f1 64 | 00 00 00 00 | 00 00 00 07  # length 136; no data record sent before: sequence 0
01 00 | 00 78                          # data set for template 256, length 120 (two 58-byte records, no padding)
0a 00 00 01 | 0a 00 00 02 | 04 d2 | 00 50 | 06 | 00 1b   # forward: initiator to responder
00 00 00 00 00 00 00 03 | 00 00 00 00 00 00 00 b4       # 3 packets, 180 IP-layer octets
00 00 01 8b cf e5 68 7b | 00 00 01 8b cf e5 69 c8       # start .123, end .456 (ms, rounded down)
00 64 | 00 c8 | 00 00 | 03 | 00 00 00 03                # vlan 100, inner 200, no ICMP, end of flow, ingress 3
0a 00 00 02 | 0a 00 00 01 | 00 50 | 04 d2 | 06 | 00 12   # reverse: endpoints swapped, SYN|ACK
00 00 00 00 00 00 00 02 | 00 00 00 00 00 00 00 78
00 00 01 8b cf e5 68 7b | 00 00 01 8b cf e5 69 c8
00 64 | 00 c8 | 00 00 | 03 | 00 00 00 03
`)
	checkBytes(t, "data message", m, want)
	e.sent()

	// The next message's sequence number counts the two data records.
	r.Packets[1] = 0 // forward only: one data record
	e.add(&r)
	m = e.finish(wireNow)
	checkBytes(t, "second header", m[:16], hx(`00 0a 00 4e 65 53 f1 64 00 00 00 02 00 00 00 07`))
}

func TestWireIPFIXBiflow(t *testing.T) {
	e := newEncoder(IPFIX, true, 1, 1400)
	tm := e.templateMessage(wireNow)
	// 16 header + 4 set header + 2 × (4 + 15×4 + 4×8 + 4) = 220 bytes.
	want4 := hx(`
00 02 | 00 cc          # template set, length 204
01 02 | 00 14          # template 258, 20 fields
` + ipfixUni4Fields + biflowExtraFields)
	checkBytes(t, "biflow IPv4 template", tm[16:16+4+100], want4)
	checkBytes(t, "biflow IPv6 template tail", tm[len(tm)-36:], hx(`
80 02 00 08 00 00 72 79 | 80 01 00 08 00 00 72 79 | 80 06 00 02 00 00 72 79
80 8b 00 02 00 00 72 79  # reverseIcmpTypeCodeIPv6
00 ef 00 01`))
	if len(tm) != 220 {
		t.Fatalf("template message %d bytes, want 220", len(tm))
	}

	r := tcpRecord()
	r.Proto, r.TCPFlags, r.ICMPType, r.ICMPCode = 1, [2]uint8{}, 8, 0 // ICMP echo
	r.SrcPort, r.DstPort = 0, 0
	e.add(&r)
	m := e.finish(wireNow)
	want := hx(`
00 0a | 00 63 | 65 53 f1 64 | 00 00 00 00 | 00 00 00 01  # length 99 = 16 + 4 + 79
01 02 | 00 53                                            # data set 258, length 83: one 79-byte record
0a 00 00 01 | 0a 00 00 02 | 00 00 | 00 00 | 01 | 00 00
00 00 00 00 00 00 00 03 | 00 00 00 00 00 00 00 b4
00 00 01 8b cf e5 68 7b | 00 00 01 8b cf e5 69 c8
00 64 | 00 c8 | 08 00 | 03 | 00 00 00 03                 # icmpTypeCodeIPv4 8/0 (echo request)
00 00 00 00 00 00 00 02 | 00 00 00 00 00 00 00 78       # reverse packets 2, reverse octets 120
00 00 | 00 00 | 01                                       # reverse flags, reverse ICMP 0/0 (echo reply), initiator
`)
	checkBytes(t, "biflow data message", m, want)
}

func TestWireNetFlow9(t *testing.T) {
	e := newEncoder(NetFlow9, false, 0x01020304, 1400)
	tm := e.templateMessage(wireNow)
	want := hx(`
00 09 | 00 02 | 80 00 00 00 | 65 53 f1 64 | 00 00 00 00 | 01 02 03 04  # v9, 2 records, sysUptime 2^31 ms, unix secs, seq 0, source id
00 00 | 00 84          # template flowset, length 132
01 00 | 00 0f          # template 256, 15 fields
00 08 00 04 | 00 0c 00 04 | 00 07 00 02 | 00 0b 00 02 | 00 04 00 01
00 06 00 01            # TCP_FLAGS, one byte in v9
00 02 00 08 | 00 01 00 08
00 16 00 04            # FIRST_SWITCHED (22)
00 15 00 04            # LAST_SWITCHED (21)
00 3a 00 02 | 00 f5 00 02 | 00 20 00 02 | 00 88 00 01 | 00 0a 00 04
01 01 | 00 0f
00 1b 00 10 | 00 1c 00 10 | 00 07 00 02 | 00 0b 00 02 | 00 04 00 01 | 00 06 00 01
00 02 00 08 | 00 01 00 08 | 00 16 00 04 | 00 15 00 04
00 3a 00 02 | 00 f5 00 02
00 20 00 02  # ICMP_TYPE (32): v9 uses it for ICMPv6 too
00 88 00 01 | 00 0a 00 04
`)
	checkBytes(t, "v9 template message", tm, want)
	e.templateSent()

	r := tcpRecord()
	r.Packets[1] = 0
	e.add(&r)
	m := e.finish(wireNow.Add(time.Second))
	want = hx(`
00 09 | 00 01 | 80 00 03 e8 | 65 53 f1 65 | 00 00 00 01 | 01 02 03 04  # 1 record, uptime +1 s, seq 1 (v9 counts messages)
01 00 | 00 38          # data flowset 256, length 56 = 4 + 49 + 3 padding
0a 00 00 01 | 0a 00 00 02 | 04 d2 | 00 50 | 06 | 1b
00 00 00 00 00 00 00 03 | 00 00 00 00 00 00 00 b4
7f fe 79 db | 7f fe 7b 28   # first/last switched: ms since the virtual boot
00 64 | 00 c8 | 00 00 | 03 | 00 00 00 03
00 00 00                    # padding to 4 bytes
`)
	checkBytes(t, "v9 data message", m, want)
}

// TestWireReaderAgrees decodes mixed IPv4/IPv6 messages with the test's own
// reader, as a collector would.
func TestWireReaderAgrees(t *testing.T) {
	for _, p := range []Protocol{IPFIX, NetFlow9} {
		e := newEncoder(p, false, 9, 1400)
		w := newWireReader()
		if _, n, _, err := w.read(e.templateMessage(wireNow)); err != nil || n != 2 {
			t.Fatalf("%v template: %d templates, %v", p, n, err)
		}
		r4 := tcpRecord()
		r6 := tcpRecord()
		r6.Family, r6.Proto, r6.TCPFlags = 6, 58, [2]uint8{}
		r6.SrcPort, r6.DstPort, r6.ICMPType = 0, 0, 128
		r6.Src = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
		r6.Dst = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2}
		e.add(&r4)
		e.add(&r6)
		e.add(&r4)
		_, _, recs, err := w.read(e.finish(wireNow))
		if err != nil {
			t.Fatal(err)
		}
		icmp6 := uint16(139) // icmpTypeCodeIPv6; v9 has only ICMP_TYPE (32)
		if p == NetFlow9 {
			icmp6 = 32
		}
		if len(recs) != 6 {
			t.Fatalf("%v: %d records, want 6", p, len(recs))
		}
		v6 := recs[2]
		if !bytes.Equal(v6.bytes(27), r6.Src[:]) || !bytes.Equal(v6.bytes(28), r6.Dst[:]) ||
			v6.u(icmp6) != 128<<8 || v6.u(2) != 3 || v6.u(1) != 180 {
			t.Errorf("%v: IPv6 forward record %v", p, v6.vals)
		}
		if rv := recs[3]; !bytes.Equal(rv.bytes(27), r6.Dst[:]) || rv.u(icmp6) != 129<<8 || rv.u(2) != 2 {
			t.Errorf("%v: IPv6 reverse record %v", p, rv.vals)
		}
	}
}

// TestWireReaderBiflow reads biflow records back with the test's reader:
// reverse counters sit under PEN 29305, forward ones under the IANA ids.
func TestWireReaderBiflow(t *testing.T) {
	e := newEncoder(IPFIX, true, 9, 1400)
	w := newWireReader()
	w.read(e.templateMessage(wireNow))
	r := tcpRecord()
	e.add(&r)
	_, _, recs, err := w.read(e.finish(wireNow))
	if err != nil || len(recs) != 1 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	b := recs[0]
	if !b.has(29305, 2) || b.u(2) != 3 || b.rev(2) != 2 || b.u(1) != 180 || b.rev(1) != 120 ||
		b.u(6) != 0x1b || b.rev(6) != 0x12 || b.u(239) != 1 {
		t.Fatalf("biflow record %v", b.vals)
	}
}

func TestRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(Record{}); n != 104 {
		t.Fatalf("Record is %d bytes; the docs say 104", n)
	}
}

func TestEncodeAllocs(t *testing.T) {
	for _, c := range []struct {
		name   string
		p      Protocol
		biflow bool
	}{{"ipfix", IPFIX, false}, {"ipfix-biflow", IPFIX, true}, {"netflow9", NetFlow9, false}} {
		e := newEncoder(c.p, c.biflow, 1, 1400)
		r4 := tcpRecord()
		r6 := r4
		r6.Family = 6
		now := time.Now()
		allocs := testing.AllocsPerRun(1000, func() {
			if e.add(&r4) == full {
				e.finish(now)
				e.sent()
				e.add(&r4)
			}
			if e.add(&r6) == full {
				e.finish(now)
				e.sent()
				e.add(&r6)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per pair of records, want 0", c.name, allocs)
		}
	}
}

func TestMessagesStayUnderMax(t *testing.T) {
	for _, max := range []int{minMessage(IPFIX, false), 300, 576, 1400, 9000} {
		e := newEncoder(IPFIX, false, 1, max)
		w := newWireReader()
		w.read(e.templateMessage(wireNow))
		r := tcpRecord()
		total := 0
		for i := 0; i < 500; i++ {
			r.Family = uint8(4 + 2*(i%3/2))
			if e.add(&r) == full {
				m := e.finish(wireNow)
				if len(m) > max {
					t.Fatalf("max %d: message of %d bytes", max, len(m))
				}
				_, _, recs, err := w.read(m)
				if err != nil {
					t.Fatal(err)
				}
				total += len(recs)
				e.sent()
				if e.add(&r) != added {
					t.Fatalf("max %d: record does not fit an empty message", max)
				}
			}
		}
		_, _, recs, _ := w.read(e.finish(wireNow))
		if total+len(recs) != 1000 {
			t.Fatalf("max %d: %d data records, want 1000", max, total+len(recs))
		}
	}
}
