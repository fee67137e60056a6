package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"
)

const captureUsage = `Usage: flowctl capture [--filter FILTER]... [--min-age N] [--wait] [flags]

Starts a flow capture and, with --wait, waits for it to end and prints the
flows it found (as a table unless --output says otherwise).

FILTER is a FlowFilter as for --flow-filters (shorthand, JSON or
file://PATH), where the members may also be written src, dst, sport, dport
and proto, and addresses given bare:
  --filter 'src=10.0.0.0/8,dport=443,proto=6'
  --filter 'dst=2001:db8::/32' --filter 'proto=1,58'
Several --filter flags: a flow matching any of them is captured. None: every
flow.

Exit status: 0 success, 1 a failure (the capture ended FAILED, no
connection, the service answered with an error), 2 a bad command line.
`

func runCapture(ctx context.Context, g *globals, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("flowctl capture", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if !g.outputSet {
		g.output = "table" // a person at a terminal; --output says otherwise
	}
	g.register(fs)
	var (
		firewall, az, vpce, assoc string
		filters                   multiFlag
		minAge                    optInt
		wait                      bool
		timeout                   time.Duration
	)
	fs.StringVar(&firewall, "firewall-arn", defaultFirewallArn, "`ARN` of the firewall")
	fs.StringVar(&az, "availability-zone", "", "Availability Zone to capture in")
	fs.StringVar(&vpce, "vpc-endpoint-id", "", "VPC endpoint to capture on")
	fs.StringVar(&assoc, "vpc-endpoint-association-arn", "", "VPC endpoint association to capture on")
	fs.Var(&filters, "filter", "a FlowFilter (repeatable; see above)")
	fs.Var(&minAge, "min-age", "skip flows younger than this many seconds (MinimumFlowAgeInSeconds)")
	fs.BoolVar(&wait, "wait", false, "wait for the capture to end and print its flows")
	fs.DurationVar(&timeout, "timeout", 2*time.Minute, "with --wait, give up after this long")
	if describing != nil {
		describing(fs, captureUsage)
		return errDescribed
	}
	if err := fs.Parse(expandLists(args, "filter")); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeHelp(stdout, captureUsage, fs)
			return err
		}
		return ownUsageError(err.Error())
	}
	if fs.NArg() > 0 {
		return ownUsageError(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if err := g.check(); err != nil {
		return err
	}
	ff, err := parseFlowFilters(filters, true)
	if err != nil {
		return ownUsageError(err.Error())
	}
	if len(ff) == 0 {
		ff = []types.FlowFilter{{}}
	}
	client, err := g.client(ctx)
	if err != nil {
		return err
	}
	started, err := start(ctx, client, false, startRequest{firewall, ff, minAge.int32(), az, vpce, assoc})
	if err != nil {
		return callError("StartFlowCapture", err)
	}
	id := aws.ToString(started.id)
	if !wait {
		return write(stdout, g.output, "StartFlowCapture", started.record())
	}

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	status, msg, err := waitFor(ctx, client, firewall, id)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("capture %s still in progress after %v (see flowctl network-firewall describe-flow-operation --flow-operation-id %s)", id, timeout, id)
		}
		return callError("DescribeFlowOperation", err)
	}
	if status == types.FlowOperationStatusFailed {
		return &failedError{msg: fmt.Sprintf("capture %s FAILED: %s", id, msg)}
	}
	r, n, err := listResults(ctx, client, &nfw.ListFlowOperationResultsInput{
		FirewallArn: aws.String(firewall), FlowOperationId: aws.String(id),
	}, nil, nil, -1, false)
	if err != nil {
		return callError("ListFlowOperationResults", err)
	}
	if g.output == "table" {
		// The flows only; the rest goes to stderr.
		var flows []record
		for _, f := range r {
			if f.key == "Flows" {
				flows = f.val.([]record)
			}
		}
		sortFlows(flows)
		if err := itemsTable(stdout, flows); err != nil {
			return err
		}
	} else if err := write(stdout, g.output, "ListFlowOperationResults", r); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "capture %s: %s, %d flows\n", id, status, n)
	if status == types.FlowOperationStatusCompletedWithErrors {
		fmt.Fprintf(stderr, "warning: some flows may be missing: %s\n", msg)
	}
	return nil
}

// waitFor polls DescribeFlowOperation until the operation is no longer in
// progress, backing off from 50 ms to 1 s.
func waitFor(ctx context.Context, client *nfw.Client, firewall, id string) (types.FlowOperationStatus, string, error) {
	delay := 50 * time.Millisecond
	for {
		d, err := client.DescribeFlowOperation(ctx, &nfw.DescribeFlowOperationInput{
			FirewallArn: aws.String(firewall), FlowOperationId: aws.String(id),
		})
		if err != nil {
			return "", "", err
		}
		if d.FlowOperationStatus != types.FlowOperationStatusInProgress {
			return d.FlowOperationStatus, aws.ToString(d.StatusMessage), nil
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return "", "", ctx.Err()
		}
		delay = min(2*delay, time.Second)
	}
}

// sortFlows orders a capture's flows for people: oldest first, then by
// source address and port.
func sortFlows(flows []record) {
	get := func(r record, key string) any {
		for _, f := range r {
			if f.key == key {
				return flatten(f.val)
			}
		}
		return nil
	}
	num := func(v any) int64 {
		switch x := v.(type) {
		case int64:
			return x
		case string:
			n, _ := strconv.ParseInt(x, 10, 64)
			return n
		}
		return 0
	}
	slices.SortStableFunc(flows, func(a, b record) int {
		if c := cmp.Compare(num(get(b, "Age")), num(get(a, "Age"))); c != 0 {
			return c
		}
		sa, _ := get(a, "SourceAddress").(string)
		sb, _ := get(b, "SourceAddress").(string)
		pa, erra := netip.ParsePrefix(sa)
		pb, errb := netip.ParsePrefix(sb)
		if erra == nil && errb == nil {
			if c := pa.Addr().Compare(pb.Addr()); c != 0 {
				return c
			}
		} else if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
		return cmp.Compare(num(get(a, "SourcePort")), num(get(b, "SourcePort")))
	})
}
