package api

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/flowlog"
)

// EC2Version is the API version every EC2 query request must name.
const EC2Version = "2016-11-15"

const ec2Namespace = "http://ec2.amazonaws.com/doc/" + EC2Version + "/"

// EC2 error codes the query handler answers with, beside flowlog's.
const (
	ec2MissingAction        = "MissingAction"
	ec2InvalidAction        = "InvalidAction"
	ec2UnknownParameter     = "UnknownParameter"
	ec2MalformedQuery       = "MalformedQueryString"
	ec2UnsupportedOperation = "UnsupportedOperation"
	ec2DryRunOperation      = "DryRunOperation"
	ec2InternalError        = "InternalError"
)

// tagResourceType is the TagSpecification.N.ResourceType of a flow log.
const tagResourceType = "vpc-flow-log"

// ec2Error is an error answer of the EC2 query API.
type ec2Error struct {
	status int
	code   string
	msg    string
}

func (e *ec2Error) Error() string { return e.code + ": " + e.msg }

func ec2Errf(code, format string, args ...any) *ec2Error {
	return &ec2Error{status: http.StatusBadRequest, code: code, msg: fmt.Sprintf(format, args...)}
}

// NewEC2 returns the handler of the EC2 query protocol (form-encoded POST
// bodies, Action and Version members, XML answers) for the VPC flow log
// actions CreateFlowLogs, DescribeFlowLogs and DeleteFlowLogs over reg. With
// reg nil, those actions are answered UnsupportedOperation; any other
// action is InvalidAction, as EC2 answers one it does not have. Server
// serves it for form bodies when Config.Query is nil; it reads the request
// id from the X-Amzn-RequestId header already set, or makes one.
func NewEC2(reg *flowlog.Registry) http.Handler { return &ec2Handler{reg: reg} }

type ec2Handler struct {
	reg *flowlog.Registry
}

// ec2Form is a parsed request body: one value per member.
type ec2Form map[string]string

func (h *ec2Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := w.Header().Get("X-Amzn-RequestId")
	if reqID == "" {
		reqID = uuid.NewString()
		w.Header().Set("X-Amzn-RequestId", reqID)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeEC2Error(w, http.StatusBadRequest, ec2MalformedQuery, fmt.Sprintf("reading the request body: %v", err), reqID)
		return
	}
	out, eerr := h.serve(string(body), reqID)
	if eerr != nil {
		writeEC2Error(w, eerr.status, eerr.code, eerr.msg, reqID)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, out)
}

// serve answers one request body with the XML of its response.
func (h *ec2Handler) serve(body, reqID string) (string, *ec2Error) {
	values, err := url.ParseQuery(body)
	if err != nil {
		return "", ec2Errf(ec2MalformedQuery, "the request body is not a valid form (application/x-www-form-urlencoded): %v", err)
	}
	f := ec2Form{}
	for k, v := range values {
		if len(v) > 1 {
			return "", ec2Errf(flowlog.CodeInvalidParameterValue, "%s: the parameter is given %d times; give it once", k, len(v))
		}
		f[k] = v[0]
	}
	action, ok := f["Action"]
	if !ok || action == "" {
		return "", ec2Errf(ec2MissingAction, "Action: the request must contain the parameter Action (CreateFlowLogs, DescribeFlowLogs or DeleteFlowLogs)")
	}
	if !slices.Contains(ec2Actions, action) {
		return "", ec2Errf(ec2InvalidAction, "Action: the action %s is not valid for this web service; flowd serves %s", action, strings.Join(ec2Actions, ", "))
	}
	switch v, ok := f["Version"]; {
	case !ok || v == "":
		return "", ec2Errf(flowlog.CodeMissingParameter, "The request must contain the parameter Version (%s)", EC2Version)
	case v != EC2Version:
		return "", ec2Errf(flowlog.CodeInvalidParameterValue, "Version %q is not supported: the flow log actions are served at Version %s", v, EC2Version)
	}
	if h.reg == nil {
		return "", ec2Errf(ec2UnsupportedOperation, "Action: %s: VPC flow logs are not enabled on this flowd", action)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%sResponse xmlns=\"%s\"><requestId>", action, ec2Namespace)
	xmlText(&b, reqID)
	b.WriteString("</requestId>")
	var eerr *ec2Error
	switch action {
	case "CreateFlowLogs":
		eerr = h.create(&b, f)
	case "DescribeFlowLogs":
		eerr = h.describe(&b, f)
	case "DeleteFlowLogs":
		eerr = h.delete(&b, f)
	}
	if eerr != nil {
		return "", eerr
	}
	fmt.Fprintf(&b, "</%sResponse>\n", action)
	return b.String(), nil
}

