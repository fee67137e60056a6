package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/filter"
	"github.com/flowd/flowd/flowtable"
)

// Flow operations: the AWS Network Firewall StartFlowCapture and
// StartFlowFlush over the engine's table.
//
// An operation is a scan of every shard, run by the shard's worker between
// batches (Engine.Do), with the operation's compiled filters and scope as
// the predicate. Start answers at once with the operation IN_PROGRESS; a
// goroutine per operation waits for the scan and records how it ended.
// Operations and their results are kept for the retention period (12 h, as
// AWS does), counted from their request time.
//
// Allocation: the predicate (matchFlow) allocates nothing; results are
// 56-byte pointer-free FlowResults collected in chunks.
//
// Concurrency: Ops is safe for use from any goroutine. An Op handed out is a
// copy; its Results share read-only chunks.

// OpType is the kind of a flow operation, spelt as the AWS API spells it.
type OpType string

// Operation types.
const (
	OpCapture OpType = "FLOW_CAPTURE"
	OpFlush   OpType = "FLOW_FLUSH"
)

// OpStatus is where a flow operation stands, spelt as the AWS API spells it.
type OpStatus string

// Operation statuses.
const (
	OpInProgress          OpStatus = "IN_PROGRESS"
	OpCompleted           OpStatus = "COMPLETED"
	OpCompletedWithErrors OpStatus = "COMPLETED_WITH_ERRORS"
	OpFailed              OpStatus = "FAILED"
)

// Status messages (AWS StatusReason: ^[a-zA-Z0-9- ]+$). The first two are
// the values the AWS documentation lists.
const (
	MsgOpError = "Flow operation error" // FAILED
	MsgTimeout = "Flow timeout"         // a shard did not answer in time
)

// Errors of Start, Op and List; the API maps them to its error types.
var (
	// ErrThrottled: an operation is already in progress in one of the
	// Availability Zones of the new one.
	ErrThrottled = errors.New("flow operation in progress")
	// ErrOpNotFound: no such operation (never started, expired, or not in
	// the scope asked for).
	ErrOpNotFound = errors.New("flow operation not found")
	// ErrScope: the scope names an Availability Zone, VPC endpoint or VPC
	// endpoint association the firewall does not have (see ScopeError).
	ErrScope = errors.New("scope not of this firewall")
	// ErrOpsClosed: Close was called.
	ErrOpsClosed = errors.New("flow operations closed")
)

// ScopeError says which scope member names nothing of this firewall.
// Member is the AWS member name; Error() is "Member: message".
type ScopeError struct {
	Member string
	Msg    string
}

func (e *ScopeError) Error() string { return e.Member + ": " + e.Msg }

// Is makes errors.Is(err, ErrScope) true.
func (e *ScopeError) Is(target error) bool { return target == ErrScope }

// Endpoint is one firewall endpoint: the sources whose SourceInfo carries
// its Availability Zone and VPC endpoint id belong to it.
type Endpoint struct {
	AvailabilityZone string
	VpcEndpointID    string
	// AssociationArn is the VPC endpoint association the endpoint belongs
	// to; empty for the firewall's own (primary) endpoints.
	AssociationArn string
}

// Scope narrows an operation to some endpoints: every member given must
// match (AvailabilityZone: all endpoints in that zone, primary and
// associated; VpcEndpointID: that endpoint; VpcEndpointAssociationArn: the
// endpoints of that association). The zero Scope is every endpoint.
type Scope struct {
	AvailabilityZone          string
	VpcEndpointID             string
	VpcEndpointAssociationArn string
}

// IsZero reports whether s narrows nothing.
func (s Scope) IsZero() bool { return s == Scope{} }

// OpsConfig configures Ops. The zero value means defaults.
type OpsConfig struct {
	// Retention is how long operations and their results are kept after
	// their request time (default 12 h, as AWS keeps them).
	Retention time.Duration
	// ResultCap is the most flows one operation returns (default
	// 1,000,000); past it the operation ends COMPLETED_WITH_ERRORS.
	ResultCap int
	// ShardTimeout is how long a scan waits for a shard (default 30 s);
	// a late shard's flows are missing and the operation ends
	// COMPLETED_WITH_ERRORS with StatusMessage "Flow timeout".
	ShardTimeout time.Duration
	// Endpoints lists endpoints the firewall has besides those of its
	// sources (one with no capture behind it yet, say). Every distinct
	// (AvailabilityZone, VpcEndpointID) of the engine's sources is an
	// endpoint too, with the source's AssociationArn when it has one.
	Endpoints []Endpoint
	// Now is the wall clock (request times, retention); default time.Now.
	Now func() time.Time
}

