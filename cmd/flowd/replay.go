package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/output"
)

const replayUsage = `Usage: flowd replay [flags] FILE...

Reads pcap/pcapng files (optionally gzip-compressed) through the flow table
as fast as possible, writes the flows to stdout (or -o FILE) and a summary to
stderr. Flows that ended during the replay are listed with their end reason;
flows still in the table at the end have reason "active" ("shutdown" in
EVE). A file may be given as NAME=FILE to name its source.

Flows are written as they end, in bounded memory: by default in order of
their first packet (--order start: formatted flows beyond --sort-memory go
to sorted temporary files, merged at the end), or just as they end
(--order end).

SIGINT or SIGTERM stops reading: every flow read so far ends with reason
"shutdown" and is written, and the summary counts exactly what was written;
a second signal exits at once and says how many flows it did not write.

Flags:
`

// replayOpts are the replay command's own flags.
type replayOpts struct {
	format   string
	out      string
	order    string
	sortMem  int
	quiet    bool
	progress string
	cpuprof  string
	ef       engineFlags
	xf       exportFlags
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
	fs.StringVar(&o.order, "order", "start", "order of the flows written: start (by first packet, the same every run) or end (as they end)")
	fs.IntVar(&o.sortMem, "sort-memory", output.DefaultMemoryBytes>>20, "MiB of formatted flows --order start holds before it spills sorted runs to temporary files ($TMPDIR)")
	fs.BoolVar(&o.quiet, "quiet", false, "no summary on stderr")
	fs.StringVar(&o.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal, once the replay has run a second), always, never")
	fs.StringVar(&o.cpuprof, "cpuprofile", "", "write a Go CPU profile of the replay to this `file` (read it with go tool pprof)")
	o.ef.register(fs)
	o.xf.register(fs)
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
	order, err := output.ParseOrder(o.order)
	if err != nil {
		return fmt.Errorf("--order: %w", err)
	}
	if o.sortMem < 1 {
		return fmt.Errorf("--sort-memory %d: want at least 1 (MiB)", o.sortMem)
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
	var sink *output.Sink
	if format != output.FormatNone {
		sink, err = output.NewSink(output.SinkConfig{Format: format, Path: o.out, Order: order,
			MemoryBytes: int64(o.sortMem) << 20, Options: output.Options{SourceName: sourceNames(infos)}})
		if err != nil {
			return err
		}
		e.AddSink(sink)
	}
	exports, err := o.xf.open(e, engineClock(e))
	if err != nil {
		for _, x := range exports {
			x.sink.Close()
		}
		return err
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
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
	if err := e.Start(context.Background()); err != nil {
		return err
	}
	bar := newProgress(o.progress, e)
	var interrupted os.Signal
	select {
	case <-e.SourcesDone():
	case interrupted = <-sigs:
	}
	bar.stop()
	reason := engine.ReasonActive
	if interrupted != nil {
		reason = engine.ReasonShutdown
		go exitOnSecondSignal(sigs, e, sink)
	} else if err := e.Sweep(context.Background()); err != nil {
		// Expire what the final clock allows, so "active" means what it says.
		return err
	}
	elapsed := time.Since(start)
	st := e.Status()
	stopErr := e.Stop(reason)
	if interrupted != nil {
		// The flows ended by the stop are in the counts now.
		st = e.Status()
	}
	if !o.quiet {
		printSummary(os.Stderr, st, elapsed)
		printExports(os.Stderr, exports)
	}
	if interrupted != nil {
		return errors.Join(stopErr, fmt.Errorf("interrupted (%v): stopped reading early; every flow read was written, those in the table with reason shutdown", interrupted))
	}
	return stopErr
}

// exitOnSecondSignal exits at once on another signal, saying how many of
// the flows read were not written.
func exitOnSecondSignal(sigs <-chan os.Signal, e *engine.Engine, sink *output.Sink) {
	sig := <-sigs
	msg := "nothing was being written"
	if sink != nil {
		created := e.Status().Table.Created
		msg = fmt.Sprintf("%d of %d flows were not written", created-min(created, sink.Written()), created)
	}
	fmt.Fprintf(os.Stderr, "flowd replay: second signal (%v): exiting at once; %s\n", sig, msg)
	os.Exit(130)
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
	for r := engine.ReasonTimeout; r < engine.NumEndReasons; r++ {
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
			st.Table.EmergencyEntered, st.Table.Ended[engine.ReasonEvicted])
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
