package main

// Fault proofs for flow logs (issue 14): the real flowd binary signalled in
// the middle of writing flow logs and EVE, and flow-log destinations that
// fail (a full tmpfs, a read-only directory) and come back.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/internal/testminio"
)

// flRecord is one flow log record read back: field name -> value, names as
// the text header writes them (version, srcaddr, log-status...).
type flRecord map[string]string

// readFlowLogTree reads back every object under tree: each gzip object must
// decompress to its end with a header line, each Parquet object must open
// and read. Leftover temporary files fail the test (an object is either
// committed whole or not there).
func readFlowLogTree(t *testing.T, tree string) (recs []flRecord, gz, pq int) {
	t.Helper()
	err := filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch {
		case strings.HasSuffix(p, ".log.gz"):
			gz++
			recs = append(recs, readGzipObject(t, p)...)
		case strings.HasSuffix(p, ".log.parquet"):
			pq++
			recs = append(recs, readParquetObject(t, p)...)
		default:
			t.Errorf("stray file in the flow log tree: %s", p)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return recs, gz, pq
}

func readGzipObject(t *testing.T, p string) []flRecord {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s does not decompress to its end: %v", p, err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	head := strings.Fields(lines[0])
	if len(head) == 0 || head[0] != "version" {
		t.Fatalf("%s: header %q", p, lines[0])
	}
	var out []flRecord
	for _, l := range lines[1:] {
		v := strings.Fields(l)
		if len(v) != len(head) {
			t.Fatalf("%s: record %q has %d fields, header %d", p, l, len(v), len(head))
		}
		r := flRecord{}
		for i, h := range head {
			r[h] = v[i]
		}
		out = append(out, r)
	}
	return out
}

func readParquetObject(t *testing.T, p string) []flRecord {
	t.Helper()
	rd, err := file.OpenParquetFile(p, false)
	if err != nil {
		t.Fatalf("%s is not readable Parquet: %v", p, err)
	}
	defer rd.Close()
	sch := rd.MetaData().Schema
	var out []flRecord
	for g := 0; g < rd.NumRowGroups(); g++ {
		rg := rd.RowGroup(g)
		n := int(rg.NumRows())
		base := len(out)
		for range n {
			out = append(out, flRecord{})
		}
		for c := 0; c < sch.NumColumns(); c++ {
			name := strings.ReplaceAll(sch.Column(c).Name(), "_", "-")
			cr, err := rg.Column(c)
			if err != nil {
				t.Fatalf("%s: column %s: %v", p, name, err)
			}
			def := make([]int16, n)
			vals := make([]string, 0, n)
			switch r := cr.(type) {
			case *file.Int64ColumnChunkReader:
				v := make([]int64, n)
				_, k, err := r.ReadBatch(int64(n), v, def, nil)
				if err != nil {
					t.Fatalf("%s: column %s: %v", p, name, err)
				}
				for _, x := range v[:k] {
					vals = append(vals, strconv.FormatInt(x, 10))
				}
			case *file.Int32ColumnChunkReader:
				v := make([]int32, n)
				_, k, err := r.ReadBatch(int64(n), v, def, nil)
				if err != nil {
					t.Fatalf("%s: column %s: %v", p, name, err)
				}
				for _, x := range v[:k] {
					vals = append(vals, strconv.FormatInt(int64(x), 10))
				}
			case *file.ByteArrayColumnChunkReader:
				v := make([]parquet.ByteArray, n)
				_, k, err := r.ReadBatch(int64(n), v, def, nil)
				if err != nil {
					t.Fatalf("%s: column %s: %v", p, name, err)
				}
				for _, x := range v[:k] {
					vals = append(vals, string(x))
				}
			default:
				t.Fatalf("%s: column %s is %T", p, name, cr)
			}
			k := 0
			for i, d := range def {
				v := "-"
				if d > 0 || sch.Column(c).MaxDefinitionLevel() == 0 {
					v, k = vals[k], k+1
				}
				out[base+i][name] = v
			}
		}
	}
	return out
}

// okSums sums the OK records' packets and bytes per direction, and counts
// records by log-status.
func okSums(t *testing.T, recs []flRecord) (dirSums, map[string]int) {
	t.Helper()
	sums := dirSums{}
	status := map[string]int{}
	for _, r := range recs {
		status[r["log-status"]]++
		if r["log-status"] != "OK" {
			continue
		}
		p, err1 := strconv.ParseUint(r["packets"], 10, 64)
		b, err2 := strconv.ParseUint(r["bytes"], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("record %v: packets or bytes not a number", r)
		}
		k := dirKey{r["srcaddr"], r["dstaddr"], r["srcport"], r["dstport"], r["protocol"]}
		s := sums[k]
		s.pkts += p
		s.bytes += b
		sums[k] = s
	}
	return sums, status
}

var eveProto = map[string]string{"TCP": "6", "UDP": "17", "ICMP": "1", "IPv6-ICMP": "58", "SCTP": "132"}

// readEVE reads an EVE file: every line must be a JSON object of a flow
// event. It returns the packets per direction (as flow log records key
// them), and the count of flows by end reason.
func readEVE(t *testing.T, path string) (dirSums, map[string]int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sums := dirSums{}
	reasons := map[string]int{}
	n := 0
	for sc.Scan() {
		var ev struct {
			EventType string `json:"event_type"`
			SrcIP     string `json:"src_ip"`
			DestIP    string `json:"dest_ip"`
			SrcPort   int    `json:"src_port"`
			DestPort  int    `json:"dest_port"`
			Proto     string `json:"proto"`
			Flow      *struct {
				PktsToServer uint64 `json:"pkts_toserver"`
				PktsToClient uint64 `json:"pkts_toclient"`
				Reason       string `json:"reason"`
			} `json:"flow"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("EVE line %d is not JSON: %v\n%s", n+1, err, sc.Bytes())
		}
		n++
		if ev.EventType != "flow" || ev.Flow == nil {
			t.Fatalf("EVE line %d: event %q", n, ev.EventType)
		}
		reasons[ev.Flow.Reason]++
		proto, ok := eveProto[ev.Proto]
		if !ok {
			proto = ev.Proto // a number for protocols without a name
		}
		sp, dp := strconv.Itoa(ev.SrcPort), strconv.Itoa(ev.DestPort)
		// EVE writes IPv6 addresses in full, flow logs compressed.
		src, err1 := netip.ParseAddr(ev.SrcIP)
		dst, err2 := netip.ParseAddr(ev.DestIP)
		if err1 != nil || err2 != nil {
			t.Fatalf("EVE line %d: addresses %q %q", n, ev.SrcIP, ev.DestIP)
		}
		ev.SrcIP, ev.DestIP = src.String(), dst.String()
		add := func(k dirKey, p uint64) {
			if p > 0 {
				s := sums[k]
				s.pkts += p
				sums[k] = s
			}
		}
		add(dirKey{ev.SrcIP, ev.DestIP, sp, dp, proto}, ev.Flow.PktsToServer)
		add(dirKey{ev.DestIP, ev.SrcIP, dp, sp, proto}, ev.Flow.PktsToClient)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sums, reasons, n
}

// faultCapture is a generated capture of 16 minutes of engine time (four
// 5-minute object periods, sixteen 60 s windows), made once.
var faultCapture = sync1(func() ([]byte, *gen.Truth, error) {
	var b bytes.Buffer
	tr, err := gen.WritePcap(&b, gen.Config{Seed: 14, Flows: 4000, Duration: 16 * time.Minute, MeanPackets: 12})
	return b.Bytes(), tr, err
})

// sync1 runs f once, on first use.
func sync1[A, B any](f func() (A, B, error)) func(t *testing.T) (A, B) {
	var (
		done bool
		a    A
		b    B
		err  error
	)
	return func(t *testing.T) (A, B) {
		t.Helper()
		if !done {
			a, b, err = f()
			done = true
		}
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}

// startOnFIFO starts the flowd binary with args followed by a named pipe,
// writes the first `share` of the capture's packets into the pipe and keeps
// it open, so that flowd is in the middle of its input when the test acts.
// It returns the pipe's writer (to feed more or close).
func startOnFIFO(t *testing.T, capture []byte, packets int, share float64, args ...string) (*exec.Cmd, *syncBuffer, *os.File) {
	t.Helper()
	bin := buildFlowd(t)
	fifo := filepath.Join(t.TempDir(), "in.pcap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	cmd := exec.Command(bin, append(args, fifo)...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if _, err := w.Write(pcapPrefix(capture, int(float64(packets)*share))); err != nil {
		t.Fatal(err)
	}
	// The write returned: flowd has read all but the pipe's buffer. Let it
	// count what it read.
	time.Sleep(500 * time.Millisecond)
	return cmd, stderr, w
}

var (
	summaryPackets = regexp.MustCompile(`packets: (\d+) \(.*\), (\d+) counted into flows`)
	summaryFlowLog = regexp.MustCompile(`flow log: (\d+) records, (\d+) NODATA, (\d+) SKIPDATA under`)
)

// TestReplayFlowLogSignals: SIGTERM or SIGINT in the middle of a replay that
// writes EVE and a flow log (gzip text; Parquet in a Hive tree) leaves every
// object whole and readable, no temporary file behind, EVE as JSON lines
// with every flow still in the table ended "shutdown", and the flow log's
// records summing, per direction, to the packets of the flows written and,
// in all, to the packets the summary counted into flows.
func TestReplayFlowLogSignals(t *testing.T) {
	capture, tr := faultCapture(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		args []string
	}{
		{syscall.SIGTERM, nil},
		{syscall.SIGINT, []string{"--flow-log-file-format", "parquet", "--flow-log-layout", "hive"}},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			eve, tree := filepath.Join(dir, "eve.json"), filepath.Join(dir, "tree")
			args := append([]string{"replay", "--format", "eve", "-o", eve, "--progress", "never", "--flow-log-dir", tree}, tc.args...)
			cmd, stderr, w := startOnFIFO(t, capture, int(tr.Packets), 0.6, args...)
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			w.Close()
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1 (interrupted)\n%s", err, stderr)
			}
			out := stderr.String()
			if !strings.Contains(out, "interrupted") {
				t.Errorf("stderr does not say the replay was interrupted:\n%s", out)
			}
			mp, mf, ml := summaryPackets.FindStringSubmatch(out), summaryFlows.FindStringSubmatch(out), summaryFlowLog.FindStringSubmatch(out)
			if mp == nil || mf == nil || ml == nil {
				t.Fatalf("no packet, flow or flow log summary:\n%s", out)
			}
			read, _ := strconv.ParseUint(mp[1], 10, 64)
			counted, _ := strconv.ParseUint(mp[2], 10, 64)
			created, _ := strconv.Atoi(mf[1])
			shutdown := 0
			if s := regexp.MustCompile(`(\d+) shutdown`).FindStringSubmatch(mf[3]); s != nil {
				shutdown, _ = strconv.Atoi(s[1])
			}
			okRecords, _ := strconv.Atoi(ml[1])
			skipRecords, _ := strconv.Atoi(ml[3])
			// Truly mid-way: more than the pipe's buffer short of the whole
			// capture, and well into it.
			if read >= tr.Packets*7/10 || read < tr.Packets/3 || mf[2] != "0" || shutdown == 0 {
				t.Fatalf("read %d of %d packets, %s active, %d shutdown: not a stop in the middle\n%s", read, tr.Packets, mf[2], shutdown, out)
			}

			eveDirs, reasons, eveFlows := readEVE(t, eve)
			if eveFlows != created || reasons["shutdown"] != shutdown {
				t.Errorf("EVE: %d flows, reasons %v; summary: %d created, %d shutdown", eveFlows, reasons, created, shutdown)
			}
			recs, gz, pq := readFlowLogTree(t, tree)
			if gz+pq == 0 {
				t.Fatal("no flow log objects")
			}
			if (tc.args == nil) != (pq == 0) || (tc.args == nil) != (gz > 0) {
				t.Errorf("%d gzip and %d parquet objects", gz, pq)
			}
			fl, status := okSums(t, recs)
			if status["OK"] != okRecords || status["SKIPDATA"] != skipRecords || skipRecords != 0 {
				t.Errorf("records read back by status %v; summary: %d OK, %d SKIPDATA", status, okRecords, skipRecords)
			}
			total := fl.total()
			if total.pkts != counted || eveDirs.total().pkts != counted {
				t.Errorf("packets: flow log %d, EVE %d, summary counted %d", total.pkts, eveDirs.total().pkts, counted)
			}
			if len(fl) != len(eveDirs) {
				t.Errorf("%d directions in the flow log, %d in EVE", len(fl), len(eveDirs))
			}
			bad := 0
			for k, e := range eveDirs {
				if fl[k].pkts != e.pkts {
					if bad++; bad <= 5 {
						t.Errorf("%v: flow log %d packets, EVE %d", k, fl[k].pkts, e.pkts)
					}
				}
			}
			t.Logf("%s after %d of %d packets: %d flows (%d shutdown), %d records in %d objects",
				tc.sig, read, tr.Packets, created, shutdown, okRecords, gz+pq)
		})
	}
}

// TestReplayFlowLogSecondSignal: a second signal exits at once (status 130)
// and says what it dropped; the objects already committed stay whole.
func TestReplayFlowLogSecondSignal(t *testing.T) {
	capture, tr := faultCapture(t)
	dir := t.TempDir()
	eve, tree := filepath.Join(dir, "eve.json"), filepath.Join(dir, "tree")
	cmd, stderr, _ := startOnFIFO(t, capture, int(tr.Packets), 0.6, "replay", "--format", "eve", "-o", eve,
		"--progress", "never", "--flow-log-dir", tree)
	cmd.Process.Signal(syscall.SIGTERM)
	// The pipe stays open: the stop waits on the read, the second signal
	// must not.
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Fatalf("exit: %v, want status 130\n%s", err, stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("flowd did not exit on the second signal")
	}
	m := regexp.MustCompile(`second signal \(interrupt\): exiting at once; (\d+) of (\d+) flows were not written`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("stderr does not say what was dropped:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "flow-log records of the objects not yet saved are lost") {
		t.Errorf("stderr does not say that flow-log records were dropped:\n%s", stderr)
	}
	lost, _ := strconv.Atoi(m[1])
	all, _ := strconv.Atoi(m[2])
	if all == 0 || lost == 0 {
		t.Errorf("%d of %d flows not written: want some of many (the table was full of flows)", lost, all)
	}
	// What was written is whole: EVE lines up to a possible torn last one,
	// objects committed whole (a temporary file may remain).
	b, err := os.ReadFile(eve)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines[:len(lines)-1] {
		if !json.Valid([]byte(l)) {
			t.Fatalf("EVE line %d is not JSON: %q", i+1, l)
		}
	}
	if written := len(lines) - 1; written+lost != all {
		t.Errorf("EVE has %d whole lines; flowd said %d of %d were not written", written, lost, all)
	}
	var whole int
	filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".log.gz") {
			readGzipObject(t, p)
			whole++
		}
		return nil
	})
	t.Logf("second signal: %s; %d whole objects", m[0], whole)
}

// mountTmpfs mounts a tmpfs of size bytes at a new folder and unmounts it
// at cleanup, whatever the test's outcome; it skips where mounting is not
// allowed.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(mnt, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}

// fillDisk writes a file under dir until the file system is full and
// returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return p
		}
	}
}

// pcapUntil returns the offset in a pcap file (microsecond, little-endian)
// of the first record at or after unix seconds sec.
func pcapUntil(b []byte, sec int64) int {
	off := 24
	for off+16 <= len(b) {
		if int64(binary.LittleEndian.Uint32(b[off:])) >= sec {
			return off
		}
		off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
	}
	return len(b)
}

// metricValue reads one series of flowd's /metrics, or -1.
func metricValue(url, series string) float64 {
	b, err := httpGet(url + "/metrics")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// byInterval sums OK records' packets per 60 s interval (by start) and
// records which intervals carry SKIPDATA.
func byInterval(t *testing.T, recs []flRecord) (pkts, n map[int64]uint64, skip map[int64]bool) {
	t.Helper()
	pkts, n, skip = map[int64]uint64{}, map[int64]uint64{}, map[int64]bool{}
	for _, r := range recs {
		start, err := strconv.ParseInt(r["start"], 10, 64)
		if err != nil {
			t.Fatalf("record %v: start", r)
		}
		iv := start - start%60
		switch r["log-status"] {
		case "OK":
			p, _ := strconv.ParseUint(r["packets"], 10, 64)
			pkts[iv] += p
			n[iv]++
		case "SKIPDATA":
			end, _ := strconv.ParseInt(r["end"], 10, 64)
			if start%60 != 0 || end != start+59 {
				t.Errorf("SKIPDATA record %v does not span one interval", r)
			}
			skip[iv] = true
		}
	}
	return pkts, n, skip
}

var serveFlowLogSummary = regexp.MustCompile(`flow logs: (\d+) records, (\d+) NODATA, (\d+) SKIPDATA, (\d+) not written`)

// TestServeFlowLogFullDisk: flowd serve writes an s3 flow log (--s3-dir) to
// a small tmpfs while it reads a capture through a pipe. The test fills the
// disk after the first object period was committed, feeds the second
// period (its object cannot be written), frees the disk, and feeds the
// rest. flowd stays up; the lost records are counted (/metrics and the
// summary); every interval of the lost object gets a SKIPDATA record once
// there is room again; every other interval's records are exactly those of
// a replay of the same capture to a healthy disk; the summary's counts are
// the records the tree holds.
func TestServeFlowLogFullDisk(t *testing.T) {
	bin := buildFlowd(t)
	mnt := mountTmpfs(t, 256<<10)
	capture, tr := faultCapture(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "edge.pcap")
	if err := os.WriteFile(pcap, capture, 0o644); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(dir, "ref")
	if err := runReplay([]string{"--format", "none", "--quiet", "--flow-log-dir", ref, pcap}); err != nil {
		t.Fatal(err)
	}
	refRecs, _, _ := readFlowLogTree(t, ref)
	refPkts, refN, _ := byInterval(t, refRecs)

	// The flow log's definition, kept under --data-dir: read back at the
	// next start, it records from the capture's first packet.
	data := filepath.Join(dir, "data")
	url, stop := startServeWithin(t, 20*time.Second, bin, "--data-dir", data, "--pcap", "edge="+pcap)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := ec2Client(url).CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{ResourceIds: []string{"edge"},
		ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, TrafficType: ec2types.TrafficTypeAll,
		LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String("arn:aws:s3:::flows"),
		MaxAggregationInterval: aws.Int32(60)}); err != nil || len(out.FlowLogIds) != 1 {
		t.Fatalf("CreateFlowLogs: %v %+v", err, out)
	}
	stop()
	if lastServeErr != nil {
		t.Fatalf("flowd serve: %v\n%s", lastServeErr, lastServeOutput)
	}

	fifo := filepath.Join(dir, "edge.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	// serve reads the capture's header before it listens.
	opened := make(chan *os.File, 1)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			_, err = w.Write(capture[:24])
		}
		if err != nil {
			t.Error(err)
		}
		opened <- w
	}()
	tree := filepath.Join(mnt, "s3")
	url, stop = startServeWithin(t, 20*time.Second, bin, "--data-dir", data, "--s3-dir", tree, "--pcap", "edge="+fifo)
	w := <-opened
	if w == nil {
		t.FailNow()
	}
	defer w.Close()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	cutA, cutB := pcapUntil(capture, t0+450), pcapUntil(capture, t0+750) // 7.5 and 12.5 minutes in
	wait := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	const dropped = `flowd_output_dropped_total{output="flow logs"}`
	if _, err := w.Write(capture[24:cutA]); err != nil {
		t.Fatal(err)
	}
	// The first period's object is committed once the windows pass 7 min.
	wait("the first object", func() bool {
		n := 0
		filepath.WalkDir(tree, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".log.gz") {
				n++
			}
			return nil
		})
		return n == 1
	})
	filler := fillDisk(t, mnt)
	if _, err := w.Write(capture[cutA:cutB]); err != nil {
		t.Fatal(err)
	}
	// The second period's object cannot be committed once they pass 12.
	wait("records counted lost", func() bool { return metricValue(url, dropped) > 0 })
	lostWhileFull := metricValue(url, dropped)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(capture[cutB:]); err != nil {
		t.Fatal(err)
	}
	w.Close()
	waitDone(t, url)
	if v := metricValue(url, `flowd_packets_total`); v != float64(tr.Packets-9) {
		// The generator's 9 malformed frames count toward no flow.
		t.Logf("packets counted: %v of %d frames", v, tr.Packets)
	}
	stop()

	out := lastServeOutput
	// flowd stays up through the full disk; its exit status says that
	// records were lost.
	var ee *exec.ExitError
	if !errors.As(lastServeErr, &ee) || ee.ExitCode() != 1 {
		t.Errorf("flowd serve exited with %v, want status 1 (records lost)\n%s", lastServeErr, out)
	}
	recs, gz, _ := readFlowLogTree(t, tree)
	pkts, n, skip := byInterval(t, recs)
	var okRecs, skipRecs uint64
	for _, r := range recs {
		switch r["log-status"] {
		case "OK":
			okRecs++
		case "SKIPDATA":
			skipRecs++
		}
	}
	// The lost object held the records ending in minutes 5 to 10: their
	// intervals are SKIPDATA, and hold fewer records than on a healthy
	// disk (none, unless a record ending later in the next period came).
	var lostRecs uint64
	for iv, want := range refN {
		m := (iv - t0) / 60
		switch {
		case skip[iv]:
			if n[iv] >= want {
				t.Errorf("minute %d is SKIPDATA but has all its %d records", m, want)
			}
			lostRecs += want - n[iv]
		case n[iv] != want || pkts[iv] != refPkts[iv]:
			t.Errorf("minute %d: %d records, %d packets; on a healthy disk %d, %d", m, n[iv], pkts[iv], want, refPkts[iv])
		}
	}
	for m := int64(5); m < 10; m++ {
		if !skip[t0+60*m] {
			t.Errorf("minute %d, in the lost object, has no SKIPDATA", m)
		}
	}
	if len(skip) == 0 || lostRecs == 0 {
		t.Fatalf("nothing lost: %d objects, SKIPDATA in %d intervals", gz, len(skip))
	}
	m := serveFlowLogSummary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no flow log summary:\n%s", out)
	}
	if m[1] != strconv.FormatUint(okRecs, 10) || m[3] != strconv.FormatUint(skipRecs, 10) {
		t.Errorf("summary %q; the tree holds %d OK and %d SKIPDATA records", m[0], okRecs, skipRecs)
	}
	lost, _ := strconv.ParseUint(m[4], 10, 64)
	if lost < lostRecs || float64(lost) < lostWhileFull {
		t.Errorf("summary counts %d records not written; %d OK records are missing, /metrics said %v", lost, lostRecs, lostWhileFull)
	}
	if !strings.Contains(out, "no space left on device") {
		t.Errorf("flowd did not say why it lost records:\n%s", out)
	}
	t.Logf("%d objects; %d OK records (%d on a healthy disk, %d missing), %d SKIPDATA; %s", gz, okRecs, len(refRecs), lostRecs, skipRecs, m[0])
}

// startServeWithin is startServe with a bound on the wait for flowd to
// listen, so that a flowd that never does fails the test instead of
// hanging it (and its mounts) until go test's timeout.
func startServeWithin(t *testing.T, d time.Duration, bin string, args ...string) (url string, stop func()) {
	t.Helper()
	ch := make(chan string, 1)
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	said := &syncBuffer{}
	go func() {
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			said.Write([]byte(lines.Text() + "\n"))
			if _, rest, ok := strings.Cut(lines.Text(), "listening on "); ok {
				u, _, _ := strings.Cut(rest, " ")
				ch <- u
				break
			}
		}
		io.Copy(said, stderr)
		close(ch)
	}()
	select {
	case u, ok := <-ch:
		if !ok {
			t.Fatalf("flowd serve exited before listening:\n%s", said)
		}
		url = u
	case <-time.After(d):
		cmd.Process.Kill()
		t.Fatalf("flowd serve did not listen within %v:\n%s", d, said)
	}
	return url, func() {
		t.Helper()
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() {
			for range ch {
			}
			done <- cmd.Wait()
		}()
		select {
		case err := <-done:
			lastServeErr = err
		case <-time.After(d):
			cmd.Process.Kill()
			t.Fatalf("flowd serve did not stop within %v of SIGTERM:\n%s", d, said)
		}
		lastServeOutput = said.String()
	}
}

// lastServeOutput and lastServeErr are what the last flowd serve stopped
// by startServeWithin wrote to stderr and how it exited.
var (
	lastServeOutput string
	lastServeErr    error
)

// TestReplayFlowLogReadOnly: a flow log aimed at a read-only file system
// writes nothing, says why, counts every record it could not write (at
// least as many as a healthy disk takes), and fails the replay.
func TestReplayFlowLogReadOnly(t *testing.T) {
	bin := buildFlowd(t)
	capture, _ := faultCapture(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "edge.pcap")
	if err := os.WriteFile(pcap, capture, 0o644); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(dir, "ref")
	if err := runReplay([]string{"--format", "none", "--quiet", "--flow-log-dir", ref, pcap}); err != nil {
		t.Fatal(err)
	}
	refRecs, _, _ := readFlowLogTree(t, ref)
	mnt := mountTmpfs(t, 1<<20)
	if err := syscall.Mount("", mnt, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "replay", "--format", "none", "--progress", "never", "--flow-log-dir", filepath.Join(mnt, "tree"), pcap)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want status 1\n%s", err, stderr.String())
	}
	out := stderr.String()
	m := regexp.MustCompile(`flow log: (\d+) records, (\d+) NODATA, (\d+) SKIPDATA under \S+ \((\d+) records not written\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no flow log summary with records not written:\n%s", out)
	}
	lost, _ := strconv.Atoi(m[4])
	if m[1] != "0" || m[3] != "0" || lost < len(refRecs) {
		t.Errorf("%q: want 0 written and at least the %d records of a healthy disk counted lost", m[0], len(refRecs))
	}
	if !strings.Contains(out, "read-only file system") {
		t.Errorf("flowd did not say why:\n%s", out)
	}
	if strings.Count(out, "read-only file system") > 40 {
		t.Errorf("%d error lines for one flow log: said once per interval at most", strings.Count(out, "read-only"))
	}
	t.Logf("%s (%d records on a healthy disk)", m[0], len(refRecs))
}

// TestServeFlowLogSpoolFull: flowd serve writes an s3 flow log to a real
// MinIO (--s3-endpoint) that is down while the capture is read, with a
// spool (--s3-spool-bytes) that holds one object: the objects it cannot
// hold are dropped, their records counted as not written. MinIO comes back
// while the same flowd runs; the spool is uploaded; at shutdown the
// SKIPDATA records of the dropped objects' intervals are uploaded too. The
// bucket then holds, for every interval without SKIPDATA, exactly the
// records a healthy replay writes, and SKIPDATA for the others; the
// summary's counts are what the bucket holds.
func TestServeFlowLogSpoolFull(t *testing.T) {
	bin := buildFlowd(t)
	mc := testminio.Start(t)
	mc.CreateBucket("flows")
	capture, _ := faultCapture(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "edge.pcap")
	if err := os.WriteFile(pcap, capture, 0o644); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(dir, "ref")
	if err := runReplay([]string{"--format", "none", "--quiet", "--flow-log-dir", ref, pcap}); err != nil {
		t.Fatal(err)
	}
	refRecs, _, _ := readFlowLogTree(t, ref)
	refPkts, refN, _ := byInterval(t, refRecs)
	var biggest int64
	for _, o := range objects(t, ref, ".log.gz") {
		if fi, err := os.Stat(o); err == nil {
			biggest = max(biggest, fi.Size())
		}
	}
	data := filepath.Join(dir, "data")
	t.Setenv("AWS_ACCESS_KEY_ID", mc.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", mc.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	// Room for one object of the capture, not two.
	args := []string{"--data-dir", data, "--s3-endpoint", mc.Endpoint, "--s3-upload-wait", "10s",
		"--s3-spool-bytes", strconv.FormatInt(biggest*3/2, 10), "--pcap", "edge=" + pcap}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The first run only creates the flow log (persisted in --data-dir),
	// on a capture of no packets under the same source name, so that it
	// writes nothing: the log records from the start when the second run
	// reads it back.
	empty := filepath.Join(dir, "empty.pcap")
	if err := os.WriteFile(empty, capture[:24], 0o644); err != nil { // the pcap file header alone
		t.Fatal(err)
	}
	first := append(slices.Clone(args[:len(args)-1]), "edge="+empty)
	url, stop := startServeWithin(t, 20*time.Second, bin, first...)
	if out, err := ec2Client(url).CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{ResourceIds: []string{"edge"},
		ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, TrafficType: ec2types.TrafficTypeAll,
		LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String("arn:aws:s3:::flows"),
		MaxAggregationInterval: aws.Int32(60)}); err != nil || len(out.FlowLogIds) != 1 {
		t.Fatalf("CreateFlowLogs: %v %+v", err, out)
	}
	stop()
	if lastServeErr != nil {
		t.Fatalf("flowd serve: %v\n%s", lastServeErr, lastServeOutput)
	}
	if list, err := mc.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("flows")}); err != nil || len(list.Contents) != 0 {
		t.Fatalf("the first run, on no packets, wrote to the bucket (%v)", err)
	}

	mc.Stop()
	url, stop = startServeWithin(t, 20*time.Second, bin, args...)
	waitDone(t, url)
	const dropped = `flowd_output_dropped_total{output="flow logs"}`
	deadline := time.Now().Add(15 * time.Second)
	for metricValue(url, dropped) <= 0 {
		if time.Now().After(deadline) {
			t.Fatal("no flow log records counted lost with MinIO down and the spool full")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mc.Restart()
	spool := filepath.Join(data, "s3-spool")
	deadline = time.Now().Add(30 * time.Second)
	for {
		n := 0
		filepath.WalkDir(spool, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".obj") {
				n++
			}
			return nil
		})
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the spool was not uploaded once MinIO was back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	out := lastServeOutput
	var ee *exec.ExitError
	if !errors.As(lastServeErr, &ee) || ee.ExitCode() != 1 {
		t.Errorf("flowd serve exited with %v, want status 1 (records lost)\n%s", lastServeErr, out)
	}

	// Read the bucket back.
	cl := mc.Client()
	list, err := cl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("flows")})
	if err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(dir, "got")
	for _, o := range list.Contents {
		obj, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("flows"), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(got, filepath.FromSlash(*o.Key))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	recs, gz, _ := readFlowLogTree(t, got)
	pkts, n, skip := byInterval(t, recs)
	var okRecs, skipRecs, lostRecs uint64
	for _, r := range recs {
		switch r["log-status"] {
		case "OK":
			okRecs++
		case "SKIPDATA":
			skipRecs++
		}
	}
	for iv, want := range refN {
		switch {
		case skip[iv]:
			lostRecs += want - min(want, n[iv])
		case n[iv] != want || pkts[iv] != refPkts[iv]:
			t.Errorf("minute %d: %d records, %d packets; healthy %d, %d", (iv%3600)/60, n[iv], pkts[iv], want, refPkts[iv])
		}
	}
	if len(skip) == 0 || lostRecs == 0 {
		t.Fatalf("nothing lost with a spool of one object: %d objects, SKIPDATA in %d intervals", gz, len(skip))
	}
	m := serveFlowLogSummary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no flow log summary:\n%s", out)
	}
	if m[1] != strconv.FormatUint(okRecs, 10) || m[3] != strconv.FormatUint(skipRecs, 10) {
		t.Errorf("summary %q; the bucket holds %d OK and %d SKIPDATA records", m[0], okRecs, skipRecs)
	}
	if lost, _ := strconv.ParseUint(m[4], 10, 64); lost < lostRecs {
		t.Errorf("summary counts %d records not written; %d OK records are missing", lost, lostRecs)
	}
	if !strings.Contains(out, "spool folder full") {
		t.Errorf("flowd did not say why it dropped objects:\n%s", out)
	}
	t.Logf("spool limit %d B; %d objects in the bucket; %d OK records (%d healthy, %d missing), %d SKIPDATA in %d intervals; %s",
		biggest*3/2, gz, okRecs, len(refRecs), lostRecs, skipRecs, len(skip), m[0])
}
