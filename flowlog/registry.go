package flowlog

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// EC2 error codes of the Registry, beside those of Definition.Validate.
const (
	CodeFlowLogAlreadyExists        = "FlowLogAlreadyExists"
	CodeIdempotentParameterMismatch = "IdempotentParameterMismatch"
	CodeFlowLogNotFound             = "InvalidFlowLogId.NotFound"
	CodeInvalidPaginationToken      = "InvalidPaginationToken"
)

// Limits of DescribeFlowLogs and DeleteFlowLogs.
const (
	MaxFlowLogIDs     = 1000 // FlowLogId.N per request
	MaxDescribeResult = 1000 // the largest MaxResults
)

// StoreFile is the name of the file, in a Registry's directory, that holds
// the flow log definitions.
const StoreFile = "flowlogs.json"

// Log is one flow log: one resource of a CreateFlowLogs request.
type Log struct {
	ID string
	// ResourceID is the monitored resource, an interface name given as an
	// alias already resolved to its InterfaceID.
	ResourceID string
	// Definition is the request that created the log, with ResourceIds
	// cut to ResourceID.
	Definition Definition
	Settings   Settings
	// Interfaces are the indexes, into the Registry's interfaces, of the
	// interfaces the log records.
	Interfaces []int
	Created    time.Time
}

// Unsuccessful is one resource (or flow log id) a request could not act on.
type Unsuccessful struct {
	ResourceID string
	Code       string
	Message    string
}

// CreateResult is the answer to CreateFlowLogs: one new flow log per
// resource that resolved, the rest in Unsuccessful.
type CreateResult struct {
	ClientToken  string
	FlowLogIDs   []string
	Unsuccessful []Unsuccessful
}

// DescribeResult is a page of DescribeFlowLogs: flow logs in creation
// order, and the token of the next page ("" at the end).
type DescribeResult struct {
	FlowLogs  []Log
	NextToken string
}

// Registry is the set of flow log definitions of one flowd, kept in memory
// and, given a directory, in DIR/flowlogs.json so that they survive a
// restart. Every method is safe for concurrent use; Logs and Version are
// what the delivery side polls.
type Registry struct {
	path   string // "" keeps the definitions in memory only
	ifaces []Interface
	now    func() time.Time

	version atomic.Uint64

	mu     sync.Mutex
	seq    uint64 // the last log's sequence number
	logs   []*entry
	tokens map[string]tokenEntry
}

// entry is a flow log as the registry keeps it.
type entry struct {
	Log
	seq uint64 // creation order, for pagination tokens
}

// tokenEntry remembers a ClientToken: the request made with it and its
// answer, returned again for the same request.
type tokenEntry struct {
	Definition Definition
	Result     CreateResult
}

// NewRegistry returns the registry of the interfaces ifaces, whose indexes
// Log.Interfaces holds. dir "" keeps definitions in memory only; otherwise
// they are read from and written to dir/flowlogs.json. now stamps new logs
// (nil: time.Now).
func NewRegistry(dir string, ifaces []Interface, now func() time.Time) (*Registry, error) {
	if now == nil {
		now = time.Now
	}
	r := &Registry{ifaces: slices.Clone(ifaces), now: now, tokens: map[string]tokenEntry{}}
	r.version.Store(1)
	if dir == "" {
		return r, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("flow log registry: %w", err)
	}
	r.path = filepath.Join(dir, StoreFile)
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

// stored is the file's shape.
type stored struct {
	Seq    uint64        `json:"seq"`
	Logs   []storedLog   `json:"logs"`
	Tokens []storedToken `json:"tokens,omitempty"`
}

type storedLog struct {
	ID         string     `json:"id"`
	Seq        uint64     `json:"seq"`
	ResourceID string     `json:"resourceId"`
	Created    time.Time  `json:"created"`
	Definition Definition `json:"definition"`
}

type storedToken struct {
	Token      string       `json:"token"`
	Definition Definition   `json:"definition"`
	Result     CreateResult `json:"result"`
}

func (r *Registry) load() error {
	b, err := os.ReadFile(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("flow log registry: %w", err)
	}
	var st stored
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("flow log registry: %s is corrupt (%v); move it away to start with no flow logs", r.path, err)
	}
	r.seq = st.Seq
	for i, l := range st.Logs {
		s, err := l.Definition.Settings()
		if err != nil {
			return fmt.Errorf("flow log registry: %s: logs[%d] (%s): %v", r.path, i, l.ID, err)
		}
		if !validID(l.ID) {
			return fmt.Errorf("flow log registry: %s: logs[%d]: %q is not a flow log id", r.path, i, l.ID)
		}
		r.logs = append(r.logs, &entry{Log: Log{ID: l.ID, ResourceID: l.ResourceID, Definition: l.Definition,
			Settings: s, Interfaces: r.resolve(l.Definition.ResourceType, l.ResourceID), Created: l.Created}, seq: l.Seq})
		r.seq = max(r.seq, l.Seq)
	}
	for _, t := range st.Tokens {
		r.tokens[t.Token] = tokenEntry{Definition: t.Definition, Result: t.Result}
	}
	return nil
}

