package flowlog

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const role = "arn:aws:iam::123456789012:role/flow-logs"

func cwlDef() Definition {
	return Definition{
		ResourceType: ResourceNetworkInterface, ResourceIds: []string{"eni-0123456789abcdef0"},
		TrafficType: TrafficAll, LogGroupName: "/vpc/flow-logs", DeliverLogsPermissionArn: role,
	}
}

func s3Def() Definition {
	return Definition{
		ResourceType: ResourceVPC, ResourceIds: []string{"vpc-1"}, TrafficType: TrafficReject,
		LogDestinationType: DestinationS3, LogDestination: "arn:aws:s3:::my-bucket/my-subfolder/",
	}
}

func fhDef() Definition {
	return Definition{
		ResourceType: ResourceSubnet, ResourceIds: []string{"subnet-1"}, TrafficType: TrafficAccept,
		LogDestinationType: DestinationFirehose, LogDestination: "arn:aws:firehose:us-east-1:123456789012:deliverystream/my_stream",
	}
}

func TestDefinitionValid(t *testing.T) {
	d := cwlDef()
	s, err := d.Settings()
	if err != nil {
		t.Fatal(err)
	}
	if s.DestinationType != DestinationCloudWatchLogs || s.Interval != 600*time.Second || !s.Format.IsDefault() || s.LogGroupName != "/vpc/flow-logs" {
		t.Errorf("cwl settings %+v", s)
	}
	d.LogGroupName, d.LogDestination = "", "arn:aws:logs:us-east-1:123456789012:log-group:my_group:*"
	if s, err = d.Settings(); err != nil || s.LogGroupName != "my_group" {
		t.Errorf("log group ARN: %+v %v", s, err)
	}
	d = s3Def()
	d.LogFormat = "${version} ${vpc-id} ${srcaddr}"
	d.MaxAggregationInterval = 60
	d.DestinationOptions = DestinationOptions{FileFormat: FileParquet, HiveCompatiblePartitions: true, PerHourPartition: true}
	d.Tags = []Tag{{"Name", "x"}, {"env", ""}}
	d.ClientToken = "token-1"
	if s, err = d.Settings(); err != nil || s.S3 != (S3Destination{"my-bucket", "my-subfolder"}) || s.Interval != time.Minute ||
		s.Format.Version() != 3 || s.DestinationOptions.FileFormat != FileParquet {
		t.Errorf("s3: %+v %v", s, err)
	}
	d = s3Def()
	if s, _ = d.Settings(); s.DestinationOptions.FileFormat != FilePlainText {
		t.Errorf("default file format %q", s.DestinationOptions.FileFormat)
	}
	d = fhDef()
	if s, err = d.Settings(); err != nil || s.DeliveryStream != "my_stream" {
		t.Errorf("firehose: %+v %v", s, err)
	}
	d.LogDestination = "arn:aws:firehose:us-east-1:123456789012:deliverystream:my_stream"
	if s, err = d.Settings(); err != nil || s.DeliveryStream != "my_stream" {
		t.Errorf("firehose, ':' form: %+v %v", s, err)
	}
	tgw := Definition{ResourceType: ResourceTransitGateway, ResourceIds: []string{"tgw-1"},
		LogDestinationType: DestinationS3, LogDestination: "arn:aws:s3:::bucket"}
	if s, err = tgw.Settings(); err != nil || s.Interval != time.Minute {
		t.Errorf("transit gateway: %+v %v", s, err)
	}
}

