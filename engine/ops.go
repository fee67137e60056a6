package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/flowd/flowd/filter"
)

// Flow operations: the AWS Network Firewall StartFlowCapture and
// StartFlowFlush over the engine's table.
//
// An operation is a scan (Engine.Scan) with the operation's compiled filters
// and scope. Start answers at once with the operation IN_PROGRESS; a
// goroutine per operation waits for the scan and records how it ended.
// Operations and their results are kept for the retention period (12 h, as
// AWS does), counted from their request time, and within a memory bound
// for all results together (OpsConfig.MaxResultBytes).
//
// The scope of an operation (scope.go) picks sources by endpoint; results
// (results.go) are 56-byte pointer-free FlowResults collected in chunks.
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
	// ErrResultsReleased: the operation ended, but its results were
	// released to keep the results kept under OpsConfig.MaxResultBytes.
	ErrResultsReleased = errors.New("flow operation results released")
)

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
	// MaxResultBytes bounds the memory held by the results of ended
	// operations, all together (default 256 MiB, about 4.8 M flows). Past
	// it the oldest ended operations are forgotten, results and all, before
	// their retention ends; asking for one then gets ErrResultsReleased.
	// One operation still in progress may add up to ResultCap results
	// (56 bytes each) on top while it runs.
	MaxResultBytes int64
	// Now is the wall clock (request times, retention); default time.Now.
	Now func() time.Time
}

