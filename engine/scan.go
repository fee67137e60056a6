package engine

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/flowd/flowd/flowtable"
)

// ScanRequest asks every shard to look at its flows (capture) or to end the
// matching ones (flush).
type ScanRequest struct {
	// Match selects flows; nil selects all. It runs on every worker at once,
	// so it must be safe for concurrent use (a compiled filter.Set is). It is
	// given the engine clock of the scan for age computations.
	Match func(f *flowtable.Flow, now int64) bool
	// Remove ends each matching flow with reason Reason (flush).
	Remove bool
	Reason flowtable.EndReason
	// Limit caps the flows returned (0: return none, only count). Matching
	// flows beyond it are still counted, and removed when Remove is set.
	Limit int
	// ShardTimeout bounds the wait for each shard (0: wait as long as ctx).
	ShardTimeout time.Duration
}

// ScanResult is what a scan found.
type ScanResult struct {
	Flows     []flowtable.Flow // copies, at most Limit
	Matched   int              // flows that matched in the shards that answered
	Truncated bool             // more flows matched than Limit
	// ShardsLate counts shards that did not answer within ShardTimeout; their
	// flows are missing from the result (the scan still runs there later).
	ShardsLate int
	Now        int64 // the engine clock the scan used
}

// Scan runs req in every shard, between batches, and gathers the results.
func (e *Engine) Scan(ctx context.Context, req ScanRequest) (ScanResult, error) {
	now := e.clock.now()
	type part struct {
		flows   []flowtable.Flow
		matched int
	}
	parts := make([]part, len(e.workers))
	finished, err := e.DoWithin(ctx, req.ShardTimeout, func(shard int, s *flowtable.Shard) {
		p := &parts[shard]
		s.Range(func(f *flowtable.Flow) bool {
			if req.Match != nil && !req.Match(f, now) {
				return true
			}
			p.matched++
			if len(p.flows) < req.Limit {
				p.flows = append(p.flows, *f)
			}
			if req.Remove {
				s.Remove(f, req.Reason)
			}
			return true
		})
	})
	if err != nil {
		return ScanResult{}, err
	}
	res := ScanResult{Now: now}
	for i, ok := range finished {
		if !ok {
			res.ShardsLate++
			continue
		}
		res.add(&parts[i].flows, parts[i].matched, req.Limit)
	}
	return res, nil
}

// DoWithin runs fn in every shard as Do does, but waits at most timeout for
// them (0: as long as ctx allows) and reports which shards finished in
// time. A shard that did not still runs fn when it gets to it, so fn must
// write only state of its own shard's, which the caller reads only for the
// shards reported finished. It fails only when ctx ends.
func (e *Engine) DoWithin(ctx context.Context, timeout time.Duration, fn func(shard int, s *flowtable.Shard)) ([]bool, error) {
	done := make([]atomic.Bool, len(e.workers))
	waitCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := e.Do(waitCtx, func(shard int, s *flowtable.Shard) {
		fn(shard, s)
		done[shard].Store(true)
	})
	if err != nil && ctx.Err() != nil {
		return nil, err
	}
	finished := make([]bool, len(done))
	for i := range done {
		finished[i] = done[i].Load()
	}
	return finished, nil
}

func (r *ScanResult) add(flows *[]flowtable.Flow, matched, limit int) {
	r.Matched += matched
	room := limit - len(r.Flows)
	fs := *flows
	if len(fs) > room {
		fs = fs[:max(room, 0)]
	}
	r.Flows = append(r.Flows, fs...)
	if r.Matched > limit {
		r.Truncated = true
	}
}

// Flows returns a copy of every flow in the table.
func (e *Engine) Flows(ctx context.Context) ([]flowtable.Flow, error) {
	res, err := e.Scan(ctx, ScanRequest{Limit: int(^uint(0) >> 1)})
	return res.Flows, err
}
