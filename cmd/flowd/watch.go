package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/output"
)

const watchUsage = `Usage: flowd watch --iface NAME [flags]

Captures live interfaces and prints each flow as it ends, in the formats and
columns of 'flowd replay' (eve: Suricata's eve.json flow events). On a
terminal, without -o, it shows instead a view of the busiest flows in the
table, refreshed every second, with the packet rate and the kernel's drops
(--view flows prints the ending flows there too).

SIGINT or SIGTERM reads the frames the interface received before it (at
most a second), ends every flow in the table with reason "shutdown", writes
it, and exits 0. An unknown interface, missing privileges
(CAP_NET_RAW) or a filter that does not compile exit 2 with the reason.
`

type watchOpts struct {
	format string
	out    string
	view   string
	top    int
	vf     eveFlags
	sf     statsFlags
	ef     engineFlags
	lf     liveFlags
	xf     exportFlags
}

func runWatch(args []string) error {
	var o watchOpts
	fs := newCmdFlags("watch", watchUsage)
	o.lf.register(fs)
	fs.section(groupOutput)
	fs.StringVar(&o.format, "format", "table", "flow output: table, json, csv or eve")
	fs.StringVar(&o.out, "o", "", "append the flows to this file instead of writing them to stdout")
	fs.StringVar(&o.view, "view", "auto", "top (the busiest flows, refreshed every second), flows (each flow as it ends), or auto (top on a terminal without -o)")
	fs.IntVar(&o.top, "top", 20, "flows the top view shows")
	o.vf.register(fs)
	o.sf.register(fs)
	o.ef.register(fs)
	o.xf.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q (interfaces go with --iface)", errLiveUsage, fs.Arg(0))
	}
	if len(o.lf.ifaces) == 0 {
		return fmt.Errorf("%w: no --iface given", errLiveUsage)
	}
	format, err := output.ParseFormat(o.format)
	if err != nil || format == output.FormatNone {
		return fmt.Errorf("%w: --format %q: want table, json, csv or eve", errLiveUsage, o.format)
	}
	top := false
	switch o.view {
	case "top":
		top = true
	case "flows":
	case "auto":
		top = o.out == "" && isTerminal(os.Stdout)
	default:
		return fmt.Errorf("%w: --view %q: want top, flows or auto", errLiveUsage, o.view)
	}
	if err := o.sf.check(format == output.FormatEVE && (!top || o.out != ""), "--format eve, with the flows written (--view flows or -o FILE)"); err != nil {
		return err
	}
	cfg, err := o.ef.config()
	if err != nil {
		return err
	}
	if cfg.Table.ActiveTimeout, err = o.xf.activeTimeout(); err != nil {
		return err
	}
	cfg.Clock = engine.ClockWall
	cfg.DropWhenSinksBehind = true
	e, err := engine.New(cfg)
	if err != nil {
		return err
	}
	infos, err := o.lf.open(e, engine.SourceInfo{})
	if err != nil {
		return err
	}
	opts, err := o.vf.options(infos)
	if err != nil {
		return err
	}
	opts.Stream = true
	var sink *output.Sink
	if !top || o.out != "" {
		sink, err = output.NewSink(output.SinkConfig{Format: format, Path: o.out, Append: o.out != "",
			Order: output.OrderEnd, Options: opts})
		if err != nil {
			return err
		}
		e.AddSink(sink)
	}
	exports, err := o.xf.open(e, engineClock(e))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := e.Start(context.Background()); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "flowd watch: capturing %s (%s, %d worker(s)); SIGINT or SIGTERM to stop\n",
		strings.Join(o.lf.ifaces, ", "), o.lf.source, e.Workers())
	stats := startLiveStats(o.sf.interval, e, sink)
	if top {
		runTopView(ctx, os.Stdout, e, o.top)
	} else {
		<-ctx.Done()
	}
	stop()
	statsErr := stats.finish()
	st := e.Status()
	err = errors.Join(e.Stop(engine.ReasonShutdown), statsErr)
	end := e.Status()
	fmt.Fprintf(os.Stderr, "flowd watch: stopped: %d packets counted, %d flows created, %d kernel drops\n",
		end.Packets, end.Table.Created, drops(&st))
	printExports(os.Stderr, exports)
	return err
}

// drops sums the sources' kernel drops.
func drops(st *engine.Status) (n uint64) {
	for i := range st.Sources {
		n += st.Sources[i].Drops
	}
	return n
}

// runTopView redraws the busiest flows every second until ctx ends.
func runTopView(ctx context.Context, w io.Writer, e *engine.Engine, n int) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	prev := e.Status()
	prevAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			st := e.Status()
			res, err := e.Scan(ctx, engine.ScanRequest{Limit: 1 << 20, ShardTimeout: 500 * time.Millisecond})
			if err != nil {
				return
			}
			io.WriteString(w, "\x1b[H\x1b[2J") // home, clear screen
			writeTop(w, &st, &prev, now.Sub(prevAt), res.Flows.All(), n)
			prev, prevAt = st, now
		}
	}
}

// writeTop writes one frame of the top view: rates since the last frame,
// then the n flows with the most bytes.
func writeTop(w io.Writer, st, prev *engine.Status, dt time.Duration, flows []engine.FlowResult, n int) {
	secs := max(dt.Seconds(), 1e-3)
	var bytes, prevBytes uint64
	for i := range st.Sources {
		bytes += st.Sources[i].Bytes
	}
	for i := range prev.Sources {
		prevBytes += prev.Sources[i].Bytes
	}
	fmt.Fprintf(w, "flows %d active, %d created   packets/s %.0f   bits/s %s   kernel drops %d\n\n",
		st.Table.Active, st.Table.Created, float64(st.Packets-min(prev.Packets, st.Packets))/secs,
		siRate(float64(bytes-min(prevBytes, bytes))*8/secs), drops(st))
	slices.SortFunc(flows, func(a, b engine.FlowResult) int { return cmp.Compare(b.Bytes, a.Bytes) })
	fmt.Fprintf(w, "%-5s %-46s %-46s %10s %12s %6s\n", "PROTO", "SOURCE", "DESTINATION", "PACKETS", "IP BYTES", "AGE")
	for i := range flows[:min(n, len(flows))] {
		f := &flows[i]
		fmt.Fprintf(w, "%-5s %-46s %-46s %10d %12d %5ds\n", output.ProtoName(f.Proto),
			endpoint(f.SrcAddr().String(), f.SrcPort, f.Family), endpoint(f.DstAddr().String(), f.DstPort, f.Family),
			f.Packets, f.Bytes, f.Age)
	}
}

func endpoint(addr string, port uint16, family uint8) string {
	if family == 6 {
		addr = "[" + addr + "]"
	}
	return fmt.Sprintf("%s:%d", addr, port)
}

func siRate(v float64) string {
	for _, u := range []string{"", "k", "M", "G"} {
		if v < 1000 {
			return fmt.Sprintf("%.1f %s", v, u)
		}
		v /= 1000
	}
	return fmt.Sprintf("%.1f T", v)
}
