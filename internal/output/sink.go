package output

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/flowd/flowd/engine"
)

// Order says in which order a Sink writes flows.
type Order uint8

const (
	// OrderStart writes flows by their first packet (then protocol,
	// initiator, responder and VLAN ids), whatever order they ended in, so
	// that the output does not depend on timing or the number of workers:
	// the order replay's output and the generator's truth files share.
	// Flows are formatted as they end and held, up to SinkConfig.MemoryBytes,
	// then written to temporary files as sorted runs, which Close merges.
	OrderStart Order = iota
	// OrderEnd writes each flow as soon as it ends: nothing is held, and a
	// file being written follows the table (serve's --eve, live watching).
	OrderEnd
)

// ParseOrder accepts "start" and "end".
func ParseOrder(s string) (Order, error) {
	switch s {
	case "start":
		return OrderStart, nil
	case "end":
		return OrderEnd, nil
	}
	return 0, fmt.Errorf("order %q: want start or end", s)
}

// DefaultMemoryBytes is SinkConfig.MemoryBytes's default.
const DefaultMemoryBytes = 128 << 20

// SinkConfig says what a Sink writes and where. The zero value writes a
// table to standard output in start order.
type SinkConfig struct {
	Format Format // FormatNone is not a sink: NewSink refuses it
	// Path is the file written; "" or "-" is standard output.
	Path string
	// Append opens Path for appending instead of truncating it.
	Append bool
	Order  Order
	// MemoryBytes bounds the formatted flows OrderStart holds before it
	// spills a sorted run to TempDir (default DefaultMemoryBytes).
	MemoryBytes int64
	// TempDir holds the runs (default os.TempDir()).
	TempDir string
	Options
}

// Sink writes the flows the engine hands it (an engine.Sink).
type Sink struct {
	cfg     SinkConfig
	out     io.WriteCloser // nil for standard output
	w       *Writer
	sorter  *sorter
	taken   atomic.Uint64 // flows handed to the sink
	written atomic.Uint64 // flows written out (to the destination's buffer)
}

// NewSink opens cfg's destination and returns a Sink for engine.AddSink.
func NewSink(cfg SinkConfig) (*Sink, error) {
	if cfg.Format == FormatNone {
		return nil, errors.New("output: format none writes nothing: add no sink")
	}
	if cfg.MemoryBytes == 0 {
		cfg.MemoryBytes = DefaultMemoryBytes
	}
	s := &Sink{cfg: cfg}
	var dst io.Writer = os.Stdout
	if cfg.Path != "" && cfg.Path != "-" {
		mode := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
		if cfg.Append {
			mode = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		}
		f, err := os.OpenFile(cfg.Path, mode, 0o644)
		if err != nil {
			return nil, err
		}
		s.out, dst = f, f
	}
	w, err := New(cfg.Format, dst, cfg.Options)
	if err != nil {
		s.closeOut()
		return nil, err
	}
	s.w = w
	if cfg.Order == OrderStart {
		s.sorter = &sorter{limit: cfg.MemoryBytes, dir: cfg.TempDir, written: &s.written}
	}
	return s, nil
}

// Taken counts the flows the sink has been handed: written, or held to be
// written when it closes.
func (s *Sink) Taken() uint64 { return s.taken.Load() }

// Written counts the flows written out so far; after Close it equals Taken
// unless writing failed.
func (s *Sink) Written() uint64 { return s.written.Load() }

// FlowsEnded implements engine.Sink.
func (s *Sink) FlowsEnded(flows []engine.Flow) error {
	s.taken.Add(uint64(len(flows)))
	if s.sorter != nil {
		for i := range flows {
			if err := s.sorter.add(s.w.f, &flows[i]); err != nil {
				return fmt.Errorf("output: %w", err)
			}
		}
		return nil
	}
	for i := range flows {
		if err := s.w.Write(&flows[i]); err != nil {
			return s.wrap(err)
		}
	}
	// A file being followed shows whole batches as they end.
	if err := s.w.Flush(); err != nil {
		return s.wrap(err)
	}
	s.written.Add(uint64(len(flows)))
	return nil
}

// Close writes what is held (OrderStart) and closes the destination.
func (s *Sink) Close() error {
	var err error
	if s.sorter != nil {
		err = s.sorter.writeAll(s.w)
	}
	err = errors.Join(err, s.w.Flush())
	return s.wrap(errors.Join(err, s.closeOut()))
}

func (s *Sink) closeOut() error {
	if s.out == nil {
		return nil
	}
	return s.out.Close()
}

