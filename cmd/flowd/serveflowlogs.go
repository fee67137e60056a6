package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowlog"
	"github.com/flowd/flowd/internal/flowlogs"
	"github.com/flowd/flowd/internal/s3store"
)

// serveFlowLogFlags are serve's VPC flow log settings: where definitions
// persist and where each destination type writes.
type serveFlowLogFlags struct {
	dataDir     string
	s3Dir       string
	logsDir     string
	firehoseDir string
	s3Endpoint  string
	s3Region    string
	spoolLimit  int64
	uploadWait  time.Duration
}

func (f *serveFlowLogFlags) register(fs *cmdFlags) {
	fs.section(groupFlowLogs)
	fs.StringVar(&f.dataDir, "data-dir", "", "keep flow log definitions in this `directory` (they survive a restart); destinations not set below write under it: s3/, cloudwatch-logs/, firehose/")
	fs.StringVar(&f.s3Dir, "s3-dir", "", "s3 destinations write objects as files: `DIR`/<bucket>/<key>")
	fs.StringVar(&f.logsDir, "logs-dir", "", "cloud-watch-logs destinations write JSON lines to `DIR`/<log-group>/<stream>")
	fs.StringVar(&f.firehoseDir, "firehose-dir", "", "kinesis-data-firehose destinations write text lines to `DIR`/<delivery-stream>")
	fs.StringVar(&f.s3Endpoint, "s3-endpoint", "", "s3 destinations upload to this S3-compatible server (`URL`, e.g. http://127.0.0.1:9000) with the usual AWS credentials, instead of --s3-dir")
	fs.StringVar(&f.s3Region, "s3-region", "", "region of the --s3-endpoint requests (default: from the AWS config, else us-east-1)")
	fs.DurationVar(&f.uploadWait, "s3-upload-wait", 30*time.Second, "at shutdown, how long to wait for objects still to upload to --s3-endpoint; what is left stays spooled under --data-dir and is uploaded at the next start")
	fs.Int64Var(&f.spoolLimit, "s3-spool-bytes", 1<<30, "with --s3-endpoint, most bytes of objects kept on disk while the server cannot take them; past it objects are dropped and counted (SKIPDATA)")
}

// window is the engine window serve runs: 60 s (the shorter interval; 600 s
// logs sum ten windows) when any destination can be written, else none.
func (f *serveFlowLogFlags) window() time.Duration {
	if f.dataDir == "" && f.s3Dir == "" && f.logsDir == "" && f.firehoseDir == "" && f.s3Endpoint == "" {
		return 0
	}
	return time.Minute
}

// serveFlowLogs is serve's running flow log machinery.
type serveFlowLogs struct {
	reg   *flowlog.Registry
	sink  *flowlogs.Sink
	store *s3store.Store
	stop  chan struct{}
	once  sync.Once
	done  sync.WaitGroup
}

