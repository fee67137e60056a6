package api_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/flowlog"
)

const (
	flRole     = "arn:aws:iam::123456789012:role/flow-logs"
	flBucket   = "arn:aws:s3:::flow-bucket/prefix/"
	flFirehose = "arn:aws:firehose:us-east-1:123456789012:deliverystream/flows"
)

var flCreated = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// ec2Ifaces are the interfaces the EC2 tests' flowd monitors: eth0 and
// eth1 in the default subnet, tap0 in a subnet and VPC of its own.
func ec2Ifaces() []flowlog.Interface {
	a, b, c := flowlog.DefaultInterface("eth0"), flowlog.DefaultInterface("eth1"), flowlog.DefaultInterface("tap0")
	c.SubnetID, c.VPCID = "subnet-00000000000000c01", "vpc-00000000000000c01"
	return []flowlog.Interface{a, b, c}
}

// ec2Server serves a registry of ec2Ifaces (persisted in dir unless "")
// and returns its URL and an official EC2 client for it.
func ec2Server(t *testing.T, dir string) (string, *ec2.Client, *flowlog.Registry) {
	t.Helper()
	reg, err := flowlog.NewRegistry(dir, ec2Ifaces(), func() time.Time { return flCreated })
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Backend: &fakeBackend{}, FlowLogs: reg})
	if err != nil {
		t.Fatal(err)
	}
	u := listen(t, srv)
	return u, ec2Client(u), reg
}

