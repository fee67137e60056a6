package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/internal/ipfix/nfcapdtest"
)

// TestReplayExportToNfcapd replays a generated capture with --ipfix and
// --netflow9 to real nfcapd collectors and reads their files back with
// nfdump: one record per direction that carried packets, with the packets
// and IP bytes the generator's truth gives that direction.
func TestReplayExportToNfcapd(t *testing.T) {
	nfcapdtest.NeedTools(t, "nfdump", "nfcapd", "nfdump")
	dir := t.TempDir()
	pcap := filepath.Join(dir, "gen.pcap")
	var buf bytes.Buffer
	// TCP and UDP only: nfdump shows ICMP type and code in place of ports,
	// and (1.7.1) prints an SCTP flow's destination port as 0.
	tr, err := gen.WritePcap(&buf, gen.Config{Seed: 12, Flows: 400, TCP: 7, UDP: 3, SCTP: gen.Off, ICMP: gen.Off, ICMPErrors: gen.Off, Duration: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(pcap, buf.Bytes(), 0o644)
	var want []string
	for _, f := range tr.Flows {
		if f.PktsToServer > 0 {
			want = append(want, fmt.Sprintf("%d,%s,%d,%s,%d,%d,%d", f.Proto, f.Src, f.SrcPort, f.Dst, f.DstPort, f.PktsToServer, f.IPBytesToServer))
		}
		if f.PktsToClient > 0 {
			want = append(want, fmt.Sprintf("%d,%s,%d,%s,%d,%d,%d", f.Proto, f.Dst, f.DstPort, f.Src, f.SrcPort, f.PktsToClient, f.IPBytesToClient))
		}
	}
	slices.Sort(want)

	ipfixAddr, ipfixDir, stopIPFIX := nfcapdtest.Start(t)
	v9Addr, v9Dir, stopV9 := nfcapdtest.Start(t)
	if err := runReplay([]string{"--format", "none", "--quiet", "--ipfix", ipfixAddr, "--netflow9", v9Addr, pcap}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let the collectors read their sockets dry
	stopIPFIX()
	stopV9()
	for name, d := range map[string]string{"IPFIX": ipfixDir, "NetFlow v9": v9Dir} {
		got := nfcapdtest.Rows(t, d, "%pr,%sa,%sp,%da,%dp,%pkt,%byt")
		slices.Sort(got)
		if !slices.Equal(got, want) {
			n := 0
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] && n < 5 {
					t.Logf("row %d: got %s, want %s", i, got[i], want[i])
					n++
				}
			}
			t.Fatalf("%s: nfdump read %d records, the truth has %d directions", name, len(got), len(want))
		}
	}
}
