package flowlogs

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowlog"
)

const t0 = 1735689600 // 2025-01-01T00:00:00Z, a multiple of 600

var testIfaces = []flowlog.Interface{
	{Name: "a", AccountID: "123456789012", InterfaceID: "eni-000000000000000aa", VPCID: "vpc-1", SubnetID: "subnet-1",
		Region: "us-east-1", AZID: "use1-az1", Local: []netip.Addr{netip.MustParseAddr("10.0.0.1")}},
	{Name: "b", AccountID: "123456789012", InterfaceID: "eni-000000000000000bb", VPCID: "vpc-1", SubnetID: "subnet-1",
		Region: "us-east-1", AZID: "use1-az1"},
}

// win is a window of a TCP flow 10.0.0.1:1000 -> 10.0.0.2:80 on source src.
func win(start int64, src uint16, pkts0, pkts1 uint64, flags0, flags1 uint8) engine.FlowWindow {
	w := engine.FlowWindow{Start: start, Pkts: [2]uint64{pkts0, pkts1}, IPBytes: [2]uint64{pkts0 * 100, pkts1 * 60},
		SrcPort: 1000, DstPort: 80, Source: src, Proto: 6, Family: 4, TCPFlags: [2]uint8{flags0, flags1}}
	copy(w.Src[:], []byte{10, 0, 0, 1})
	copy(w.Dst[:], []byte{10, 0, 0, 2})
	for d := range 2 {
		if w.Pkts[d] > 0 {
			w.First[d], w.Last[d] = start+1, start+5
		}
	}
	return w
}

func settings(t *testing.T, d flowlog.Definition) flowlog.Settings {
	t.Helper()
	if d.ResourceType == "" {
		d.ResourceType, d.ResourceIds = flowlog.ResourceNetworkInterface, []string{"eni-000000000000000aa"}
	}
	if d.TrafficType == "" {
		d.TrafficType = flowlog.TrafficAll
	}
	s, err := d.Settings()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fileLines reads every line of the files under dir (gzip ones unpacked),
// headers skipped.
func fileLines(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var sc *bufio.Scanner
		if strings.HasSuffix(p, ".gz") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			sc = bufio.NewScanner(zr)
			sc.Scan() // header
		} else {
			sc = bufio.NewScanner(f)
		}
		for sc.Scan() {
			out = append(out, sc.Text())
		}
		return sc.Err()
	})
	slices.Sort(out)
	return out
}

