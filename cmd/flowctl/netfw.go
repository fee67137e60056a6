package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"
	"github.com/aws/aws-sdk-go-v2/service/networkfirewall/types"
)

// The network-firewall operations flowctl knows, by CLI name.
var netfwOps = map[string]struct {
	api string
	run func(ctx context.Context, c *cmd) error
}{
	"start-flow-capture":          {"StartFlowCapture", startOp(false)},
	"start-flow-flush":            {"StartFlowFlush", startOp(true)},
	"describe-flow-operation":     {"DescribeFlowOperation", describeOp},
	"list-flow-operations":        {"ListFlowOperations", listOpsOp},
	"list-flow-operation-results": {"ListFlowOperationResults", listResultsOp},
}

func operationNames() []string {
	return slices.Sorted(maps.Keys(netfwOps))
}

// cmd is one operation's command line being run.
type cmd struct {
	g      *globals
	name   string // CLI name
	api    string // API operation
	fs     *flag.FlagSet
	args   []string // the operation's command line
	stdout io.Writer
	client *nfw.Client

	// Flags shared by several operations.
	firewall, az, vpce, assoc string
	opID                      string
	filters                   multiFlag
	minAge                    optInt
	maxResults, pageSize      optInt
	maxItems                  optInt
	nextToken, startingToken  string
	opType                    string
	noPaginate                bool
}

// multiFlag collects repeated values.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// optInt is an integer flag that knows whether it was given.
type optInt struct {
	v   int64
	set bool
}

func (o *optInt) String() string {
	if !o.set {
		return ""
	}
	return strconv.FormatInt(o.v, 10)
}

func (o *optInt) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return fmt.Errorf("invalid int value: %q", s)
	}
	o.v, o.set = v, true
	return nil
}

func (o *optInt) int32() *int32 {
	if !o.set {
		return nil
	}
	return aws.Int32(int32(o.v))
}

// expandLists lets a list flag take several values, as the AWS CLI's do:
// "--flow-filters A B --x" is "--flow-filters A --flow-filters B --x".
func expandLists(args []string, lists ...string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		name := strings.TrimLeft(a, "-")
		name, _, hasValue := strings.Cut(name, "=")
		if !strings.HasPrefix(a, "-") || !contains(lists, name) {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				break
			}
			i++
			out = append(out, args[i])
		}
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++
			out = append(out, "--"+name, args[i])
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func runNetworkFirewall(ctx context.Context, g *globals, name string, args []string, stdout, stderr io.Writer) error {
	op, ok := netfwOps[name]
	if !ok {
		return usageError(fmt.Sprintf("network-firewall: unknown operation %q; flowctl knows %s", name, strings.Join(operationNames(), ", ")))
	}
	c := &cmd{g: g, name: name, api: op.api, args: args, stdout: stdout, firewall: defaultFirewallArn}
	c.fs = flag.NewFlagSet("flowctl network-firewall "+name, flag.ContinueOnError)
	c.fs.SetOutput(io.Discard)
	g.register(c.fs)
	return op.run(ctx, c)
}

// scopeFlags registers --firewall-arn and the scope flags.
func (c *cmd) scopeFlags() {
	c.fs.StringVar(&c.firewall, "firewall-arn", c.firewall, "`ARN` of the firewall")
	c.fs.StringVar(&c.az, "availability-zone", "", "`AZ`: the Availability Zone to run in or list")
	c.fs.StringVar(&c.vpce, "vpc-endpoint-id", "", "`ID` of the VPC endpoint (vpce-...)")
	c.fs.StringVar(&c.assoc, "vpc-endpoint-association-arn", "", "`ARN` of the VPC endpoint association")
}

func (c *cmd) pageFlags() {
	c.fs.Var(&c.maxResults, "max-results", "page size, `N` from 1 to 100; pages are fetched until the end")
	c.fs.Var(&c.pageSize, "page-size", "`N`: same as --max-results")
	c.fs.Var(&c.maxItems, "max-items", "stop after `N` items and print the NextToken to resume with")
	c.fs.StringVar(&c.nextToken, "next-token", "", "start from this `TOKEN`")
	c.fs.StringVar(&c.startingToken, "starting-token", "", "`TOKEN`: same as --next-token")
	c.fs.BoolVar(&c.noPaginate, "no-paginate", false, "fetch one page only")
}

