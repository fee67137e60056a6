package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The ec2 operations flowctl knows, by CLI name: the VPC flow log ones.
var ec2Ops = map[string]struct {
	api string
	run func(ctx context.Context, c *ec2Cmd) error
}{
	"create-flow-logs":   {"CreateFlowLogs", createFlowLogsOp},
	"describe-flow-logs": {"DescribeFlowLogs", describeFlowLogsOp},
	"delete-flow-logs":   {"DeleteFlowLogs", deleteFlowLogsOp},
}

func ec2OperationNames() []string { return slices.Sorted(maps.Keys(ec2Ops)) }

// ec2Cmd is one ec2 operation's command line being run. It shares cmd's
// paging flags and helpers; its client is EC2's.
type ec2Cmd struct {
	cmd
	client *ec2.Client
	dryRun bool
	noDry  bool
	ids    multiFlag // --flow-log-ids or --resource-ids
}

func runEC2(ctx context.Context, g *globals, name string, args []string, stdout io.Writer) error {
	op, ok := ec2Ops[name]
	if !ok {
		return usageError(fmt.Sprintf("ec2: unknown operation %q; flowctl knows %s", name, strings.Join(ec2OperationNames(), ", ")))
	}
	c := &ec2Cmd{cmd: cmd{g: g, name: name, api: op.api, args: args, stdout: stdout}}
	c.fs = flag.NewFlagSet("flowctl ec2 "+name, flag.ContinueOnError)
	c.fs.SetOutput(io.Discard)
	g.register(c.fs)
	return op.run(ctx, c)
}

func (c *ec2Cmd) dryRunFlags() {
	c.fs.BoolVar(&c.dryRun, "dry-run", false, "check the request and the permissions without acting (answered DryRunOperation)")
	c.fs.BoolVar(&c.noDry, "no-dry-run", false, "act (the default)")
}

func (c *ec2Cmd) dry() *bool {
	if c.dryRun && !c.noDry {
		return aws.Bool(true)
	}
	return nil
}

// parse parses the command line, as the AWS CLI would, and connects.
// lists are the flags that take several values.
func (c *ec2Cmd) parse(ctx context.Context, lists []string, required ...string) error {
	if err := c.parseFlags("ec2", "EC2", c.args, lists, required); err != nil {
		return err
	}
	cfg, endpoint, err := c.g.awsConfig(ctx, "AWS_ENDPOINT_URL_EC2")
	if err != nil {
		return err
	}
	c.client = ec2.NewFromConfig(cfg, func(o *ec2.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = retryer()
	})
	return nil
}

