package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/flowd/flowd/internal/ipfix/nfcapdtest"
	"github.com/flowd/flowd/internal/testnet"
)

// TestWatchExportsToNfcapd: flowd watch on a live interface exports IPFIX
// to a real nfcapd; nfdump reads back one record per direction of every
// flow with the packets and IP bytes the test sent.
func TestWatchExportsToNfcapd(t *testing.T) {
	testnet.Require(t)
	nfcapdtest.NeedTools(t, "nfdump", "nfcapd", "nfdump")
	bin := buildFlowd(t)
	p := testnet.NewPair(t, testnet.Options{})

	// nfcapd in B, on B's loopback: the export does not cross the veth
	// flowd watches.
	collector, dir, stopCollector := nfcapdtest.StartWith(t, p.B.Command)

	cmd, stderr := startWatch(t, bin, p, filepath.Join(t.TempDir(), "flows.csv"), "--ipfix", collector)

	const flows, per, payload = 8, 5, 100
	ports := echoFlows(t, p, flows, per, payload)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("flowd watch: %v\n%s", err, stderr.String())
	}
	stopCollector()

	got := map[string]string{}
	for _, row := range nfcapdtest.Rows(t, dir, "%sa,%sp,%da,%dp,%pr,%pkt,%byt") {
		c := strings.Split(row, ",")
		if c[4] == "UDP" || c[4] == "17" {
			got[c[0]+":"+c[1]+">"+c[2]+":"+c[3]] = c[5] + "," + c[6]
		}
	}
	want := fmt.Sprintf("%d,%d", per, per*(20+8+payload))
	for _, port := range ports {
		for _, key := range []string{fmt.Sprintf("%s:%d>%s:9000", p.AddrA, port, p.AddrB), fmt.Sprintf("%s:9000>%s:%d", p.AddrB, p.AddrA, port)} {
			if got[key] != want {
				t.Errorf("record %s: %q, want %q (packets, IP bytes)", key, got[key], want)
			}
		}
	}
	if len(got) != 2*flows {
		t.Errorf("%d UDP records at nfcapd, want %d: %v\n%s", len(got), 2*flows, got, stderr.String())
	}
}