func ec2Client(u string) *ec2.Client {
	return ec2.New(ec2.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(u),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDFLOWD", "secret", ""),
		RetryMaxAttempts: 1,
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// ec2Err returns the code, message and HTTP status of an SDK error.
func ec2Err(err error) (string, string, int) {
	var ae smithy.APIError
	var re *awshttp.ResponseError
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage(), status
	}
	return "", fmt.Sprint(err), status
}

// postForm posts a raw ec2Query body.
func postForm(t *testing.T, u, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(u+"/", "application/x-www-form-urlencoded; charset=utf-8", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func describeAll(t *testing.T, c *ec2.Client, in *ec2.DescribeFlowLogsInput) []ec2types.FlowLog {
	t.Helper()
	var out []ec2types.FlowLog
	p := ec2.NewDescribeFlowLogsPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page.FlowLogs...)
	}
	return out
}

func TestEC2CreateEachDestination(t *testing.T) {
	_, c, reg := ec2Server(t, "")
	eth0 := ec2Ifaces()[0].InterfaceID
	for _, tc := range []struct {
		name  string
		in    ec2.CreateFlowLogsInput
		check func(f ec2types.FlowLog) string
	}{
		{"cloud-watch-logs by log group name", ec2.CreateFlowLogsInput{
			ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, ResourceIds: []string{"eth0"},
			TrafficType: ec2types.TrafficTypeAll, LogGroupName: aws.String("/vpc/flows"), DeliverLogsPermissionArn: aws.String(flRole),
		}, func(f ec2types.FlowLog) string {
			if f.LogDestinationType != ec2types.LogDestinationTypeCloudWatchLogs || aws.ToString(f.LogGroupName) != "/vpc/flows" ||
				aws.ToString(f.DeliverLogsPermissionArn) != flRole || aws.ToString(f.ResourceId) != eth0 ||
				aws.ToString(f.LogFormat) != flowlog.DefaultLogFormat || aws.ToInt32(f.MaxAggregationInterval) != 600 ||
				f.TrafficType != ec2types.TrafficTypeAll || f.DestinationOptions != nil {
				return "fields"
			}
			return ""
		}},
		{"cloud-watch-logs by ARN", ec2.CreateFlowLogsInput{
			ResourceType: ec2types.FlowLogsResourceTypeSubnet, ResourceIds: []string{flowlog.DefaultSubnetID},
			TrafficType: ec2types.TrafficTypeReject, LogDestinationType: ec2types.LogDestinationTypeCloudWatchLogs,
			LogDestination: aws.String("arn:aws:logs:us-east-1:123456789012:log-group:grp"), DeliverLogsPermissionArn: aws.String(flRole),
			DeliverCrossAccountRole: aws.String("arn:aws:iam::210987654321:role/x"), MaxAggregationInterval: aws.Int32(60),
		}, func(f ec2types.FlowLog) string {
			if aws.ToString(f.LogGroupName) != "grp" || aws.ToString(f.LogDestination) != "arn:aws:logs:us-east-1:123456789012:log-group:grp" ||
				aws.ToString(f.DeliverCrossAccountRole) != "arn:aws:iam::210987654321:role/x" || aws.ToInt32(f.MaxAggregationInterval) != 60 ||
				f.TrafficType != ec2types.TrafficTypeReject {
				return "fields"
			}
			return ""
		}},
		{"s3 plain text", ec2.CreateFlowLogsInput{
			ResourceType: ec2types.FlowLogsResourceTypeVpc, ResourceIds: []string{flowlog.DefaultVPCID},
			TrafficType: ec2types.TrafficTypeAccept, LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String(flBucket),
		}, func(f ec2types.FlowLog) string {
			o := f.DestinationOptions
			if f.LogDestinationType != ec2types.LogDestinationTypeS3 || aws.ToString(f.LogDestination) != flBucket || o == nil ||
				o.FileFormat != ec2types.DestinationFileFormatPlainText || aws.ToBool(o.HiveCompatiblePartitions) || aws.ToBool(o.PerHourPartition) ||
				f.LogGroupName != nil {
				return "fields"
			}
			return ""
		}},
		{"s3 parquet, hive, per hour, custom format, tags", ec2.CreateFlowLogsInput{
			ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, ResourceIds: []string{"tap0"},
			TrafficType: ec2types.TrafficTypeAll, LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String(flBucket),
			LogFormat: aws.String("${version} ${interface-id} ${srcaddr} ${flow-direction}"),
			DestinationOptions: &ec2types.DestinationOptionsRequest{FileFormat: ec2types.DestinationFileFormatParquet,
				HiveCompatiblePartitions: aws.Bool(true), PerHourPartition: aws.Bool(true)},
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVpcFlowLog,
				Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("x & <y>")}, {Key: aws.String("empty"), Value: aws.String("")}}}},
		}, func(f ec2types.FlowLog) string {
			o := f.DestinationOptions
			if o == nil || o.FileFormat != ec2types.DestinationFileFormatParquet || !aws.ToBool(o.HiveCompatiblePartitions) || !aws.ToBool(o.PerHourPartition) ||
				aws.ToString(f.LogFormat) != "${version} ${interface-id} ${srcaddr} ${flow-direction}" ||
				len(f.Tags) != 2 || aws.ToString(f.Tags[0].Value) != "x & <y>" || aws.ToString(f.Tags[1].Key) != "empty" || f.Tags[1].Value == nil {
				return "fields"
			}
			return ""
		}},
		{"kinesis-data-firehose", ec2.CreateFlowLogsInput{
			ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, ResourceIds: []string{"eth1"},
			TrafficType: ec2types.TrafficTypeAll, LogDestinationType: ec2types.LogDestinationTypeKinesisDataFirehose,
			LogDestination: aws.String(flFirehose),
		}, func(f ec2types.FlowLog) string {
			if f.LogDestinationType != ec2types.LogDestinationTypeKinesisDataFirehose || aws.ToString(f.LogDestination) != flFirehose ||
				f.DeliverLogsPermissionArn != nil {
				return "fields"
			}
			return ""
		}},
	} {
		out, err := c.CreateFlowLogs(ctx(t), &tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(out.FlowLogIds) != 1 || len(out.Unsuccessful) != 0 || out.ClientToken != nil {
			t.Errorf("%s: %+v", tc.name, out)
			continue
		}
		d, err := c.DescribeFlowLogs(ctx(t), &ec2.DescribeFlowLogsInput{FlowLogIds: out.FlowLogIds})
		if err != nil || len(d.FlowLogs) != 1 {
			t.Errorf("%s: describe: %+v %v", tc.name, d, err)
			continue
		}
		f := d.FlowLogs[0]
		if aws.ToString(f.FlowLogId) != out.FlowLogIds[0] || aws.ToString(f.FlowLogStatus) != "ACTIVE" ||
			aws.ToString(f.DeliverLogsStatus) != "SUCCESS" || !aws.ToTime(f.CreationTime).Equal(flCreated) {
			t.Errorf("%s: common fields %+v", tc.name, f)
		}
		if what := tc.check(f); what != "" {
			t.Errorf("%s: %s: %+v", tc.name, what, f)
		}
	}
	if n := len(reg.Logs()); n != 5 {
		t.Errorf("%d logs for the delivery side, want 5", n)
	}
}