func createFlowLogsOp(ctx context.Context, c *ec2Cmd) error {
	var (
		in            ec2.CreateFlowLogsInput
		rt, tt, dt    string
		dest, group   string
		role, xrole   string
		format, token string
		interval      optInt
		options       string
		tagSpecs      multiFlag
	)
	c.fs.Var(&c.ids, "resource-ids", "`ID`s of the resources to monitor (several values allowed); a network interface's name works as its id on flowd")
	c.fs.StringVar(&rt, "resource-type", "", "`TYPE` of the resources: VPC, Subnet, NetworkInterface, TransitGateway, TransitGatewayAttachment or RegionalNatGateway")
	c.fs.StringVar(&tt, "traffic-type", "", "`TYPE` of traffic to log: ACCEPT, REJECT or ALL (not for transit gateways)")
	c.fs.StringVar(&dt, "log-destination-type", "", "`TYPE` of destination: cloud-watch-logs (when not given), s3 or kinesis-data-firehose")
	c.fs.StringVar(&dest, "log-destination", "", "`ARN` of the destination: log group, S3 bucket[/prefix] or Firehose delivery stream")
	c.fs.StringVar(&group, "log-group-name", "", "`NAME` of the CloudWatch Logs log group (cloud-watch-logs only; or --log-destination)")
	c.fs.StringVar(&role, "deliver-logs-permission-arn", "", "`ARN` of the IAM role that delivers the logs (required for cloud-watch-logs)")
	c.fs.StringVar(&xrole, "deliver-cross-account-role", "", "`ARN` of the IAM role that publishes to another account")
	c.fs.StringVar(&format, "log-format", "", "the record `FORMAT`: ${field} references separated by spaces (when not given: the default format)")
	c.fs.Var(&interval, "max-aggregation-interval", "`SECONDS` of the aggregation interval: 60 or 600")
	c.fs.StringVar(&options, "destination-options", "", "S3 `OPTIONS`, shorthand or JSON: FileFormat=plain-text|parquet,HiveCompatiblePartitions=true|false,PerHourPartition=true|false")
	c.fs.Var(&tagSpecs, "tag-specifications", "`SPEC`s, shorthand or JSON: ResourceType=vpc-flow-log,Tags=[{Key=k,Value=v}] (several values allowed)")
	c.fs.StringVar(&token, "client-token", "", "idempotency `TOKEN`: a retry with the same token and request creates nothing new")
	c.dryRunFlags()
	if err := c.parse(ctx, []string{"resource-ids", "tag-specifications"}, "resource-ids", "resource-type"); err != nil {
		return err
	}
	in.ResourceIds = []string(c.ids)
	in.ResourceType = ec2types.FlowLogsResourceType(rt)
	in.TrafficType = ec2types.TrafficType(tt)
	in.LogDestinationType = ec2types.LogDestinationType(dt)
	in.LogDestination, in.LogGroupName = optStr(dest), optStr(group)
	in.DeliverLogsPermissionArn, in.DeliverCrossAccountRole = optStr(role), optStr(xrole)
	in.LogFormat, in.ClientToken = optStr(format), optStr(token)
	in.MaxAggregationInterval = interval.int32()
	in.DryRun = c.dry()
	if options != "" {
		o, err := parseDestinationOptions(options)
		if err != nil {
			return err
		}
		in.DestinationOptions = o
	}
	for _, s := range tagSpecs {
		specs, err := parseTagSpecifications(s)
		if err != nil {
			return err
		}
		in.TagSpecifications = append(in.TagSpecifications, specs...)
	}
	out, err := c.client.CreateFlowLogs(ctx, &in)
	if err != nil {
		return callError(c.api, err)
	}
	var r record
	r.add("ClientToken", out.ClientToken)
	r.add("FlowLogIds", nonNilStrings(out.FlowLogIds))
	r.add("Unsuccessful", unsuccessfulRecords(out.Unsuccessful))
	return c.print(r)
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func unsuccessfulRecords(items []ec2types.UnsuccessfulItem) []record {
	out := []record{}
	for _, u := range items {
		var r, e record
		if u.Error != nil {
			e.add("Code", u.Error.Code)
			e.add("Message", u.Error.Message)
			r.add("Error", e)
		}
		r.add("ResourceId", u.ResourceId)
		out = append(out, r)
	}
	return out
}

func describeFlowLogsOp(ctx context.Context, c *ec2Cmd) error {
	var filters multiFlag
	c.fs.Var(&c.ids, "flow-log-ids", "`ID`s of the flow logs to describe (several values allowed; when not given: all)")
	c.fs.Var(&filters, "filter", "`FILTER`s: Name=NAME,Values=V1,V2 or JSON (several values allowed); names: deliver-log-status, flow-log-id, log-destination-type, log-group-name, resource-id, traffic-type, tag:KEY, tag-key")
	c.fs.Var(&c.maxResults, "max-results", "page size, `N` from 1 to 1000; pages are fetched until the end")
	c.fs.Var(&c.pageSize, "page-size", "`N`: same as --max-results")
	c.fs.Var(&c.maxItems, "max-items", "stop after `N` flow logs and print the NextToken to resume with")
	c.fs.StringVar(&c.nextToken, "next-token", "", "start from this `TOKEN`")
	c.fs.StringVar(&c.startingToken, "starting-token", "", "`TOKEN`: same as --next-token")
	c.fs.BoolVar(&c.noPaginate, "no-paginate", false, "fetch one page only")
	c.dryRunFlags()
	if err := c.parse(ctx, []string{"flow-log-ids", "filter"}); err != nil {
		return err
	}
	in := &ec2.DescribeFlowLogsInput{FlowLogIds: []string(c.ids), DryRun: c.dry()}
	for _, f := range filters {
		ff, err := parseEC2Filters(f)
		if err != nil {
			return err
		}
		in.Filter = append(in.Filter, ff...)
	}
	page, token, budget, err := c.paging()
	if err != nil {
		return err
	}
	var items []record
	token, err = pages(page, token, budget, c.noPaginate, func(token *string, size *int32) (int, *string, error) {
		in.NextToken, in.MaxResults = token, size
		o, err := c.client.DescribeFlowLogs(ctx, in)
		if err != nil {
			return 0, nil, err
		}
		for _, f := range o.FlowLogs {
			items = append(items, flowLogRecord(f))
		}
		return len(o.FlowLogs), o.NextToken, nil
	})
	if err != nil {
		return callError(c.api, err)
	}
	var r record
	r.add("FlowLogs", nonNil(items))
	r.add("NextToken", token)
	return c.print(r)
}

// flowLogRecord is a FlowLog with the members in the AWS CLI's order.
func flowLogRecord(f ec2types.FlowLog) record {
	var r record
	r.add("CreationTime", f.CreationTime)
	r.add("DeliverLogsErrorMessage", f.DeliverLogsErrorMessage)
	r.add("DeliverLogsPermissionArn", f.DeliverLogsPermissionArn)
	r.add("DeliverCrossAccountRole", f.DeliverCrossAccountRole)
	r.add("DeliverLogsStatus", f.DeliverLogsStatus)
	r.add("FlowLogId", f.FlowLogId)
	r.add("FlowLogStatus", f.FlowLogStatus)
	r.add("LogGroupName", f.LogGroupName)
	r.add("ResourceId", f.ResourceId)
	r.add("TrafficType", string(f.TrafficType))
	r.add("LogDestinationType", string(f.LogDestinationType))
	r.add("LogDestination", f.LogDestination)
	r.add("LogFormat", f.LogFormat)
	if len(f.Tags) > 0 {
		var tags []record
		for _, t := range f.Tags {
			var tr record
			tr.add("Key", t.Key)
			if t.Value != nil {
				tr = append(tr, field{"Value", *t.Value})
			}
			tags = append(tags, tr)
		}
		r.add("Tags", tags)
	}
	r.add("MaxAggregationInterval", f.MaxAggregationInterval)
	if o := f.DestinationOptions; o != nil {
		var or record
		or.add("FileFormat", string(o.FileFormat))
		if o.HiveCompatiblePartitions != nil {
			or = append(or, field{"HiveCompatiblePartitions", *o.HiveCompatiblePartitions})
		}
		if o.PerHourPartition != nil {
			or = append(or, field{"PerHourPartition", *o.PerHourPartition})
		}
		r.add("DestinationOptions", or)
	}
	return r
}

func deleteFlowLogsOp(ctx context.Context, c *ec2Cmd) error {
	c.fs.Var(&c.ids, "flow-log-ids", "`ID`s of the flow logs to delete (several values allowed)")
	c.dryRunFlags()
	if err := c.parse(ctx, []string{"flow-log-ids"}, "flow-log-ids"); err != nil {
		return err
	}
	out, err := c.client.DeleteFlowLogs(ctx, &ec2.DeleteFlowLogsInput{FlowLogIds: []string(c.ids), DryRun: c.dry()})
	if err != nil {
		return callError(c.api, err)
	}
	var r record
	r.add("Unsuccessful", unsuccessfulRecords(out.Unsuccessful))
	return c.print(r)
}

// paramValue reads a structured parameter as the AWS CLI does: file://PATH
// reads a file; a value that starts with { or [ is JSON; anything else is
// shorthand. The result holds strings, bools, numbers, lists and maps.
func paramValue(param, s string) (any, error) {
	if path, ok := strings.CutPrefix(s, "file://"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, usageError(fmt.Sprintf("Error parsing parameter '--%s': Unable to load paramfile %s: %v", param, s, err))
		}
		s = string(b)
	}
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		var v any
		if err := json.Unmarshal([]byte(t), &v); err != nil {
			return nil, usageError(fmt.Sprintf("Error parsing parameter '--%s': Invalid JSON: %v\nJSON received: %s", param, err, t))
		}
		return v, nil
	}
	m, err := parseShorthand(s)
	if err != nil {
		return nil, usageError(fmt.Sprintf("Error parsing parameter '--%s': %v", param, err))
	}
	return m, nil
}

