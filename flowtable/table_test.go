package flowtable

import (
	"net/netip"
	"testing"
	"time"
)

var (
	client = netip.MustParseAddr("10.0.0.1")
	server = netip.MustParseAddr("192.0.2.80")
	router = netip.MustParseAddr("198.51.100.1")
	t0     = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).UnixNano()
)

// pkt builds a Packet from src to dst the way the engine does.
func pkt(proto uint8, src netip.Addr, sport uint16, dst netip.Addr, dport uint16, at time.Duration, flags uint8) Packet {
	return pktVLAN(proto, src, sport, dst, dport, at, flags, [3]uint16{})
}

func pktVLAN(proto uint8, src netip.Addr, sport uint16, dst netip.Addr, dport uint16, at time.Duration, flags uint8, vlan [3]uint16) Packet {
	s, d := addr16(src), addr16(dst)
	fam := uint8(4)
	if src.Is6() {
		fam = 6
	}
	k, rev := MakeKey(&s, &d, sport, dport, proto, fam, vlan)
	return Packet{Key: k, Time: t0 + int64(at), FrameLen: 74, IPLen: 60, Reverse: rev, TCPFlags: flags}
}

func addr16(a netip.Addr) (b [16]byte) {
	if a.Is4() {
		v := a.As4()
		copy(b[:], v[:])
		return b
	}
	return a.As16()
}

type endLog struct{ flows []Flow }

func (e *endLog) FlowEnded(f *Flow) { e.flows = append(e.flows, *f) }

func newShard(t *testing.T, cfg Config) (*Shard, *endLog) {
	t.Helper()
	log := &endLog{}
	tab, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	return tab.Shard(0), log
}

func checkEnds(t *testing.T, f *Flow, src netip.Addr, sport uint16, pkts [2]uint32) {
	t.Helper()
	a, p := f.Src()
	if a != src || p != sport {
		t.Errorf("source = %v:%d, want %v:%d", a, p, src, sport)
	}
	if f.Pkts != pkts {
		t.Errorf("packets (to-server, to-client) = %v, want %v", f.Pkts, pkts)
	}
}

func TestHandshakeDirectionAndState(t *testing.T) {
	s, _ := newShard(t, Config{})
	steps := []struct {
		p     Packet
		state State
	}{
		{pkt(6, client, 40000, server, 80, 0, tcpSyn), StateNew},
		{pkt(6, server, 80, client, 40000, time.Millisecond, tcpSyn|tcpAck), StateEstablished},
		{pkt(6, client, 40000, server, 80, 2*time.Millisecond, tcpAck), StateEstablished},
		{pkt(6, client, 40000, server, 80, 3*time.Millisecond, tcpFin|tcpAck), StateClosing},
		{pkt(6, server, 80, client, 40000, 4*time.Millisecond, tcpFin|tcpAck), StateClosed},
		{pkt(6, client, 40000, server, 80, 5*time.Millisecond, tcpAck), StateClosed},
	}
	var f *Flow
	for i, st := range steps {
		f = s.Update(&st.p)
		if f.State != st.state {
			t.Fatalf("after packet %d: state %v, want %v", i, f.State, st.state)
		}
	}
	checkEnds(t, f, client, 40000, [2]uint32{4, 2})
	if f.TCPFlags != [2]uint8{tcpSyn | tcpAck | tcpFin, tcpSyn | tcpAck | tcpFin} {
		t.Errorf("flags per direction = %#x", f.TCPFlags)
	}
	if f.First != t0 || f.Last != t0+int64(5*time.Millisecond) {
		t.Errorf("first/last = %d/%d", f.First-t0, f.Last-t0)
	}
	if s.Len() != 1 {
		t.Errorf("Len = %d, want 1", s.Len())
	}
}

