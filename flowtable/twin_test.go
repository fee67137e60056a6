package flowtable

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// twin is the dumb reference for Table: a Go map of pointers, written the
// obvious way from the rules in the package doc . It has no memory
// bound, so tests compare it with tables that never fill up.
type twin struct {
	flows map[Key]*twinFlow
	ended []twinFlow
	to    Timeouts
}

type twinFlow struct {
	key              Key
	srcIsB, reversed bool
	state            State
	seen, fin        [2]bool
	flags            [2]uint8
	first, last      int64
	pkts             [2]uint64
	bytes, ipbytes   [2]uint64
	reason           EndReason
}

func newTwin() *twin {
	return &twin{flows: map[Key]*twinFlow{}, to: DefaultTimeouts()}
}

func (tw *twin) timeout(f *twinFlow) time.Duration {
	var n, e, c time.Duration
	switch f.key.Proto {
	case 6:
		n, e, c = tw.to.TCPNew, tw.to.TCPEstablished, tw.to.TCPClosed
	case 17:
		n, e = tw.to.UDPNew, tw.to.UDPEstablished
	case 1, 58:
		n, e = tw.to.ICMPNew, tw.to.ICMPEstablished
	default:
		n, e = tw.to.OtherNew, tw.to.OtherEstablished
	}
	switch f.state {
	case StateNew:
		return n
	case StateClosed:
		if f.key.Proto == 6 {
			return c
		}
	}
	return e
}

func (tw *twin) end(f *twinFlow, r EndReason) {
	f.reason = r
	tw.ended = append(tw.ended, *f)
	delete(tw.flows, f.key)
}

func (tw *twin) expiredReason(f *twinFlow) EndReason {
	if f.state == StateClosed {
		return ReasonTCPClosed
	}
	return ReasonTimeout
}

func (tw *twin) update(p *Packet) {
	f := tw.flows[p.Key]
	if f != nil {
		idle := time.Duration(p.Time - f.last)
		pureSyn := p.Key.Proto == 6 && p.Kind == KindNormal && p.TCPFlags&(tcpSyn|tcpAck|tcpRst) == tcpSyn
		switch {
		case idle >= tw.timeout(f):
			tw.end(f, tw.expiredReason(f))
			f = nil
		case pureSyn && (f.state == StateClosing || f.state == StateClosed):
			tw.end(f, ReasonTCPClosed)
			f = nil
		}
	}
	if f == nil {
		if p.Kind == KindICMPError {
			return
		}
		f = &twinFlow{key: p.Key, srcIsB: p.Reverse, state: StateNew, first: p.Time, last: p.Time}
		if p.Key.Proto == 6 && p.TCPFlags&tcpSyn != 0 && p.TCPFlags&tcpAck != 0 {
			f.srcIsB = !f.srcIsB
			f.reversed = true
		}
		tw.flows[p.Key] = f
	}
	// Direction: 0 when the sender is the source.
	dir := 1
	if p.Reverse == f.srcIsB {
		dir = 0
	}
	f.pkts[dir]++
	f.bytes[dir] += uint64(p.FrameLen)
	f.ipbytes[dir] += uint64(p.IPLen)
	f.last = max(f.last, p.Time)
	f.first = min(f.first, p.Time)
	if p.Kind == KindICMPError {
		return
	}
	f.seen[dir] = true
	if p.Key.Proto != 6 {
		if f.seen[0] && f.seen[1] {
			f.state = StateEstablished
		}
		return
	}
	f.flags[dir] |= p.TCPFlags
	if f.state == StateClosed {
		return
	}
	if p.TCPFlags&tcpRst != 0 {
		f.state = StateClosed
		return
	}
	if p.TCPFlags&tcpFin != 0 {
		f.fin[dir] = true
	}
	if f.fin[0] && f.fin[1] {
		f.state = StateClosed
	} else if f.fin[0] || f.fin[1] {
		f.state = StateClosing
	} else if f.seen[0] && f.seen[1] {
		f.state = StateEstablished
	}
}

