package svcheck

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

// EnvCheckout names the suricata-verify checkout the runner test replays.
const EnvCheckout = "FLOWD_SURICATA_VERIFY"

// suricataVersion is the Suricata the checks are taken for: suricata-verify's
// master follows Suricata's master, so requires blocks are read as 9.0.0
// with every optional feature built in.
var suricataVersion = Version{9, 0, 0}

// Why a check fails, when it is not flowd's fault. The issue accepts
// failures that depend on rules, on app-layer parsing or on the stream
// engine's midstream policy; the others listed here are Suricata settings
// or simulations a test asks for that flowd has no equivalent of.
const (
	causeRules     = "rules/alerts"
	causeAppLayer  = "app-layer"
	causeStream    = "stream engine (TCP session state)"
	causeMidstream = "midstream policy"
	causeConfig    = "Suricata config of the test"
	causeFlowd     = "flowd difference"
)

// keyCause says which part of Suricata a match key depends on, for keys
// flowd cannot produce: "" for the keys it writes (flow counters, times,
// addresses, ports, proto, tcp flags, icmp, spi, vlan, community_id).
func keyCause(key string) string {
	k := key
	if i := strings.IndexAny(k, "[."); i >= 0 && k[i] == '[' {
		k = k[:i] + k[strings.IndexByte(k, ']')+1:]
	}
	switch {
	case k == "flow.alerted", k == "flow.action", k == "flow.bypass",
		strings.HasPrefix(k, "metadata."), strings.HasPrefix(k, "traffic."), strings.HasPrefix(k, "alert."):
		return causeRules
	case strings.HasPrefix(k, "app_proto"), k == "flow.tx_cnt":
		return causeAppLayer
	case k == "tcp.state", strings.HasSuffix(k, "_max_regions"), k == "tcp.gap":
		return causeStream
	case strings.HasPrefix(k, "flow.exception_policy"):
		return causeConfig + " (exception policy)"
	case k == "ether", strings.HasPrefix(k, "ether."):
		return causeConfig + " (EVE ethernet logging)"
	case k == "suricata_version":
		return causeConfig + " (EVE suricata-version)"
	}
	return ""
}

// configKey says whether a --set key changes what flows Suricata makes or
// counts; midstream has its own cause.
var flowConfigRE = regexp.MustCompile(`^(flow|flow-timeouts|stream|vlan|decoder|defrag|livedev|outputs|app-layer|exception-policy|host-mode|pcap-file)\b`)

type checkResult struct {
	test, cause, detail string
	filter              Filter
	got                 int
}

