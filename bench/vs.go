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
	"strconv"
	"strings"
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
}

// Step is one command of a tool. Args may hold {pcap} (the capture file),
// {out} (an empty directory for the tool's output, fresh each run), {port}
// (a local UDP port where nothing is read, for NetFlow exporters) and
// {maxflows} (twice the flows, at least 65,536).
type Step struct {
	Label string // the row name for the steps up to this one
	Args  []string
}

// Tools are the comparison tools `-vs` knows, by name.
var Tools = []Tool{
	{
		Name: "softflowd",
		Steps: []Step{{"softflowd", []string{"softflowd", "-r", "{pcap}", "-n", "127.0.0.1:{port}",
			"-m", "{maxflows}", "-6"}}},
		Note: "pcap to NetFlow v5 sent to a local UDP port nobody reads; -6 tracks IPv6 flows too " +
			"(v5 cannot export them), -m holds every flow (default 8192 would force-expire); " +
			"no -c: with -r softflowd opens no control socket, and -c after -r blocks in accept()",
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
	Err      string  `json:"error,omitempty"`
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
	fi, err := os.Stat(cfg.Pcap)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	// Read the file once so that every tool finds it in the page cache.
	if f, err := os.Open(cfg.Pcap); err == nil {
		io.Copy(io.Discard, f)
		f.Close()
	}
	// NetFlow exporters send here; nothing reads, the kernel drops.
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer udp.Close()
	work, err := os.MkdirTemp("", "flowd-vs-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(work)

	maxFlows := max(2*cfg.Flows, 65536)
	vars := map[string]string{
		"{pcap}":     cfg.Pcap,
		"{port}":     strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port),
		"{maxflows}": strconv.Itoa(maxFlows),
	}
	tools := cfg.Tools
	if cfg.Flowd != "" {
		tools = append([]Tool{flowdTool(cfg.Flowd)}, tools...)
	}
	type acc struct {
		wall, cpu [][]float64 // per step prefix, per run
		rss       []uint64
		err       string
		runs      int
		slow      bool
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
			var wall, cpu time.Duration
			for si, st := range t.Steps {
				r, err := runStep(ctx, expand(st.Args, vars), work, cfg.StepTimeout)
				if err != nil {
					a.err = err.Error()
					break
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
			row := ToolRow{Name: st.Label, Command: strings.Join(cmds, " && "), Note: t.Note, Runs: len(a.wall[si]), Err: a.err}
			row.Command = strings.ReplaceAll(row.Command, vars["{out}"], "$OUT")
			row.Command = strings.ReplaceAll(row.Command, vars["{port}"], "PORT")
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
	if f := vs.Flowd; f != nil && f.WallNs > 0 {
		for i := range vs.Rows {
			r := &vs.Rows[i]
			if r.WallNs > 0 {
				r.Ratio = r.WallNs / f.WallNs
				if f.CPUNs > 0 {
					r.CPURatio = r.CPUNs / f.CPUNs
				}
			}
		}
	}
	return vs, nil
}

type stepResult struct {
	wall, cpu time.Duration
	rss       uint64
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
		return stepResult{}, fmt.Errorf("%s: %v: %s", filepath.Base(args[0]), err, lastLine(msg))
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
