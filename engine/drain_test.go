package engine

import (
	"slices"
	"sync"
	"testing"
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