// TestSuricataVerify replays the capture of every suricata-verify test that
// has `filter` checks on event_type flow through the flowd binary (EVE
// output) and holds flowd's flow events to those checks. It fails on every
// check that fails for a reason other than rules, app-layer parsing, the
// stream engine and its midstream policy, or a Suricata setting of the test
// flowd has no equivalent of; those are logged with their cause.
//
//	FLOWD_SURICATA_VERIFY=/path/to/suricata-verify go test ./internal/svcheck -run SuricataVerify -v
//
// FLOWD_SURICATA_VERIFY_RUN=REGEXP keeps only the tests whose name matches.
func TestSuricataVerify(t *testing.T) {
	root := os.Getenv(EnvCheckout)
	if root == "" {
		t.Skipf("%s is not set: point it at a checkout of github.com/OISF/suricata-verify to replay its tests' captures and check flowd's EVE flow events", EnvCheckout)
	}
	if _, err := os.Stat(filepath.Join(root, "tests")); err != nil {
		t.Fatalf("%s=%s: no tests directory: %v", EnvCheckout, root, err)
	}
	var only *regexp.Regexp
	if s := os.Getenv("FLOWD_SURICATA_VERIFY_RUN"); s != "" {
		only = regexp.MustCompile(s)
	}
	bin := buildFlowd(t)
	tests, bad, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range bad {
		t.Logf("%s: test.yaml does not parse: %v", name, err)
	}

	skipped := map[string][]string{} // reason → tests
	type job struct {
		st      *Test
		filters []Filter
		pcap    string
		events  []map[string]any
		err     error
	}
	var jobs []*job
	var results []checkResult
	nTests, nChecks := 0, 0
	for _, st := range tests {
		if only != nil && !only.MatchString(st.Name) {
			continue
		}
		filters, err := st.FlowFilters()
		if err != nil {
			t.Errorf("%s: %v", st.Name, err)
			continue
		}
		if len(filters) == 0 {
			continue
		}
		nTests++
		nChecks += len(filters)
		if why := skipReason(st); why != "" {
			skipped[why] = append(skipped[why], st.Name)
			continue
		}
		pcap, why := st.Pcap()
		if why != "" {
			skipped[why] = append(skipped[why], st.Name)
			continue
		}
		if fi, err := os.Stat(pcap); err == nil && fi.Size() < 200 && isPointer(pcap) {
			skipped["pcap stored as a Git LFS pointer"] = append(skipped["pcap stored as a Git LFS pointer"], st.Name)
			continue
		}
		jobs = append(jobs, &job{st: st, filters: filters, pcap: pcap})
	}

	// The replays, a few at a time; then the checks, in test order.
	dir := t.TempDir()
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0)+1)
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			j.events, j.err = replay(bin, j.pcap, filepath.Join(dir, fmt.Sprintf("%d.json", i)), decoderArgs(j.st)...)
		}()
	}
	wg.Wait()
	for _, j := range jobs {
		st := j.st
		for _, f := range j.filters {
			if why := Unmet(f.Requires, suricataVersion, st.Dir); why != "" {
				skipped["check: "+why] = append(skipped["check: "+why], fmt.Sprintf("%s#%d", st.Name, f.Index))
				continue
			}
			got, matchErr := Count(j.events, f.Match)
			r := checkResult{test: st.Name, filter: f, got: got}
			if got != f.Count || matchErr != nil {
				r.cause, r.detail = classify(st, f, j.events, got)
				if matchErr != nil {
					r.detail += "; " + matchErr.Error()
				}
				if j.err != nil {
					r.detail += "; replay: " + j.err.Error()
				}
			}
			results = append(results, r)
		}
	}

	byCause := map[string]int{}
	pass := 0
	for _, r := range results {
		if r.cause == "" {
			pass++
			continue
		}
		byCause[r.cause]++
		msg := fmt.Sprintf("%s check %d %s: expected %d, got %d [%s] %s",
			r.test, r.filter.Index, formatMatch(r.filter), r.filter.Count, r.got, r.cause, r.detail)
		if r.cause == causeFlowd {
			t.Error(msg)
		} else {
			t.Log("accepted: " + msg)
		}
	}
	nSkipTests, nSkipChecks := 0, 0
	reasons := make([]string, 0, len(skipped))
	for why := range skipped {
		reasons = append(reasons, why)
	}
	sort.Strings(reasons)
	for _, why := range reasons {
		names := skipped[why]
		if strings.HasPrefix(why, "check: ") {
			nSkipChecks += len(names)
		} else {
			nSkipTests += len(names)
		}
		t.Logf("skipped (%s): %d: %s", why, len(names), strings.Join(names, " "))
	}
	t.Logf("suricata-verify: %d tests with flow checks (%d checks); %d tests skipped, %d checks skipped by their own requires; %d checks run: %d pass, %d fail",
		nTests, nChecks, nSkipTests, nSkipChecks, len(results), pass, len(results)-pass)
	causes := make([]string, 0, len(byCause))
	for c := range byCause {
		causes = append(causes, c)
	}
	sort.Strings(causes)
	for _, c := range causes {
		t.Logf("  failing, %s: %d", c, byCause[c])
	}
	if len(results) == 0 {
		t.Fatal("no check was run")
	}
}

// skipReason says why a test is not replayed: what it asks for is not a
// capture replayed by Suricata (a command of its own, unix-socket commands,
// setup scripts), or its requires block or skip list rule it out.
func skipReason(st *Test) string {
	c := st.Config
	switch {
	case c["command"] != nil:
		return "runs a command of its own"
	case c["unix-commands"] != nil:
		return "drives Suricata over its unix socket"
	case c["setup"] != nil:
		return "needs setup scripts"
	}
	if s, isBool := c["skip"].(bool); isBool && s {
		return "skipped by default"
	}
	if l, isList := c["skip"].([]any); isList {
		for _, e := range l {
			if m, _ := e.(map[string]any); m != nil {
				if m["feature"] != nil {
					return "skipped where Suricata has a feature"
				}
				if uid, has := m["uid"]; has && pyEqual(uid, os.Getuid()) {
					return "skipped for this uid"
				}
			}
		}
	}
	req, _ := c["requires"].(map[string]any)
	if why := Unmet(req, suricataVersion, st.Dir); why != "" {
		return why
	}
	return ""
}