// open makes the registry of definitions and, when a destination can be
// written, the sink that writes them from e's windows. ifaces are the
// sources' interfaces in source id order.
func (f *serveFlowLogFlags) open(e *engine.Engine, ifaces []flowlog.Interface, logf func(string, ...any)) (*serveFlowLogs, error) {
	if f.spoolLimit < 1 {
		return nil, usagef("--s3-spool-bytes %d: want at least 1", f.spoolLimit)
	}
	reg, err := flowlog.NewRegistry(f.dataDir, ifaces, time.Now)
	if err != nil {
		return nil, err
	}
	s := &serveFlowLogs{reg: reg, stop: make(chan struct{})}
	if f.window() == 0 {
		return s, nil
	}
	under := func(dir, sub string) string {
		if dir != "" || f.dataDir == "" {
			return dir
		}
		return filepath.Join(f.dataDir, sub)
	}
	cfg := flowlogs.Config{Interfaces: ifaces, Window: f.window(), Logf: logf, ActiveFlows: func() int { return int(e.Status().Table.Active) },
		LogsDir: under(f.logsDir, "cloudwatch-logs"), FirehoseDir: under(f.firehoseDir, "firehose")}
	if f.s3Endpoint != "" {
		// The spool survives a restart only under --data-dir; without it
		// each flowd spools in a folder of its own.
		spool := filepath.Join(f.dataDir, "s3-spool")
		if f.dataDir == "" {
			if spool, err = os.MkdirTemp("", "flowd-s3-spool-"); err != nil {
				return nil, err
			}
		}
		st, err := s3store.New(context.Background(), s3store.Config{Endpoint: f.s3Endpoint, Region: f.s3Region,
			SpoolDir: spool, SpoolLimit: f.spoolLimit, Logf: logf})
		if err != nil {
			return nil, fmt.Errorf("--s3-endpoint %s: %w", f.s3Endpoint, err)
		}
		s.store, cfg.S3 = st, st
	} else if dir := under(f.s3Dir, "s3"); dir != "" {
		cfg.S3 = flowlog.DirStore{Root: dir}
	}
	// A log records traffic from the window after the one the engine clock
	// was in when the sink first saw it; logs read back from --data-dir at
	// start record everything.
	since := map[string]int64{}
	for _, l := range reg.Logs() {
		since[l.ID] = 0
	}
	cfg.Logs = func() ([]flowlogs.Log, uint64) {
		logs := reg.Logs()
		out := make([]flowlogs.Log, 0, len(logs))
		for _, l := range logs {
			at, ok := since[l.ID]
			if !ok {
				at = (e.Now()/1e9/60 + 1) * 60
				since[l.ID] = at
			}
			out = append(out, flowlogs.Log{ID: l.ID, Settings: l.Settings, Interfaces: l.Interfaces, Since: at})
		}
		return out, reg.Version()
	}
	cfg.Skipped = func() uint64 {
		st := e.Status()
		n := st.WindowsDropped
		for _, src := range st.Sources {
			n += src.Drops
		}
		if s.store != nil {
			n += uint64(s.store.Stats().DroppedObjects)
		}
		return n
	}
	sink, err := flowlogs.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := e.AddWindowSink(sink); err != nil {
		return nil, err
	}
	s.sink = sink
	return s, nil
}

// run moves the flow logs' clock with the engine's while no window comes,
// so quiet intervals get their NODATA records.
func (s *serveFlowLogs) run(e *engine.Engine, logf func(string, ...any)) {
	if s.sink == nil {
		return
	}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				if now := e.Now(); now > 0 {
					if err := s.sink.Advance(now / 1e9); err != nil {
						logf("%v", err)
					}
				}
			}
		}
	}()
}

// stopClock stops run's clock; call it before the engine's Stop, which
// closes the sink.
func (s *serveFlowLogs) stopClock() {
	s.once.Do(func() { close(s.stop) })
	s.done.Wait()
}

// close, after the engine's Stop, waits up to ctx for uploads still queued.
func (s *serveFlowLogs) close(ctx context.Context) error {
	s.stopClock()
	if s.store != nil {
		return s.store.Close(ctx)
	}
	return nil
}

// printSummary says what the flow logs wrote.
func (s *serveFlowLogs) printSummary(w io.Writer) {
	if s == nil || s.sink == nil {
		return
	}
	st := s.sink.Stats()
	fmt.Fprintf(w, "flowd serve: flow logs: %d records, %d NODATA, %d SKIPDATA, %d not written\n",
		st.Records, st.NoData, st.SkipData, st.Errors)
}

// liveFlowLogInterface is the flow log interface of a live source: the
// defaults, with the addresses the host has on the interface as its local
// addresses, so that flow-direction says ingress or egress.
func liveFlowLogInterface(name string) flowlog.Interface {
	in := flowlog.DefaultInterface(name)
	ni, err := net.InterfaceByName(name)
	if err != nil {
		return in
	}
	addrs, err := ni.Addrs()
	if err != nil {
		return in
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			in.Local = append(in.Local, p.Addr())
		}
	}
	return in
}
