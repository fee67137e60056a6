package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowlog"
	"github.com/flowd/flowd/internal/output"
)

const serveUsage = `Usage: flowd serve [flags]

Serves the AWS Network Firewall flow operations (StartFlowCapture,
StartFlowFlush, DescribeFlowOperation, ListFlowOperations,
ListFlowOperationResults) over a live flow table, for the official AWS SDKs
and CLI pointed at it with --endpoint-url, plus GET /status (JSON) and
GET /metrics (Prometheus).

The API is open at once. The table is fed either by pcap files (--pcap),
read through the engine as fast as possible; once they end, the engine
clock stands still (--clock packet) and the flows stay in the table, so the
replayed table can be queried at leisure. Or by live interfaces (--iface),
captured until flowd stops; the engine clock is then the wall clock, and
kernel drops show in /status and /metrics. The two are not mixed. SIGINT or
SIGTERM reads the frames live interfaces received before it (at most a
second), ends every flow with reason "shutdown", flushes the sinks (--eve,
--ipfix) and exits 0.

Every flag is also a key of the YAML --config file (flags override it).

Security: with --auth-file, every API request must carry an AWS Signature
Version 4 made with one of its keys (as the AWS CLI and SDKs sign with
static credentials); without it anyone who reaches --listen is served, so
a non-loopback --listen needs --auth-file or --insecure. GET /status,
/metrics, /healthz and /readyz are never authenticated: --metrics-listen
moves /status and /metrics to an address of their own.
`

// Defaults of the firewall served.
const (
	defaultVpcEndpoint = "vpce-flowd"
	defaultListen      = "127.0.0.1:4566"
)

type serveOpts struct {
	listen    string
	pcaps     pcapList
	arn       string
	az        string
	vpce      string
	config    string
	eve       string
	insecure  bool
	authFile  string
	authRegs  string
	metrics   string
	retention time.Duration
	resultCap int
	resultMax int64
	shardWait time.Duration
	vf        eveFlags
	sf        statsFlags
	ef        engineFlags
	xf        exportFlags
	lf        liveFlags
	fl        serveFlowLogFlags
}

// newServeFlags declares serve's flags into o.
func newServeFlags(o *serveOpts) *cmdFlags {
	fs := newCmdFlags("serve", serveUsage)
	fs.section(groupInput)
	fs.Var(&o.pcaps, "pcap", "read this pcap/pcapng `FILE` (NAME=FILE names its source; repeatable)")
	fs.StringVar(&o.config, "config", "", "YAML `file` of settings; keys are these flag names")
	o.lf.register(fs)
	fs.section(groupAPI)
	fs.StringVar(&o.listen, "listen", defaultListen, "address to serve the API on (host:port; port 0 picks a free one)")
	fs.StringVar(&o.arn, "firewall-arn", api.DefaultFirewallArn, "ARN of the firewall this flowd is")
	fs.StringVar(&o.az, "availability-zone", "", "Availability Zone of the sources (default: the ARN's region + \"a\", e.g. us-east-1a)")
	fs.StringVar(&o.vpce, "vpc-endpoint-id", defaultVpcEndpoint, "VPC endpoint id of the sources")
	fs.BoolVar(&o.insecure, "insecure", false, "allow listening on a non-loopback address without authentication")
	fs.StringVar(&o.authFile, "auth-file", "", "require AWS SigV4 signatures made with a key of this file (lines ACCESS_KEY_ID SECRET; mode 600)")
	fs.StringVar(&o.authRegs, "auth-regions", "", "comma-separated regions a signature may be scoped to (default: the --firewall-arn region)")
	fs.StringVar(&o.metrics, "metrics-listen", "", "serve GET /status, /metrics, /healthz, /readyz on this address instead of --listen (never authenticated)")
	fs.DurationVar(&o.retention, "op-retention", engine.DefaultOpRetention, "how long flow operations and their results are kept")
	fs.IntVar(&o.resultCap, "op-result-cap", engine.DefaultOpResultCap, "most flows one flow operation returns (COMPLETED_WITH_ERRORS past it)")
	fs.Int64Var(&o.resultMax, "op-results-max-bytes", engine.DefaultOpResultBytes, "most memory the results of ended flow operations hold together; past it the oldest are released early (asking for one says so)")
	fs.DurationVar(&o.shardWait, "op-shard-timeout", engine.DefaultOpShardTimeout, "how long a flow operation waits for a busy shard (COMPLETED_WITH_ERRORS, \"Flow timeout\", past it)")
	fs.section(groupOutput)
	fs.StringVar(&o.eve, "eve", "", "append Suricata EVE flow events of ended flows to this file")
	o.vf.register(fs)
	o.sf.register(fs)
	o.ef.register(fs)
	o.xf.register(fs)
	o.fl.register(fs)
	return fs
}