// classify names the cause of a failing check, from the most specific
// evidence to the least:
//
//   - keys flowd cannot write (app_proto, flow.alerted, tcp.state, ...)
//     are dropped from the match; if the count is then right, or too high
//     (those keys would only narrow it down), their cause is the check's;
//   - the match with source and destination swapped gives the count: on
//     UDP Suricata's app-layer reversed the flow (a reply seen first), on
//     TCP its stream engine did not take up a flow seen midstream;
//   - without the keys of TCP state and flags the count is right and the
//     flows lack a SYN: Suricata's stream engine made no session for a
//     flow picked up midstream (its state stays new, its flags 00);
//   - the test runs Suricata in IPS mode, enables midstream pickup (with
//     flows that lack a SYN), simulates failures, or sets something flowd
//     has no equivalent of (--set, its own suricata.yaml);
//
// what remains is a flowd difference.
func classify(st *Test, f Filter, events []map[string]any, got int) (cause, detail string) {
	relaxed := map[string]any{}
	var dropped []string
	causes := map[string]bool{}
	for k, v := range f.Match {
		c := keyCause(k)
		if k == "has-key" || k == "not-has-key" {
			c = pathsCause(v)
		}
		if k == "flow.state" && v == "bypassed" {
			c = causeConfig + " (bypass)"
			if st.HasRules() {
				c = causeRules + " (bypass)"
			}
		}
		if c != "" {
			dropped = append(dropped, k)
			causes[c] = true
			continue
		}
		relaxed[k] = v
	}
	sort.Strings(dropped)
	n, _ := Count(events, relaxed)
	if len(dropped) > 0 && n >= f.Count {
		var cs []string
		for c := range causes {
			cs = append(cs, c)
		}
		sort.Strings(cs)
		return strings.Join(cs, " + "), fmt.Sprintf("%d flows match without %s", n, strings.Join(dropped, ", "))
	}
	detail = fmt.Sprintf("%d without keys flowd cannot write", n)
	if len(dropped) == 0 {
		detail = "every key is one flowd writes"
	}
	// Which of the keys flowd writes holds the count off: one whose
	// removal gives the expected count.
	var off []string
	for _, k := range f.Keys {
		if _, in := relaxed[k]; !in || k == "event_type" {
			continue
		}
		fewer := maps.Clone(relaxed)
		delete(fewer, k)
		if m, _ := Count(events, fewer); m == f.Count {
			off = append(off, fmt.Sprintf("%s (flowd: %s)", k, valuesOf(events, fewer, k)))
		}
	}
	if len(off) > 0 {
		detail += "; right count without " + strings.Join(off, ", ")
	} else if n < f.Count {
		detail += nearest(events, relaxed)
	}

	if sw, ok := swapped(relaxed); ok {
		if m, _ := Count(events, sw); m == f.Count && f.Count > 0 {
			protos := map[string]bool{}
			for _, ev := range events {
				if ok, _ := Match(ev, sw); ok {
					protos[fmt.Sprint(ev["proto"])] = true
				}
			}
			if protos["UDP"] && len(protos) == 1 {
				return causeAppLayer, detail + "; the flow is reversed: Suricata's app-layer turns a UDP flow whose first packet is a reply"
			}
			if protos["TCP"] && len(protos) == 1 && allMidstream(events, sw) {
				return causeMidstream, detail + "; the flow is reversed: flowd saw no SYN and took the first sender for the client, Suricata's midstream pickup and app-layer took the server's side"
			}
		}
	}
	noStream := map[string]any{}
	for k, v := range relaxed {
		if k != "flow.state" && !strings.HasPrefix(k, "tcp.") {
			noStream[k] = v
		}
	}
	if len(noStream) < len(relaxed) {
		if m, _ := Count(events, noStream); m == f.Count && f.Count > 0 && allMidstream(events, noStream) {
			return causeMidstream, detail + "; right without TCP state and flags, and flowd saw no SYN: Suricata's stream engine made no session for these flows"
		}
	}

	if extra := untracked(events, relaxed); extra > 0 && n-extra == f.Count {
		return causeFlowd, detail + fmt.Sprintf("; the %d extra flows are of protocols Suricata makes no flow for (%s)",
			extra, strings.Join(untrackedProtos(events, relaxed), ", "))
	}

	sets := st.Sets()
	yamlBody := ""
	if st.HasSuricataYAML() {
		b, _ := os.ReadFile(filepath.Join(st.Dir, "suricata.yaml"))
		yamlBody = string(b)
	}
	args := st.Args()
	if k := sets["decoder.recursion-level.use-for-tracking"]; k != "" {
		return causeConfig, detail + "; --set decoder.recursion-level.use-for-tracking=" + k + " (flowd always keys a tunnelled packet by its depth)"
	}
	if slices.Contains(args, "--simulate-ips") {
		if st.HasRules() {
			return causeRules + " (IPS mode)", detail + "; the test's rules drop or pass packets in IPS mode (--simulate-ips)"
		}
		return causeStream + " (IPS mode)", detail + "; in IPS mode (--simulate-ips) the stream engine drops what it rejects"
	}
	for _, a := range args {
		if strings.HasPrefix(a, "--simulate-") {
			return causeConfig + " (simulated failure)", detail + "; " + a
		}
	}
	midstream := strings.EqualFold(sets["stream.midstream"], "true") || midstreamRE.MatchString(yamlBody)
	if midstream && anyMidstream(events) {
		return causeMidstream, detail + "; the test enables stream.midstream and has TCP flows without a SYN"
	}
	var cfg []string
	for k, v := range sets {
		if flowConfigRE.MatchString(k) {
			cfg = append(cfg, "--set "+k+"="+v)
		}
	}
	for _, m := range yamlConfigRE.FindAllString(yamlBody, -1) {
		cfg = append(cfg, "suricata.yaml: "+strings.TrimSpace(m))
	}
	sort.Strings(cfg)
	if len(cfg) > 0 {
		return causeConfig, detail + "; " + strings.Join(cfg, ", ")
	}
	return causeFlowd, detail
}