func TestEC2Unsuccessful(t *testing.T) {
	_, c, _ := ec2Server(t, "")
	out, err := c.CreateFlowLogs(ctx(t), &ec2.CreateFlowLogsInput{
		ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, ResourceIds: []string{"eth0", "eni-0000000000000dead", "eth0"},
		TrafficType: ec2types.TrafficTypeAll, LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String(flBucket),
		ClientToken: aws.String("tok"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.FlowLogIds) != 1 || len(out.Unsuccessful) != 2 || aws.ToString(out.ClientToken) != "tok" {
		t.Fatalf("%+v", out)
	}
	u0, u1 := out.Unsuccessful[0], out.Unsuccessful[1]
	if aws.ToString(u0.ResourceId) != "eni-0000000000000dead" || aws.ToString(u0.Error.Code) != "InvalidNetworkInterfaceID.NotFound" ||
		!strings.Contains(aws.ToString(u0.Error.Message), "eni-0000000000000dead") {
		t.Errorf("unknown: %+v %+v", u0, u0.Error)
	}
	if aws.ToString(u1.ResourceId) != "eth0" || aws.ToString(u1.Error.Code) != "FlowLogAlreadyExists" {
		t.Errorf("duplicate: %+v %+v", u1, u1.Error)
	}
	for _, rt := range []ec2types.FlowLogsResourceType{ec2types.FlowLogsResourceTypeVpc, ec2types.FlowLogsResourceTypeSubnet, ec2types.FlowLogsResourceTypeTransitGateway} {
		in := &ec2.CreateFlowLogsInput{ResourceType: rt, ResourceIds: []string{"x-1"}, TrafficType: ec2types.TrafficTypeAll,
			LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String(flBucket)}
		if rt == ec2types.FlowLogsResourceTypeTransitGateway {
			in.TrafficType = ""
		}
		out, err := c.CreateFlowLogs(ctx(t), in)
		if err != nil || len(out.Unsuccessful) != 1 || !strings.HasSuffix(aws.ToString(out.Unsuccessful[0].Error.Code), ".NotFound") {
			t.Errorf("%s: %+v %v", rt, out, err)
		}
	}
}

func TestEC2IdempotencyAndDryRun(t *testing.T) {
	_, c, reg := ec2Server(t, "")
	in := &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeSubnet, ResourceIds: []string{flowlog.DefaultSubnetID},
		TrafficType: ec2types.TrafficTypeAll, LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String(flBucket),
		ClientToken: aws.String("same-token")}
	first, err := c.CreateFlowLogs(ctx(t), in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateFlowLogs(ctx(t), in)
	if err != nil || !slices.Equal(again.FlowLogIds, first.FlowLogIds) || len(again.Unsuccessful) != 0 || len(reg.Logs()) != 1 {
		t.Fatalf("retry: %+v %v", again, err)
	}
	in.TrafficType = ec2types.TrafficTypeReject
	_, err = c.CreateFlowLogs(ctx(t), in)
	if code, msg, status := ec2Err(err); code != "IdempotentParameterMismatch" || status != 400 || !strings.Contains(msg, "ClientToken") {
		t.Fatalf("mismatch: %s %q %d", code, msg, status)
	}

	// DryRun: validated, then refused with 412, nothing done.
	v := reg.Version()
	in.ClientToken, in.DryRun = nil, aws.Bool(true)
	_, err = c.CreateFlowLogs(ctx(t), in)
	if code, msg, status := ec2Err(err); code != "DryRunOperation" || status != 412 || msg != "Request would have succeeded, but DryRun flag is set." {
		t.Errorf("create dry run: %s %q %d", code, msg, status)
	}
	in.MaxAggregationInterval = aws.Int32(61)
	_, err = c.CreateFlowLogs(ctx(t), in)
	if code, msg, _ := ec2Err(err); code != "InvalidParameter" || !strings.Contains(msg, "MaxAggregationInterval") {
		t.Errorf("invalid dry run: %s %q", code, msg)
	}
	_, err = c.DescribeFlowLogs(ctx(t), &ec2.DescribeFlowLogsInput{DryRun: aws.Bool(true)})
	if code, _, status := ec2Err(err); code != "DryRunOperation" || status != 412 {
		t.Errorf("describe dry run: %s %d", code, status)
	}
	_, err = c.DeleteFlowLogs(ctx(t), &ec2.DeleteFlowLogsInput{FlowLogIds: first.FlowLogIds, DryRun: aws.Bool(true)})
	if code, _, status := ec2Err(err); code != "DryRunOperation" || status != 412 {
		t.Errorf("delete dry run: %s %d", code, status)
	}
	if reg.Version() != v || len(reg.Logs()) != 1 {
		t.Error("a dry run changed the registry")
	}
}

func TestEC2DescribeFiltersAndPages(t *testing.T) {
	_, c, _ := ec2Server(t, "")
	ifs := ec2Ifaces()
	var ids []string
	for i := range 7 {
		in := &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, ResourceIds: []string{"eth0"},
			TrafficType: ec2types.TrafficTypeAll, LogDestinationType: ec2types.LogDestinationTypeS3,
			LogDestination: aws.String(fmt.Sprintf("arn:aws:s3:::bucket-%d", i)),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVpcFlowLog,
				Tags: []ec2types.Tag{{Key: aws.String("n"), Value: aws.String(fmt.Sprint(i % 2))}}}}}
		if i == 6 {
			in.ResourceIds, in.TrafficType = []string{"eth1"}, ec2types.TrafficTypeReject
			in.LogDestinationType, in.LogDestination = ec2types.LogDestinationTypeCloudWatchLogs, nil
			in.LogGroupName, in.DeliverLogsPermissionArn = aws.String("grp"), aws.String(flRole)
		}
		out, err := c.CreateFlowLogs(ctx(t), in)
		if err != nil || len(out.FlowLogIds) != 1 {
			t.Fatalf("%+v %v", out, err)
		}
		ids = append(ids, out.FlowLogIds[0])
	}
	got := func(fl []ec2types.FlowLog) []string {
		var out []string
		for _, f := range fl {
			out = append(out, aws.ToString(f.FlowLogId))
		}
		return out
	}
	// The paginator at 2 per page sees all 7 in creation order.
	if all := got(describeAll(t, c, &ec2.DescribeFlowLogsInput{MaxResults: aws.Int32(2)})); !slices.Equal(all, ids) {
		t.Fatalf("paged: %v, want %v", all, ids)
	}
	page, err := c.DescribeFlowLogs(ctx(t), &ec2.DescribeFlowLogsInput{MaxResults: aws.Int32(3)})
	if err != nil || len(page.FlowLogs) != 3 || aws.ToString(page.NextToken) == "" {
		t.Fatalf("one page: %+v %v", page, err)
	}
	f := func(name string, values ...string) ec2types.Filter {
		return ec2types.Filter{Name: aws.String(name), Values: values}
	}
	for _, tc := range []struct {
		filters []ec2types.Filter
		ids     []string
		want    []string
	}{
		{[]ec2types.Filter{f("resource-id", ifs[1].InterfaceID)}, nil, ids[6:]},
		{[]ec2types.Filter{f("traffic-type", "ALL")}, nil, ids[:6]},
		{[]ec2types.Filter{f("log-destination-type", "cloud-watch-logs")}, nil, ids[6:]},
		{[]ec2types.Filter{f("log-group-name", "grp", "other")}, nil, ids[6:]},
		{[]ec2types.Filter{f("flow-log-id", ids[2], ids[4])}, nil, []string{ids[2], ids[4]}},
		{[]ec2types.Filter{f("deliver-log-status", "SUCCESS")}, nil, ids},
		{[]ec2types.Filter{f("tag-key", "n")}, nil, ids},
		{[]ec2types.Filter{f("tag:n", "1"), f("log-destination-type", "s3")}, nil, []string{ids[1], ids[3], ids[5]}},
		{[]ec2types.Filter{f("tag:n", "1")}, []string{ids[0], ids[1]}, []string{ids[1]}},
		{nil, []string{"fl-00000000000000000"}, nil},
	} {
		all := got(describeAll(t, c, &ec2.DescribeFlowLogsInput{Filter: tc.filters, FlowLogIds: tc.ids, MaxResults: aws.Int32(2)}))
		if !slices.Equal(all, tc.want) {
			t.Errorf("%v %v: %v, want %v", tc.filters, tc.ids, all, tc.want)
		}
	}
}

