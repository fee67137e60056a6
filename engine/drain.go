package engine

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"slices"
	"sync"

	"github.com/flowd/flowd/flowtable"
)

// The drain: when the engine stops, every flow still in the table ends and
// goes to the sinks. A sink that writes flows in start order (output's
// default for replay) would have to hold all of them to sort them, and at
// the end of a replay that is nearly every flow (98 % of a 100 k-flow
// capture). So when a sink asks for it (OrderedSink), the drain hands the
// flows over already in start order: each worker sorts its own flows (by
// slab address, no copy), the stopping goroutine merges the shards' sorted
// lists, and the sink can write each flow as it comes instead of holding
// it.

// OrderedSink is a Sink that wants the flows left in the table when the
// engine stops handed over in start order (CompareStart), after every flow
// that ended before: the engine calls DrainSorted on the sinks' goroutine
// just before the first of them.
type OrderedSink interface {
	Sink
	// StartOrder says whether the sink wants the drain in start order.
	StartOrder() bool
	// DrainSorted: the flows that follow come in start order.
	DrainSorted() error
}

// StartKey is what orders a flow in start order: fixed-size and
// pointer-free, so that a sorter can hold it beside a formatted line and
// spill it as bytes.
type StartKey struct {
	First, Last      int64
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
	VLAN             [3]uint16
	SPI              uint32
	Source           uint16
	Proto, Family    uint8
	Depth            uint8
}

// StartKey returns f's start-order key.
func (f *Flow) StartKey() StartKey {
	return StartKey{First: f.First, Last: f.Last, Src: f.Src, Dst: f.Dst, SrcPort: f.SrcPort, DstPort: f.DstPort,
		VLAN: f.VLAN, SPI: f.SPI, Source: f.Source, Proto: f.Proto, Family: f.Family, Depth: f.Depth}
}

// Compare orders keys by first packet, then protocol, family, initiator
// address and port, responder address and port, VLAN ids, ESP SPI, tunnel
// depth, source and last packet: a total order for the flows of one run, the order
// replay's output and the generator's truth files use.
func (k *StartKey) Compare(o *StartKey) int {
	if c := cmp.Compare(k.First, o.First); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(k.Proto, o.Proto), cmp.Compare(k.Family, o.Family),
		bytes.Compare(k.Src[:], o.Src[:]), cmp.Compare(k.SrcPort, o.SrcPort),
		bytes.Compare(k.Dst[:], o.Dst[:]), cmp.Compare(k.DstPort, o.DstPort),
		cmp.Compare(k.VLAN[0], o.VLAN[0]), cmp.Compare(k.VLAN[1], o.VLAN[1]), cmp.Compare(k.VLAN[2], o.VLAN[2]),
		cmp.Compare(k.SPI, o.SPI),
		cmp.Compare(k.Depth, o.Depth), cmp.Compare(k.Source, o.Source), cmp.Compare(k.Last, o.Last))
}

// CompareStart orders flows by their StartKeys.
func CompareStart(a, b *Flow) int {
	ka, kb := a.StartKey(), b.StartKey()
	return ka.Compare(&kb)
}

// compareTable is CompareStart on table flows, read in place: the drain
// sorts the table's flows before it converts them.
func compareTable(a, b *flowtable.Flow) int {
	if c := cmp.Compare(a.First, b.First); c != 0 {
		return c
	}
	as, asp, ad, adp := endpoints(a)
	bs, bsp, bd, bdp := endpoints(b)
	av, bv := a.Key.VLAN.IDs(), b.Key.VLAN.IDs()
	return cmp.Or(cmp.Compare(a.Key.Proto, b.Key.Proto), cmp.Compare(a.Key.Family, b.Key.Family),
		bytes.Compare(as[:], bs[:]), cmp.Compare(asp, bsp),
		bytes.Compare(ad[:], bd[:]), cmp.Compare(adp, bdp),
		cmp.Compare(av[0], bv[0]), cmp.Compare(av[1], bv[1]), cmp.Compare(av[2], bv[2]),
		cmp.Compare(spiOf(a), spiOf(b)),
		cmp.Compare(a.Key.Depth, b.Key.Depth), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Last, b.Last))
}

// wantsOrder reports whether a sink wants the drain in start order.
func (e *Engine) wantsOrder() bool {
	for _, s := range e.sinks.sinks {
		if os, ok := s.(OrderedSink); ok && os.StartOrder() {
			return true
		}
	}
	return false
}

