package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
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

	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/internal/eveschema"
)

// statsEvent is what the tests read of an EVE stats event.
type statsEvent struct {
	line        string
	at          int64 // timestamp, Unix ns
	flowsBefore int   // flow events before it in the file
	Stats       struct {
		Uptime  int64 `json:"uptime"`
		Decoder struct {
			Pkts  uint64 `json:"pkts"`
			Bytes uint64 `json:"bytes"`
		} `json:"decoder"`
		Flow struct {
			Total  uint64 `json:"total"`
			Active uint64 `json:"active"`
		} `json:"flow"`
	} `json:"stats"`
}

// readStatsEvents reads an EVE file: its stats events, the number of flow
// events, and whether the last line is a stats event.
func readStatsEvents(t *testing.T, path string) (evs []statsEvent, flows int, lastIsStats bool) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		var head struct {
			EventType string `json:"event_type"`
			Timestamp string `json:"timestamp"`
		}
		if err := json.Unmarshal([]byte(l), &head); err != nil {
			t.Fatalf("%v\n%s", err, l)
		}
		lastIsStats = head.EventType == "stats"
		if !lastIsStats {
			flows++
			continue
		}
		ev := statsEvent{line: l, flowsBefore: flows}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse("2006-01-02T15:04:05.999999-0700", head.Timestamp)
		if err != nil {
			t.Fatal(err)
		}
		ev.at = ts.UnixNano()
		evs = append(evs, ev)
	}
	return evs, flows, lastIsStats
}

