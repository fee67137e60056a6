package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/filter"
	"github.com/flowd/flowd/internal/flowfilter"
	"github.com/flowd/flowd/internal/output"
)

// selectFlags are replay's flags that pick flows (--capture, --since,
// --until) and aggregate them (--top, --by, --group-by).
type selectFlags struct {
	capture      listFlag
	since, until string
	top          int
	by, groupBy  string
}

func (s *selectFlags) register(fs *cmdFlags) {
	fs.Var(&s.capture, "capture", "print only the flows matching these AWS `FILTERS`, shorthand (SourceAddress={AddressDefinition=10.0.0.0/8},DestinationPort=443,Protocols=6) or JSON, or file://PATH (repeatable: a flow matching any is printed)")
	fs.StringVar(&s.since, "since", "", "print only flows whose last packet is at or after this `time`: RFC 3339, or a duration after the capture's first packet (30s, 1h)")
	fs.StringVar(&s.until, "until", "", "print only flows whose first packet is at or before this `time`: RFC 3339, or a duration after the capture's first packet")
	fs.IntVar(&s.top, "top", 0, "print the N busiest groups of flows (see --by, --group-by) instead of the flows")
	fs.StringVar(&s.by, "by", "bytes", "with --top, rank groups by bytes, packets or flows")
	fs.StringVar(&s.groupBy, "group-by", "pair", "with --top, group flows by src (initiator address), dst (responder address), pair (both), proto, or port (responder port)")
}

// selection is the compiled form of selectFlags.
type selection struct {
	set          *filter.Set
	since, until timePoint
	topN         int
	by, groupBy  string
}

// timePoint is an absolute time or an offset from the capture's start.
type timePoint struct {
	set    bool
	abs    int64 // Unix ns, when !rel
	rel    bool
	offset time.Duration
}

func (t timePoint) at(start int64) int64 {
	if t.rel {
		return start + int64(t.offset)
	}
	return t.abs
}