func (tw *twin) expire(now int64) {
	for _, f := range tw.flows {
		if time.Duration(now-f.last) >= tw.timeout(f) {
			tw.end(f, tw.expiredReason(f))
		}
	}
}

// summary renders a flow the same way for both implementations.
func (f *twinFlow) summary() string {
	side := func(b bool) ([16]byte, uint16) {
		if b {
			return f.key.B, f.key.BPort
		}
		return f.key.A, f.key.APort
	}
	sa, sp := side(f.srcIsB)
	da, dp := side(!f.srcIsB)
	return fmt.Sprintf("%d %x:%d>%x:%d v%v %s %s rev=%v pk=%v by=%v ip=%v fl=%v %d-%d",
		f.key.Proto, sa[:4], sp, da[:4], dp, f.key.VLAN.IDs(), f.state, f.reason, f.reversed,
		f.pkts, f.bytes, f.ipbytes, f.flags, f.first, f.last)
}

func flowSummary(f *Flow) string {
	tf := twinFlow{key: f.Key, srcIsB: f.sourceSide() == 1, reversed: f.Reversed(), state: f.State,
		flags: f.TCPFlags, first: f.First, last: f.Last, reason: f.Reason,
		pkts: [2]uint64{uint64(f.Pkts[0]), uint64(f.Pkts[1])}, bytes: f.Bytes, ipbytes: f.IPBytes}
	return tf.summary()
}

type collectSink struct{ got []string }

func (c *collectSink) FlowEnded(f *Flow) { c.got = append(c.got, flowSummary(f)) }

// traffic makes seeded random packets over a pool of endpoint pairs: TCP with
// every flag mix that matters, UDP, ICMP, ICMP errors, two VLANs, and time
// gaps that sometimes exceed the timeouts.
type traffic struct {
	r     *rand.Rand
	pairs []Packet
	zipf  *rand.Zipf
	now   int64
}

func newTraffic(seed uint64, pairs int) *traffic {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	tr := &traffic{r: r, now: 1_700_000_000e9}
	protos := []uint8{6, 6, 6, 17, 17, 1, 132}
	for range pairs {
		var src, dst [16]byte
		fam := uint8(4)
		if r.IntN(4) == 0 {
			fam = 6
			for i := range src {
				src[i], dst[i] = byte(r.UintN(4)), byte(r.UintN(4))
			}
		} else {
			for i := range 4 {
				src[i], dst[i] = byte(r.UintN(4)), byte(r.UintN(4))
			}
		}
		proto := protos[r.IntN(len(protos))]
		var sp, dp uint16
		if proto != 1 {
			sp, dp = uint16(r.IntN(3)), uint16(r.IntN(3))
		}
		vlan := [3]uint16{uint16(r.IntN(2)), 0, uint16(r.IntN(2))}
		k, rev := MakeKey(&src, &dst, sp, dp, proto, fam, vlan)
		tr.pairs = append(tr.pairs, Packet{Key: k, Reverse: rev})
	}
	tr.zipf = rand.NewZipf(r, 1.2, 1, uint64(pairs-1))
	return tr
}

func (tr *traffic) next(p *Packet) {
	r := tr.r
	*p = tr.pairs[tr.zipf.Uint64()]
	switch n := r.IntN(1000); {
	case n < 1:
		tr.now += int64(400 * time.Second) // past every timeout
	case n < 3:
		tr.now += int64(time.Duration(r.IntN(90)) * time.Second)
	default:
		tr.now += int64(r.IntN(50_000_000))
	}
	p.Time = tr.now - int64(r.IntN(1000)) // a little reordering
	if r.IntN(2) == 0 {
		p.Reverse = !p.Reverse
	}
	p.FrameLen = uint32(60 + r.IntN(1400))
	p.IPLen = p.FrameLen - 14
	p.Source = 1
	if p.Key.Proto == 6 {
		flags := []uint8{tcpSyn, tcpSyn | tcpAck, tcpAck, tcpAck | 0x08, tcpAck, tcpAck, tcpFin | tcpAck, tcpRst, tcpRst | tcpAck}
		p.TCPFlags = flags[r.IntN(len(flags))]
	}
	if r.IntN(40) == 0 {
		p.Kind = KindICMPError
		p.TCPFlags = 0
	}
}