// frameTimes reads a capture's frame times.
func frameTimes(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var times []int64
	buf := make([]capture.Frame, 256)
	for {
		n, err := f.ReadBatch(buf)
		for i := range buf[:n] {
			times = append(times, buf[i].Timestamp)
		}
		if errors.Is(err, io.EOF) {
			return times
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

var (
	statsSummaryPackets = regexp.MustCompile(`(?m)^packets: (\d+) `)
	statsSummaryFlows   = regexp.MustCompile(`(?m)^flows: +(\d+) created, (\d+) active at the end`)
)

// TestReplayStatsInterval: replaying a generated capture with
// --stats-interval writes one stats event per interval of capture time,
// each counting exactly the packets before its time, placed after exactly
// the flows it counted; then a final one with the summary's totals, last.
// The same capture gives the same events, in either order.
func TestReplayStatsInterval(t *testing.T) {
	dir := t.TempDir()
	pcap := filepath.Join(dir, "gen.pcap")
	if _, errs, code := runBin(t, nil, "gen", "-o", pcap, "-flows", "400", "-duration", "9s", "-seed", "7", "-tunnels", "0.1",
		// Tunnels whose outer flows EVE writes: GRE and EtherIP flows are
		// counted in flow.total but, as in Suricata, not written as flows.
		"-tunnel-kinds", "geneve,vxlan,ipip,6in4,4in6,6in6,teredo,inner-frag"); code != 0 {
		t.Fatalf("flowd gen: exit %d\n%s", code, errs)
	}
	times := frameTimes(t, pcap)
	first, last := times[0], slices.Max(times)
	const interval = 2 * time.Second
	var lines [][]string
	for _, order := range []string{"start", "end"} {
		eve := filepath.Join(dir, order+".json")
		_, errs, code := runBin(t, nil, "replay", "--format", "eve", "--order", order, "--stats-interval", interval.String(), "-o", eve, pcap)
		if code != 0 {
			t.Fatalf("replay: exit %d\n%s", code, errs)
		}
		mp, mf := statsSummaryPackets.FindStringSubmatch(errs), statsSummaryFlows.FindStringSubmatch(errs)
		if mp == nil || mf == nil {
			t.Fatalf("no summary:\n%s", errs)
		}
		packets, _ := strconv.ParseUint(mp[1], 10, 64)
		created, _ := strconv.ParseUint(mf[1], 10, 64)
		active, _ := strconv.ParseUint(mf[2], 10, 64)
		if packets != uint64(len(times)) {
			t.Fatalf("summary: %d packets, the capture has %d", packets, len(times))
		}
		evs, flows, lastIsStats := readStatsEvents(t, eve)
		want := int((last-first)/int64(interval)) + 1
		if len(evs) != want {
			t.Fatalf("order %s: %d stats events over %v at %v, want %d", order, len(evs), time.Duration(last-first), interval, want)
		}
		for k, ev := range evs[:len(evs)-1] {
			at := first + int64(k+1)*int64(interval)
			before := uint64(0)
			for _, ts := range times {
				if ts < at {
					before++
				}
			}
			if ev.at != at || ev.Stats.Uptime != int64(k+1)*int64(interval/time.Second) || ev.Stats.Decoder.Pkts != before {
				t.Errorf("order %s: event %d at %d (uptime %d) with %d packets, want at %d (uptime %d) with %d",
					order, k, ev.at, ev.Stats.Uptime, ev.Stats.Decoder.Pkts, at, int64(k+1)*2, before)
			}
			if k > 0 && ev.Stats.Flow.Total <= evs[k-1].Stats.Flow.Total {
				t.Errorf("order %s: no flows created between events %d and %d", order, k-1, k)
			}
			if order == "start" && uint64(ev.flowsBefore) != ev.Stats.Flow.Total {
				t.Errorf("event %d counts %d flows, %d flows are before it", k, ev.Stats.Flow.Total, ev.flowsBefore)
			}
		}
		end := evs[len(evs)-1]
		if !lastIsStats || end.flowsBefore != flows {
			t.Errorf("order %s: the final stats event is not after every flow", order)
		}
		if end.at != last || end.Stats.Decoder.Pkts != packets || end.Stats.Flow.Total != created || end.Stats.Flow.Active != active {
			t.Errorf("order %s: final event at %d: %d packets, %d flows, %d active; want at %d: %d, %d, %d (the summary's)",
				order, end.at, end.Stats.Decoder.Pkts, end.Stats.Flow.Total, end.Stats.Flow.Active, last, packets, created, active)
		}
		var ls []string
		for _, ev := range evs {
			ls = append(ls, ev.line)
		}
		lines = append(lines, ls)
	}
	if !slices.Equal(lines[0], lines[1]) {
		t.Errorf("the same capture gave other stats events in end order:\n%s\n---\n%s", strings.Join(lines[0], "\n"), strings.Join(lines[1], "\n"))
	}

	t.Run("schema", func(t *testing.T) { validateEVE(t, lines[0]) })
}

// validateEVE checks lines against Suricata's EVE schema; it skips where
// the schema is not.
func validateEVE(t *testing.T, lines []string) {
	t.Helper()
	schema := eveschema.Load(t)
	for _, l := range lines {
		var v any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(v); err != nil {
			t.Fatalf("an event breaks Suricata's schema: %v\n%s", err, l)
		}
	}
}

// TestStatsIntervalUsage: --stats-interval without EVE output, or negative,
// is a one-line usage error (exit 2) in replay, serve and watch.
func TestStatsIntervalUsage(t *testing.T) {
	_, pcap := genCapture(t, t.TempDir(), 20, 3)
	for _, args := range [][]string{
		{"replay", "--stats-interval", "1s", pcap},
		{"replay", "--format", "csv", "--stats-interval", "1s", pcap},
		{"replay", "--format", "eve", "--top", "3", "--stats-interval", "1s", pcap},
		{"replay", "--format", "eve", "--stats-interval", "-1s", pcap},
		{"serve", "--pcap", pcap, "--stats-interval", "1s"},
		{"watch", "--iface", "lo", "--format", "json", "--stats-interval", "1s"},
	} {
		out, errs, code := runBin(t, nil, args...)
		if code != 2 || strings.Count(errs, "\n") != 2 || !strings.Contains(errs, "--stats-interval") || out != "" {
			t.Errorf("flowd %q: exit %d, want 2 and one line naming --stats-interval:\n%s", args, code, errs)
		}
	}
}

// TestServeStatsInterval: serve writes stats events into --eve every
// interval of wall time, and a last one, after every flow, when it stops.
func TestServeStatsInterval(t *testing.T) {
	dir := t.TempDir()
	_, pcap := genCapture(t, dir, 100, 5)
	eve := filepath.Join(dir, "eve.json")
	cmd := exec.Command(buildFlowd(t), "serve", "--pcap", pcap, "--eve", eve, "--stats-interval", "100ms", "--listen", "127.0.0.1:0")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	times := frameTimes(t, pcap)
	// Three events, the last after every packet was read.
	done := []byte(`"decoder":{"pkts":` + strconv.Itoa(len(times)) + `,`)
	start := time.Now()
	for {
		raw, _ := os.ReadFile(eve)
		if n := bytes.Count(raw, []byte(`"event_type":"stats"`)); n >= 3 && bytes.Contains(raw[bytes.LastIndex(raw, []byte(`"event_type":"stats"`)):], done) {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("no 3 stats events in 10 s:\n%s\n%s", raw, errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	if took < 200*time.Millisecond {
		took = 200 * time.Millisecond
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
	evs, flows, lastIsStats := readStatsEvents(t, eve)
	if len(evs) < 4 || !lastIsStats || evs[len(evs)-1].flowsBefore != flows {
		t.Fatalf("%d stats events, last line stats %v: want at least 3 and a final one after every flow", len(evs), lastIsStats)
	}
	for i := 1; i < len(evs); i++ {
		if d := time.Duration(evs[i].at - evs[i-1].at); d < 0 || (i < len(evs)-1 && d < 50*time.Millisecond) {
			t.Errorf("events %d and %d are %v apart, want about 100ms", i-1, i, d)
		}
	}
	if d := time.Duration(evs[2].at - evs[0].at); d > took+time.Second {
		t.Errorf("three events took %v", d)
	}
	end := evs[len(evs)-1]
	if end.Stats.Decoder.Pkts != uint64(len(times)) || end.Stats.Flow.Total != uint64(flows) {
		t.Errorf("final event: %d packets, %d flows; the capture has %d packets, the file %d flows", end.Stats.Decoder.Pkts, end.Stats.Flow.Total, len(times), flows)
	}
}
