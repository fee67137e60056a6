package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flowd/flowd/filter"
	"github.com/flowd/flowd/flowtable"
	"github.com/flowd/flowd/internal/synth"
)

// benchEngine is a started engine holding n synthetic flows, built once per
// (workers, n) and kept for every benchmark that wants it.
var benchEngines sync.Map

func benchEngine(b *testing.B, workers, n int) *Engine {
	key := fmt.Sprint(workers, "/", n)
	if e, ok := benchEngines.Load(key); ok {
		return e.(*Engine)
	}
	e, err := New(Config{Workers: workers, Table: flowtable.Config{MaxFlows: 2 * n}})
	if err != nil {
		b.Fatal(err)
	}
	e.AddSource(synth.New(n), SourceInfo{Name: "synth"})
	if err := e.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	<-e.SourcesDone()
	if st := e.Status(); st.Table.Active != uint64(n) {
		b.Fatalf("%d flows in the table, want %d", st.Table.Active, n)
	}
	benchEngines.Store(key, e)
	return e
}

// twentyFilters is a selective operation of 20 filters over every
// dimension: /16 client blocks, server ports and ranges, protocols, IPv6.
func twentyFilters(b testing.TB) *filter.Set {
	var fs []filter.Filter
	for i := range 20 {
		f := filter.Filter{}
		switch i % 4 {
		case 0:
			f.SourceAddress = str(fmt.Sprintf("10.%d.0.0/16", i))
			f.DestinationPort = str("443")
			f.Protocols = []string{"6"}
		case 1:
			f.SourceAddress = str(fmt.Sprintf("10.%d.128.0/17", i))
			f.DestinationPort = str("50:60")
		case 2:
			f.DestinationAddress = str(fmt.Sprintf("2001:db8::%x/128", i))
			f.SourcePort = str("1024:2047")
		case 3:
			f.DestinationAddress = str(fmt.Sprintf("198.18.%d.0/24", i))
			f.Protocols = []string{"17", "132"}
			f.SourcePort = str("ANY")
		}
		fs = append(fs, f)
	}
	return compile(b, 5, fs...)
}

// BenchmarkScanFilters measures flows scanned per second with 20 compiled
// filters over a table of 1 M flows, one worker (one core), through the
// scan flow operations use (Engine.Scan: the predicate, the scope check and
// the results of the flows that match). "selective" matches about 4 % of
// the flows; "none" is the same 20 filters with a minimum age no flow has
// (the age test comes first, so this is the cost of the walk and the call);
// "floor" walks the shard with every source out of scope, so each flow
// costs one bounds check.
func BenchmarkScanFilters(b *testing.B) {
	const flows = 1_000_000
	sel := twentyFilters(b)
	none := compile(b, 1<<30, sel.Filters()...)
	for _, c := range []struct {
		name string
		set  *filter.Set
	}{{"20-filters/selective", sel}, {"20-filters/none", none}, {"floor", nil}} {
		b.Run(c.name+"/workers=1/flows=1M", func(b *testing.B) {
			e := benchEngine(b, 1, flows)
			o, err := NewOps(e, OpsConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			var matched int
			b.ReportAllocs()
			for b.Loop() {
				if c.set == nil {
					res, err := e.Scan(context.Background(), ScanRequest{Sources: []bool{}})
					if err != nil {
						b.Fatal(err)
					}
					matched = res.Matched
					continue
				}
				res, err := e.Scan(context.Background(), ScanRequest{Filters: c.set, Limit: DefaultOpResultCap})
				if err != nil {
					b.Fatal(err)
				}
				matched = res.Matched
			}
			b.ReportMetric(float64(flows)*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
			b.ReportMetric(float64(matched), "matched")
		})
	}
}

// BenchmarkMatchFlow is the predicate alone over a slice of table flows:
// the ceiling of the scan above.
func BenchmarkMatchFlow(b *testing.B) {
	e := benchEngine(b, 1, 1_000_000)
	var flows []flowtable.Flow
	err := e.do(context.Background(), func(_ int, s *flowtable.Shard) {
		s.Range(func(f *flowtable.Flow) bool { flows = append(flows, *f); return true })
	})
	if err != nil {
		b.Fatal(err)
	}
	set := twentyFilters(b)
	now := e.Now()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for i := range flows {
			if matchFlow(set, &flows[i], now) {
				n++
			}
		}
	}
	b.ReportMetric(float64(len(flows))*float64(b.N)/b.Elapsed().Seconds(), "flows/s")
}

// BenchmarkOpCapture measures the operation end to end inside the engine:
// Start, the scan, results built, COMPLETED (the operation's own cost,
// without HTTP; the API benchmark adds it).
func BenchmarkOpCapture(b *testing.B) {
	for _, c := range []struct {
		name string
		set  func(testing.TB) *filter.Set
	}{
		{"selective", twentyFilters},
		{"all", func(t testing.TB) *filter.Set { return compile(t, 0, filter.Filter{}) }},
	} {
		b.Run(c.name+"/flows=1M", func(b *testing.B) {
			e := benchEngine(b, 1, 1_000_000)
			o, err := NewOps(e, OpsConfig{Retention: time.Nanosecond})
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			set := c.set(b)
			var got int
			b.ReportAllocs()
			for b.Loop() {
				op, err := o.Start(OpRequest{Type: OpCapture, Filters: set})
				if err != nil {
					b.Fatal(err)
				}
				op, err = o.Wait(context.Background(), op.ID)
				if err != nil || op.Status != OpCompleted {
					b.Fatal(op.Status, err)
				}
				got = op.Flows.Len()
			}
			b.ReportMetric(float64(got), "flows")
		})
	}
}
