package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/internal/ipfix/nfcapdtest"
)

// goflow2Path finds goflow2 on PATH or where scripts/install-goflow2.sh
// (make deps) puts it, and skips the test with the reason when it is in
// neither.
func goflow2Path(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("goflow2"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.Split(strings.TrimSpace(string(out)), ":")[0], "bin", "goflow2")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("goflow2 is not installed: scripts/install-goflow2.sh (run by make deps) builds it")
	return ""
}

// TestReplayExportToGoflow2 replays a generated capture with --ipfix and
// --netflow9 to two real goflow2 collectors, which decode the templates
// and records independently of nfdump: every direction that carried
// packets arrives as one record of the right kind with the generator's
// packets and IP bytes.
func TestReplayExportToGoflow2(t *testing.T) {
	bin := goflow2Path(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "gen.pcap")
	var buf bytes.Buffer
	tr, err := gen.WritePcap(&buf, gen.Config{Seed: 14, Flows: 300, TCP: 7, UDP: 3, SCTP: gen.Off, ICMP: gen.Off, ICMPErrors: gen.Off, Duration: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pcap, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want := directionRows(tr)

	start := func(name string) (addr, out string, stop func()) {
		port := nfcapdtest.FreeUDPPort(t)
		addr = fmt.Sprintf("127.0.0.1:%d", port)
		out = filepath.Join(dir, name+".json")
		var log bytes.Buffer
		// One worker: with goflow2's default of two, a data set can be
		// decoded by one worker before the other has stored the template
		// that came in the datagram before it ("template error"), and is
		// dropped.
		cmd := exec.Command(bin, "-listen", "netflow://"+addr+"?workers=1", "-format", "json",
			"-transport", "file", "-transport.file", out,
			"-addr", freeTCPAddr(t), "-loglevel", "warn")
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := false
		stop = func() {
			if done {
				return
			}
			done = true
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
			if log.Len() > 0 {
				t.Logf("goflow2 (%s): %s", name, log.String())
			}
		}
		t.Cleanup(stop)
		// goflow2 binds its socket shortly after it starts; a datagram sent
		// before that is lost, so wait until the port is taken.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if udpPortBusy(port) {
				return addr, out, stop
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("goflow2 did not listen on %s: %s", addr, log.String())
		return
	}
	ipfixAddr, ipfixOut, stopIPFIX := start("ipfix")
	v9Addr, v9Out, stopV9 := start("v9")
	if err := runReplay([]string{"--format", "none", "--quiet", "--ipfix", ipfixAddr, "--netflow9", v9Addr, pcap}); err != nil {
		t.Fatal(err)
	}
	// The collectors read their sockets after the replay returns: wait
	// until each has written a record per direction (or give up after a
	// while and let the comparison below say what is missing).
	waitRecords(ipfixOut, "IPFIX", len(want))
	waitRecords(v9Out, "NETFLOW_V9", len(want))
	stopIPFIX()
	stopV9()

	for _, c := range []struct{ name, kind, path string }{{"IPFIX", "IPFIX", ipfixOut}, {"NetFlow v9", "NETFLOW_V9", v9Out}} {
		got := goflow2Rows(t, c.path, c.kind)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			n := 0
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] && n < 5 {
					t.Logf("row %d: got %s, want %s", i, got[i], want[i])
					n++
				}
			}
			t.Fatalf("%s: goflow2 decoded %d records, the truth has %d directions", c.name, len(got), len(want))
		}
	}
}

// waitRecords waits up to 10 s for goflow2 to have written n records of
// kind to path.
func waitRecords(path, kind string, n int) {
	mark := []byte(fmt.Sprintf(`"type":%q`, kind))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if b, _ := os.ReadFile(path); bytes.Count(b, mark) >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// udpPortBusy reports whether a process has bound the loopback UDP port,
// from /proc/net/udp: probing by binding it would race the collector.
func udpPortBusy(port int) bool {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte(fmt.Sprintf("0100007F:%04X ", port)))
}

// freeTCPAddr returns a loopback TCP address that was free a moment ago.
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// goflow2Rows reads goflow2's JSON records as "proto,src,sport,dst,dport,
// packets,bytes" rows, failing on a record of another kind than kind.
func goflow2Rows(t *testing.T, path, kind string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	protos := map[string]int{"TCP": 6, "UDP": 17}
	var rows []string
	// goflow2's workers write records and separators as separate writes,
	// so two records can share a line: read a stream of JSON values.
	dec := json.NewDecoder(f)
	for {
		var r struct {
			Type           string
			SrcAddr        string `json:"src_addr"`
			DstAddr        string `json:"dst_addr"`
			Sport          uint16 `json:"src_port"`
			Dport          uint16 `json:"dst_port"`
			Proto          string
			Packets, Bytes uint64
		}
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if r.Type != kind {
			t.Fatalf("%s: a record of type %q, want %q", path, r.Type, kind)
		}
		p, ok := protos[r.Proto]
		if !ok {
			t.Fatalf("%s: protocol %q not in the capture", path, r.Proto)
		}
		rows = append(rows, fmt.Sprintf("%d,%s,%d,%s,%d,%d,%d", p, r.SrcAddr, r.Sport, r.DstAddr, r.Dport, r.Packets, r.Bytes))
	}
	return rows
}
