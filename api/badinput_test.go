package api_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	nfw "github.com/aws/aws-sdk-go-v2/service/networkfirewall"

	"github.com/flowd/flowd/api"
)

// The bad-input matrix: every member of every flow operation and flow log
// action, spoiled in each way its constraints allow (wrong type, empty, too
// long, bad pattern, out of range, missing when required), plus bodies that
// are not JSON or not forms, wrong content types, unknown targets and
// actions, and wrong methods and paths. The cases are generated from the
// member tables below; each asserts the AWS error code, the HTTP status and
// that the message names the member. A case goes through the official SDK
// client when the SDK can carry the bad value (a string where a string
// belongs, an int32 where an integer does), else as raw HTTP.

// Kinds of spoiling, for the counts.
const (
	kWrongType = "wrong type"
	kEmpty     = "empty"
	kLong      = "too long"
	kPattern   = "bad pattern"
	kRange     = "out of range"
	kMissing   = "missing"
)

// bad is one spoiled value of a member; raw is JSON (for awsJson) or the
// form value (for ec2Query).
type bad struct {
	kind string
	raw  string
}

func jq(s string) string { b, _ := json.Marshal(s); return string(b) }

var (
	assocArn  = "arn:aws:network-firewall:us-east-1:123456789012:vpc-endpoint-association/flowd"
	goodOpID  = "00000000-0000-4000-8000-000000000000"
	longArn   = "arn:aws:" + strings.Repeat("x", 249) // 257 characters
	strWrong  = []bad{{kWrongType, `42`}, {kWrongType, `true`}, {kWrongType, `{}`}, {kWrongType, `["a"]`}}
	intWrong  = []bad{{kWrongType, `"10"`}, {kWrongType, `true`}, {kWrongType, `{}`}, {kWrongType, `[1]`}, {kWrongType, `1.5`}}
	arrWrong  = []bad{{kWrongType, `"x"`}, {kWrongType, `{}`}, {kWrongType, `1`}, {kWrongType, `false`}}
	objWrong  = []bad{{kWrongType, `"10.0.0.0/8"`}, {kWrongType, `[]`}, {kWrongType, `1`}, {kWrongType, `true`}}
	arnBad    = []bad{{kEmpty, `""`}, {kLong, jq(longArn)}, {kPattern, `"firewall/flowd"`}, {kPattern, `"ARN:AWS:x"`}, {kPattern, `"arn:azure:x"`}}
	addrBad   = []bad{{kEmpty, `""`}, {kLong, jq(strings.Repeat("1", 256))}, {kPattern, `"host.example"`}, {kPattern, `"10.0.0.0/33"`}, {kPattern, `"10.0.0.0/8/8"`}, {kPattern, `"10.0.0.256/32"`}, {kPattern, `"::1/129"`}, {kPattern, `" 10.0.0.1"`}}
	portBad   = []bad{{kEmpty, `""`}, {kLong, jq(strings.Repeat("1", 1025))}, {kPattern, `"http"`}, {kPattern, `"80-90"`}, {kPattern, `"any"`}, {kPattern, `"1:2:3"`}, {kRange, `"65536"`}, {kRange, `"70000"`}, {kRange, `"-1"`}, {kRange, `"90:80"`}, {kRange, `"0:65536"`}}
	protoBad  = []bad{{kEmpty, `""`}, {kLong, `"1234567890123"`}, {kPattern, `"tcp"`}, {kPattern, `"6 "`}, {kRange, `"256"`}, {kRange, `"-1"`}}
	scopeOnly = []string{"AvailabilityZone", "VpcEndpointId", "VpcEndpointAssociationArn"}
)

