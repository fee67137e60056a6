package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/filter"
)

// targetPrefix is the awsJson1_0 service prefix of X-Amz-Target.
const targetPrefix = "NetworkFirewall_20201112."

// The operations served.
var operations = []string{
	"StartFlowCapture", "StartFlowFlush", "DescribeFlowOperation",
	"ListFlowOperations", "ListFlowOperationResults",
}

// Page sizes (MaxResults).
const (
	defaultPage = 100
	maxPage     = 100
)

// awsJSON serves one awsJson1_0 request whose body has been read.
func (s *Server) awsJSON(w http.ResponseWriter, target string, body []byte) {
	op, ok := strings.CutPrefix(target, targetPrefix)
	if !ok || !containsString(operations, op) {
		// What AWS answers an operation it does not have; the SDKs
		// surface it as an API error with this code.
		s.request.WithLabelValues("unknown", UnknownOperation).Inc()
		writeError(w, 0, &Error{Type: UnknownOperation, Message: fmt.Sprintf("X-Amz-Target: %s is not an operation this flowd serves; it serves %s followed by one of %s",
			quote(target), targetPrefix, strings.Join(operations, ", "))})
		return
	}
	resp, e := s.Call(op, body)
	outcome := "OK"
	if e != nil {
		outcome = e.Type
	}
	s.request.WithLabelValues(op, outcome).Inc()
	if e != nil {
		writeError(w, 0, e)
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		writeError(w, 0, &Error{Type: InternalError, Message: "encoding the response: " + err.Error()})
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Write(b)
}

// Call runs operation op (StartFlowCapture, ...) on a request body and
// returns the response value to encode as JSON, or the API error. It is
// what the HTTP handler does after routing, exposed for fuzzing and tests.
func (s *Server) Call(op string, body []byte) (any, *Error) {
	in, e := parseBody(body)
	if e != nil {
		return nil, e
	}
	switch op {
	case "StartFlowCapture":
		return s.start(in, engine.OpCapture)
	case "StartFlowFlush":
		return s.start(in, engine.OpFlush)
	case "DescribeFlowOperation":
		return s.describe(in)
	case "ListFlowOperations":
		return s.listOps(in)
	case "ListFlowOperationResults":
		return s.listResults(in)
	}
	return nil, errInvalid("X-Amz-Target: %s%s is not an operation of this service", targetPrefix, quote(op))
}

// Member checks. Each returns "" or the rule broken, worded after the
// value.

func checkArn(s string) string {
	if len(s) < 1 || len(s) > 256 || !strings.HasPrefix(s, "arn:aws") {
		return quote(s) + " is not an ARN: want 1 to 256 characters matching ^arn:aws.*"
	}
	return ""
}

func checkVpce(s string) string {
	ok := len(s) >= 5 && len(s) <= 256 && strings.HasPrefix(s, "vpce-")
	for i := 5; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	if !ok {
		return quote(s) + " is not a VPC endpoint id: want 5 to 256 characters matching ^vpce-[a-zA-Z0-9]*$"
	}
	return ""
}

// checkOpID checks a FlowOperationId: a lowercase UUID.
func checkOpID(s string) string {
	ok := len(s) == 36
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			ok = c == '-'
		} else {
			ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
		}
	}
	if !ok {
		return quote(s) + " is not a flow operation id: want 36 characters matching ^([0-9a-f]{8})-([0-9a-f]{4}-){3}([0-9a-f]{12})$ (a lowercase UUID)"
	}
	return ""
}

func checkToken(s string) string {
	ok := len(s) >= 1 && len(s) <= 4096
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == ':' || c == '/' || c == '+' || c == '='
	}
	if !ok {
		return quote(s) + " is not a pagination token: want 1 to 4096 characters matching [0-9A-Za-z:/+=]+"
	}
	return ""
}

// firewall reads and checks FirewallArn: required, an ARN, and ours.
func (s *Server) firewall(in object) *Error {
	arn, e := in.str("FirewallArn")
	if e != nil {
		return e
	}
	if arn == nil {
		return missing("FirewallArn")
	}
	if msg := checkArn(*arn); msg != "" {
		return errInvalid("FirewallArn: %s", msg)
	}
	return nil
}

