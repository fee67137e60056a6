package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A Tool is another program that turns a pcap into flows, run on the same
// file as flowd for target P1 (docs/TARGETS.md). Its steps run in order; each row
// of the results covers the steps up to and including one step, so argus
// reports "argus" alone and "argus+racluster".
type Tool struct {
	Name  string
	Steps []Step
	// Note says why the command line is what it is.
	Note string
	// Collector: every run gets a fresh nfcapd (Debian's nfdump) on a
	// loopback UDP port, {collector} in Args. The run's time ends when the
	// tool has exited and the collector has read every datagram waiting on
	// its socket, and the row reports what nfdump reads back from the
	// collector's files.
	Collector bool
	// Against names the row whose times this tool's ratios divide by;
	// empty: flowd's reference row.
	Against string
}

// Step is one command of a tool. Args may hold {pcap} (the capture file),
// {out} (an empty directory for the tool's output, fresh each run),
// {collector} (127.0.0.1:PORT of the run's nfcapd, for tools with
// Collector set) and {maxflows} (twice the flows, at least 65,536).
type Step struct {
	Label string // the row name for the steps up to this one
	Args  []string
}

// Tools are the comparison tools `-vs` knows, by name.
var Tools = []Tool{
	{
		Name: "softflowd",
		Steps: []Step{{"softflowd", []string{"softflowd", "-r", "{pcap}", "-n", "{collector}", "-v", "9",
			"-m", "{maxflows}", "-6"}}},
		Collector: true,
		Against:   flowdExportName,
		Note: "pcap to NetFlow v9 into its own nfcapd, timed until softflowd has exited and nfcapd has read " +
			"its socket dry, compared with " + flowdExportName + "; -6 tracks IPv6 flows too, -m holds every " +
			"flow (default 8192 would force-expire); no -c: with -r softflowd opens no control socket, " +
			"and -c after -r blocks in accept()",
	},
	{
		Name:  "nfpcapd",
		Steps: []Step{{"nfpcapd", []string{"nfpcapd", "-r", "{pcap}", "-w", "{out}"}}},
		Note:  "pcap to nfcapd files in a fresh directory (nfdump's pcap collector)",
	},
	{
		Name: "argus",
		Steps: []Step{
			{"argus", []string{"argus", "-r", "{pcap}", "-w", "{out}/flows.argus"}},
			{"argus+racluster", []string{"racluster", "-r", "{out}/flows.argus", "-w", "{out}/flows.rac"}},
		},
		Note: "argus writes flow status records (several per long flow); racluster merges them into one per flow",
	},
	{
		Name:  "tshark",
		Steps: []Step{{"tshark", []string{"tshark", "-n", "-r", "{pcap}", "-q", "-z", "conv,tcp", "-z", "conv,udp"}}},
		Note:  "TCP and UDP conversation tables (5-tuple flows), no name resolution",
	},
}

// ToolNames lists the names of Tools.
func ToolNames() []string {
	var ns []string
	for _, t := range Tools {
		ns = append(ns, t.Name)
	}
	return ns
}

// LookupTools returns the tools named, in the order given, and the
// programs that are not installed (not in PATH). A tool whose first program
// is missing is left out; one whose later step is missing keeps the steps
// before it.
func LookupTools(names []string) (found []Tool, missing []string, err error) {
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		var t *Tool
		for i := range Tools {
			if Tools[i].Name == n {
				t = &Tools[i]
			}
		}
		if t == nil {
			return nil, nil, fmt.Errorf("bench: unknown tool %q (known: %s)", n, strings.Join(ToolNames(), ", "))
		}
		// Keep the steps up to the first whose program is missing: argus
		// without racluster still compares as argus.
		tt := *t
		for i, s := range t.Steps {
			if _, err := exec.LookPath(s.Args[0]); err != nil {
				tt.Steps = t.Steps[:i]
				missing = append(missing, s.Args[0])
				break
			}
		}
		if tt.Collector && len(tt.Steps) > 0 {
			for _, prog := range []string{"nfcapd", "nfdump"} {
				if _, err := exec.LookPath(prog); err != nil {
					tt.Steps = nil
					if !slices.Contains(missing, prog) {
						missing = append(missing, prog)
					}
				}
			}
		}
		if len(tt.Steps) > 0 {
			found = append(found, tt)
		}
	}
	return found, missing, nil
}