var (
	midstreamRE = regexp.MustCompile(`(?m)^\s*midstream:\s*(true|yes)`)
	// Settings of a test's suricata.yaml that change flow events in ways
	// flowd has no option for.
	yamlConfigRE = regexp.MustCompile(`(?m)^\s*(ipv6-compress|ethernet|suricata-version|use-for-tracking|bypass|encryption-handling|midstream-policy|async-oneside|inline|memcap-policy|exception-policy|[a-z-]*timeouts?):.*$`)
)

// pathsCause is the cause of a has-key or not-has-key value.
func pathsCause(v any) string {
	paths := []any{v}
	if l, ok := v.([]any); ok {
		paths = l
	}
	for _, p := range paths {
		if c := keyCause(fmt.Sprint(p)); c != "" {
			return c
		}
	}
	return ""
}

// swapped returns the match with the two ends of the flow exchanged.
func swapped(m map[string]any) (map[string]any, bool) {
	pairs := [][2]string{{"src_ip", "dest_ip"}, {"src_port", "dest_port"},
		{"flow.pkts_toserver", "flow.pkts_toclient"}, {"flow.bytes_toserver", "flow.bytes_toclient"},
		{"tcp.tcp_flags_ts", "tcp.tcp_flags_tc"}}
	out := maps.Clone(m)
	changed := false
	for _, p := range pairs {
		a, hasA := m[p[0]]
		b, hasB := m[p[1]]
		delete(out, p[0])
		delete(out, p[1])
		if hasA {
			out[p[1]] = a
			changed = true
		}
		if hasB {
			out[p[0]] = b
			changed = true
		}
	}
	return out, changed
}

// isMidstream says whether flowd saw no SYN on a TCP flow.
func isMidstream(ev map[string]any) bool {
	if ev["proto"] != "TCP" {
		return false
	}
	return find("tcp.syn", ev) == nil
}

func allMidstream(events []map[string]any, match map[string]any) bool {
	n := 0
	for _, ev := range events {
		if ok, _ := Match(ev, match); ok {
			if !isMidstream(ev) {
				return false
			}
			n++
		}
	}
	return n > 0
}

func anyMidstream(events []map[string]any) bool {
	for _, ev := range events {
		if isMidstream(ev) {
			return true
		}
	}
	return false
}