// ours answers ResourceNotFoundException for another firewall; it runs
// after every syntax check of the request.
func (s *Server) ours(in object) *Error {
	arn, _ := in.str("FirewallArn")
	if *arn != s.cfg.FirewallArn {
		return errNotFound("FirewallArn: firewall %s not found; this endpoint serves %s", quote(*arn), s.cfg.FirewallArn)
	}
	return nil
}

// scope reads AvailabilityZone, VpcEndpointId and VpcEndpointAssociationArn.
func scope(in object) (engine.Scope, *Error) {
	var sc engine.Scope
	az, e := in.str("AvailabilityZone")
	if e != nil {
		return sc, e
	}
	if az != nil {
		if *az == "" || len(*az) > 256 {
			return sc, errInvalid("AvailabilityZone: %s is not an Availability Zone name: want 1 to 256 characters", quote(*az))
		}
		sc.AvailabilityZone = *az
	}
	vpce, e := in.str("VpcEndpointId")
	if e != nil {
		return sc, e
	}
	if vpce != nil {
		if msg := checkVpce(*vpce); msg != "" {
			return sc, errInvalid("VpcEndpointId: %s", msg)
		}
		sc.VpcEndpointID = *vpce
	}
	assoc, e := in.str("VpcEndpointAssociationArn")
	if e != nil {
		return sc, e
	}
	if assoc != nil {
		if msg := checkArn(*assoc); msg != "" {
			return sc, errInvalid("VpcEndpointAssociationArn: %s", msg)
		}
		sc.VpcEndpointAssociationArn = *assoc
	}
	return sc, nil
}

func opID(in object) (string, *Error) {
	id, e := in.str("FlowOperationId")
	if e != nil {
		return "", e
	}
	if id == nil {
		return "", missing("FlowOperationId")
	}
	if msg := checkOpID(*id); msg != "" {
		return "", errInvalid("FlowOperationId: %s", msg)
	}
	return *id, nil
}

// page reads MaxResults and NextToken (its syntax; its meaning is checked
// by the caller).
func page(in object) (int, string, *Error) {
	n, e := in.integer("MaxResults", 1, maxPage)
	if e != nil {
		return 0, "", e
	}
	size := defaultPage
	if n != nil {
		size = int(*n)
	}
	tok, e := in.str("NextToken")
	if e != nil {
		return 0, "", e
	}
	if tok == nil {
		return size, "", nil
	}
	if msg := checkToken(*tok); msg != "" {
		return 0, "", errInvalid("NextToken: %s", msg)
	}
	return size, *tok, nil
}

// filters reads FlowFilters and MinimumFlowAgeInSeconds and compiles them.
func filters(in object) (*filter.Set, *Error) {
	raw, ok, e := in.array("FlowFilters")
	if e != nil {
		return nil, e
	}
	if !ok {
		return nil, missing("FlowFilters")
	}
	var minAge int64
	if n, e := in.integer("MinimumFlowAgeInSeconds", 0, 1<<31-1); e != nil {
		return nil, e
	} else if n != nil {
		minAge = *n
	}
	if len(raw) > filter.MaxFilters {
		// Before decoding them: a request with a million filters costs no
		// more than the body limit allows.
		return nil, errInvalid("FlowFilters: %d filters given, at most %d are allowed", len(raw), filter.MaxFilters)
	}
	fs := make([]filter.Filter, len(raw))
	for i, v := range raw {
		path := "FlowFilters[" + strconv.Itoa(i) + "]"
		if isNull(v) || v[0] != '{' {
			return nil, errInvalid("%s: expected an object, got %s", path, kind(v))
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, errInvalid("%s: %s", path, jsonProblem(err))
		}
		if e := flowFilter(object{path: path + ".", m: m}, &fs[i]); e != nil {
			return nil, e
		}
	}
	set, err := filter.Compile(fs, minAge)
	if err != nil {
		return nil, errInvalid("%s", err.Error())
	}
	return set, nil
}