// ec2ErrorOf turns a flowlog error into the answer: an *flowlog.Error is
// a client error whose message names its member; anything else (the
// registry could not save) is InternalError.
func ec2ErrorOf(err error) *ec2Error {
	var fe *flowlog.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if fe.Member != "" && !strings.Contains(msg, fe.Member) {
			msg = fe.Member + ": " + msg
		}
		return ec2Errf(fe.Code, "%s", msg)
	}
	return &ec2Error{status: http.StatusInternalServerError, code: ec2InternalError, msg: err.Error()}
}

// index parses the N of a list member (1, 2, ...).
func index(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 1 && s[0] != '0' && n <= 100000
}

func unknownParam(action, key string) *ec2Error {
	return ec2Errf(ec2UnknownParameter, "%s: the parameter is not recognized by %s", key, action)
}

// members takes the members every action has (Action, Version, DryRun,
// and the signature members of a signed body) out of f and returns the
// action's own member names in order, with DryRun.
func members(f ec2Form) (keys []string, dryRun bool, err *ec2Error) {
	for _, key := range slices.Sorted(maps.Keys(f)) {
		switch {
		case key == "Action" || key == "Version" || strings.HasPrefix(key, "X-Amz-"):
		case key == "DryRun":
			if dryRun, err = parseBool(key, f[key]); err != nil {
				return nil, false, err
			}
		default:
			keys = append(keys, key)
		}
	}
	return keys, dryRun, nil
}

func parseBool(key, v string) (bool, *ec2Error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, ec2Errf(flowlog.CodeInvalidParameterValue, "%s: %q is not a boolean (true or false)", key, v)
}

func parseInt(key, v string) (int, *ec2Error) {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, ec2Errf(flowlog.CodeInvalidParameterValue, "%s: %q is not an integer", key, v)
	}
	return int(n), nil
}

// list returns the values of a flattened list member, Name.1, Name.2, ...,
// in index order.
func list(m map[int]string) []string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

var dryRunError = &ec2Error{status: http.StatusPreconditionFailed, code: ec2DryRunOperation,
	msg: "Request would have succeeded, but DryRun flag is set."}

// tagSpec is one TagSpecification.N.
type tagSpec struct {
	resourceType string
	hasType      bool
	tags         map[int]*flowlog.Tag
}

func (h *ec2Handler) create(b *strings.Builder, f ec2Form) *ec2Error {
	var (
		d     flowlog.Definition
		ids   = map[int]string{}
		specs = map[int]*tagSpec{}
	)
	keys, dryRun, merr := members(f)
	if merr != nil {
		return merr
	}
	for _, key := range keys {
		v := f[key]
		p := strings.Split(key, ".")
		switch {
		case len(p) == 1:
			var err *ec2Error
			switch key {
			case "ResourceType":
				d.ResourceType = v
			case "TrafficType":
				d.TrafficType = v
			case "LogDestinationType":
				d.LogDestinationType = v
			case "LogDestination":
				d.LogDestination = v
			case "LogGroupName":
				d.LogGroupName = v
			case "DeliverLogsPermissionArn":
				d.DeliverLogsPermissionArn = v
			case "DeliverCrossAccountRole":
				d.DeliverCrossAccountRole = v
			case "LogFormat":
				d.LogFormat = v
				if v == "" {
					// Sent but empty: not the default format, no field.
					d.LogFormat = " "
				}
			case "ClientToken":
				d.ClientToken = v
			case "MaxAggregationInterval":
				d.MaxAggregationInterval, err = parseInt(key, v)
				if err == nil && d.MaxAggregationInterval == 0 {
					err = ec2Errf(flowlog.CodeInvalidParameter, "MaxAggregationInterval: Invalid Flow Log Max Aggregation Interval: 0 is not 60 or 600 (seconds)")
				}
			default:
				return unknownParam("CreateFlowLogs", key)
			}
			if err != nil {
				return err
			}
		case len(p) == 2 && p[0] == "ResourceId":
			n, ok := index(p[1])
			if !ok {
				return unknownParam("CreateFlowLogs", key)
			}
			ids[n] = v
		case len(p) == 2 && p[0] == "DestinationOptions":
			var err *ec2Error
			switch p[1] {
			case "FileFormat":
				d.DestinationOptions.FileFormat = flowlog.FileFormat(v)
			case "HiveCompatiblePartitions":
				d.DestinationOptions.HiveCompatiblePartitions, err = parseBool(key, v)
			case "PerHourPartition":
				d.DestinationOptions.PerHourPartition, err = parseBool(key, v)
			default:
				return unknownParam("CreateFlowLogs", key)
			}
			if err != nil {
				return err
			}
		case p[0] == "TagSpecification" && len(p) >= 3:
			n, ok := index(p[1])
			if !ok {
				return unknownParam("CreateFlowLogs", key)
			}
			s := specs[n]
			if s == nil {
				s = &tagSpec{tags: map[int]*flowlog.Tag{}}
				specs[n] = s
			}
			switch {
			case len(p) == 3 && p[2] == "ResourceType":
				s.resourceType, s.hasType = v, true
			case len(p) == 5 && p[2] == "Tag" && (p[4] == "Key" || p[4] == "Value"):
				m, ok := index(p[3])
				if !ok {
					return unknownParam("CreateFlowLogs", key)
				}
				t := s.tags[m]
				if t == nil {
					t = &flowlog.Tag{}
					s.tags[m] = t
				}
				if p[4] == "Key" {
					t.Key = v
				} else {
					t.Value = v
				}
			default:
				return unknownParam("CreateFlowLogs", key)
			}
		case p[0] == "TagFieldSpecification":
			return ec2Errf(flowlog.CodeInvalidParameterValue, "%s: TagFieldSpecifications (the ${resource-tags...} fields of version 11) are not supported by flowd", key)
		default:
			return unknownParam("CreateFlowLogs", key)
		}
	}
	d.ResourceIds = list(ids)
	tags, err := specTags(specs)
	if err != nil {
		return err
	}
	d.Tags = tags
	if _, err := d.Settings(); err != nil {
		return ec2ErrorOf(err)
	}
	if dryRun {
		return dryRunError
	}
	res, cerr := h.reg.Create(d)
	if cerr != nil {
		return ec2ErrorOf(cerr)
	}
	if res.ClientToken != "" {
		b.WriteString("<clientToken>")
		xmlText(b, res.ClientToken)
		b.WriteString("</clientToken>")
	}
	b.WriteString("<flowLogIdSet>")
	for _, id := range res.FlowLogIDs {
		b.WriteString("<item>")
		xmlText(b, id)
		b.WriteString("</item>")
	}
	b.WriteString("</flowLogIdSet>")
	writeUnsuccessful(b, res.Unsuccessful)
	return nil
}

