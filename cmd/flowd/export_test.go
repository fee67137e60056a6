package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	want := directionRows(tr)

	ipfixAddr, ipfixDir, stopIPFIX := nfcapdtest.Start(t)
	v9Addr, v9Dir, stopV9 := nfcapdtest.Start(t)
	if err := runReplay([]string{"--format", "none", "--quiet", "--ipfix", ipfixAddr, "--netflow9", v9Addr, pcap}); err != nil {
		t.Fatal(err)
	}
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

// TestReplayActiveTimeout: with an active timeout, long flows are reported
// to nfcapd while they last, and each direction's records sum to the
// generator's truth.
func TestReplayActiveTimeout(t *testing.T) {
	nfcapdtest.NeedTools(t, "nfdump", "nfcapd", "nfdump")
	dir := t.TempDir()
	pcap := filepath.Join(dir, "long.pcap")
	var buf bytes.Buffer
	tr, err := gen.WritePcap(&buf, gen.Config{Seed: 13, Flows: 60, MeanPackets: 200, Skew: 2, TCP: 7, UDP: 3,
		SCTP: gen.Off, ICMP: gen.Off, ICMPErrors: gen.Off, Duration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(pcap, buf.Bytes(), 0o644)
	want := map[string][2]uint64{}
	for _, f := range tr.Flows {
		add := func(k string, p, b uint64) {
			v := want[k]
			want[k] = [2]uint64{v[0] + p, v[1] + b}
		}
		if f.PktsToServer > 0 {
			add(fmt.Sprintf("%d,%s,%d,%s,%d", f.Proto, f.Src, f.SrcPort, f.Dst, f.DstPort), f.PktsToServer, f.IPBytesToServer)
		}
		if f.PktsToClient > 0 {
			add(fmt.Sprintf("%d,%s,%d,%s,%d", f.Proto, f.Dst, f.DstPort, f.Src, f.SrcPort), f.PktsToClient, f.IPBytesToClient)
		}
	}
	addr, nfdir, stop := nfcapdtest.Start(t)
	if err := runReplay([]string{"--format", "none", "--quiet", "--ipfix", addr, "--active-timeout", "2s", pcap}); err != nil {
		t.Fatal(err)
	}
	stop()
	rows := nfcapdtest.Rows(t, nfdir, "%pr,%sa,%sp,%da,%dp,%pkt,%byt")
	got := map[string][2]uint64{}
	for _, r := range rows {
		c := strings.Split(r, ",")
		k := strings.Join(c[:5], ",")
		p, _ := strconv.ParseUint(c[5], 10, 64)
		b, _ := strconv.ParseUint(c[6], 10, 64)
		v := got[k]
		got[k] = [2]uint64{v[0] + p, v[1] + b}
	}
	if len(rows) <= len(want) {
		t.Errorf("%d records for %d flow directions: no flow was reported while it lasted", len(rows), len(want))
	}
	if len(got) != len(want) {
		t.Errorf("%d directions exported, the truth has %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: records sum to %v packets/bytes, truth %v", k, got[k], w)
		}
	}
	t.Logf("%d records for %d flow directions", len(rows), len(want))
}

// directionRows is one "proto,src,sport,dst,dport,packets,ipbytes" row per
// direction of the truth's flows that carried packets, sorted: what a
// collector of uniflow records must hold.
func directionRows(tr *gen.Truth) []string {
	var rows []string
	for _, f := range tr.Flows {
		if f.PktsToServer > 0 {
			rows = append(rows, fmt.Sprintf("%d,%s,%d,%s,%d,%d,%d", f.Proto, f.Src, f.SrcPort, f.Dst, f.DstPort, f.PktsToServer, f.IPBytesToServer))
		}
		if f.PktsToClient > 0 {
			rows = append(rows, fmt.Sprintf("%d,%s,%d,%s,%d,%d,%d", f.Proto, f.Dst, f.DstPort, f.Src, f.SrcPort, f.PktsToClient, f.IPBytesToClient))
		}
	}
	slices.Sort(rows)
	return rows
}