// VsConfig says how RunTools compares.
type VsConfig struct {
	Pcap    string // the capture file all tools read
	Frames  uint64 // frames in it, for packets/s
	Flows   int    // flows in it (0: unknown), for table sizes
	Runs    int    // runs of each tool (default 3)
	Tools   []Tool
	Missing []string
	// Flowd is the flowd executable; it runs `replay --format none -quiet
	// -workers 1` on the same file as the reference row. Empty: no row.
	Flowd string
	// SlowAfter: a tool whose first run takes longer than this runs once
	// only (default 30 s), so one slow tool cannot eat the time budget.
	SlowAfter time.Duration
	// StepTimeout bounds one command (default 10 min).
	StepTimeout time.Duration
	Progress    io.Writer
}

// Vs is the comparison with other tools on one capture file.
type Vs struct {
	Pcap    string    `json:"pcap"`
	Bytes   int64     `json:"bytes"`
	Frames  uint64    `json:"frames"`
	Runs    int       `json:"runs"`
	Flowd   *ToolRow  `json:"flowd,omitempty"`
	Rows    []ToolRow `json:"rows"`
	Missing []string  `json:"missing,omitempty"`
}

// ToolRow is one tool (or a prefix of its steps) over the capture: medians.
type ToolRow struct {
	Name          string  `json:"name"`
	Command       string  `json:"command"`
	Note          string  `json:"note,omitempty"`
	Runs          int     `json:"runs"`
	WallNs        float64 `json:"wall_ns"`
	CPUNs         float64 `json:"cpu_ns"`   // user + system time of the commands
	PeakRSS       uint64  `json:"peak_rss"` // largest of the commands, bytes
	PacketsPerSec float64 `json:"packets_per_s"`
	// Ratio is this row's wall time over flowd's (how many times faster
	// flowd is); CPURatio the same for CPU time. 0 when there is no flowd
	// row.
	Ratio    float64 `json:"ratio"`
	CPURatio float64 `json:"cpu_ratio"`
	// FailedRuns counts the runs of a collector tool that exited non-zero
	// after sending (Err says why); they are timed and counted all the same.
	FailedRuns int `json:"failed_runs,omitempty"`
	// Against is the row the ratios divide by; empty: flowd's reference.
	Against string `json:"against,omitempty"`
	// Collected is what the row's collector got; nil for tools without one.
	Collected *Collected `json:"collected,omitempty"`
	Err       string     `json:"error,omitempty"`
}

// Collected is what a tool's nfcapd received, as nfdump reads it back from
// the collector's files: medians over the runs, and the most datagrams the
// collector's socket dropped in a run (the kernel's count; -1 where it
// cannot be read).
type Collected struct {
	Records     uint64 `json:"records"` // flow records (a uniflow exporter sends one per direction)
	Packets     uint64 `json:"packets"` // their packets summed
	SocketDrops int64  `json:"socket_drops"`
}

// Row returns the row named name (flowd's row is "flowd"), or nil.
func (v *Vs) Row(name string) *ToolRow {
	if v == nil {
		return nil
	}
	if name == "flowd" {
		return v.Flowd
	}
	for i := range v.Rows {
		if v.Rows[i].Name == name {
			return &v.Rows[i]
		}
	}
	return nil
}

// flowdExportName names the row of flowd's own export pipeline.
const flowdExportName = "flowd+nfcapd"

// flowdExportTool is flowd replay exporting NetFlow v9 to its own nfcapd,
// the pipeline the collector tools are compared with. It runs unpaced, as
// softflowd sends: both collectors get an 8 MiB socket buffer, and what they
// still drop shows in their counts.
func flowdExportTool(bin string) Tool {
	return Tool{Name: flowdExportName, Collector: true, Steps: []Step{{flowdExportName, []string{bin, "replay",
		"--format", "none", "-quiet", "-workers", "1", "-max-flows", "{maxflows}",
		"--netflow9", "{collector}", "--export-rate", "-1", "{pcap}"}}},
		Note: "decode + table update, 1 worker, every flow sent as NetFlow v9 (one record per direction) " +
			"into its own nfcapd -B 8388608, unpaced (--export-rate -1) like softflowd; timed until flowd " +
			"has exited and nfcapd has read its socket dry; the collected counts are what nfdump reads " +
			"back from the collector's files"}
}

