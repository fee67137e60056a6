package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flowd/flowd/bench"
	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/engine"
)

const benchUsage = `Usage: flowd bench [flags]
       flowd bench report [flags] REPORT.json...

Measures flowd on this machine, in one process and one run, over the same
capture held in memory: the bare record walk (the I/O floor), decode only,
decode + table update through the engine with each -workers count, and a
map[Key]*Flow twin (one goroutine); whole replays writing nothing, csv,
EVE (the cost of output, target P1o), IPFIX and VPC flow logs; then the
table's bytes per flow, flow churn (many short flows through a small
table), a scan with compiled
filters and a StartFlowCapture. Each figure is the median of -n runs. The
capture is generated (see 'flowd gen') unless -in names a file.

-vs runs other flow tools on the same capture file, round-robin with
'flowd replay --format none', and prints how many times faster flowd is
(target P1 in docs/TARGETS.md). Tools that are not installed are named and skipped.
softflowd runs as the same pipeline as flowd's export: each reads the file and
sends NetFlow v9 to its own nfcapd (-B 8388608; flowd unpaced, as softflowd
sends), timed from start until the tool has exited and its nfcapd has read
every queued datagram; the "collector got" column is what nfdump reads back
from that nfcapd's files (flow records, one per direction, and packets).

'flowd bench report' merges reports written with -o into bench/RESULTS.md
(one table per target, older rows kept) and draws the throughput plot.
`

// runBench is the 'flowd bench' command.
func runBench(args []string) error {
	return benchMain(args, os.Stdout, os.Stderr)
}

func benchMain(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "report" {
		return benchReport(args[1:], stdout, stderr)
	}
	fs := newCmdFlags("bench", benchUsage)
	fs.help = stdout
	flows := fs.Int("flows", 100_000, "flows to generate")
	packets := fs.Int("packets", 1_000_000, "about this many packets in all (0: -mean packets per flow)")
	mean := fs.Float64("mean", 10, "mean packets per flow, when -packets is 0")
	skew := fs.Float64("skew", 1, "elephant skew: packets per flow are Lomax (continuous zipf) with shape 1+1/skew; 0: exponential")
	ipv6 := fs.Float64("ipv6", 0.25, "share of flows over IPv6")
	vlan := fs.Float64("vlan", 0, "share of flows with one 802.1Q tag")
	qinq := fs.Float64("qinq", 0, "share of flows with QinQ tags (nfpcapd skips those packets)")
	malformed := fs.Int("malformed", 0, "malformed frames to mix in")
	sizes := fs.String("sizes", "small", "data packet sizes: imix, small, large or uniform (small: ~100 B frames, as the reference capture of docs/TARGETS.md)")
	seed := fs.Uint64("seed", 1, "generator seed")
	pcapOut := fs.String("pcap", "", "also write the generated capture to this `file` (and give it to -vs)")
	in := fs.String("in", "", "measure this capture `file` instead of generating one")
	workers := fs.String("workers", "1,2", "engine worker counts to measure, comma-separated")
	runs := fs.Int("n", 3, "runs of each phase; figures are medians")
	maxFlows := fs.Int("max-flows", 0, "table size (0: the flows of the capture, so that bytes/flow is at the table's size)")
	batch := fs.Int("batch", engine.DefaultBatchSize, "frames read and packets handed to a worker at a time")
	churnFlows := fs.Int("churn-flows", 200_000, "flows of the churn phase (0: skip it)")
	churnTable := fs.Int("churn-table", 16_384, "table size of the churn phase")
	churnTimeout := fs.Duration("churn-timeout", 2*time.Second, "every idle timeout in the churn phase")
	filters := fs.Int("filters", 20, "compiled filters of the scan and the flow capture (0: skip both)")
	vs := fs.String("vs", "", "compare with these tools on the same pcap: "+strings.Join(bench.ToolNames(), ",")+" or all")
	vsRuns := fs.Int("vs-n", 0, "runs of each tool (0: -n)")
	vsSlow := fs.Duration("vs-slow", 30*time.Second, "a tool whose first run takes longer runs only once")
	jsonOut := fs.Bool("json", false, "print the report as JSON instead of tables")
	out := fs.String("o", "", "also write the JSON report to this `file` (for 'flowd bench report')")
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	ws, err := parseInts(*workers)
	if err != nil {
		return usagef("-workers: %v", err)
	}
	if *runs < 1 {
		return usagef("-n %d: want at least 1 run", *runs)
	}
	var progress io.Writer = stderr
	if *quiet {
		progress = nil
	}
	cfg := bench.Config{
		Runs: *runs, Workers: ws, MaxFlows: *maxFlows, BatchSize: *batch, Progress: progress,
		Churn:   bench.ChurnConfig{Flows: *churnFlows, Table: *churnTable, Timeout: *churnTimeout},
		Filters: *filters,
	}
	if *churnFlows == 0 {
		cfg.Churn.Flows = -1
	}
	if *filters == 0 {
		cfg.Filters = -1
	}
	var tools []bench.Tool
	var missing []string
	if *vs != "" {
		names := strings.Split(*vs, ",")
		if *vs == "all" {
			names = bench.ToolNames()
		}
		if tools, missing, err = bench.LookupTools(names); err != nil {
			return usagef("-vs: %v", err)
		}
		if len(missing) > 0 {
			fmt.Fprintf(stderr, "flowd bench: not installed, so not compared: %s\n", strings.Join(missing, ", "))
		}
	}

	// The capture: a file, or generated traffic.
	vsFile := ""
	switch {
	case *in != "":
		data, err := os.ReadFile(*in)
		if err != nil {
			return err
		}
		cfg.Pcap, cfg.Name = data, *in
		if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) && *vs != "" {
			return usagef("-vs: %s is gzip-compressed; the other tools read plain pcap", *in)
		}
		vsFile = *in
	default:
		if *flows < 1 {
			return usagef("-flows %d: want at least 1", *flows)
		}
		sd, err := gen.ParseSizeDist(*sizes)
		if err != nil {
			return usagef("-sizes: %v", err)
		}
		m := *mean
		if *packets > 0 {
			m = float64(*packets) / float64(*flows)
		}
		if m < 1 {
			return usagef("-packets %d: want at least one packet per flow", *packets)
		}
		off := func(v float64) float64 {
			if v == 0 {
				return gen.Off
			}
			return v
		}
		gc := gen.Config{Seed: *seed, Flows: *flows, MeanPackets: m, Skew: off(*skew), IPv6: off(*ipv6),
			VLAN: off(*vlan), QinQ: off(*qinq), Malformed: *malformed, Sizes: sd}
		if *malformed == 0 {
			gc.Malformed = -1
		}
		if progress != nil {
			fmt.Fprintf(progress, "bench: generating %d flows, ~%d packets\n", *flows, int(m*float64(*flows)))
		}
		data, _, err := bench.Generate(gc)
		if err != nil {
			return err
		}
		cfg.Pcap, cfg.Name, cfg.Flows = data, "generated", *flows
		cfg.Gen = &bench.GenParams{Flows: *flows, MeanPackets: m, Skew: *skew, IPv6: *ipv6, VLAN: *vlan, QinQ: *qinq,
			Sizes: sd.String(), Seed: *seed, Malformed: *malformed}
		if *pcapOut != "" {
			if err := os.WriteFile(*pcapOut, data, 0o644); err != nil {
				return err
			}
			vsFile = *pcapOut
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}

	if len(tools) > 0 || (*vs != "" && len(missing) > 0) {
		if vsFile == "" {
			f, err := os.CreateTemp("", "flowd-bench-*.pcap")
			if err != nil {
				return err
			}
			vsFile = f.Name()
			defer os.Remove(vsFile)
			_, werr := f.Write(cfg.Pcap)
			if cerr := f.Close(); werr != nil || cerr != nil {
				return errors.Join(werr, cerr)
			}
		}
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("-vs: cannot find the flowd executable for the replay row: %w", err)
		}
		n := *vsRuns
		if n == 0 {
			n = *runs
		}
		v, err := bench.RunTools(ctx, bench.VsConfig{
			Pcap: vsFile, Frames: rep.Input.Frames, Flows: int(rep.Input.Flows), Runs: n,
			Tools: tools, Missing: missing, Flowd: self, SlowAfter: *vsSlow, Progress: progress,
		})
		if err != nil {
			return err
		}
		rep.Vs = v
	}

	if *out != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(stdout)
}

