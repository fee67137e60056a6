package flowtable

import (
	"testing"
	"time"
)

type windowLog struct{ reps []WindowReport }

func (w *windowLog) FlowWindow(_ *Flow, r *WindowReport) { w.reps = append(w.reps, *r) }

// TestWindows walks one TCP exchange through three 10 s windows: a packet
// past the window closes it, the clock closes an idle flow's window, the
// end reports the last part, and each report holds only its own packets,
// seconds and tcp-flags.
func TestWindows(t *testing.T) {
	s, _ := newShard(t, Config{MaxFlows: 8, Window: 10 * time.Second})
	log := &windowLog{}
	s.SetWindowSink(log)
	// t0 is 12:00:00, a window start.
	s.Update(ptr(pkt(6, client, 1000, server, 80, 1*time.Second, tcpSyn)))
	s.Update(ptr(pkt(6, server, 80, client, 1000, 2*time.Second, tcpSyn|tcpAck)))
	s.Update(ptr(pkt(6, client, 1000, server, 80, 3*time.Second, tcpAck)))
	s.Update(ptr(pkt(6, client, 1000, server, 80, 12*time.Second, tcpAck|0x08))) // next window
	if len(log.reps) != 1 {
		t.Fatalf("%d reports after the first window, want 1", len(log.reps))
	}
	r := log.reps[0]
	if r.Start != t0 || r.Pkts != [2]uint32{2, 1} || r.IPBytes != [2]uint64{120, 60} ||
		r.Win.First != [2]uint16{2, 3} || r.Win.Last != [2]uint16{4, 3} || r.Win.Flags != [2]uint8{2, 18} {
		t.Errorf("first window %+v", r)
	}
	// The clock moves past the second window with no packet.
	s.Expire(t0+int64(25*time.Second), 0)
	if len(log.reps) != 2 {
		t.Fatalf("%d reports after the clock moved, want 2", len(log.reps))
	}
	if r := log.reps[1]; r.Start != t0+int64(10*time.Second) || r.Pkts != [2]uint32{1, 0} || r.Win.First != [2]uint16{3, 0} || r.Win.Flags != [2]uint8{0, 0} {
		t.Errorf("second window %+v", r)
	}
	// A late packet (before the window the shard is in) counts in it, at
	// its first second. Its RST does not make the flow refused: the SYN
	// was answered with a SYN-ACK.
	s.Update(ptr(pkt(6, server, 80, client, 1000, 15*time.Second, tcpRst)))
	f := s.Lookup(&ptr(pkt(6, client, 1000, server, 80, 0, 0)).Key)
	if f == nil || f.Refused() {
		t.Fatalf("flow %v refused=%v, want present and not refused", f, f != nil && f.Refused())
	}
	s.Remove(f, ReasonFlush)
	if len(log.reps) != 3 {
		t.Fatalf("%d reports after the end, want 3", len(log.reps))
	}
	if r := log.reps[2]; r.Start != t0+int64(20*time.Second) || r.Pkts != [2]uint32{0, 1} || r.Win.First != [2]uint16{0, 1} || r.Win.Flags != [2]uint8{0, 4} {
		t.Errorf("last window %+v", r)
	}
	// A new flow in the freed slot starts from zero.
	s.Update(ptr(pkt(17, client, 53, server, 53, 26*time.Second, 0)))
	s.Expire(t0+int64(40*time.Second), 0)
	if r := log.reps[3]; r.Pkts != [2]uint32{1, 0} || r.IPBytes != [2]uint64{60, 0} {
		t.Errorf("reused slot's window %+v", r)
	}
}

// TestRefused: a SYN answered by a bare RST, and a UDP datagram answered by
// ICMP port unreachable, refuse their flows; host unreachable does not.
func TestRefused(t *testing.T) {
	s, _ := newShard(t, Config{MaxFlows: 8})
	s.Update(ptr(pkt(6, client, 1000, server, 81, 0, tcpSyn)))
	s.Update(ptr(pkt(6, server, 81, client, 1000, time.Millisecond, tcpRst|tcpAck)))
	if f := s.Lookup(&ptr(pkt(6, client, 1000, server, 81, 0, 0)).Key); f == nil || !f.Refused() {
		t.Error("SYN answered by RST is not refused")
	}
	for _, c := range []struct {
		code uint8
		want bool
	}{{3, true}, {13, true}, {1, false}} {
		sport := 2000 + uint16(c.code)
		s.Update(ptr(pkt(17, client, sport, server, 53, 0, 0)))
		e := pkt(17, client, sport, server, 53, time.Millisecond, 0)
		e.Reverse = !e.Reverse
		e.Kind, e.ICMPType, e.ICMPCode = KindICMPError, 3, c.code
		s.Update(&e)
		f := s.Lookup(&e.Key)
		if f == nil || f.Refused() != c.want {
			t.Errorf("ICMP unreachable code %d: refused=%v, want %v", c.code, f != nil && f.Refused(), c.want)
		}
	}
}

func ptr(p Packet) *Packet { return &p }