func TestEC2Delete(t *testing.T) {
	_, c, reg := ec2Server(t, "")
	out, err := c.CreateFlowLogs(ctx(t), &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface,
		ResourceIds: []string{"eth0", "eth1"}, TrafficType: ec2types.TrafficTypeAll,
		LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String(flBucket)})
	if err != nil {
		t.Fatal(err)
	}
	del, err := c.DeleteFlowLogs(ctx(t), &ec2.DeleteFlowLogsInput{FlowLogIds: []string{out.FlowLogIds[0], "fl-0123456789abcdef0"}})
	if err != nil || len(del.Unsuccessful) != 1 {
		t.Fatalf("%+v %v", del, err)
	}
	u := del.Unsuccessful[0]
	if aws.ToString(u.ResourceId) != "fl-0123456789abcdef0" || aws.ToString(u.Error.Code) != "InvalidFlowLogId.NotFound" ||
		aws.ToString(u.Error.Message) != "These flow log ids in the input list are not found: [TotalCount: 1] fl-0123456789abcdef0" {
		t.Errorf("%+v %+v", u, u.Error)
	}
	logs := reg.Logs()
	if len(logs) != 1 || logs[0].ID != out.FlowLogIds[1] {
		t.Errorf("left: %+v", logs)
	}
	d, _ := c.DescribeFlowLogs(ctx(t), &ec2.DescribeFlowLogsInput{})
	if len(d.FlowLogs) != 1 {
		t.Errorf("describe after delete: %d", len(d.FlowLogs))
	}
}

