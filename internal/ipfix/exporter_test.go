package ipfix

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock that moves only when slept on.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memLink is a transport twin that keeps every message and when it was sent.
type memLink struct {
	mu    sync.Mutex
	clock func() time.Time
	msgs  [][]byte
	at    []time.Time
	fail  bool
}

func (l *memLink) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail {
		return 0, errors.New("link down")
	}
	l.msgs = append(l.msgs, append([]byte(nil), b...))
	if l.clock != nil {
		l.at = append(l.at, l.clock())
	}
	return len(b), nil
}

func (l *memLink) Close() error { return nil }

// syncExporter builds an exporter whose goroutine is not started, so a test
// drives handle and flush itself, deterministically, on a fake clock.
func syncExporter(t *testing.T, cfg Config, clock *fakeClock) (*Exporter, *memLink) {
	t.Helper()
	cfg.Clock = clock.now
	if err := cfg.fill(); err != nil {
		t.Fatal(err)
	}
	e := newExporter(cfg, false)
	e.now, e.stamp, e.sleep = clock.now, clock.now, clock.sleep
	l := &memLink{clock: clock.now}
	e.conn = l
	return e, l
}

// uniRecord returns a forward-only IPv4 record (one data record uniflow).
func uniRecord(i int) Record {
	r := tcpRecord()
	r.Packets = [2]uint64{uint64(i + 1), 0}
	r.SrcPort = uint16(i)
	return r
}

