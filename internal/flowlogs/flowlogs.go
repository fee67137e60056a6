// Package flowlogs turns the engine's flow windows into VPC flow log records
// and delivers them: the engine.WindowSink that connects package engine to
// package flowlog.
//
// The engine reports, for every flow that counted a packet in a window of
// its clock (flowtable.Config.Window), what it counted there per direction.
// Sink makes each direction a record of the interface the flow was seen on
// (the capture source of its first packet), keeps those a flow log's
// TrafficType wants, and writes them to the log's destination when the
// interval ends. Records are summed per direction of a 5-tuple over the
// log's aggregation interval, as AWS aggregates: a 600 s log over the
// engine's 60 s windows, or flows that reuse a tuple, give one record.
//
// Per interface and interval, a log with no record writes NODATA, and one in
// which records were lost before the sink (the engine dropped windows, or a
// capture dropped packets) writes SKIPDATA, as AWS does. An interval is
// finished once the windows reported have moved one engine window past its
// end (shards close windows independently, a little apart) or at Close.
//
// Flows decoded inside tunnels (GENEVE from a Gateway Load Balancer,
// VXLAN, GRE...) are recorded as flows of their own, as the engine tracks
// them, beside the tunnel's own flow that carries the outer packets: a
// record's 5-tuple is the inner one, kept apart from an outer flow of the
// same tuple.
package flowlogs

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flowlog"
)

// Log is one flow log to deliver.
type Log struct {
	ID       string
	Settings flowlog.Settings
	// Interfaces are indexes into Config.Interfaces: the interfaces the log
	// records.
	Interfaces []int
	// Since: windows that start before this (Unix seconds) are not recorded;
	// a flow log records traffic seen after it was created. 0: all.
	Since int64
}

// Config sets up a Sink.
type Config struct {
	// Interfaces are the monitored interfaces, indexed by engine source id.
	Interfaces []flowlog.Interface
	// Window is the engine's window (flowtable.Config.Window); every log's
	// interval must be a multiple of it.
	Window time.Duration
	// S3 is where s3 destinations write (flowlog.DirStore for --s3-dir, or a
	// real S3 client); nil refuses s3 logs.
	S3 flowlog.ObjectStore
	// LogsDir and FirehoseDir hold the cloud-watch-logs and
	// kinesis-data-firehose destinations; empty refuses those logs.
	LogsDir, FirehoseDir string
	// Logs returns the flow logs and a number that changes whenever they
	// do; the sink calls it once per batch and re-reads the logs on change.
	Logs func() ([]Log, uint64)
	// Skipped, when set, returns a count that grows whenever records are lost
	// before the sink; the intervals in which it grows get SKIPDATA.
	Skipped func() uint64
	// Logf reports delivery errors (they also count in Stats).
	Logf func(format string, args ...any)
	// ActiveFlows, when set, says how many flows the table holds now: a new
	// interval's index starts sized for them instead of growing there.
	ActiveFlows func() int
}

// Stats counts a sink's work.
type Stats struct {
	Records  uint64 // OK records written
	NoData   uint64 // NODATA records written
	SkipData uint64 // SKIPDATA records written
	Errors   uint64 // records a destination refused
}

// Sink is an engine.WindowSink writing flow logs. Its methods run on the
// engine's window goroutine; Stats is safe from any goroutine.
type Sink struct {
	mu      sync.Mutex // FlowWindows, Advance and Close may come from different goroutines
	cfg     Config
	windowS int64 // the engine window, seconds
	version uint64
	loaded  bool
	logs    map[string]*logState
	latest  int64 // start of the latest window reported, Unix s (0: none)
	skipped uint64
	logsW   *flowlog.LogsWriter
	fireW   *flowlog.FirehoseWriter
	files   []interface {
		Flush() error
		Close() error
	} // logsW and fireW, when open
	rec      flowlog.Record
	firstErr error
	// writing is the interval whose records are being written, if any.
	writing *interval
	// store wraps Config.S3 to learn which objects were lost; cur and
	// curPeriod name the log and object period of the record being written
	// to it, lostNow says that writing it lost its object.
	store     trackStore
	cur       *logState
	curPeriod int64
	lostNow   bool

	records, noData, skipData, errs atomic.Uint64
}

