package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/output"
)

const replayUsage = `Usage: flowd replay [flags] FILE...|-|DIR|GLOB

Reads pcap/pcapng captures (plain or gzip) through the flow table as fast
as possible, writes the flows to stdout (or -o FILE) and a summary to
stderr. Flows that ended during the replay are listed with their end
reason; flows still in the table at the end have reason "active"
("shutdown" in EVE).

Input: a FILE may be given as NAME=FILE to name its source. "-" reads a
capture from stdin (tcpdump -w - | flowd replay -). A directory or a
quoted glob reads every capture in it as one source, the files in order of
their first packet. --follow FILE keeps reading a capture that is still
being written, then the next files of its rotating set (tcpdump -C: FILE,
FILE1, FILE2, ...; tcpdump -G: the same name with another time or number),
until SIGINT or SIGTERM (exit 0) or --follow-idle.

Selecting flows: --capture FILTERS keeps the flows that match AWS
FlowFilters (shorthand or JSON, as flowctl --flow-filters takes them;
Source is the flow's initiator); --since and --until keep the flows active
in a time window (RFC 3339, or a duration from the capture's first packet);
--top N prints instead the N busiest groups (--group-by) by --by, as
nfdump -s does.

Flows are written as they end, in bounded memory: by default in order of
their first packet (--order start), or just as they end (--order end).
SIGINT or SIGTERM stops reading: every flow read so far ends with reason
"shutdown" and is written; a second signal exits at once.

Exit status: 0 success, 1 a runtime failure (a damaged capture, nothing
usable in the captures, a replay cut short), 2 a bad command line.
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
	follow   bool
	fc       followConfig
	sel      selectFlags
	vf       eveFlags
	sf       statsFlags
	ef       engineFlags
	xf       exportFlags
	fl       flowLogFlags
}

// newReplayFlags declares replay's flags into o.
func newReplayFlags(o *replayOpts) *cmdFlags {
	fs := newCmdFlags("replay", replayUsage)
	fs.section(groupInput)
	fs.BoolVar(&o.follow, "follow", false, "keep reading the one FILE given as it grows, then the next files of its rotating set")
	fs.DurationVar(&o.fc.idle, "follow-idle", 0, "with --follow, stop once nothing new was written for this long (0: only on SIGINT/SIGTERM)")
	fs.DurationVar(&o.fc.poll, "follow-poll", 200*time.Millisecond, "with --follow, how often to look for growth and for the next file")
	fs.section(groupOutput)
	fs.StringVar(&o.format, "format", "table", "flow output: table, json, csv, eve or none")
	fs.StringVar(&o.out, "o", "", "write the flows to this `file` instead of stdout")
	fs.StringVar(&o.order, "order", "start", "order of the flows written: start (by first packet, the same every run) or end (as they end)")
	fs.BoolVar(&o.quiet, "quiet", false, "no summary on stderr")
	o.vf.register(fs)
	o.sf.register(fs)
	fs.StringVar(&o.progress, "progress", "auto", "progress bar on stderr: auto (when stderr is a terminal, once the replay has run a second), always, never")
	fs.section(groupSelect)
	o.sel.register(fs)
	o.ef.register(fs)
	o.xf.register(fs)
	o.fl.register(fs)
	fs.section(groupAdvanced)
	fs.IntVar(&o.sortMem, "sort-memory", output.DefaultMemoryBytes>>20, "MiB of formatted flows --order start holds before it spills sorted runs to temporary files ($TMPDIR)")
	fs.StringVar(&o.cpuprof, "cpuprofile", "", "write a Go CPU profile of the replay to this `file` (read it with go tool pprof)")
	return fs
}

func runReplay(args []string) error {
	var o replayOpts
	fs := newReplayFlags(&o)
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("no capture given (a FILE, - for stdin, a directory or a glob)")
	}
	if o.follow && fs.NArg() != 1 {
		return usagef("--follow reads one capture (and its rotating set); got %d arguments", fs.NArg())
	}
	if o.fc.poll <= 0 {
		return usagef("--follow-poll %v: want a positive duration", o.fc.poll)
	}
	format, err := output.ParseFormat(o.format)
	if err != nil {
		return usagef("--format: %v", err)
	}
	order, err := output.ParseOrder(o.order)
	if err != nil {
		return usagef("--order: %v", err)
	}
	if o.sortMem < 1 {
		return usagef("--sort-memory %d: want at least 1 (MiB)", o.sortMem)
	}
	switch o.progress {
	case "auto", "always", "never":
	default:
		return usagef("--progress %q: want auto, always or never", o.progress)
	}
	sel, err := o.sel.compile()
	if err != nil {
		return err
	}
	if err := o.sf.check(format == output.FormatEVE && !sel.top(), "--format eve (and no --top)"); err != nil {
		return err
	}
	cfg, err := o.ef.config()
	if err != nil {
		return err
	}
	if cfg.Table.ActiveTimeout, err = o.xf.activeTimeout(); err != nil {
		return err
	}
	if o.fl.interval != 60 && o.fl.interval != 600 {
		return usagef("--flow-log-interval %d: want 60 or 600 (seconds)", o.fl.interval)
	}
	cfg.Table.Window = o.fl.window()
	e, err := engine.New(cfg)
	if err != nil {
		return err
	}
	stats := newReplayStats(o.sf.interval, e)
	var infos []engine.SourceInfo
	var watched []*watchedSource
	var followed []*chainSource
	stdinUsed := false
	for _, arg := range fs.Args() {
		spec := parsePcapArg(arg)
		var src capture.Source
		info := engine.SourceInfo{Name: spec.Name, Path: spec.Path}
		switch fi, statErr := os.Stat(spec.Path); {
		case spec.Path == "-":
			if stdinUsed {
				return usagef("- (stdin) given twice")
			}
			stdinUsed = true
			src = newStdinSource(os.Stdin)
			info.Name = cmp.Or(info.Name, "stdin")
		case o.follow:
			if statErr != nil || !fi.Mode().IsRegular() {
				return fmt.Errorf("--follow %s: want a capture file that exists (%v)", spec.Path, cmp.Or[error](statErr, errors.New("not a regular file")))
			}
			c := newFollowSource(spec.Path, o.fc)
			followed = append(followed, c)
			src = c
			info.Name = cmp.Or(info.Name, sourceName(spec.Path))
		case (statErr == nil && fi.IsDir()) || (statErr != nil && isGlob(spec.Path)):
			paths, err := expandInput(spec.Path, os.Stderr)
			if err != nil {
				return err
			}
			src = newChain(spec.Path, paths)
			info.Name = cmp.Or(info.Name, sourceName(strings.TrimRight(spec.Path, "/")))
		default:
			f, err := capture.OpenFile(spec.Path)
			if err != nil {
				return err
			}
			src = f
			info.Name = cmp.Or(info.Name, sourceName(spec.Path))
		}
		w := &watchedSource{Source: src}
		if _, err := e.AddSource(stats.wrap(w), info); err != nil {
			w.Close()
			return err
		}
		infos = append(infos, info)
		watched = append(watched, w)
	}
	opts, err := o.vf.options(infos)
	if err != nil {
		return err
	}
	var sink *output.Sink
	if format != output.FormatNone && !sel.top() {
		sink, err = output.NewSink(output.SinkConfig{Format: format, Path: o.out, Order: order,
			MemoryBytes: int64(o.sortMem) << 20, Options: opts})
		if err != nil {
			return err
		}
	}
	if stats != nil {
		stats.w.sink = sink
	}
	var selSink *selectSink
	switch {
	case sel.active():
		start := func() int64 {
			var first int64
			for _, w := range watched {
				if t := w.first.Load(); t != 0 && (first == 0 || t < first) {
					first = t
				}
			}
			return first
		}
		var next engine.Sink
		if sink != nil {
			next = sink
		}
		selSink, err = sel.sink(next, start, format, o.out)
		if err != nil {
			return err
		}
		e.AddSink(selSink)
	case sink != nil:
		e.AddSink(sink)
	}
	exports, err := o.xf.open(e, engineClock(e))
	if err != nil {
		return err
	}
	flowLog, err := o.fl.open(e, infos, func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "flowd: "+format+"\n", args...)
	})
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
		for _, c := range followed {
			c.interrupt()
		}
		go exitOnSecondSignal(sigs, e, sink, flowLog != nil)
	}
	elapsed := time.Since(start)
	st := e.Status()
	statsErr := stats.final(&st)
	stopErr := errors.Join(e.Stop(reason), statsErr)
	if interrupted != nil {
		// The flows ended by the stop are in the counts now.
		st = e.Status()
	}
	if !o.quiet {
		printSummary(os.Stderr, st, elapsed)
		if selSink != nil {
			selSink.printSummary(os.Stderr)
		}
		printExports(os.Stderr, exports)
		printFlowLogSummary(os.Stderr, flowLog, o.fl.dir)
	}
	unusableErr := checkUsable(os.Stderr, st, watched)
	warnClockGaps(os.Stderr, st, watched, o.ef.longestTimeout())
	if interrupted != nil && !o.follow {
		return errors.Join(stopErr, fmt.Errorf("interrupted (%v): stopped reading early; every flow read was written, those in the table with reason shutdown", interrupted))
	}
	// Following has no end of its own: a signal is how it stops, a success.
	if stopErr != nil {
		return stopErr
	}
	return unusableErr
}

// checkUsable warns about each source whose frames were all unusable,
// naming its link types and the share lost, and fails when no source gave
// a single usable frame.
func checkUsable(w io.Writer, st engine.Status, watched []*watchedSource) error {
	var frames, usable uint64
	for i := range st.Sources {
		s := &st.Sources[i]
		bad := s.Unusable()
		frames += s.Frames
		usable += s.Frames - min(bad, s.Frames)
		if s.Frames == 0 || bad < s.Frames || i >= len(watched) {
			continue
		}
		fmt.Fprintf(w, "flowd replay: warning: %s: %d of %d frames (%.0f%%) could not be used; link type %s",
			s.Info.Name, bad, s.Frames, 100*float64(bad)/float64(s.Frames), cmp.Or(watched[i].linkTypes(), "unknown"))
		var reasons []string
		s.UnusableReasons(func(r string, n uint64) {
			if n > 0 {
				reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
			}
		})
		fmt.Fprintf(w, " (%s)\n", strings.Join(reasons, ", "))
	}
	if frames > 0 && usable == 0 {
		return fmt.Errorf("nothing usable: none of the %d frames read could be counted into a flow", frames)
	}
	return nil
}

// warnClockGaps says when the sources' times lie so far apart that the
// packets of the later ones moved the engine clock past the earlier ones'
// flows, which then timed out early (the engine clock is the newest packet
// time read, whichever source it came from).
func warnClockGaps(w io.Writer, st engine.Status, watched []*watchedSource, timeout time.Duration) {
	type span struct {
		name       string
		first, end int64
	}
	var spans []span
	for i, ws := range watched {
		if i < len(st.Sources) && ws.first.Load() != 0 {
			spans = append(spans, span{st.Sources[i].Info.Name, ws.first.Load(), ws.end.Load()})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.first, b.first) })
	for i := 1; i < len(spans); i++ {
		a, b := spans[i-1], spans[i]
		if gap := time.Duration(b.first - a.end); gap > timeout {
			fmt.Fprintf(w, "flowd replay: warning: %s starts %v after %s ends (%s, %s): read together, %s's packets moved the engine clock past %s's flows, which timed out early; replay them one at a time to keep each table as it was\n",
				b.name, gap.Round(time.Second), a.name, time.Unix(0, a.end).UTC().Format(time.RFC3339), time.Unix(0, b.first).UTC().Format(time.RFC3339), b.name, a.name)
		}
	}
}

// exitOnSecondSignal exits at once on another signal, saying how many of
// the flows read were not written and, with flow logs on, that the records
// of objects not yet saved are lost.
func exitOnSecondSignal(sigs <-chan os.Signal, e *engine.Engine, sink *output.Sink, flowLogs bool) {
	sig := <-sigs
	var lost []string
	if sink != nil {
		created := e.Status().Table.Created
		lost = append(lost, fmt.Sprintf("%d of %d flows were not written", created-min(created, sink.Written()+sink.Omitted()), created))
	}
	if flowLogs {
		lost = append(lost, "flow-log records of the objects not yet saved are lost (saved objects are whole)")
	}
	msg := "nothing was being written"
	if len(lost) > 0 {
		msg = strings.Join(lost, "; ")
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
	if line := tunnelSummary(st); line != "" {
		fmt.Fprintf(w, "tunnels: %s\n", line)
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

// tunnelSummary says which tunnels the packets carried and why some of the
// packets inside could not be decoded; "" when there were no tunnels.
func tunnelSummary(st engine.Status) string {
	kinds, errs := map[string]uint64{}, map[string]uint64{}
	for i := range st.Sources {
		s := &st.Sources[i]
		s.TunnelCounts(func(kind string, n uint64) { kinds[kind] += n })
		s.TunnelErrorCounts(func(reason string, n uint64) { errs[reason] += n })
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, kinds[k]))
	}
	line := strings.Join(parts, ", ")
	if len(errs) > 0 {
		parts = parts[:0]
		for _, r := range slices.Sorted(maps.Keys(errs)) {
			parts = append(parts, fmt.Sprintf("%s %d", r, errs[r]))
		}
		line += "; not decodable inside: " + strings.Join(parts, ", ")
	}
	return line
}