// parse parses the command line and connects.
func (c *cmd) parse(ctx context.Context, args []string, required ...string) error {
	if err := c.parseFlags("network-firewall", "Network Firewall", args, []string{"flow-filters"}, required); err != nil {
		return err
	}
	var err error
	c.client, err = c.g.client(ctx)
	return err
}

// parseFlags parses a service's operation's command line as the AWS CLI
// would: help, unknown options, the global flags, the required ones. lists
// are the flags that take several values.
func (c *cmd) parseFlags(service, title string, args, lists, required []string) error {
	text := fmt.Sprintf("Usage: %s\n\nCalls the %s %s operation, as 'aws %s %s' does.\n",
		synopsis(service+" "+c.name, c.fs, required), title, c.api, service, c.name)
	if describing != nil {
		describing(c.fs, text)
		return errDescribed
	}
	if err := c.fs.Parse(expandLists(args, lists...)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeHelp(c.stdout, text, c.fs)
			return err
		}
		return usageError(err.Error())
	}
	if c.fs.NArg() > 0 {
		return usageError(fmt.Sprintf("Unknown options: %s", strings.Join(c.fs.Args(), ", ")))
	}
	if err := c.g.check(); err != nil {
		return err
	}
	given := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var miss []string
	for _, r := range required {
		if !given[r] {
			miss = append(miss, "--"+r)
		}
	}
	if len(miss) > 0 {
		return usageError("the following arguments are required: " + strings.Join(miss, ", "))
	}
	return nil
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func (c *cmd) print(r record) error { return write(c.stdout, c.g.output, c.api, r) }

func startOp(flush bool) func(context.Context, *cmd) error {
	return func(ctx context.Context, c *cmd) error {
		c.scopeFlags()
		c.fs.Var(&c.filters, "flow-filters", "`FILTER`s: shorthand, JSON or file://PATH (several values allowed)")
		c.fs.Var(&c.minAge, "minimum-flow-age-in-seconds", "skip flows younger than `SECONDS`")
		if err := c.parse(ctx, c.args, "flow-filters"); err != nil {
			return err
		}
		filters, err := parseFlowFilters(c.filters, false)
		if err != nil {
			return usageError(err.Error())
		}
		out, err := start(ctx, c.client, flush, startRequest{c.firewall, filters, c.minAge.int32(), c.az, c.vpce, c.assoc})
		if err != nil {
			return callError(c.api, err)
		}
		return c.print(out.record())
	}
}

// startRequest is what StartFlowCapture and StartFlowFlush take.
type startRequest struct {
	firewall        string
	filters         []types.FlowFilter
	minAge          *int32
	az, vpce, assoc string
}

// start calls StartFlowFlush or StartFlowCapture.
func start(ctx context.Context, client *nfw.Client, flush bool, q startRequest) (startResult, error) {
	if flush {
		o, err := client.StartFlowFlush(ctx, &nfw.StartFlowFlushInput{
			FirewallArn: aws.String(q.firewall), FlowFilters: q.filters, MinimumFlowAgeInSeconds: q.minAge,
			AvailabilityZone: optStr(q.az), VpcEndpointId: optStr(q.vpce), VpcEndpointAssociationArn: optStr(q.assoc),
		})
		if err != nil {
			return startResult{}, err
		}
		return startResult{o.FirewallArn, o.FlowOperationId, o.FlowOperationStatus}, nil
	}
	o, err := client.StartFlowCapture(ctx, &nfw.StartFlowCaptureInput{
		FirewallArn: aws.String(q.firewall), FlowFilters: q.filters, MinimumFlowAgeInSeconds: q.minAge,
		AvailabilityZone: optStr(q.az), VpcEndpointId: optStr(q.vpce), VpcEndpointAssociationArn: optStr(q.assoc),
	})
	if err != nil {
		return startResult{}, err
	}
	return startResult{o.FirewallArn, o.FlowOperationId, o.FlowOperationStatus}, nil
}

// pages fetches page after page: until the last, until budget items (when
// budget > 0), or one page only. fetch gets each page's token and size and
// returns how many items the page held and the next token, which pages
// returns for the caller to print.
func pages(page *int32, token *string, budget int, onePage bool, fetch func(token *string, size *int32) (int, *string, error)) (*string, error) {
	for {
		n, next, err := fetch(token, pageLimit(page, budget))
		if err != nil {
			return nil, err
		}
		token = next
		if budget > 0 {
			budget -= n
		}
		if token == nil || *token == "" || onePage || budget == 0 {
			return token, nil
		}
	}
}