// jsonMembers are the members of the Network Firewall flow operations and
// their spoiled values.
var jsonMembers = map[string][]bad{
	"FirewallArn":               append(append([]bad{{kMissing, ""}}, strWrong...), arnBad...),
	"AvailabilityZone":          append([]bad{{kEmpty, `""`}, {kLong, jq(strings.Repeat("a", 257))}}, strWrong...),
	"VpcEndpointId":             append([]bad{{kEmpty, `""`}, {kLong, jq("vpce-" + strings.Repeat("a", 252))}, {kPattern, `"vpce"`}, {kPattern, `"vpce-0a1b_2c"`}, {kPattern, `"endpoint-0a1b"`}, {kPattern, `"VPCE-0a1b"`}}, strWrong...),
	"VpcEndpointAssociationArn": append(append([]bad{}, strWrong...), arnBad...),
	"FlowOperationId": append([]bad{{kMissing, ""}, {kEmpty, `""`}, {kLong, jq(goodOpID + "0")}, {kPattern, jq(strings.ToUpper("0000000a-0000-4000-8000-000000000000"))},
		{kPattern, `"00000000000040008000000000000000----"`}, {kPattern, `"not-a-uuid"`}}, strWrong...),
	"MaxResults":              append([]bad{{kRange, `0`}, {kRange, `101`}, {kRange, `-1`}, {kRange, `1e10`}, {kRange, `99999999999999999999`}, {kRange, `2147483648`}}, intWrong...),
	"NextToken":               append([]bad{{kEmpty, `""`}, {kLong, jq(strings.Repeat("A", 4097))}, {kPattern, `"abc-def_"`}, {kPattern, `"a b"`}, {kPattern, `"AAAA"`}}, strWrong...),
	"FlowOperationType":       append([]bad{{kEmpty, `""`}, {kPattern, `"FLOW_DELETE"`}, {kPattern, `"flow_capture"`}}, strWrong...),
	"MinimumFlowAgeInSeconds": append([]bad{{kRange, `-1`}, {kRange, `2147483648`}, {kRange, `1e300`}}, intWrong...),
	"FlowFilters": append([]bad{{kMissing, ""}, {kEmpty, `[]`}, {kRange, "[" + strings.TrimSuffix(strings.Repeat(`{},`, 21), ",") + "]"}},
		arrWrong...),
	"FlowFilters[0]":                                      {{kWrongType, `"x"`}, {kWrongType, `1`}, {kWrongType, `[]`}, {kWrongType, `null`}},
	"FlowFilters[0].SourceAddress":                        append([]bad{{kMissing + " AddressDefinition", `{}`}}, objWrong...),
	"FlowFilters[0].DestinationAddress":                   append([]bad{{kMissing + " AddressDefinition", `{}`}}, objWrong...),
	"FlowFilters[0].SourceAddress.AddressDefinition":      append(append([]bad{}, strWrong...), addrBad...),
	"FlowFilters[0].DestinationAddress.AddressDefinition": append(append([]bad{}, strWrong...), addrBad...),
	"FlowFilters[0].SourcePort":                           append(append([]bad{}, strWrong...), portBad...),
	"FlowFilters[0].DestinationPort":                      append(append([]bad{}, strWrong...), portBad...),
	"FlowFilters[0].Protocols":                            arrWrong,
	"FlowFilters[0].Protocols[0]":                         append(append([]bad{}, strWrong...), protoBad...),
}

// jsonOps are the operations: a valid body, and its members the matrix
// spoils.
var jsonOps = []struct {
	op      string
	base    string
	members []string
}{
	{"StartFlowCapture", startBody, startMembers},
	{"StartFlowFlush", startBody, startMembers},
	{"DescribeFlowOperation", `{"FirewallArn":` + jq(api.DefaultFirewallArn) + `,"FlowOperationId":"` + goodOpID + `",` + scopeJSON + `}`,
		append([]string{"FirewallArn", "FlowOperationId"}, scopeOnly...)},
	{"ListFlowOperations", `{"FirewallArn":` + jq(api.DefaultFirewallArn) + `,"FlowOperationType":"FLOW_CAPTURE","MaxResults":10,` + scopeJSON + `}`,
		append([]string{"FirewallArn", "FlowOperationType", "MaxResults", "NextToken"}, scopeOnly...)},
	{"ListFlowOperationResults", `{"FirewallArn":` + jq(api.DefaultFirewallArn) + `,"FlowOperationId":"` + goodOpID + `","MaxResults":10,` + scopeJSON + `}`,
		append([]string{"FirewallArn", "FlowOperationId", "MaxResults", "NextToken"}, scopeOnly...)},
}

var (
	scopeJSON = `"AvailabilityZone":"` + testAZ + `","VpcEndpointId":"` + testVpce + `","VpcEndpointAssociationArn":` + jq(assocArn)
	startBody = `{"FirewallArn":` + jq(api.DefaultFirewallArn) + `,"MinimumFlowAgeInSeconds":60,` + scopeJSON + `,"FlowFilters":[{` +
		`"SourceAddress":{"AddressDefinition":"10.0.0.0/8"},"DestinationAddress":{"AddressDefinition":"192.0.2.1/32"},` +
		`"SourcePort":"ANY","DestinationPort":"1990:1994","Protocols":["6","17"]}]}`
	startMembers = append([]string{"FirewallArn", "MinimumFlowAgeInSeconds", "FlowFilters", "FlowFilters[0]",
		"FlowFilters[0].SourceAddress", "FlowFilters[0].DestinationAddress",
		"FlowFilters[0].SourceAddress.AddressDefinition", "FlowFilters[0].DestinationAddress.AddressDefinition",
		"FlowFilters[0].SourcePort", "FlowFilters[0].DestinationPort", "FlowFilters[0].Protocols", "FlowFilters[0].Protocols[0]"}, scopeOnly...)
)