// flowdTool is flowd replay as a Tool, so it runs the same way.
func flowdTool(bin string) Tool {
	return Tool{Name: "flowd", Steps: []Step{{"flowd", []string{bin, "replay", "--format", "none", "-quiet",
		"-workers", "1", "-max-flows", "{maxflows}", "{pcap}"}}},
		Note: "decode + table update, 1 worker, no output: the P1 reference"}
}

// RunTools runs flowd and each tool on cfg.Pcap, cfg.Runs times,
// round-robin (so a change in the machine's load hits every tool alike),
// and reports medians and ratios to flowd.
func RunTools(ctx context.Context, cfg VsConfig) (*Vs, error) {
	if cfg.Runs == 0 {
		cfg.Runs = 3
	}
	if cfg.SlowAfter == 0 {
		cfg.SlowAfter = 30 * time.Second
	}
	if cfg.StepTimeout == 0 {
		cfg.StepTimeout = 10 * time.Minute
	}
	// The tools run in a scratch directory.
	if abs, err := filepath.Abs(cfg.Pcap); err == nil {
		cfg.Pcap = abs
	}
	fi, err := os.Stat(cfg.Pcap)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	// Read the file once so that every tool finds it in the page cache.
	if f, err := os.Open(cfg.Pcap); err == nil {
		io.Copy(io.Discard, f)
		f.Close()
	}
	work, err := os.MkdirTemp("", "flowd-vs-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(work)

	maxFlows := max(2*cfg.Flows, 65536)
	vars := map[string]string{
		"{pcap}":     cfg.Pcap,
		"{maxflows}": strconv.Itoa(maxFlows),
	}
	tools := cfg.Tools
	if cfg.Flowd != "" {
		lead := []Tool{flowdTool(cfg.Flowd)}
		if slices.ContainsFunc(tools, func(t Tool) bool { return t.Collector }) {
			lead = append(lead, flowdExportTool(cfg.Flowd))
		}
		tools = append(lead, tools...)
	}
	type acc struct {
		wall, cpu [][]float64 // per step prefix, per run
		rss       []uint64
		err       string
		runs      int
		slow      bool
		// Collector tools: per run.
		records, packets []float64
		drops            int64
		failed           int    // runs counted although the tool exited non-zero
		failMsg          string // the last such exit's error
	}
	accs := make([]acc, len(tools))
	for i, t := range tools {
		accs[i].wall = make([][]float64, len(t.Steps))
		accs[i].cpu = make([][]float64, len(t.Steps))
		accs[i].rss = make([]uint64, len(t.Steps))
	}
	for run := range cfg.Runs {
		for i, t := range tools {
			a := &accs[i]
			if a.err != "" || a.slow {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			out := filepath.Join(work, t.Name)
			os.RemoveAll(out)
			if err := os.MkdirAll(out, 0o755); err != nil {
				return nil, fmt.Errorf("bench: %w", err)
			}
			vars["{out}"] = out
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "bench: vs run %d/%d: %s\n", run+1, cfg.Runs, t.Name)
			}
			var col *collector
			if t.Collector {
				c, err := startCollector(filepath.Join(out, "nfcapd"))
				if err != nil {
					a.err = err.Error()
					continue
				}
				col = c
				vars["{collector}"] = c.addr
			}
			var wall, cpu time.Duration
			for si, st := range t.Steps {
				r, err := runStep(ctx, expand(st.Args, vars), work, cfg.StepTimeout)
				if err != nil && col != nil && r.exited && si == len(t.Steps)-1 {
					// An exporter that exits non-zero after its run (flowd
					// does when records were dropped) still delivered what
					// its collector got: the run counts, the error is told.
					a.failed++
					a.failMsg = err.Error()
					err = nil
				}
				if err != nil {
					a.err = err.Error()
					break
				}
				if col != nil && si == len(t.Steps)-1 {
					// The pipeline ends when the collector has read what
					// the tool sent: over loopback, every datagram is on
					// the socket (or dropped) once sendto returned.
					t0 := time.Now()
					drops, err := col.drain(cfg.StepTimeout)
					if err != nil {
						a.err = err.Error()
						break
					}
					r.wall += time.Since(t0)
					a.drops = max(a.drops, drops)
				}
				wall += r.wall
				cpu += r.cpu
				a.wall[si] = append(a.wall[si], float64(wall))
				a.cpu[si] = append(a.cpu[si], float64(cpu))
				a.rss[si] = max(a.rss[si], r.rss)
				if si > 0 {
					a.rss[si] = max(a.rss[si], a.rss[si-1])
				}
			}
			if col != nil {
				recs, pkts, err := col.finish()
				if err != nil && a.err == "" {
					a.err = err.Error()
				}
				if a.err == "" {
					a.records, a.packets = append(a.records, float64(recs)), append(a.packets, float64(pkts))
				}
			}
			if a.err == "" {
				a.runs++
				if run == 0 && wall > cfg.SlowAfter {
					a.slow = true
				}
			}
		}
	}
	os.RemoveAll(work)

	vs := &Vs{Pcap: cfg.Pcap, Bytes: fi.Size(), Frames: cfg.Frames, Runs: cfg.Runs, Missing: cfg.Missing}
	for i, t := range tools {
		a := &accs[i]
		vars["{out}"] = filepath.Join(work, t.Name)
		for si, st := range t.Steps {
			var cmds []string
			for _, s := range t.Steps[:si+1] {
				cmds = append(cmds, shellQuote(expand(s.Args, vars)))
			}
			row := ToolRow{Name: st.Label, Command: strings.Join(cmds, " && "), Note: t.Note, Runs: len(a.wall[si]),
				Against: t.Against, Err: a.err}
			row.Command = strings.ReplaceAll(row.Command, vars["{out}"], "$OUT")
			if c := vars["{collector}"]; c != "" {
				row.Command = strings.ReplaceAll(row.Command, c, "127.0.0.1:PORT")
			}
			if a.failed > 0 && row.Err == "" {
				row.FailedRuns, row.Err = a.failed, a.failMsg
			}
			if t.Collector && len(a.records) > 0 {
				row.Collected = &Collected{Records: uint64(Median(a.records)), Packets: uint64(Median(a.packets)),
					SocketDrops: a.drops}
			}
			if len(a.wall[si]) > 0 {
				row.WallNs, row.CPUNs, row.PeakRSS = Median(a.wall[si]), Median(a.cpu[si]), a.rss[si]
				if row.WallNs > 0 && cfg.Frames > 0 {
					row.PacketsPerSec = float64(cfg.Frames) / (row.WallNs / 1e9)
				}
			}
			if t.Name == "flowd" && cfg.Flowd != "" && i == 0 {
				r := row
				vs.Flowd = &r
				continue
			}
			vs.Rows = append(vs.Rows, row)
		}
	}
	for i := range vs.Rows {
		r := &vs.Rows[i]
		f := vs.Flowd
		if r.Against != "" {
			f = vs.Row(r.Against)
		}
		if f != nil && f.WallNs > 0 && r.WallNs > 0 {
			r.Ratio = r.WallNs / f.WallNs
			if f.CPUNs > 0 {
				r.CPURatio = r.CPUNs / f.CPUNs
			}
		}
	}
	return vs, nil
}

