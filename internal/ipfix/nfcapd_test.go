package ipfix

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/internal/ipfix/nfcapdtest"
)

// sampleRecords makes n records: IPv4 and IPv6, TCP, UDP and ICMP, some
// one-way, with counts up to the millions, times within the last minute.
func sampleRecords(n int, seed uint64) []Record {
	rng := rand.New(rand.NewPCG(seed, 1))
	now := time.Now().Add(-time.Minute).UnixNano()
	out := make([]Record, n)
	for i := range out {
		r := &out[i]
		if i%2 == 0 {
			r.Family = 4
			r.Src = [16]byte{10, byte(i >> 8), byte(i), 1}
			r.Dst = [16]byte{192, 0, 2, byte(i)}
		} else {
			r.Family = 6
			r.Src = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0xaa, 0xbb, 0xcc, 0xdd, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, byte(i >> 8), byte(i)}
			r.Dst = [16]byte{0xfd, 0x00, 15: byte(i)}
		}
		switch i % 5 {
		case 0, 1, 2:
			r.Proto = 6
			r.TCPFlags = [2]uint8{0x1b, 0x12}
		case 3:
			r.Proto = 17
		case 4:
			r.Proto = 1
			if r.Family == 6 {
				r.Proto = 58
				r.ICMPType = 128
			} else {
				r.ICMPType = 8
			}
		}
		if r.Proto != 1 && r.Proto != 58 {
			r.SrcPort, r.DstPort = uint16(1024+i), uint16(rng.IntN(65536))
		}
		r.Packets[0] = uint64(1 + rng.IntN(3_000_000))
		r.Octets[0] = r.Packets[0] * uint64(40+rng.IntN(1460))
		if i%7 != 0 {
			r.Packets[1] = uint64(1 + rng.IntN(1000))
			r.Octets[1] = r.Packets[1] * 60
		}
		r.Start = now + int64(rng.IntN(10_000))*int64(time.Millisecond) + 123456
		r.End = r.Start + int64(rng.IntN(40_000))*int64(time.Millisecond)
		r.VLAN[0] = uint16(i % 4095)
		r.EndReason = EndReason(1 + i%5)
		r.Ingress = uint32(i % 3)
	}
	return out
}

// expectedRows is what nfdump -N (numbers, no names) should print for recs,
// exported uniflow, in the format "%pr,%sa,%sp,%da,%dp,%pkt,%byt,%ts,%te".
func expectedRows(recs []Record) []string {
	var rows []string
	ms := func(ns int64) string {
		return time.UnixMilli(floorMs(ns)).UTC().Format("2006-01-02 15:04:05.000")
	}
	for i := range recs {
		r := &recs[i]
		for dir := 0; dir < 2; dir++ {
			if r.Packets[dir] == 0 {
				continue
			}
			src, dst := r.Src, r.Dst
			sp, dp := fmt.Sprint(r.SrcPort), fmt.Sprint(r.DstPort)
			if dir == 1 {
				src, dst, sp, dp = dst, src, dp, sp
			}
			if r.isICMP() { // nfdump shows ICMP type.code as the destination port
				tc := icmpTypeCode(r, dir)
				sp, dp = "0", fmt.Sprintf("%d.%d", tc>>8, tc&0xff)
			}
			rows = append(rows, strings.Join([]string{fmt.Sprint(r.Proto), addrString(r.Family, src), sp,
				addrString(r.Family, dst), dp, fmt.Sprint(r.Packets[dir]), fmt.Sprint(r.Octets[dir]),
				ms(r.Start), ms(r.End)}, ","))
		}
	}
	return rows
}

func addrString(family uint8, a [16]byte) string {
	if family == 4 {
		return netip.AddrFrom4([4]byte(a[:4])).String()
	}
	return netip.AddrFrom16(a).String()
}

// TestNfcapd exports IPv4 and IPv6 uniflow records over IPFIX and NetFlow v9
// to a real nfcapd (Debian package nfdump) and reads them back with nfdump:
// every record's protocol, addresses, ports, packets, bytes and times match.
func TestNfcapd(t *testing.T) {
	nfcapdtest.NeedTools(t, "nfdump", "nfcapd", "nfdump")
	for _, p := range []Protocol{IPFIX, NetFlow9} {
		t.Run(p.String(), func(t *testing.T) {
			addr, dir, stop := nfcapdtest.Start(t)
			recs := sampleRecords(400, uint64(p)+1)
			e, err := New(Config{Collector: addr, Protocol: p, ObservationDomain: 42})
			if err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				if !e.Add(&recs[i]) {
					t.Fatal("queue full")
				}
			}
			s, err := e.Close()
			if err != nil || s.Exported != uint64(len(recs)) {
				t.Fatalf("close: %+v %v", s, err)
			}
			// nfcapd checks every message's sequence number against the
			// previous one of the same exporter and domain.
			if log := stop(); !strings.Contains(log, "Sequence Errors: 0,") {
				t.Errorf("nfcapd reports sequence errors:\n%s", log)
			}
			got := nfcapdtest.Rows(t, dir, "%pr,%sa,%sp,%da,%dp,%pkt,%byt,%ts,%te")
			want := expectedRows(recs)
			slices.Sort(got)
			slices.Sort(want)
			if uint64(len(want)) != s.DataRecords {
				t.Fatalf("expected %d rows, exporter sent %d data records", len(want), s.DataRecords)
			}
			if !slices.Equal(got, want) {
				for i := 0; i < len(got) && i < len(want); i++ {
					if got[i] != want[i] {
						t.Fatalf("nfdump row %d of %d/%d:\n got  %s\n want %s", i, len(got), len(want), got[i], want[i])
					}
				}
				t.Fatalf("nfdump printed %d rows, want %d", len(got), len(want))
			}
			t.Logf("%v: nfdump read back all %d data records (%d Records, %d messages, %d template messages)",
				p, len(got), len(recs), s.Messages, s.Templates)
		})
	}
}
