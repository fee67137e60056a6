package output

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/flowd/flowd/engine"
)

// The start-order sorter. Flows are formatted as they reach the sink, on a
// few goroutines of the sorter's own (one per core, up to four): the engine
// hands most flows over at once when it stops (a replay's still-active
// flows), and one goroutine formatting them all was most of what output
// cost. Each goroutine keeps its lines and their sort keys in memory, up to
// its share of the memory bound, and writes them out as a sorted run to an
// unlinked temporary file beyond it. Close merges every goroutine's runs and
// held lines, in key order, into the destination.

// sorter formats flows on its goroutines and writes them in key order.
type sorter struct {
	w       *Writer
	written *atomic.Uint64 // lines written out
	merging *merge         // set once the held flows are being merged out (stream)
	out     *streamOut     // the formatters and writer of the flows that come in order
	// events gives the sink's held events, merged among the flows (stats.go).
	events func() mergeSource

	work   chan []engine.Flow // batches to format
	free   chan []engine.Flow // batches to reuse
	wg     sync.WaitGroup
	parts  []*sortPart
	closed bool

	errMu sync.Mutex
	err   error
}

func newSorter(w *Writer, limit int64, dir string, written *atomic.Uint64) *sorter {
	f := w.f
	k := min(runtime.GOMAXPROCS(0), 4)
	s := &sorter{w: w, written: written, work: make(chan []engine.Flow, 2*k), free: make(chan []engine.Flow, 4*k)}
	for range k {
		p := &sortPart{f: f, limit: max(limit/int64(k), 1), dir: dir}
		s.parts = append(s.parts, p)
		s.wg.Add(1)
		go s.format(p)
	}
	return s
}

// take copies flows (the caller reuses its slice) and queues them for the
// formatting goroutines; once streaming, it writes them.
func (s *sorter) take(flows []engine.Flow) error {
	if s.merging != nil {
		return s.out.take(flows)
	}
	if err := s.error(); err != nil {
		return err
	}
	var b []engine.Flow
	select {
	case b = <-s.free:
	default:
	}
	s.work <- append(b[:0], flows...)
	return nil
}

func (s *sorter) format(p *sortPart) {
	defer s.wg.Done()
	for b := range s.work {
		if s.error() == nil {
			for i := range b {
				if err := p.add(&b[i]); err != nil {
					s.setErr(err)
					break
				}
			}
		}
		select {
		case s.free <- b:
		default:
		}
	}
}

func (s *sorter) setErr(err error) {
	s.errMu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.errMu.Unlock()
}

func (s *sorter) error() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// stream stops holding: it waits for the formatting goroutines, sorts
// what they hold and prepares the merge of that and the runs. From then on
// take writes each flow as it comes, after the held ones that sort before
// it: the engine hands the flows left at its stop over in start order
// (engine.OrderedSink), so they need not be held.
func (s *sorter) stream() error {
	if s.merging != nil {
		return nil
	}
	if !s.closed {
		s.closed = true
		close(s.work)
		s.wg.Wait()
	}
	if err := s.error(); err != nil {
		return err
	}
	m := &merge{}
	for _, p := range s.parts {
		p.sortHeld()
		srcs := []mergeSource{&memSource{p: p, at: -1}}
		for _, f := range p.runs {
			srcs = append(srcs, &runReader{r: bufio.NewReaderSize(f, 256<<10)})
		}
		for _, src := range srcs {
			ok, err := src.next()
			if err != nil {
				return err
			}
			if ok {
				m.srcs = append(m.srcs, src)
			}
		}
	}
	if s.events != nil {
		if src := s.events(); src != nil {
			if ok, _ := src.next(); ok {
				m.srcs = append(m.srcs, src)
			}
		}
	}
	heap.Init(m)
	s.merging = m
	s.out = s.startOut()
	return nil
}