// Defaults of OpsConfig.
const (
	DefaultOpRetention    = 12 * time.Hour
	DefaultOpResultCap    = 1_000_000
	DefaultOpShardTimeout = 30 * time.Second
)

// OpRequest starts an operation.
type OpRequest struct {
	Type  OpType
	Scope Scope
	// Filters are the operation's compiled FlowFilters and minimum age.
	Filters *filter.Set
}

// Op is a flow operation as it stands.
type Op struct {
	ID    string // lowercase UUID
	Type  OpType
	Scope Scope // as requested
	// Filters (normalized, see filter.Set.Filters) and MinAgeSeconds echo
	// the request.
	Filters       []filter.Filter
	MinAgeSeconds int64
	Status        OpStatus
	StatusMessage string    // empty for IN_PROGRESS and COMPLETED
	Requested     time.Time // wall clock when the scan was asked for (FlowRequestTimestamp)
	Finished      time.Time // wall clock when it ended; zero while IN_PROGRESS
	// Matched counts the flows that matched in the shards that answered;
	// it exceeds len(Flows) when the result cap was reached.
	Matched int
	// Flows are the flows found (captured or flushed), valid once Status
	// is not IN_PROGRESS; empty for FAILED.
	Flows Results
}

// Results are the flows an operation found, kept in the chunks the shards
// collected them in (a million results are never copied into one slice).
// Immutable once the operation has ended; copies share the chunks.
type Results struct {
	chunks [][]FlowResult
	starts []int // starts[i] is the index of chunks[i][0]
	n      int
}

// Len is the number of results.
func (r *Results) Len() int { return r.n }

// At returns result i, 0 <= i < Len(). The pointer is into shared,
// read-only memory.
func (r *Results) At(i int) *FlowResult {
	c, _ := slices.BinarySearch(r.starts, i+1)
	c--
	return &r.chunks[c][i-r.starts[c]]
}

// Page returns a copy of results [from, from+n), cut at Len().
func (r *Results) Page(from, n int) []FlowResult {
	if from < 0 || from >= r.n || n <= 0 {
		return nil
	}
	to := min(from+n, r.n)
	out := make([]FlowResult, 0, to-from)
	for i := from; i < to; {
		c, _ := slices.BinarySearch(r.starts, i+1)
		c--
		chunk := r.chunks[c][i-r.starts[c]:]
		chunk = chunk[:min(len(chunk), to-i)]
		out = append(out, chunk...)
		i += len(chunk)
	}
	return out
}

// All returns every result, in one new slice.
func (r *Results) All() []FlowResult { return r.Page(0, r.n) }

// NewResults wraps flows as Results (for tests and other backends).
func NewResults(flows []FlowResult) Results {
	var r Results
	if len(flows) > 0 {
		r.add(flows)
	}
	return r
}

func (r *Results) add(c []FlowResult) {
	r.chunks = append(r.chunks, c)
	r.starts = append(r.starts, r.n)
	r.n += len(c)
}

// FlowResult is one flow of an operation's results, as the scan saw it:
// 56 bytes, pointer-free, so a million of them cost the garbage collector
// nothing to keep.
type FlowResult struct {
	// Bytes is the IP-layer bytes of both directions.
	Bytes int64
	// Src is the initiator's address, Dst the responder's (IPv4 in the
	// first 4 bytes).
	Src, Dst [16]byte
	// SrcPort and DstPort are 0 for protocols without ports.
	SrcPort, DstPort uint16
	Proto            uint8
	Family           uint8 // 4 or 6
	// Age is the engine clock at the scan minus the flow's first packet,
	// in whole seconds; Packets counts both directions. Both are clamped to
	// 2^31-1 (the AWS shapes are 32-bit).
	Age     int32
	Packets int32
}

func (r *FlowResult) addr(a *[16]byte) netip.Addr {
	if r.Family == 4 {
		return netip.AddrFrom4([4]byte(a[:4]))
	}
	return netip.AddrFrom16(*a)
}

// SrcAddr and DstAddr return the initiator's and the responder's address.
func (r *FlowResult) SrcAddr() netip.Addr { return r.addr(&r.Src) }

