package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
	"time"
)

// fuzzRead reads a whole input the way the engine does and checks what must
// hold for any input: no panic, progress on every call, frames inside the
// input and in order, Stats that add up, errors that are io.EOF or a
// sticky *FormatError at the offset where reading stopped. A second read
// one byte at a time through a tiny buffer and tiny batches must see the
// very same frames and error.
func fuzzRead(t *testing.T, data []byte) {
	// Go's fuzzer has no per-input timeout; a reader that loops would stall
	// the run silently. Crash loudly instead, with the input.
	tm := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("input of %d bytes still reading after 10 s: %x", len(data), data)) })
	defer tm.Stop()
	f, err := NewReader(bytes.NewReader(data), "fuzz")
	if err != nil {
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Offset != 0 {
			t.Fatalf("NewReader: %v, want a *FormatError at offset 0", err)
		}
		return
	}
	compressed := len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b
	got, err := readAll(t, f, 64)
	if err != io.EOF {
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) {
			t.Fatalf("err = %v, want io.EOF or a *FormatError", err)
		}
		if fe.Offset != f.Stats().Offset {
			t.Fatalf("error at offset %d but reading stopped at %d", fe.Offset, f.Stats().Offset)
		}
	}
	if n, err2 := f.ReadBatch(make([]Frame, 4)); n != 0 || err2 != err {
		t.Fatalf("ReadBatch after the end = %d, %v; want 0, %v", n, err2, err)
	}
	st := f.Stats()
	if st.Frames != uint64(len(got)) || st.Bytes != wantBytes(got) {
		t.Fatalf("Stats %+v for %d frames of %d bytes", st, len(got), wantBytes(got))
	}
	if !compressed {
		if st.Offset > int64(len(data)) || st.Size != int64(len(data)) {
			t.Fatalf("Stats %+v for a %d-byte input", st, len(data))
		}
		pos := 0
		for i, fr := range got {
			j := bytes.Index(data[pos:], fr.Data)
			if j < 0 {
				t.Fatalf("frame %d (%d bytes) is not in the input after offset %d", i, len(fr.Data), pos)
			}
			pos += j + len(fr.Data)
		}
	}

	slow, err2 := newReaderSize(iotest.OneByteReader(bytes.NewReader(data)), "fuzz", 16)
	if err2 != nil {
		t.Fatalf("one byte at a time: NewReader: %v", err2)
	}
	var got2 []want
	dst := make([]Frame, 3)
	for i := 0; ; i++ {
		n, e := slow.ReadBatch(dst[:1+i%3])
		if n == 0 && e == nil {
			t.Fatal("one byte at a time: no frames and no error")
		}
		for _, fr := range dst[:n] {
			got2 = append(got2, want{bytes.Clone(fr.Data), fr.Timestamp, fr.WireLen, fr.LinkType, fr.Interface})
		}
		if e != nil {
			err2 = e
			break
		}
	}
	sameFrames(t, got2, got)
	if err2.Error() != err.Error() {
		t.Fatalf("one byte at a time: err %v, want %v", err2, err)
	}

	// Read ahead in chunks of 13 bytes with 6 of headroom: records cross
	// chunks every way there is.
	ahead, err3 := newReaderSize(bytes.NewReader(data), "fuzz", 16)
	if err3 != nil {
		t.Fatalf("read ahead: NewReader: %v", err3)
	}
	ahead.startReadAhead(13, 6)
	defer ahead.Close()
	got3, err3 := readAll(t, ahead, 5)
	sameFrames(t, got3, got)
	if err3.Error() != err.Error() {
		t.Fatalf("read ahead: err %v, want %v", err3, err)
	}
	if st3 := ahead.Stats(); st3 != st {
		t.Fatalf("read ahead: Stats %+v, want %+v", st3, st)
	}
}

// pcapSeeds are small real pcap files: the fixtures, one written by the
// generator, and damaged variants.
func pcapSeeds() [][]byte {
	rng := rand.New(rand.NewPCG(11, 12))
	seeds := [][]byte{pcapLEMicros, pcapBENanos, pcapBEMicros, pcapLENanos, gz(pcapBEMicros)}
	small := genPcap(rng, 4, binary.LittleEndian, false, 1).data
	seeds = append(seeds, small, small[:len(small)-3])
	return seeds
}

// pcapngSeeds are the pcapng fixtures and the pcapng-test-generator suite.
func pcapngSeeds(tb testing.TB) [][]byte {
	seeds := [][]byte{ngTwoInterfaces, ngTwoSections, ngEmpty, gz(ngTwoSections)}
	suite, _ := filepath.Glob("testdata/pcapng-test-generator/*/*.pcapng")
	for _, path := range suite {
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// Inputs the fuzzer found failing are kept in testdata/fuzz/FuzzPcap and
// testdata/fuzz/FuzzPcapNG; go test runs them with the seeds above.

func FuzzPcap(f *testing.F) {
	for _, s := range pcapSeeds() {
		f.Add(s)
	}
	f.Fuzz(fuzzRead)
}

func FuzzPcapNG(f *testing.F) {
	for _, s := range pcapngSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(fuzzRead)
}