type startResult struct {
	arn, id *string
	status  types.FlowOperationStatus
}

func (s startResult) record() record {
	var r record
	r.add("FirewallArn", s.arn)
	r.add("FlowOperationId", s.id)
	r.add("FlowOperationStatus", string(s.status))
	return r
}

func describeOp(ctx context.Context, c *cmd) error {
	c.scopeFlags()
	c.fs.StringVar(&c.opID, "flow-operation-id", "", "`ID` of the flow operation")
	if err := c.parse(ctx, c.args, "flow-operation-id"); err != nil {
		return err
	}
	o, err := c.client.DescribeFlowOperation(ctx, &nfw.DescribeFlowOperationInput{
		FirewallArn: aws.String(c.firewall), FlowOperationId: aws.String(c.opID),
		AvailabilityZone: optStr(c.az), VpcEndpointId: optStr(c.vpce), VpcEndpointAssociationArn: optStr(c.assoc),
	})
	if err != nil {
		return callError(c.api, err)
	}
	var r record
	r.add("FirewallArn", o.FirewallArn)
	r.add("AvailabilityZone", o.AvailabilityZone)
	r.add("VpcEndpointAssociationArn", o.VpcEndpointAssociationArn)
	r.add("VpcEndpointId", o.VpcEndpointId)
	r.add("FlowOperationId", o.FlowOperationId)
	r.add("FlowOperationType", string(o.FlowOperationType))
	r.add("FlowRequestTimestamp", o.FlowRequestTimestamp)
	r.add("FlowOperationStatus", string(o.FlowOperationStatus))
	r.add("StatusMessage", o.StatusMessage)
	if o.FlowOperation != nil {
		var fo record
		fo.add("MinimumFlowAgeInSeconds", o.FlowOperation.MinimumFlowAgeInSeconds)
		var fs []record
		for _, f := range o.FlowOperation.FlowFilters {
			fs = append(fs, filterRecord(f))
		}
		if fs != nil {
			fo.add("FlowFilters", fs)
		}
		r.add("FlowOperation", fo)
	}
	return c.print(r)
}

func filterRecord(f types.FlowFilter) record {
	var r record
	if f.SourceAddress != nil {
		var a record
		a.add("AddressDefinition", f.SourceAddress.AddressDefinition)
		r.add("SourceAddress", a)
	}
	if f.DestinationAddress != nil {
		var a record
		a.add("AddressDefinition", f.DestinationAddress.AddressDefinition)
		r.add("DestinationAddress", a)
	}
	r.add("SourcePort", f.SourcePort)
	r.add("DestinationPort", f.DestinationPort)
	r.add("Protocols", f.Protocols)
	return r
}

func flowRecord(f types.Flow) record {
	var r record
	addr := func(key string, a *types.Address) {
		if a != nil {
			var ar record
			ar.add("AddressDefinition", a.AddressDefinition)
			r.add(key, ar)
		}
	}
	addr("SourceAddress", f.SourceAddress)
	addr("DestinationAddress", f.DestinationAddress)
	r.add("SourcePort", f.SourcePort)
	r.add("DestinationPort", f.DestinationPort)
	r.add("Protocol", f.Protocol)
	r.add("Age", f.Age)
	r.add("PacketCount", f.PacketCount)
	r.add("ByteCount", f.ByteCount)
	return r
}

// paging works out the page size, the first token and the item budget.
func (c *cmd) paging() (page *int32, token *string, budget int, err error) {
	page = c.maxResults.int32()
	if c.pageSize.set {
		page = c.pageSize.int32()
	}
	token = optStr(firstOf(c.nextToken, c.startingToken))
	budget = -1
	if c.maxItems.set {
		if c.maxItems.v < 1 {
			return nil, nil, 0, usageError("--max-items: want at least 1")
		}
		budget = int(c.maxItems.v)
	}
	return page, token, budget, nil
}

// pageLimit is the MaxResults of the next call: the page size, cut to the
// items still wanted so that a page is never split (the token then resumes
// exactly after the last item printed).
func pageLimit(page *int32, budget int) *int32 {
	if budget < 0 {
		return page
	}
	n := int32(100)
	if page != nil {
		n = *page
	}
	return aws.Int32(min(n, int32(budget)))
}

