package flowlog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// EC2 error codes returned by Definition.Validate.
const (
	CodeMissingParameter            = "MissingParameter"
	CodeInvalidParameter            = "InvalidParameter"
	CodeInvalidParameterValue       = "InvalidParameterValue"
	CodeInvalidParameterCombination = "InvalidParameterCombination"
)

// Error is a CreateFlowLogs request error: the EC2 error code, the request
// member at fault and a message naming the value and the rule.
type Error struct {
	Code    string
	Member  string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ErrInvalidDefinition is matched by every *Error.
var ErrInvalidDefinition = errors.New("invalid flow log definition")

// Is makes errors.Is(err, ErrInvalidDefinition) hold.
func (e *Error) Is(target error) bool { return target == ErrInvalidDefinition }

func errf(code, member, format string, args ...any) *Error {
	return &Error{Code: code, Member: member, Message: fmt.Sprintf(format, args...)}
}

// Resource types of CreateFlowLogs.
const (
	ResourceVPC                      = "VPC"
	ResourceSubnet                   = "Subnet"
	ResourceNetworkInterface         = "NetworkInterface"
	ResourceTransitGateway           = "TransitGateway"
	ResourceTransitGatewayAttachment = "TransitGatewayAttachment"
	ResourceRegionalNatGateway       = "RegionalNatGateway"
)

// Traffic types.
const (
	TrafficAccept = "ACCEPT"
	TrafficReject = "REJECT"
	TrafficAll    = "ALL"
)

// Destination types.
const (
	DestinationCloudWatchLogs = "cloud-watch-logs"
	DestinationS3             = "s3"
	DestinationFirehose       = "kinesis-data-firehose"
)

// Limits of CreateFlowLogs.
const (
	MaxResourceIDs               = 300 // per request, for VPC, Subnet, NetworkInterface
	MaxTransitGatewayResourceIDs = 25  // per request, for transit gateway types
	maxClientToken               = 64
	maxTagKey                    = 127
	maxTagValue                  = 256
	maxLogGroupName              = 512
	maxStreamName                = 64
)

// DestinationOptions are the S3 options of a flow log. The zero value means
// plain text without Hive or per-hour partitions.
type DestinationOptions struct {
	FileFormat               FileFormat // plain-text (default) or parquet
	HiveCompatiblePartitions bool
	PerHourPartition         bool
}

// Tag is a flow log tag.
type Tag struct {
	Key, Value string
}

// Definition holds the members of a CreateFlowLogs request. Empty strings
// and zero numbers mean the member was absent; the API layer maps the query
// parameters onto it.
type Definition struct {
	ResourceType             string
	ResourceIds              []string
	TrafficType              string
	LogDestinationType       string // empty means cloud-watch-logs
	LogDestination           string
	LogGroupName             string
	DeliverLogsPermissionArn string
	DeliverCrossAccountRole  string
	LogFormat                string // empty means the default format
	MaxAggregationInterval   int    // seconds; 0 means the default
	DestinationOptions       DestinationOptions
	Tags                     []Tag
	ClientToken              string
}

// Settings is a validated Definition with its defaults filled in and its
// destination parsed.
type Settings struct {
	DestinationType string
	Format          Format
	Interval        time.Duration // 60 s or 600 s
	TrafficType     string        // empty for transit gateway types

	S3                 S3Destination      // DestinationType s3
	DestinationOptions DestinationOptions // with FileFormat filled in (s3)
	LogGroupName       string             // DestinationType cloud-watch-logs
	DeliveryStream     string             // DestinationType kinesis-data-firehose
}

func isTransitGateway(rt string) bool {
	return rt == ResourceTransitGateway || rt == ResourceTransitGatewayAttachment
}

// Validate checks d against the CreateFlowLogs rules and returns the first
// problem as an *Error, or nil.
func (d *Definition) Validate() error {
	_, err := d.Settings()
	return err
}

// Settings validates d and resolves its defaults. Errors are *Error.
func (d *Definition) Settings() (Settings, error) {
	var s Settings
	if err := d.checkResources(); err != nil {
		return s, err
	}
	tgw := isTransitGateway(d.ResourceType)

	switch {
	case tgw && d.TrafficType != "":
		return s, errf(CodeInvalidParameter, "TrafficType",
			"TrafficType is not supported for resource type %s", d.ResourceType)
	case !tgw && d.TrafficType == "":
		return s, errf(CodeMissingParameter, "TrafficType",
			"The request must contain the parameter TrafficType (ACCEPT, REJECT or ALL) for resource type %s", d.ResourceType)
	case !tgw && !oneOf(d.TrafficType, TrafficAccept, TrafficReject, TrafficAll):
		return s, errf(CodeInvalidParameterValue, "TrafficType",
			"TrafficType %q is not valid; it must be ACCEPT, REJECT or ALL (case-sensitive)", d.TrafficType)
	}
	s.TrafficType = d.TrafficType

	switch d.MaxAggregationInterval {
	case 0:
		s.Interval = 600 * time.Second
		if tgw {
			s.Interval = 60 * time.Second
		}
	case 60:
		s.Interval = 60 * time.Second
	case 600:
		if tgw {
			return s, errf(CodeInvalidParameter, "MaxAggregationInterval",
				"Invalid Flow Log Max Aggregation Interval: 600 is not allowed for resource type %s, which needs 60", d.ResourceType)
		}
		s.Interval = 600 * time.Second
	default:
		return s, errf(CodeInvalidParameter, "MaxAggregationInterval",
			"Invalid Flow Log Max Aggregation Interval: %d is not 60 or 600 (seconds)", d.MaxAggregationInterval)
	}

	if d.LogFormat != "" {
		f, err := ParseFormat(d.LogFormat)
		if err != nil {
			return s, errf(CodeInvalidParameterValue, "LogFormat", "%s", err.Error())
		}
		s.Format = f
	}

	dt := d.LogDestinationType
	if dt == "" {
		dt = DestinationCloudWatchLogs
	}
	s.DestinationType = dt
	switch dt {
	case DestinationCloudWatchLogs:
		if err := d.checkCloudWatch(&s); err != nil {
			return s, err
		}
	case DestinationS3:
		if err := d.checkS3(&s); err != nil {
			return s, err
		}
	case DestinationFirehose:
		if err := d.checkFirehose(&s); err != nil {
			return s, err
		}
	default:
		return s, errf(CodeInvalidParameterValue, "LogDestinationType",
			"LogDestinationType %q is not valid; it must be cloud-watch-logs, s3 or kinesis-data-firehose", d.LogDestinationType)
	}
	if dt != DestinationS3 {
		if d.DestinationOptions.FileFormat == FileParquet {
			return s, errf(CodeInvalidParameterCombination, "DestinationOptions.FileFormat",
				"DestinationOptions.FileFormat parquet is only supported when LogDestinationType is s3, not %s", dt)
		}
		if d.DestinationOptions != (DestinationOptions{}) {
			return s, errf(CodeInvalidParameterCombination, "DestinationOptions",
				"DestinationOptions are only supported when LogDestinationType is s3, not %s", dt)
		}
	}

	if d.DeliverCrossAccountRole != "" {
		if err := checkRoleARN(d.DeliverCrossAccountRole); err != nil {
			return s, errf(CodeInvalidParameterValue, "DeliverCrossAccountRole", "DeliverCrossAccountRole %v", err)
		}
	}
	if err := checkTags(d.Tags); err != nil {
		return s, err
	}
	if len(d.ClientToken) > maxClientToken {
		return s, errf(CodeInvalidParameterValue, "ClientToken",
			"ClientToken is %d characters long; it may have at most %d", len(d.ClientToken), maxClientToken)
	}
	for i := 0; i < len(d.ClientToken); i++ {
		if c := d.ClientToken[i]; c < 0x20 || c > 0x7e {
			return s, errf(CodeInvalidParameterValue, "ClientToken",
				"ClientToken %q holds a character (byte %d) that is not printable ASCII", d.ClientToken, i)
		}
	}
	return s, nil
}

func oneOf(v string, set ...string) bool {
	for _, x := range set {
		if v == x {
			return true
		}
	}
	return false
}

func (d *Definition) checkResources() error {
	if d.ResourceType == "" {
		return errf(CodeMissingParameter, "ResourceType", "The request must contain the parameter ResourceType")
	}
	if !oneOf(d.ResourceType, ResourceVPC, ResourceSubnet, ResourceNetworkInterface,
		ResourceTransitGateway, ResourceTransitGatewayAttachment, ResourceRegionalNatGateway) {
		return errf(CodeInvalidParameterValue, "ResourceType",
			"ResourceType %q is not valid; it must be VPC, Subnet, NetworkInterface, TransitGateway, TransitGatewayAttachment or RegionalNatGateway (case-sensitive)", d.ResourceType)
	}
	if len(d.ResourceIds) == 0 {
		return errf(CodeMissingParameter, "ResourceId", "The request must contain the parameter ResourceId")
	}
	limit := MaxResourceIDs
	if isTransitGateway(d.ResourceType) {
		limit = MaxTransitGatewayResourceIDs
	}
	if len(d.ResourceIds) > limit {
		return errf(CodeInvalidParameterValue, "ResourceId",
			"%d resource IDs given; at most %d are allowed for resource type %s", len(d.ResourceIds), limit, d.ResourceType)
	}
	for i, id := range d.ResourceIds {
		if strings.TrimSpace(id) == "" {
			return errf(CodeInvalidParameterValue, "ResourceId."+strconv.Itoa(i+1),
				"ResourceId.%d is empty", i+1)
		}
	}
	return nil
}

func (d *Definition) checkCloudWatch(s *Settings) error {
	switch {
	case d.LogGroupName != "" && d.LogDestination != "":
		return errf(CodeInvalidParameterCombination, "LogDestination",
			"Please only provide LogGroupName or only provide LogDestination.")
	case d.LogGroupName == "" && d.LogDestination == "":
		return errf(CodeInvalidParameter, "LogDestination",
			"LogDestination can't be empty if LogGroupName is not provided.")
	case d.LogGroupName != "":
		if err := checkLogGroupName(d.LogGroupName); err != nil {
			return errf(CodeInvalidParameterValue, "LogGroupName", "LogGroupName %v", err)
		}
		s.LogGroupName = d.LogGroupName
	default:
		g, err := ParseLogGroupARN(d.LogDestination)
		if err != nil {
			return errf(CodeInvalidParameterValue, "LogDestination", "LogDestination %v", err)
		}
		s.LogGroupName = g
	}
	if d.DeliverLogsPermissionArn == "" {
		return errf(CodeInvalidParameter, "DeliverLogsPermissionArn",
			"DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs.")
	}
	if err := checkRoleARN(d.DeliverLogsPermissionArn); err != nil {
		return errf(CodeInvalidParameterValue, "DeliverLogsPermissionArn", "DeliverLogsPermissionArn %v", err)
	}
	return nil
}

func (d *Definition) checkS3(s *Settings) error {
	if d.LogGroupName != "" {
		return errf(CodeInvalidParameter, "LogGroupName",
			"LogDestination type must be cloud-watch-logs if LogGroupName is provided.")
	}
	if d.LogDestination == "" {
		return errf(CodeInvalidParameter, "LogDestination",
			"LogDestination can't be empty if LogDestinationType is s3.")
	}
	dst, err := ParseS3Destination(d.LogDestination)
	if err != nil {
		return errf(CodeInvalidParameterValue, "LogDestination", "LogDestination %v", err)
	}
	s.S3 = dst
	if d.DeliverLogsPermissionArn != "" {
		if err := checkRoleARN(d.DeliverLogsPermissionArn); err != nil {
			return errf(CodeInvalidParameterValue, "DeliverLogsPermissionArn", "DeliverLogsPermissionArn %v", err)
		}
	}
	o := d.DestinationOptions
	switch o.FileFormat {
	case "":
		o.FileFormat = FilePlainText
	case FilePlainText, FileParquet:
	default:
		return errf(CodeInvalidParameterValue, "DestinationOptions.FileFormat",
			"DestinationOptions.FileFormat %q is not valid; it must be plain-text or parquet", o.FileFormat)
	}
	s.DestinationOptions = o
	return nil
}

func (d *Definition) checkFirehose(s *Settings) error {
	if d.LogGroupName != "" {
		return errf(CodeInvalidParameter, "LogGroupName",
			"LogDestination type must be cloud-watch-logs if LogGroupName is provided.")
	}
	if d.LogDestination == "" {
		return errf(CodeInvalidParameter, "LogDestination",
			"LogDestination can't be empty if LogDestinationType is kinesis-data-firehose.")
	}
	name, err := ParseFirehoseARN(d.LogDestination)
	if err != nil {
		return errf(CodeInvalidParameterValue, "LogDestination", "LogDestination %v", err)
	}
	s.DeliveryStream = name
	if d.DeliverLogsPermissionArn != "" {
		if err := checkRoleARN(d.DeliverLogsPermissionArn); err != nil {
			return errf(CodeInvalidParameterValue, "DeliverLogsPermissionArn", "DeliverLogsPermissionArn %v", err)
		}
	}
	return nil
}

// ParseLogGroupARN returns the log group name of a CloudWatch Logs log group
// ARN, arn:aws:logs:region:account-id:log-group:name, with or without a
// trailing ":*".
func ParseLogGroupARN(arn string) (string, error) {
	_, rest, ok := cutARN(arn, "logs")
	const form = "arn:aws:logs:region:account-id:log-group:name"
	if !ok {
		return "", fmt.Errorf("%q is not a log group ARN (%s)", arn, form)
	}
	region, rest, _ := strings.Cut(rest, ":")
	account, rest, _ := strings.Cut(rest, ":")
	name, ok := strings.CutPrefix(rest, "log-group:")
	name = strings.TrimSuffix(name, ":*")
	if !ok || region == "" || name == "" {
		return "", fmt.Errorf("%q is not a log group ARN (%s)", arn, form)
	}
	if !isAccountID(account) {
		return "", fmt.Errorf("%q: account %q is not a 12-digit account ID", arn, account)
	}
	if err := checkLogGroupName(name); err != nil {
		return "", fmt.Errorf("%q: %w", arn, err)
	}
	return name, nil
}

// ParseFirehoseARN returns the delivery stream name of a Firehose delivery
// stream ARN, arn:aws:firehose:region:account-id:deliverystream/name. The
// form with ':' before the name, which the CreateFlowLogs reference shows,
// is accepted too.
func ParseFirehoseARN(arn string) (string, error) {
	const form = "arn:aws:firehose:region:account-id:deliverystream/name"
	_, rest, ok := cutARN(arn, "firehose")
	if !ok {
		return "", fmt.Errorf("%q is not a Firehose delivery stream ARN (%s)", arn, form)
	}
	region, rest, _ := strings.Cut(rest, ":")
	account, rest, _ := strings.Cut(rest, ":")
	name, ok := strings.CutPrefix(rest, "deliverystream/")
	if !ok {
		name, ok = strings.CutPrefix(rest, "deliverystream:")
	}
	if !ok || region == "" || name == "" {
		return "", fmt.Errorf("%q is not a Firehose delivery stream ARN (%s)", arn, form)
	}
	if !isAccountID(account) {
		return "", fmt.Errorf("%q: account %q is not a 12-digit account ID", arn, account)
	}
	if err := checkStreamName(name); err != nil {
		return "", fmt.Errorf("%q: %w", arn, err)
	}
	return name, nil
}

// checkRoleARN accepts arn:aws:iam::account-id:role/[path/]name.
func checkRoleARN(arn string) error {
	const form = "arn:aws:iam::account-id:role/name"
	_, rest, ok := cutARN(arn, "iam")
	if !ok || !strings.HasPrefix(rest, ":") {
		return fmt.Errorf("%q is not an IAM role ARN (%s)", arn, form)
	}
	account, res, _ := strings.Cut(rest[1:], ":")
	name, ok := strings.CutPrefix(res, "role/")
	if !ok || name == "" || strings.HasSuffix(name, "/") {
		return fmt.Errorf("%q is not an IAM role ARN (%s)", arn, form)
	}
	if !isAccountID(account) {
		return fmt.Errorf("%q: account %q is not a 12-digit account ID", arn, account)
	}
	return nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkLogGroupName applies the CloudWatch Logs rule: 1-512 characters of
// letters, digits, '_', '-', '/', '.' and '#'.
func checkLogGroupName(n string) error {
	if n == "" || len(n) > maxLogGroupName {
		return fmt.Errorf("%q must be 1 to %d characters long", n, maxLogGroupName)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !isAlnum(c) && !strings.ContainsRune("_-/.#", rune(c)) {
			return fmt.Errorf("%q may hold only letters, digits, '_', '-', '/', '.' and '#'", n)
		}
	}
	for _, seg := range strings.Split(strings.Trim(n, "/"), "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("%q has a %q path segment", n, seg)
		}
	}
	return nil
}

// checkStreamName applies the Firehose rule: 1-64 characters of letters,
// digits, '_', '-' and '.'.
func checkStreamName(n string) error {
	if n == "" || len(n) > maxStreamName {
		return fmt.Errorf("delivery stream name %q must be 1 to %d characters long", n, maxStreamName)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !isAlnum(c) && c != '_' && c != '-' && c != '.' {
			return fmt.Errorf("delivery stream name %q may hold only letters, digits, '_', '-' and '.'", n)
		}
	}
	if n == "." || n == ".." {
		return fmt.Errorf("delivery stream name %q is not allowed", n)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func checkTags(tags []Tag) error {
	seen := make(map[string]bool, len(tags))
	for i, t := range tags {
		m := "Tag." + strconv.Itoa(i+1)
		switch {
		case t.Key == "":
			return errf(CodeInvalidParameterValue, m+".Key", "%s.Key is empty; a tag key needs 1 to %d characters", m, maxTagKey)
		case utf8.RuneCountInString(t.Key) > maxTagKey:
			return errf(CodeInvalidParameterValue, m+".Key", "%s.Key %q is longer than %d characters", m, t.Key, maxTagKey)
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return errf(CodeInvalidParameterValue, m+".Key", "%s.Key %q starts with \"aws:\", which is reserved for AWS", m, t.Key)
		case utf8.RuneCountInString(t.Value) > maxTagValue:
			return errf(CodeInvalidParameterValue, m+".Value", "%s.Value for key %q is longer than %d characters", m, t.Key, maxTagValue)
		case seen[t.Key]:
			return errf(CodeInvalidParameterValue, m+".Key", "%s.Key %q is a duplicate tag key", m, t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

// Includes reports whether r belongs in a flow log with these settings:
// TrafficType ACCEPT keeps accepted traffic, REJECT rejected traffic, ALL
// (and the transit gateway types, which have no TrafficType) everything.
// NODATA and SKIPDATA records belong in every flow log.
func (s *Settings) Includes(r *Record) bool {
	if r.LogStatus != LogOK {
		return true
	}
	switch s.TrafficType {
	case TrafficAccept:
		return r.Action == ActionAccept
	case TrafficReject:
		return r.Action == ActionReject
	}
	return true
}