// Defaults of OpsConfig.
const (
	DefaultOpRetention    = 12 * time.Hour
	DefaultOpResultCap    = 1_000_000
	DefaultOpShardTimeout = 30 * time.Second
	DefaultOpResultBytes  = 256 << 20
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

// Ops runs and remembers the flow operations of one engine (one firewall).
type Ops struct {
	e   *Engine
	cfg OpsConfig
	fw  *firewall

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	byID      map[string]*opState
	order     []*opState           // oldest first
	retained  int64                // bytes of the results of ended operations kept
	released  map[string]time.Time // ids released early, with their request time
	releasedN uint64
	ended     map[OpType]map[OpStatus]uint64
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
	if cfg.MaxResultBytes == 0 {
		cfg.MaxResultBytes = DefaultOpResultBytes
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
	case cfg.MaxResultBytes < 0:
		return nil, fmt.Errorf("engine: operation results bound %d is negative", cfg.MaxResultBytes)
	}
	o := &Ops{e: e, cfg: cfg, fw: newFirewall(cfg.Endpoints, e.SourceInfos()),
		byID: make(map[string]*opState), released: make(map[string]time.Time), ended: map[OpType]map[OpStatus]uint64{}}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	return o, nil
}

// Status returns the engine's counters (for the API's /status and
// /metrics, so that one value serves everything the API needs).
func (o *Ops) Status() Status { return o.e.Status() }

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
	eps, err := o.fw.resolve(req.Scope)
	if err != nil {
		return Op{}, err
	}
	azs := o.fw.zones(eps)
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
		for _, az := range o.fw.zones(st.eps) {
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
	go o.run(st, req.Filters, o.fw.sourcesIn(req.Scope, eps))
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

// run scans the table for st and records the outcome.
func (o *Ops) run(st *opState, set *filter.Set, sources []bool) {
	defer o.wg.Done()
	res, err := o.e.Scan(o.ctx, ScanRequest{
		Filters: set, Sources: sources, Flush: st.op.Type == OpFlush,
		Limit: o.cfg.ResultCap, ShardTimeout: o.cfg.ShardTimeout,
	})

	op := st.op
	op.Finished = o.cfg.Now()
	switch {
	case err != nil:
		op.Status, op.StatusMessage = OpFailed, MsgOpError
	default:
		op.Matched = res.Matched
		op.Flows = res.Flows
		capMsg := "Result limit of " + strconv.Itoa(o.cfg.ResultCap) + " flows reached"
		switch {
		case res.ShardsLate > 0 && res.Truncated():
			op.Status, op.StatusMessage = OpCompletedWithErrors, MsgTimeout+" and "+capMsg
		case res.ShardsLate > 0:
			op.Status, op.StatusMessage = OpCompletedWithErrors, MsgTimeout
		case res.Truncated():
			op.Status, op.StatusMessage = OpCompletedWithErrors, capMsg
		default:
			op.Status = OpCompleted
		}
	}
	o.mu.Lock()
	st.op = op
	if o.ended[op.Type] == nil {
		o.ended[op.Type] = map[OpStatus]uint64{}
	}
	o.ended[op.Type][op.Status]++
	o.retained += op.Flows.Bytes()
	o.boundLocked(st)
	o.mu.Unlock()
	close(st.done)
}

// purgeLocked forgets the ended operations older than the retention, and
// the names of released ones as they would have expired.
func (o *Ops) purgeLocked(now time.Time) {
	cut := now.Add(-o.cfg.Retention)
	o.forgetLocked(func(st *opState) bool { return !st.op.Requested.After(cut) }, false)
	for id, req := range o.released {
		if !req.After(cut) {
			delete(o.released, id)
		}
	}
}

// forgetLocked forgets the ended operations for which drop says so, oldest
// first; with release set it remembers their ids as released (so asking
// for one says why it is gone) and stops as soon as the results kept are
// within the bound.
func (o *Ops) forgetLocked(drop func(*opState) bool, release bool) {
	kept := o.order[:0]
	for _, st := range o.order {
		over := !release || o.retained > o.cfg.MaxResultBytes
		if over && st.op.Status != OpInProgress && drop(st) {
			delete(o.byID, st.op.ID)
			o.retained -= st.op.Flows.Bytes()
			if release {
				o.released[st.op.ID] = st.op.Requested
				o.releasedN++
			}
			continue
		}
		kept = append(kept, st)
	}
	clear(o.order[len(kept):])
	o.order = kept
}

// boundLocked releases ended operations, oldest first and newest last,
// until the results kept are within MaxResultBytes.
func (o *Ops) boundLocked(newest *opState) {
	if o.retained <= o.cfg.MaxResultBytes {
		return
	}
	o.forgetLocked(func(st *opState) bool { return st != newest && st.op.Flows.Len() > 0 }, true)
	o.forgetLocked(func(st *opState) bool { return st == newest }, true)
}

// notFoundLocked is the error for an operation id not kept: released, or
// not found at all.
func (o *Ops) notFoundLocked(id string) error {
	if _, ok := o.released[id]; ok {
		return fmt.Errorf("%w: the results of flow operation %s were released to keep the results of ended operations under %d bytes (the most kept at once); start the operation again",
			ErrResultsReleased, id, o.cfg.MaxResultBytes)
	}
	return ErrOpNotFound
}

// OpStats says how much operations hold.
type OpStats struct {
	Kept        int    // operations kept (in progress or ended)
	ResultBytes int64  // memory held by ended operations' results
	MaxBytes    int64  // OpsConfig.MaxResultBytes
	Released    uint64 // operations released early to stay under MaxBytes
	ResultFlows int    // results held
	InProgress  int    // operations in progress
	// Ended counts the operations that have ended since the start, by
	// type and final status.
	Ended map[OpType]map[OpStatus]uint64
}

// OpStats returns what operations hold now.
func (o *Ops) OpStats() OpStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := OpStats{Kept: len(o.order), ResultBytes: o.retained, MaxBytes: o.cfg.MaxResultBytes, Released: o.releasedN,
		Ended: map[OpType]map[OpStatus]uint64{}}
	for t, byStatus := range o.ended {
		s.Ended[t] = maps.Clone(byStatus)
	}
	for _, st := range o.order {
		s.ResultFlows += st.op.Flows.Len()
		if st.op.Status == OpInProgress {
			s.InProgress++
		}
	}
	return s
}

// Op returns operation id. A non-zero scope must share an endpoint with the
// operation's, or the operation is not found; a scope that names nothing of
// this firewall is a *ScopeError.
func (o *Ops) Op(id string, scope Scope) (Op, error) {
	var eps []int
	if !scope.IsZero() {
		var err error
		if eps, err = o.fw.resolve(scope); err != nil {
			return Op{}, err
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.purgeLocked(o.cfg.Now())
	st, ok := o.byID[id]
	if !ok {
		return Op{}, o.notFoundLocked(id)
	}
	if eps != nil && !overlap(eps, st.eps) {
		return Op{}, ErrOpNotFound
	}
	return st.op, nil
}

// Wait blocks until operation id has ended (or ctx is done) and returns it.
func (o *Ops) Wait(ctx context.Context, id string) (Op, error) {
	o.mu.Lock()
	st, ok := o.byID[id]
	var err error
	if !ok {
		err = o.notFoundLocked(id)
	}
	o.mu.Unlock()
	if !ok {
		return Op{}, err
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
		if eps, err = o.fw.resolve(req.Scope); err != nil {
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

// Close cancels the scans in progress (they end FAILED), waits for them, and
// refuses new operations. Call it before stopping the engine.
func (o *Ops) Close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.cancel()
	o.wg.Wait()
}