func flowFilter(o object, f *filter.Filter) *Error {
	for _, a := range []struct {
		name string
		dst  **string
	}{{"SourceAddress", &f.SourceAddress}, {"DestinationAddress", &f.DestinationAddress}} {
		addr, ok, e := o.obj(a.name)
		if e != nil {
			return e
		}
		if !ok {
			continue
		}
		def, e := addr.str("AddressDefinition")
		if e != nil {
			return e
		}
		if def == nil {
			return missing(o.path + a.name + ".AddressDefinition")
		}
		*a.dst = def
	}
	var e *Error
	if f.SourcePort, e = o.str("SourcePort"); e != nil {
		return e
	}
	if f.DestinationPort, e = o.str("DestinationPort"); e != nil {
		return e
	}
	protos, ok, e := o.array("Protocols")
	if e != nil {
		return e
	}
	if ok {
		f.Protocols = make([]string, 0, len(protos))
		for j, v := range protos {
			name := "Protocols[" + strconv.Itoa(j) + "]"
			if isNull(v) || v[0] != '"' {
				return errInvalid("%s%s: expected a string, got %s", o.path, name, kind(v))
			}
			var p string
			if err := json.Unmarshal(v, &p); err != nil {
				return errInvalid("%s%s: %s", o.path, name, jsonProblem(err))
			}
			f.Protocols = append(f.Protocols, p)
		}
	}
	return nil
}

// Responses. Members follow the AWS shapes; absent ones are omitted.

type address struct {
	AddressDefinition string
}

type flowFilterJSON struct {
	SourceAddress      *address `json:",omitempty"`
	DestinationAddress *address `json:",omitempty"`
	SourcePort         *string  `json:",omitempty"`
	DestinationPort    *string  `json:",omitempty"`
	Protocols          []string `json:",omitempty"`
}

type flowJSON struct {
	SourceAddress      address
	DestinationAddress address
	SourcePort         string
	DestinationPort    string
	Protocol           string
	Age                int32
	PacketCount        int32
	ByteCount          int64
}

type startOutput struct {
	FirewallArn         string
	FlowOperationId     string
	FlowOperationStatus engine.OpStatus
}

type flowOperationJSON struct {
	MinimumFlowAgeInSeconds int64
	FlowFilters             []flowFilterJSON
}

type describeOutput struct {
	FirewallArn               string
	AvailabilityZone          string `json:",omitempty"`
	VpcEndpointAssociationArn string `json:",omitempty"`
	VpcEndpointId             string `json:",omitempty"`
	FlowOperationId           string
	FlowOperationType         engine.OpType
	FlowOperationStatus       engine.OpStatus
	StatusMessage             string `json:",omitempty"`
	FlowRequestTimestamp      json.Number
	FlowOperation             flowOperationJSON
}

type opMetadata struct {
	FlowOperationId      string
	FlowOperationType    engine.OpType
	FlowRequestTimestamp json.Number
	FlowOperationStatus  engine.OpStatus
}

type listOpsOutput struct {
	FlowOperations []opMetadata
	NextToken      string `json:",omitempty"`
}

type listResultsOutput struct {
	FirewallArn               string
	AvailabilityZone          string `json:",omitempty"`
	VpcEndpointAssociationArn string `json:",omitempty"`
	VpcEndpointId             string `json:",omitempty"`
	FlowOperationId           string
	FlowOperationStatus       engine.OpStatus
	StatusMessage             string `json:",omitempty"`
	FlowRequestTimestamp      json.Number
	Flows                     []flowJSON
	NextToken                 string `json:",omitempty"`
}

// epochSeconds writes a time as the JSON number of seconds since the epoch
// with milliseconds, as awsJson1_0 timestamps are.
func epochSeconds(t time.Time) json.Number {
	ms := t.UnixMilli()
	if ms < 0 {
		return json.Number(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64))
	}
	sec, frac := ms/1000, ms%1000
	if frac == 0 {
		return json.Number(strconv.FormatInt(sec, 10))
	}
	return json.Number(fmt.Sprintf("%d.%03d", sec, frac))
}

