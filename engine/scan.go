package engine

import (
	"context"
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
	dones := make([]chan struct{}, len(e.workers))
	for i, w := range e.workers {
		dones[i] = make(chan struct{})
		fn := func(shard int, s *flowtable.Shard) {
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
		}
		if err := w.request(ctx, ctlReq{fn: fn, done: dones[i]}); err != nil {
			return ScanResult{}, err
		}
	}
	res := ScanResult{Now: now}
	var deadline <-chan time.Time
	if req.ShardTimeout > 0 {
		t := time.NewTimer(req.ShardTimeout)
		defer t.Stop()
		deadline = t.C
	}
	for i, d := range dones {
		select {
		case <-d:
		case <-deadline:
			// Time is up: count this and every other shard still busy.
			for j := i; j < len(dones); j++ {
				select {
				case <-dones[j]:
					res.add(&parts[j].flows, parts[j].matched, req.Limit)
				default:
					res.ShardsLate++
				}
			}
			return res, nil
		case <-ctx.Done():
			return ScanResult{}, ctx.Err()
		}
		res.add(&parts[i].flows, parts[i].matched, req.Limit)
	}
	return res, nil
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