func TestSynAckFirstReverses(t *testing.T) {
	s, _ := newShard(t, Config{})
	p := pkt(6, server, 443, client, 50000, 0, tcpSyn|tcpAck)
	f := s.Update(&p)
	p = pkt(6, client, 50000, server, 443, time.Millisecond, tcpAck)
	s.Update(&p)
	if !f.Reversed() {
		t.Error("Reversed() = false for a flow first seen as SYN/ACK")
	}
	// The SYN/ACK went to the client, so it is to-client; the ACK to-server.
	checkEnds(t, f, client, 50000, [2]uint32{1, 1})
	if f.TCPFlags[ToClient] != tcpSyn|tcpAck || f.TCPFlags[ToServer] != tcpAck {
		t.Errorf("flags = %#x", f.TCPFlags)
	}

	// A midstream ACK first is not reversed: its sender is the source.
	p = pkt(6, server, 443, client, 50001, 0, tcpAck)
	f = s.Update(&p)
	if f.Reversed() {
		t.Error("midstream ACK flow reversed")
	}
	checkEnds(t, f, server, 443, [2]uint32{1, 0})
}

func TestPortReuseAfterClose(t *testing.T) {
	for _, closeBy := range []struct {
		name  string
		flags []uint8 // client, server alternately after the handshake
	}{
		{"fin", []uint8{tcpFin | tcpAck, tcpFin | tcpAck}},
		{"rst", []uint8{tcpRst}},
		{"half-close", []uint8{tcpFin | tcpAck}},
	} {
		t.Run(closeBy.name, func(t *testing.T) {
			s, log := newShard(t, Config{})
			at := time.Duration(0)
			send := func(fromClient bool, flags uint8) *Flow {
				at += time.Millisecond
				var p Packet
				if fromClient {
					p = pkt(6, client, 40000, server, 80, at, flags)
				} else {
					p = pkt(6, server, 80, client, 40000, at, flags)
				}
				return s.Update(&p)
			}
			first := send(true, tcpSyn)
			send(false, tcpSyn|tcpAck)
			send(true, tcpAck)
			for i, fl := range closeBy.flags {
				send(i%2 == 0, fl)
			}
			// A retransmitted-looking ACK does not start a new flow...
			if send(true, tcpAck) != first || len(log.flows) != 0 {
				t.Fatal("an ACK after close started a new flow")
			}
			// ...a new SYN does.
			second := send(true, tcpSyn)
			if len(log.flows) != 1 {
				t.Fatalf("%d flows ended, want 1", len(log.flows))
			}
			old := log.flows[0]
			if old.Reason != ReasonTCPClosed {
				t.Errorf("old flow ended with %v, want tcp-closed", old.Reason)
			}
			if old.TotalPkts() != uint64(4+len(closeBy.flags)) {
				t.Errorf("old flow has %d packets, want %d", old.TotalPkts(), 4+len(closeBy.flags))
			}
			if second.State != StateNew || second.TotalPkts() != 1 {
				t.Errorf("new flow: state %v, %d packets", second.State, second.TotalPkts())
			}
			if s.Len() != 1 {
				t.Errorf("Len = %d, want 1", s.Len())
			}
		})
	}
}

func TestICMPErrorAttribution(t *testing.T) {
	s, _ := newShard(t, Config{})
	// A UDP query from client to server...
	p := pkt(17, client, 5353, server, 53, 0, 0)
	f := s.Update(&p)
	// ...answered by a router with port unreachable, sent to the client. The
	// engine keys the error by the quoted packet (client→server) and marks it
	// as travelling the other way.
	e := pkt(17, client, 5353, server, 53, time.Millisecond, 0)
	e.Reverse = !e.Reverse
	e.Kind = KindICMPError
	e.FrameLen, e.IPLen = 70, 56
	if got := s.Update(&e); got != f {
		t.Fatal("ICMP error not counted toward the quoted flow")
	}
	checkEnds(t, f, client, 5353, [2]uint32{1, 1})
	if f.Bytes[ToClient] != 70 || f.IPBytes[ToClient] != 56 {
		t.Errorf("to-client bytes = %d/%d, want 70/56", f.Bytes[ToClient], f.IPBytes[ToClient])
	}
	// The error is not a reply: the flow is still new.
	if f.State != StateNew {
		t.Errorf("state after ICMP error = %v, want new", f.State)
	}
	// An error quoting a packet of no flow creates nothing.
	orphan := pkt(17, router, 1, server, 2, 2*time.Millisecond, 0)
	orphan.Kind = KindICMPError
	if s.Update(&orphan) != nil || s.Len() != 1 {
		t.Error("an ICMP error created a flow")
	}
	if s.Stats().ICMPErrorNoFlow != 1 {
		t.Errorf("ICMPErrorNoFlow = %d, want 1", s.Stats().ICMPErrorNoFlow)
	}
}