// logState is a flow log being delivered.
type logState struct {
	Log
	interval int64 // seconds
	s3       *flowlog.S3Writer
	ifaces   []int       // indexes into Config.Interfaces, sorted
	slot     map[int]int // interface index -> position in ifaces
	// intervals in progress, by start (Unix s).
	open map[int64]*interval
	// done: intervals that start before this are finished.
	done int64
	// spare holds finished intervals kept for their memory: new ones reuse
	// their maps and record slices.
	spare []*interval
	// owed are SKIPDATA records a failing destination could not take yet.
	owed []owedSkip
	// pend: per 5-minute object period, the records written to an S3
	// object not yet committed; they are lost if the object is.
	pend map[int64]*pending
}

// pending counts the records in an S3 object not yet committed, by the
// counter that counted them, and the intervals they belong to.
type pending struct {
	n      map[*atomic.Uint64]uint64
	starts map[int64]bool
}

// interval is one aggregation interval of one log in progress.
type interval struct {
	seen    []bool // per position in ifaces: a record was written
	skipped bool
	// failed: a record of the interval could not be written (said once).
	failed bool
	// agg sums the windows of the interval per direction of a 5-tuple: one
	// record each, as AWS aggregates (several engine windows in a 600 s
	// interval, several flows of one tuple reusing its ports).
	agg  aggIndex // key -> position in recs
	recs recList
}

// aggIndex finds an interval's record by key: open addressing over
// positions in the record list, probed linearly, each slot with 32 bits of
// the key's hash so that passing other keys seldom reads their records.
// Unlike a Go map it keeps its slots when emptied, so a log's intervals
// reuse one table without growing it again.
type aggIndex struct {
	slots []uint64 // tag<<32 | position + 1; 0 = empty
	n     int
}

// find returns the position of k in recs, or -1 and the slot to fill.
func (x *aggIndex) find(k *aggKey, recs *recList) (pos int32, slot int) {
	if len(x.slots) == 0 {
		x.presize(0)
	}
	h := k.hash()
	tag := h >> 32
	mask := len(x.slots) - 1
	i := int(h) & mask
	for {
		sl := x.slots[i]
		if sl == 0 {
			return -1, i
		}
		if sl>>32 == tag && recs.at(int32(uint32(sl))-1).key == *k {
			return int32(uint32(sl)) - 1, i
		}
		i = (i + 1) & mask
	}
}

// insert records k at pos in the slot find returned, growing at 1/2 load.
func (x *aggIndex) insert(k *aggKey, slot int, pos int32, recs *recList) {
	x.slots[slot] = k.hash()>>32<<32 | uint64(pos+1)
	x.n++
	if x.n*2 <= len(x.slots) {
		return
	}
	old := x.slots
	x.slots = make([]uint64, 2*len(old))
	mask := len(x.slots) - 1
	for _, sl := range old {
		if sl == 0 {
			continue
		}
		i := int(recs.at(int32(uint32(sl))-1).key.hash()) & mask
		for x.slots[i] != 0 {
			i = (i + 1) & mask
		}
		x.slots[i] = sl
	}
}

// presize makes room for n keys at half load.
func (x *aggIndex) presize(n int) {
	size := 1024
	for size < 2*n {
		size *= 2
	}
	x.slots = make([]uint64, size)
}

func (x *aggIndex) reset() {
	clear(x.slots)
	x.n = 0
}

// hash mixes the key's fields: the addresses as four 64-bit words, then
// the rest, each folded in with a multiply.
func (k *aggKey) hash() uint64 {
	const m = 0x9e3779b97f4a7c15
	h := uint64(k.iface)<<40 | uint64(k.depth)<<32 | uint64(k.proto)<<8 | uint64(k.family)
	for _, w := range [...]uint64{
		binary.LittleEndian.Uint64(k.src[:8]), binary.LittleEndian.Uint64(k.src[8:]),
		binary.LittleEndian.Uint64(k.dst[:8]), binary.LittleEndian.Uint64(k.dst[8:]),
		uint64(k.srcPort)<<16 | uint64(k.dstPort),
	} {
		h = (h ^ w) * m
		h ^= h >> 32
	}
	return h
}

