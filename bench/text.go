package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText prints r for people: what was measured, then aligned tables.
func (r *Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	in := &r.Input
	fmt.Fprintf(ew, "flowd bench: %s, %d frames, %s, %d flows", in.Name, in.Frames, SI(float64(in.Bytes), "B"), in.Flows)
	if g := in.Gen; g != nil {
		fmt.Fprintf(ew, " (generated: %d flows, mean %.3g packets, skew %g, IPv6 %g, VLAN %g, QinQ %g, %s sizes, seed %d)",
			g.Flows, g.MeanPackets, g.Skew, g.IPv6, g.VLAN, g.QinQ, g.Sizes, g.Seed)
	}
	fmt.Fprintf(ew, "\nmachine: %s; %s\n", r.Machine, r.Date.Format(time.RFC3339))
	fmt.Fprintf(ew, "medians of %d runs; cpu is the process's user+system time, steadier than wall on a shared machine\n\n", r.Runs)

	walk := r.Phase(PhaseWalk, 0)
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tpackets/s\tns/pkt\tcpu ns/pkt\tallocs/pkt\t× walk (wall)\t× walk (cpu)\t")
	for i := range r.Phases {
		p := &r.Phases[i]
		var x, xc string
		if walk != nil && walk.WallNs > 0 && walk.CPUNs > 0 {
			x = fmt.Sprintf("%.2f", p.WallNs/walk.WallNs)
			xc = fmt.Sprintf("%.2f", p.CPUNs/walk.CPUNs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%s\t%s\t%s\t\n", p.Label(), SI(p.PacketsPerSec, ""), p.NsPerPacket,
			p.CPUNsPerPacket, fmtAllocs(p.AllocsPerPacket), x, xc)
	}
	tw.Flush()
	fmt.Fprintln(ew)

	if o := r.Output; o != nil {
		fmt.Fprintf(ew, "output: a replay writing csv takes %.2f× (cpu %.2f×) one writing nothing, eve %.2f× (cpu %.2f×); target 1.3×\n",
			o.CSV, o.CSVCPU, o.EVE, o.EVECPU)
		if o.IPFIXRecords > 0 {
			fmt.Fprintf(ew, "export: IPFIX to loopback, unpaced: %.2f× (cpu %.2f×) the replay, %d records, %s records/s\n",
				o.IPFIX, o.IPFIXCPU, o.IPFIXRecords, SI(o.IPFIXRecordsPerSec, ""))
		}
		if o.FlowLogRecords > 0 {
			fmt.Fprintf(ew, "flow logs: gzip text, 60 s windows: %.2f× (cpu %.2f×) the replay, %d records\n",
				o.FlowLog, o.FlowLogCPU, o.FlowLogRecords)
		}
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(ew, "memory: %d flows in a table of %d: %s heap, %.1f B/flow (slab entry %d B); map twin %.1f B/flow\n",
			m.Flows, m.TableMax, SI(float64(m.HeapBytes), "B"), m.BytesPerFlow, m.FlowSize, m.MapBytesPerFlow)
	}
	if c := r.Churn; c != nil {
		fmt.Fprintf(ew, "churn: %d flows (%d packets) through a %d-flow table, %v timeouts: %s created/s, %s expired/s, %s allocs/pkt, emergency entered %d times\n",
			c.Flows, c.Packets, c.Table, time.Duration(c.TimeoutNs), SI(c.CreatedPerSec, ""), SI(c.ExpiredPerSec, ""),
			fmtAllocs(c.AllocsPerPacket), c.EmergencyEntered)
	}
	if s := r.Scan; s != nil {
		fmt.Fprintf(ew, "scan: %d compiled filters over %d flows, %d worker%s: %s flows/s/core (%.2f ms, %d matched)\n",
			s.Filters, s.Flows, s.Workers, plural(s.Workers), SI(s.FlowsPerSecPerCore, ""), s.WallNs/1e6, s.Matched)
	}
	if c := r.Capture; c != nil {
		fmt.Fprintf(ew, "StartFlowCapture to %s: %.2f ms (%.2f ms until Wait returned), %d flows, %d matched\n",
			c.Status, c.Ms, c.WallMs, c.Flows, c.Matched)
	}
	if v := r.Vs; v != nil {
		fmt.Fprintln(ew)
		v.writeText(ew)
	}
	return ew.err
}

func (v *Vs) writeText(w io.Writer) {
	fmt.Fprintf(w, "vs other tools: %s (%s, %d frames), medians of up to %d runs, round-robin\n",
		v.Pcap, SI(float64(v.Bytes), "B"), v.Frames, v.Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "tool\twall\tcpu\tpackets/s\tpeak RSS\tflowd is × (wall)\t× (cpu)\tcollector got\truns\tcommand")
	rows := v.Rows
	if v.Flowd != nil {
		rows = append([]ToolRow{*v.Flowd}, rows...)
	}
	for _, r := range rows {
		if r.Err != "" && r.Runs == 0 {
			fmt.Fprintf(tw, "%s\tfailed: %s\t\t\t\t\t\t\t\t%s\n", r.Name, r.Err, r.Command)
			continue
		}
		ratio, cratio := "", ""
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		if r.CPURatio > 0 {
			cratio = fmt.Sprintf("%.2f", r.CPURatio)
		}
		if r.Against != "" && ratio != "" {
			ratio += " (vs " + r.Against + ")"
		}
		got := ""
		if c := r.Collected; c != nil {
			got = fmt.Sprintf("%d flows, %d pkts", c.Records, c.Packets)
			if c.SocketDrops > 0 {
				got += fmt.Sprintf(", %d dropped", c.SocketDrops)
			}
		}
		fmt.Fprintf(tw, "%s\t%.3f s\t%.3f s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Name, r.WallNs/1e9, r.CPUNs/1e9,
			SI(r.PacketsPerSec, ""), SI(float64(r.PeakRSS), "B"), ratio, cratio, got, r.Runs, r.Command)
	}
	tw.Flush()
	seen := map[string]bool{}
	for _, r := range rows {
		if r.Note != "" && !seen[r.Note] {
			seen[r.Note] = true
			fmt.Fprintf(w, "  %s: %s\n", r.Name, r.Note)
		}
	}
	for _, r := range rows {
		switch {
		case r.Err != "" && r.FailedRuns > 0:
			fmt.Fprintf(w, "  %s: %d of %d runs exited non-zero after sending (timed and counted all the same): %s\n",
				r.Name, r.FailedRuns, r.Runs, r.Err)
		case r.Err != "" && r.Runs > 0:
			fmt.Fprintf(w, "  %s: stopped after %d runs: %s\n", r.Name, r.Runs, r.Err)
		}
	}
	if len(v.Missing) > 0 {
		fmt.Fprintf(w, "not installed, so not compared: %s (make bench installs them as root)\n", strings.Join(v.Missing, ", "))
	}
}

// Label names a phase for people.
func (p *Phase) Label() string {
	switch p.Name {
	case PhaseWalk:
		return "walk (I/O floor)"
	case PhaseDecode:
		return "decode only"
	case PhaseEngine:
		if p.Workers == 1 {
			return "engine, 1 worker"
		}
		return fmt.Sprintf("engine, %d workers", p.Workers)
	case PhaseMap:
		return "map[Key]*Flow twin"
	}
	return p.Name
}

// SI formats v with a metric prefix: 1.23 M, 456 k.
func SI(v float64, unit string) string {
	sep := " "
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2f%sG%s", v/1e9, sep, unit)
	case v >= 1e6:
		return fmt.Sprintf("%.2f%sM%s", v/1e6, sep, unit)
	case v >= 1e3:
		return fmt.Sprintf("%.1f%sk%s", v/1e3, sep, unit)
	}
	if unit == "" {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	_, e.err = e.w.Write(p)
	return len(p), nil
}