// TestEC2Errors: every refusal has the EC2 code, HTTP 400 and a message
// that names the member.
func TestEC2Errors(t *testing.T) {
	u, c, _ := ec2Server(t, "")
	eni := func(mod func(*ec2.CreateFlowLogsInput)) func() error {
		in := &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, ResourceIds: []string{"eth0"},
			TrafficType: ec2types.TrafficTypeAll, LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String(flBucket)}
		mod(in)
		return func() error { _, err := c.CreateFlowLogs(ctx(t), in); return err }
	}
	for _, tc := range []struct {
		name   string
		call   func() error
		code   string
		member string
	}{
		{"no resource ids", eni(func(in *ec2.CreateFlowLogsInput) { in.ResourceIds = []string{} }), "MissingParameter", "ResourceId"},
		{"bad resource type", eni(func(in *ec2.CreateFlowLogsInput) { in.ResourceType = "Instance" }), "InvalidParameterValue", "ResourceType"},
		{"no traffic type", eni(func(in *ec2.CreateFlowLogsInput) { in.TrafficType = "" }), "MissingParameter", "TrafficType"},
		{"bad traffic type", eni(func(in *ec2.CreateFlowLogsInput) { in.TrafficType = "SOME" }), "InvalidParameterValue", "TrafficType"},
		{"bad interval", eni(func(in *ec2.CreateFlowLogsInput) { in.MaxAggregationInterval = aws.Int32(300) }), "InvalidParameter", "MaxAggregationInterval"},
		{"zero interval", eni(func(in *ec2.CreateFlowLogsInput) { in.MaxAggregationInterval = aws.Int32(0) }), "InvalidParameter", "MaxAggregationInterval"},
		{"bad format", eni(func(in *ec2.CreateFlowLogsInput) { in.LogFormat = aws.String("${nope}") }), "InvalidParameterValue", "LogFormat"},
		{"empty format", eni(func(in *ec2.CreateFlowLogsInput) { in.LogFormat = aws.String("") }), "InvalidParameterValue", "LogFormat"},
		{"bad destination type", eni(func(in *ec2.CreateFlowLogsInput) { in.LogDestinationType = "ftp" }), "InvalidParameterValue", "LogDestinationType"},
		{"bad bucket ARN", eni(func(in *ec2.CreateFlowLogsInput) { in.LogDestination = aws.String("s3://bucket") }), "InvalidParameterValue", "LogDestination"},
		{"no s3 destination", eni(func(in *ec2.CreateFlowLogsInput) { in.LogDestination = nil }), "InvalidParameter", "LogDestination"},
		{"log group with s3", eni(func(in *ec2.CreateFlowLogsInput) { in.LogGroupName = aws.String("g") }), "InvalidParameter", "LogGroupName"},
		{"cwl without role", eni(func(in *ec2.CreateFlowLogsInput) {
			in.LogDestinationType, in.LogDestination, in.LogGroupName = "", nil, aws.String("g")
		}), "InvalidParameter", "DeliverLogsPermissionArn"},
		{"parquet to firehose", eni(func(in *ec2.CreateFlowLogsInput) {
			in.LogDestinationType, in.LogDestination = ec2types.LogDestinationTypeKinesisDataFirehose, aws.String(flFirehose)
			in.DestinationOptions = &ec2types.DestinationOptionsRequest{FileFormat: ec2types.DestinationFileFormatParquet}
		}), "InvalidParameterCombination", "DestinationOptions.FileFormat"},
		{"bad file format", eni(func(in *ec2.CreateFlowLogsInput) {
			in.DestinationOptions = &ec2types.DestinationOptionsRequest{FileFormat: "csv"}
		}), "InvalidParameterValue", "DestinationOptions.FileFormat"},
		{"tag spec resource type", eni(func(in *ec2.CreateFlowLogsInput) {
			in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVpc, Tags: []ec2types.Tag{{Key: aws.String("k")}}}}
		}), "InvalidParameterValue", "TagSpecification.1.ResourceType"},
		{"reserved tag key", eni(func(in *ec2.CreateFlowLogsInput) {
			in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVpcFlowLog, Tags: []ec2types.Tag{{Key: aws.String("aws:x")}}}}
		}), "InvalidParameterValue", "Tag.1.Key"},
		{"long client token", eni(func(in *ec2.CreateFlowLogsInput) { in.ClientToken = aws.String(strings.Repeat("t", 65)) }), "InvalidParameterValue", "ClientToken"},
		{"tag field specification", eni(func(in *ec2.CreateFlowLogsInput) {
			in.TagFieldSpecifications = []ec2types.TagFieldSpecificationRequest{{ResourceType: "instance", TagKeys: []string{"Name"}}}
		}), "InvalidParameterValue", "TagFieldSpecification"},
		{"describe: bad filter", func() error {
			_, err := c.DescribeFlowLogs(ctx(t), &ec2.DescribeFlowLogsInput{Filter: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{"x"}}}})
			return err
		}, "InvalidParameterValue", "vpc-id"},
		{"describe: filter without values", func() error {
			_, err := c.DescribeFlowLogs(ctx(t), &ec2.DescribeFlowLogsInput{Filter: []ec2types.Filter{{Name: aws.String("resource-id")}}})
			return err
		}, "InvalidParameterValue", "resource-id"},
		{"describe: MaxResults 0", func() error {
			_, err := c.DescribeFlowLogs(ctx(t), &ec2.DescribeFlowLogsInput{MaxResults: aws.Int32(0)})
			return err
		}, "InvalidParameterValue", "MaxResults"},
		{"describe: MaxResults 1001", func() error {
			_, err := c.DescribeFlowLogs(ctx(t), &ec2.DescribeFlowLogsInput{MaxResults: aws.Int32(1001)})
			return err
		}, "InvalidParameterValue", "MaxResults"},
		{"describe: bad token", func() error {
			_, err := c.DescribeFlowLogs(ctx(t), &ec2.DescribeFlowLogsInput{NextToken: aws.String("not-a-token")})
			return err
		}, "InvalidPaginationToken", "NextToken"},
		{"describe: too many ids", func() error {
			_, err := c.DescribeFlowLogs(ctx(t), &ec2.DescribeFlowLogsInput{FlowLogIds: make([]string, 1001)})
			return err
		}, "InvalidParameterValue", "FlowLogId"},
		{"delete: no ids", func() error {
			_, err := c.DeleteFlowLogs(ctx(t), &ec2.DeleteFlowLogsInput{FlowLogIds: []string{}})
			return err
		}, "MissingParameter", "FlowLogId"},
	} {
		code, msg, status := ec2Err(tc.call())
		if code != tc.code || status != 400 || !strings.Contains(msg, tc.member) {
			t.Errorf("%s: %s %d %q, want %s naming %s", tc.name, code, status, msg, tc.code, tc.member)
		}
	}

	// What the SDK cannot send: raw bodies.
	for _, tc := range []struct {
		body   string
		status int
		code   string
		member string
	}{
		{"Action=RunInstances&Version=2016-11-15", 400, "InvalidAction", "RunInstances"},
		{"Version=2016-11-15", 400, "MissingAction", "Action"},
		{"Action=DescribeFlowLogs", 400, "MissingParameter", "Version"},
		{"Action=DescribeFlowLogs&Version=2014-01-01", 400, "InvalidParameterValue", "Version"},
		{"Action=CreateFlowLogs&Version=2016-11-15&ResourceId.1=eth0&TrafficType=ALL", 400, "MissingParameter", "ResourceType"},
		{"Action=DescribeFlowLogs&Version=2016-11-15&Bogus=1", 400, "UnknownParameter", "Bogus"},
		{"Action=DescribeFlowLogs&Version=2016-11-15&FlowLogId.0=fl-1", 400, "UnknownParameter", "FlowLogId.0"},
		{"Action=DescribeFlowLogs&Version=2016-11-15&DryRun=yes", 400, "InvalidParameterValue", "DryRun"},
		{"Action=DescribeFlowLogs&Version=2016-11-15&MaxResults=ten", 400, "InvalidParameterValue", "MaxResults"},
		{"Action=DescribeFlowLogs&Version=2016-11-15&Filter.1.Value.1=x", 400, "MissingParameter", "Filter.1.Name"},
		{"Action=DescribeFlowLogs&Version=2016-11-15&Filter.1.Name=tag-key&Filter.1.Value.1=a&Filter.2.Name=tag-key&Filter.2.Value.1=b", 400, "InvalidParameterCombination", "Filter.2.Name"},
		{"Action=DescribeFlowLogs&Version=2016-11-15&MaxResults=5&MaxResults=6", 400, "InvalidParameterValue", "MaxResults"},
		{"Action=DeleteFlowLogs&Version=2016-11-15&FlowLogId=fl-1", 400, "UnknownParameter", "FlowLogId"},
		{"Action=CreateFlowLogs&Version=2016-11-15&DestinationOptions.PerHourPartition=1", 400, "InvalidParameterValue", "DestinationOptions.PerHourPartition"},
		{"Action=CreateFlowLogs&Version=2016-11-15&TagSpecification.1.Tag.1.Key=k", 400, "MissingParameter", "TagSpecification.1.ResourceType"},
		{"%zz", 400, "MalformedQueryString", "form"},
	} {
		status, body := postForm(t, u, tc.body)
		if status != tc.status || !strings.Contains(body, "<Code>"+tc.code+"</Code>") || !strings.Contains(body, tc.member) ||
			!strings.Contains(body, "<RequestID>") || !strings.HasPrefix(body, "<?xml") {
			t.Errorf("%s: %d %s, want %d %s naming %s", tc.body, status, body, tc.status, tc.code, tc.member)
		}
	}
}