// recList holds an interval's records in blocks that never move, so that a
// list of 100 k records grows without copying what it holds.
type recList struct {
	blocks [][]aggRecord
	n      int
}

const recBlock = 4096

func (l *recList) add(r aggRecord) int32 {
	b := l.n / recBlock
	if b == len(l.blocks) {
		l.blocks = append(l.blocks, make([]aggRecord, recBlock))
	}
	l.blocks[b][l.n%recBlock] = r
	l.n++
	return int32(l.n - 1)
}

func (l *recList) at(i int32) *aggRecord { return &l.blocks[i/recBlock][i%recBlock] }

func (l *recList) len() int { return l.n }

type aggKey struct {
	iface                int
	src, dst             [16]byte
	srcPort, dstPort     uint16
	proto, family, depth uint8
}

type aggRecord struct {
	key     aggKey
	tally   flowlog.Tally
	refused bool
}

// New returns a sink; it reads the logs at the first batch.
func New(cfg Config) (*Sink, error) {
	if cfg.Window <= 0 || cfg.Window%time.Second != 0 {
		return nil, fmt.Errorf("flowlogs: window %v: want whole seconds", cfg.Window)
	}
	if cfg.Logs == nil {
		return nil, errors.New("flowlogs: Config.Logs is nil")
	}
	s := &Sink{cfg: cfg, windowS: int64(cfg.Window / time.Second), logs: map[string]*logState{}}
	s.store = trackStore{s: s, inner: cfg.S3}
	if cfg.LogsDir != "" {
		s.logsW = flowlog.NewLogsWriter(cfg.LogsDir)
		s.files = append(s.files, s.logsW)
	}
	if cfg.FirehoseDir != "" {
		s.fireW = flowlog.NewFirehoseWriter(cfg.FirehoseDir)
		s.files = append(s.files, s.fireW)
	}
	if cfg.Skipped != nil {
		s.skipped = cfg.Skipped()
	}
	return s, nil
}

// activeFlows is Config.ActiveFlows, or 0.
func (s *Sink) activeFlows() int {
	if s.cfg.ActiveFlows == nil {
		return 0
	}
	return s.cfg.ActiveFlows()
}

// Stats returns the sink's counters.
func (s *Sink) Stats() Stats {
	return Stats{Records: s.records.Load(), NoData: s.noData.Load(), SkipData: s.skipData.Load(), Errors: s.errs.Load()}
}

// CheckLog reports whether the sink can deliver to l's destination.
func (c *Config) CheckLog(l *Log) error {
	switch l.Settings.DestinationType {
	case flowlog.DestinationS3:
		if c.S3 == nil {
			return errors.New("s3 destinations need --s3-dir or --s3-endpoint")
		}
	case flowlog.DestinationCloudWatchLogs:
		if c.LogsDir == "" {
			return errors.New("cloud-watch-logs destinations need --logs-dir")
		}
	case flowlog.DestinationFirehose:
		if c.FirehoseDir == "" {
			return errors.New("kinesis-data-firehose destinations need --firehose-dir")
		}
	}
	iv := int64(l.Settings.Interval / time.Second)
	if w := int64(c.Window / time.Second); iv < w || iv%w != 0 {
		return fmt.Errorf("aggregation interval %v is not a multiple of the engine's window %v", l.Settings.Interval, c.Window)
	}
	return nil
}

