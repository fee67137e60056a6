package ipfix

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Protocol is the export protocol.
type Protocol uint8

const (
	IPFIX    Protocol = iota // RFC 7011 (the default)
	NetFlow9                 // RFC 3954 NetFlow version 9
)

func (p Protocol) String() string {
	if p == NetFlow9 {
		return "netflow9"
	}
	return "ipfix"
}

// Defaults of the Config fields left zero.
const (
	DefaultMaxMessageSize    = 1400 // bytes of UDP payload: fits a 1500-byte MTU with IPv6 and tunnel headroom
	DefaultQueueSize         = 65536
	DefaultFlushInterval     = time.Second
	DefaultTemplateInterval  = 60 * time.Second
	DefaultTemplateMessages  = 20
	DefaultMessagesPerSecond = 2000
	DefaultBurst             = 32
	DefaultCloseTimeout      = 5 * time.Second
	DefaultDialTimeout       = 2 * time.Second
	DefaultReconnectMin      = 250 * time.Millisecond
	DefaultReconnectMax      = 30 * time.Second
)

// Config configures an Exporter. The zero value of every field but Collector
// means its default.
type Config struct {
	// Collector is "HOST:PORT" or "udp://HOST:PORT" for UDP, or
	// "tcp://HOST:PORT" for a TCP stream of messages (RFC 7011 section 10.4).
	Collector string

	Protocol          Protocol // IPFIX or NetFlow9
	ObservationDomain uint32   // IPFIX observation domain id / v9 source id

	// Biflow exports one RFC 5103 bidirectional record per Record (reverse
	// counters under enterprise number 29305) instead of one record per
	// direction. IPFIX only: NetFlow v9 has no biflows.
	Biflow bool

	// MaxMessageSize bounds every message (UDP payload); default 1400.
	MaxMessageSize int

	// QueueSize is how many Records may wait for the exporting goroutine;
	// Add drops (and counts) beyond it. Default 65536 (6.8 MB, allocated by New).
	QueueSize int
	// Wait makes Add wait for room in a full queue instead of dropping: for
	// a replay, where waiting delays a file, not live packets.
	Wait bool

	// FlushInterval is how long a partly filled message may wait for more
	// records. Default 1 s.
	FlushInterval time.Duration

	// Templates go out before the first data message and, over UDP, again
	// every TemplateInterval (default 60 s) or every TemplateMessages data
	// messages (default 20), whichever comes first; a negative value turns
	// that trigger off. Over TCP they go once per connection.
	TemplateInterval time.Duration
	TemplateMessages int

	// MessagesPerSecond paces UDP datagrams, allowing bursts of Burst.
	// Collectors read with default socket buffers that hold about 90
	// datagrams of 1400 bytes on Linux (212992 bytes, 2304 per datagram
	// counted), and an unpaced burst loses most of it: nfcapd dropped 72 %
	// of a 275-datagram burst from softflowd. Default 2000/s (about 46,000
	// IPv4 uniflow records/s) with bursts of 32; negative: unpaced.
	MessagesPerSecond int
	Burst             int

	// CloseTimeout bounds how long Close spends sending what is queued;
	// what is left then is dropped and counted. Default 5 s.
	CloseTimeout time.Duration

	// TCP: connect timeout (also the write deadline of each message) and the
	// reconnect backoff, doubling from ReconnectMin to ReconnectMax.
	DialTimeout                time.Duration
	ReconnectMin, ReconnectMax time.Duration

	// Clock gives the export time written into message headers (and the
	// base of NetFlow v9's sysUptime); pacing, intervals and timeouts always
	// run on real time. Default time.Now. A replay may pass its engine clock
	// so that export times match the flows' own times; NetFlow v9 needs
	// that when the flows are more than 24.8 days older than the export
	// time, since its record times are 32-bit milliseconds before it.
	Clock func() time.Time
}

// Stats are an Exporter's counters. Records are what Add was given; data
// records are what went on the wire (a uniflow Record makes one per direction
// that saw packets). After Close, Added == Exported + DroppedSend +
// DroppedClose + Invalid.
type Stats struct {
	Added        uint64 // Records accepted by Add
	Exported     uint64 // Records in messages that reached the socket
	DataRecords  uint64 // data records in those messages
	DroppedQueue uint64 // Records Add refused: queue full, or exporter closed
	DroppedSend  uint64 // Records in messages that could not be sent (collector down, send error)
	DroppedClose uint64 // Records still queued when Close's timeout ran out
	Invalid      uint64 // Records with a Family other than 4 or 6
	Messages     uint64 // data messages sent
	Templates    uint64 // template messages sent
	SendErrors   uint64 // failed writes and failed TCP connects
	Bytes        uint64 // bytes of all messages sent
}

