package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/internal/ipfix"
	"github.com/flowd/flowd/internal/output"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	if v == "" {
		return errors.New("empty value")
	}
	*l = append(*l, v)
	return nil
}

// exportFlags are the IPFIX and NetFlow v9 export settings replay and serve
// share.
type exportFlags struct {
	ipfix, netflow9 listFlag
	biflow          bool
	domain          uint
	rate            int
	active          time.Duration
}

func (x *exportFlags) register(fs *cmdFlags) {
	fs.section(groupExport)
	fs.Var(&x.ipfix, "ipfix", "send ended flows as IPFIX to this collector: `HOST:PORT` (UDP) or tcp://HOST:PORT (repeatable)")
	fs.Var(&x.netflow9, "netflow9", "send ended flows as NetFlow v9 to this collector, `HOST:PORT` over UDP (repeatable)")
	fs.BoolVar(&x.biflow, "ipfix-biflow", false, "IPFIX: one RFC 5103 biflow record per flow instead of one record per direction")
	fs.UintVar(&x.domain, "observation-domain", 0, "IPFIX observation domain id (NetFlow v9 source id) of the export")
	fs.IntVar(&x.rate, "export-rate", 2000, "UDP export pacing in datagrams per second (bursts of 32; -1: unpaced)")
	fs.DurationVar(&x.active, "active-timeout", 30*time.Minute, "report a flow still going on to the collectors every this much of its age, as softflowd and nfpcapd do (0: only when it ends)")
}

// activeTimeout is the engine's active timeout: none unless something is
// exported.
func (x *exportFlags) activeTimeout() (time.Duration, error) {
	if x.active < 0 {
		return 0, usagef("--active-timeout %v: want 0 or more", x.active)
	}
	if len(x.ipfix)+len(x.netflow9) == 0 {
		return 0, nil
	}
	return x.active, nil
}

// open starts an exporter per collector and adds it to e as a sink. clock
// gives the export time: a replay passes its engine clock, so that NetFlow
// v9's 32-bit relative times reach old captures' flows. Unless the engine
// drops when its sinks fall behind (live capture), a full export queue
// holds the sinks up instead of dropping: reading files, nothing is lost by
// waiting, and at a replay's end every flow ends at once, far more than the
// queue holds. On error it closes the exporters it started, and e must not
// run.
func (x *exportFlags) open(e *engine.Engine, clock func() time.Time) ([]exporter, error) {
	wait := !e.DropsWhenSinksBehind()
	if x.domain > 1<<32-1 {
		return nil, usagef("--observation-domain %d: want 0 to 4294967295", x.domain)
	}
	if x.rate == 0 || x.rate < -1 {
		return nil, usagef("--export-rate %d: want a positive rate, or -1 for none", x.rate)
	}
	var out []exporter
	fail := func(err error) ([]exporter, error) {
		for _, x := range out {
			x.sink.Close()
		}
		return nil, err
	}
	add := func(flag, collector string, p ipfix.Protocol) error {
		s, err := output.NewExportSink(ipfix.Config{Collector: collector, Protocol: p, Biflow: x.biflow && p == ipfix.IPFIX,
			ObservationDomain: uint32(x.domain), MessagesPerSecond: x.rate, Clock: clock, Wait: wait})
		if err != nil {
			return fmt.Errorf("--%s %s: %w", flag, collector, err)
		}
		e.AddSink(s)
		out = append(out, exporter{name: flag + " " + collector, sink: s})
		return nil
	}
	for _, c := range x.ipfix {
		if err := add("ipfix", c, ipfix.IPFIX); err != nil {
			return fail(err)
		}
	}
	for _, c := range x.netflow9 {
		if strings.HasPrefix(c, "tcp://") {
			return fail(usagef("--netflow9 %s: NetFlow v9 goes over UDP only", c))
		}
		if err := add("netflow9", c, ipfix.NetFlow9); err != nil {
			return fail(err)
		}
	}
	return out, nil
}

// exporter is one running export, for the summary.
type exporter struct {
	name string
	sink *output.ExportSink
}

// printExports says, per collector, what was sent and what was dropped.
func printExports(w io.Writer, xs []exporter) {
	for _, x := range xs {
		st := x.sink.Stats()
		fmt.Fprintf(w, "export:  %s: %d flows as %d records in %d messages (+%d template messages), %d dropped\n",
			x.name, st.Added, st.DataRecords, st.Messages, st.Templates, st.Dropped())
	}
}

// engineClock returns the engine clock as a time, the wall clock before the
// first packet.
func engineClock(e *engine.Engine) func() time.Time {
	return func() time.Time {
		if ns := e.Now(); ns != 0 {
			return time.Unix(0, ns)
		}
		return time.Now()
	}
}

// outputCounts reports what serve's outputs wrote, for /metrics: the EVE
// file's flows, each collector's data records, the flow log records.
func outputCounts(eve *output.Sink, exports []exporter, fls *serveFlowLogs) func() []api.OutputCount {
	return func() []api.OutputCount {
		var out []api.OutputCount
		if eve != nil {
			out = append(out, api.OutputCount{Output: "eve", Events: eve.Written()})
		}
		for _, x := range exports {
			st := x.sink.Stats()
			out = append(out, api.OutputCount{Output: x.name, Events: st.DataRecords, Dropped: st.Dropped()})
		}
		if fls != nil && fls.sink != nil {
			st := fls.sink.Stats()
			out = append(out, api.OutputCount{Output: "flow logs", Events: st.Records + st.NoData + st.SkipData, Dropped: st.Errors})
		}
		return out
	}
}