func TestVLANSeparatesFlows(t *testing.T) {
	s, _ := newShard(t, Config{})
	// The last two differ only in the third id, which a two-id key lost.
	stacks := [][3]uint16{{}, {10}, {20}, {10, 100}, {10, 100, 7}, {10, 100, 8}}
	for i, v := range stacks {
		p := pktVLAN(17, client, 1000, server, 53, time.Duration(i), 0, v)
		s.Update(&p)
		r := pktVLAN(17, server, 53, client, 1000, time.Duration(i)+1, 0, v)
		if f := s.Update(&r); f.TotalPkts() != 2 {
			t.Errorf("vlan %v: reply found a flow with %d packets", v, f.TotalPkts())
		}
	}
	if s.Len() != len(stacks) {
		t.Errorf("Len = %d, want %d (one per VLAN stack)", s.Len(), len(stacks))
	}
}

func TestTimeoutExpiry(t *testing.T) {
	to := DefaultTimeouts()
	s, log := newShard(t, Config{})
	udp := pkt(17, client, 1000, server, 53, 0, 0)
	s.Update(&udp)
	syn := pkt(6, client, 2000, server, 80, 0, tcpSyn)
	s.Update(&syn)
	// Just before the UDP new timeout nothing ends; at it, the UDP flow does.
	if n := s.Expire(t0+int64(to.UDPNew)-1, s.Cap()); n != 0 {
		t.Fatalf("Expire before the timeout ended %d flows", n)
	}
	if n := s.Expire(t0+int64(to.UDPNew), s.Cap()); n != 1 || log.flows[0].Key.Proto != 17 {
		t.Fatalf("Expire at the UDP timeout ended %d flows (%v)", n, log.flows)
	}
	if log.flows[0].Reason != ReasonTimeout {
		t.Errorf("reason %v, want timeout", log.flows[0].Reason)
	}
	// The TCP SYN-only flow lasts its own (longer) new timeout.
	if n := s.Expire(t0+int64(to.TCPNew), s.Cap()); n != 1 {
		t.Fatalf("Expire at the TCP new timeout ended %d flows", n)
	}
	// A packet after a flow's timeout starts a new flow even before any sweep.
	a := pkt(17, client, 3000, server, 53, 0, 0)
	first := *s.Update(&a)
	b := pkt(17, client, 3000, server, 53, to.UDPNew+time.Second, 0)
	if f := s.Update(&b); f.First == first.First || f.TotalPkts() != 1 {
		t.Error("packet after the timeout joined the old flow")
	}
	if last := log.flows[len(log.flows)-1]; last.Reason != ReasonTimeout || last.Key != a.Key {
		t.Errorf("inline expiry logged %v", last.Reason)
	}
	// A closed TCP flow ends after the closed timeout with reason tcp-closed.
	rst := pkt(6, client, 4000, server, 80, 0, tcpRst)
	s.Update(&rst)
	s.Expire(t0+int64(to.TCPClosed), s.Cap())
	if last := log.flows[len(log.flows)-1]; last.Reason != ReasonTCPClosed {
		t.Errorf("closed flow ended with %v, want tcp-closed", last.Reason)
	}
}

