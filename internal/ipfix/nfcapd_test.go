package ipfix

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer collects a child's output; it may be read while written.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// needTools skips the test unless every named program is on PATH.
func needTools(t *testing.T, pkg string, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: install the Debian package %s (apt-get install -y %s; make deps does it as root)", tool, pkg, pkg)
		}
	}
}

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// startNfcapd runs nfcapd on a loopback port, writing into a temporary
// directory. The returned stop function sends SIGTERM (nfcapd then writes
// out what it holds and closes its file), waits for it and returns what it
// printed; t.Cleanup stops it if the test ends first.
func startNfcapd(t *testing.T) (addr string, dir string, stop func() string) {
	t.Helper()
	dir = t.TempDir()
	port := freeUDPPort(t)
	cmd := exec.Command("nfcapd", "-b", "127.0.0.1", "-p", fmt.Sprint(port), "-w", dir, "-t", "3600")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("nfcapd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop = func() string {
		if stopped {
			return out.String()
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("nfcapd did not stop on SIGTERM; output:\n%s", out.String())
		}
		return out.String()
	}
	t.Cleanup(func() { stop() })
	// nfcapd opens its nfcapd.current.PID file once its socket is bound.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, "nfcapd.current.*")); len(m) > 0 {
			break
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("nfcapd exited at start (%v):\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nfcapd did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Sprintf("127.0.0.1:%d", port), dir, stop
}

// nfdumpRows reads every file nfcapd closed in dir, one line per flow
// record, fields separated by commas as asked in format.
func nfdumpRows(t *testing.T, dir, format string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "nfcapd.2*"))
	if len(files) == 0 {
		ents, _ := os.ReadDir(dir)
		t.Fatalf("nfcapd wrote no file in %s: %v", dir, ents)
	}
	var rows []string
	for _, f := range files {
		cmd := exec.Command("nfdump", "-r", f, "-q", "-N", "-6", "-o", "fmt:"+format)
		cmd.Env = append(os.Environ(), "TZ=UTC")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("nfdump -r %s: %v\n%s", f, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			parts := strings.Split(line, ",")
			for i := range parts {
				parts[i] = strings.TrimSpace(parts[i])
			}
			rows = append(rows, strings.Join(parts, ","))
		}
	}
	return rows
}

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
	needTools(t, "nfdump", "nfcapd", "nfdump")
	for _, p := range []Protocol{IPFIX, NetFlow9} {
		t.Run(p.String(), func(t *testing.T) {
			addr, dir, stop := startNfcapd(t)
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
			time.Sleep(300 * time.Millisecond) // let nfcapd read its socket dry
			// nfcapd checks every message's sequence number against the
			// previous one of the same exporter and domain.
			if log := stop(); !strings.Contains(log, "Sequence Errors: 0,") {
				t.Errorf("nfcapd reports sequence errors:\n%s", log)
			}
			got := nfdumpRows(t, dir, "%pr,%sa,%sp,%da,%dp,%pkt,%byt,%ts,%te")
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