func newSink(t *testing.T, cfg Config, logs ...Log) *Sink {
	t.Helper()
	cfg.Interfaces = testIfaces
	if cfg.Window == 0 {
		cfg.Window = time.Minute
	}
	cfg.Logs = func() ([]Log, uint64) { return logs, 1 }
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestNoDataAndAggregation: a 600 s log over 60 s windows sums a flow's
// windows into one record per direction; the quiet interface gets NODATA
// for the interval, and an interval with no traffic at all gets NODATA on
// both.
func TestNoDataAndAggregation(t *testing.T) {
	dir := t.TempDir()
	format := "${interface-id} ${srcaddr} ${dstaddr} ${packets} ${bytes} ${start} ${end} ${tcp-flags} ${flow-direction} ${log-status}"
	set := settings(t, flowlog.Definition{LogDestinationType: flowlog.DestinationS3, LogDestination: "arn:aws:s3:::bkt",
		MaxAggregationInterval: 600, LogFormat: format})
	s := newSink(t, Config{S3: flowlog.DirStore{Root: dir}}, Log{ID: "fl-1", Settings: set, Interfaces: []int{0, 1}})
	batches := [][]engine.FlowWindow{
		{win(t0, 0, 3, 2, 2, 18)},
		{win(t0+60, 0, 4, 4, 0, 0), win(t0+120, 0, 1, 1, 1, 1)},
		{win(t0+1800, 0, 1, 0, 0, 0)}, // after an idle gap of two intervals
	}
	for _, b := range batches {
		if err := s.FlowWindows(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got := fileLines(t, dir)
	want := []string{
		// interval t0: both directions summed over three windows
		"eni-000000000000000aa 10.0.0.1 10.0.0.2 8 800 1735689601 1735689725 3 egress OK",
		"eni-000000000000000aa 10.0.0.2 10.0.0.1 7 420 1735689601 1735689725 19 ingress OK",
		"eni-000000000000000bb - - - - 1735689600 1735690199 - - NODATA",
		// intervals t0+600 and t0+1200: nothing anywhere
		"eni-000000000000000aa - - - - 1735690200 1735690799 - - NODATA",
		"eni-000000000000000bb - - - - 1735690200 1735690799 - - NODATA",
		"eni-000000000000000aa - - - - 1735690800 1735691399 - - NODATA",
		"eni-000000000000000bb - - - - 1735690800 1735691399 - - NODATA",
		// interval t0+1800: the last one, finished by Close
		"eni-000000000000000aa 10.0.0.1 10.0.0.2 1 100 1735691401 1735691405 0 egress OK",
		"eni-000000000000000bb - - - - 1735691400 1735691999 - - NODATA",
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := s.Stats(); st.Records != 3 || st.NoData != 6 {
		t.Errorf("stats %+v", st)
	}
}

// TestSkipDataAndTrafficType: a REJECT log keeps only refused traffic and
// writes SKIPDATA for the interval in which records were lost; windows
// before Since are not recorded.
func TestSkipDataAndTrafficType(t *testing.T) {
	dir := t.TempDir()
	set := settings(t, flowlog.Definition{TrafficType: flowlog.TrafficReject, LogGroupName: "grp",
		DeliverLogsPermissionArn: "arn:aws:iam::123456789012:role/r", MaxAggregationInterval: 60})
	var lost uint64
	s := newSink(t, Config{LogsDir: dir, Skipped: func() uint64 { return lost }},
		Log{ID: "fl-2", Settings: set, Interfaces: []int{0}, Since: t0 + 60})
	refused := win(t0+60, 0, 1, 1, 2, 4)
	refused.Refused = true
	accepted := win(t0+60, 0, 2, 2, 2, 18)
	accepted.SrcPort = 1001
	steps := []struct {
		ws   []engine.FlowWindow
		lost uint64
	}{
		{[]engine.FlowWindow{win(t0, 0, 5, 5, 2, 18)}, 0},    // before Since
		{[]engine.FlowWindow{refused, accepted}, 0},          // one refused, one accepted
		{[]engine.FlowWindow{win(t0+120, 0, 1, 1, 0, 0)}, 7}, // records lost in this window
		{[]engine.FlowWindow{win(t0+300, 0, 1, 1, 0, 0)}, 7}, // moves time on
	}
	for _, st := range steps {
		lost = st.lost
		if err := s.FlowWindows(st.ws); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "grp", "eni-000000000000000aa-reject"))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var ev struct {
			Timestamp int64  `json:"timestamp"`
			Message   string `json:"message"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if ev.Timestamp <= 0 {
			t.Errorf("timestamp %d", ev.Timestamp)
		}
		f := strings.Fields(ev.Message)
		msgs = append(msgs, strings.Join(slices.Concat(f[3:5], f[8:]), " "))
	}
	slices.Sort(msgs)
	want := []string{
		"10.0.0.1 10.0.0.2 1 100 1735689661 1735689665 REJECT OK",
		"10.0.0.2 10.0.0.1 1 60 1735689661 1735689665 REJECT OK",
		"- - - - 1735689720 1735689779 - SKIPDATA",
		"- - - - 1735689780 1735689839 - NODATA", // windows without traffic
		"- - - - 1735689840 1735689899 - NODATA",
	}
	slices.Sort(want)
	if !slices.Equal(msgs, want) {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
}

// TestFirehoseAndDelete: a firehose log writes plain lines; a log deleted
// mid-run writes what it held and nothing after.
func TestFirehoseAndDelete(t *testing.T) {
	dir := t.TempDir()
	set := settings(t, flowlog.Definition{LogDestinationType: flowlog.DestinationFirehose,
		LogDestination: "arn:aws:firehose:us-east-1:123456789012:deliverystream/st"})
	logs := []Log{{ID: "fl-3", Settings: set, Interfaces: []int{0}}}
	version := uint64(1)
	s, err := New(Config{Interfaces: testIfaces, Window: time.Minute, FirehoseDir: dir,
		Logs: func() ([]Log, uint64) { return logs, version }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FlowWindows([]engine.FlowWindow{win(t0, 0, 1, 0, 2, 0)}); err != nil {
		t.Fatal(err)
	}
	logs, version = nil, 2
	if err := s.FlowWindows([]engine.FlowWindow{win(t0+60, 0, 1, 0, 2, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got := fileLines(t, dir)
	if len(got) != 1 || !strings.HasPrefix(got[0], "2 123456789012 eni-000000000000000aa 10.0.0.1 10.0.0.2 1000 80 6 1 100 1735689601 1735689605 ACCEPT OK") {
		t.Errorf("firehose lines %q", got)
	}
}

// TestCheckLog: destinations without their directory and intervals that are
// not multiples of the window are refused with a reason.
func TestCheckLog(t *testing.T) {
	cfg := Config{Window: 10 * time.Minute}
	s3 := Log{Settings: settings(t, flowlog.Definition{LogDestinationType: flowlog.DestinationS3, LogDestination: "arn:aws:s3:::bkt",
		MaxAggregationInterval: 60})}
	if err := cfg.CheckLog(&s3); err == nil || !strings.Contains(err.Error(), "--s3-dir") {
		t.Errorf("s3 without a store: %v", err)
	}
	cfg.S3 = flowlog.DirStore{Root: t.TempDir()}
	if err := cfg.CheckLog(&s3); err == nil || !strings.Contains(err.Error(), "multiple") {
		t.Errorf("60 s log over 600 s windows: %v", err)
	}
}

// TestTunnelledFlows: a flow found inside a tunnel gets records of its own,
// apart from an outer flow of the same tuple.
func TestTunnelledFlows(t *testing.T) {
	dir := t.TempDir()
	set := settings(t, flowlog.Definition{LogDestinationType: flowlog.DestinationFirehose,
		LogDestination: "arn:aws:firehose:us-east-1:123456789012:deliverystream/st", MaxAggregationInterval: 60})
	s := newSink(t, Config{FirehoseDir: dir}, Log{ID: "fl-t", Settings: set, Interfaces: []int{0}})
	inner := win(t0, 0, 2, 0, 2, 0)
	inner.Depth = 1
	if err := s.FlowWindows([]engine.FlowWindow{win(t0, 0, 1, 0, 2, 0), inner}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fileLines(t, dir); len(got) != 2 {
		t.Errorf("records %q, want one for each depth", got)
	}
}

// failingStore is a DirStore that cannot create objects while fail is set.
type failingStore struct {
	flowlog.DirStore
	fail *bool
}

func (s failingStore) Create(bucket, key string) (flowlog.Object, error) {
	if *s.fail {
		return nil, errors.New("no space left on device")
	}
	return s.DirStore.Create(bucket, key)
}

// TestDestinationFails: records a destination refuses are counted, said
// once per interval, and make their interval SKIPDATA once the destination
// takes records again.
func TestDestinationFails(t *testing.T) {
	dir := t.TempDir()
	fail := false
	var said []string
	set := settings(t, flowlog.Definition{LogDestinationType: flowlog.DestinationS3, LogDestination: "arn:aws:s3:::bkt",
		MaxAggregationInterval: 60, DestinationOptions: flowlog.DestinationOptions{FileFormat: flowlog.FilePlainText}})
	s := newSink(t, Config{S3: failingStore{flowlog.DirStore{Root: dir}, &fail},
		Logf: func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }},
		Log{ID: "fl-f", Settings: set, Interfaces: []int{0}})
	many := make([]engine.FlowWindow, 50)
	for i := range many {
		many[i] = win(t0, 0, 1, 1, 0, 0)
		many[i].SrcPort = uint16(2000 + i)
	}
	fail = true
	if err := s.FlowWindows(many); err != nil {
		t.Fatal(err)
	}
	// The next window finishes the first interval while writes fail.
	if err := s.FlowWindows([]engine.FlowWindow{win(t0+120, 0, 1, 0, 0, 0)}); err == nil {
		t.Error("no error from a destination refusing writes")
	}
	fail = false
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Errors < 100 {
		t.Errorf("stats %+v: want the 100 refused records counted", st)
	}
	if len(said) > 2 {
		t.Errorf("%d error lines for one interval: %q", len(said), said)
	}
	got := fileLines(t, dir)
	var skip bool
	for _, l := range got {
		skip = skip || strings.HasSuffix(l, "SKIPDATA")
	}
	if !skip {
		t.Errorf("no SKIPDATA after lost records: %q", got)
	}
}
