package output

import (
	"bufio"
	"bytes"
	"cmp"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowd/flowd/engine"
)

// randomFlows returns n flows with first-packet times drawn from a small
// range, so that many share a start time and the tie-breaks decide.
func randomFlows(seed uint64, n int) []engine.Flow {
	r := rand.New(rand.NewPCG(seed, 1))
	fs := make([]engine.Flow, n)
	for i := range fs {
		f := &fs[i]
		f.Family = 4
		if r.IntN(4) == 0 {
			f.Family = 6
			f.Src[0], f.Dst[0] = 0x20, 0x20
		}
		f.Src[3], f.Dst[3] = byte(r.IntN(8)), byte(r.IntN(8))
		f.Proto = []uint8{6, 17, 1}[r.IntN(3)]
		f.SrcPort, f.DstPort = uint16(r.IntN(4)), uint16(r.IntN(4))
		f.VLAN[0] = uint16(r.IntN(2))
		f.Source = uint16(r.IntN(2))
		f.First = int64(r.IntN(50)) * 1e6
		f.Last = f.First + int64(r.IntN(3))*1e9 + int64(i) // keys differ, as flows in one table do
		f.Pkts = [2]uint64{uint64(i), 1}
	}
	return fs
}

// feed hands flows to the sink in batches of 97, as the engine would.
func feed(t *testing.T, s *Sink, flows []engine.Flow) {
	t.Helper()
	for len(flows) > 0 {
		n := min(97, len(flows))
		if err := s.FlowsEnded(flows[:n]); err != nil {
			t.Fatal(err)
		}
		flows = flows[n:]
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSinkStartOrder: whatever order flows end in and however little memory
// the sink may hold (so that it spills many sorted runs and merges them),
// the output is the flows sorted by the start-order key, each once.
func TestSinkStartOrder(t *testing.T) {
	flows := randomFlows(1, 5000)
	sorted := slices.Clone(flows)
	slices.SortStableFunc(sorted, func(a, b engine.Flow) int { return engine.CompareStart(&a, &b) })
	var want bytes.Buffer
	w, _ := New(FormatCSV, &want, Options{})
	for i := range sorted {
		w.Write(&sorted[i])
	}
	w.Flush()

	dir := t.TempDir()
	for _, mem := range []int64{0, 64 << 10, 4 << 10} {
		path := filepath.Join(dir, "out.csv")
		s, err := NewSink(SinkConfig{Format: FormatCSV, Path: path, MemoryBytes: mem, TempDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		shuffled := slices.Clone(flows)
		rand.New(rand.NewPCG(uint64(mem), 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		feed(t, s, shuffled)
		spills := 0
		for _, p := range s.sorter.parts {
			if len(p.runs) != 0 {
				t.Errorf("runs left open after Close: %d", len(p.runs))
			}
			spills += p.spills
		}
		if (mem == 0) != (spills == 0) {
			t.Errorf("memory bound %d: %d runs spilled", mem, spills)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("memory bound %d: output differs from the sorted flows (%d vs %d bytes)", mem, len(got), want.Len())
		}
		if s.Taken() != uint64(len(flows)) || s.Written() != uint64(len(flows)) {
			t.Errorf("Taken = %d, Written = %d, want %d", s.Taken(), s.Written(), len(flows))
		}
	}
	// The runs are unlinked at once: nothing is left in the temporary
	// directory but the output.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary directory holds %d entries, want the output only", len(ents))
	}
}

// TestSinkEndOrder: flows are written as they come, and each batch is in
// the file when FlowsEnded returns, so a follower sees it.
func TestSinkEndOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eve.json")
	flows := randomFlows(2, 10)
	s, err := NewSink(SinkConfig{Format: FormatEVE, Path: path, Order: OrderEnd})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FlowsEnded(flows[:4]); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); strings.Count(string(b), "\n") != 4 {
		t.Fatalf("after one batch of 4 the file has %d lines", strings.Count(string(b), "\n"))
	}
	feed(t, s, flows[4:])
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines, want 10", len(lines))
	}
	// Appending keeps what was there.
	s, err = NewSink(SinkConfig{Format: FormatEVE, Path: path, Order: OrderEnd, Append: true})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, s, flows[:1])
	if b, _ := os.ReadFile(path); strings.Count(string(b), "\n") != 11 {
		t.Errorf("appending one flow: %d lines, want 11", strings.Count(string(b), "\n"))
	}
}

// TestTableStreams: a table longer than the aligner holds is written in
// full; the rows it sized the columns from line up.
func TestTableStreams(t *testing.T) {
	flows := randomFlows(3, alignRows+500)
	var b bytes.Buffer
	w, _ := New(FormatTable, &b, Options{})
	for i := range flows {
		w.Write(&flows[i])
	}
	w.Flush()
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != len(flows)+1 {
		t.Fatalf("%d lines, want %d", len(lines), len(flows)+1)
	}
	col := strings.Index(lines[0], "START")
	for _, l := range lines[1:alignRows] {
		if l[col-1] != ' ' || l[col] == ' ' {
			t.Fatalf("START column not aligned:\n%s\n%s", lines[0], l)
		}
	}
}

func TestSinkErrors(t *testing.T) {
	if _, err := NewSink(SinkConfig{Format: FormatNone}); err == nil {
		t.Error("a sink for format none")
	}
	_, err := NewSink(SinkConfig{Format: FormatCSV, Path: filepath.Join(t.TempDir(), "no", "such", "dir", "f.csv")})
	if err == nil || !strings.Contains(err.Error(), "f.csv") {
		t.Errorf("unwritable path: %v", err)
	}
	if _, err := ParseOrder("random"); err == nil || !strings.Contains(err.Error(), `"random"`) {
		t.Errorf("ParseOrder(random) = %v", err)
	}
}

// TestRunRecordKeepsKey: a spilled run gives back every field of the
// engine's start-order key and the line beside it, so runs merge in the
// order the drain hands flows over in.
func TestRunRecordKeepsKey(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 2))
	var keys []engine.StartKey
	var lines [][]byte
	var run []byte
	for i := range 300 {
		k := engine.StartKey{First: r.Int64(), Last: r.Int64(), SrcPort: uint16(r.Uint32()), DstPort: uint16(r.Uint32()),
			VLAN: [3]uint16{uint16(r.Uint32()), uint16(r.Uint32()), uint16(r.Uint32())}, SPI: r.Uint32(), Source: uint16(r.Uint32()),
			Proto: uint8(r.Uint32()), Family: uint8(r.Uint32()), Depth: uint8(r.Uint32())}
		for j := range k.Src {
			k.Src[j], k.Dst[j] = byte(r.Uint32()), byte(r.Uint32())
		}
		line := bytes.Repeat([]byte{'a' + byte(i%26)}, i%7)
		keys, lines = append(keys, k), append(lines, line)
		run = appendRunRecord(run, &k, line)
	}
	rr := &runReader{r: bufio.NewReader(bytes.NewReader(run))}
	for i := range keys {
		ok, err := rr.next()
		if !ok || err != nil {
			t.Fatalf("record %d: next = %v, %v", i, ok, err)
		}
		if *rr.key() != keys[i] || !bytes.Equal(rr.line(), lines[i]) {
			t.Fatalf("record %d: got %+v %q, want %+v %q", i, *rr.key(), rr.line(), keys[i], lines[i])
		}
	}
	if ok, err := rr.next(); ok || err != nil {
		t.Fatalf("after the last record: next = %v, %v", ok, err)
	}
}