// parseInts parses "1,2,4".
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive numbers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

const benchReportUsage = `Usage: flowd bench report [flags] REPORT.json...

Merges 'flowd bench -o' reports of one run (several table sizes) and,
optionally, 'go test -bench' output into RESULTS.md: one table per
target of docs/TARGETS.md, the new row first, older rows kept. Writes the
throughput plot (packets/s against flows in the table) next to it.
`

func benchReport(args []string, stdout, stderr io.Writer) error {
	fs := newCmdFlags("bench report", benchReportUsage)
	fs.help = stdout
	results := fs.String("results", "bench/RESULTS.md", "the results `file` to update")
	svg := fs.String("svg", "bench/throughput.svg", "the plot `file` to write (empty: none)")
	gobench := fs.String("gobench", "", "'go test -bench -benchmem' output `file` of the same run")
	label := fs.String("label", "", "a word for the rows of this run (\"quick\")")
	raw := fs.String("raw", "", "where the raw outputs of this run are kept, quoted in RESULTS.md")
	elapsed := fs.Duration("elapsed", 0, "how long the whole run took, quoted in RESULTS.md")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("no report given")
	}
	var reps []*bench.Report
	for _, p := range fs.Args() {
		r, err := bench.ReadReport(p)
		if err != nil {
			return err
		}
		reps = append(reps, r)
	}
	run := &bench.RunSet{Reports: reps, Label: *label, Raw: *raw, Elapsed: *elapsed}
	if *gobench != "" {
		f, err := os.Open(*gobench)
		if err != nil {
			return err
		}
		run.GoBench, err = bench.ParseGoBench(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *gobench, err)
		}
	}
	old, err := os.ReadFile(*results)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	svgName := ""
	if *svg != "" {
		svgName = relTo(*results, *svg)
	}
	md := bench.MergeResults(old, run, svgName)
	if err := os.WriteFile(*results, md, 0o644); err != nil {
		return err
	}
	if *svg != "" {
		if err := os.WriteFile(*svg, bench.Plot(reps), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %s", *results)
	if *svg != "" {
		fmt.Fprintf(stdout, " and %s", *svg)
	}
	fmt.Fprintln(stdout)
	return nil
}

// relTo returns target as a path relative to the directory of from, for a
// link in a Markdown file; target itself when that fails.
func relTo(from, target string) string {
	r, err := filepath.Rel(filepath.Dir(from), target)
	if err != nil {
		return target
	}
	return filepath.ToSlash(r)
}