// writeHeld writes the held flows that sort before upTo (all of them when
// upTo is nil).
func (s *sorter) writeHeld(upTo *engine.StartKey) error {
	m := s.merging
	for len(m.srcs) > 0 {
		top := m.srcs[0]
		if upTo != nil && top.key().Compare(upTo) > 0 {
			return nil
		}
		if err := s.w.writeLine(top.line()); err != nil {
			return err
		}
		if !isEvent(top) {
			s.written.Add(1)
		}
		ok, err := top.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(m, 0)
		} else {
			heap.Pop(m)
		}
	}
	return nil
}

// writeAll writes every flow still held, in key order, and lets go of the
// runs.
func (s *sorter) writeAll() error {
	defer func() {
		for _, p := range s.parts {
			for _, f := range p.runs {
				f.Close()
			}
			p.runs = nil
			p.arena, p.held = nil, nil
		}
	}()
	if err := s.stream(); err != nil {
		return err
	}
	if err := s.out.close(); err != nil {
		return err
	}
	return s.writeHeld(nil)
}

// held is one formatted flow waiting in memory: its line is
// arena[chunk][off:off+len].
type held struct {
	key             engine.StartKey
	chunk, off, len uint32
}

// sortPart is what one formatting goroutine holds.
//
// The lines go into chunks of arenaChunk bytes that are never copied:
// growing one slice instead (append's reallocations) cost 280 ms of a
// 640 ms csv replay of 100 k flows, nearly all of it copying into fresh
// pages (2-vCPU VM, Dec 2026).
type sortPart struct {
	f      formatter
	limit  int64
	dir    string
	arena  [][]byte // chunks of lines; the last is being filled
	size   int64    // bytes of lines held
	held   []held
	runs   []*os.File
	buf    []byte
	spills int // runs written, for tests
}

const (
	arenaChunk = 1 << 20
	maxLine    = 4 << 10 // longer than any line a format writes
	heldSize   = int64(unsafe.Sizeof(held{}))
)

func (p *sortPart) add(fl *engine.Flow) error {
	n := len(p.arena) - 1
	if n < 0 || cap(p.arena[n])-len(p.arena[n]) < maxLine {
		n++
		if n < cap(p.arena) && p.arena[:n+1][n] != nil {
			// A chunk kept from before the last spill.
			p.arena = p.arena[:n+1]
			p.arena[n] = p.arena[n][:0]
		} else {
			p.arena = append(p.arena, make([]byte, 0, arenaChunk))
		}
	}
	at := len(p.arena[n])
	p.arena[n] = p.f.appendFlow(p.arena[n], fl)
	line := len(p.arena[n]) - at
	p.size += int64(line)
	if len(p.held) == cap(p.held) {
		// Double, rather than append's quarter steps for large slices.
		p.held = slices.Grow(p.held, max(1024, len(p.held)))
	}
	p.held = append(p.held, held{key: fl.StartKey(), chunk: uint32(n), off: uint32(at), len: uint32(line)})
	if p.size+int64(len(p.held))*heldSize >= p.limit {
		return p.spill()
	}
	return nil
}

func (p *sortPart) line(h *held) []byte { return p.arena[h.chunk][h.off : h.off+h.len] }

func (p *sortPart) sortHeld() {
	slices.SortFunc(p.held, func(a, b held) int { return a.key.Compare(&b.key) })
}

