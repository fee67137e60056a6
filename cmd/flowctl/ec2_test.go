package main

import (
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowd/flowd/api"
	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowlog"
)

// noOps is a Backend with no flow operations: the ec2 tests need only the
// flow log registry.
type noOps struct{}

func (noOps) Start(engine.OpRequest) (engine.Op, error)    { return engine.Op{}, engine.ErrOpNotFound }
func (noOps) Op(string, engine.Scope) (engine.Op, error)   { return engine.Op{}, engine.ErrOpNotFound }
func (noOps) List(engine.ListRequest) ([]engine.Op, error) { return nil, nil }
func (noOps) Status() engine.Status                        { return engine.Status{} }
func (noOps) OpStats() engine.OpStats                      { return engine.OpStats{} }

// ec2Server serves flow logs over interfaces eth0 and eth1 and returns the
// endpoint URL and the registry.
func ec2Server(t *testing.T) (string, *flowlog.Registry) {
	t.Helper()
	reg, err := flowlog.NewRegistry("", []flowlog.Interface{flowlog.DefaultInterface("eth0"), flowlog.DefaultInterface("eth1")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Backend: noOps{}, FlowLogs: reg})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	return "http://" + ln.Addr().String(), reg
}

func TestFlowctlEC2(t *testing.T) {
	url, reg := ec2Server(t)
	ep := "--endpoint-url=" + url
	eth1 := flowlog.DefaultInterface("eth1").InterfaceID

	// create-flow-logs to S3 with the shorthand options and tags, two
	// resources in one --resource-ids.
	code, out, errs := flowctl(t, ep, "ec2", "create-flow-logs", "--resource-type", "NetworkInterface",
		"--resource-ids", "eth0", "eth1", "eni-00000000000000bad", "--traffic-type", "ALL",
		"--log-destination-type", "s3", "--log-destination", "arn:aws:s3:::flow-bucket/p/",
		"--destination-options", "FileFormat=parquet,HiveCompatiblePartitions=true,PerHourPartition=false",
		"--tag-specifications", "ResourceType=vpc-flow-log,Tags=[{Key=team,Value=net},{Key=env,Value=prod}]",
		"--max-aggregation-interval", "60", "--client-token", "tok-1")
	var created struct {
		ClientToken  string
		FlowLogIds   []string
		Unsuccessful []struct {
			Error      struct{ Code, Message string }
			ResourceId string
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || len(created.FlowLogIds) != 2 || created.ClientToken != "tok-1" ||
		len(created.Unsuccessful) != 1 || created.Unsuccessful[0].Error.Code != "InvalidNetworkInterfaceID.NotFound" {
		t.Fatalf("create: %d\n%s\n%s", code, out, errs)
	}
	// JSON syntax, cloud-watch-logs.
	code, out, errs = flowctl(t, ep, "ec2", "create-flow-logs", "--resource-type", "Subnet", "--resource-ids", flowlog.DefaultSubnetID,
		"--traffic-type", "REJECT", "--log-group-name", "/vpc/flows", "--deliver-logs-permission-arn", "arn:aws:iam::123456789012:role/fl",
		"--log-format", "${version} ${srcaddr} ${dstaddr}", "--tag-specifications", `[{"ResourceType":"vpc-flow-log","Tags":[{"Key":"team","Value":"sec"}]}]`)
	if code != 0 || !strings.Contains(out, `"FlowLogIds": [`) {
		t.Fatalf("create cwl: %d\n%s\n%s", code, out, errs)
	}
	// A file:// JSON parameter, firehose.
	opts := filepath.Join(t.TempDir(), "tags.json")
	os.WriteFile(opts, []byte(`{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "team", "Value": "ops"}]}`), 0o644)
	code, _, errs = flowctl(t, ep, "ec2", "create-flow-logs", "--resource-type", "VPC", "--resource-ids", flowlog.DefaultVPCID,
		"--traffic-type", "ACCEPT", "--log-destination-type", "kinesis-data-firehose",
		"--log-destination", "arn:aws:firehose:us-east-1:123456789012:deliverystream/s", "--tag-specifications", "file://"+opts)
	if code != 0 || len(reg.Logs()) != 4 {
		t.Fatalf("create firehose: %d %s (%d logs)", code, errs, len(reg.Logs()))
	}

	// describe-flow-logs: everything, auto-paginated 1 per page.
	code, out, errs = flowctl(t, ep, "ec2", "describe-flow-logs", "--max-results", "1")
	var described struct {
		FlowLogs []struct {
			FlowLogId, ResourceId, LogDestinationType, LogFormat string
			MaxAggregationInterval                               int
			DestinationOptions                                   *struct {
				FileFormat                                 string
				HiveCompatiblePartitions, PerHourPartition bool
			}
			Tags []struct{ Key, Value string }
		}
		NextToken string
	}
	if code != 0 || json.Unmarshal([]byte(out), &described) != nil || len(described.FlowLogs) != 4 || described.NextToken != "" {
		t.Fatalf("describe: %d\n%s\n%s", code, out, errs)
	}
	f := described.FlowLogs[1]
	if f.ResourceId != eth1 || f.DestinationOptions == nil || f.DestinationOptions.FileFormat != "parquet" ||
		!f.DestinationOptions.HiveCompatiblePartitions || f.DestinationOptions.PerHourPartition || f.MaxAggregationInterval != 60 ||
		len(f.Tags) != 2 || f.Tags[1].Value != "prod" {
		t.Errorf("describe item: %+v", f)
	}
	// Filters, shorthand and JSON, several in one flag.
	for _, c := range []struct {
		args []string
		n    int
	}{
		{[]string{"--filter", "Name=tag:team,Values=net,sec"}, 3},
		{[]string{"--filter", "Name=tag:team,Values=net", "Name=resource-id,Values=" + eth1}, 1},
		{[]string{"--filter", `[{"Name":"log-destination-type","Values":["cloud-watch-logs","kinesis-data-firehose"]}]`}, 2},
		{[]string{"--flow-log-ids", created.FlowLogIds[0], created.FlowLogIds[1], "--filter", "Name=traffic-type,Values=ALL"}, 2},
		{[]string{"--filter", "Name=traffic-type,Values=all"}, 0},
	} {
		code, out, errs = flowctl(t, append([]string{ep, "ec2", "describe-flow-logs"}, c.args...)...)
		described.FlowLogs = nil
		if code != 0 || json.Unmarshal([]byte(out), &described) != nil || len(described.FlowLogs) != c.n {
			t.Errorf("describe %q: %d, %d logs, want %d\n%s", c.args, code, len(described.FlowLogs), c.n, errs)
		}
	}
	// --max-items stops early and gives a token to resume with.
	code, out, _ = flowctl(t, ep, "ec2", "describe-flow-logs", "--max-items", "3")
	described.FlowLogs = nil
	json.Unmarshal([]byte(out), &described)
	if code != 0 || len(described.FlowLogs) != 3 || described.NextToken == "" {
		t.Fatalf("max-items: %d logs, token %q", len(described.FlowLogs), described.NextToken)
	}
	code, out, _ = flowctl(t, ep, "ec2", "describe-flow-logs", "--starting-token", described.NextToken)
	described.FlowLogs, described.NextToken = nil, ""
	json.Unmarshal([]byte(out), &described)
	if code != 0 || len(described.FlowLogs) != 1 || described.NextToken != "" {
		t.Fatalf("resume: %d logs", len(described.FlowLogs))
	}
	// Table and text output.
	code, out, _ = flowctl(t, ep, "--output", "table", "ec2", "describe-flow-logs")
	if code != 0 || !strings.Contains(out, "FlowLogs (4)") || !strings.Contains(out, "FlowLogId") {
		t.Errorf("table:\n%s", out)
	}
	code, out, _ = flowctl(t, ep, "ec2", "describe-flow-logs", "--output", "text", "--flow-log-ids", created.FlowLogIds[0])
	if code != 0 || !strings.HasPrefix(out, "FLOWLOGS\t") || strings.Count(out, "\n") != 1 {
		t.Errorf("text:\n%s", out)
	}

	// delete-flow-logs, one known and one not.
	code, out, errs = flowctl(t, ep, "ec2", "delete-flow-logs", "--flow-log-ids", created.FlowLogIds[0], "fl-0000000000000000a")
	if code != 0 || !strings.Contains(out, "InvalidFlowLogId.NotFound") || len(reg.Logs()) != 3 {
		t.Fatalf("delete: %d\n%s\n%s", code, out, errs)
	}

	// Errors: the server's, with the AWS CLI's exit codes.
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"create-flow-logs", "--resource-type", "VPC", "--resource-ids", "vpc-1", "--traffic-type", "ALL", "--log-group-name", "g"},
			exitService, "An error occurred (InvalidParameter) when calling the CreateFlowLogs operation: DeliverLogsPermissionArn"},
		{[]string{"create-flow-logs", "--resource-type", "VPC", "--resource-ids", "vpc-1", "--traffic-type", "ALL", "--log-group-name", "g", "--dry-run"},
			exitService, "(InvalidParameter)"},
		{[]string{"describe-flow-logs", "--dry-run"}, exitService, "(DryRunOperation) when calling the DescribeFlowLogs operation: Request would have succeeded"},
		{[]string{"describe-flow-logs", "--dry-run", "--no-dry-run"}, 0, ""},
		{[]string{"describe-flow-logs", "--filter", "Name=vpc-id,Values=x"}, exitService, "(InvalidParameterValue)"},
		{[]string{"create-flow-logs", "--resource-ids", "x"}, exitUsage, "the following arguments are required: --resource-type"},
		{[]string{"delete-flow-logs"}, exitUsage, "the following arguments are required: --flow-log-ids"},
		{[]string{"create-flow-logs", "--resource-type", "VPC", "--resource-ids", "x", "--destination-options", "Format=x"},
			exitUsage, `Unknown parameter in DestinationOptions: "Format", must be one of: FileFormat, HiveCompatiblePartitions, PerHourPartition`},
		{[]string{"create-flow-logs", "--resource-type", "VPC", "--resource-ids", "x", "--destination-options", "PerHourPartition=maybe"},
			exitUsage, "Invalid type for parameter DestinationOptions.PerHourPartition"},
		{[]string{"create-flow-logs", "--resource-type", "VPC", "--resource-ids", "x", "--destination-options", `{"FileFormat": 1`},
			exitUsage, "Invalid JSON"},
		{[]string{"describe-flow-logs", "--filter", "Name=x,Bad=y"}, exitUsage, `Unknown parameter in Filter[0]: "Bad"`},
		{[]string{"describe-flow-logs", "--filter", "Name"}, exitUsage, "Error parsing parameter '--filter'"},
		{[]string{"create-flow-logs", "--resource-type", "VPC", "--resource-ids", "x", "--max-aggregation-interval", "often"}, exitUsage, "invalid"},
		{[]string{"frobnicate"}, exitUsage, "ec2: unknown operation"},
		{[]string{}, exitUsage, "ec2: an operation is required"},
	} {
		code, _, errs := flowctl(t, append([]string{ep, "ec2"}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("ec2 %q: exit %d, want %d\n%s", c.args, code, c.code, errs)
		}
	}
}