// DstAddr: see SrcAddr.
func (r *FlowResult) DstAddr() netip.Addr { return r.addr(&r.Dst) }

// SrcCIDR and DstCIDR format the addresses as /32 or /128 CIDRs, as the
// AWS Address shape carries them.
func (r *FlowResult) SrcCIDR() string { return cidr(r.SrcAddr()) }

// DstCIDR: see SrcCIDR.
func (r *FlowResult) DstCIDR() string { return cidr(r.DstAddr()) }

func cidr(a netip.Addr) string {
	b := a.AppendTo(make([]byte, 0, 48))
	b = append(b, '/')
	return string(strconv.AppendInt(b, int64(a.BitLen()), 10))
}

// makeResult turns a flow found by a scan at engine time now into a result.
func makeResult(f *flowtable.Flow, now int64) FlowResult {
	r := FlowResult{Proto: f.Key.Proto, Family: f.Key.Family}
	src, sp := f.SrcRaw()
	dst, dp := f.DstRaw()
	r.Src, r.Dst = *src, *dst
	if decode.HasPorts(f.Key.Proto) {
		r.SrcPort, r.DstPort = sp, dp
	}
	r.Age = clamp32(ageSeconds(f, now))
	r.Packets = clamp32(int64(min(f.TotalPkts(), math.MaxInt32)))
	r.Bytes = int64(min(f.TotalIPBytes(), math.MaxInt64))
	return r
}

// ageSeconds is the flow's age at now in whole seconds, never negative.
func ageSeconds(f *flowtable.Flow, now int64) int64 {
	if now <= f.First {
		return 0
	}
	return (now - f.First) / int64(time.Second)
}

func clamp32(v int64) int32 { return int32(min(max(v, 0), math.MaxInt32)) }

// Ops runs and remembers the flow operations of one engine (one firewall).
type Ops struct {
	e         *Engine
	cfg       OpsConfig
	endpoints []Endpoint
	// srcEP[i] is the endpoint of source i, -1 for none.
	srcEP []int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	byID   map[string]*opState
	order  []*opState // oldest first
}

type opState struct {
	op   Op
	eps  []int // endpoints in scope, ascending
	done chan struct{}
}

// NewOps returns the operation manager of e. Call it after the last
// AddSource (sources are mapped to endpoints once, here).
func NewOps(e *Engine, cfg OpsConfig) (*Ops, error) {
	if cfg.Retention == 0 {
		cfg.Retention = DefaultOpRetention
	}
	if cfg.ResultCap == 0 {
		cfg.ResultCap = DefaultOpResultCap
	}
	if cfg.ShardTimeout == 0 {
		cfg.ShardTimeout = DefaultOpShardTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.Retention < 0:
		return nil, fmt.Errorf("engine: operation retention %v is negative", cfg.Retention)
	case cfg.ResultCap < 0:
		return nil, fmt.Errorf("engine: operation result cap %d is negative", cfg.ResultCap)
	case cfg.ShardTimeout < 0:
		return nil, fmt.Errorf("engine: operation shard timeout %v is negative", cfg.ShardTimeout)
	}
	infos := e.SourceInfos()
	eps := slices.Clone(cfg.Endpoints)
	for _, in := range infos {
		i := slices.IndexFunc(eps, func(ep Endpoint) bool {
			return ep.AvailabilityZone == in.AvailabilityZone && ep.VpcEndpointID == in.VpcEndpointID
		})
		if i < 0 {
			eps = append(eps, Endpoint{AvailabilityZone: in.AvailabilityZone, VpcEndpointID: in.VpcEndpointID})
			i = len(eps) - 1
		}
		if in.AssociationArn != "" {
			eps[i].AssociationArn = in.AssociationArn
		}
	}
	if len(eps) == 0 {
		// No sources yet: one unnamed endpoint, so that unscoped operations
		// run (on an empty table) and throttle each other.
		eps = []Endpoint{{}}
	}
	o := &Ops{e: e, cfg: cfg, endpoints: eps, byID: make(map[string]*opState)}
	for _, in := range infos {
		ep := -1
		for i := range eps {
			if eps[i].AvailabilityZone == in.AvailabilityZone && eps[i].VpcEndpointID == in.VpcEndpointID {
				ep = i
				break
			}
		}
		o.srcEP = append(o.srcEP, ep)
	}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	return o, nil
}

