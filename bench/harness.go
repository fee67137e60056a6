// Package bench measures flowd on this machine: the phases of the packet
// path in one process over the same in-memory capture (the bare record
// walk that is the I/O floor, decode only, decode plus table update through
// the engine with 1..N workers, and a map[Key]*Flow twin), the table's
// memory per flow, flow churn, filter scans and flow operations; the same
// capture through other flow tools (softflowd, nfpcapd, argus, tshark); and
// the RESULTS.md tables and throughput plot that `make bench` keeps.
//
// The machines flowd is measured on are shared and noisy, so what this
// package reports is built to be compared within one run: every phase reads
// the same bytes, every figure is a median over runs, and each carries its
// process CPU time next to its wall time (CPU time leaves out the time spent
// waiting for a core). docs/TARGETS.md states the targets as ratios and
// counts for the same reason.
//
// Allocation contract: none; this is a harness. The measured phases are
// the real packet path and allocate what it allocates, which is what the
// allocs/packet columns report.
//
// Concurrency: Run and RunTools measure one thing at a time and must not
// run concurrently with each other or with other heavy work in the process.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"time"

	"github.com/flowd/flowd/bench/gen"
	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/filter"
	"github.com/flowd/flowd/flowlog"
	"github.com/flowd/flowd/flowtable"
	"github.com/flowd/flowd/internal/flowlogs"
	"github.com/flowd/flowd/internal/ipfix"
	"github.com/flowd/flowd/internal/output"
)

// Config says what Run measures. The zero value (with Gen or Pcap set)
// means defaults.
type Config struct {
	// Pcap is the capture to measure (pcap or pcapng, optionally gzip), held
	// in memory. Generate makes one from a gen.Config.
	Pcap []byte
	// Name names the capture in the report ("generated" or a file name).
	Name string
	// Flows is the number of flows in the capture when known (generated
	// traffic), else 0. It sizes the table (see MaxFlows).
	Flows int
	// Gen is the generator configuration of a generated capture, echoed in
	// the report; nil for a file.
	Gen *GenParams

	// Runs is the number of runs of each phase; the report quotes medians
	// (default 3).
	Runs int
	// Workers lists the engine worker counts to measure (default 1 and 2).
	Workers []int
	// MaxFlows is the table size. Default: Flows, counted by an untimed
	// replay when not given, so that bytes per flow is measured with the
	// table at its size. With several workers the table gets a quarter
	// more, as flows do not spread exactly evenly over shards.
	MaxFlows int
	// BatchSize is the engine's and the walks' batch size (default
	// engine.DefaultBatchSize).
	BatchSize int

	// Churn configures the churn phase; Churn.Flows < 0 skips it.
	Churn ChurnConfig
	// Filters is the number of compiled filters of the scan and the flow
	// capture (1 to 20, default 20); negative skips both.
	Filters int

	// Progress receives a line per step, for people watching; nil for none.
	Progress io.Writer
}

// ChurnConfig is the churn phase: many short flows through a small table
// with short timeouts, so that flows are created and expired all the time.
type ChurnConfig struct {
	Flows   int           // flows generated (default 200,000); negative: skip the phase
	Table   int           // table size (default 16,384)
	Timeout time.Duration // every idle timeout, emergency ones included (default 2 s)
	Seed    uint64        // generator seed (default 7)
}

func (c *ChurnConfig) withDefaults() {
	if c.Flows == 0 {
		c.Flows = 200_000
	}
	if c.Table == 0 {
		c.Table = 16_384
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = 7
	}
}

// GenParams are the generator settings a report echoes.
type GenParams struct {
	Flows       int     `json:"flows"`
	MeanPackets float64 `json:"mean_packets"`
	Skew        float64 `json:"skew"`
	IPv6        float64 `json:"ipv6"`
	VLAN        float64 `json:"vlan"`
	QinQ        float64 `json:"qinq"`
	Sizes       string  `json:"sizes"`
	Seed        uint64  `json:"seed"`
	Malformed   int     `json:"malformed"`
}