// setJSON returns body with the member at path (A.B, A[0].B) replaced by
// raw, or removed when del.
func setJSON(t *testing.T, body, path, raw string, del bool) []byte {
	t.Helper()
	var root any
	if err := json.Unmarshal([]byte(body), &root); err != nil {
		t.Fatal(err)
	}
	var val any = json.RawMessage(raw)
	var walk func(v any, segs []string) any
	walk = func(v any, segs []string) any {
		seg := segs[0]
		idx := -1
		if i := strings.IndexByte(seg, '['); i >= 0 {
			idx, _ = strconv.Atoi(strings.TrimSuffix(seg[i+1:], "]"))
			seg = seg[:i]
		}
		m := v.(map[string]any)
		last := len(segs) == 1
		if idx < 0 {
			switch {
			case last && del:
				delete(m, seg)
			case last:
				m[seg] = val
			default:
				m[seg] = walk(m[seg], segs[1:])
			}
			return m
		}
		a := m[seg].([]any)
		if last {
			a[idx] = val
		} else {
			a[idx] = walk(a[idx], segs[1:])
		}
		m[seg] = a
		return m
	}
	b, err := json.Marshal(walk(root, strings.Split(path, ".")))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// viaSDK sends body with an official client call when the body decodes
// into the SDK's input type; ok is false when the SDK cannot carry it.
func viaSDK[I, O any](call func(context.Context, *I, ...func(*nfw.Options)) (*O, error), ctx context.Context, body []byte) (err error, ok bool) {
	var in I
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if dec.Decode(&in) != nil {
		return nil, false
	}
	_, err = call(ctx, &in)
	return err, true
}

func sdkCall(c *nfw.Client, op string, ctx context.Context, body []byte) (error, bool) {
	switch op {
	case "StartFlowCapture":
		return viaSDK(c.StartFlowCapture, ctx, body)
	case "StartFlowFlush":
		return viaSDK(c.StartFlowFlush, ctx, body)
	case "DescribeFlowOperation":
		return viaSDK(c.DescribeFlowOperation, ctx, body)
	case "ListFlowOperations":
		return viaSDK(c.ListFlowOperations, ctx, body)
	case "ListFlowOperationResults":
		return viaSDK(c.ListFlowOperationResults, ctx, body)
	}
	return nil, false
}

// rawReq sends one request and returns the status, the error code (from
// X-Amzn-ErrorType and __type, or the EC2 envelope) and the message.
func rawReq(t *testing.T, method, u, target, ctype, body string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, "", string(b)
	}
	code, msg := decodeError(t, resp.Header, b)
	return resp.StatusCode, code, msg
}

// decodeError reads either error envelope, checking that the awsJson one
// agrees between header and body.
func decodeError(t *testing.T, h http.Header, b []byte) (string, string) {
	if strings.HasPrefix(strings.TrimSpace(string(b)), "<") {
		var env struct {
			Errors []struct {
				Code    string `xml:"Error>Code"`
				Message string `xml:"Error>Message"`
			} `xml:"Errors"`
			RequestID string `xml:"RequestID"`
		}
		if err := xml.Unmarshal(b, &env); err != nil || len(env.Errors) != 1 || env.RequestID == "" {
			t.Errorf("EC2 error envelope %q: %v", b, err)
			return "", string(b)
		}
		return env.Errors[0].Code, env.Errors[0].Message
	}
	var j struct {
		Type    string `json:"__type"`
		Message string
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return "", string(b)
	}
	if h.Get("X-Amzn-ErrorType") != j.Type {
		t.Errorf("X-Amzn-ErrorType %q but __type %q", h.Get("X-Amzn-ErrorType"), j.Type)
	}
	return j.Type, j.Message
}

// matrixCase is one generated case.
type matrixCase struct {
	name   string
	kind   string
	send   func(t *testing.T) (via string, status int, code, msg string)
	code   string
	status int
	names  []string // the message must contain one of these
}

func checkCase(t *testing.T, c matrixCase) string {
	t.Helper()
	via, status, code, msg := c.send(t)
	if status != c.status || code != c.code {
		t.Errorf("%s (%s): HTTP %d %s, want %d %s; message %q", c.name, via, status, code, c.status, c.code, msg)
	}
	named := false
	for _, n := range c.names {
		named = named || strings.Contains(msg, n)
	}
	if !named {
		t.Errorf("%s (%s): message %q names none of %q", c.name, via, msg, c.names)
	}
	return via
}