// Status returns the engine's counters (for the API's /status and
// /metrics, so that one value serves everything the API needs).
func (o *Ops) Status() Status { return o.e.Status() }

// resolve returns the endpoints in scope s, ascending; a member that names
// nothing of this firewall is a *ScopeError.
func (o *Ops) resolve(s Scope) ([]int, error) {
	var eps []int
	for i := range o.endpoints {
		eps = append(eps, i)
	}
	var given []string // the members narrowed by so far, for messages
	narrow := func(member, value string, field func(*Endpoint) string, what string) error {
		var known []string
		kept := eps[:0:0]
		found := false
		for i := range o.endpoints {
			v := field(&o.endpoints[i])
			if v != "" && !slices.Contains(known, v) {
				known = append(known, v)
			}
			if v == value {
				found = true
			}
		}
		if !found {
			msg := strconv.Quote(value) + " is not " + what + " of this firewall"
			if len(known) > 0 {
				msg += " (it has " + joinQuoted(known) + ")"
			}
			return &ScopeError{Member: member, Msg: msg}
		}
		for _, i := range eps {
			if field(&o.endpoints[i]) == value {
				kept = append(kept, i)
			}
		}
		if len(kept) == 0 {
			return &ScopeError{Member: member, Msg: strconv.Quote(value) + " is not in " + strings.Join(given, " and ")}
		}
		eps = kept
		given = append(given, member+" "+strconv.Quote(value))
		return nil
	}
	if s.AvailabilityZone != "" {
		if err := narrow("AvailabilityZone", s.AvailabilityZone, func(e *Endpoint) string { return e.AvailabilityZone }, "an Availability Zone"); err != nil {
			return nil, err
		}
	}
	if s.VpcEndpointID != "" {
		if err := narrow("VpcEndpointId", s.VpcEndpointID, func(e *Endpoint) string { return e.VpcEndpointID }, "a VPC endpoint"); err != nil {
			return nil, err
		}
	}
	if s.VpcEndpointAssociationArn != "" {
		if err := narrow("VpcEndpointAssociationArn", s.VpcEndpointAssociationArn, func(e *Endpoint) string { return e.AssociationArn }, "a VPC endpoint association"); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

func joinQuoted(vs []string) string {
	const most = 8
	var b []byte
	for i, v := range vs {
		if i == most {
			b = fmt.Appendf(b, ", and %d more", len(vs)-most)
			break
		}
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendQuote(b, v)
	}
	return string(b)
}

// zones returns the Availability Zones of endpoints eps.
func (o *Ops) zones(eps []int) []string {
	var azs []string
	for _, i := range eps {
		if az := o.endpoints[i].AvailabilityZone; !slices.Contains(azs, az) {
			azs = append(azs, az)
		}
	}
	return azs
}

// Start begins an operation and returns it IN_PROGRESS. It fails with a
// *ScopeError (ErrScope) for a scope that names nothing of this firewall
// and with ErrThrottled while another operation is in progress in one of
// the same Availability Zones.
func (o *Ops) Start(req OpRequest) (Op, error) {
	if req.Type != OpCapture && req.Type != OpFlush {
		return Op{}, fmt.Errorf("engine: operation type %q: want %s or %s", req.Type, OpCapture, OpFlush)
	}
	if req.Filters == nil {
		return Op{}, errors.New("engine: operation without filters")
	}
	eps, err := o.resolve(req.Scope)
	if err != nil {
		return Op{}, err
	}
	azs := o.zones(eps)
	now := o.cfg.Now()

	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return Op{}, ErrOpsClosed
	}
	o.purgeLocked(now)
	for _, st := range o.order {
		if st.op.Status != OpInProgress {
			continue
		}
		for _, az := range o.zones(st.eps) {
			if slices.Contains(azs, az) {
				zone := strconv.Quote(az)
				if az == "" {
					zone = "the default zone"
				}
				return Op{}, fmt.Errorf("%w: operation %s (%s) is still in progress in Availability Zone %s; one operation per firewall per Availability Zone at a time",
					ErrThrottled, st.op.ID, st.op.Type, zone)
			}
		}
	}
	st := &opState{
		op: Op{
			ID:            o.newID(),
			Type:          req.Type,
			Scope:         req.Scope,
			Filters:       req.Filters.Filters(),
			MinAgeSeconds: req.Filters.MinAgeSeconds(),
			Status:        OpInProgress,
			Requested:     now,
		},
		eps:  eps,
		done: make(chan struct{}),
	}
	o.byID[st.op.ID] = st
	o.order = append(o.order, st)
	o.wg.Add(1)
	go o.run(st, req.Filters, o.sourcesIn(req.Scope, eps))
	return st.op, nil
}

// newID returns a fresh lowercase UUID (version 4) not in use.
func (o *Ops) newID() string {
	for {
		id := uuid.NewString() // lowercase hex, as the AWS FlowOperationId pattern wants
		if _, dup := o.byID[id]; !dup {
			return id
		}
	}
}

// sourcesIn returns, per source id, whether the source is in scope; nil
// means every source (an unscoped operation).
func (o *Ops) sourcesIn(s Scope, eps []int) []bool {
	if s.IsZero() {
		return nil
	}
	in := make([]bool, len(o.srcEP))
	for i, ep := range o.srcEP {
		in[i] = ep >= 0 && slices.Contains(eps, ep)
	}
	return in
}

// run scans the table for st and records the outcome.
func (o *Ops) run(st *opState, set *filter.Set, sources []bool) {
	defer o.wg.Done()
	res, err := o.scan(set, sources, st.op.Type == OpFlush)

	op := st.op
	op.Finished = o.cfg.Now()
	switch {
	case err != nil:
		op.Status, op.StatusMessage = OpFailed, MsgOpError
	default:
		op.Matched = res.matched
		op.Flows = res.flows
		capMsg := "Result limit of " + strconv.Itoa(o.cfg.ResultCap) + " flows reached"
		truncated := res.matched > res.flows.Len()
		switch {
		case res.late > 0 && truncated:
			op.Status, op.StatusMessage = OpCompletedWithErrors, MsgTimeout+" and "+capMsg
		case res.late > 0:
			op.Status, op.StatusMessage = OpCompletedWithErrors, MsgTimeout
		case truncated:
			op.Status, op.StatusMessage = OpCompletedWithErrors, capMsg
		default:
			op.Status = OpCompleted
		}
	}
	o.mu.Lock()
	st.op = op
	o.mu.Unlock()
	close(st.done)
}

// scanResult is what an operation's scan found.
type scanResult struct {
	flows   Results // at most the result cap
	matched int     // in the shards that answered
	late    int     // shards that did not answer in time
}

// resultChunk is how many results a shard collects per allocation (about
// 900 KiB): chunks grow a shard's results without copying them.
const resultChunk = 16 << 10

// shardPart is one shard's share of a scan, written by the shard's worker.
type shardPart struct {
	chunks  [][]FlowResult
	kept    int
	matched int
}

// scan runs the operation's predicate in every shard, between batches, on
// the shards' own workers (Engine.Do), and turns the matching flows into
// results right there: a 56-byte FlowResult per flow instead of a copy of
// the 112-byte table Flow (what Engine.Scan would hand back), which over a
// million flows is the difference between about 40 ms and 500 ms (on the
// 2-core test VM, 2026-11). With
// flush set, matching flows end with reason flush, all of them, past the
// result cap too. A shard that has not answered within the shard timeout is
// late: its flows are missing (it still runs the scan, and so still
// flushes, when it gets to it).
func (o *Ops) scan(set *filter.Set, sources []bool, flush bool) (scanResult, error) {
	now := o.e.Now()
	limit := o.cfg.ResultCap
	parts := make([]shardPart, o.e.Workers())
	var abandoned atomic.Bool // the results of late shards are no longer wanted
	fn := func(shard int, s *flowtable.Shard) {
		p := &parts[shard]
		keep := !abandoned.Load()
		var chunk []FlowResult
		s.Range(func(f *flowtable.Flow) bool {
			if sources != nil && (int(f.Source) >= len(sources) || !sources[f.Source]) {
				return true
			}
			if !matchFlow(set, f, now) {
				return true
			}
			p.matched++
			if keep && p.kept < limit {
				if len(chunk) == cap(chunk) {
					if chunk != nil {
						p.chunks = append(p.chunks, chunk)
					}
					chunk = make([]FlowResult, 0, min(resultChunk, s.Len(), limit-p.kept))
				}
				chunk = append(chunk, makeResult(f, now))
				p.kept++
			}
			if flush {
				s.Remove(f, flowtable.ReasonFlush)
			}
			return true
		})
		if len(chunk) > 0 {
			p.chunks = append(p.chunks, chunk)
		}
	}
	finished, err := o.e.DoWithin(o.ctx, o.cfg.ShardTimeout, fn)
	abandoned.Store(true)
	if err != nil {
		return scanResult{}, err // closing: the operation fails
	}
	var res scanResult
	for i := range parts {
		p := &parts[i]
		if !finished[i] {
			res.late++
			continue
		}
		res.matched += p.matched
		for _, c := range p.chunks {
			if c = c[:min(len(c), limit-res.flows.Len())]; len(c) > 0 {
				res.flows.add(c)
			}
		}
	}
	return res, nil
}

// MatchFilters returns set as a scan predicate (ScanRequest.Match): the
// flow's initiator is the filters' source, its age is counted at the scan's
// engine time. It does not allocate.
func MatchFilters(set *filter.Set) func(f *flowtable.Flow, now int64) bool {
	return func(f *flowtable.Flow, now int64) bool { return matchFlow(set, f, now) }
}

// matchFlow applies a compiled filter set to a table flow at engine time
// now. It does not allocate.
func matchFlow(set *filter.Set, f *flowtable.Flow, now int64) bool {
	var ff filter.Flow
	src, sp := f.SrcRaw()
	dst, dp := f.DstRaw()
	ff.Src, ff.Dst = *src, *dst
	ff.SrcPort, ff.DstPort = sp, dp
	ff.Family, ff.Proto = f.Key.Family, f.Key.Proto
	ff.AgeSeconds = ageSeconds(f, now)
	return set.Match(&ff)
}

// purgeLocked forgets the finished operations older than the retention.
func (o *Ops) purgeLocked(now time.Time) {
	cut := now.Add(-o.cfg.Retention)
	kept := o.order[:0]
	for _, st := range o.order {
		if st.op.Status != OpInProgress && !st.op.Requested.After(cut) {
			delete(o.byID, st.op.ID)
			continue
		}
		kept = append(kept, st)
	}
	clear(o.order[len(kept):])
	o.order = kept
}

// Op returns operation id. A non-zero scope must share an endpoint with the
// operation's, or the operation is not found; a scope that names nothing of
// this firewall is a *ScopeError.
func (o *Ops) Op(id string, scope Scope) (Op, error) {
	var eps []int
	if !scope.IsZero() {
		var err error
		if eps, err = o.resolve(scope); err != nil {
			return Op{}, err
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.purgeLocked(o.cfg.Now())
	st, ok := o.byID[id]
	if !ok || (eps != nil && !overlap(eps, st.eps)) {
		return Op{}, ErrOpNotFound
	}
	return st.op, nil
}

// Wait blocks until operation id has ended (or ctx is done) and returns it.
func (o *Ops) Wait(ctx context.Context, id string) (Op, error) {
	o.mu.Lock()
	st, ok := o.byID[id]
	o.mu.Unlock()
	if !ok {
		return Op{}, ErrOpNotFound
	}
	select {
	case <-st.done:
	case <-ctx.Done():
		return Op{}, ctx.Err()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return st.op, nil
}

// ListRequest selects operations for List.
type ListRequest struct {
	Type  OpType // empty: both types
	Scope Scope  // operations sharing an endpoint with it; zero: all
}

// List returns the operations kept, newest first (by request time, then
// by start order).
func (o *Ops) List(req ListRequest) ([]Op, error) {
	var eps []int
	if !req.Scope.IsZero() {
		var err error
		if eps, err = o.resolve(req.Scope); err != nil {
			return nil, err
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.purgeLocked(o.cfg.Now())
	var out []Op
	for i := len(o.order) - 1; i >= 0; i-- {
		st := o.order[i]
		if req.Type != "" && st.op.Type != req.Type {
			continue
		}
		if eps != nil && !overlap(eps, st.eps) {
			continue
		}
		out = append(out, st.op)
	}
	// Start order is request order unless the wall clock stepped back.
	slices.SortStableFunc(out, func(a, b Op) int { return b.Requested.Compare(a.Requested) })
	return out, nil
}

func overlap(a, b []int) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// Close cancels the scans in progress (they end FAILED), waits for them, and
// refuses new operations. Call it before stopping the engine.
func (o *Ops) Close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.cancel()
	o.wg.Wait()
}