// TestDefinitionRules has one case per rule: the change to a valid
// definition, the code, the member and a phrase of the message.
func TestDefinitionRules(t *testing.T) {
	many := func(n int) []string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = "eni-1"
		}
		return ids
	}
	for _, c := range []struct {
		name   string
		base   func() Definition
		mod    func(*Definition)
		code   string
		member string
		phrase string
	}{
		{"ResourceType required", cwlDef, func(d *Definition) { d.ResourceType = "" }, CodeMissingParameter, "ResourceType", "must contain the parameter ResourceType"},
		{"ResourceType enum", cwlDef, func(d *Definition) { d.ResourceType = "Instance" }, CodeInvalidParameterValue, "ResourceType", `"Instance" is not valid`},
		{"ResourceType case-sensitive", cwlDef, func(d *Definition) { d.ResourceType = "vpc" }, CodeInvalidParameterValue, "ResourceType", `"vpc"`},
		{"ResourceId required", cwlDef, func(d *Definition) { d.ResourceIds = nil }, CodeMissingParameter, "ResourceId", "ResourceId"},
		{"ResourceId not empty", cwlDef, func(d *Definition) { d.ResourceIds = []string{"eni-1", " "} }, CodeInvalidParameterValue, "ResourceId.2", "ResourceId.2 is empty"},
		{"ResourceId at most 300", cwlDef, func(d *Definition) { d.ResourceIds = many(301) }, CodeInvalidParameterValue, "ResourceId", "301 resource IDs given; at most 300"},
		{"ResourceId at most 25 for transit gateways", cwlDef, func(d *Definition) {
			d.ResourceType, d.TrafficType, d.ResourceIds = ResourceTransitGatewayAttachment, "", many(26)
		}, CodeInvalidParameterValue, "ResourceId", "at most 25"},
		{"TrafficType required", cwlDef, func(d *Definition) { d.TrafficType = "" }, CodeMissingParameter, "TrafficType", "TrafficType"},
		{"TrafficType enum", cwlDef, func(d *Definition) { d.TrafficType = "all" }, CodeInvalidParameterValue, "TrafficType", `"all" is not valid`},
		{"TrafficType not for transit gateways", cwlDef, func(d *Definition) { d.ResourceType = ResourceTransitGateway }, CodeInvalidParameter, "TrafficType", "not supported for resource type TransitGateway"},
		{"MaxAggregationInterval 60 or 600", cwlDef, func(d *Definition) { d.MaxAggregationInterval = 300 }, CodeInvalidParameter, "MaxAggregationInterval", "Invalid Flow Log Max Aggregation Interval: 300"},
		{"MaxAggregationInterval 60 for transit gateways", cwlDef, func(d *Definition) {
			d.ResourceType, d.TrafficType, d.MaxAggregationInterval = ResourceTransitGateway, "", 600
		}, CodeInvalidParameter, "MaxAggregationInterval", "needs 60"},
		{"LogFormat unknown field", cwlDef, func(d *Definition) { d.LogFormat = "${srcaddr} ${bogus}" }, CodeInvalidParameterValue, "LogFormat", `"${bogus}": unknown field; valid fields:`},
		{"LogFormat at least one field", cwlDef, func(d *Definition) { d.LogFormat = " " }, CodeInvalidParameterValue, "LogFormat", "at least one field"},
		{"LogFormat syntax", cwlDef, func(d *Definition) { d.LogFormat = "srcaddr dstaddr" }, CodeInvalidParameterValue, "LogFormat", "not a field reference"},
		{"LogDestinationType enum", cwlDef, func(d *Definition) { d.LogDestinationType = "S3" }, CodeInvalidParameterValue, "LogDestinationType", `"S3" is not valid`},
		{"cwl: LogGroupName or LogDestination", cwlDef, func(d *Definition) { d.LogGroupName = "" }, CodeInvalidParameter, "LogDestination", "LogDestination can't be empty if LogGroupName is not provided."},
		{"cwl: not both", cwlDef, func(d *Definition) { d.LogDestination = "arn:aws:logs:us-east-1:123456789012:log-group:g" }, CodeInvalidParameterCombination, "LogDestination", "only provide LogGroupName or only provide LogDestination"},
		{"cwl: log group ARN form", cwlDef, func(d *Definition) { d.LogGroupName, d.LogDestination = "", "arn:aws:logs:us-east-1:123456789012:g" }, CodeInvalidParameterValue, "LogDestination", "not a log group ARN"},
		{"cwl: log group ARN account", cwlDef, func(d *Definition) {
			d.LogGroupName, d.LogDestination = "", "arn:aws:logs:us-east-1:1234:log-group:g"
		}, CodeInvalidParameterValue, "LogDestination", "12-digit account ID"},
		{"cwl: log group name characters", cwlDef, func(d *Definition) { d.LogGroupName = "bad group" }, CodeInvalidParameterValue, "LogGroupName", "may hold only"},
		{"cwl: log group name length", cwlDef, func(d *Definition) { d.LogGroupName = strings.Repeat("g", 513) }, CodeInvalidParameterValue, "LogGroupName", "1 to 512"},
		{"cwl: DeliverLogsPermissionArn required", cwlDef, func(d *Definition) { d.DeliverLogsPermissionArn = "" }, CodeInvalidParameter, "DeliverLogsPermissionArn", "DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs."},
		{"DeliverLogsPermissionArn is a role ARN", cwlDef, func(d *Definition) { d.DeliverLogsPermissionArn = "arn:aws:iam::123456789012:user/bob" }, CodeInvalidParameterValue, "DeliverLogsPermissionArn", "not an IAM role ARN"},
		{"cwl: no DestinationOptions", cwlDef, func(d *Definition) { d.DestinationOptions.HiveCompatiblePartitions = true }, CodeInvalidParameterCombination, "DestinationOptions", "only supported when LogDestinationType is s3"},
		{"parquet only to s3", cwlDef, func(d *Definition) { d.DestinationOptions.FileFormat = FileParquet }, CodeInvalidParameterCombination, "DestinationOptions.FileFormat", "parquet is only supported when LogDestinationType is s3"},
		{"parquet only to s3 (firehose)", fhDef, func(d *Definition) { d.DestinationOptions.FileFormat = FileParquet }, CodeInvalidParameterCombination, "DestinationOptions.FileFormat", "not kinesis-data-firehose"},
		{"s3: LogGroupName only for cwl", s3Def, func(d *Definition) { d.LogGroupName = "g" }, CodeInvalidParameter, "LogGroupName", "LogDestination type must be cloud-watch-logs if LogGroupName is provided."},
		{"s3: LogDestination required", s3Def, func(d *Definition) { d.LogDestination = "" }, CodeInvalidParameter, "LogDestination", "LogDestination can't be empty if LogDestinationType is s3."},
		{"s3: bucket ARN form", s3Def, func(d *Definition) { d.LogDestination = "s3://my-bucket" }, CodeInvalidParameterValue, "LogDestination", "not an S3 bucket ARN"},
		{"s3: bucket name", s3Def, func(d *Definition) { d.LogDestination = "arn:aws:s3:::My_Bucket" }, CodeInvalidParameterValue, "LogDestination", "bucket name"},
		{"s3: AWSLogs subfolder", s3Def, func(d *Definition) { d.LogDestination = "arn:aws:s3:::my-bucket/AWSLogs/" }, CodeInvalidParameterValue, "LogDestination", "AWSLogs cannot be used as a subfolder name"},
		{"s3: FileFormat enum", s3Def, func(d *Definition) { d.DestinationOptions.FileFormat = "csv" }, CodeInvalidParameterValue, "DestinationOptions.FileFormat", `"csv" is not valid`},
		{"s3: role ARN when given", s3Def, func(d *Definition) { d.DeliverLogsPermissionArn = "role" }, CodeInvalidParameterValue, "DeliverLogsPermissionArn", "not an IAM role ARN"},
		{"firehose: LogDestination required", fhDef, func(d *Definition) { d.LogDestination = "" }, CodeInvalidParameter, "LogDestination", "can't be empty if LogDestinationType is kinesis-data-firehose."},
		{"firehose: LogGroupName only for cwl", fhDef, func(d *Definition) { d.LogGroupName = "g" }, CodeInvalidParameter, "LogGroupName", "must be cloud-watch-logs"},
		{"firehose: ARN form", fhDef, func(d *Definition) { d.LogDestination = "arn:aws:firehose:us-east-1:123456789012:stream/x" }, CodeInvalidParameterValue, "LogDestination", "not a Firehose delivery stream ARN"},
		{"firehose: stream name", fhDef, func(d *Definition) {
			d.LogDestination = "arn:aws:firehose:us-east-1:123456789012:deliverystream/a b"
		}, CodeInvalidParameterValue, "LogDestination", "may hold only"},
		{"firehose: DestinationOptions", fhDef, func(d *Definition) { d.DestinationOptions.PerHourPartition = true }, CodeInvalidParameterCombination, "DestinationOptions", "only supported when LogDestinationType is s3"},
		{"DeliverCrossAccountRole is a role ARN", fhDef, func(d *Definition) { d.DeliverCrossAccountRole = "arn:aws:iam::123456789012:policy/x" }, CodeInvalidParameterValue, "DeliverCrossAccountRole", "not an IAM role ARN"},
		{"tag key required", s3Def, func(d *Definition) { d.Tags = []Tag{{"", "v"}} }, CodeInvalidParameterValue, "Tag.1.Key", "Tag.1.Key is empty"},
		{"tag key length", s3Def, func(d *Definition) { d.Tags = []Tag{{"a", ""}, {strings.Repeat("k", 128), ""}} }, CodeInvalidParameterValue, "Tag.2.Key", "longer than 127"},
		{"tag key aws: prefix", s3Def, func(d *Definition) { d.Tags = []Tag{{"aws:name", "v"}} }, CodeInvalidParameterValue, "Tag.1.Key", `starts with "aws:"`},
		{"tag value length", s3Def, func(d *Definition) { d.Tags = []Tag{{"k", strings.Repeat("v", 257)}} }, CodeInvalidParameterValue, "Tag.1.Value", "longer than 256"},
		{"tag key unique", s3Def, func(d *Definition) { d.Tags = []Tag{{"k", "1"}, {"k", "2"}} }, CodeInvalidParameterValue, "Tag.2.Key", "duplicate"},
		{"ClientToken length", s3Def, func(d *Definition) { d.ClientToken = strings.Repeat("t", 65) }, CodeInvalidParameterValue, "ClientToken", "at most 64"},
		{"ClientToken ASCII", s3Def, func(d *Definition) { d.ClientToken = "tök" }, CodeInvalidParameterValue, "ClientToken", "not printable ASCII"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := c.base()
			if err := d.Validate(); err != nil {
				t.Fatalf("base definition invalid: %v", err)
			}
			c.mod(&d)
			err := d.Validate()
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if e.Code != c.code || e.Member != c.member || !strings.Contains(e.Message, c.phrase) {
				t.Errorf("got %s / %s / %q\nwant %s / %s / ...%q...", e.Code, e.Member, e.Message, c.code, c.member, c.phrase)
			}
			if !errors.Is(err, ErrInvalidDefinition) || !strings.HasPrefix(err.Error(), c.code+": ") {
				t.Errorf("Error() %q", err)
			}
		})
	}
}