// Generate writes cfg's traffic as a pcap file in memory. Truth is not kept
// (cfg.NoTruth is set): a benchmark only needs the totals.
func Generate(cfg gen.Config) ([]byte, *gen.Truth, error) {
	cfg.NoTruth = true
	var buf bytes.Buffer
	// Frames average ~100-600 bytes; start big enough to avoid most copies.
	est := cfg.MeanPackets
	if est == 0 {
		est = 10
	}
	buf.Grow(int(min(float64(max(cfg.Flows, 100))*est*128, 1<<30)))
	truth, err := gen.WritePcap(&buf, cfg)
	if err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), truth, nil
}

// Report is what Run measured. Its JSON form is what `flowd bench -json`
// prints and `flowd bench report` reads.
type Report struct {
	// Version of this format; readers reject newer major versions.
	Version int       `json:"version"`
	Date    time.Time `json:"date"`
	Machine Machine   `json:"machine"`
	Input   Input     `json:"input"`
	Runs    int       `json:"runs"`
	// Phases: walk, decode, engine (one per worker count), map.
	Phases  []Phase    `json:"phases"`
	Output  *Output    `json:"output,omitempty"`
	Memory  *Memory    `json:"memory,omitempty"`
	Churn   *Churn     `json:"churn,omitempty"`
	Scan    *Scan      `json:"scan,omitempty"`
	Capture *CaptureOp `json:"capture_op,omitempty"`
	Vs      *Vs        `json:"vs,omitempty"`
}

// ReportVersion is the Report format written by this package.
const ReportVersion = 1

// Input describes the capture measured.
type Input struct {
	Name     string     `json:"name"`
	Gen      *GenParams `json:"gen,omitempty"`
	Frames   uint64     `json:"frames"`
	Bytes    int        `json:"bytes"`    // size of the capture file
	Flows    uint64     `json:"flows"`    // flows the engine created (1 worker)
	Unusable uint64     `json:"unusable"` // frames decode could not use
}

// Output is the cost of writing the flows: each replay phase with output
// over the one without, wall and cpu (target P1o: within 1.3).
type Output struct {
	CSV    float64 `json:"csv_x_none"`
	CSVCPU float64 `json:"csv_x_none_cpu"`
	EVE    float64 `json:"eve_x_none"`
	EVECPU float64 `json:"eve_x_none_cpu"`
	// IPFIX export, unpaced, to loopback: the replay's cost over none, the
	// data records sent (one per direction with packets) and their rate
	// over the whole replay.
	IPFIX              float64 `json:"ipfix_x_none"`
	IPFIXCPU           float64 `json:"ipfix_x_none_cpu"`
	IPFIXRecords       uint64  `json:"ipfix_records"`
	IPFIXRecordsPerSec float64 `json:"ipfix_records_per_s"`
	// VPC flow logs, gzip text with 60 s windows, to a temporary S3 tree:
	// the replay's cost over none, and the records written.
	FlowLog        float64 `json:"flowlog_x_none"`
	FlowLogCPU     float64 `json:"flowlog_x_none_cpu"`
	FlowLogRecords uint64  `json:"flowlog_records"`
}

// Phase is one measured phase: medians over the runs.
type Phase struct {
	Name    string `json:"name"` // walk, decode, engine or map
	Workers int    `json:"workers,omitempty"`
	Packets uint64 `json:"packets"`
	// Medians over the runs.
	WallNs          float64  `json:"wall_ns"`
	CPUNs           float64  `json:"cpu_ns"`
	PacketsPerSec   float64  `json:"packets_per_s"`
	NsPerPacket     float64  `json:"ns_per_packet"`
	CPUNsPerPacket  float64  `json:"cpu_ns_per_packet"`
	AllocsPerPacket float64  `json:"allocs_per_packet"`
	Samples         []Sample `json:"samples"`
}

// Memory is the flow table's heap per flow.
type Memory struct {
	// Flows is the flows in the table when measured; TableMax its size.
	Flows    uint64 `json:"flows"`
	TableMax int    `json:"table_max"`
	// HeapBytes is the live heap the engine holds (after a collection),
	// less the live heap before it was built: slab, index, batches, all.
	HeapBytes    uint64  `json:"heap_bytes"`
	BytesPerFlow float64 `json:"bytes_per_flow"`
	FlowSize     int     `json:"flow_size"` // bytes of one slab entry
	// The same for the map[Key]*Flow twin holding the same flows.
	MapHeapBytes    uint64  `json:"map_heap_bytes"`
	MapBytesPerFlow float64 `json:"map_bytes_per_flow"`
}