// collector is one run's nfcapd.
type collector struct {
	addr, dir string
	port      int
	cmd       *exec.Cmd
	exited    chan error
	out       *tailBuffer
}

// startCollector runs nfcapd on a free loopback port, writing into dir,
// and returns once it is receiving. -B asks for an 8 MiB socket buffer
// (the kernel caps it at net.core.rmem_max): with the default one nfcapd
// lost 72 % of a 275-datagram burst from softflowd.
func startCollector(dir string) (*collector, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	c := &collector{addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir, port: port,
		out: &tailBuffer{max: 2048}, exited: make(chan error, 1)}
	c.cmd = exec.Command("nfcapd", "-b", "127.0.0.1", "-p", strconv.Itoa(port), "-w", dir, "-t", "3600",
		"-B", "8388608")
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("nfcapd: %v", err)
	}
	go func() { c.exited <- c.cmd.Wait() }()
	// nfcapd opens nfcapd.current.PID once its socket is bound.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, "nfcapd.current.*")); len(m) > 0 {
			return c, nil
		}
		select {
		case err := <-c.exited:
			return nil, fmt.Errorf("nfcapd exited at start (%v): %s", err, lastLine(c.out.String()))
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.cmd.Process.Kill()
			<-c.exited
			return nil, fmt.Errorf("nfcapd did not start in 10 s: %s", lastLine(c.out.String()))
		}
	}
}