func (s *Sink) wrap(err error) error {
	if err == nil {
		return nil
	}
	name := s.cfg.Path
	if name == "" || name == "-" {
		name = "standard output"
	}
	return fmt.Errorf("output %s to %s: %w", s.cfg.Format, name, err)
}

// sortKey orders flows for OrderStart. It is fixed-size and pointer-free,
// so runs store it as raw bytes.
type sortKey struct {
	first, last      int64
	src, dst         [16]byte
	srcPort, dstPort uint16
	vlan             [2]uint16
	source           uint16
	proto, family    uint8
}

func keyOf(f *engine.Flow) sortKey {
	return sortKey{first: f.First, last: f.Last, src: f.Src, dst: f.Dst, srcPort: f.SrcPort, dstPort: f.DstPort,
		vlan: f.VLAN, source: f.Source, proto: f.Proto, family: f.Family}
}

func compareKeys(a, b *sortKey) int {
	if c := cmp.Compare(a.first, b.first); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.family, b.family),
		bytes.Compare(a.src[:], b.src[:]), cmp.Compare(a.srcPort, b.srcPort),
		bytes.Compare(a.dst[:], b.dst[:]), cmp.Compare(a.dstPort, b.dstPort),
		cmp.Compare(a.vlan[0], b.vlan[0]), cmp.Compare(a.vlan[1], b.vlan[1]),
		cmp.Compare(a.source, b.source), cmp.Compare(a.last, b.last))
}

// held is one formatted flow waiting in memory: its line is
// arena[chunk][off:off+len].
type held struct {
	key             sortKey
	chunk, off, len uint32
}

// sorter holds formatted flows and writes them in key order: lines are
// formatted as flows arrive (on the sink goroutine, beside the workers), so
// what is left at Close is a sort of small keys and copying bytes. Past
// limit the held lines are sorted and written to a temporary file as a run;
// Close merges the runs and what is still held.
//
// The lines go into chunks of arenaChunk bytes that are never copied:
// growing one slice instead (append's reallocations) cost 280 ms of a
// 640 ms csv replay of 100 k flows, nearly all of it copying into fresh
// pages (2-vCPU VM, Dec 2026).
type sorter struct {
	limit   int64
	dir     string
	written *atomic.Uint64 // lines written out
	arena   [][]byte       // chunks of lines; the last is being filled
	size    int64          // bytes of lines held
	held    []held
	runs    []*os.File
	buf     []byte
}

const (
	arenaChunk = 1 << 20
	maxLine    = 4 << 10 // longer than any line a format writes
	heldSize   = int64(unsafe.Sizeof(held{}))
)

func (s *sorter) add(f formatter, fl *engine.Flow) error {
	n := len(s.arena) - 1
	if n < 0 || cap(s.arena[n])-len(s.arena[n]) < maxLine {
		n++
		if n < cap(s.arena) && s.arena[:n+1][n] != nil {
			// A chunk kept from before the last spill.
			s.arena = s.arena[:n+1]
			s.arena[n] = s.arena[n][:0]
		} else {
			s.arena = append(s.arena, make([]byte, 0, arenaChunk))
		}
	}
	at := len(s.arena[n])
	s.arena[n] = f.appendFlow(s.arena[n], fl)
	line := len(s.arena[n]) - at
	s.size += int64(line)
	if len(s.held) == cap(s.held) {
		// Double, rather than append's quarter steps for large slices.
		s.held = slices.Grow(s.held, max(1024, len(s.held)))
	}
	s.held = append(s.held, held{key: keyOf(fl), chunk: uint32(n), off: uint32(at), len: uint32(line)})
	if s.size+int64(len(s.held))*heldSize >= s.limit {
		return s.spill()
	}
	return nil
}

func (s *sorter) line(h *held) []byte { return s.arena[h.chunk][h.off : h.off+h.len] }

// reset forgets the held lines and keeps the memory for the next ones.
func (s *sorter) reset() {
	s.arena, s.held, s.size = s.arena[:0], s.held[:0], 0
}

func (s *sorter) sortHeld() {
	slices.SortFunc(s.held, func(a, b held) int { return compareKeys(&a.key, &b.key) })
}