// untracked counts the events matching match whose protocol Suricata
// makes no flow for: it sets up flows for TCP, UDP, SCTP, ICMP, ICMPv6,
// ESP and IP-in-IP / IPv6-in-IP packets only.
func untracked(events []map[string]any, match map[string]any) int {
	return len(untrackedProtos(events, match))
}

// untrackedProtos lists the protocols of those events, one per event.
func untrackedProtos(events []map[string]any, match map[string]any) []string {
	var out []string
	for _, ev := range events {
		if ok, _ := Match(ev, match); !ok {
			continue
		}
		switch ev["proto"] {
		case "TCP", "UDP", "SCTP", "ICMP", "IPv6-ICMP", "ESP", "IP-in-IP", "IPv6":
		default:
			out = append(out, fmt.Sprint(ev["proto"]))
		}
	}
	return out
}

func formatMatch(f Filter) string {
	parts := make([]string, 0, len(f.Keys))
	for _, k := range f.Keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, f.Match[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func isPointer(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.HasPrefix(string(b), "version https://git-lfs")
}

var seedRE = regexp.MustCompile(`(?m)^\s*community-id-seed:\s*(\d+)`)

// communityIDSeed is the EVE community-id-seed the test's Suricata uses:
// from a --set, else from its own suricata.yaml, else 0.
func communityIDSeed(st *Test) string {
	for k, v := range st.Sets() {
		if strings.HasSuffix(k, ".community-id-seed") {
			return v
		}
	}
	if b, err := os.ReadFile(filepath.Join(st.Dir, "suricata.yaml")); err == nil {
		if m := seedRE.FindSubmatch(b); m != nil {
			return string(m[1])
		}
	}
	return "0"
}

var permissiveRE = regexp.MustCompile(`(?m)^\s*reserved-bits-check:\s*permissive`)

// decoderArgs are the flowd flags that stand for the test's Suricata
// settings: its community-id seed, and VXLAN's permissive reserved-bits
// check.
func decoderArgs(st *Test) []string {
	args := []string{"--community-id-seed", communityIDSeed(st)}
	if b, err := os.ReadFile(filepath.Join(st.Dir, "suricata.yaml")); err == nil && permissiveRE.Match(b) {
		args = append(args, "--vxlan-permissive")
	}
	return args
}

// replay runs flowd replay --format eve with args on one capture and reads
// the events.
func replay(bin, pcap, out string, args ...string) ([]map[string]any, error) {
	cmd := exec.Command(bin, append(append([]string{"replay", "--format", "eve", "--quiet", "-o", out}, args...), pcap)...)
	msg, runErr := cmd.CombinedOutput()
	if runErr != nil {
		runErr = fmt.Errorf("%v: %s", runErr, strings.TrimSpace(string(msg)))
	}
	fh, err := os.Open(out)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	defer fh.Close()
	events, err := ReadEVE(fh)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	return events, runErr
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildFlowd builds the flowd command once per test run.
func buildFlowd(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build flowd with")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "flowd-sv-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "flowd")
		cmd := exec.Command(goBin, "build", "-o", builtBin, "github.com/flowd/flowd/cmd/flowd")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return builtBin
}

// valuesOf lists the values key has in the events matching match.
func valuesOf(events []map[string]any, match map[string]any, key string) string {
	var vals []string
	for _, ev := range events {
		if ok, _ := Match(ev, match); ok {
			vals = append(vals, fmt.Sprint(find(key, ev)))
		}
	}
	return strings.Join(vals, " ")
}

// nearest describes the event that matches most keys of match: the keys
// it misses, with its values.
func nearest(events []map[string]any, match map[string]any) string {
	best, bestMiss := -1, []string(nil)
	for i, ev := range events {
		var miss []string
		for k, v := range match {
			if ok, _ := Match(ev, map[string]any{k: v}); !ok {
				miss = append(miss, fmt.Sprintf("%s=%v", k, find(k, ev)))
			}
		}
		if best < 0 || len(miss) < len(bestMiss) {
			best, bestMiss = i, miss
		}
	}
	if best < 0 || len(bestMiss) == len(match) {
		return ""
	}
	sort.Strings(bestMiss)
	return "; nearest flowd flow differs in " + strings.Join(bestMiss, " ")
}