func FuzzDefinitionValidate(f *testing.F) {
	f.Add("NetworkInterface", "eni-1", "ALL", "", "", "/g", role, "", 0, "", "k", "v", "tok")
	f.Add("VPC", "vpc-1", "REJECT", "s3", "arn:aws:s3:::my-bucket/my-subfolder/", "", "", "${version} ${vpc-id}", 60, "parquet", "", "", "")
	f.Add("Subnet", "subnet-1", "ACCEPT", "kinesis-data-firehose", "arn:aws:firehose:us-east-1:123456789012:deliverystream/s", "", "", "", 600, "", "aws:x", "", "")
	f.Add("TransitGateway", "tgw-1", "", "s3", "arn:aws:s3:::b/AWSLogs", "", "", "${", 600, "plain-text", "", "", "")
	f.Fuzz(func(t *testing.T, rt, id, tt, dt, dest, group, perm, format string, interval int, ff, tk, tv, token string) {
		d := Definition{
			ResourceType: rt, ResourceIds: []string{id}, TrafficType: tt, LogDestinationType: dt,
			LogDestination: dest, LogGroupName: group, DeliverLogsPermissionArn: perm, LogFormat: format,
			MaxAggregationInterval: interval, DestinationOptions: DestinationOptions{FileFormat: FileFormat(ff)},
			ClientToken: token,
		}
		if tk != "" || tv != "" {
			d.Tags = []Tag{{tk, tv}}
		}
		s, err := d.Settings()
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" || e.Member == "" || e.Message == "" {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		// Whatever passes must be usable as is.
		if s.Interval != time.Minute && s.Interval != 10*time.Minute {
			t.Fatalf("interval %v", s.Interval)
		}
		switch s.DestinationType {
		case DestinationS3:
			if err := checkBucketName(s.S3.Bucket); err != nil {
				t.Fatal(err)
			}
			l := S3Layout{Prefix: s.S3.Prefix, AccountID: "123456789012", Region: "r", FlowLogID: "fl-1"}
			if err := CheckKey(l.Key(time.Unix(0, 0), 1)); err != nil {
				t.Fatal(err)
			}
		case DestinationCloudWatchLogs:
			if _, err := logsPath(s.LogGroupName, "eni-1-all"); err != nil {
				t.Fatal(err)
			}
		case DestinationFirehose:
			if err := checkStreamName(s.DeliveryStream); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("destination type %q", s.DestinationType)
		}
	})
}

func TestSettingsIncludes(t *testing.T) {
	acc, rej := Record{Action: ActionAccept}, Record{Action: ActionReject}
	nodata := Record{LogStatus: LogNoData}
	for _, c := range []struct {
		tt             string
		acc, rej, noda bool
	}{
		{TrafficAccept, true, false, true},
		{TrafficReject, false, true, true},
		{TrafficAll, true, true, true},
		{"", true, true, true},
	} {
		s := Settings{TrafficType: c.tt}
		if s.Includes(&acc) != c.acc || s.Includes(&rej) != c.rej || s.Includes(&nodata) != c.noda {
			t.Errorf("TrafficType %q: %v %v %v", c.tt, s.Includes(&acc), s.Includes(&rej), s.Includes(&nodata))
		}
	}
}