// Dropped is every Record lost, whatever the reason.
func (s Stats) Dropped() uint64 {
	return s.DroppedQueue + s.DroppedSend + s.DroppedClose + s.Invalid
}

// Errors returned by New.
var (
	ErrConfig = errors.New("ipfix: invalid config")
	// ErrDropped is returned by Close when Records were lost.
	ErrDropped = errors.New("ipfix: records dropped")
)

// link is where messages go: a *net.UDPConn, a *net.TCPConn, or a test twin.
type link interface {
	Write(b []byte) (int, error)
	Close() error
}

// Exporter sends Records to one collector from its own goroutine. Add may be
// called from any number of goroutines; it never blocks. Exporters are
// independent values: several may run at once, to different collectors or
// with different protocols.
type Exporter struct {
	cfg    Config
	stream bool // TCP: templates once per connection, reconnects

	mu     sync.RWMutex // Add holds it shared; Close exclusively to set closed
	closed bool
	queue  chan Record
	stop   chan struct{}
	done   chan struct{}

	closeOnce  sync.Once
	closeStats Stats
	closeErr   error

	added, exported, dataRecords, droppedQueue, droppedSend, droppedClose,
	invalid, messages, templates, sendErrors, bytes atomic.Uint64

	// Owned by the exporting goroutine.
	enc      *encoder
	conn     link
	dial     func() (link, error)
	now      func() time.Time // real time: pacing, intervals, deadlines, backoff
	stamp    func() time.Time // Config.Clock: export times in headers
	sleep    func(time.Duration)
	pace     pacer
	backoff  time.Duration
	nextDial time.Time
	haveTmpl bool      // templates sent on this connection
	lastTmpl time.Time // when they were last sent
	sinceTmp int       // data messages since
}

