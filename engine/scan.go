package engine

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/flowd/flowd/filter"
	"github.com/flowd/flowd/flowtable"
)

// ScanRequest selects the flows a scan looks at: those of the sources in
// scope that pass the filters at the scan's engine time.
type ScanRequest struct {
	// Filters select flows (the flow's initiator is the filters' source,
	// its age is counted at the scan's engine time); nil selects every flow.
	Filters *filter.Set
	// Sources says, per source id, whether the source is in scope; nil
	// means every source.
	Sources []bool
	// Flush ends every matching flow with ReasonFlush, past Limit too.
	Flush bool
	// Limit caps the results kept (0: count only).
	Limit int
	// ShardTimeout bounds the wait for each shard (0: as long as ctx
	// allows). A late shard's flows are missing from the result; the scan
	// still runs there (and still flushes) when the shard gets to it.
	ShardTimeout time.Duration
}

// ScanResult is what a scan found.
type ScanResult struct {
	Flows      Results // at most Limit
	Matched    int     // flows that matched, in the shards that answered
	ShardsLate int     // shards that did not answer within ShardTimeout
	Now        int64   // the engine clock the scan used
}

// Truncated reports whether more flows matched than were kept.
func (r *ScanResult) Truncated() bool { return r.Matched > r.Flows.Len() }

// resultChunk is how many results a shard collects per allocation (about
// 900 KiB): chunks grow a shard's results without copying them.
const resultChunk = 16 << 10

// shardPart is one shard's share of a scan, written by the shard's worker.
type shardPart struct {
	chunks  [][]FlowResult
	kept    int
	matched int
}

// Scan runs req in every shard, between batches, on the shards' own
// workers, and turns the matching flows into results right there: a 56-byte
// FlowResult per flow instead of a copy of the 112-byte table flow, which
// over a million flows is the difference between about 40 ms and 500 ms
// (2-core test VM, 2026-11). Flow operations (capture and flush), the
// benchmarks and tests all scan through here. It fails only when ctx ends.
func (e *Engine) Scan(ctx context.Context, req ScanRequest) (ScanResult, error) {
	now := e.clock.now()
	limit := max(req.Limit, 0)
	parts := make([]shardPart, len(e.workers))
	var abandoned atomic.Bool // the results of late shards are no longer wanted
	fn := func(shard int, s *flowtable.Shard) {
		p := &parts[shard]
		keep := !abandoned.Load()
		var chunk []FlowResult
		s.Range(func(f *flowtable.Flow) bool {
			if req.Sources != nil && (int(f.Source) >= len(req.Sources) || !req.Sources[f.Source]) {
				return true
			}
			if req.Filters != nil && !matchFlow(req.Filters, f, now) {
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
			if req.Flush {
				s.Remove(f, flowtable.ReasonFlush)
			}
			return true
		})
		if len(chunk) > 0 {
			p.chunks = append(p.chunks, chunk)
		}
	}
	finished, err := e.doWithin(ctx, req.ShardTimeout, fn)
	abandoned.Store(true)
	if err != nil {
		return ScanResult{}, err
	}
	res := ScanResult{Now: now}
	for i := range parts {
		p := &parts[i]
		if !finished[i] {
			res.ShardsLate++
			continue
		}
		res.Matched += p.matched
		for _, c := range p.chunks {
			if c = c[:min(len(c), limit-res.Flows.Len())]; len(c) > 0 {
				res.Flows.add(c)
			}
		}
	}
	return res, nil
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

// doWithin runs fn in every shard as do does, but waits at most timeout for
// them (0: as long as ctx allows) and reports which shards finished in
// time. A shard that did not still runs fn when it gets to it, so fn must
// write only state of its own shard's, which the caller reads only for the
// shards reported finished. It fails only when ctx ends.
func (e *Engine) doWithin(ctx context.Context, timeout time.Duration, fn func(shard int, s *flowtable.Shard)) ([]bool, error) {
	done := make([]atomic.Bool, len(e.workers))
	waitCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := e.do(waitCtx, func(shard int, s *flowtable.Shard) {
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