// Churn is the churn phase's result (medians).
type Churn struct {
	Flows            int     `json:"flows"` // generated
	Packets          uint64  `json:"packets"`
	Table            int     `json:"table"`
	TimeoutNs        int64   `json:"timeout_ns"`
	Created          uint64  `json:"created"`
	Expired          uint64  `json:"expired"` // flows ended by a timeout, TCP close or eviction during the run
	EmergencyEntered uint64  `json:"emergency_entered"`
	WallNs           float64 `json:"wall_ns"`
	CPUNs            float64 `json:"cpu_ns"`
	CreatedPerSec    float64 `json:"created_per_s"`
	ExpiredPerSec    float64 `json:"expired_per_s"`
	AllocsPerPacket  float64 `json:"allocs_per_packet"`
}

// Scan is the table scan with compiled filters (medians), with the first
// -workers count (normally 1): each worker scans its own shard.
type Scan struct {
	Workers            int     `json:"workers"`
	Filters            int     `json:"filters"`
	Flows              uint64  `json:"flows"`
	Matched            int     `json:"matched"`
	WallNs             float64 `json:"wall_ns"`
	FlowsPerSecPerCore float64 `json:"flows_per_s_per_core"`
}

// CaptureOp is a StartFlowCapture through engine.Ops over the whole table,
// from the request to COMPLETED (medians).
type CaptureOp struct {
	Flows   uint64  `json:"flows"`
	Matched int     `json:"matched"`
	Status  string  `json:"status"`
	Ms      float64 `json:"ms"`      // Finished - Requested as the operation records them
	WallMs  float64 `json:"wall_ms"` // from Start to Wait returning
}

// Phase names.
const (
	PhaseWalk   = "walk"
	PhaseDecode = "decode"
	PhaseEngine = "engine"
	PhaseMap    = "map"
	// The replay phases run a whole replay, as `flowd replay` does, from
	// Start until the engine has stopped and the output is written: with
	// no output, and with csv and EVE written to a temporary file in start
	// order. Their ratios are the cost of output (target P1o).
	PhaseReplayNone = "replay-none"
	PhaseReplayCSV  = "replay-csv"
	PhaseReplayEVE  = "replay-eve"
	// PhaseReplayIPFIX exports every flow as IPFIX (unpaced) to a UDP
	// socket on loopback that reads and discards, and ends when the
	// exporter has sent everything: the cost of export, and its rate.
	PhaseReplayIPFIX = "replay-ipfix"
	// PhaseReplayFlowLog writes VPC flow logs (default format, gzip text,
	// 60 s windows) to an S3 tree in a temporary directory.
	PhaseReplayFlowLog = "replay-flowlog"
)

// Phase returns the phase with this name and worker count, or nil.
func (r *Report) Phase(name string, workers int) *Phase {
	for i := range r.Phases {
		if p := &r.Phases[i]; p.Name == name && p.Workers == workers {
			return p
		}
	}
	return nil
}

func (c *Config) withDefaults() error {
	if len(c.Pcap) == 0 {
		return errors.New("bench: no capture to measure")
	}
	if c.Runs == 0 {
		c.Runs = 3
	}
	if c.Runs < 1 {
		return fmt.Errorf("bench: %d runs: want at least 1", c.Runs)
	}
	if len(c.Workers) == 0 {
		c.Workers = []int{1, 2}
	}
	for _, w := range c.Workers {
		if w < 1 || w > 256 {
			return fmt.Errorf("bench: %d workers: want 1 to 256", w)
		}
	}
	if c.BatchSize == 0 {
		c.BatchSize = engine.DefaultBatchSize
	}
	if c.Filters == 0 {
		c.Filters = filter.MaxFilters
	}
	if c.Filters > filter.MaxFilters {
		return fmt.Errorf("bench: %d filters: at most %d", c.Filters, filter.MaxFilters)
	}
	if c.Name == "" {
		c.Name = "capture"
	}
	c.Churn.withDefaults()
	return nil
}