// save writes the registry to its file atomically: a temporary file in
// the same directory, synced, renamed over the old one, the directory
// synced. Called with mu held.
func (r *Registry) save() error {
	if r.path == "" {
		return nil
	}
	st := stored{Seq: r.seq, Logs: []storedLog{}}
	for _, e := range r.logs {
		st.Logs = append(st.Logs, storedLog{ID: e.ID, Seq: e.seq, ResourceID: e.ResourceID, Created: e.Created, Definition: e.Definition})
	}
	for _, k := range slices.Sorted(maps.Keys(r.tokens)) {
		t := r.tokens[k]
		st.Tokens = append(st.Tokens, storedToken{Token: k, Definition: t.Definition, Result: t.Result})
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("flow log registry: %w", err)
	}
	dir := filepath.Dir(r.path)
	f, err := os.CreateTemp(dir, StoreFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("flow log registry: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, r.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("flow log registry: saving %s: %w", r.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Version increases on every change of the set of flow logs, so that the
// delivery side re-reads Logs only when it moved.
func (r *Registry) Version() uint64 { return r.version.Load() }

// Logs returns the active flow logs in creation order. The slice and its
// Interfaces are the caller's.
func (r *Registry) Logs() []Log {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Log, len(r.logs))
	for i, e := range r.logs {
		out[i] = e.Log
		out[i].Interfaces = slices.Clone(e.Interfaces)
		out[i].Definition.ResourceIds = slices.Clone(e.Definition.ResourceIds)
		out[i].Definition.Tags = slices.Clone(e.Definition.Tags)
	}
	return out
}

// Interfaces returns the registry's interfaces, indexed as Log.Interfaces.
func (r *Registry) Interfaces() []Interface { return slices.Clone(r.ifaces) }

// resolve returns the interfaces a resource of type rt names: a network
// interface by InterfaceID or Name, a subnet or VPC by its id. Transit
// gateways and NAT gateways are never flowd's.
func (r *Registry) resolve(rt, id string) []int {
	var out []int
	for i, in := range r.ifaces {
		var ok bool
		switch rt {
		case ResourceNetworkInterface:
			ok = id == in.InterfaceID || in.Name != "" && id == in.Name
		case ResourceSubnet:
			ok = id == in.SubnetID
		case ResourceVPC:
			ok = id == in.VPCID
		}
		if ok {
			out = append(out, i)
		}
	}
	return out
}

// canonical returns the id a resource is known by: an interface's name
// becomes its InterfaceID.
func (r *Registry) canonical(rt, id string, idx []int) string {
	if rt == ResourceNetworkInterface && len(idx) > 0 && r.ifaces[idx[0]].InterfaceID != "" {
		return r.ifaces[idx[0]].InterfaceID
	}
	return id
}

// notFoundCode is the EC2 code for an unknown resource of type rt.
func notFoundCode(rt string) string {
	switch rt {
	case ResourceVPC:
		return "InvalidVpcID.NotFound"
	case ResourceSubnet:
		return "InvalidSubnetID.NotFound"
	case ResourceNetworkInterface:
		return "InvalidNetworkInterfaceID.NotFound"
	case ResourceTransitGateway:
		return "InvalidTransitGatewayID.NotFound"
	case ResourceTransitGatewayAttachment:
		return "InvalidTransitGatewayAttachmentID.NotFound"
	}
	return "NatGatewayNotFound"
}

// destinationKey names where a log delivers, so that two logs of one
// resource to the same place are duplicates (FlowLogAlreadyExists).
func destinationKey(s *Settings) string {
	switch s.DestinationType {
	case DestinationS3:
		return "s3:" + s.S3.Bucket + "/" + s.S3.Prefix
	case DestinationFirehose:
		return "firehose:" + s.DeliveryStream
	}
	return "logs:" + s.LogGroupName
}

// sameRequest reports whether two CreateFlowLogs requests are the same
// but for their ClientToken.
func sameRequest(a, b Definition) bool {
	a.ClientToken, b.ClientToken = "", ""
	norm := func(d *Definition) {
		if len(d.ResourceIds) == 0 {
			d.ResourceIds = nil
		}
		if len(d.Tags) == 0 {
			d.Tags = nil
		}
	}
	norm(&a)
	norm(&b)
	return reflect.DeepEqual(a, b)
}

// Create makes one flow log per resource of d that resolves to interfaces
// of this flowd. A request error (d invalid, a ClientToken reused for
// another request) is an *Error; resources that do not resolve, or that
// already have a flow log to the same destination, go to Unsuccessful.
// A ClientToken seen before with the same request returns the first
// answer again and creates nothing.
func (r *Registry) Create(d Definition) (CreateResult, error) {
	d.ResourceIds = slices.Clone(d.ResourceIds)
	d.Tags = slices.Clone(d.Tags)
	r.mu.Lock()
	defer r.mu.Unlock()
	if d.ClientToken != "" {
		if t, ok := r.tokens[d.ClientToken]; ok {
			if !sameRequest(t.Definition, d) {
				return CreateResult{}, errf(CodeIdempotentParameterMismatch, "ClientToken",
					"ClientToken %q was already used for a CreateFlowLogs request with other parameters", d.ClientToken)
			}
			return cloneResult(t.Result), nil
		}
	}
	s, err := d.Settings()
	if err != nil {
		return CreateResult{}, err
	}
	res := CreateResult{ClientToken: d.ClientToken}
	dest := destinationKey(&s)
	now := r.now().UTC()
	var added []*entry
	for _, id := range d.ResourceIds {
		idx := r.resolve(d.ResourceType, id)
		if len(idx) == 0 {
			res.Unsuccessful = append(res.Unsuccessful, Unsuccessful{ResourceID: id, Code: notFoundCode(d.ResourceType),
				Message: fmt.Sprintf("Unknown resource %s: no %s of this flowd has that id", id, d.ResourceType)})
			continue
		}
		rid := r.canonical(d.ResourceType, id, idx)
		if r.duplicate(rid, dest, added) {
			res.Unsuccessful = append(res.Unsuccessful, Unsuccessful{ResourceID: id, Code: CodeFlowLogAlreadyExists,
				Message: fmt.Sprintf("Error. There is an existing Flow Log with the same configuration and log destination: resource %s already logs to %s", rid, destinationOf(&d, &s))})
			continue
		}
		fid, err := r.newID(added)
		if err != nil {
			return CreateResult{}, err
		}
		one := d
		one.ResourceIds = []string{rid}
		r.seq++
		added = append(added, &entry{Log: Log{ID: fid, ResourceID: rid, Definition: one, Settings: s, Interfaces: idx, Created: now}, seq: r.seq})
		res.FlowLogIDs = append(res.FlowLogIDs, fid)
	}
	oldLogs, oldSeq := len(r.logs), r.seq-uint64(len(added))
	r.logs = append(r.logs, added...)
	if d.ClientToken != "" {
		r.tokens[d.ClientToken] = tokenEntry{Definition: d, Result: cloneResult(res)}
	}
	if len(added) > 0 || d.ClientToken != "" {
		if err := r.save(); err != nil {
			r.logs, r.seq = r.logs[:oldLogs], oldSeq
			delete(r.tokens, d.ClientToken)
			return CreateResult{}, err
		}
	}
	if len(added) > 0 {
		r.version.Add(1)
	}
	return res, nil
}

// destinationOf describes a destination for messages.
func destinationOf(d *Definition, s *Settings) string {
	if d.LogDestination != "" {
		return d.LogDestination
	}
	return "log group " + s.LogGroupName
}

func (r *Registry) duplicate(rid, dest string, added []*entry) bool {
	for _, e := range slices.Concat(r.logs, added) {
		if e.ResourceID == rid && destinationKey(&e.Settings) == dest {
			return true
		}
	}
	return false
}

// newID returns a fresh flow log id: "fl-" and 17 random hex digits.
func (r *Registry) newID(added []*entry) (string, error) {
	for {
		var b [9]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("flow log id: %w", err)
		}
		id := "fl-" + hex.EncodeToString(b[:])[:17]
		if !slices.ContainsFunc(slices.Concat(r.logs, added), func(e *entry) bool { return e.ID == id }) {
			return id, nil
		}
	}
}

func validID(id string) bool {
	h, ok := strings.CutPrefix(id, "fl-")
	if !ok || h == "" {
		return false
	}
	_, err := hex.DecodeString(h + strings.Repeat("0", len(h)%2))
	return err == nil
}

func cloneResult(c CreateResult) CreateResult {
	c.FlowLogIDs = slices.Clone(c.FlowLogIDs)
	c.Unsuccessful = slices.Clone(c.Unsuccessful)
	return c
}

// Delete removes the flow logs ids. Ids that name no flow log come back
// as Unsuccessful (InvalidFlowLogId.NotFound); the error is a failure to
// save, when nothing was deleted.
func (r *Registry) Delete(ids []string) ([]Unsuccessful, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	gone := map[string]bool{}
	var bad []Unsuccessful
	for _, id := range ids {
		if gone[id] {
			continue
		}
		if slices.ContainsFunc(r.logs, func(e *entry) bool { return e.ID == id }) {
			gone[id] = true
			continue
		}
		bad = append(bad, Unsuccessful{ResourceID: id, Code: CodeFlowLogNotFound,
			Message: "These flow log ids in the input list are not found: [TotalCount: 1] " + id})
	}
	if len(gone) == 0 {
		return bad, nil
	}
	old := r.logs
	r.logs = slices.DeleteFunc(slices.Clone(r.logs), func(e *entry) bool { return gone[e.ID] })
	if err := r.save(); err != nil {
		r.logs = old
		return nil, err
	}
	r.version.Add(1)
	return bad, nil
}

// Filter names of DescribeFlowLogs, beside tag:<key>.
var filterNames = []string{"deliver-log-status", "flow-log-id", "log-destination-type", "log-group-name",
	"resource-id", "tag-key", "traffic-type"}

// Describe returns a page of the flow logs that are in ids (all when ids is
// empty) and match every filter (a filter matches when any of its values
// does; names and values are case-sensitive). maxResults 0 returns every
// match; otherwise 1 to 1000 per page, continued with nextToken. Unknown
// ids are left out, not an error. Errors are *Error.
func (r *Registry) Describe(ids []string, filters map[string][]string, maxResults int, nextToken string) (DescribeResult, error) {
	if len(ids) > MaxFlowLogIDs {
		return DescribeResult{}, errf(CodeInvalidParameterValue, "FlowLogId",
			"%d flow log IDs given; at most %d are allowed", len(ids), MaxFlowLogIDs)
	}
	for _, name := range slices.Sorted(maps.Keys(filters)) {
		if !slices.Contains(filterNames, name) && !(strings.HasPrefix(name, "tag:") && len(name) > 4) {
			return DescribeResult{}, errf(CodeInvalidParameterValue, "Filter",
				"The filter '%s' is invalid; DescribeFlowLogs filters are %s and tag:<key>", name, strings.Join(filterNames, ", "))
		}
		if len(filters[name]) == 0 {
			return DescribeResult{}, errf(CodeInvalidParameterValue, "Filter",
				"The filter '%s' has no values; give at least one (Filter.N.Value.1)", name)
		}
	}
	if maxResults < 0 || maxResults > MaxDescribeResult {
		return DescribeResult{}, errf(CodeInvalidParameterValue, "MaxResults",
			"MaxResults %d is out of range: want 1 to %d", maxResults, MaxDescribeResult)
	}
	query := queryHash(ids, filters)
	var after uint64
	if nextToken != "" {
		var ok bool
		if after, ok = parseToken(nextToken, query); !ok {
			return DescribeResult{}, errf(CodeInvalidPaginationToken, "NextToken",
				"NextToken %q is not a token DescribeFlowLogs gave for these FlowLogIds and filters", nextToken)
		}
	}
	if vals, ok := filters["resource-id"]; ok {
		// An interface's name stands for its id here too, as in
		// CreateFlowLogs' ResourceIds.
		filters = maps.Clone(filters)
		vals = slices.Clone(vals)
		for _, v := range filters["resource-id"] {
			for _, in := range r.ifaces {
				if in.Name == v {
					vals = append(vals, in.InterfaceID)
				}
			}
		}
		filters["resource-id"] = vals
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var res DescribeResult
	var last uint64 // seq of the last log in the page
	for _, e := range r.logs {
		if e.seq <= after || len(ids) > 0 && !slices.Contains(ids, e.ID) || !matches(&e.Log, filters) {
			continue
		}
		if maxResults > 0 && len(res.FlowLogs) == maxResults {
			res.NextToken = makeToken(last, query)
			break
		}
		l := e.Log
		l.Interfaces = slices.Clone(e.Interfaces)
		res.FlowLogs = append(res.FlowLogs, l)
		last = e.seq
	}
	return res, nil
}

// matches applies DescribeFlowLogs filters to a log.
func matches(l *Log, filters map[string][]string) bool {
	for name, values := range filters {
		var have []string
		switch name {
		case "deliver-log-status":
			have = []string{"SUCCESS"}
		case "flow-log-id":
			have = []string{l.ID}
		case "log-destination-type":
			have = []string{l.Settings.DestinationType}
		case "log-group-name":
			if l.Settings.DestinationType == DestinationCloudWatchLogs {
				have = []string{l.Settings.LogGroupName}
			}
		case "resource-id":
			have = []string{l.ResourceID}
		case "traffic-type":
			have = []string{l.Definition.TrafficType}
		case "tag-key":
			for _, t := range l.Definition.Tags {
				have = append(have, t.Key)
			}
		default: // tag:<key>
			key := strings.TrimPrefix(name, "tag:")
			for _, t := range l.Definition.Tags {
				if t.Key == key {
					have = append(have, t.Value)
				}
			}
		}
		if !slices.ContainsFunc(values, func(v string) bool { return slices.Contains(have, v) }) {
			return false
		}
	}
	return true
}

// queryHash ties a pagination token to the ids and filters it pages
// through.
func queryHash(ids []string, filters map[string][]string) uint64 {
	h := fnv.New64a()
	sorted := slices.Sorted(slices.Values(ids))
	for _, id := range sorted {
		fmt.Fprintf(h, "id %q\n", id)
	}
	names := make([]string, 0, len(filters))
	for n := range filters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "filter %q %q\n", n, slices.Sorted(slices.Values(filters[n])))
	}
	return h.Sum64()
}

// A pagination token is base64url("<seq of the last log returned>.<query
// hash>"): the next page starts after that log, whether or not it still
// exists.
func makeToken(seq, query uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatUint(seq, 10) + "." + strconv.FormatUint(query, 16)))
}

func parseToken(tok string, query uint64) (uint64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	s, q, ok := strings.Cut(string(b), ".")
	if !ok {
		return 0, false
	}
	seq, err1 := strconv.ParseUint(s, 10, 64)
	qh, err2 := strconv.ParseUint(q, 16, 64)
	if err1 != nil || err2 != nil || qh != query {
		return 0, false
	}
	return seq, true
}
