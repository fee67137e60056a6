package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ReadReport reads a Report written as JSON by `flowd bench -o`.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if r.Version > ReportVersion {
		return nil, fmt.Errorf("%s: report version %d is newer than this flowd reads (%d)", path, r.Version, ReportVersion)
	}
	return &r, nil
}

// RunSet is one `make bench` run: flowd bench at several table sizes, the
// Go benchmarks, and how the run went.
type RunSet struct {
	Reports []*Report
	GoBench *GoBench
	Label   string        // "quick" for make bench-quick; empty for a full run
	Raw     string        // where the raw outputs are kept
	Elapsed time.Duration // the whole run, 0 when unknown
}

// Target is one target of docs/TARGETS.md.
type Target struct {
	ID     string // "P1"
	Title  string
	Goal   string // the target, as docs/TARGETS.md states it
	How    string // how the row is measured here
	Header string // the table header row
}

// Targets are the targets of docs/TARGETS.md, in order.
var Targets = []Target{
	{"P1", "replay throughput against other tools", "≥ 5× softflowd and ≥ 20× argus on the same pcap, same run (1 worker, decode + table update)",
		"`flowd replay --format none -workers 1` and each tool on the same pcap file from the page cache, round-robin, medians of wall time; ratios are the tool's time over flowd's (cpu: user+system time)",
		"| date | machine | flowd | the others on the same pcap, same run | verdict |"},
	{"P2", "closeness to the I/O floor", "replay ≤ 2× the time of a bare walk over the same pcap's records",
		"`flowd bench`: engine (decode + table, 1 worker) time ÷ record walk time, same in-memory pcap, same process",
		"| date | machine | engine ÷ walk, wall (cpu) | per-packet times | verdict |"},
	{"P3", "allocations on the packet path", "0 per packet in steady state",
		"`flowd bench`: heap allocations (MemStats.Mallocs) over a whole replay ÷ packets; the engine's start-up allocations are in it, so < 0.001 counts as 0",
		"| date | machine | allocs/packet | same run | verdict |"},
	{"P4", "memory per tracked flow", "≤ 160 B all-in (slab + index) at 1 M flows; stretch 128 B",
		"`flowd bench`: live heap of the engine after a replay (table sized to the flows) ÷ flows in it",
		"| date | machine | bytes/flow | map[Key]*Flow twin, same run | verdict |"},
	{"P5", "table against a plain Go map", "≥ 5× the updates/s of map[Key]*Flow (single goroutine) at 1 M flows, zipf traffic",
		"`go test -bench BenchmarkUpdate ./flowtable` (medians of -count runs), and `flowd bench`'s end-to-end map twin (decode + key + map) against the engine",
		"| date | machine | table (batch) vs map at 1 M zipf | end to end, same run | verdict |"},
	{"P6", "capture/flush scan", "≥ 50 M flows/s/core scanned with 20 compiled filters; StartFlowCapture over 1 M flows completes in ≤ 100 ms",
		"`flowd bench`: engine.Scan with a compiled filter.Set over the whole table, 1 worker; engine.Ops StartFlowCapture, request to COMPLETED; plus the Go benchmarks that report flows/s",
		"| date | machine | scan, capture | Go benchmarks, same run | verdict |"},
	{"P7", "scaling", "2 workers ≥ 1.7× 1 worker on replay",
		"`flowd bench -workers 1,N`: packets/s with N workers ÷ with 1 (wall), same in-memory pcap",
		"| date | machine | N workers ÷ 1 worker | packets/s | verdict |"},
	{"P8", "flow log writing", "≥ 1 M records/s per core to gzip text; Parquet within 2× of that",
		"Go benchmark in `flowlog`",
		"| date | machine | records/s | same run | verdict |"},
	{"P9", "live capture", "AF_PACKET ingest with no kernel drops at the highest rate a veth pair sustains; drops reported",
		"test harness in a network namespace; PACKET_STATISTICS",
		"| date | machine | rate, drops | same run | verdict |"},
}

var sectionRE = regexp.MustCompile(`^## (P\d+)\b`)