// The operations.

func (s *Server) start(in object, typ engine.OpType) (any, *Error) {
	if e := s.firewall(in); e != nil {
		return nil, e
	}
	sc, e := scope(in)
	if e != nil {
		return nil, e
	}
	set, e := filters(in)
	if e != nil {
		return nil, e
	}
	if e := s.ours(in); e != nil {
		return nil, e
	}
	op, err := s.cfg.Backend.Start(engine.OpRequest{Type: typ, Scope: sc, Filters: set})
	if err != nil {
		return nil, s.backendError(err, "")
	}
	return startOutput{FirewallArn: s.cfg.FirewallArn, FlowOperationId: op.ID, FlowOperationStatus: op.Status}, nil
}

// backendError maps an engine error to the API's.
func (s *Server) backendError(err error, id string) *Error {
	var se *engine.ScopeError
	switch {
	case errors.As(err, &se):
		return errInvalid("%s", se.Error())
	case errors.Is(err, engine.ErrThrottled):
		return &Error{Type: Throttling, Message: err.Error()}
	case errors.Is(err, engine.ErrResultsReleased):
		return errNotFound("FlowOperationId: %s", err.Error())
	case errors.Is(err, engine.ErrOpNotFound):
		keep := ""
		if s.cfg.Retention > 0 {
			keep = " (operations are kept for " + s.cfg.Retention.String() + ")"
		}
		return errNotFound("FlowOperationId: flow operation %s not found in firewall %s in the scope given%s", quote(id), s.cfg.FirewallArn, keep)
	}
	return &Error{Type: InternalError, Message: err.Error()}
}

func (s *Server) lookup(in object) (engine.Op, *Error) {
	if e := s.firewall(in); e != nil {
		return engine.Op{}, e
	}
	id, e := opID(in)
	if e != nil {
		return engine.Op{}, e
	}
	sc, e := scope(in)
	if e != nil {
		return engine.Op{}, e
	}
	return engine.Op{ID: id, Scope: sc}, nil
}

func (s *Server) describe(in object) (any, *Error) {
	req, e := s.lookup(in)
	if e != nil {
		return nil, e
	}
	if e := s.ours(in); e != nil {
		return nil, e
	}
	op, err := s.cfg.Backend.Op(req.ID, req.Scope)
	if err != nil {
		return nil, s.backendError(err, req.ID)
	}
	out := describeOutput{
		FirewallArn:               s.cfg.FirewallArn,
		AvailabilityZone:          op.Scope.AvailabilityZone,
		VpcEndpointAssociationArn: op.Scope.VpcEndpointAssociationArn,
		VpcEndpointId:             op.Scope.VpcEndpointID,
		FlowOperationId:           op.ID,
		FlowOperationType:         op.Type,
		FlowOperationStatus:       op.Status,
		StatusMessage:             op.StatusMessage,
		FlowRequestTimestamp:      epochSeconds(op.Requested),
		FlowOperation:             flowOperationJSON{MinimumFlowAgeInSeconds: op.MinAgeSeconds, FlowFilters: []flowFilterJSON{}},
	}
	for _, f := range op.Filters {
		j := flowFilterJSON{SourcePort: f.SourcePort, DestinationPort: f.DestinationPort, Protocols: f.Protocols}
		if f.SourceAddress != nil {
			j.SourceAddress = &address{*f.SourceAddress}
		}
		if f.DestinationAddress != nil {
			j.DestinationAddress = &address{*f.DestinationAddress}
		}
		out.FlowOperation.FlowFilters = append(out.FlowOperation.FlowFilters, j)
	}
	return out, nil
}