func (c *Config) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "bench: "+format+"\n", args...)
	}
}

// Run measures every phase cfg asks for, Runs times each, and reports the
// medians.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	rep := &Report{
		Version: ReportVersion,
		Date:    time.Now().UTC(),
		Machine: ReadMachine(),
		Input:   Input{Name: cfg.Name, Gen: cfg.Gen, Bytes: len(cfg.Pcap)},
		Runs:    cfg.Runs,
	}
	h := &harness{cfg: &cfg, frames: make([]capture.Frame, cfg.BatchSize)}

	// The walks share one reader, reset onto the same bytes each run.
	var err error
	h.br = bytes.NewReader(cfg.Pcap)
	if h.file, err = capture.NewReader(h.br, cfg.Name); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}

	if cfg.Flows == 0 && cfg.MaxFlows == 0 {
		// A file of unknown size: count its flows with an untimed replay
		// so that the table is sized to them, as for generated traffic.
		cfg.progress("counting the flows of %s", cfg.Name)
		n, err := h.countFlows(ctx)
		if err != nil {
			return nil, err
		}
		cfg.Flows = n
	}

	var samples = map[string][]Sample{}
	key := func(name string, w int) string { return fmt.Sprint(name, "/", w) }
	var frames, flows, unusable uint64
	for run := range cfg.Runs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cfg.progress("run %d/%d: walk", run+1, cfg.Runs)
		s, n, err := h.walk(false)
		if err != nil {
			return nil, err
		}
		frames = n
		samples[key(PhaseWalk, 0)] = append(samples[key(PhaseWalk, 0)], s)

		cfg.progress("run %d/%d: decode", run+1, cfg.Runs)
		if s, _, err = h.walk(true); err != nil {
			return nil, err
		}
		samples[key(PhaseDecode, 0)] = append(samples[key(PhaseDecode, 0)], s)

		for _, w := range cfg.Workers {
			cfg.progress("run %d/%d: engine, %d worker(s)", run+1, cfg.Runs, w)
			er, err := h.engine(ctx, w, run, rep)
			if err != nil {
				return nil, err
			}
			samples[key(PhaseEngine, w)] = append(samples[key(PhaseEngine, w)], er.sample)
			if w == cfg.Workers[0] {
				flows, unusable = er.flows, er.unusable
			}
		}

		for _, ph := range replayPhases {
			cfg.progress("run %d/%d: %s", run+1, cfg.Runs, ph.name)
			s, err := h.replay(ctx, cfg.Workers[0], ph.format)
			if err != nil {
				return nil, err
			}
			samples[key(ph.name, cfg.Workers[0])] = append(samples[key(ph.name, cfg.Workers[0])], s)
		}

		cfg.progress("run %d/%d: map twin", run+1, cfg.Runs)
		ms, mflows, mheap := h.mapTwin(run == 0)
		samples[key(PhaseMap, 0)] = append(samples[key(PhaseMap, 0)], ms)
		if run == 0 && rep.Memory != nil {
			rep.Memory.MapHeapBytes = mheap
			if mflows > 0 {
				rep.Memory.MapBytesPerFlow = float64(mheap) / float64(mflows)
			}
		}
	}
	rep.Input.Frames, rep.Input.Flows, rep.Input.Unusable = frames, flows, unusable

	add := func(name string, w int) {
		rep.Phases = append(rep.Phases, summarize(name, w, frames, samples[key(name, w)]))
	}
	add(PhaseWalk, 0)
	add(PhaseDecode, 0)
	for _, w := range cfg.Workers {
		add(PhaseEngine, w)
	}
	add(PhaseMap, 0)
	for _, ph := range replayPhases {
		add(ph.name, cfg.Workers[0])
	}
	if none := rep.Phase(PhaseReplayNone, cfg.Workers[0]); none != nil && none.WallNs > 0 && none.CPUNs > 0 {
		o := &Output{}
		if p := rep.Phase(PhaseReplayCSV, cfg.Workers[0]); p != nil {
			o.CSV, o.CSVCPU = p.WallNs/none.WallNs, p.CPUNs/none.CPUNs
		}
		if p := rep.Phase(PhaseReplayEVE, cfg.Workers[0]); p != nil {
			o.EVE, o.EVECPU = p.WallNs/none.WallNs, p.CPUNs/none.CPUNs
		}
		if p := rep.Phase(PhaseReplayIPFIX, cfg.Workers[0]); p != nil {
			o.IPFIX, o.IPFIXCPU = p.WallNs/none.WallNs, p.CPUNs/none.CPUNs
			o.IPFIXRecords = h.exported
			if p.WallNs > 0 {
				o.IPFIXRecordsPerSec = float64(h.exported) / (p.WallNs / 1e9)
			}
		}
		if p := rep.Phase(PhaseReplayFlowLog, cfg.Workers[0]); p != nil {
			o.FlowLog, o.FlowLogCPU = p.WallNs/none.WallNs, p.CPUNs/none.CPUNs
			o.FlowLogRecords = h.flowLogRecords
		}
		rep.Output = o
	}
	h.finishScans(rep)

	if cfg.Churn.Flows > 0 {
		c, err := h.churn(ctx)
		if err != nil {
			return nil, err
		}
		rep.Churn = c
	}
	return rep, nil
}