// specTags returns the tags of every TagSpecification in index order;
// each must be for the vpc-flow-log resource type.
func specTags(specs map[int]*tagSpec) ([]flowlog.Tag, *ec2Error) {
	var tags []flowlog.Tag
	for _, n := range slices.Sorted(maps.Keys(specs)) {
		s := specs[n]
		member := fmt.Sprintf("TagSpecification.%d.ResourceType", n)
		if !s.hasType {
			return nil, ec2Errf(flowlog.CodeMissingParameter, "%s: the request must contain the parameter %s (%s)", member, member, tagResourceType)
		}
		if s.resourceType != tagResourceType {
			return nil, ec2Errf(flowlog.CodeInvalidParameterValue, "%s: %q is not valid here; flow logs are tagged as %s", member, s.resourceType, tagResourceType)
		}
		for _, m := range slices.Sorted(maps.Keys(s.tags)) {
			tags = append(tags, *s.tags[m])
		}
	}
	return tags, nil
}

func writeUnsuccessful(b *strings.Builder, items []flowlog.Unsuccessful) {
	b.WriteString("<unsuccessful>")
	for _, u := range items {
		b.WriteString("<item><error><code>")
		xmlText(b, u.Code)
		b.WriteString("</code><message>")
		xmlText(b, u.Message)
		b.WriteString("</message></error><resourceId>")
		xmlText(b, u.ResourceID)
		b.WriteString("</resourceId></item>")
	}
	b.WriteString("</unsuccessful>")
}