func (s *Server) listOps(in object) (any, *Error) {
	if e := s.firewall(in); e != nil {
		return nil, e
	}
	sc, e := scope(in)
	if e != nil {
		return nil, e
	}
	var typ engine.OpType
	t, e := in.str("FlowOperationType")
	if e != nil {
		return nil, e
	}
	if t != nil {
		typ = engine.OpType(*t)
		if typ != engine.OpCapture && typ != engine.OpFlush {
			return nil, errInvalid("FlowOperationType: %s is not a flow operation type: want FLOW_CAPTURE or FLOW_FLUSH", quote(*t))
		}
	}
	size, tok, e := page(in)
	if e != nil {
		return nil, e
	}
	digest := listDigest(typ, sc)
	var after string
	if tok != "" {
		var ok bool
		if after, ok = s.tokens.openList(tok, digest); !ok {
			return nil, badToken(tok)
		}
	}
	if e := s.ours(in); e != nil {
		return nil, e
	}
	ops, err := s.cfg.Backend.List(engine.ListRequest{Type: typ, Scope: sc})
	if err != nil {
		return nil, s.backendError(err, "")
	}
	start := 0
	if after != "" {
		start = -1
		for i := range ops {
			if ops[i].ID == after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return nil, errInvalid("NextToken: the token has expired: the operation it continues after is no longer kept")
		}
	}
	out := listOpsOutput{FlowOperations: []opMetadata{}}
	end := min(start+size, len(ops))
	for _, op := range ops[start:end] {
		out.FlowOperations = append(out.FlowOperations, opMetadata{
			FlowOperationId:      op.ID,
			FlowOperationType:    op.Type,
			FlowRequestTimestamp: epochSeconds(op.Requested),
			FlowOperationStatus:  op.Status,
		})
	}
	if end < len(ops) {
		out.NextToken = s.tokens.sealList(digest, ops[end-1].ID)
	}
	return out, nil
}

func (s *Server) listResults(in object) (any, *Error) {
	req, e := s.lookup(in)
	if e != nil {
		return nil, e
	}
	size, tok, e := page(in)
	if e != nil {
		return nil, e
	}
	offset := 0
	if tok != "" {
		var ok bool
		if offset, ok = s.tokens.openResults(tok, req.ID); !ok {
			return nil, badToken(tok)
		}
	}
	if e := s.ours(in); e != nil {
		return nil, e
	}
	op, err := s.cfg.Backend.Op(req.ID, req.Scope)
	if err != nil {
		return nil, s.backendError(err, req.ID)
	}
	out := listResultsOutput{
		FirewallArn:               s.cfg.FirewallArn,
		AvailabilityZone:          op.Scope.AvailabilityZone,
		VpcEndpointAssociationArn: op.Scope.VpcEndpointAssociationArn,
		VpcEndpointId:             op.Scope.VpcEndpointID,
		FlowOperationId:           op.ID,
		FlowOperationStatus:       op.Status,
		StatusMessage:             op.StatusMessage,
		FlowRequestTimestamp:      epochSeconds(op.Requested),
		Flows:                     []flowJSON{},
	}
	if op.Status == engine.OpInProgress {
		if offset != 0 {
			return nil, badToken(tok) // no token is issued before the results exist
		}
		return out, nil
	}
	if offset > op.Flows.Len() {
		return nil, badToken(tok)
	}
	page := op.Flows.Page(offset, size)
	for i := range page {
		out.Flows = append(out.Flows, flowOut(&page[i]))
	}
	end := offset + len(page)
	if end < op.Flows.Len() {
		out.NextToken = s.tokens.sealResults(op.ID, end)
	}
	return out, nil
}

func flowOut(r *engine.FlowResult) flowJSON {
	return flowJSON{
		SourceAddress:      address{r.SrcCIDR()},
		DestinationAddress: address{r.DstCIDR()},
		SourcePort:         strconv.Itoa(int(r.SrcPort)),
		DestinationPort:    strconv.Itoa(int(r.DstPort)),
		Protocol:           strconv.Itoa(int(r.Proto)),
		Age:                r.Age,
		PacketCount:        r.Packets,
		ByteCount:          r.Bytes,
	}
}

func badToken(tok string) *Error {
	return errInvalid("NextToken: %s was not issued by this server for this request (forged, altered, from another request or from an earlier run)", quote(tok))
}
