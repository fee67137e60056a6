package engine

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/flowd/flowd/flowtable"
)

// orderedSink records what it is handed, and where the sorted drain began.
type orderedSink struct {
	mu     sync.Mutex
	flows  []Flow
	sorted int // index of the first flow of the drain; -1 before it
}

func (o *orderedSink) FlowsEnded(fs []Flow) error {
	o.mu.Lock()
	o.flows = append(o.flows, fs...)
	o.mu.Unlock()
	return nil
}
func (o *orderedSink) Close() error     { return nil }
func (o *orderedSink) StartOrder() bool { return true }
func (o *orderedSink) DrainSorted() error {
	o.mu.Lock()
	o.sorted = len(o.flows)
	o.mu.Unlock()
	return nil
}

// TestDrainInStartOrder: a sink that asks gets the flows left at Stop after
// every flow ended before, in start order, whatever the number of shards;
// every flow once.
func TestDrainInStartOrder(t *testing.T) {
	c := randomTraffic(t, 7, 20000)
	// The same flows, whatever they ended with.
	key := func(fs []Flow) []string {
		out := make([]string, len(fs))
		for i := range fs {
			f := fs[i]
			f.Reason = ReasonActive
			out[i] = describe(&f)
		}
		slices.Sort(out)
		return out
	}
	want := key(first(c.run(Config{Workers: 1})))
	for _, workers := range []int{1, 3} {
		sink := &orderedSink{sorted: -1}
		e := startEngine(t, Config{Workers: workers, BatchSize: 256}, c, sink)
		if err := e.Stop(ReasonShutdown); err != nil {
			t.Fatal(err)
		}
		if sink.sorted < 0 || sink.sorted == len(sink.flows) {
			t.Fatalf("%d workers: the drain began at %d of %d flows", workers, sink.sorted, len(sink.flows))
		}
		drained := sink.flows[sink.sorted:]
		if !slices.IsSortedFunc(drained, func(a, b Flow) int { return CompareStart(&a, &b) }) {
			t.Errorf("%d workers: the drained flows are not in start order", workers)
		}
		for _, f := range drained {
			if f.Reason != ReasonShutdown {
				t.Fatalf("drained flow with reason %v", f.Reason)
			}
		}
		if got := key(sink.flows); !slices.Equal(got, want) {
			t.Errorf("%d workers: the flows handed over differ from a plain replay's (%d, want %d)", workers, len(got), len(want))
		}
		if st := e.Status(); st.Table.Active != 0 || st.Table.Ended[ReasonShutdown] != uint64(len(drained)) {
			t.Errorf("%d workers: after the drain %d active, %d ended shutdown; %d drained",
				workers, st.Table.Active, st.Table.Ended[ReasonShutdown], len(drained))
		}
	}
}

// TestSortNearly checks the drain's sort against a plain sort on the slab
// orders it meets: in order, a few later flows in reused slots, reversed,
// random, and ties in the first-packet time that the key must break.
func TestSortNearly(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name  string
		order func(i, n int) int64
	}{
		{"in order", func(i, n int) int64 { return int64(i) * 10 }},
		{"reused slots", func(i, n int) int64 {
			if rng.IntN(50) == 0 {
				return int64(n)*10 + rng.Int64N(int64(n)*10)
			}
			return int64(i) * 10
		}},
		{"reversed", func(i, n int) int64 { return int64(n-i) * 10 }},
		{"random", func(i, n int) int64 { return rng.Int64N(int64(n) * 10) }},
		{"ties", func(i, n int) int64 { return int64(i / 7) }},
		{"all equal", func(i, n int) int64 { return 5 }},
	} {
		for _, n := range []int{0, 1, 2, 3, 17, 1000} {
			flows := make([]flowtable.Flow, n)
			refs := make([]drainRef, n)
			for i := range flows {
				f := &flows[i]
				f.First = tc.order(i, n)
				a, b := [16]byte{10, 0, 0, 1}, [16]byte{10, 0, 0, 2}
				f.Key.Set(&a, &b, uint16(rng.IntN(65536)), uint16(i), 17, 4, [3]uint16{})
				refs[i] = drainRef{first: f.First, f: f}
			}
			want := slices.Clone(refs)
			slices.SortFunc(want, compareRefs)
			got := sortNearly(refs)
			if len(got) != n {
				t.Fatalf("%s, %d flows: %d after sorting", tc.name, n, len(got))
			}
			for i := range got {
				if got[i].f != want[i].f {
					t.Fatalf("%s, %d flows: position %d holds the flow of first %d, want first %d",
						tc.name, n, i, got[i].first, want[i].first)
				}
			}
		}
	}
}