// New checks cfg, opens the UDP socket (a TCP connection is made by the
// exporting goroutine, so a collector that is down does not fail New) and
// starts the exporting goroutine.
func New(cfg Config) (*Exporter, error) {
	network, addr, err := parseCollector(cfg.Collector)
	if err != nil {
		return nil, err
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	e := newExporter(cfg, network == "tcp")
	d := net.Dialer{Timeout: cfg.DialTimeout}
	e.dial = func() (link, error) {
		c, err := d.Dial(network, addr)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	if network == "udp" {
		c, err := e.dial()
		if err != nil {
			return nil, fmt.Errorf("ipfix: collector %q: %w", cfg.Collector, err)
		}
		e.conn = c
	}
	e.start()
	return e, nil
}

// newExporter builds an exporter without a transport; New and the tests
// complete it.
func newExporter(cfg Config, stream bool) *Exporter {
	e := &Exporter{
		cfg:    cfg,
		stream: stream,
		queue:  make(chan Record, cfg.QueueSize),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		enc:    newEncoder(cfg.Protocol, cfg.Biflow, cfg.ObservationDomain, cfg.MaxMessageSize),
		now:    time.Now,
		stamp:  cfg.Clock,
		sleep:  time.Sleep,
	}
	if !stream {
		e.pace = newPacer(cfg.MessagesPerSecond, cfg.Burst)
	}
	e.backoff = cfg.ReconnectMin
	return e
}

func (e *Exporter) start() { go e.run() }

// parseCollector splits "udp://h:p", "tcp://h:p" or "h:p" (UDP).
func parseCollector(s string) (network, addr string, err error) {
	network, addr = "udp", s
	if i := strings.Index(s, "://"); i >= 0 {
		network, addr = s[:i], s[i+3:]
	}
	if network != "udp" && network != "tcp" {
		return "", "", fmt.Errorf("%w: Collector %q: scheme %q is not udp or tcp", ErrConfig, s, network)
	}
	if _, port, e := net.SplitHostPort(addr); e != nil || port == "" {
		return "", "", fmt.Errorf("%w: Collector %q is not HOST:PORT, udp://HOST:PORT or tcp://HOST:PORT", ErrConfig, s)
	}
	return network, addr, nil
}

// fill puts defaults into zero fields and checks the rest.
func (c *Config) fill() error {
	if c.Protocol != IPFIX && c.Protocol != NetFlow9 {
		return fmt.Errorf("%w: Protocol %d is not IPFIX or NetFlow9", ErrConfig, c.Protocol)
	}
	if c.Biflow && c.Protocol == NetFlow9 {
		return fmt.Errorf("%w: Biflow needs IPFIX: NetFlow v9 has no reverse elements", ErrConfig)
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if min := minMessage(c.Protocol, c.Biflow); c.MaxMessageSize < min || c.MaxMessageSize > 65535 {
		return fmt.Errorf("%w: MaxMessageSize %d is outside %d-65535", ErrConfig, c.MaxMessageSize, min)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	defInt(&c.QueueSize, DefaultQueueSize)
	if c.QueueSize < 0 {
		return fmt.Errorf("%w: QueueSize %d is negative", ErrConfig, c.QueueSize)
	}
	def(&c.FlushInterval, DefaultFlushInterval)
	if c.FlushInterval < 0 {
		return fmt.Errorf("%w: FlushInterval %v is negative", ErrConfig, c.FlushInterval)
	}
	def(&c.TemplateInterval, DefaultTemplateInterval)
	defInt(&c.TemplateMessages, DefaultTemplateMessages)
	defInt(&c.MessagesPerSecond, DefaultMessagesPerSecond)
	defInt(&c.Burst, DefaultBurst)
	def(&c.CloseTimeout, DefaultCloseTimeout)
	def(&c.DialTimeout, DefaultDialTimeout)
	def(&c.ReconnectMin, DefaultReconnectMin)
	def(&c.ReconnectMax, DefaultReconnectMax)
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return nil
}

// Add queues r for export and returns at once (with Config.Wait, once the
// queue has room). It returns false, and counts the Record as dropped, when
// the queue is full (without Wait) or the exporter is closed.
// It does not allocate.
func (e *Exporter) Add(r *Record) bool {
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		e.droppedQueue.Add(1)
		return false
	}
	if e.cfg.Wait {
		// Close waits for the shared lock, and the exporting goroutine
		// keeps draining the queue until Close: this ends.
		e.queue <- *r
		e.mu.RUnlock()
		e.added.Add(1)
		return true
	}
	select {
	case e.queue <- *r:
		e.mu.RUnlock()
		e.added.Add(1)
		return true
	default:
		e.mu.RUnlock()
		e.droppedQueue.Add(1)
		return false
	}
}

// Stats returns the counters so far. Safe from any goroutine.
func (e *Exporter) Stats() Stats {
	return Stats{
		Added:        e.added.Load(),
		Exported:     e.exported.Load(),
		DataRecords:  e.dataRecords.Load(),
		DroppedQueue: e.droppedQueue.Load(),
		DroppedSend:  e.droppedSend.Load(),
		DroppedClose: e.droppedClose.Load(),
		Invalid:      e.invalid.Load(),
		Messages:     e.messages.Load(),
		Templates:    e.templates.Load(),
		SendErrors:   e.sendErrors.Load(),
		Bytes:        e.bytes.Load(),
	}
}

// Close stops accepting Records, sends what is queued (within CloseTimeout),
// closes the connection and returns the final counters. The error is
// ErrDropped (with the numbers) when any Record was lost over the exporter's
// life. Later calls return the same.
func (e *Exporter) Close() (Stats, error) {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		close(e.stop)
		<-e.done
		s := e.Stats()
		e.closeStats = s
		if d := s.Dropped(); d > 0 {
			e.closeErr = fmt.Errorf("%w: %d of %d records (queue full or closed %d, send failed %d, close timeout %d, invalid %d)",
				ErrDropped, d, s.Added+s.DroppedQueue, s.DroppedQueue, s.DroppedSend, s.DroppedClose, s.Invalid)
		}
	})
	return e.closeStats, e.closeErr
}

// run is the exporting goroutine.
func (e *Exporter) run() {
	defer close(e.done)
	tick := time.NewTicker(e.cfg.FlushInterval)
	defer tick.Stop()
	// Templates go out at once, so a collector knows them before the
	// first data arrives (TCP: once connected).
	if e.connected() {
		e.sendTemplates(time.Time{})
	}
	for {
		select {
		case r := <-e.queue:
			e.handle(&r, time.Time{})
		case <-tick.C:
			if !e.enc.empty() {
				e.flush(time.Time{})
			}
		case <-e.stop:
			e.drain()
			if e.conn != nil {
				e.conn.Close()
				e.conn = nil
			}
			return
		}
	}
}

// drain sends what is queued until the queue is empty or CloseTimeout has
// passed; the rest is counted as dropped at close.
func (e *Exporter) drain() {
	deadline := e.now().Add(e.cfg.CloseTimeout)
	for {
		if !e.now().Before(deadline) {
			break
		}
		select {
		case r := <-e.queue:
			e.handle(&r, deadline)
			continue
		default:
		}
		if !e.enc.empty() {
			e.flush(deadline)
		}
		return
	}
	// Out of time: count what is left.
	if !e.enc.empty() {
		e.droppedClose.Add(uint64(e.enc.nFlows))
		e.enc.discard()
	}
	for {
		select {
		case <-e.queue:
			e.droppedClose.Add(1)
		default:
			return
		}
	}
}

// handle adds one Record to the message, sending the message first when it
// is full. deadline, when set, bounds pacing waits (Close).
func (e *Exporter) handle(r *Record, deadline time.Time) {
	switch e.enc.add(r) {
	case added:
		return
	case invalid:
		e.invalid.Add(1)
		return
	}
	e.flush(deadline)
	if e.enc.add(r) != added { // cannot happen: New checked the size
		e.invalid.Add(1)
	}
}

// flush sends the current message (templates first when due) and starts a
// new one. A message that cannot be sent is dropped and counted.
func (e *Exporter) flush(deadline time.Time) {
	n := uint64(e.enc.nFlows)
	if !e.connected() {
		e.droppedSend.Add(n)
		e.enc.discard()
		return
	}
	if e.templatesDue() {
		switch e.sendTemplates(deadline) {
		case errPaced:
			e.droppedClose.Add(n)
			e.enc.discard()
			return
		case errSend:
			e.droppedSend.Add(n)
			e.enc.discard()
			return
		}
	}
	if !e.paceUntil(deadline) {
		e.droppedClose.Add(n)
		e.enc.discard()
		return
	}
	data := uint64(e.enc.nData)
	m := e.enc.finish(e.stamp())
	if err := e.write(m); err != nil {
		e.droppedSend.Add(n)
		e.enc.discard()
		return
	}
	e.enc.sent()
	e.sinceTmp++
	e.messages.Add(1)
	e.exported.Add(n)
	e.dataRecords.Add(data)
}

// Why sendTemplates failed.
var (
	errPaced = errors.New("out of time waiting for the pacer")
	errSend  = errors.New("send failed")
)

// sendTemplates sends a template message on the current connection.
func (e *Exporter) sendTemplates(deadline time.Time) error {
	if !e.paceUntil(deadline) {
		return errPaced
	}
	if err := e.write(e.enc.templateMessage(e.stamp())); err != nil {
		return errSend
	}
	e.enc.templateSent()
	e.templates.Add(1)
	e.haveTmpl, e.lastTmpl, e.sinceTmp = true, e.now(), 0
	return nil
}

// templatesDue says whether a template message must precede the next data
// message.
func (e *Exporter) templatesDue() bool {
	if !e.haveTmpl {
		return true
	}
	if e.stream {
		return false
	}
	if e.cfg.TemplateMessages > 0 && e.sinceTmp >= e.cfg.TemplateMessages {
		return true
	}
	return e.cfg.TemplateInterval > 0 && e.now().Sub(e.lastTmpl) >= e.cfg.TemplateInterval
}

// paceUntil waits for the pacer; false when that would pass the deadline.
func (e *Exporter) paceUntil(deadline time.Time) bool {
	for {
		now := e.now()
		d := e.pace.wait(now)
		if d == 0 {
			return true
		}
		if !deadline.IsZero() && now.Add(d).After(deadline) {
			return false
		}
		e.sleep(d)
	}
}

// connected makes sure there is a connection, dialing a TCP collector again
// once its backoff has passed.
func (e *Exporter) connected() bool {
	if e.conn != nil {
		return true
	}
	if e.dial == nil || e.now().Before(e.nextDial) {
		return false
	}
	c, err := e.dial()
	if err != nil {
		e.sendErrors.Add(1)
		e.nextDial = e.now().Add(e.backoff)
		e.backoff = min(2*e.backoff, e.cfg.ReconnectMax)
		return false
	}
	e.conn = c
	e.backoff = e.cfg.ReconnectMin
	e.haveTmpl = false // a new transport session needs the templates again
	return true
}

// write sends one message. On TCP a failed write closes the connection (a
// partial message would corrupt the stream) and the next flush reconnects.
func (e *Exporter) write(m []byte) error {
	if tc, ok := e.conn.(*net.TCPConn); ok {
		tc.SetWriteDeadline(time.Now().Add(e.cfg.DialTimeout))
	}
	_, err := e.conn.Write(m)
	if err != nil {
		e.sendErrors.Add(1)
		if e.stream {
			e.conn.Close()
			e.conn = nil
			e.nextDial = e.now().Add(e.backoff)
			e.backoff = min(2*e.backoff, e.cfg.ReconnectMax)
		}
		return err
	}
	e.bytes.Add(uint64(len(m)))
	return nil
}