// reload re-reads the logs when they changed: new ones start, deleted ones
// finish what they hold.
func (s *Sink) reload() {
	logs, v := s.cfg.Logs()
	if s.loaded && v == s.version {
		return
	}
	s.loaded, s.version = true, v
	keep := map[string]bool{}
	for _, l := range logs {
		keep[l.ID] = true
		if s.logs[l.ID] != nil {
			continue
		}
		if err := s.cfg.CheckLog(&l); err != nil {
			s.fail(fmt.Errorf("flow log %s: %w", l.ID, err))
			continue
		}
		ls := &logState{Log: l, interval: int64(l.Settings.Interval / time.Second), open: map[int64]*interval{},
			slot: map[int]int{}, pend: map[int64]*pending{}}
		for _, i := range l.Interfaces {
			if i >= 0 && i < len(s.cfg.Interfaces) {
				ls.ifaces = append(ls.ifaces, i)
			}
		}
		slices.Sort(ls.ifaces)
		ls.ifaces = slices.Compact(ls.ifaces)
		for p, i := range ls.ifaces {
			ls.slot[i] = p
		}
		if l.Settings.DestinationType == flowlog.DestinationS3 {
			acct, region := "123456789012", "us-east-1"
			if len(ls.ifaces) > 0 {
				in := &s.cfg.Interfaces[ls.ifaces[0]]
				acct, region = in.AccountID, in.Region
			}
			w, err := flowlog.NewS3Writer(flowlog.S3Config{Store: s.store, Destination: l.Settings.S3,
				AccountID: acct, Region: region, FlowLogID: l.ID, Format: l.Settings.Format,
				Options: l.Settings.DestinationOptions})
			if err != nil {
				s.fail(fmt.Errorf("flow log %s: %w", l.ID, err))
				continue
			}
			ls.s3 = w
		}
		if ls.Since > 0 {
			ls.done = ls.Since - ls.Since%ls.interval
		}
		s.logs[l.ID] = ls
	}
	for id, ls := range s.logs {
		if !keep[id] {
			s.finishAll(ls)
			s.closeLog(ls)
			delete(s.logs, id)
		}
	}
}

// FlowWindows implements engine.WindowSink.
func (s *Sink) FlowWindows(ws []engine.FlowWindow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reload()
	for i := range ws {
		w := &ws[i]
		if int(w.Source) >= len(s.cfg.Interfaces) {
			continue
		}
		s.latest = max(s.latest, w.Start)
		for _, ls := range s.logs {
			s.add(ls, w)
		}
	}
	s.checkSkipped()
	s.advance()
	return s.takeErr()
}

// checkSkipped marks the interval of the latest window SKIPDATA, in every
// log, when records were lost since the last look.
func (s *Sink) checkSkipped() {
	if s.cfg.Skipped == nil {
		return
	}
	n := s.cfg.Skipped()
	if n == s.skipped || s.latest == 0 {
		return
	}
	s.skipped = n
	for _, ls := range s.logs {
		if start := s.latest - s.latest%ls.interval; start >= ls.done {
			ls.at(start, len(ls.ifaces), s.activeFlows).skipped = true
		}
	}
}

// Advance tells the sink that the engine clock reached now (Unix s) with no
// window reported: quiet intervals then finish (with NODATA) without waiting
// for traffic. serve calls it as its clock moves.
func (s *Sink) Advance(now int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reload()
	if cur := now - now%s.windowS; cur > s.latest {
		s.latest = cur
		s.checkSkipped()
		s.advance()
	}
	return s.takeErr()
}

// add records both directions of w in ls, when ls records w's interface.
func (s *Sink) add(ls *logState, w *engine.FlowWindow) {
	iface := int(w.Source)
	p, ok := ls.slot[iface]
	if !ok || w.Start < ls.Since {
		return
	}
	start := w.Start - w.Start%ls.interval
	if ls.done == 0 {
		ls.done = start
	}
	iv := ls.at(start, len(ls.ifaces), s.activeFlows)
	iv.seen[p] = true
	for d := range 2 {
		if w.Pkts[d] == 0 {
			continue
		}
		k := aggKey{iface: iface, src: w.Src, dst: w.Dst, srcPort: w.SrcPort, dstPort: w.DstPort, proto: w.Proto,
			family: w.Family, depth: w.Depth}
		if d == engine.ToClient {
			k.src, k.dst, k.srcPort, k.dstPort = w.Dst, w.Src, w.DstPort, w.SrcPort
		}
		i, slot := iv.agg.find(&k, &iv.recs)
		if i < 0 {
			i = iv.recs.add(aggRecord{key: k, refused: w.Refused})
			iv.agg.insert(&k, slot, i, &iv.recs)
		}
		v := iv.recs.at(i)
		v.tally.Merge(flowlog.Tally{Packets: w.Pkts[d], Bytes: w.IPBytes[d], First: w.First[d], Last: w.Last[d],
			Flags: flowlog.TCPFlags(w.TCPFlags[d])})
		// Flows reusing a tuple within the interval share its record,
		// accepted when any of them was.
		v.refused = v.refused && w.Refused
	}
}