func TestEmergencyEviction(t *testing.T) {
	const max = 100
	s, log := newShard(t, Config{MaxFlows: max})
	// Fill the table with UDP flows one second apart...
	for i := range max {
		p := pkt(17, client, uint16(1000+i), server, 53, time.Duration(i)*time.Second/10, 0)
		s.Update(&p)
	}
	if s.Stats().Emergency {
		t.Fatal("emergency before the table was full")
	}
	// ...then keep adding: the table must stay bounded and evict.
	for i := range 50 {
		p := pkt(17, client, uint16(5000+i), server, 53, 5*time.Second+time.Duration(i)*time.Millisecond, 0)
		s.Update(&p)
		if s.Len() > max {
			t.Fatalf("table holds %d flows, bound is %d", s.Len(), max)
		}
	}
	st := s.Stats()
	if !st.Emergency || st.EmergencyEntered != 1 {
		t.Fatalf("emergency = %v, entered %d times", st.Emergency, st.EmergencyEntered)
	}
	if st.Ended[ReasonEvicted] != 50 || len(log.flows) != 50 {
		t.Fatalf("evicted %d, sink saw %d; want 50", st.Ended[ReasonEvicted], len(log.flows))
	}
	// The evicted flows are old ones, and marked as ended in emergency.
	for _, f := range log.flows {
		if f.Key.APort >= 5000 && f.Key.BPort >= 5000 {
			t.Errorf("a just-created flow was evicted: %v", f.Key)
		}
		if !f.Emergency() || f.Reason != ReasonEvicted {
			t.Errorf("evicted flow: emergency=%v reason=%v", f.Emergency(), f.Reason)
		}
	}
	// A flow flushed or ended by the stop while in emergency is not marked:
	// only timeouts and evictions are, as in Suricata.
	var flushed *Flow
	s.Range(func(f *Flow) bool { flushed = f; return false })
	if c := s.Ending(flushed, ReasonShutdown); c.Emergency() {
		t.Error("a flow ended by the stop in emergency mode is marked emergency")
	}
	s.Remove(flushed, ReasonFlush)
	if f := log.flows[len(log.flows)-1]; f.Reason != ReasonFlush || f.Emergency() {
		t.Errorf("flushed flow: emergency=%v reason=%v, want not marked", f.Emergency(), f.Reason)
	}
	// Emergency timeouts (UDP new 10 s) clear the table below the recovery
	// mark, which ends emergency mode; the first flows timed out are
	// marked.
	before := len(log.flows)
	s.Expire(t0+int64(30*time.Second), s.Cap())
	if f := log.flows[before]; f.Reason != ReasonTimeout || !f.Emergency() {
		t.Errorf("first flow timed out in emergency: emergency=%v reason=%v, want marked", f.Emergency(), f.Reason)
	}
	if st := s.Stats(); st.Emergency || st.EmergencyExited != 1 || s.Len() != 0 {
		t.Fatalf("after expiry: emergency=%v exited=%d len=%d", st.Emergency, st.EmergencyExited, s.Len())
	}
}

func TestRangeRemove(t *testing.T) {
	s, log := newShard(t, Config{MaxFlows: 64})
	for i := range 40 {
		p := pkt(17, client, uint16(i), server, 53, 0, 0)
		s.Update(&p)
	}
	// Flush the even source ports from inside Range, as a flush operation does.
	s.Range(func(f *Flow) bool {
		if _, sp := f.Src(); sp%2 == 0 {
			s.Remove(f, ReasonFlush)
		}
		return true
	})
	if s.Len() != 20 || len(log.flows) != 20 {
		t.Fatalf("after flush: %d left, %d ended", s.Len(), len(log.flows))
	}
	for i := range 40 {
		p := pkt(17, client, uint16(i), server, 53, 0, 0)
		f := s.Lookup(&p.Key)
		if (f == nil) != (i%2 == 0) {
			t.Errorf("port %d: found=%v after flush", i, f != nil)
		}
	}
	// A later packet of a flushed tuple starts a new flow.
	p := pkt(17, client, 0, server, 53, time.Second, 0)
	if f := s.Update(&p); f.TotalPkts() != 1 {
		t.Errorf("flushed tuple's new flow has %d packets", f.TotalPkts())
	}
}

// TestRemoveAll: every flow ends once with the reason and its counts, the
// counters add up, and the emptied shard works as a new one: the tuples are
// gone from the index and new flows are tracked.
func TestRemoveAll(t *testing.T) {
	s, log := newShard(t, Config{MaxFlows: 64})
	for i := range 40 {
		p := pkt(17, client, uint16(i), server, 53, 0, 0)
		s.Update(&p)
	}
	// Leave holes in the slab, as ended flows do.
	s.Range(func(f *Flow) bool {
		if _, sp := f.Src(); sp%3 == 0 {
			s.Remove(f, ReasonFlush)
		}
		return true
	})
	flushed := len(log.flows)
	s.RemoveAll(ReasonShutdown)
	ended := log.flows[flushed:]
	if len(ended) != 40-flushed || s.Len() != 0 || s.Stats().Active != 0 {
		t.Fatalf("RemoveAll ended %d of %d, %d left, %d active", len(ended), 40-flushed, s.Len(), s.Stats().Active)
	}
	if st := s.Stats(); st.Ended[ReasonShutdown] != uint64(len(ended)) {
		t.Errorf("shutdown counter %d, want %d", st.Ended[ReasonShutdown], len(ended))
	}
	for _, f := range ended {
		if f.Reason != ReasonShutdown || f.TotalPkts() != 1 {
			t.Errorf("ended flow: reason %v, %d packets", f.Reason, f.TotalPkts())
		}
	}
	for i := range 40 {
		p := pkt(17, client, uint16(i), server, 53, 0, 0)
		if s.Lookup(&p.Key) != nil {
			t.Fatalf("port %d still found after RemoveAll", i)
		}
	}
	for i := range 64 {
		p := pkt(17, client, uint16(100+i), server, 53, time.Second, 0)
		if f := s.Update(&p); f == nil || f.TotalPkts() != 1 {
			t.Fatalf("new flow %d after RemoveAll not tracked", i)
		}
	}
	if s.Len() != 64 {
		t.Fatalf("%d flows after refilling, want 64", s.Len())
	}
}

