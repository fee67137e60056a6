package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"strings"
)

// Hand-built capture files, one comment per header. hx joins hex strings,
// ignoring spaces, so each field can stand alone.

func hx(parts ...string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Join(parts, ""), " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// 1700000000 s = 0x6553f100: 2023-11-14T22:13:20Z.
const t0 = 1700000000 * int64(1e9)

// want is a frame as a test expects it (Data copied out of the reader).
type want struct {
	Data      []byte
	Timestamp int64
	WireLen   uint32
	LinkType  LinkType
	Interface uint32
}

// pcapLEMicros: little-endian, microsecond pcap, Ethernet, two records, the
// second snapped (caplen 6 of 1514).
var pcapLEMicros = hx(
	// file header: magic a1b2c3d4 stored LE (µs), version 2.4, thiszone 0,
	// sigfigs 0, snaplen 65535, linktype 1 (Ethernet)
	"d4c3b2a1 0200 0400 00000000 00000000 ffff0000 01000000",
	// record 0: ts_sec 1700000000, ts_usec 123, caplen 4, origlen 4
	"00f15365 7b000000 04000000 04000000",
	"00112233",
	// record 1: ts_sec 1700000001, ts_usec 999999, caplen 6, origlen 1514
	"01f15365 3f420f00 06000000 ea050000",
	"aabbccddeeff",
)

var pcapLEMicrosWant = []want{
	{hx("00112233"), t0 + 123e3, 4, LinkEthernet, 0},
	{hx("aabbccddeeff"), t0 + 1e9 + 999999e3, 1514, LinkEthernet, 0},
}

// pcapBENanos: big-endian, nanosecond pcap whose link type field is
// DLT_RAW as OpenBSD writes it (12) with FCS bits set in the upper half.
var pcapBENanos = hx(
	// file header: magic a1b23c4d stored BE (ns), version 2.4, thiszone 0,
	// sigfigs 0, snaplen 262144, linktype 0x1000000c (FCS length 1 << 28 | 12)
	"a1b23c4d 0002 0004 00000000 00000000 00040000 1000000c",
	// record 0: ts_sec 1700000000, ts_nsec 999999999, caplen 20, origlen 20
	"6553f100 3b9ac9ff 00000014 00000014",
	// an IPv4 header 10.0.0.1 -> 10.0.0.2, TCP
	"45000014 00000000 40060000 0a000001 0a000002",
)

var pcapBENanosWant = []want{
	{hx("45000014 00000000 40060000 0a000001 0a000002"), t0 + 999999999, 20, LinkRaw, 0},
}

// pcapBEMicros: big-endian, microsecond pcap, Linux cooked capture.
var pcapBEMicros = hx(
	// file header: magic a1b2c3d4 stored BE (µs), version 2.4, thiszone 0,
	// sigfigs 0, snaplen 65535, linktype 113 (Linux SLL)
	"a1b2c3d4 0002 0004 00000000 00000000 0000ffff 00000071",
	// record 0: ts_sec 1700000001, ts_usec 999999, caplen 2, origlen 16
	"6553f101 000f423f 00000002 00000010",
	"0800",
)

var pcapBEMicrosWant = []want{
	{hx("0800"), t0 + 1e9 + 999999e3, 16, LinkLinuxSLL, 0},
}

// pcapLENanos: little-endian, nanosecond pcap, Linux SLL2, with an empty
// record and one whose caplen exceeds its origlen (tolerated, passed on).
var pcapLENanos = hx(
	// file header: magic a1b23c4d stored LE (ns), version 2.4, thiszone 0,
	// sigfigs 0, snaplen 65535, linktype 276 (Linux SLL2)
	"4d3cb2a1 0200 0400 00000000 00000000 ffff0000 14010000",
	// record 0: ts_sec 1700000002, ts_nsec 1, caplen 0, origlen 60
	"02f15365 01000000 00000000 3c000000",
	// record 1: ts_sec 1700000002, ts_nsec 2, caplen 3, origlen 2
	"02f15365 02000000 03000000 02000000",
	"010203",
)

var pcapLENanosWant = []want{
	{[]byte{}, t0 + 2e9 + 1, 60, LinkLinuxSLL2, 0},
	{hx("010203"), t0 + 2e9 + 2, 2, LinkLinuxSLL2, 0},
}

// ngTwoInterfaces: one little-endian pcapng section with two interfaces of
// different link types and timestamp resolutions, every packet block kind
// and blocks the reader must skip.
var ngTwoInterfaces = hx(
	// SHB: type 0a0d0d0a, length 28, byte-order magic 1a2b3c4d stored LE,
	// version 1.0, section length -1 (unknown), trailing length 28
	"0a0d0d0a 1c000000 4d3c2b1a 0100 0000 ffffffffffffffff 1c000000",
	// IDB 0: length 20, link type 1 (Ethernet), reserved, snaplen 0; no
	// options, so timestamps count microseconds
	"01000000 14000000 0100 0000 00000000 14000000",
	// IDB 1: length 44, link type 276 (Linux SLL2), reserved, snaplen 128,
	"01000000 2c000000 1401 0000 80000000",
	// if_tsresol (9) length 1: 9 = nanoseconds, 3 bytes padding
	"0900 0100 09 000000",
	// if_tsoffset (14) length 8: 10 seconds added to every timestamp
	"0e00 0800 0a00000000000000",
	// opt_endofopt, trailing length 44
	"0000 0000 2c000000",
	// EPB: length 40, interface 0, timestamp 1700000000000123 µs (high,
	// low words), caplen 5, origlen 60, 5 bytes + 3 padding, trailing 40
	"06000000 28000000 00000000 240a0600 7b401e18 05000000 3c000000",
	"0102030405 000000 28000000",
	// ISB: length 24, interface 0, timestamp 0, no options — skipped
	"05000000 18000000 00000000 00000000 00000000 18000000",
	// EPB: length 36, interface 1, timestamp 1700000000500000000 ns,
	// caplen 4, origlen 4, data, trailing 36
	"06000000 24000000 01000000 fe9c9717 0065f753 04000000 04000000",
	"c0ffee00 24000000",
	// NRB: length 16, nrb_record_end — skipped
	"04000000 10000000 00000000 10000000",
	// SPB: length 24, origlen 6 (interface 0, snaplen 0: caplen 6), 6
	// bytes + 2 padding, trailing 24
	"03000000 18000000 06000000 aabbccddeeff 0000 18000000",
	// custom block 0x00000bad: length 20, PEN 123, 4 bytes — skipped
	"ad0b0000 14000000 7b000000 01020304 14000000",
	// obsolete PB: length 36, interface 1 (16 bits), drops 0, timestamp
	// 1700000001000000007 ns, caplen 3, origlen 5, 3 bytes + 1 padding
	"02000000 24000000 0100 0000 fe9c9717 07cac471 03000000 05000000",
	"abcdef00 24000000",
)

var ngTwoInterfacesWant = []want{
	{hx("0102030405"), t0 + 123e3, 60, LinkEthernet, 0},
	{hx("c0ffee00"), t0 + 10e9 + 500e6, 4, LinkLinuxSLL2, 1},
	// The SPB has no timestamp: it takes the previous packet's.
	{hx("aabbccddeeff"), t0 + 10e9 + 500e6, 6, LinkEthernet, 0},
	{hx("abcdef"), t0 + 11e9 + 7, 5, LinkLinuxSLL2, 1},
}

// ngTwoSections: a big-endian section with a binary-resolution interface,
// then a little-endian section whose two interfaces use milliseconds and
// picoseconds plus an offset. The second section's interfaces are numbered
// 1 and 2 in Frame.Interface.
var ngTwoSections = hx(
	// section A, big endian.
	// SHB: type, length 28, byte-order magic stored BE, version 1.0,
	// section length -1, trailing length
	"0a0d0d0a 0000001c 1a2b3c4d 0001 0000 ffffffffffffffff 0000001c",
	// IDB: length 32, link type 101 (raw IP), reserved, snaplen 65535,
	// if_tsresol 0x8a (2^-10 s) + padding, opt_endofopt, trailing 32
	"00000001 00000020 0065 0000 0000ffff",
	"0009 0001 8a 000000 0000 0000 00000020",
	// EPB: length 52, interface 0, timestamp 1700000000.5 s in 2^-10 s
	// ticks, caplen 20, origlen 20, IPv4 header, trailing 52
	"00000006 00000034 00000000 00000195 4fc40200 00000014 00000014",
	"45000014 00000000 40060000 0a000001 0a000002 00000034",
	// SPB: length 24, origlen 8, 8 bytes, trailing 24
	"00000003 00000018 00000008 0102030405060708 00000018",

	// section B, little endian.
	// SHB: length 28, byte-order magic stored LE, version 1.2
	"0a0d0d0a 1c000000 4d3c2b1a 0100 0200 ffffffffffffffff 1c000000",
	// IDB 0: length 32, Ethernet, snaplen 4, if_tsresol 3 (ms), end
	"01000000 20000000 0100 0000 04000000",
	"0900 0100 03 000000 0000 0000 20000000",
	// IDB 1: length 44, link type 229 (IPv6), snaplen 0, if_tsresol 12
	// (ps), if_tsoffset 1700000000 s, end
	"01000000 2c000000 e500 0000 00000000",
	"0900 0100 0c 000000 0e00 0800 00f1536500000000 0000 0000 2c000000",
	// EPB: length 44, interface 1, timestamp 123456789012 ps, caplen 12,
	// origlen 40, 12 bytes of an IPv6 header, trailing 44
	"06000000 2c000000 01000000 1c000000 141a99be 0c000000 28000000",
	"60000000 00083aff 00000000 2c000000",
	// SPB: length 20, origlen 10; interface 0's snaplen 4 cuts it to 4
	"03000000 14000000 0a000000 deadbeef 14000000",
	// EPB: length 36, interface 0, timestamp 1700000000123 ms, caplen 4,
	// origlen 64, trailing 36
	"06000000 24000000 00000000 8b010000 7b68e5cf 04000000 40000000",
	"01020304 24000000",
)

var ngTwoSectionsWant = []want{
	{hx("45000014 00000000 40060000 0a000001 0a000002"), t0 + 500e6, 20, LinkRaw, 0},
	{hx("0102030405060708"), t0 + 500e6, 8, LinkRaw, 0},
	{hx("60000000 00083aff 00000000"), t0 + 123456789, 40, LinkIPv6, 2},
	{hx("deadbeef"), t0 + 123456789, 10, LinkEthernet, 1},
	{hx("01020304"), t0 + 123e6, 64, LinkEthernet, 1},
}

// ngEmpty: a section header and nothing else — a valid, empty capture.
var ngEmpty = hx(
	// SHB: length 28, LE, version 1.0, section length 0, trailing 28
	"0a0d0d0a 1c000000 4d3c2b1a 0100 0000 0000000000000000 1c000000",
)

type fixture struct {
	name string
	data []byte
	want []want
}

var fixtures = []fixture{
	{"pcap-le-us", pcapLEMicros, pcapLEMicrosWant},
	{"pcap-be-ns", pcapBENanos, pcapBENanosWant},
	{"pcap-be-us", pcapBEMicros, pcapBEMicrosWant},
	{"pcap-le-ns", pcapLENanos, pcapLENanosWant},
	{"pcapng-two-interfaces", ngTwoInterfaces, ngTwoInterfacesWant},
	{"pcapng-two-sections", ngTwoSections, ngTwoSectionsWant},
	{"pcapng-empty", ngEmpty, nil},
}