func TestBadInputNetworkFirewall(t *testing.T) {
	u, _, _ := ec2Server(t, "")
	client := newClient(u, 1)
	var cases []matrixCase
	for _, o := range jsonOps {
		// The base body gets past every syntax check.
		if status, code, msg := rawReq(t, "POST", u+"/", "NetworkFirewall_20201112."+o.op, contentTypeJSON, o.base); code == api.InvalidRequest {
			t.Fatalf("%s: base body refused: %d %s", o.op, status, msg)
		}
		for _, member := range o.members {
			for _, b := range jsonMembers[member] {
				o, member, b := o, member, b
				drop := strings.HasPrefix(b.kind, kMissing) && b.raw == ""
				// The SDK checks required members itself and leaves out
				// an empty enum, so those go raw.
				sdkOK := !strings.HasPrefix(b.kind, kMissing) && b.kind != kWrongType && !(member == "FlowOperationType" && b.raw == `""`)
				body := setJSON(t, o.base, member, b.raw, drop)
				names := []string{member}
				if strings.HasSuffix(b.kind, "AddressDefinition") {
					names = []string{member + ".AddressDefinition"}
				}
				if member == "FlowFilters[0].Protocols" && b.raw == `{}` {
					names = []string{member}
				}
				cases = append(cases, matrixCase{
					name: fmt.Sprintf("%s %s %s %.40s", o.op, member, b.kind, b.raw), kind: b.kind,
					code: api.InvalidRequest, status: 400, names: names,
					send: func(t *testing.T) (string, int, string, string) {
						if sdkOK {
							if err, ok := sdkCall(client, o.op, ctx(t), body); ok {
								code, msg, status := ec2Err(err)
								return "sdk", status, code, msg
							}
						}
						s, c, m := rawReq(t, "POST", u+"/", "NetworkFirewall_20201112."+o.op, contentTypeJSON, string(body))
						return "raw", s, c, m
					},
				})
			}
		}
		// Well-formed, but another firewall: not found, after the syntax.
		other := setJSON(t, o.base, "FirewallArn", jq("arn:aws:network-firewall:us-east-1:123456789012:firewall/other"), false)
		cases = append(cases, matrixCase{name: o.op + " FirewallArn of another firewall", kind: "unknown resource",
			code: api.ResourceNotFound, status: 400, names: []string{"FirewallArn"},
			send: func(t *testing.T) (string, int, string, string) {
				err, _ := sdkCall(client, o.op, ctx(t), other)
				code, msg, status := ec2Err(err)
				return "sdk", status, code, msg
			}})
		// Bodies that are not a JSON object.
		for _, body := range []string{`{`, `[]`, `"x"`, `null`, `42`, `{"FirewallArn":}`, `{"FirewallArn":"a",}`, `{} {}`, `{}x`,
			"{\"FirewallArn\":\"\xff\"}", `{"FirewallArn":"\ud800"}` + "\x00", strings.Repeat("[", 20000), "{" + strings.Repeat(`"a":{`, 11000) + "}"} {
			body := body
			cases = append(cases, matrixCase{name: fmt.Sprintf("%s malformed body %.30q", o.op, body), kind: "malformed JSON",
				code: api.InvalidRequest, status: 400, names: []string{"request body"},
				send: func(t *testing.T) (string, int, string, string) {
					s, c, m := rawReq(t, "POST", u+"/", "NetworkFirewall_20201112."+o.op, contentTypeJSON, body)
					return "raw", s, c, m
				}})
		}
		cases = append(cases, matrixCase{name: o.op + " body over the limit", kind: "malformed JSON",
			code: api.InvalidRequest, status: 400, names: []string{"request body"},
			send: func(t *testing.T) (string, int, string, string) {
				s, c, m := rawReq(t, "POST", u+"/", "NetworkFirewall_20201112."+o.op, contentTypeJSON,
					`{"FirewallArn":"`+strings.Repeat("a", api.DefaultMaxBodyBytes)+`"}`)
				return "raw", s, c, m
			}})
	}
	// Targets this flowd does not serve.
	for _, target := range []string{"NetworkFirewall_20201112.DeleteFirewall", "NetworkFirewall_20201112.startflowcapture",
		"NetworkFirewall_20201112.", "StartFlowCapture", "NetworkFirewall_20201111.StartFlowCapture", "AmazonEC2.CreateFlowLogs",
		"NetworkFirewall_20201112.Start FlowCapture", "NetworkFirewall_20201112.StartFlowCapture\u00a0"} {
		target := target
		cases = append(cases, matrixCase{name: fmt.Sprintf("unknown target %q", target), kind: "unknown target",
			code: api.UnknownOperation, status: 400, names: []string{"X-Amz-Target"},
			send: func(t *testing.T) (string, int, string, string) {
				s, c, m := rawReq(t, "POST", u+"/", target, contentTypeJSON, startBody)
				return "raw", s, c, m
			}})
	}
	// No target and a content type that is not a form: neither protocol.
	for _, ct := range []string{"", contentTypeJSON, "application/json", "text/plain", "text/xml", "multipart/form-data; boundary=x"} {
		ct := ct
		cases = append(cases, matrixCase{name: fmt.Sprintf("no target, content type %q", ct), kind: "wrong content type",
			code: api.InvalidRequest, status: 400, names: []string{"X-Amz-Target"},
			send: func(t *testing.T) (string, int, string, string) {
				s, c, m := rawReq(t, "POST", u+"/", "", ct, startBody)
				return "raw", s, c, m
			}})
	}
	// Methods other than POST on /.
	for _, method := range []string{"GET", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		method := method
		cases = append(cases, matrixCase{name: method + " /", kind: "wrong method",
			code: api.InvalidRequest, status: 405, names: []string{method + " /"},
			send: func(t *testing.T) (string, int, string, string) {
				s, c, m := rawReq(t, method, u+"/", "NetworkFirewall_20201112.ListFlowOperations", contentTypeJSON, "{}")
				return "raw", s, c, m
			}})
	}
	// Paths other than /.
	for _, path := range []string{"/x", "/status/", "/x/", "/..%2f", "/NetworkFirewall_20201112.StartFlowCapture", "/%2F"} {
		path := path
		cases = append(cases, matrixCase{name: "POST " + path, kind: "wrong path",
			code: api.UnknownOperation, status: 404, names: []string{"no such path"},
			send: func(t *testing.T) (string, int, string, string) {
				s, c, m := rawReq(t, "POST", u+path, "NetworkFirewall_20201112.StartFlowCapture", contentTypeJSON, startBody)
				return "raw", s, c, m
			}})
	}
	runMatrix(t, "awsJson", cases)
}