func TestSequenceNumbersIPFIX(t *testing.T) {
	clock := &fakeClock{t: wireNow}
	e, l := syncExporter(t, Config{Collector: "127.0.0.1:9", MaxMessageSize: 300,
		TemplateMessages: 3, TemplateInterval: 10 * time.Second, MessagesPerSecond: -1}, clock)
	// 300 bytes hold 4 IPv4 data records: records with both directions
	// and forward-only ones alternate, so messages hold 2 to 4 records.
	for i := 0; i < 60; i++ {
		r := tcpRecord()
		if i%3 == 0 {
			r.Packets[1] = 0
		}
		e.handle(&r, time.Time{})
		if i == 40 {
			e.flush(time.Time{})
			clock.sleep(11 * time.Second) // past the template interval
		}
	}
	e.flush(time.Time{})

	w := newWireReader()
	var dataBefore uint32
	var sinceTemplates, templateMsgs, dataMsgs int
	for i, m := range l.msgs {
		h, ntmpl, recs, err := w.read(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if h.seq != dataBefore {
			t.Fatalf("message %d: sequence %d, want %d (data records sent before it)", i, h.seq, dataBefore)
		}
		if h.domain != 0 || h.version != 10 {
			t.Fatalf("message %d: header %+v", i, h)
		}
		if ntmpl > 0 {
			if len(recs) != 0 {
				t.Fatalf("message %d mixes templates and data", i)
			}
			templateMsgs++
			sinceTemplates = 0
			continue
		}
		if i == 0 {
			t.Fatal("first message is not the templates")
		}
		dataMsgs++
		sinceTemplates++
		if sinceTemplates > 3 {
			t.Fatalf("message %d: %d data messages since the templates, refresh is every 3", i, sinceTemplates)
		}
		dataBefore += uint32(len(recs))
	}
	s := e.Stats()
	if uint64(dataBefore) != s.DataRecords || s.DataRecords != 100 || s.Exported != 60 {
		t.Fatalf("decoded %d data records; stats %+v (want 100 data records from 60 Records)", dataBefore, s)
	}
	// 60 Records in messages of 2-4 data records, templates every 3 data
	// messages, plus one refresh forced by the interval after record 40.
	if want := (dataMsgs+2)/3 + 1; templateMsgs < want-1 || templateMsgs > want+1 || uint64(templateMsgs) != s.Templates {
		t.Fatalf("%d template messages (stats %d) for %d data messages", templateMsgs, s.Templates, dataMsgs)
	}
}

func TestSequenceNumbersNetFlow9(t *testing.T) {
	clock := &fakeClock{t: wireNow}
	e, l := syncExporter(t, Config{Collector: "127.0.0.1:9", Protocol: NetFlow9, MaxMessageSize: 300,
		TemplateMessages: 4, MessagesPerSecond: -1}, clock)
	for i := 0; i < 50; i++ {
		r := uniRecord(i)
		if i%5 == 0 {
			r.Family = 6
		}
		e.handle(&r, time.Time{})
	}
	e.flush(time.Time{})
	w := newWireReader()
	var prevUptime uint32
	total := 0
	for i, m := range l.msgs {
		h, ntmpl, recs, err := w.read(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if h.seq != uint32(i) {
			t.Fatalf("message %d: sequence %d, want %d (v9 counts messages)", i, h.seq, i)
		}
		if int(h.length) != ntmpl+len(recs) {
			t.Fatalf("message %d: count %d, holds %d templates + %d data records", i, h.length, ntmpl, len(recs))
		}
		if h.uptime < prevUptime {
			t.Fatalf("message %d: sysUptime went back", i)
		}
		prevUptime = h.uptime
		total += len(recs)
		for _, r := range recs {
			// FIRST_SWITCHED relative to this message's uptime and
			// export time gives back the record's start in ms.
			first := int64(h.exportSec)*1000 - int64(h.uptime) + int64(r.u(22))
			if first != 1700000000123 {
				t.Fatalf("message %d: first switched maps to %d", i, first)
			}
		}
	}
	if total != 50 {
		t.Fatalf("%d data records, want 50", total)
	}
}

func TestPacingCountsPerTick(t *testing.T) {
	const rate, burst = 100, 5
	clock := &fakeClock{t: wireNow}
	// 16 + 4 + 20×58 = 1180 bytes: exactly 20 records a message.
	e, l := syncExporter(t, Config{Collector: "127.0.0.1:9", MaxMessageSize: 1180,
		MessagesPerSecond: rate, Burst: burst, TemplateMessages: -1, TemplateInterval: -1}, clock)
	const messages = 1000
	for i := 0; i < messages*20; i++ {
		r := uniRecord(i)
		e.handle(&r, time.Time{})
	}
	e.flush(time.Time{})
	if len(l.at) != messages+1 { // and one template message
		t.Fatalf("%d messages sent, want %d", len(l.at), messages+1)
	}
	// Count messages per fake second: never more than rate + burst, and
	// every full second but the first carries exactly the rate.
	perSec := map[int64]int{}
	start := l.at[0]
	for _, at := range l.at {
		perSec[int64(at.Sub(start)/time.Second)]++
	}
	secs := int64(l.at[len(l.at)-1].Sub(start) / time.Second)
	for s := int64(0); s < secs; s++ {
		n := perSec[s]
		if n > rate+burst || (s > 0 && (n < rate-1 || n > rate+1)) {
			t.Errorf("second %d: %d messages, rate %d burst %d", s, n, rate, burst)
		}
	}
	// All of it took (messages+1-burst)/rate fake seconds, to one interval.
	want := time.Duration(messages+1-burst) * time.Second / rate
	if got := l.at[len(l.at)-1].Sub(start); got < want-time.Second/rate || got > want+time.Second/rate {
		t.Errorf("sending took %v of fake time, want %v", got, want)
	}
}

func TestPacerBurst(t *testing.T) {
	p := newPacer(10, 3)
	now := wireNow
	for i := 0; i < 3; i++ {
		if d := p.wait(now); d != 0 {
			t.Fatalf("message %d of the burst waits %v", i, d)
		}
	}
	if d := p.wait(now); d != 100*time.Millisecond {
		t.Fatalf("after the burst: wait %v, want 100ms", d)
	}
	// An idle second refills the burst, no more.
	now = now.Add(5 * time.Second)
	for i := 0; i < 3; i++ {
		if d := p.wait(now); d != 0 {
			t.Fatalf("refilled message %d waits %v", i, d)
		}
	}
	if d := p.wait(now); d == 0 {
		t.Fatal("burst larger than 3 after idling")
	}
}

func TestCloseTimeoutCountsLeftovers(t *testing.T) {
	clock := &fakeClock{t: wireNow}
	e, l := syncExporter(t, Config{Collector: "127.0.0.1:9", MaxMessageSize: 1180,
		MessagesPerSecond: 10, Burst: 1, CloseTimeout: 2 * time.Second}, clock)
	for i := 0; i < 2000; i++ { // 100 messages at 10/s: 10 s, more than the 2 s allowed
		r := uniRecord(i)
		e.queue <- r
		e.added.Add(1)
	}
	e.drain()
	s := e.Stats()
	if s.Added != s.Exported+s.DroppedClose || s.DroppedClose == 0 || s.Exported == 0 {
		t.Fatalf("stats %+v: want some exported, the rest dropped at close", s)
	}
	// 2 s at 10/s: 20 messages and the template message, give or take one.
	if n := len(l.msgs); n < 20 || n > 22 || s.Exported != 20*(s.Messages) {
		t.Fatalf("%d messages in 2 s at 10/s (burst 1); stats %+v", n, s)
	}
}

func TestFailedSendsCounted(t *testing.T) {
	clock := &fakeClock{t: wireNow}
	e, l := syncExporter(t, Config{Collector: "127.0.0.1:9", MessagesPerSecond: -1}, clock)
	r := uniRecord(1)
	e.handle(&r, time.Time{})
	l.fail = true
	e.flush(time.Time{})
	l.fail = false
	e.handle(&r, time.Time{})
	e.flush(time.Time{})
	s := e.Stats()
	if s.DroppedSend != 1 || s.Exported != 1 || s.SendErrors != 1 {
		t.Fatalf("stats %+v", s)
	}
	// The message that failed did not move the sequence number.
	h, _, _, err := newWireReader().read(l.msgs[0])
	if err != nil || h.seq != 0 {
		t.Fatalf("template message after failure: %+v %v", h, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Collector: "127.0.0.1"},
		{Collector: "sctp://127.0.0.1:4739"},
		{Collector: "127.0.0.1:4739", Protocol: NetFlow9, Biflow: true},
		{Collector: "127.0.0.1:4739", MaxMessageSize: 100},
		{Collector: "127.0.0.1:4739", Protocol: 7},
	} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: error %v, want ErrConfig", c, err)
		}
	}
}