// structOf checks that v is a structure whose members are among allowed.
func structOf(v any, path string, allowed ...string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, usageError(fmt.Sprintf("Invalid type for parameter %s, value: %v, type: %T, valid types: structure", path, v, v))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(allowed, k) {
			return nil, usageError(fmt.Sprintf("Unknown parameter in %s: %q, must be one of: %s", path, k, strings.Join(allowed, ", ")))
		}
	}
	return m, nil
}

func stringOf(v any, path string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", usageError(fmt.Sprintf("Invalid type for parameter %s, value: %v, type: %T, valid types: string", path, v, v))
	}
	return s, nil
}

// boolOf takes a JSON boolean or the shorthand's "true" / "false".
func boolOf(v any, path string) (*bool, error) {
	switch x := v.(type) {
	case bool:
		return aws.Bool(x), nil
	case string:
		switch strings.ToLower(x) {
		case "true":
			return aws.Bool(true), nil
		case "false":
			return aws.Bool(false), nil
		}
	}
	return nil, usageError(fmt.Sprintf("Invalid type for parameter %s, value: %v, type: %T, valid types: boolean", path, v, v))
}

// listOf takes a list, or one value standing for a list of one (the
// shorthand's Values=a).
func listOf(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func parseDestinationOptions(s string) (*ec2types.DestinationOptionsRequest, error) {
	v, err := paramValue("destination-options", s)
	if err != nil {
		return nil, err
	}
	m, err := structOf(v, "DestinationOptions", "FileFormat", "HiveCompatiblePartitions", "PerHourPartition")
	if err != nil {
		return nil, err
	}
	o := &ec2types.DestinationOptionsRequest{}
	if x, ok := m["FileFormat"]; ok {
		f, err := stringOf(x, "DestinationOptions.FileFormat")
		if err != nil {
			return nil, err
		}
		o.FileFormat = ec2types.DestinationFileFormat(f)
	}
	if x, ok := m["HiveCompatiblePartitions"]; ok {
		if o.HiveCompatiblePartitions, err = boolOf(x, "DestinationOptions.HiveCompatiblePartitions"); err != nil {
			return nil, err
		}
	}
	if x, ok := m["PerHourPartition"]; ok {
		if o.PerHourPartition, err = boolOf(x, "DestinationOptions.PerHourPartition"); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func parseTagSpecifications(s string) ([]ec2types.TagSpecification, error) {
	v, err := paramValue("tag-specifications", s)
	if err != nil {
		return nil, err
	}
	var out []ec2types.TagSpecification
	for i, item := range listOf(v) {
		path := fmt.Sprintf("TagSpecifications[%d]", i)
		m, err := structOf(item, path, "ResourceType", "Tags")
		if err != nil {
			return nil, err
		}
		var spec ec2types.TagSpecification
		if x, ok := m["ResourceType"]; ok {
			rt, err := stringOf(x, path+".ResourceType")
			if err != nil {
				return nil, err
			}
			spec.ResourceType = ec2types.ResourceType(rt)
		}
		if x, ok := m["Tags"]; ok {
			for j, t := range listOf(x) {
				tpath := fmt.Sprintf("%s.Tags[%d]", path, j)
				tm, err := structOf(t, tpath, "Key", "Value")
				if err != nil {
					return nil, err
				}
				var tag ec2types.Tag
				for _, k := range []string{"Key", "Value"} {
					if x, ok := tm[k]; ok {
						s, err := stringOf(x, tpath+"."+k)
						if err != nil {
							return nil, err
						}
						if k == "Key" {
							tag.Key = aws.String(s)
						} else {
							tag.Value = aws.String(s)
						}
					}
				}
				spec.Tags = append(spec.Tags, tag)
			}
		}
		out = append(out, spec)
	}
	return out, nil
}

func parseEC2Filters(s string) ([]ec2types.Filter, error) {
	v, err := paramValue("filter", s)
	if err != nil {
		return nil, err
	}
	var out []ec2types.Filter
	for i, item := range listOf(v) {
		path := fmt.Sprintf("Filter[%d]", i)
		m, err := structOf(item, path, "Name", "Values")
		if err != nil {
			return nil, err
		}
		var f ec2types.Filter
		if x, ok := m["Name"]; ok {
			name, err := stringOf(x, path+".Name")
			if err != nil {
				return nil, err
			}
			f.Name = aws.String(name)
		}
		if x, ok := m["Values"]; ok {
			f.Values = []string{}
			for j, val := range listOf(x) {
				s, err := stringOf(val, fmt.Sprintf("%s.Values[%d]", path, j))
				if err != nil {
					return nil, err
				}
				f.Values = append(f.Values, s)
			}
		}
		out = append(out, f)
	}
	return out, nil
}