// TestTableMatchesTwin drives the table and the map twin with the same
// random traffic and compares every flow ended and every flow left.
func TestTableMatchesTwin(t *testing.T) {
	for _, tc := range []struct {
		seed          uint64
		pairs, pkts   int
		shards, sweep int
	}{
		{1, 50, 20_000, 1, 0},
		{2, 500, 50_000, 1, 1},
		{3, 5000, 100_000, 4, 7},
		{4, 64, 50_000, 3, 64},
	} {
		t.Run(fmt.Sprintf("seed%d", tc.seed), func(t *testing.T) {
			sink := &collectSink{}
			// Just room for every pair in any shard: the index runs at up to
			// 3/4 load, so probe runs and backward shifts get exercised.
			tab, err := New(Config{Shards: tc.shards, MaxFlows: tc.pairs * tc.shards}, sink)
			if err != nil {
				t.Fatal(err)
			}
			tw := newTwin()
			tr := newTraffic(tc.seed, tc.pairs)
			var p Packet
			// Odd seeds count packets one by one, even seeds in batches, as
			// the engine's workers do.
			pending := make([][]Packet, tab.NumShards())
			drain := func() {
				for s, ps := range pending {
					tab.Shard(s).UpdateBatch(ps)
					pending[s] = ps[:0]
				}
			}
			for i := range tc.pkts {
				tr.next(&p)
				if tc.seed%2 == 1 {
					tab.Shard(tab.ShardOf(&p)).Update(&p)
				} else {
					s := tab.ShardOf(&p)
					pending[s] = append(pending[s], p)
				}
				tw.update(&p)
				if tc.sweep > 0 && i%tc.sweep == 0 {
					drain()
					// Full sweeps on both at the same clock.
					for s := range tab.NumShards() {
						tab.Shard(s).Expire(tr.now, tab.Shard(s).Cap())
					}
					tw.expire(tr.now)
				}
			}
			drain()
			var want []string
			for _, f := range tw.ended {
				want = append(want, f.summary())
			}
			slices.Sort(want)
			slices.Sort(sink.got)
			if !slices.Equal(sink.got, want) {
				t.Fatalf("ended flows differ: table %d, twin %d\n%s", len(sink.got), len(want), firstDiff(sink.got, want))
			}
			var gotLive, wantLive []string
			total := 0
			for s := range tab.NumShards() {
				sh := tab.Shard(s)
				total += sh.Len()
				sh.Range(func(f *Flow) bool { gotLive = append(gotLive, flowSummary(f)); return true })
			}
			for _, f := range tw.flows {
				wantLive = append(wantLive, f.summary())
			}
			slices.Sort(gotLive)
			slices.Sort(wantLive)
			if !slices.Equal(gotLive, wantLive) {
				t.Fatalf("live flows differ: table %d, twin %d\n%s", len(gotLive), len(wantLive), firstDiff(gotLive, wantLive))
			}
			if total != len(tw.flows) {
				t.Fatalf("Len() sums to %d, twin holds %d", total, len(tw.flows))
			}
			t.Logf("%d ended, %d live", len(want), len(wantLive))
			if len(want) == 0 || len(wantLive) == 0 {
				t.Fatal("workload too tame: nothing ended or nothing left")
			}
		})
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at %d:\n table: %s\n twin:  %s", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("one list is a prefix of the other (%d vs %d)", len(a), len(b))
}