func runServe(args []string) error {
	var o serveOpts
	fs := newServeFlags(&o)
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (capture files go with --pcap)", fs.Arg(0))
	}
	if o.config != "" {
		if err := loadConfig(fs.FlagSet, o.config); err != nil {
			return err
		}
	}
	return serve(o)
}

// regionOf returns the region field of an ARN, or "".
func regionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[3]
}

// checkListen refuses a non-loopback address for flag, serving what needs
// no authentication (authed false), unless insecure.
func checkListen(flag, addr string, authed, insecure bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %w", flag, addr, err)
	}
	if insecure || (authed && flag != "--metrics-listen") {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	if flag == "--metrics-listen" {
		return fmt.Errorf("%s %q: not a loopback address; /status and /metrics are never authenticated, so serving them to other hosts needs --insecure", flag, addr)
	}
	return fmt.Errorf("%s %q: not a loopback address, and without --auth-file anyone who reaches it can run flow operations (flush included); give --auth-file FILE, or --insecure to serve it unauthenticated anyway", flag, addr)
}

func serve(o serveOpts) error {
	if err := checkListen("--listen", o.listen, o.authFile != "", o.insecure); err != nil {
		return err
	}
	if o.metrics != "" {
		if err := checkListen("--metrics-listen", o.metrics, false, o.insecure); err != nil {
			return err
		}
	}
	var creds *api.Credentials
	var regions []string
	if o.authFile != "" {
		var err error
		if creds, err = api.LoadAuthFile(o.authFile); err != nil {
			return err
		}
	}
	if o.authRegs != "" {
		if o.authFile == "" {
			return usagef("--auth-regions %q: needs --auth-file", o.authRegs)
		}
		regions = strings.Split(o.authRegs, ",")
	}
	if o.az == "" {
		region := regionOf(o.arn)
		if region == "" {
			region = "us-east-1"
		}
		o.az = region + "a"
	}
	if o.resultCap < 1 {
		return fmt.Errorf("--op-result-cap %d: want at least 1", o.resultCap)
	}
	if o.retention <= 0 {
		return fmt.Errorf("--op-retention %v: want a positive duration", o.retention)
	}
	if o.resultMax < 1 {
		return fmt.Errorf("--op-results-max-bytes %d: want at least 1", o.resultMax)
	}
	if o.shardWait <= 0 {
		return fmt.Errorf("--op-shard-timeout %v: want a positive duration", o.shardWait)
	}
	if err := o.sf.check(o.eve != "", "--eve FILE"); err != nil {
		return err
	}
	cfg, err := o.ef.config()
	if err != nil {
		return err
	}
	if cfg.Table.ActiveTimeout, err = o.xf.activeTimeout(); err != nil {
		return err
	}
	cfg.Table.Window = o.fl.window()
	if len(o.lf.ifaces) > 0 {
		if len(o.pcaps) > 0 {
			return fmt.Errorf("%w: --pcap and --iface together: a file's packet times and an interface's wall clock make no one engine clock; run one flowd serve for each", errLiveUsage)
		}
		// Live: the clock is the wall clock (packets carry it), and it
		// moves on while the link is idle so flows time out; a sink that
		// falls behind costs counted flows, never dropped packets.
		cfg.Clock = engine.ClockWall
		cfg.DropWhenSinksBehind = true
	}
	e, err := engine.New(cfg)
	if err != nil {
		return err
	}
	// Sources, each in the endpoint the config places it in or the default
	// one; NewOps makes the firewall's endpoints of them.
	infos, err := o.lf.open(e, engine.SourceInfo{AvailabilityZone: o.az, VpcEndpointID: o.vpce})
	if err != nil {
		return err
	}
	// Each source is a network interface for VPC flow logs; a live one's
	// local addresses (flow-direction) are the host's on that interface.
	var ifaces []flowlog.Interface
	for _, info := range infos {
		in, err := o.lf.meta[info.Name].apply(liveFlowLogInterface(info.Name))
		if err != nil {
			return err
		}
		ifaces = append(ifaces, in)
	}
	for _, p := range o.pcaps {
		info := engine.SourceInfo{AvailabilityZone: cmp.Or(p.AvailabilityZone, o.az),
			VpcEndpointID: cmp.Or(p.VpcEndpointID, o.vpce), AssociationArn: p.AssociationArn}
		info, err := openFile(e, p, info)
		if err != nil {
			return err
		}
		infos = append(infos, info)
		in, err := p.Iface.flowLogInterface(info.Name)
		if err != nil {
			return err
		}
		ifaces = append(ifaces, in)
	}
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "flowd serve: "+format+"\n", args...) }
	fls, err := o.fl.open(e, ifaces, logf)
	if err != nil {
		return err
	}
	// The default endpoint exists even with no source behind it.
	endpoints := []engine.Endpoint{{AvailabilityZone: o.az, VpcEndpointID: o.vpce}}
	var eve *output.Sink
	if o.eve != "" {
		opts, err := o.vf.options(infos)
		if err != nil {
			return err
		}
		sink, err := output.NewSink(output.SinkConfig{Format: output.FormatEVE, Path: o.eve, Append: true,
			Order: output.OrderEnd, Options: opts})
		if err != nil {
			return err
		}
		e.AddSink(sink)
		eve = sink
	}
	exports, err := o.xf.open(e, engineClock(e))
	if err != nil {
		return err
	}
	ops, err := engine.NewOps(e, engine.OpsConfig{
		Retention: o.retention, ResultCap: o.resultCap, ShardTimeout: o.shardWait, Endpoints: endpoints,
		MaxResultBytes: o.resultMax,
	})
	if err != nil {
		return err
	}
	srv, err := api.New(api.Config{Backend: ops, FirewallArn: o.arn, Retention: o.retention, Auth: creds, AuthRegions: regions,
		FlowLogs: fls.reg, Outputs: outputCounts(eve, exports, fls)})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	handler := http.Handler(srv)
	if o.metrics != "" {
		handler = srv.APIHandler()
		mln, err := net.Listen("tcp", o.metrics)
		if err != nil {
			return err
		}
		mhs := api.NewHTTPServer(srv.MetricsHandler(), api.Limits{})
		go mhs.Serve(api.LimitListener(mln, api.Limits{}))
		defer mhs.Close()
		fmt.Fprintf(os.Stderr, "flowd serve: /status, /metrics, /healthz, /readyz on http://%s\n", mln.Addr())
	} else if creds != nil {
		fmt.Fprintln(os.Stderr, "flowd serve: note: /status and /metrics are not authenticated; --metrics-listen 127.0.0.1:PORT keeps them off --listen")
	}
	// Signals are caught before the listening line: a supervisor (or a
	// test) that sends SIGTERM as soon as it reads the line gets the clean
	// stop, not the default action's kill.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := api.NewHTTPServer(handler, api.Limits{})
	ln = api.LimitListener(ln, api.Limits{})
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "flowd serve: listening on http://%s (firewall %s, %s, %s)\n", ln.Addr(), o.arn, o.az, o.vpce)

	if err := e.Start(context.Background()); err != nil {
		return err
	}
	fls.run(e, logf)
	stats := startLiveStats(o.sf.interval, e, eve)
	// A damaged source is said once, when the sources are done or at the
	// stop; serving goes on, and a signal still ends flowd with status 0.
	var sayOnce sync.Once
	saySourceErr := func() {
		if err := e.Err(); err != nil {
			sayOnce.Do(func() { fmt.Fprintf(os.Stderr, "flowd serve: %v\n", err) })
		}
	}
	go func() {
		select {
		case <-e.SourcesDone():
		case <-ctx.Done():
			return
		}
		st := e.Status()
		fmt.Fprintf(os.Stderr, "flowd serve: sources done: %d packets, %d flows active\n", st.Packets, st.Table.Active)
		saySourceErr()
	}()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	stop()
	fmt.Fprintln(os.Stderr, "flowd serve: shutting down")
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(shut)
	ops.Close()
	fls.stopClock()
	if err := stats.finish(); err != nil {
		logf("stats events: %v", err)
	}
	stopErr := e.Stop(engine.ReasonShutdown)
	printExports(os.Stderr, exports)
	upload, cancelUpload := context.WithTimeout(context.Background(), o.fl.uploadWait)
	defer cancelUpload()
	if err := fls.close(upload); err != nil {
		// Not lost: spooled objects go up at the next start.
		logf("%v", err)
	}
	fls.printSummary(os.Stderr)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	if srcErr := e.Err(); srcErr != nil && stopErr == srcErr {
		// Said above; not a reason to fail the stop a signal asked for.
		saySourceErr()
		return nil
	}
	return stopErr
}