// at returns the log's interval starting at start, opening it.
func (ls *logState) at(start int64, n int, hint func() int) *interval {
	iv := ls.open[start]
	if iv == nil {
		if k := len(ls.spare); k > 0 {
			iv, ls.spare = ls.spare[k-1], ls.spare[:k-1]
		} else {
			iv = &interval{seen: make([]bool, n)}
			iv.agg.presize(2 * hint())
		}
		ls.open[start] = iv
	}
	return iv
}

// release keeps a finished interval's memory for the next one.
func (ls *logState) release(iv *interval) {
	clear(iv.seen)
	iv.agg.reset()
	iv.recs.n, iv.skipped, iv.failed = 0, false, false
	if len(ls.spare) < 2 {
		ls.spare = append(ls.spare, iv)
	}
}

// write writes one OK record.
func (s *Sink) write(ls *logState, iface int, dir flowlog.FlowDir, t *flowlog.Tally, refused bool) {
	action := flowlog.ActionAccept
	if refused {
		action = flowlog.ActionReject
	}
	in := &s.cfg.Interfaces[iface]
	in.Record(&s.rec, dir, t, action)
	if !ls.Settings.Includes(&s.rec) {
		return
	}
	s.deliver(ls, in, &s.records)
}

// deliver writes s.rec to the log's destination and counts it in counter.
// A record written to an S3 object counts at once and is taken back, and
// counted an error, if its object is lost before it is committed.
func (s *Sink) deliver(ls *logState, in *flowlog.Interface, counter *atomic.Uint64) bool {
	var err error
	switch ls.Settings.DestinationType {
	case flowlog.DestinationS3:
		period := objectPeriod(s.rec.End)
		pd := ls.pend[period]
		if pd == nil {
			pd = &pending{n: map[*atomic.Uint64]uint64{}, starts: map[int64]bool{}}
			ls.pend[period] = pd
		}
		pd.n[counter]++
		pd.starts[s.rec.Start-s.rec.Start%ls.interval] = true
		counter.Add(1)
		s.cur, s.curPeriod, s.lostNow = ls, period, false
		err = ls.s3.Write(&s.rec)
		s.cur = nil
		if err != nil {
			if s.lostNow {
				// The record went with its object: counted by lose.
				s.noteFailure(ls, err)
				return false
			}
			pd.n[counter]--
			counter.Add(^uint64(0))
		}
	case flowlog.DestinationCloudWatchLogs:
		err = s.logsW.Write(ls.Settings.LogGroupName, flowlog.StreamName(in.InterfaceID, ls.Settings.TrafficType), ls.Settings.Format, &s.rec)
	case flowlog.DestinationFirehose:
		err = s.fireW.Write(ls.Settings.DeliveryStream, ls.Settings.Format, &s.rec)
	}
	if err != nil {
		s.errs.Add(1)
		s.noteFailure(ls, err)
		return false
	}
	if ls.Settings.DestinationType != flowlog.DestinationS3 {
		counter.Add(1)
	}
	return true
}

// noteFailure marks the interval being written SKIPDATA (written after its
// records, if the destination takes it) and reports err once per interval.
func (s *Sink) noteFailure(ls *logState, err error) {
	if iv := s.writing; iv != nil {
		iv.skipped = true
		if iv.failed {
			return
		}
		iv.failed = true
	}
	s.fail(fmt.Errorf("flow log %s: %w (further failures of this interval are counted, not shown)", ls.ID, err))
}