func TestFlowctlEC2Help(t *testing.T) {
	for _, op := range ec2OperationNames() {
		for _, h := range []string{"-h", "--help"} {
			code, out, errs := flowctl(t, "ec2", op, h)
			if code != 0 || !strings.Contains(out, "Usage: flowctl [global flags] ec2 "+op) || errs != "" {
				t.Errorf("ec2 %s %s: %d %q\n%s", op, h, code, errs, out)
			}
		}
	}
	_, out, _ := flowctl(t, "ec2", "create-flow-logs", "-h")
	if !strings.Contains(out, " --resource-ids ID --resource-type TYPE [") || !strings.Contains(out, "[--destination-options OPTIONS]") {
		t.Errorf("create-flow-logs synopsis:\n%s", out)
	}
	_, out, _ = flowctl(t, "-h")
	for _, op := range ec2OperationNames() {
		if !strings.Contains(out, "ec2 "+op) {
			t.Errorf("flowctl -h does not name ec2 %s", op)
		}
	}
	names := map[string]bool{}
	for _, c := range flowctlDoc().Cmds {
		names[c.Path] = true
	}
	for _, op := range ec2OperationNames() {
		if !names["ec2 "+op] {
			t.Errorf("ec2 %s: no man page or completion (have %v)", op, slices.Sorted(maps.Keys(names)))
		}
	}
}