func (h *ec2Handler) describe(b *strings.Builder, f ec2Form) *ec2Error {
	var (
		ids        = map[int]string{}
		names      = map[int]string{}
		vals       = map[int]map[int]string{}
		maxResults int
		token      string
	)
	keys, dryRun, merr := members(f)
	if merr != nil {
		return merr
	}
	for _, key := range keys {
		v := f[key]
		p := strings.Split(key, ".")
		switch {
		case key == "MaxResults":
			n, err := parseInt(key, v)
			if err != nil {
				return err
			}
			if n < 1 || n > flowlog.MaxDescribeResult {
				return ec2Errf(flowlog.CodeInvalidParameterValue, "MaxResults: %d is out of range: want 1 to %d", n, flowlog.MaxDescribeResult)
			}
			maxResults = n
		case key == "NextToken":
			token = v
		case len(p) == 2 && p[0] == "FlowLogId":
			n, ok := index(p[1])
			if !ok {
				return unknownParam("DescribeFlowLogs", key)
			}
			ids[n] = v
		case len(p) >= 3 && p[0] == "Filter":
			n, ok := index(p[1])
			if !ok {
				return unknownParam("DescribeFlowLogs", key)
			}
			switch {
			case len(p) == 3 && p[2] == "Name":
				names[n] = v
			case len(p) == 4 && p[2] == "Value":
				m, ok := index(p[3])
				if !ok {
					return unknownParam("DescribeFlowLogs", key)
				}
				if vals[n] == nil {
					vals[n] = map[int]string{}
				}
				vals[n][m] = v
			default:
				return unknownParam("DescribeFlowLogs", key)
			}
		default:
			return unknownParam("DescribeFlowLogs", key)
		}
	}
	var filters map[string][]string
	for _, n := range slices.Sorted(maps.Keys(vals)) {
		if _, ok := names[n]; !ok {
			return ec2Errf(flowlog.CodeMissingParameter, "Filter.%d.Name: the filter has values but no name", n)
		}
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		name := names[n]
		if filters == nil {
			filters = map[string][]string{}
		}
		if _, dup := filters[name]; dup {
			return ec2Errf(flowlog.CodeInvalidParameterCombination, "Filter.%d.Name: the filter '%s' is given twice; give all its values in one filter", n, name)
		}
		filters[name] = list(vals[n])
	}
	idList := list(ids)
	res, err := h.reg.Describe(idList, filters, maxResults, token)
	if err != nil {
		return ec2ErrorOf(err)
	}
	if dryRun {
		return dryRunError
	}
	b.WriteString("<flowLogSet>")
	for i := range res.FlowLogs {
		writeFlowLog(b, &res.FlowLogs[i])
	}
	b.WriteString("</flowLogSet>")
	if res.NextToken != "" {
		b.WriteString("<nextToken>")
		xmlText(b, res.NextToken)
		b.WriteString("</nextToken>")
	}
	return nil
}

// writeFlowLog writes one flowLogSet item, with the element names the
// SDK's FlowLog deserializer reads.
func writeFlowLog(b *strings.Builder, l *flowlog.Log) {
	d, s := &l.Definition, &l.Settings
	elem := func(name, v string) {
		if v == "" {
			return
		}
		b.WriteString("<" + name + ">")
		xmlText(b, v)
		b.WriteString("</" + name + ">")
	}
	b.WriteString("<item>")
	elem("creationTime", l.Created.UTC().Format("2006-01-02T15:04:05.000Z"))
	elem("deliverCrossAccountRole", d.DeliverCrossAccountRole)
	elem("deliverLogsPermissionArn", d.DeliverLogsPermissionArn)
	elem("deliverLogsStatus", "SUCCESS")
	if s.DestinationType == flowlog.DestinationS3 {
		o := s.DestinationOptions
		b.WriteString("<destinationOptions>")
		elem("fileFormat", string(o.FileFormat))
		elem("hiveCompatiblePartitions", strconv.FormatBool(o.HiveCompatiblePartitions))
		elem("perHourPartition", strconv.FormatBool(o.PerHourPartition))
		b.WriteString("</destinationOptions>")
	}
	elem("flowLogId", l.ID)
	elem("flowLogStatus", "ACTIVE")
	elem("logDestination", d.LogDestination)
	elem("logDestinationType", s.DestinationType)
	elem("logFormat", s.Format.String())
	elem("logGroupName", s.LogGroupName)
	elem("maxAggregationInterval", strconv.Itoa(int(s.Interval/time.Second)))
	elem("resourceId", l.ResourceID)
	if len(d.Tags) > 0 {
		b.WriteString("<tagSet>")
		for _, t := range d.Tags {
			b.WriteString("<item>")
			elem("key", t.Key)
			b.WriteString("<value>")
			xmlText(b, t.Value)
			b.WriteString("</value></item>")
		}
		b.WriteString("</tagSet>")
	}
	elem("trafficType", s.TrafficType)
	b.WriteString("</item>")
}

func (h *ec2Handler) delete(b *strings.Builder, f ec2Form) *ec2Error {
	ids := map[int]string{}
	keys, dryRun, merr := members(f)
	if merr != nil {
		return merr
	}
	for _, key := range keys {
		p := strings.Split(key, ".")
		if len(p) != 2 || p[0] != "FlowLogId" {
			return unknownParam("DeleteFlowLogs", key)
		}
		n, ok := index(p[1])
		if !ok {
			return unknownParam("DeleteFlowLogs", key)
		}
		ids[n] = f[key]
	}
	switch {
	case len(ids) == 0:
		return ec2Errf(flowlog.CodeMissingParameter, "The request must contain the parameter FlowLogId")
	case len(ids) > flowlog.MaxFlowLogIDs:
		return ec2Errf(flowlog.CodeInvalidParameterValue, "FlowLogId: %d flow log IDs given; at most %d are allowed", len(ids), flowlog.MaxFlowLogIDs)
	}
	if dryRun {
		return dryRunError
	}
	bad, err := h.reg.Delete(list(ids))
	if err != nil {
		return ec2ErrorOf(err)
	}
	writeUnsuccessful(b, bad)
	return nil
}

func xmlText(b *strings.Builder, s string) { xml.EscapeText(b, []byte(s)) }