// drain ends every flow in the table with reason and hands it to the
// sinks: in slab order, or, when a sink wants it, in start order.
func (e *Engine) drain(reason EndReason) {
	if !e.wantsOrder() {
		_ = e.do(context.Background(), func(_ int, s *flowtable.Shard) {
			s.RemoveAll(flowtable.EndReason(reason))
		})
		return
	}
	// Each worker sends what it has ended so far, sorts its flows and
	// waits, so that the shards stand still while this goroutine reads
	// them; then it removes them without handing them over again.
	n := len(e.workers)
	lists := make([]drainList, n)
	var sorted sync.WaitGroup
	sorted.Add(n)
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- e.do(context.Background(), func(shard int, s *flowtable.Shard) {
			w := e.workers[shard]
			w.flushEnded()
			l := &lists[shard]
			l.shard = s
			// Sized once: growing it by appends cost 70 ms of copying into
			// fresh pages at 100 k flows.
			l.flows = make([]drainRef, 0, s.Len())
			s.Range(func(f *flowtable.Flow) bool {
				l.flows = append(l.flows, drainRef{first: f.First, f: f})
				return true
			})
			l.flows = sortNearly(l.flows)
			sorted.Done()
			<-release
			s.SetSink(nil)
			s.RemoveAll(flowtable.EndReason(reason))
			s.SetSink(w)
		})
	}()
	sorted.Wait()
	// Every worker has sent its ended flows: the sorted ones come next.
	e.sinks.mark()
	m := &drainMerge{}
	for i := range lists {
		if len(lists[i].flows) > 0 {
			m.lists = append(m.lists, &lists[i])
		}
	}
	heap.Init(m)
	b := e.sinks.newBatch()
	for len(m.lists) > 0 {
		l := m.lists[0]
		b = append(b, l.shard.Ending(l.flows[0].f, flowtable.EndReason(reason)))
		if len(b) == cap(b) {
			b = e.sinks.send(b, false)
		}
		l.flows = l.flows[1:]
		if len(l.flows) > 0 {
			heap.Fix(m, 0)
		} else {
			heap.Pop(m)
		}
	}
	if len(b) > 0 {
		e.sinks.send(b, false)
	}
	close(release)
	<-done
}

// drainList is one shard's flows in start order.
type drainList struct {
	shard *flowtable.Shard
	flows []drainRef
}

type drainRef struct {
	first int64
	f     *flowtable.Flow
}

// drainMerge is a min-heap of the shards' lists by their first flow.
type drainMerge struct{ lists []*drainList }

func (m *drainMerge) Len() int { return len(m.lists) }
func (m *drainMerge) Less(i, j int) bool {
	return compareTable(m.lists[i].flows[0].f, m.lists[j].flows[0].f) < 0
}
func (m *drainMerge) Swap(i, j int) { m.lists[i], m.lists[j] = m.lists[j], m.lists[i] }
func (m *drainMerge) Push(x any)    { m.lists = append(m.lists, x.(*drainList)) }
func (m *drainMerge) Pop() any {
	l := m.lists[len(m.lists)-1]
	m.lists = m.lists[:len(m.lists)-1]
	return l
}

// compareRefs orders drain references as compareTable orders their flows.
// Comparing the first-packet times kept beside the pointers first keeps
// most comparisons off the slab (a random access each).
func compareRefs(a, b drainRef) int {
	if a.first != b.first {
		return cmp.Compare(a.first, b.first)
	}
	return compareTable(a.f, b.f)
}

// sortNearly sorts refs, which come in slab order. The slab fills in the
// order flows start, except where a later flow took the slot of one that
// had ended: such a flow sits too early. So walking from the end, every
// ref no later than all those kept so far stays, in order; the others
// (few, unless the table churned) are sorted apart and merged back in
// place. At 100 k flows with 2 % reused slots this took 1.3 ms against
// 7 ms for a full sort (2-vCPU VM, Dec 2026); on a churned table it costs
// one full sort and one merge.
func sortNearly(refs []drainRef) []drainRef {
	var moved []drainRef
	kept := len(refs) // the kept refs gather in refs[kept:]
	for i := len(refs) - 1; i >= 0; i-- {
		if kept == len(refs) || compareRefs(refs[i], refs[kept]) <= 0 {
			kept--
			refs[kept] = refs[i]
		} else {
			moved = append(moved, refs[i])
		}
	}
	if len(moved) == 0 {
		return refs
	}
	slices.SortFunc(moved, compareRefs)
	// refs[:kept] is free, as long as moved: merging from the front never
	// writes past what it has read.
	at, in := 0, kept
	for in < len(refs) && len(moved) > 0 {
		if compareRefs(moved[0], refs[in]) < 0 {
			refs[at], moved = moved[0], moved[1:]
		} else {
			refs[at] = refs[in]
			in++
		}
		at++
	}
	copy(refs[at:], moved)
	return refs
}