// TestSinkDrainSorted: flows ended before the drain are held, the drain's
// come in start order and are written through the formatting pipeline as
// they come; the output is every flow once, in start order, in each
// format (the table writes line by line, the others in runs of lines),
// whether or not the held flows were spilled.
func TestSinkDrainSorted(t *testing.T) {
	flows := randomFlows(9, 6000)
	sorted := slices.Clone(flows)
	slices.SortStableFunc(sorted, func(a, b engine.Flow) int { return engine.CompareStart(&a, &b) })
	dir := t.TempDir()
	for _, format := range []Format{FormatCSV, FormatEVE, FormatTable} {
		var want bytes.Buffer
		w, _ := New(format, &want, Options{})
		for i := range sorted {
			w.Write(&sorted[i])
		}
		w.Flush()
		for _, mem := range []int64{0, 16 << 10} {
			// Every fifth flow ends early and is held; the others are the
			// drain's, in start order.
			var early, drained []engine.Flow
			for i := range sorted {
				if i%5 == 0 {
					early = append(early, sorted[i])
				} else {
					drained = append(drained, sorted[i])
				}
			}
			rand.New(rand.NewPCG(7, 8)).Shuffle(len(early), func(i, j int) { early[i], early[j] = early[j], early[i] })
			path := filepath.Join(dir, "out."+string(format))
			s, err := NewSink(SinkConfig{Format: format, Path: path, MemoryBytes: mem, TempDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			for len(early) > 0 {
				n := min(97, len(early))
				if err := s.FlowsEnded(early[:n]); err != nil {
					t.Fatal(err)
				}
				early = early[n:]
			}
			if err := s.DrainSorted(); err != nil {
				t.Fatal(err)
			}
			feed(t, s, drained)
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("%s, memory %d: output differs from the flows in start order (%d bytes, want %d)",
					format, mem, len(got), want.Len())
			}
			if s.Written() != uint64(len(flows)) {
				t.Fatalf("%s: %d written, want %d", format, s.Written(), len(flows))
			}
		}
	}
}

// TestSinkDrainSortedWriteError: a destination that fails while the
// pipeline writes makes FlowsEnded or Close return the error, without
// hanging.
func TestSinkDrainSortedWriteError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to fail writes")
	}
	flows := randomFlows(10, 4000)
	slices.SortStableFunc(flows, func(a, b engine.Flow) int { return engine.CompareStart(&a, &b) })
	s, err := NewSink(SinkConfig{Format: FormatEVE, Path: "/dev/full", Append: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DrainSorted(); err != nil {
		t.Fatal(err)
	}
	var failed error
	for i := 0; i < len(flows) && failed == nil; i += 97 {
		failed = s.FlowsEnded(flows[i:min(i+97, len(flows))])
	}
	if err := s.Close(); err == nil && failed == nil {
		t.Fatal("writing to /dev/full reported no error")
	} else if e := cmp.Or(failed, err); !strings.Contains(e.Error(), "no space left") {
		t.Fatalf("error %q does not say why", e)
	}
}