// objectPeriod is the start of the 5-minute object period of a record
// ending at end (Unix s), as flowlog.S3Writer splits objects.
func objectPeriod(end int64) int64 {
	p := int64(flowlog.ObjectPeriod / time.Second)
	q := end / p
	if end < 0 && end%p != 0 {
		q--
	}
	return q * p
}

// committed forgets the pending records of a period's object: they are
// delivered.
func (s *Sink) committed(ls *logState, period int64) {
	delete(ls.pend, period)
}

// lose takes back the records of a period's object that was not committed
// (a full disk, a read-only folder, a full spool): they count as errors,
// and their intervals owe SKIPDATA records, written once the destination
// takes records again.
func (s *Sink) lose(ls *logState, period int64) {
	if ls == s.cur && period == s.curPeriod {
		s.lostNow = true
	}
	pd := ls.pend[period]
	if pd == nil {
		return
	}
	delete(ls.pend, period)
	for c, n := range pd.n {
		c.Add(-n)
		s.errs.Add(n)
	}
	starts := make([]int64, 0, len(pd.starts))
	for st := range pd.starts {
		starts = append(starts, st)
	}
	slices.Sort(starts)
	for _, st := range starts {
		for p := range ls.ifaces {
			o := owedSkip{start: st, iface: p}
			if !slices.Contains(ls.owed, o) && len(ls.owed) < maxOwed {
				ls.owed = append(ls.owed, o)
			}
		}
	}
}

// trackStore passes objects through to the S3 store, telling the sink
// which were committed and which were lost.
type trackStore struct {
	s     *Sink
	inner flowlog.ObjectStore
}

func (t trackStore) Create(bucket, key string) (flowlog.Object, error) {
	o, err := t.inner.Create(bucket, key)
	if err != nil {
		return nil, err
	}
	return &trackObject{Object: o, s: t.s, ls: t.s.cur, period: t.s.curPeriod}, nil
}

type trackObject struct {
	flowlog.Object
	s      *Sink
	ls     *logState
	period int64
	done   bool
}

func (o *trackObject) Commit() error {
	err := o.Object.Commit()
	if !o.done && o.ls != nil {
		o.done = true
		if err == nil {
			o.s.committed(o.ls, o.period)
		} else {
			o.s.lose(o.ls, o.period)
		}
	}
	return err
}

func (o *trackObject) Abort() error {
	err := o.Object.Abort()
	if !o.done && o.ls != nil {
		o.done = true
		o.s.lose(o.ls, o.period)
	}
	return err
}

// advance finishes the intervals the reported windows have moved past, and
// commits the S3 objects of finished 5-minute periods.
func (s *Sink) advance() {
	if s.latest == 0 {
		return
	}
	for _, ls := range s.logs {
		// An interval is finished when the windows moved one engine window
		// past its end.
		limit := s.latest - s.windowS - ls.interval + 1
		s.finish(ls, limit)
		if ls.s3 != nil {
			if err := ls.s3.Rotate(time.Unix(s.latest-s.windowS, 0)); err != nil {
				s.fail(fmt.Errorf("flow log %s: %w", ls.ID, err))
			}
		}
	}
	s.flushFiles(false)
}

// finish writes out every interval of ls that starts before limit: its
// summed records, NODATA for interfaces without records, SKIPDATA where
// records were lost.
func (s *Sink) finish(ls *logState, limit int64) {
	if ls.done == 0 {
		return // no window of this log seen yet
	}
	for start := ls.done; start < limit; start += ls.interval {
		s.finishInterval(ls, start, ls.open[start])
		delete(ls.open, start)
		ls.done = start + ls.interval
	}
	// Late windows of intervals already finished.
	for start, iv := range ls.open {
		if start < ls.done {
			s.flushAgg(ls, iv)
			delete(ls.open, start)
			ls.release(iv)
		}
	}
}