func listOpsOp(ctx context.Context, c *cmd) error {
	c.scopeFlags()
	c.pageFlags()
	c.fs.StringVar(&c.opType, "flow-operation-type", "", "`TYPE`: FLOW_CAPTURE or FLOW_FLUSH")
	if err := c.parse(ctx, c.args); err != nil {
		return err
	}
	page, token, budget, err := c.paging()
	if err != nil {
		return err
	}
	in := &nfw.ListFlowOperationsInput{
		FirewallArn: aws.String(c.firewall), FlowOperationType: types.FlowOperationType(c.opType),
		AvailabilityZone: optStr(c.az), VpcEndpointId: optStr(c.vpce), VpcEndpointAssociationArn: optStr(c.assoc),
	}
	var items []record
	token, err = pages(page, token, budget, c.noPaginate, func(token *string, size *int32) (int, *string, error) {
		in.NextToken, in.MaxResults = token, size
		o, err := c.client.ListFlowOperations(ctx, in)
		if err != nil {
			return 0, nil, err
		}
		for _, m := range o.FlowOperations {
			var r record
			r.add("FlowOperationId", m.FlowOperationId)
			r.add("FlowOperationType", string(m.FlowOperationType))
			r.add("FlowRequestTimestamp", m.FlowRequestTimestamp)
			r.add("FlowOperationStatus", string(m.FlowOperationStatus))
			items = append(items, r)
		}
		return len(o.FlowOperations), o.NextToken, nil
	})
	if err != nil {
		return callError(c.api, err)
	}
	var r record
	r.add("FlowOperations", nonNil(items))
	r.add("NextToken", token)
	return c.print(r)
}

func nonNil(rs []record) []record {
	if rs == nil {
		return []record{}
	}
	return rs
}

func listResultsOp(ctx context.Context, c *cmd) error {
	c.scopeFlags()
	c.pageFlags()
	c.fs.StringVar(&c.opID, "flow-operation-id", "", "`ID` of the flow operation")
	if err := c.parse(ctx, c.args, "flow-operation-id"); err != nil {
		return err
	}
	page, token, budget, err := c.paging()
	if err != nil {
		return err
	}
	r, _, err := listResults(ctx, c.client, &nfw.ListFlowOperationResultsInput{
		FirewallArn: aws.String(c.firewall), FlowOperationId: aws.String(c.opID),
		AvailabilityZone: optStr(c.az), VpcEndpointId: optStr(c.vpce), VpcEndpointAssociationArn: optStr(c.assoc),
	}, page, token, budget, c.noPaginate)
	if err != nil {
		return callError(c.api, err)
	}
	return c.print(r)
}

// listResults fetches an operation's results, page after page, and returns
// them as one record (the first page's members and every flow).
func listResults(ctx context.Context, client *nfw.Client, in *nfw.ListFlowOperationResultsInput, page *int32, token *string, budget int, onePage bool) (record, int, error) {
	var head *nfw.ListFlowOperationResultsOutput
	var flows []record
	token, err := pages(page, token, budget, onePage, func(token *string, size *int32) (int, *string, error) {
		in.NextToken, in.MaxResults = token, size
		o, err := client.ListFlowOperationResults(ctx, in)
		if err != nil {
			return 0, nil, err
		}
		if head == nil {
			head = o
		}
		for _, f := range o.Flows {
			flows = append(flows, flowRecord(f))
		}
		return len(o.Flows), o.NextToken, nil
	})
	if err != nil {
		return nil, 0, err
	}
	var r record
	r.add("FirewallArn", head.FirewallArn)
	r.add("AvailabilityZone", head.AvailabilityZone)
	r.add("VpcEndpointAssociationArn", head.VpcEndpointAssociationArn)
	r.add("VpcEndpointId", head.VpcEndpointId)
	r.add("FlowOperationId", head.FlowOperationId)
	r.add("FlowOperationStatus", string(head.FlowOperationStatus))
	r.add("StatusMessage", head.StatusMessage)
	r.add("FlowRequestTimestamp", head.FlowRequestTimestamp)
	r.add("Flows", nonNil(flows))
	r.add("NextToken", token)
	return r, len(flows), nil
}