func TestMakeKeySymmetric(t *testing.T) {
	a := pkt(6, client, 1, server, 2, 0, 0)
	b := pkt(6, server, 2, client, 1, 0, 0)
	if a.Key != b.Key || a.Key.Hash() != b.Key.Hash() || a.Reverse == b.Reverse {
		t.Fatal("directions of one flow build different keys")
	}
	// Same addresses, ports decide the order.
	c := pkt(17, client, 9, client, 7, 0, 0)
	d := pkt(17, client, 7, client, 9, 0, 0)
	if c.Key != d.Key || c.Reverse == d.Reverse {
		t.Fatal("same-address flow not canonical")
	}
	v6a := netip.MustParseAddr("2001:db8::1")
	v6b := netip.MustParseAddr("2001:db8::2")
	e := pkt(6, v6b, 1, v6a, 2, 0, 0)
	if !e.Reverse || e.Key.A != addr16(v6a) {
		t.Fatal("IPv6 endpoints not ordered")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{{Shards: -1}, {Shards: 4, MaxFlows: 3}, {EmergencyRecovery: 100},
		{Timeouts: Timeouts{UDPNew: -time.Second}}} {
		if _, err := New(c, nil); err == nil {
			t.Errorf("New(%+v) accepted a bad config", c)
		}
	}
}

func TestUpdateAllocs(t *testing.T) {
	s, _ := newShard(t, Config{MaxFlows: 4096})
	tr := newTraffic(7, 1000)
	pkts := make([]Packet, 10000)
	for i := range pkts {
		tr.next(&pkts[i])
	}
	i := 0
	allocs := testing.AllocsPerRun(20000, func() {
		p := &pkts[i%len(pkts)]
		s.Update(p)
		if i%64 == 0 {
			s.Expire(p.Time, 32)
		}
		i++
	})
	if allocs != 0 {
		t.Fatalf("Update/Expire allocate %v times per packet", allocs)
	}
	allocs = testing.AllocsPerRun(10, func() {
		s.Range(func(f *Flow) bool { return true })
		k := pkts[0].Key
		s.Lookup(&k)
	})
	if allocs != 0 {
		t.Fatalf("Range/Lookup allocate %v times", allocs)
	}
}

// TestIndexGrows fills a shard far past the initial index size: every flow
// stays findable through each doubling, and removals after growth work.
func TestIndexGrows(t *testing.T) {
	s, _ := newShard(t, Config{MaxFlows: 100_000})
	tr := newBenchWorkload(60_000, false)
	for i := range tr.pkts {
		s.Update(&tr.pkts[i])
	}
	if s.Len() != len(tr.pkts) || len(s.index) != 1<<17 {
		t.Fatalf("Len %d, index %d slots", s.Len(), len(s.index))
	}
	for i := range tr.pkts {
		if s.Lookup(&tr.pkts[i].Key) == nil {
			t.Fatalf("flow %d lost after growing the index", i)
		}
	}
	for i := 0; i < len(tr.pkts); i += 2 {
		s.Remove(s.Lookup(&tr.pkts[i].Key), ReasonFlush)
	}
	for i := range tr.pkts {
		if (s.Lookup(&tr.pkts[i].Key) == nil) != (i%2 == 0) {
			t.Fatalf("flow %d: wrong presence after removals", i)
		}
	}
}