func summarize(name string, workers int, packets uint64, ss []Sample) Phase {
	p := Phase{Name: name, Workers: workers, Packets: packets, Samples: ss}
	var wall, cpu, allocs []float64
	for _, s := range ss {
		wall = append(wall, float64(s.Wall))
		cpu = append(cpu, float64(s.CPU))
		allocs = append(allocs, float64(s.Allocs))
	}
	p.WallNs, p.CPUNs = Median(wall), Median(cpu)
	if packets > 0 {
		n := float64(packets)
		p.NsPerPacket = p.WallNs / n
		p.CPUNsPerPacket = p.CPUNs / n
		p.AllocsPerPacket = Median(allocs) / n
		if p.WallNs > 0 {
			p.PacketsPerSec = n / (p.WallNs / 1e9)
		}
	}
	return p
}

// harness holds what the phases share.
type harness struct {
	cfg  *Config
	br   *bytes.Reader
	file *capture.File
	// flowLogRecords is the flow log records the last replay-flowlog run
	// wrote.
	flowLogRecords uint64
	// exported is the IPFIX data records the last replay-ipfix run sent.
	exported uint64
	frames   []capture.Frame
	dec      decode.Packet
	sink     uint64 // keeps the walks' loads alive

	set      *filter.Set
	scans    []float64 // scan wall ns per run
	scanInfo Scan
	caps     []float64
	capWall  []float64
	capInfo  CaptureOp
}

// walk reads every record of the capture in batches and touches each
// frame's header (its length fields and first byte): the least any reader
// must do. With dec it also decodes each frame.
func (h *harness) walk(dec bool) (Sample, uint64, error) {
	h.br.Reset(h.cfg.Pcap)
	if err := h.file.Reset(h.br, h.cfg.Name); err != nil {
		return Sample{}, 0, fmt.Errorf("bench: %w", err)
	}
	runtime.GC()
	var m meter
	m.start()
	var n, sink uint64
	d := &h.dec
	for {
		k, err := h.file.ReadBatch(h.frames)
		for i := range h.frames[:k] {
			fr := &h.frames[i]
			sink += uint64(fr.WireLen) + uint64(len(fr.Data))
			if len(fr.Data) > 0 {
				sink += uint64(fr.Data[0])
			}
			if dec {
				d.Decode(fr.Data, fr.LinkType)
				sink += uint64(d.Reason)
			}
		}
		n += uint64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return Sample{}, 0, fmt.Errorf("bench: %w", err)
		}
	}
	s := m.stop()
	h.sink += sink
	return s, n, nil
}

// newEngine builds an engine reading the capture data from memory, ready
// to Start; the caller stops it.
func newEngine(data []byte, name string, cfg engine.Config) (*engine.Engine, error) {
	src, err := capture.NewReader(bytes.NewReader(data), name)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	e, err := engine.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if _, err := e.AddSource(src, engine.SourceInfo{Name: name}); err != nil {
		e.Stop(engine.ReasonActive)
		return nil, fmt.Errorf("bench: %w", err)
	}
	return e, nil
}