// spill writes the held lines, sorted, to a new run file, and keeps the
// memory for the next ones.
func (p *sortPart) spill() error {
	p.sortHeld()
	f, err := os.CreateTemp(p.dir, "flowd-sort-*.run")
	if err != nil {
		return fmt.Errorf("sort run: %w", err)
	}
	// The file is only ours: unlink it now so nothing is left behind
	// whatever happens to the process.
	os.Remove(f.Name())
	w := bufio.NewWriterSize(f, 256<<10)
	for i := range p.held {
		h := &p.held[i]
		p.buf = appendRunRecord(p.buf[:0], &h.key, p.line(h))
		w.Write(p.buf)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("sort run: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("sort run: %w", err)
	}
	p.runs = append(p.runs, f)
	p.spills++
	p.arena, p.held, p.size = p.arena[:0], p.held[:0], 0
	return nil
}

// A run record: the key's fields, the line's length, the line.
const keyBytes = 8 + 8 + 16 + 16 + 2 + 2 + 6 + 4 + 2 + 1 + 1 + 1

func appendRunRecord(b []byte, k *engine.StartKey, line []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(k.First))
	b = binary.LittleEndian.AppendUint64(b, uint64(k.Last))
	b = append(b, k.Src[:]...)
	b = append(b, k.Dst[:]...)
	b = binary.LittleEndian.AppendUint16(b, k.SrcPort)
	b = binary.LittleEndian.AppendUint16(b, k.DstPort)
	b = binary.LittleEndian.AppendUint16(b, k.VLAN[0])
	b = binary.LittleEndian.AppendUint16(b, k.VLAN[1])
	b = binary.LittleEndian.AppendUint16(b, k.VLAN[2])
	b = binary.LittleEndian.AppendUint32(b, k.SPI)
	b = binary.LittleEndian.AppendUint16(b, k.Source)
	b = append(b, k.Proto, k.Family, k.Depth)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(line)))
	return append(b, line...)
}

// mergeSource is a sorted sequence of lines: a run, or a part's held lines.
type mergeSource interface {
	next() (bool, error) // moves to the next line; false at the end
	key() *engine.StartKey
	line() []byte
}

// memSource walks a part's held lines, sorted.
type memSource struct {
	p  *sortPart
	at int
}

func (m *memSource) next() (bool, error) {
	m.at++
	return m.at < len(m.p.held), nil
}
func (m *memSource) key() *engine.StartKey { return &m.p.held[m.at].key }
func (m *memSource) line() []byte          { return m.p.line(&m.p.held[m.at]) }

// runReader reads a run back in order.
type runReader struct {
	r   *bufio.Reader
	k   engine.StartKey
	ln  []byte
	hdr [keyBytes + 4]byte
}

func (r *runReader) key() *engine.StartKey { return &r.k }
func (r *runReader) line() []byte          { return r.ln }

func (r *runReader) next() (bool, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, fmt.Errorf("sort run: %w", err)
	}
	h := r.hdr[:]
	le := binary.LittleEndian
	r.k = engine.StartKey{First: int64(le.Uint64(h)), Last: int64(le.Uint64(h[8:]))}
	copy(r.k.Src[:], h[16:32])
	copy(r.k.Dst[:], h[32:48])
	r.k.SrcPort, r.k.DstPort = le.Uint16(h[48:]), le.Uint16(h[50:])
	r.k.VLAN = [3]uint16{le.Uint16(h[52:]), le.Uint16(h[54:]), le.Uint16(h[56:])}
	r.k.SPI = le.Uint32(h[58:])
	r.k.Source = le.Uint16(h[62:])
	r.k.Proto, r.k.Family, r.k.Depth = h[64], h[65], h[66]
	n := int(le.Uint32(h[67:]))
	if cap(r.ln) < n {
		r.ln = make([]byte, n)
	}
	r.ln = r.ln[:n]
	if _, err := io.ReadFull(r.r, r.ln); err != nil {
		return false, fmt.Errorf("sort run: %w", err)
	}
	return true, nil
}

// merge is a min-heap of sources by their current key.
type merge struct{ srcs []mergeSource }

func (m *merge) Len() int           { return len(m.srcs) }
func (m *merge) Less(i, j int) bool { return m.srcs[i].key().Compare(m.srcs[j].key()) < 0 }
func (m *merge) Swap(i, j int)      { m.srcs[i], m.srcs[j] = m.srcs[j], m.srcs[i] }
func (m *merge) Push(x any)         { m.srcs = append(m.srcs, x.(mergeSource)) }
func (m *merge) Pop() any {
	r := m.srcs[len(m.srcs)-1]
	m.srcs = m.srcs[:len(m.srcs)-1]
	return r
}
