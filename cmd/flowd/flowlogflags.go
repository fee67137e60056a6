package main

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowlog"
	"github.com/flowd/flowd/internal/flowlogs"
)

// flowLogFlags are replay's VPC flow log settings: one flow log over every
// source, written as the S3 tree AWS would write.
type flowLogFlags struct {
	dir         string
	destination string
	format      string
	interval    int
	fileFormat  string
	layout      string
	trafficType string
}

func (f *flowLogFlags) register(fs *cmdFlags) {
	fs.section(groupFlowLogs)
	fs.StringVar(&f.dir, "flow-log-dir", "", "write VPC flow log records as S3 objects under this `directory`: DIR/<bucket>/AWSLogs/... with AWS's keys and file names")
	fs.StringVar(&f.destination, "flow-log-destination", "arn:aws:s3:::flow-logs", "the flow log's S3 destination `ARN` (arn:aws:s3:::bucket[/prefix]): the bucket folder and key prefix under --flow-log-dir")
	fs.StringVar(&f.format, "flow-log-format", "", "the flow log's LogFormat, e.g. '${version} ${srcaddr} ${dstaddr} ${tcp-flags}' (default: AWS's default format)")
	fs.IntVar(&f.interval, "flow-log-interval", 60, "aggregation interval in seconds of engine time: 60 or 600")
	fs.StringVar(&f.fileFormat, "flow-log-file-format", "plain-text", "object format: plain-text (gzip text with a header line) or parquet")
	fs.StringVar(&f.layout, "flow-log-layout", "plain", "key layout: plain, hive (Hive-compatible partitions), per-hour, or hive-per-hour")
	fs.StringVar(&f.trafficType, "flow-log-traffic-type", "ALL", "records kept: ALL, ACCEPT or REJECT")
}

// on reports whether a flow log is asked for.
func (f *flowLogFlags) on() bool { return f.dir != "" }

// window is the engine window the flow log needs (0: none).
func (f *flowLogFlags) window() time.Duration {
	if !f.on() {
		return 0
	}
	return time.Duration(f.interval) * time.Second
}

// definition is the CreateFlowLogs request the flags amount to.
func (f *flowLogFlags) definition(ifaces []flowlog.Interface) (flowlog.Definition, error) {
	d := flowlog.Definition{
		ResourceType:           flowlog.ResourceNetworkInterface,
		TrafficType:            f.trafficType,
		LogDestinationType:     flowlog.DestinationS3,
		LogDestination:         f.destination,
		LogFormat:              f.format,
		MaxAggregationInterval: f.interval,
	}
	for _, in := range ifaces {
		d.ResourceIds = append(d.ResourceIds, in.InterfaceID)
	}
	d.DestinationOptions.FileFormat = flowlog.FileFormat(f.fileFormat)
	switch f.layout {
	case "plain":
	case "hive":
		d.DestinationOptions.HiveCompatiblePartitions = true
	case "per-hour":
		d.DestinationOptions.PerHourPartition = true
	case "hive-per-hour":
		d.DestinationOptions.HiveCompatiblePartitions = true
		d.DestinationOptions.PerHourPartition = true
	default:
		return d, usagef("--flow-log-layout %q: want plain, hive, per-hour or hive-per-hour", f.layout)
	}
	return d, nil
}

// flagOfMember names the flag behind a CreateFlowLogs member, for errors.
var flagOfMember = map[string]string{
	"TrafficType": "--flow-log-traffic-type", "LogDestination": "--flow-log-destination",
	"LogFormat": "--flow-log-format", "MaxAggregationInterval": "--flow-log-interval",
	"DestinationOptions.FileFormat": "--flow-log-file-format", "FileFormat": "--flow-log-file-format",
}

// open validates the flow log and adds its sink to e (whose table window
// must be f.window()). infos are the sources, in id order.
func (f *flowLogFlags) open(e *engine.Engine, infos []engine.SourceInfo, logf func(string, ...any)) (*flowlogs.Sink, error) {
	if !f.on() {
		return nil, nil
	}
	ifaces := make([]flowlog.Interface, len(infos))
	idx := make([]int, len(infos))
	for i, in := range infos {
		ifaces[i] = flowlog.DefaultInterface(in.Name)
		idx[i] = i
	}
	d, err := f.definition(ifaces)
	if err != nil {
		return nil, err
	}
	set, err := d.Settings()
	if err != nil {
		if fe, ok := err.(*flowlog.Error); ok {
			for member, flag := range flagOfMember {
				if fe.Member == member {
					return nil, usagef("%s: %s", flag, fe.Message)
				}
			}
		}
		return nil, usagef("flow log: %v", err)
	}
	sink, err := flowlogs.New(flowlogs.Config{
		Interfaces: ifaces,
		Window:     f.window(),
		S3:         flowlog.DirStore{Root: f.dir},
		Logs: func() ([]flowlogs.Log, uint64) {
			return []flowlogs.Log{{ID: replayFlowLogID, Settings: set, Interfaces: idx}}, 1
		},
		Skipped:     e.WindowsDropped,
		Logf:        logf,
		ActiveFlows: func() int { return int(e.Status().Table.Active) },
	})
	if err != nil {
		return nil, err
	}
	if err := e.AddWindowSink(sink); err != nil {
		return nil, err
	}
	return sink, nil
}

// replayFlowLogID is the id of replay's flow log, in its object keys.
const replayFlowLogID = "fl-0000000000replay"

// printFlowLogSummary says what the flow log wrote.
func printFlowLogSummary(w io.Writer, s *flowlogs.Sink, dir string) {
	if s == nil {
		return
	}
	st := s.Stats()
	fmt.Fprintf(w, "flow log: %s records, %s NODATA, %s SKIPDATA under %s", strconv.FormatUint(st.Records, 10),
		strconv.FormatUint(st.NoData, 10), strconv.FormatUint(st.SkipData, 10), dir)
	if st.Errors > 0 {
		fmt.Fprintf(w, " (%d records not written)", st.Errors)
	}
	fmt.Fprintln(w)
}