// OldRows returns the table rows kept in an existing RESULTS.md, by target
// ID, in file order (newest first). Rows are the lines that start with "|"
// after a table's separator line, up to the first line that does not.
func OldRows(md []byte) map[string][]string {
	rows := map[string][]string{}
	id := ""
	inTable := false
	for _, line := range strings.Split(string(md), "\n") {
		line = strings.TrimRight(line, "\r")
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			id, inTable = m[1], false
			continue
		}
		if strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "# ") {
			id, inTable = "", false
			continue
		}
		if id == "" {
			continue
		}
		switch {
		case !strings.HasPrefix(line, "|"):
			inTable = false
		case isSeparator(line):
			inTable = true
		case inTable:
			rows[id] = append(rows[id], line)
		}
	}
	return rows
}

func isSeparator(line string) bool {
	s := strings.Trim(line, "| ")
	return s != "" && strings.Trim(s, "-:| ") == ""
}

// MergeResults returns RESULTS.md with run's rows added at the top of each
// target's table, every row of old kept below them, and a fresh "latest
// run" section. svg names the plot to link (empty: none).
func MergeResults(old []byte, run *RunSet, svg string) []byte {
	kept := OldRows(old)
	var b bytes.Buffer
	b.WriteString("# flowd benchmark results\n\n")
	b.WriteString("Written by `make bench` (`scripts/bench.sh full`); `make bench-quick` adds rows marked *quick*, from smaller inputs. ")
	b.WriteString("Each run adds one row at the top of every table below and keeps the older rows, so progress shows; ")
	b.WriteString("edit the prose if you like, but leave the tables to the script. ")
	b.WriteString("Targets and the reasons behind them: docs/TARGETS.md. ")
	b.WriteString("The machines are shared and noisy, so every figure is a median, every comparison comes from the same run, ")
	b.WriteString("and times are given as wall clock and as the process's CPU time (which leaves out waiting for a core).\n\n")
	latest := latestReport(run)
	if latest != nil {
		fmt.Fprintf(&b, "Latest run: %s on %s", stamp(latest.Date, run.Label), latest.Machine)
		if run.Elapsed > 0 {
			fmt.Fprintf(&b, "; the whole run took %s", run.Elapsed.Round(time.Second))
		}
		if run.Raw != "" {
			fmt.Fprintf(&b, "; raw outputs in `%s`", run.Raw)
		}
		b.WriteString(".\n\n")
	}
	if svg != "" {
		fmt.Fprintf(&b, "![packets/s against flows in the table, flowd and the comparison tools](%s)\n\n", svg)
	}
	for _, t := range Targets {
		fmt.Fprintf(&b, "## %s — %s\n\n", t.ID, t.Title)
		fmt.Fprintf(&b, "Target: %s. Measured by %s.\n\n", t.Goal, t.How)
		b.WriteString(t.Header + "\n")
		b.WriteString(strings.Repeat("| --- ", strings.Count(t.Header, "|")-1) + "|\n")
		if latest != nil {
			cells := targetRow(t.ID, run)
			date := stamp(latest.Date, run.Label)
			row := []string{date, latest.Machine.String()}
			row = append(row, cells[:]...)
			b.WriteString(mdRow(row) + "\n")
		}
		for _, r := range kept[t.ID] {
			b.WriteString(r + "\n")
		}
		b.WriteString("\n")
	}
	if len(run.Reports) > 0 {
		b.WriteString("## Latest run in detail\n\n")
		b.WriteString("The `flowd bench` output of the latest run (replaced by each run; the rows above are what is kept).\n\n")
		for _, r := range run.Reports {
			b.WriteString("```\n")
			r.WriteText(&b)
			b.WriteString("```\n\n")
		}
	}
	return b.Bytes()
}

func latestReport(run *RunSet) *Report {
	if len(run.Reports) == 0 {
		return nil
	}
	l := run.Reports[0]
	for _, r := range run.Reports[1:] {
		if r.Date.After(l.Date) {
			l = r
		}
	}
	return l
}

func stamp(t time.Time, label string) string {
	s := t.UTC().Format("2006-01-02 15:04Z")
	if label != "" {
		s += " *" + label + "*"
	}
	return s
}

// mdRow renders cells as a Markdown table row, escaping pipes.
func mdRow(cells []string) string {
	var b strings.Builder
	b.WriteString("|")
	for _, c := range cells {
		c = strings.ReplaceAll(c, "|", `\|`)
		c = strings.ReplaceAll(c, "\n", " ")
		b.WriteString(" " + c + " |")
	}
	return b.String()
}