func (s *Sink) finishInterval(ls *logState, start int64, iv *interval) {
	if iv == nil {
		iv = ls.at(start, len(ls.ifaces), func() int { return 0 })
	}
	s.writing = iv
	defer func() { s.writing = nil }()
	s.flushAgg(ls, iv)
	if iv.skipped {
		for p := range ls.ifaces {
			ls.owed = append(ls.owed, owedSkip{start: start, iface: p})
		}
	}
	s.writeOwed(ls)
	for p, i := range ls.ifaces {
		if !iv.seen[p] {
			in := &s.cfg.Interfaces[i]
			in.Status(&s.rec, flowlog.LogNoData, start, start+ls.interval-1)
			s.deliver(ls, in, &s.noData)
		}
	}
	ls.release(iv)
}

// writeOwed writes the SKIPDATA records of ls, this interval's and those a
// failing destination could not take before, oldest first.
func (s *Sink) writeOwed(ls *logState) {
	owed := ls.owed
	ls.owed = nil
	slices.SortStableFunc(owed, func(a, b owedSkip) int { return cmp.Compare(a.start, b.start) })
	var kept []owedSkip
	for _, o := range owed {
		in := &s.cfg.Interfaces[ls.ifaces[o.iface]]
		in.Status(&s.rec, flowlog.LogSkipData, o.start, o.start+ls.interval-1)
		if !s.deliver(ls, in, &s.skipData) && len(kept) < maxOwed {
			kept = append(kept, o)
		}
	}
	// Objects lost while writing these owe theirs again.
	for _, o := range ls.owed {
		if !slices.Contains(kept, o) && len(kept) < maxOwed {
			kept = append(kept, o)
		}
	}
	ls.owed = kept
}

// owedSkip is a SKIPDATA record a failing destination could not take yet:
// an interval's start and the interface's position in the log.
type owedSkip struct {
	start int64
	iface int
}

// maxOwed bounds the SKIPDATA records kept for a destination that keeps
// failing.
const maxOwed = 4096

// flushAgg writes the summed records of an interval, in the order their
// first windows came.
func (s *Sink) flushAgg(ls *logState, iv *interval) {
	for i := range iv.recs.len() {
		v := iv.recs.at(int32(i))
		k := &v.key
		dir := flowlog.FlowDir{SrcPort: k.srcPort, DstPort: k.dstPort, Protocol: k.proto}
		dir.Src, dir.Dst = addr(k.family, &k.src), addr(k.family, &k.dst)
		s.write(ls, k.iface, dir, &v.tally, v.refused)
	}
}

// finishAll finishes every interval of ls up to the latest window.
func (s *Sink) finishAll(ls *logState) {
	s.finish(ls, s.latest+1)
}

func (s *Sink) closeLog(ls *logState) {
	if ls.s3 != nil {
		if err := ls.s3.Close(); err != nil {
			s.fail(fmt.Errorf("flow log %s: %w", ls.ID, err))
		}
	}
}

// flushFiles flushes the file destinations, or closes them at the end.
func (s *Sink) flushFiles(closing bool) {
	for _, f := range s.files {
		do := f.Flush
		if closing {
			do = f.Close
		}
		if err := do(); err != nil {
			s.fail(err)
		}
	}
}

// Close finishes every interval up to the latest window, commits every
// object and closes the files.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reload()
	for _, ls := range s.logs {
		s.finishAll(ls)
		s.closeLog(ls)
		if len(ls.owed) > 0 {
			// Objects lost at the last commit: their SKIPDATA, if the
			// destination takes records again.
			s.writeOwed(ls)
			s.closeLog(ls)
		}
	}
	s.flushFiles(true)
	return s.takeErr()
}

// fail remembers the first error and reports each.
func (s *Sink) fail(err error) {
	if s.cfg.Logf != nil {
		s.cfg.Logf("%v", err)
	}
	if s.firstErr == nil {
		s.firstErr = err
	}
}

// takeErr returns the error remembered since the last call.
func (s *Sink) takeErr() error {
	err := s.firstErr
	s.firstErr = nil
	return err
}

// addr reads an address of the given family from its 16-byte form.
func addr(family uint8, a *[16]byte) netip.Addr {
	if family == 4 {
		return netip.AddrFrom4([4]byte(a[:4]))
	}
	return netip.AddrFrom16(*a)
}