// runToEnd starts e and waits until every packet has reached its shard.
func runToEnd(ctx context.Context, e *engine.Engine) error {
	if err := e.Start(ctx); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	select {
	case <-e.SourcesDone():
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := e.Err(); err != nil {
		return fmt.Errorf("bench: replay: %w", err)
	}
	return nil
}

// countFlows replays the capture through a default-sized engine and
// returns the flows it created, at least 1: a table that size never fills.
func (h *harness) countFlows(ctx context.Context) (int, error) {
	e, err := newEngine(h.cfg.Pcap, h.cfg.Name, engine.Config{BatchSize: h.cfg.BatchSize})
	if err != nil {
		return 0, err
	}
	defer e.Stop(engine.ReasonActive)
	if err := runToEnd(ctx, e); err != nil {
		return 0, err
	}
	st := e.Status()
	if st.Table.EmergencyEntered > 0 {
		return 0, fmt.Errorf("bench: %s fills the engine's default table; give the table size", h.cfg.Name)
	}
	return int(max(st.Table.Created, 1)), nil
}

var replayPhases = []struct {
	name   string
	format output.Format
}{{PhaseReplayNone, output.FormatNone}, {PhaseReplayCSV, output.FormatCSV}, {PhaseReplayEVE, output.FormatEVE},
	{PhaseReplayIPFIX, formatIPFIX}, {PhaseReplayFlowLog, formatFlowLog}}

// formatIPFIX stands for IPFIX export among the replay phases' formats.
const formatIPFIX output.Format = "ipfix"

// formatFlowLog stands for VPC flow logs among the replay phases' formats.
const formatFlowLog output.Format = "flowlog"

// replay runs the capture through a fresh engine with w workers as `flowd
// replay --format format -o FILE` does, from Start until the engine has
// stopped and the flows are written to a temporary file.
func (h *harness) replay(ctx context.Context, w int, format output.Format) (Sample, error) {
	tcfg := flowtable.Config{MaxFlows: h.tableSize(w)}
	if format == formatFlowLog {
		tcfg.Window = time.Minute
	}
	e, err := newEngine(h.cfg.Pcap, h.cfg.Name, engine.Config{Workers: w, BatchSize: h.cfg.BatchSize, Table: tcfg})
	if err != nil {
		return Sample{}, err
	}
	var path string
	var export *output.ExportSink
	var flowLog *flowlogs.Sink
	switch format {
	case output.FormatNone:
	case formatFlowLog:
		dir, err := os.MkdirTemp("", "flowd-bench-flowlog-")
		if err != nil {
			e.Stop(engine.ReasonActive)
			return Sample{}, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(dir)
		d := flowlog.Definition{ResourceType: flowlog.ResourceNetworkInterface, ResourceIds: []string{"eni-0"},
			TrafficType: flowlog.TrafficAll, LogDestinationType: flowlog.DestinationS3,
			LogDestination: "arn:aws:s3:::bench", MaxAggregationInterval: 60}
		set, err := d.Settings()
		if err != nil {
			e.Stop(engine.ReasonActive)
			return Sample{}, fmt.Errorf("bench: %w", err)
		}
		flowLog, err = flowlogs.New(flowlogs.Config{
			Interfaces: []flowlog.Interface{{Name: h.cfg.Name, AccountID: "123456789012", InterfaceID: "eni-0",
				Region: "us-east-1"}},
			Window: time.Minute, S3: flowlog.DirStore{Root: dir}, ActiveFlows: func() int { return int(e.Status().Table.Active) },
			Logs: func() ([]flowlogs.Log, uint64) {
				return []flowlogs.Log{{ID: "fl-bench", Settings: set, Interfaces: []int{0}}}, 1
			},
		})
		if err != nil {
			e.Stop(engine.ReasonActive)
			return Sample{}, fmt.Errorf("bench: %w", err)
		}
		if err := e.AddWindowSink(flowLog); err != nil {
			e.Stop(engine.ReasonActive)
			return Sample{}, fmt.Errorf("bench: %w", err)
		}
	case formatIPFIX:
		ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			e.Stop(engine.ReasonActive)
			return Sample{}, fmt.Errorf("bench: %w", err)
		}
		defer ln.Close()
		ln.SetReadBuffer(8 << 20)
		go func() {
			buf := make([]byte, 65536)
			for {
				if _, err := ln.Read(buf); err != nil {
					return
				}
			}
		}()
		export, err = output.NewExportSink(ipfix.Config{Collector: ln.LocalAddr().String(),
			MessagesPerSecond: -1, QueueSize: 1 << 20})
		if err != nil {
			e.Stop(engine.ReasonActive)
			return Sample{}, fmt.Errorf("bench: %w", err)
		}
		e.AddSink(export)
	default:
		f, err := os.CreateTemp("", "flowd-bench-*."+string(format))
		if err != nil {
			e.Stop(engine.ReasonActive)
			return Sample{}, fmt.Errorf("bench: %w", err)
		}
		path = f.Name()
		f.Close()
		defer os.Remove(path)
		sink, err := output.NewSink(output.SinkConfig{Format: format, Path: path})
		if err != nil {
			e.Stop(engine.ReasonActive)
			return Sample{}, fmt.Errorf("bench: %w", err)
		}
		e.AddSink(sink)
	}
	runtime.GC()
	var m meter
	m.start()
	if err := runToEnd(ctx, e); err != nil {
		e.Stop(engine.ReasonActive)
		return Sample{}, err
	}
	if err := e.Stop(engine.ReasonActive); err != nil {
		return Sample{}, fmt.Errorf("bench: %s output: %w", format, err)
	}
	smp := m.stop()
	if export != nil {
		h.exported = export.Stats().DataRecords
	}
	if flowLog != nil {
		h.flowLogRecords = flowLog.Stats().Records
	}
	return smp, nil
}

type engineResult struct {
	sample          Sample
	flows, unusable uint64
}

// tableSize returns the table size for an engine run with w workers.
func (h *harness) tableSize(w int) int {
	n := h.cfg.MaxFlows
	if n == 0 {
		n = h.cfg.Flows
	}
	if n == 0 {
		return 0 // the engine's default
	}
	if w > 1 {
		n += n/4 + 64*w
	}
	return n
}

// engine replays the capture through a fresh engine with w workers, from
// Start until every packet has reached its shard. Building the engine (the
// slab is allocated up front) is not timed. The first worker count's runs
// also measure the table's heap, the filter scan and the flow capture.
func (h *harness) engine(ctx context.Context, w, run int, rep *Report) (engineResult, error) {
	first := w == h.cfg.Workers[0]
	heap0 := heapInUse()
	e, err := newEngine(h.cfg.Pcap, h.cfg.Name, engine.Config{
		Workers:   w,
		BatchSize: h.cfg.BatchSize,
		Table:     flowtable.Config{MaxFlows: h.tableSize(w)},
	})
	if err != nil {
		return engineResult{}, err
	}
	defer e.Stop(engine.ReasonActive)
	runtime.GC()
	var m meter
	m.start()
	if err := runToEnd(ctx, e); err != nil {
		return engineResult{}, err
	}
	s := m.stop()
	st := e.Status()
	res := engineResult{sample: s, flows: st.Table.Created}
	for i := range st.Sources {
		res.unusable += st.Sources[i].Unusable()
	}
	if !first {
		return res, nil
	}
	if run == 0 {
		var heap uint64
		if h1 := heapInUse(); h1 > heap0 {
			heap = h1 - heap0
		}
		rep.Memory = &Memory{Flows: st.Table.Active, TableMax: e.TableConfig().MaxFlows, HeapBytes: heap,
			FlowSize: flowtable.FlowSize}
		if st.Table.Active > 0 {
			rep.Memory.BytesPerFlow = float64(heap) / float64(st.Table.Active)
		}
	}
	if h.cfg.Filters > 0 {
		if err := h.scan(ctx, e, w, st.Table.Active); err != nil {
			return res, err
		}
	}
	return res, nil
}