const contentTypeJSON = "application/x-amz-json-1.0"

// runMatrix runs the cases and logs their counts by kind and by route.
func runMatrix(t *testing.T, api string, cases []matrixCase) {
	byKind, byVia := map[string]int{}, map[string]int{}
	for _, c := range cases {
		byKind[c.kind]++
		byVia[checkCase(t, c)]++
	}
	var kinds []string
	for k, n := range byKind {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(kinds)
	t.Logf("%s bad-input matrix: %d cases (%d via the SDK, %d raw): %s", api, len(cases), byVia["sdk"], byVia["raw"], strings.Join(kinds, ", "))
}

// EC2: form members of each action and their spoiled values. A value of
// "\x00del" removes the member.
const del = "\x00del"

type formBad struct {
	kind  string
	key   string // the member set (often the member spoiled)
	value string
	code  string
	names []string // "" means key
}

func fb(kind, key, value, code string, names ...string) formBad {
	return formBad{kind, key, value, code, names}
}

const (
	cMissing = "MissingParameter"
	cInvalid = "InvalidParameter"
	cValue   = "InvalidParameterValue"
	cCombo   = "InvalidParameterCombination"
	cUnknown = "UnknownParameter"
)

var ec2Actions = []struct {
	action string
	base   url.Values
	bads   []formBad
}{
	{"CreateFlowLogs", url.Values{"ResourceType": {"NetworkInterface"}, "ResourceId.1": {"eth0"}, "TrafficType": {"ALL"},
		"LogDestinationType": {"s3"}, "LogDestination": {flBucket}, "MaxAggregationInterval": {"60"},
		"TagSpecification.1.ResourceType": {"vpc-flow-log"}, "TagSpecification.1.Tag.1.Key": {"team"}, "TagSpecification.1.Tag.1.Value": {"net"}}, []formBad{
		fb(kMissing, "ResourceType", del, cMissing),
		fb(kEmpty, "ResourceType", "", cMissing),
		fb(kPattern, "ResourceType", "Instance", cValue),
		fb(kPattern, "ResourceType", "networkinterface", cValue),
		fb(kMissing, "ResourceId.1", del, cMissing, "ResourceId"),
		fb(kEmpty, "ResourceId.1", "", cValue, "ResourceId"),
		fb(kPattern, "ResourceId.0", "eth0", cUnknown),
		fb(kPattern, "ResourceId.x", "eth0", cUnknown),
		fb(kPattern, "ResourceId.01", "eth0", cUnknown),
		fb(kRange, "ResourceId.301", "many", cValue, "ResourceId"), // with 1..300 set below
		fb(kEmpty, "TrafficType", "", cMissing),
		fb(kMissing, "TrafficType", del, cMissing),
		fb(kPattern, "TrafficType", "all", cValue),
		fb(kPattern, "TrafficType", "DENY", cValue),
		fb(kEmpty, "LogDestinationType", "", cValue, "LogDestination"), // empty is the default, cloud-watch-logs
		fb(kPattern, "LogDestinationType", "S3", cValue),
		fb(kPattern, "LogDestinationType", "kinesis", cValue),
		fb(kEmpty, "LogDestination", "", cInvalid),
		fb(kPattern, "LogDestination", "s3://flow-bucket/prefix/", cValue),
		fb(kPattern, "LogDestination", "arn:aws:s3:::flow-bucket/AWSLogs/", cValue),
		fb(kLong, "LogDestination", "arn:aws:s3:::"+strings.Repeat("b", 2000), cValue),
		fb(kPattern, "LogGroupName", "/vpc/flows", cInvalid),
		fb(kPattern, "DeliverLogsPermissionArn", "role/flow-logs", cValue),
		fb(kPattern, "DeliverCrossAccountRole", "role/x", cValue),
		fb(kEmpty, "LogFormat", "", cValue),
		fb(kPattern, "LogFormat", "${nope}", cValue),
		fb(kPattern, "LogFormat", "srcaddr dstaddr", cValue),
		fb(kPattern, "LogFormat", "${srcaddr", cValue),
		fb(kLong, "LogFormat", strings.Repeat("${srcaddr} ", 1000), cValue),
		fb(kLong, "ClientToken", strings.Repeat("t", 65), cValue),
		fb(kPattern, "ClientToken", "tok\x01en", cValue),
		fb(kPattern, "ClientToken", "t\u00e9", cValue),
		fb(kWrongType, "MaxAggregationInterval", "ten", cValue),
		fb(kWrongType, "MaxAggregationInterval", "60.0", cValue),
		fb(kEmpty, "MaxAggregationInterval", "", cValue),
		fb(kRange, "MaxAggregationInterval", "0", cInvalid),
		fb(kRange, "MaxAggregationInterval", "61", cInvalid),
		fb(kRange, "MaxAggregationInterval", "-60", cInvalid),
		fb(kRange, "MaxAggregationInterval", "99999999999", cValue),
		fb(kPattern, "DestinationOptions.FileFormat", "csv", cValue),
		fb(kWrongType, "DestinationOptions.HiveCompatiblePartitions", "yes", cValue),
		fb(kWrongType, "DestinationOptions.PerHourPartition", "1", cValue),
		fb(kPattern, "DestinationOptions.Bogus", "x", cUnknown),
		fb(kPattern, "TagSpecification.1.ResourceType", "instance", cValue),
		fb(kPattern, "TagSpecification.1.Tag.1.Key", "aws:owner", cValue, "Key"),
		fb(kEmpty, "TagSpecification.1.Tag.1.Key", "", cValue, "Key"),
		fb(kLong, "TagSpecification.1.Tag.1.Key", strings.Repeat("k", 128), cValue, "Key"),
		fb(kLong, "TagSpecification.1.Tag.1.Value", strings.Repeat("v", 257), cValue, "Value"),
		fb(kPattern, "TagSpecification.1.Tag.x.Key", "k", cUnknown),
		fb(kPattern, "TagSpecification.1.Tag.1.Name", "k", cUnknown),
		fb(kMissing, "TagSpecification.1.ResourceType", del, cMissing),
		fb(kWrongType, "DryRun", "yes", cValue),
		fb(kEmpty, "DryRun", "", cValue),
		fb(kMissing, "Version", del, cMissing),
		fb(kPattern, "Version", "2016-11-14", cValue),
		fb(kPattern, "TagFieldSpecification.1.ResourceType", "instance", cValue),
		fb(kPattern, "Bogus", "x", cUnknown),
		fb(kPattern, "resourcetype", "VPC", cUnknown),
	}},
	{"DescribeFlowLogs", url.Values{"MaxResults": {"5"}}, []formBad{
		fb(kWrongType, "MaxResults", "five", cValue),
		fb(kEmpty, "MaxResults", "", cValue),
		fb(kRange, "MaxResults", "0", cValue),
		fb(kRange, "MaxResults", "1001", cValue),
		fb(kRange, "MaxResults", "-1", cValue),
		fb(kRange, "MaxResults", "4294967296", cValue),
		fb(kPattern, "NextToken", "garbage", "InvalidPaginationToken"),
		fb(kLong, "NextToken", strings.Repeat("A", 5000), "InvalidPaginationToken"),
		fb(kPattern, "Filter.1.Name", "bogus-filter", cValue, "bogus-filter"),
		fb(kPattern, "FlowLogId.0", "fl-0123456789abcdef0", cUnknown, "FlowLogId.0"),
		fb(kPattern, "FlowLogId.-1", "fl-0123456789abcdef0", cUnknown, "FlowLogId.-1"),
		fb(kMissing, "Filter.1.Value.1", "ALL", cMissing, "Filter.1.Name"),
		fb(kPattern, "Filter.1.Bogus", "x", cUnknown),
		fb(kPattern, "Filter.x.Name", "traffic-type", cUnknown),
		fb(kWrongType, "DryRun", "1", cValue),
		fb(kPattern, "Bogus", "x", cUnknown),
		fb(kPattern, "Version", "2015-01-01", cValue),
	}},
	{"DeleteFlowLogs", url.Values{"FlowLogId.1": {"fl-0123456789abcdef0"}}, []formBad{
		fb(kMissing, "FlowLogId.1", del, cMissing, "FlowLogId"),
		fb(kPattern, "FlowLogId.0", "fl-0123456789abcdef0", cUnknown),
		fb(kPattern, "FlowLogId.1.x", "fl-0123456789abcdef0", cUnknown),
		fb(kPattern, "FlowLogIds.1", "fl-0123456789abcdef0", cUnknown),
		fb(kRange, "FlowLogId.1001", "fl-0", cValue, "FlowLogId"), // with 1..1000 set below
		fb(kWrongType, "DryRun", "TRUE", cValue),
		fb(kPattern, "Bogus", "x", cUnknown),
	}},
}

func TestBadInputEC2(t *testing.T) {
	u, client, _ := ec2Server(t, "")
	formCT := "application/x-www-form-urlencoded; charset=utf-8"
	var cases []matrixCase
	for _, a := range ec2Actions {
		base := url.Values{"Action": {a.action}, "Version": {api.EC2Version}}
		for k, v := range a.base {
			base[k] = v
		}
		// The base form is valid: with DryRun it would have succeeded.
		dry := url.Values{"DryRun": {"true"}}
		for k, v := range base {
			dry[k] = v
		}
		if s, code, msg := rawReq(t, "POST", u+"/", "", formCT, dry.Encode()); s != 412 || code != "DryRunOperation" {
			t.Fatalf("%s: base form refused: %d %s %s", a.action, s, code, msg)
		}
		for _, b := range a.bads {
			a, b := a, b
			f := url.Values{}
			for k, v := range base {
				f[k] = v
			}
			switch {
			case b.value == del:
				f.Del(b.key)
			case b.key == "ResourceId.301":
				for i := 1; i <= 301; i++ {
					f.Set("ResourceId."+strconv.Itoa(i), "eth0")
				}
			case b.key == "FlowLogId.1001":
				for i := 1; i <= 1001; i++ {
					f.Set("FlowLogId."+strconv.Itoa(i), fmt.Sprintf("fl-%017x", i))
				}
			default:
				f.Set(b.key, b.value)
			}
			names := b.names
			if len(names) == 0 {
				names = []string{b.key}
			}
			status := 400
			body := f.Encode()
			cases = append(cases, matrixCase{name: fmt.Sprintf("%s %s %s %.30q", a.action, b.key, b.kind, b.value), kind: b.kind,
				code: b.code, status: status, names: names,
				send: func(t *testing.T) (string, int, string, string) {
					s, c, m := rawReq(t, "POST", u+"/", "", formCT, body)
					return "raw", s, c, m
				}})
		}
		// A duplicated member.
		dup := base.Encode() + "&Version=" + api.EC2Version
		cases = append(cases, matrixCase{name: a.action + " duplicate Version", kind: "malformed form", code: cValue, status: 400, names: []string{"Version"},
			send: func(t *testing.T) (string, int, string, string) {
				s, c, m := rawReq(t, "POST", u+"/", "", formCT, dup)
				return "raw", s, c, m
			}})
	}
	// Bodies that are not forms, or name no action this flowd serves.
	for _, c := range []struct{ body, code, name string }{
		{"Action=CreateFlowLogs&Version=%zz", ec2MalformedQuery, "form"},
		{"%", ec2MalformedQuery, "form"},
		{"Action=CreateFlowLogs;Version=2016-11-15", ec2MalformedQuery, "form"},
		{`{"Action":"CreateFlowLogs"}`, "MissingAction", "Action"},
		{"", "MissingAction", "Action"},
		{"Version=2016-11-15", "MissingAction", "Action"},
		{"Action=&Version=2016-11-15", "MissingAction", "Action"},
		{"Action=RunInstances&Version=2016-11-15", "InvalidAction", "Action"},
		{"Action=createflowlogs&Version=2016-11-15", "InvalidAction", "Action"},
		{"Action=StartFlowCapture&Version=2016-11-15", "InvalidAction", "Action"},
		{"Action=CreateFlowLogs&Action=DeleteFlowLogs&Version=2016-11-15", cValue, "Action"},
	} {
		c := c
		cases = append(cases, matrixCase{name: fmt.Sprintf("form %.40q", c.body), kind: "malformed form", code: c.code, status: 400, names: []string{c.name},
			send: func(t *testing.T) (string, int, string, string) {
				s, code, m := rawReq(t, "POST", u+"/", "", formCT, c.body)
				return "raw", s, code, m
			}})
	}
	cases = append(cases, matrixCase{name: "form over the limit", kind: "malformed form", code: cValue, status: 400, names: []string{"request body"},
		send: func(t *testing.T) (string, int, string, string) {
			s, code, m := rawReq(t, "POST", u+"/", "", formCT, "Action=DescribeFlowLogs&Version=2016-11-15&X="+strings.Repeat("a", api.DefaultMaxBodyBytes))
			return "raw", s, code, m
		}})
	// A form under a content type that is not a form's: not ec2Query.
	for _, ct := range []string{"text/plain", "application/json", "application/xml"} {
		ct := ct
		cases = append(cases, matrixCase{name: "form as " + ct, kind: "wrong content type", code: api.InvalidRequest, status: 400, names: []string{"X-Amz-Target"},
			send: func(t *testing.T) (string, int, string, string) {
				s, code, m := rawReq(t, "POST", u+"/", "", ct, "Action=DescribeFlowLogs&Version=2016-11-15")
				return "raw", s, code, m
			}})
	}
	// Through the official EC2 client: the bad values it can carry.
	for _, c := range []struct {
		name, kind, code, member string
		call                     func(context.Context) error
	}{
		{"sdk ResourceType Instance", kPattern, cValue, "ResourceType", func(ctx context.Context) error {
			_, err := client.CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{ResourceType: "Instance", ResourceIds: []string{"eth0"}, TrafficType: ec2types.TrafficTypeAll,
				LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String(flBucket)})
			return err
		}},
		{"sdk TrafficType DENY", kPattern, cValue, "TrafficType", func(ctx context.Context) error {
			_, err := client.CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, ResourceIds: []string{"eth0"}, TrafficType: "DENY",
				LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String(flBucket)})
			return err
		}},
		{"sdk ResourceIds empty", kEmpty, cMissing, "ResourceId", func(ctx context.Context) error {
			_, err := client.CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, ResourceIds: []string{}, TrafficType: ec2types.TrafficTypeAll,
				LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String(flBucket)})
			return err
		}},
		{"sdk MaxAggregationInterval 61", kRange, cInvalid, "MaxAggregationInterval", func(ctx context.Context) error {
			_, err := client.CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, ResourceIds: []string{"eth0"}, TrafficType: ec2types.TrafficTypeAll,
				LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String(flBucket), MaxAggregationInterval: aws.Int32(61)})
			return err
		}},
		{"sdk LogFormat unknown field", kPattern, cValue, "LogFormat", func(ctx context.Context) error {
			_, err := client.CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, ResourceIds: []string{"eth0"}, TrafficType: ec2types.TrafficTypeAll,
				LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String(flBucket), LogFormat: aws.String("${nope}")})
			return err
		}},
		{"sdk FileFormat csv", kPattern, cValue, "FileFormat", func(ctx context.Context) error {
			_, err := client.CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{ResourceType: ec2types.FlowLogsResourceTypeNetworkInterface, ResourceIds: []string{"eth0"}, TrafficType: ec2types.TrafficTypeAll,
				LogDestinationType: ec2types.LogDestinationTypeS3, LogDestination: aws.String(flBucket), DestinationOptions: &ec2types.DestinationOptionsRequest{FileFormat: "csv"}})
			return err
		}},
		{"sdk Describe MaxResults 0", kRange, cValue, "MaxResults", func(ctx context.Context) error {
			_, err := client.DescribeFlowLogs(ctx, &ec2.DescribeFlowLogsInput{MaxResults: aws.Int32(0)})
			return err
		}},
		{"sdk Describe MaxResults 1001", kRange, cValue, "MaxResults", func(ctx context.Context) error {
			_, err := client.DescribeFlowLogs(ctx, &ec2.DescribeFlowLogsInput{MaxResults: aws.Int32(1001)})
			return err
		}},
		{"sdk Describe NextToken forged", kPattern, "InvalidPaginationToken", "NextToken", func(ctx context.Context) error {
			_, err := client.DescribeFlowLogs(ctx, &ec2.DescribeFlowLogsInput{NextToken: aws.String("forged")})
			return err
		}},
		{"sdk Delete 1001 ids", kRange, cValue, "FlowLogId", func(ctx context.Context) error {
			ids := make([]string, 1001)
			for i := range ids {
				ids[i] = fmt.Sprintf("fl-%017x", i)
			}
			_, err := client.DeleteFlowLogs(ctx, &ec2.DeleteFlowLogsInput{FlowLogIds: ids})
			return err
		}},
		{"sdk Delete no ids", kEmpty, cMissing, "FlowLogId", func(ctx context.Context) error {
			_, err := client.DeleteFlowLogs(ctx, &ec2.DeleteFlowLogsInput{FlowLogIds: []string{}})
			return err
		}},
	} {
		c := c
		cases = append(cases, matrixCase{name: c.name, kind: c.kind, code: c.code, status: 400, names: []string{c.member},
			send: func(t *testing.T) (string, int, string, string) {
				err := c.call(ctx(t))
				if err == nil {
					return "sdk", 200, "", ""
				}
				code, msg, status := ec2Err(err)
				return "sdk", status, code, msg
			}})
	}
	runMatrix(t, "ec2Query", cases)
}

const ec2MalformedQuery = "MalformedQueryString"