func parseTimePoint(flag, v string) (timePoint, error) {
	if v == "" {
		return timePoint{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return timePoint{set: true, abs: t.UnixNano()}, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return timePoint{set: true, rel: true, offset: d}, nil
	}
	return timePoint{}, usagef("--%s %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration after the capture's start (90s, 1h)", flag, v)
}

func (s *selectFlags) compile() (*selection, error) {
	sel := &selection{topN: s.top, by: s.by, groupBy: s.groupBy}
	if len(s.capture) > 0 {
		ff, err := flowfilter.Parse(s.capture, true)
		var fe *flowfilter.Error
		if errors.As(err, &fe) {
			return nil, usagef("--capture: %s", strings.ReplaceAll(fe.Msg, "\n", " "))
		}
		if err != nil {
			return nil, usagef("--capture: %v", err)
		}
		filters := make([]filter.Filter, len(ff))
		for i, f := range ff {
			if f.SourceAddress != nil {
				filters[i].SourceAddress = f.SourceAddress.AddressDefinition
			}
			if f.DestinationAddress != nil {
				filters[i].DestinationAddress = f.DestinationAddress.AddressDefinition
			}
			filters[i].SourcePort, filters[i].DestinationPort = f.SourcePort, f.DestinationPort
			filters[i].Protocols = f.Protocols
		}
		sel.set, err = filter.Compile(filters, 0)
		if err != nil {
			return nil, usagef("--capture: %v", err)
		}
	}
	var err error
	if sel.since, err = parseTimePoint("since", s.since); err != nil {
		return nil, err
	}
	if sel.until, err = parseTimePoint("until", s.until); err != nil {
		return nil, err
	}
	if s.top < 0 {
		return nil, usagef("--top %d: want a positive number of groups", s.top)
	}
	switch s.by {
	case "bytes", "packets", "flows":
	default:
		return nil, usagef("--by %q: want bytes, packets or flows", s.by)
	}
	switch s.groupBy {
	case "src", "dst", "pair", "proto", "port":
	default:
		return nil, usagef("--group-by %q: want src, dst, pair, proto or port", s.groupBy)
	}
	return sel, nil
}

func (s *selection) top() bool    { return s.topN > 0 }
func (s *selection) active() bool { return s.set != nil || s.since.set || s.until.set || s.top() }

// sink wraps next (nil with --top) in a sink that passes on only the
// selected flows, or aggregates them for --top. start returns the first
// packet's time, for relative --since and --until.
func (s *selection) sink(next engine.Sink, start func() int64, format output.Format, out string) (*selectSink, error) {
	ss := &selectSink{sel: s, next: next, start: start}
	if s.top() {
		switch format {
		case output.FormatCSV, output.FormatJSON:
			ss.topFormat = format
		default:
			ss.topFormat = output.FormatTable
		}
		ss.groups = map[string]*topGroup{}
		ss.out = os.Stdout
		if out != "" {
			f, err := os.Create(out)
			if err != nil {
				return nil, err
			}
			ss.out, ss.outFile = f, f
		}
	}
	return ss, nil
}

// selectSink is the engine.Sink of --capture, --since, --until and --top.
// The engine calls it from one goroutine.
type selectSink struct {
	sel   *selection
	next  engine.Sink
	start func() int64

	resolved     bool
	since, until int64 // Unix ns; valid once resolved

	buf            []engine.Flow
	seen, selected uint64

	groups    map[string]*topGroup
	topFormat output.Format
	out       io.Writer
	outFile   *os.File
}

// topGroup is one group of --top.
type topGroup struct {
	key            []string
	flows, packets uint64
	bytes          uint64
}

func (s *selectSink) match(f *engine.Flow) bool {
	if !s.resolved {
		// The first flow ends after the first packet was read, so the
		// capture's start is known by now.
		st := s.start()
		s.since, s.until = s.sel.since.at(st), s.sel.until.at(st)
		s.resolved = true
	}
	if s.sel.since.set && f.Last < s.since {
		return false
	}
	if s.sel.until.set && f.First > s.until {
		return false
	}
	if s.sel.set == nil {
		return true
	}
	ff := filter.Flow{Src: f.Src, Dst: f.Dst, Family: f.Family, SrcPort: f.SrcPort, DstPort: f.DstPort,
		Proto: f.Proto, AgeSeconds: (f.Last - f.First) / int64(time.Second)}
	return s.sel.set.Match(&ff)
}

func (s *selectSink) FlowsEnded(flows []engine.Flow) error {
	s.buf = s.buf[:0]
	for i := range flows {
		s.seen++
		if !s.match(&flows[i]) {
			continue
		}
		s.selected++
		if s.groups != nil {
			s.add(&flows[i])
			continue
		}
		s.buf = append(s.buf, flows[i])
	}
	if s.next == nil || len(s.buf) == 0 {
		return nil
	}
	return s.next.FlowsEnded(s.buf)
}

// StartOrder and DrainSorted pass the sorted drain on to the writer.
func (s *selectSink) StartOrder() bool {
	o, ok := s.next.(engine.OrderedSink)
	return ok && o.StartOrder()
}

func (s *selectSink) DrainSorted() error {
	if o, ok := s.next.(engine.OrderedSink); ok {
		return o.DrainSorted()
	}
	return nil
}

func (s *selectSink) Close() error {
	var err error
	if s.groups != nil {
		err = s.writeTop()
		if s.outFile != nil {
			err = errors.Join(err, s.outFile.Close())
		}
	}
	if s.next != nil {
		err = errors.Join(err, s.next.Close())
	}
	return err
}

// printSummary says how many flows the selection kept.
func (s *selectSink) printSummary(w io.Writer) {
	fmt.Fprintf(w, "selected: %d of %d flows", s.selected, s.seen)
	if s.groups != nil {
		fmt.Fprintf(w, ", in %d groups (--group-by %s)", len(s.groups), s.sel.groupBy)
	}
	fmt.Fprintln(w)
}

// groupColumns names the key columns of a --group-by.
func groupColumns(by string) []string {
	if by == "pair" {
		return []string{"src", "dst"}
	}
	return []string{by}
}

func (s *selectSink) add(f *engine.Flow) {
	var key []string
	switch s.sel.groupBy {
	case "src":
		key = []string{f.SrcAddr().String()}
	case "dst":
		key = []string{f.DstAddr().String()}
	case "pair":
		key = []string{f.SrcAddr().String(), f.DstAddr().String()}
	case "proto":
		key = []string{output.ProtoName(f.Proto)}
	case "port":
		key = []string{strconv.Itoa(int(f.DstPort))}
	}
	k := strings.Join(key, " ")
	g := s.groups[k]
	if g == nil {
		g = &topGroup{key: key}
		s.groups[k] = g
	}
	g.flows++
	g.packets += f.Pkts[0] + f.Pkts[1]
	g.bytes += f.Bytes[0] + f.Bytes[1]
}

// ranked returns the top groups: most first, ties by key.
func (s *selectSink) ranked() []*topGroup {
	gs := make([]*topGroup, 0, len(s.groups))
	for _, g := range s.groups {
		gs = append(gs, g)
	}
	metric := func(g *topGroup) uint64 {
		switch s.sel.by {
		case "packets":
			return g.packets
		case "flows":
			return g.flows
		}
		return g.bytes
	}
	slices.SortFunc(gs, func(a, b *topGroup) int {
		if c := cmp.Compare(metric(b), metric(a)); c != 0 {
			return c
		}
		return slices.Compare(a.key, b.key)
	})
	return gs[:min(len(gs), s.sel.topN)]
}

func (s *selectSink) writeTop() error {
	cols := groupColumns(s.sel.groupBy)
	gs := s.ranked()
	var b strings.Builder
	switch s.topFormat {
	case output.FormatCSV:
		b.WriteString(strings.Join(append(cols, "flows", "packets", "bytes"), ",") + "\n")
		for _, g := range gs {
			fmt.Fprintf(&b, "%s,%d,%d,%d\n", strings.Join(g.key, ","), g.flows, g.packets, g.bytes)
		}
	case output.FormatJSON:
		for _, g := range gs {
			m := map[string]any{"flows": g.flows, "packets": g.packets, "bytes": g.bytes}
			for i, c := range cols {
				m[c] = g.key[i]
			}
			line, _ := json.Marshal(m)
			b.Write(line)
			b.WriteByte('\n')
		}
	default:
		widths := make([]int, len(cols))
		for i, c := range cols {
			widths[i] = len(c)
			for _, g := range gs {
				widths[i] = max(widths[i], len(g.key[i]))
			}
		}
		for i, c := range cols {
			fmt.Fprintf(&b, "%-*s  ", widths[i], strings.ToUpper(c))
		}
		fmt.Fprintf(&b, "%10s %12s %14s\n", "FLOWS", "PACKETS", "BYTES")
		for _, g := range gs {
			for i := range cols {
				fmt.Fprintf(&b, "%-*s  ", widths[i], g.key[i])
			}
			fmt.Fprintf(&b, "%10d %12d %14d\n", g.flows, g.packets, g.bytes)
		}
	}
	_, err := io.WriteString(s.out, b.String())
	return err
}