// spill writes the held lines, sorted, to a new run file.
func (s *sorter) spill() error {
	s.sortHeld()
	f, err := os.CreateTemp(s.dir, "flowd-sort-*.run")
	if err != nil {
		return fmt.Errorf("sort run: %w", err)
	}
	// The file is only ours: unlink it now so nothing is left behind
	// whatever happens to the process.
	os.Remove(f.Name())
	w := bufio.NewWriterSize(f, 256<<10)
	for i := range s.held {
		h := &s.held[i]
		s.buf = appendRunRecord(s.buf[:0], &h.key, s.line(h))
		w.Write(s.buf)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("sort run: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("sort run: %w", err)
	}
	s.runs = append(s.runs, f)
	s.reset()
	return nil
}

// A run record: the key's fields, the line's length, the line.
const keyBytes = 8 + 8 + 16 + 16 + 2 + 2 + 4 + 2 + 1 + 1

func appendRunRecord(b []byte, k *sortKey, line []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(k.first))
	b = binary.LittleEndian.AppendUint64(b, uint64(k.last))
	b = append(b, k.src[:]...)
	b = append(b, k.dst[:]...)
	b = binary.LittleEndian.AppendUint16(b, k.srcPort)
	b = binary.LittleEndian.AppendUint16(b, k.dstPort)
	b = binary.LittleEndian.AppendUint16(b, k.vlan[0])
	b = binary.LittleEndian.AppendUint16(b, k.vlan[1])
	b = binary.LittleEndian.AppendUint16(b, k.source)
	b = append(b, k.proto, k.family)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(line)))
	return append(b, line...)
}

// runReader reads a run back in order.
type runReader struct {
	r    *bufio.Reader
	f    *os.File
	key  sortKey
	line []byte
	hdr  [keyBytes + 4]byte
}

// next reads the next record; false at the end of the run.
func (r *runReader) next() (bool, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, fmt.Errorf("sort run: %w", err)
	}
	h := r.hdr[:]
	le := binary.LittleEndian
	r.key = sortKey{first: int64(le.Uint64(h)), last: int64(le.Uint64(h[8:]))}
	copy(r.key.src[:], h[16:32])
	copy(r.key.dst[:], h[32:48])
	r.key.srcPort, r.key.dstPort = le.Uint16(h[48:]), le.Uint16(h[50:])
	r.key.vlan = [2]uint16{le.Uint16(h[52:]), le.Uint16(h[54:])}
	r.key.source = le.Uint16(h[56:])
	r.key.proto, r.key.family = h[58], h[59]
	n := int(le.Uint32(h[60:]))
	if cap(r.line) < n {
		r.line = make([]byte, n)
	}
	r.line = r.line[:n]
	if _, err := io.ReadFull(r.r, r.line); err != nil {
		return false, fmt.Errorf("sort run: %w", err)
	}
	return true, nil
}

// writeAll writes every flow taken, in key order, to w.
func (s *sorter) writeAll(w *Writer) error {
	s.sortHeld()
	if len(s.runs) == 0 {
		for i := range s.held {
			h := &s.held[i]
			if err := w.writeLine(s.line(h)); err != nil {
				return err
			}
			s.written.Add(1)
		}
		s.arena, s.held = nil, nil
		return nil
	}
	defer func() {
		for _, f := range s.runs {
			f.Close()
		}
		s.runs = nil
	}()
	// Merge the runs and the held lines (one more, in-memory run).
	m := &merge{}
	for _, f := range s.runs {
		r := &runReader{r: bufio.NewReaderSize(f, 256<<10), f: f}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			m.runs = append(m.runs, r)
		}
	}
	heap.Init(m)
	mem := 0
	for {
		// Held lines go out in between the runs' records.
		var top *runReader
		if len(m.runs) > 0 {
			top = m.runs[0]
		}
		if mem < len(s.held) && (top == nil || compareKeys(&s.held[mem].key, &top.key) <= 0) {
			h := &s.held[mem]
			if err := w.writeLine(s.line(h)); err != nil {
				return err
			}
			s.written.Add(1)
			mem++
			continue
		}
		if top == nil {
			return nil
		}
		if err := w.writeLine(top.line); err != nil {
			return err
		}
		s.written.Add(1)
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
}

// merge is a min-heap of runs by their current key.
type merge struct{ runs []*runReader }

func (m *merge) Len() int           { return len(m.runs) }
func (m *merge) Less(i, j int) bool { return compareKeys(&m.runs[i].key, &m.runs[j].key) < 0 }
func (m *merge) Swap(i, j int)      { m.runs[i], m.runs[j] = m.runs[j], m.runs[i] }
func (m *merge) Push(x any)         { m.runs = append(m.runs, x.(*runReader)) }
func (m *merge) Pop() any {
	r := m.runs[len(m.runs)-1]
	m.runs = m.runs[:len(m.runs)-1]
	return r
}