// drain waits until nfcapd has read every datagram queued on its socket
// and returns the socket's drop count (-1 where /proc/net/udp cannot be
// read; it then waits a fixed 200 ms instead).
func (c *collector) drain(timeout time.Duration) (int64, error) {
	deadline := time.Now().Add(timeout)
	for {
		queued, drops, ok := udpSocket(c.port)
		if !ok {
			time.Sleep(200 * time.Millisecond)
			return -1, nil
		}
		if queued == 0 {
			return drops, nil
		}
		if time.Now().After(deadline) {
			return drops, fmt.Errorf("nfcapd: %d bytes still unread after %v", queued, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// udpSocket reads the receive queue (bytes) and drop count of the IPv4
// UDP socket bound to 127.0.0.1:port from /proc/net/udp (Linux).
func udpSocket(port int) (queued uint64, drops int64, ok bool) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0, 0, false
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when
		// retrnsmt uid timeout inode ref pointer drops
		if len(f) < 13 || f[1] != local {
			continue
		}
		_, rx, found := strings.Cut(f[4], ":")
		q, err1 := strconv.ParseUint(rx, 16, 64)
		d, err2 := strconv.ParseInt(f[12], 10, 64)
		if !found || err1 != nil || err2 != nil {
			return 0, 0, false
		}
		return q, d, true
	}
	return 0, 0, false
}

// finish stops nfcapd (on SIGTERM it writes out what it holds and closes
// its file) and counts the flow records and packets nfdump reads back.
func (c *collector) finish() (records, packets uint64, err error) {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
		return 0, 0, fmt.Errorf("nfcapd did not stop on SIGTERM in 10 s")
	}
	files, _ := filepath.Glob(filepath.Join(c.dir, "nfcapd.2*"))
	if len(files) == 0 {
		return 0, 0, fmt.Errorf("nfcapd wrote no file: %s", lastLine(c.out.String()))
	}
	for _, f := range files {
		out, err := exec.Command("nfdump", "-r", f, "-q", "-N", "-o", "fmt:%pkt").Output()
		if err != nil {
			return 0, 0, fmt.Errorf("nfdump -r %s: %v", f, err)
		}
		for _, line := range strings.Fields(string(out)) {
			n, err := strconv.ParseUint(line, 10, 64)
			if err != nil {
				return 0, 0, fmt.Errorf("nfdump -r %s: %q is not a packet count", f, line)
			}
			records++
			packets += n
		}
	}
	return records, packets, nil
}

type stepResult struct {
	wall, cpu time.Duration
	rss       uint64
	exited    bool // with an error: the command ran to its end and exited non-zero
}

// runStep runs one command to its end. Its output is kept only to explain
// a failure.
func runStep(ctx context.Context, args []string, dir string, timeout time.Duration) (stepResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	tail := &tailBuffer{max: 2048}
	cmd.Stdout, cmd.Stderr = tail, tail
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return stepResult{}, fmt.Errorf("%s: %v", filepath.Base(args[0]), err)
	}
	hwm := watchHWM(cmd.Process.Pid)
	err := cmd.Wait()
	wall := time.Since(t0)
	rss := hwm()
	if err != nil {
		msg := strings.TrimSpace(tail.String())
		if ctx.Err() == context.DeadlineExceeded {
			msg = fmt.Sprintf("still running after %v; killed", timeout)
		}
		err = fmt.Errorf("%s: %v: %s", filepath.Base(args[0]), err, lastLine(msg))
		if ps := cmd.ProcessState; ps != nil && ctx.Err() == nil {
			// It ran to its end and said it failed: the caller may
			// still count the run.
			return stepResult{wall: wall, cpu: ps.UserTime() + ps.SystemTime(), rss: rss, exited: true}, err
		}
		return stepResult{}, err
	}
	ps := cmd.ProcessState
	return stepResult{wall: wall, cpu: ps.UserTime() + ps.SystemTime(), rss: rss}, nil
}

func expand(args []string, vars map[string]string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		for k, v := range vars {
			a = strings.ReplaceAll(a, k, v)
		}
		out[i] = a
	}
	return out
}

// shellQuote joins args as a shell would need them typed.
func shellQuote(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			b.WriteString(a)
			continue
		}
		b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	return b.String()
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > t.max {
		p = p[len(p)-t.max:]
	}
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return n, nil
}

func (t *tailBuffer) String() string { return t.buf.String() }