// bySize returns the reports ordered by flows, smallest first.
func bySize(reps []*Report) []*Report {
	s := slices.Clone(reps)
	slices.SortStableFunc(s, func(a, b *Report) int { return int(a.Input.Flows) - int(b.Input.Flows) })
	return s
}

// sizeName says "10 k", "1 M" for a flow count.
func sizeName(n uint64) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%d M", n/1_000_000)
	case n >= 1_000_000:
		return fmt.Sprintf("%.2f M", float64(n)/1e6)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%d k", n/1000)
	case n >= 1000:
		return fmt.Sprintf("%.1f k", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// flowsOf returns the flows a report's table held (the generated count
// when known, else what the engine created).
func flowsOf(r *Report) uint64 {
	if r.Input.Gen != nil {
		return uint64(r.Input.Gen.Flows)
	}
	return r.Input.Flows
}

// targetRow returns the three cells after date and machine: figure,
// comparison, verdict.
func targetRow(id string, run *RunSet) [3]string {
	reps := bySize(run.Reports)
	none := [3]string{"not measured in this run", "", "—"}
	switch id {
	case "P1":
		// The reference capture of docs/TARGETS.md has 100 k flows: use the
		// comparison nearest that size.
		var best *Report
		dist := func(r *Report) float64 { return math.Abs(math.Log(float64(max(flowsOf(r), 1)) / 1e5)) }
		for _, r := range reps {
			if r.Vs != nil && (best == nil || dist(r) < dist(best)) {
				best = r
			}
		}
		if best == nil {
			return [3]string{"not measured in this run (no -vs)", "", "—"}
		}
		return p1Row(best)
	case "P2":
		var fig, per []string
		ok, any := true, false
		for _, r := range reps {
			w, e := r.Phase(PhaseWalk, 0), r.Phase(PhaseEngine, 1)
			if w == nil || e == nil || w.WallNs == 0 || w.CPUNs == 0 {
				continue
			}
			any = true
			x := e.WallNs / w.WallNs
			fig = append(fig, fmt.Sprintf("%s flows: %.2f× (%.2f×)", sizeName(flowsOf(r)), x, e.CPUNs/w.CPUNs))
			per = append(per, fmt.Sprintf("%s: walk %.0f ns, decode %.0f ns, engine %.0f ns", sizeName(flowsOf(r)),
				w.NsPerPacket, nsOf(r.Phase(PhaseDecode, 0)), e.NsPerPacket))
			ok = ok && x <= 2
		}
		if !any {
			return none
		}
		return [3]string{strings.Join(fig, "; "), strings.Join(per, "; "), verdict(ok)}
	case "P3":
		var fig, other []string
		ok, any := true, false
		for _, r := range reps {
			var parts []string
			for _, p := range r.Phases {
				if p.Name == PhaseEngine {
					any = true
					parts = append(parts, fmt.Sprintf("%dw %s", p.Workers, fmtAllocs(p.AllocsPerPacket)))
					ok = ok && p.AllocsPerPacket < 0.001
				}
			}
			if len(parts) > 0 {
				fig = append(fig, sizeName(flowsOf(r))+" flows: "+strings.Join(parts, ", "))
			}
			if d := r.Phase(PhaseDecode, 0); d != nil {
				other = append(other, fmt.Sprintf("%s: walk+decode %s, map twin %s", sizeName(flowsOf(r)), fmtAllocs(d.AllocsPerPacket),
					fmtAllocs(allocsOf(r.Phase(PhaseMap, 0)))))
			}
			if c := r.Churn; c != nil {
				other = append(other, fmt.Sprintf("churn %s", fmtAllocs(c.AllocsPerPacket)))
				ok = ok && c.AllocsPerPacket < 0.001
			}
		}
		if !any {
			return none
		}
		return [3]string{strings.Join(fig, "; "), strings.Join(other, "; "), verdict(ok)}
	case "P4":
		var fig, other []string
		var at1M *Memory
		for _, r := range reps {
			if m := r.Memory; m != nil {
				fig = append(fig, fmt.Sprintf("%s flows: %.1f B (%d in a table of %d)", sizeName(flowsOf(r)), m.BytesPerFlow, m.Flows, m.TableMax))
				other = append(other, fmt.Sprintf("%s: %.1f B", sizeName(flowsOf(r)), m.MapBytesPerFlow))
				if m.Flows >= 900_000 {
					at1M = m
				}
			}
		}
		if len(fig) == 0 {
			return none
		}
		v := "— (no run at 1 M flows)"
		if at1M != nil {
			switch {
			case at1M.BytesPerFlow <= 128:
				v = "met, stretch too"
			case at1M.BytesPerFlow <= 160:
				v = "met"
			default:
				v = "not met"
			}
		}
		return [3]string{strings.Join(fig, "; "), "map twin " + strings.Join(other, "; "), v}
	case "P5":
		return p5Row(run.GoBench, reps)
	case "P6":
		return p6Row(run.GoBench, reps)
	case "P7":
		var fig, pps []string
		ok, any := true, false
		for _, r := range reps {
			one := r.Phase(PhaseEngine, 1)
			if one == nil || one.PacketsPerSec == 0 {
				continue
			}
			for _, p := range r.Phases {
				if p.Name == PhaseEngine && p.Workers > 1 {
					any = true
					x := p.PacketsPerSec / one.PacketsPerSec
					fig = append(fig, fmt.Sprintf("%s flows: %d workers %.2f×", sizeName(flowsOf(r)), p.Workers, x))
					pps = append(pps, fmt.Sprintf("%s: %s/s with 1, %s/s with %d", sizeName(flowsOf(r)),
						SI(one.PacketsPerSec, "pkt"), SI(p.PacketsPerSec, "pkt"), p.Workers))
					if p.Workers == 2 {
						ok = ok && x >= 1.7
					}
				}
			}
		}
		if !any {
			return none
		}
		v := verdict(ok)
		if l := latestReport(run); l != nil && l.Machine.CPUs < 2 {
			v = "— (1 CPU)"
		}
		return [3]string{strings.Join(fig, "; "), strings.Join(pps, "; "), v}
	case "P8":
		names := run.GoBench.Match("flowlog ")
		if len(names) == 0 {
			return [3]string{"not built yet (no flowlog benchmarks)", "", "—"}
		}
		var fig []string
		for _, n := range names {
			fig = append(fig, goBenchCell(run.GoBench, n))
		}
		same := ""
		if l := latestReport(run); l != nil && l.Output != nil && l.Output.FlowLogRecords > 0 {
			same = fmt.Sprintf("replay writing flow logs (gzip text, 60 s windows): %.2f× (cpu %.2f×) one writing nothing, %d records",
				l.Output.FlowLog, l.Output.FlowLogCPU, l.Output.FlowLogRecords)
		}
		return [3]string{strings.Join(fig, "; "), same, "see figures"}
	case "P9":
		return [3]string{"not built yet (no live capture harness)", "", "—"}
	}
	return none
}

func nsOf(p *Phase) float64 {
	if p == nil {
		return 0
	}
	return p.NsPerPacket
}

func allocsOf(p *Phase) float64 {
	if p == nil {
		return 0
	}
	return p.AllocsPerPacket
}

// fmtAllocs formats allocations per packet so that a few start-up
// allocations over a million packets still show: 0, 3.1e-05, 0.104.
func fmtAllocs(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 0.01:
		return fmt.Sprintf("%.1e", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

func p1Row(r *Report) [3]string {
	v := r.Vs
	f := v.Flowd
	if f == nil || f.WallNs == 0 {
		return [3]string{"flowd replay did not run", "", "—"}
	}
	fig := fmt.Sprintf("%s flows, %d packets: %.3f s wall, %.3f s cpu, %s/s", sizeName(flowsOf(r)), v.Frames,
		f.WallNs/1e9, f.CPUNs/1e9, SI(f.PacketsPerSec, "pkt"))
	var cmp []string
	for _, row := range v.Rows {
		if row.Runs == 0 {
			cmp = append(cmp, fmt.Sprintf("%s failed (%s)", row.Name, row.Err))
			continue
		}
		runs := ""
		if row.Runs < v.Runs {
			runs = fmt.Sprintf(", %d run", row.Runs)
		}
		cmp = append(cmp, fmt.Sprintf("%s %.2f s: %.1f× (cpu %.1f×)%s", row.Name, row.WallNs/1e9, row.Ratio, row.CPURatio, runs))
	}
	for _, m := range v.Missing {
		cmp = append(cmp, m+" not installed")
	}
	sf, ar := v.Row("softflowd"), v.Row("argus")
	verd := "—"
	switch {
	case sf == nil || ar == nil || sf.Ratio == 0 || ar.Ratio == 0:
		verd = "— (softflowd or argus missing)"
	case sf.Ratio >= 5 && ar.Ratio >= 20:
		verd = "met"
	default:
		verd = fmt.Sprintf("not met (%.1f× softflowd, %.1f× argus)", sf.Ratio, ar.Ratio)
	}
	return [3]string{fig, strings.Join(cmp, "; "), verd}
}

// p5Row compares the table with the map in flowtable's BenchmarkUpdate at
// 1 M flows, zipf, and quotes flowd bench's end-to-end twin.
func p5Row(g *GoBench, reps []*Report) [3]string {
	fig := "no Go benchmark output in this run"
	verd := "—"
	base := "flowtable BenchmarkUpdate/flows=1000000/zipf/"
	mapNs, n, okMap := g.Median(base+"map", "ns/op")
	if okMap {
		var parts []string
		best := 0.0
		for _, v := range []string{"table", "table-batch"} {
			if ns, _, ok := g.Median(base+v, "ns/op"); ok && ns > 0 {
				x := mapNs / ns
				parts = append(parts, fmt.Sprintf("%s %.1f ns/op: %.2f×", v, ns, x))
				best = max(best, x)
			}
		}
		fig = fmt.Sprintf("map %.1f ns/op; %s (medians of %d)", mapNs, strings.Join(parts, ", "), n)
		verd = verdict(best >= 5)
	}
	var e2e []string
	for _, r := range reps {
		m, e := r.Phase(PhaseMap, 0), r.Phase(PhaseEngine, 1)
		if m != nil && e != nil && e.WallNs > 0 {
			e2e = append(e2e, fmt.Sprintf("%s flows: engine %.2f× the map twin", sizeName(flowsOf(r)), m.WallNs/e.WallNs))
		}
	}
	return [3]string{fig, strings.Join(e2e, "; "), verd}
}

func p6Row(g *GoBench, reps []*Report) [3]string {
	var big *Report
	for _, r := range reps {
		if r.Scan != nil {
			big = r
		}
	}
	fig := "not measured in this run"
	verd := "—"
	if big != nil {
		s := big.Scan
		fig = fmt.Sprintf("%d filters over %s flows: %s flows/s/core", s.Filters, sizeName(s.Flows), SI(s.FlowsPerSecPerCore, ""))
		ok := s.FlowsPerSecPerCore >= 50e6
		if c := big.Capture; c != nil {
			fig += fmt.Sprintf("; StartFlowCapture to %s in %.1f ms (%d matched)", c.Status, c.Ms, c.Matched)
			ok = ok && c.Ms <= 100
		}
		verd = verdict(ok)
		if s.Flows < 900_000 {
			verd += fmt.Sprintf(" (at %s flows, not 1 M)", sizeName(s.Flows))
		}
	}
	var gb []string
	for _, n := range g.Match("BenchmarkScan") {
		gb = append(gb, goBenchCell(g, n))
	}
	for _, n := range g.Match("BenchmarkOpCapture") {
		gb = append(gb, goBenchCell(g, n))
	}
	return [3]string{fig, strings.Join(gb, "; "), verd}
}

// goBenchCell quotes one Go benchmark: its median ns/op and custom rates.
func goBenchCell(g *GoBench, name string) string {
	short := name
	if i := strings.IndexByte(name, ' '); i >= 0 {
		short = name[i+1:]
	}
	short = strings.TrimPrefix(short, "Benchmark")
	var parts []string
	if ns, _, ok := g.Median(name, "ns/op"); ok {
		parts = append(parts, fmt.Sprintf("%s/op", fmtDuration(ns)))
	}
	var units []string
	for u := range g.Samples[name] {
		if strings.HasSuffix(u, "/s") {
			units = append(units, u)
		}
	}
	slices.Sort(units)
	for _, u := range units {
		v, _, _ := g.Median(name, u)
		parts = append(parts, SI(v, u))
	}
	return short + " " + strings.Join(parts, ", ")
}

func fmtDuration(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.1f ns", ns)
}
