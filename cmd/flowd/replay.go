package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowtable"
	"github.com/flowd/flowd/internal/output"
)

const replayUsage = `Usage: flowd replay [flags] FILE...

Reads pcap/pcapng files (optionally gzip-compressed) through the flow table
as fast as possible, then prints the flows to stdout and a summary to stderr.
Flows that ended during the replay are listed with their end reason; flows
still in the table at the end have reason "active" ("shutdown" in EVE).
A file may be given as NAME=FILE to name its source.

Flags:
`

// replayOpts are the replay command's own flags.
type replayOpts struct {
	format   string
	out      string
	quiet    bool
	progress string
	cpuprof  string
	ef       engineFlags
}

func runReplay(args []string) error {
	var o replayOpts
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), replayUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.format, "format", "table", "flow output: table, json, csv, eve or none")
	fs.StringVar(&o.out, "o", "", "write the flows to this file instead of stdout")
	fs.BoolVar(&o.quiet, "quiet", false, "no summary on stderr")
	fs.StringVar(&o.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal, once the replay has run a second), always, never")
	fs.StringVar(&o.cpuprof, "cpuprofile", "", "write a Go CPU profile of the replay to this `file` (read it with go tool pprof)")
	o.ef.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("no capture file given")
	}
	format, err := output.ParseFormat(o.format)
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	switch o.progress {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("--progress %q: want auto, always or never", o.progress)
	}
	cfg, err := o.ef.config()
	if err != nil {
		return err
	}
	e, err := engine.New(cfg)
	if err != nil {
		return err
	}
	var infos []engine.SourceInfo
	for _, arg := range fs.Args() {
		info, err := openFile(e, parsePcapArg(arg), engine.SourceInfo{})
		if err != nil {
			return err
		}
		infos = append(infos, info)
	}
	var collect *collector
	if format != output.FormatNone {
		collect = &collector{}
		e.AddSink(collect)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if o.cpuprof != "" {
		f, err := os.Create(o.cpuprof)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	if err := e.Start(ctx); err != nil {
		return err
	}
	bar := newProgress(o.progress, e)
	select {
	case <-e.SourcesDone():
	case <-ctx.Done():
	}
	bar.stop()
	interrupted := ctx.Err() != nil
	// Expire what the final clock allows, so "active" means what it says.
	if err := e.Sweep(context.Background()); err != nil {
		return err
	}
	var active []flowtable.Flow
	if collect != nil {
		active, err = e.Flows(context.Background())
		if err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	st := e.Status()
	stopErr := e.Stop(flowtable.ReasonActive)

	if collect != nil {
		if err := writeFlows(format, o.out, infos, collect.flows, active); err != nil {
			return err
		}
	}
	if !o.quiet {
		printSummary(os.Stderr, st, elapsed)
	}
	if interrupted {
		return errors.New("interrupted: the flows above cover only what was read")
	}
	return stopErr
}

// collector keeps every ended flow (on the sink goroutine; read after Stop).
type collector struct{ flows []flowtable.Flow }

func (c *collector) FlowsEnded(fs []flowtable.Flow) error {
	c.flows = append(c.flows, fs...)
	return nil
}
func (c *collector) Close() error { return nil }

// writeFlows prints ended and active flows, ordered by first packet, then
// key, so that the output does not depend on the number of workers.
func writeFlows(format output.Format, path string, infos []engine.SourceInfo, ended, active []flowtable.Flow) error {
	all := append(ended, active...)
	slices.SortFunc(all, func(a, b flowtable.Flow) int {
		return cmp.Or(cmp.Compare(a.First, b.First), compareKeys(&a.Key, &b.Key))
	})
	var w io.Writer = os.Stdout
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	out, err := output.New(format, w, output.Options{SourceName: sourceNames(infos)})
	if err != nil {
		return err
	}
	for i := range all {
		if err := out.Write(&all[i]); err != nil {
			return err
		}
	}
	return out.Flush()
}

// compareKeys orders keys for output: a total order, so that flows that
// started at the same time print in the same order every run.
func compareKeys(a, b *flowtable.Key) int {
	return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Family, b.Family),
		bytes.Compare(a.A[:], b.A[:]), bytes.Compare(a.B[:], b.B[:]),
		cmp.Compare(a.APort, b.APort), cmp.Compare(a.BPort, b.BPort),
		cmp.Compare(a.VLAN[0], b.VLAN[0]), cmp.Compare(a.VLAN[1], b.VLAN[1]))
}

func printSummary(w io.Writer, st engine.Status, elapsed time.Duration) {
	var frames, bytes, unusable uint64
	var reasons []string
	byReason := map[string]uint64{}
	for i := range st.Sources {
		s := &st.Sources[i]
		frames += s.Frames
		bytes += s.Bytes
		s.UnusableReasons(func(reason string, n uint64) {
			if _, seen := byReason[reason]; !seen {
				reasons = append(reasons, reason)
			}
			byReason[reason] += n
			unusable += n
		})
	}
	secs := elapsed.Seconds()
	fmt.Fprintf(w, "packets: %d (%s), %d counted into flows, %d not usable\n",
		frames, humanBytes(bytes), st.Packets-st.Table.ICMPErrorNoFlow, unusable+st.Table.ICMPErrorNoFlow)
	fmt.Fprintf(w, "flows:   %d created, %d active at the end", st.Table.Created, st.Table.Active)
	for r := flowtable.ReasonTimeout; r < flowtable.NumEndReasons; r++ {
		if n := st.Table.Ended[r]; n > 0 {
			fmt.Fprintf(w, ", %d %s", n, r)
		}
	}
	fmt.Fprintln(w)
	var parts []string
	for _, r := range reasons {
		if n := byReason[r]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, n))
		}
	}
	if n := st.Table.ICMPErrorNoFlow; n > 0 {
		parts = append(parts, fmt.Sprintf("icmp_error_without_flow %d", n))
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "unusable: %s\n", strings.Join(parts, ", "))
	}
	if st.Table.EmergencyEntered > 0 {
		fmt.Fprintf(w, "table full: emergency mode entered %d times, %d flows evicted\n",
			st.Table.EmergencyEntered, st.Table.Ended[flowtable.ReasonEvicted])
	}
	fmt.Fprintf(w, "elapsed: %s, %.0f packets/s, %s/s, %d worker(s)\n",
		elapsed.Round(time.Millisecond), float64(frames)/secs, humanBytes(uint64(float64(bytes)/secs)), st.Workers)
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