// TestEC2Wire checks the response envelope itself: namespace, request id
// (the header's), content type.
func TestEC2Wire(t *testing.T) {
	u, _, _ := ec2Server(t, "")
	resp, err := http.Post(u+"/", "application/x-www-form-urlencoded", strings.NewReader(url.Values{
		"Action": {"DescribeFlowLogs"}, "Version": {"2016-11-15"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("X-Amzn-RequestId")
	want := `<DescribeFlowLogsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>` + id + `</requestId><flowLogSet></flowLogSet></DescribeFlowLogsResponse>`
	if resp.StatusCode != 200 || id == "" || !strings.Contains(string(b), want) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
		t.Errorf("%d %s\n%s\nwant %s", resp.StatusCode, resp.Header, b, want)
	}
}

// TestEC2NotEnabled: with no registry, the flow log actions are refused in
// the EC2 envelope (not the JSON one the AWS CLI cannot read).
func TestEC2NotEnabled(t *testing.T) {
	srv, err := api.New(api.Config{Backend: &fakeBackend{}})
	if err != nil {
		t.Fatal(err)
	}
	u := listen(t, srv)
	_, err = ec2Client(u).DescribeFlowLogs(ctx(t), &ec2.DescribeFlowLogsInput{})
	if code, msg, status := ec2Err(err); code != "UnsupportedOperation" || status != 400 || !strings.Contains(msg, "not enabled") {
		t.Errorf("describe: %s %q %d", code, msg, status)
	}
	status, body := postForm(t, u, "Action=RunInstances&Version=2016-11-15")
	if status != 400 || !strings.Contains(body, "<Code>InvalidAction</Code>") {
		t.Errorf("unknown action: %d %s", status, body)
	}
}

func TestEC2Persists(t *testing.T) {
	dir := t.TempDir()
	_, c, _ := ec2Server(t, dir)
	out, err := c.CreateFlowLogs(ctx(t), &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface,
		ResourceIds: []string{"eth0", "eth1"}, TrafficType: ec2types.TrafficTypeAll, LogDestinationType: ec2types.LogDestinationTypeS3,
		LogDestination: aws.String(flBucket), ClientToken: aws.String("t1"),
		DestinationOptions: &ec2types.DestinationOptionsRequest{FileFormat: ec2types.DestinationFileFormatParquet}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteFlowLogs(ctx(t), &ec2.DeleteFlowLogsInput{FlowLogIds: out.FlowLogIds[:1]}); err != nil {
		t.Fatal(err)
	}

	// A second flowd on the same directory, as after a restart.
	_, c2, reg2 := ec2Server(t, dir)
	d, err := c2.DescribeFlowLogs(ctx(t), &ec2.DescribeFlowLogsInput{})
	if err != nil || len(d.FlowLogs) != 1 || aws.ToString(d.FlowLogs[0].FlowLogId) != out.FlowLogIds[1] ||
		d.FlowLogs[0].DestinationOptions.FileFormat != ec2types.DestinationFileFormatParquet {
		t.Fatalf("after restart: %+v %v", d, err)
	}
	if logs := reg2.Logs(); len(logs) != 1 || !slices.Equal(logs[0].Interfaces, []int{1}) {
		t.Fatalf("delivery side after restart: %+v", logs)
	}
	again, err := c2.CreateFlowLogs(ctx(t), &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface,
		ResourceIds: []string{"eth0", "eth1"}, TrafficType: ec2types.TrafficTypeAll, LogDestinationType: ec2types.LogDestinationTypeS3,
		LogDestination: aws.String(flBucket), ClientToken: aws.String("t1"),
		DestinationOptions: &ec2types.DestinationOptionsRequest{FileFormat: ec2types.DestinationFileFormatParquet}})
	if err != nil || !slices.Equal(again.FlowLogIds, out.FlowLogIds) {
		t.Fatalf("token after restart: %+v %v", again, err)
	}
}

// TestEC2AWSCLI drives the flow log actions with the aws CLI, when there
// is one: what its users type works, errors included.
func TestEC2AWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("no aws CLI on PATH (pip install awscli, or AWS CLI v2, to run this test)")
	}
	u, _, reg := ec2Server(t, "")
	aws := func(args ...string) (string, error) {
		c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(c, "aws", append([]string{"--endpoint-url", u, "--region", "us-east-1", "--output", "json", "ec2"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDFLOWD", "AWS_SECRET_ACCESS_KEY=secret",
			"AWS_SESSION_TOKEN=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_MAX_ATTEMPTS=1", "AWS_PAGER=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := aws("create-flow-logs", "--resource-type", "NetworkInterface", "--resource-ids", "eth0", "eth1",
		"--traffic-type", "ALL", "--log-destination-type", "s3", "--log-destination", flBucket,
		"--destination-options", "FileFormat=parquet,HiveCompatiblePartitions=true,PerHourPartition=false",
		"--tag-specifications", "ResourceType=vpc-flow-log,Tags=[{Key=team,Value=net}]")
	var created struct{ FlowLogIds []string }
	if err != nil || json.Unmarshal([]byte(out), &created) != nil || len(created.FlowLogIds) != 2 {
		t.Fatalf("create-flow-logs: %v\n%s", err, out)
	}
	out, err = aws("describe-flow-logs", "--filter", "Name=tag:team,Values=net", "Name=resource-id,Values="+ec2Ifaces()[1].InterfaceID)
	var described struct {
		FlowLogs []struct {
			FlowLogId          string
			DestinationOptions struct{ FileFormat string }
		}
	}
	if err != nil || json.Unmarshal([]byte(out), &described) != nil || len(described.FlowLogs) != 1 ||
		described.FlowLogs[0].FlowLogId != created.FlowLogIds[1] || described.FlowLogs[0].DestinationOptions.FileFormat != "parquet" {
		t.Fatalf("describe-flow-logs: %v\n%s", err, out)
	}
	if out, err = aws("delete-flow-logs", "--flow-log-ids", created.FlowLogIds[0]); err != nil || len(reg.Logs()) != 1 {
		t.Fatalf("delete-flow-logs: %v\n%s", err, out)
	}
	out, err = aws("create-flow-logs", "--resource-type", "VPC", "--resource-ids", flowlog.DefaultVPCID, "--traffic-type", "ALL",
		"--log-group-name", "g")
	if err == nil || !strings.Contains(out, "(InvalidParameter)") || !strings.Contains(out, "DeliverLogsPermissionArn") {
		t.Fatalf("an invalid request: %v\n%s", err, out)
	}
	out, err = aws("describe-flow-logs", "--dry-run")
	if err == nil || !strings.Contains(out, "(DryRunOperation)") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
}

// FuzzEC2Query feeds arbitrary form bodies to the EC2 handler: every answer
// is 200, 400 or 412 with well-formed XML, and none panics.
func FuzzEC2Query(f *testing.F) {
	for _, s := range []string{
		"Action=CreateFlowLogs&Version=2016-11-15&ResourceType=NetworkInterface&ResourceId.1=eth0&TrafficType=ALL&LogDestinationType=s3&LogDestination=arn%3Aaws%3As3%3A%3A%3Abucket-x&TagSpecification.1.ResourceType=vpc-flow-log&TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.1.Value=v",
		"Action=DescribeFlowLogs&Version=2016-11-15&Filter.1.Name=resource-id&Filter.1.Value.1=eth0&MaxResults=2",
		"Action=DeleteFlowLogs&Version=2016-11-15&FlowLogId.1=fl-1&DryRun=true",
		"Action=DescribeFlowLogs&Version=2016-11-15&NextToken=MS4w",
		"Action=CreateFlowLogs&Version=2016-11-15&DestinationOptions.FileFormat=parquet&ResourceId.99999=x",
		"Action=RunInstances",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		reg, err := flowlog.NewRegistry("", ec2Ifaces(), nil)
		if err != nil {
			t.Fatal(err)
		}
		h := api.NewEC2(reg)
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		h.ServeHTTP(rec, req)
		if c := rec.Code; c != 200 && c != 400 && c != 412 {
			t.Fatalf("%q: status %d", body, c)
		}
		dec := xml.NewDecoder(rec.Body)
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%q: bad XML: %v", body, err)
			}
		}
	})
}