// udpCollector listens on a loopback port and hands over every datagram.
func udpCollector(t *testing.T) (*net.UDPConn, <-chan []byte) {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	pc.SetReadBuffer(4 << 20)
	ch := make(chan []byte, 100000)
	go func() {
		b := make([]byte, 65536)
		for {
			n, err := pc.Read(b)
			if err != nil {
				close(ch)
				return
			}
			ch <- append([]byte(nil), b[:n]...)
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return pc, ch
}

// collect reads datagrams until none has come for a while.
func collect(ch <-chan []byte, quiet time.Duration) [][]byte {
	var out [][]byte
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, m)
		case <-time.After(quiet):
			return out
		}
	}
}

// TestSeveralExporters runs an IPFIX and a NetFlow v9 exporter at once, to
// two loopback collectors, and checks each got exactly its own records.
func TestSeveralExporters(t *testing.T) {
	pc1, ch1 := udpCollector(t)
	pc2, ch2 := udpCollector(t)
	a, err := New(Config{Collector: pc1.LocalAddr().String(), ObservationDomain: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Collector: "udp://" + pc2.LocalAddr().String(), Protocol: NetFlow9, ObservationDomain: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		r := uniRecord(i)
		if !a.Add(&r) {
			t.Fatal("queue full")
		}
		r.DstPort = 53
		r.Proto = 17
		if !b.Add(&r) {
			t.Fatal("queue full")
		}
	}
	sa, errA := a.Close()
	sb, errB := b.Close()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	for _, c := range []struct {
		ch      <-chan []byte
		s       Stats
		version uint16
		domain  uint32
		proto   uint64
	}{{ch1, sa, 10, 1, 6}, {ch2, sb, 9, 2, 17}} {
		w := newWireReader()
		seen := map[uint64]bool{}
		for _, m := range collect(c.ch, 300*time.Millisecond) {
			h, _, recs, err := w.read(m)
			if err != nil {
				t.Fatal(err)
			}
			if h.version != c.version || h.domain != c.domain {
				t.Fatalf("header %+v, want version %d domain %d", h, c.version, c.domain)
			}
			for _, r := range recs {
				if r.u(4) != c.proto || r.u(2) != r.u(7)+1 {
					t.Fatalf("record %v", r.vals)
				}
				seen[r.u(7)] = true
			}
		}
		if len(seen) != 300 || c.s.Exported != 300 || c.s.Dropped() != 0 {
			t.Fatalf("v%d: %d distinct records received, stats %+v", c.version, len(seen), c.s)
		}
	}
}

// closedPort returns a loopback port nothing listens on (for the protocol).
func closedPort(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		pc.Close()
		return addr
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestCollectorDownUDP(t *testing.T) {
	e, err := New(Config{Collector: closedPort(t, "udp"), FlushInterval: 5 * time.Millisecond, MessagesPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	// Each flush sends a datagram; the port-unreachable it draws fails a
	// later send. Feed until a failure has been counted.
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; e.Stats().SendErrors == 0 && time.Now().Before(deadline); i++ {
		r := uniRecord(i)
		e.Add(&r)
		time.Sleep(10 * time.Millisecond)
	}
	s, err := e.Close()
	if s.SendErrors == 0 || s.DroppedSend == 0 || !errors.Is(err, ErrDropped) {
		t.Fatalf("stats %+v, error %v: want send errors and drops counted", s, err)
	}
	if s.Added != s.Exported+s.DroppedSend+s.DroppedClose {
		t.Fatalf("stats %+v do not add up", s)
	}
}

func TestCollectorDownTCP(t *testing.T) {
	e, err := New(Config{Collector: "tcp://" + closedPort(t, "tcp"), QueueSize: 64,
		FlushInterval: 5 * time.Millisecond, ReconnectMin: 5 * time.Millisecond, ReconnectMax: 20 * time.Millisecond,
		CloseTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for i := 0; i < 5000; i++ { // never blocks: a full queue drops
		r := uniRecord(i)
		if e.Add(&r) {
			accepted++
		}
		if i%500 == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	s, err := e.Close()
	if !errors.Is(err, ErrDropped) || s.Exported != 0 || s.SendErrors == 0 || s.DroppedQueue == 0 {
		t.Fatalf("stats %+v, error %v", s, err)
	}
	if s.Added != uint64(accepted) || s.Added+s.DroppedQueue != 5000 || s.Added != s.DroppedSend+s.DroppedClose {
		t.Fatalf("stats %+v do not add up (%d accepted)", s, accepted)
	}
	// After Close, Add refuses and counts.
	r := uniRecord(0)
	if e.Add(&r) || e.Stats().DroppedQueue != s.DroppedQueue+1 {
		t.Fatal("Add after Close")
	}
}

// TestTCPStreamAndReconnect reads IPFIX over TCP, cuts the connection and
// checks the exporter reconnects and sends its templates first again.
func TestTCPStreamAndReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	type conn struct {
		msgs [][]byte
	}
	conns := make(chan conn, 4)
	go func() {
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var got conn
			for {
				var h [4]byte
				if _, err := io.ReadFull(c, h[:]); err != nil {
					break
				}
				l := int(binary.BigEndian.Uint16(h[2:]))
				m := make([]byte, l)
				copy(m, h[:])
				if _, err := io.ReadFull(c, m[4:]); err != nil {
					break
				}
				got.msgs = append(got.msgs, m)
				if n == 0 && len(got.msgs) == 3 {
					break // the first connection dies after 3 messages
				}
			}
			c.Close()
			conns <- got
		}
	}()
	e, err := New(Config{Collector: "tcp://" + ln.Addr().String(), FlushInterval: 5 * time.Millisecond,
		ReconnectMin: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var first conn
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		r := uniRecord(i)
		e.Add(&r)
		time.Sleep(2 * time.Millisecond)
		if i == 20 {
			first = <-conns
		}
		if i > 20 && e.Stats().Templates >= 2 && e.Stats().Messages > 6 {
			break
		}
	}
	s, _ := e.Close()
	ln.Close()
	second := <-conns
	if len(first.msgs) != 3 || len(second.msgs) < 2 {
		t.Fatalf("%d and %d messages on the two connections; stats %+v", len(first.msgs), len(second.msgs), s)
	}
	for i, c := range []conn{first, second} {
		w := newWireReader()
		_, ntmpl, _, err := w.read(c.msgs[0])
		if err != nil || ntmpl != 2 {
			t.Fatalf("connection %d does not start with the templates: %d, %v", i, ntmpl, err)
		}
		for _, m := range c.msgs[1:] {
			if _, ntmpl, recs, err := w.read(m); err != nil || ntmpl != 0 || len(recs) == 0 {
				t.Fatalf("connection %d: %d templates %d records %v", i, ntmpl, len(recs), err)
			}
		}
	}
	if s.SendErrors == 0 || s.Templates != 2 {
		t.Fatalf("stats %+v: want a send error and the templates sent twice", s)
	}
}

func TestAddDoesNotAllocate(t *testing.T) {
	e, err := New(Config{Collector: closedPort(t, "udp"), QueueSize: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	r := uniRecord(1)
	if a := testing.AllocsPerRun(1000, func() { e.Add(&r) }); a != 0 {
		t.Fatalf("Add: %v allocations", a)
	}
}

// TestStandingClock gives the exporter a Clock that never moves (an engine
// clock after the last file): pacing and Close's timeout run on real time,
// so Close still returns, having counted what it could not send in time.
func TestStandingClock(t *testing.T) {
	pc, ch := udpCollector(t)
	e, err := New(Config{Collector: pc.LocalAddr().String(), Protocol: NetFlow9,
		Clock:             func() time.Time { return wireNow },
		MessagesPerSecond: 20, Burst: 1, CloseTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i++ { // about 90 messages: 4.5 s at 20/s
		r := uniRecord(i)
		r.Start, r.End = wireNow.Add(-time.Minute).UnixNano(), wireNow.UnixNano()
		e.Add(&r)
	}
	s, err := e.Close()
	if !errors.Is(err, ErrDropped) || s.DroppedClose == 0 || s.Exported == 0 ||
		s.Added != s.Exported+s.DroppedClose {
		t.Fatalf("stats %+v, error %v", s, err)
	}
	w := newWireReader()
	for _, m := range collect(ch, 200*time.Millisecond) {
		h, _, _, err := w.read(m)
		if err != nil {
			t.Fatal(err)
		}
		if h.exportSec != uint32(wireNow.Unix()) {
			t.Fatalf("export time %d, want the Clock's %d", h.exportSec, wireNow.Unix())
		}
	}
}

// TestWaitNeverDrops: with Wait, a queue far smaller than the burst holds
// Add up instead of dropping; without it the same burst drops.
func TestWaitNeverDrops(t *testing.T) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, err := pc.Read(buf); err != nil {
				return
			}
		}
	}()
	for _, wait := range []bool{true, false} {
		e, err := New(Config{Collector: pc.LocalAddr().String(), QueueSize: 8, MessagesPerSecond: -1, Wait: wait})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5000; i++ {
			r := uniRecord(i)
			e.Add(&r)
		}
		s, _ := e.Close()
		if wait && (s.DroppedQueue != 0 || s.Exported != 5000) {
			t.Errorf("wait: stats %+v, want all 5000 exported", s)
		}
		if !wait && s.DroppedQueue == 0 {
			t.Errorf("no wait: stats %+v, want drops from a queue of 8", s)
		}
	}
}
