package capture

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// TestReadAheadGzip reads a compressed file of several chunks through
// OpenFile, which reads it ahead, and compares every frame and the Stats
// with a plain read of the same bytes; a File closed halfway stops its
// goroutine and closes the file.
func TestReadAheadGzip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	g := genPcapNG(rng, 6000, ngOptions{sections: 2})
	path := filepath.Join(t.TempDir(), "big.pcapng.gz")
	if err := os.WriteFile(path, gz(g.data), 0o644); err != nil {
		t.Fatal(err)
	}
	if len(g.data) < 2*raChunkSize {
		t.Fatalf("generated %d bytes, want several %d-byte chunks", len(g.data), raChunkSize)
	}
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.ra == nil {
		t.Fatal("OpenFile did not read a gzip file ahead")
	}
	got, err := readAll(t, f, 100)
	if err != io.EOF {
		t.Fatal(err)
	}
	sameFrames(t, got, g.frames)
	if st := f.Stats(); st.Offset != int64(len(g.data)) || st.Frames != uint64(len(g.frames)) {
		t.Errorf("Stats = %+v, want Offset %d and %d frames", st, len(g.data), len(g.frames))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	f, err = OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadBatch(make([]Frame, 10)); err != nil {
		t.Fatal(err)
	}
	done := f.ra.done
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	default:
		t.Error("Close returned before the reading goroutine ended")
	}
}

// TestReadAheadErrors: a reader's error or stall reaches the caller through
// the reading goroutine as it does without it, after the same frames.
func TestReadAheadErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		r    func() io.Reader
	}{
		{"boom", func() io.Reader { return io.MultiReader(bytes.NewReader(pcapLEMicros), errReader{boom}) }},
		{"stuck", func() io.Reader { return io.MultiReader(bytes.NewReader(pcapLEMicros), errReader{nil}) }},
		{"dataerr", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(ngTwoInterfaces)) }},
		{"halves", func() io.Reader { return iotest.HalfReader(bytes.NewReader(ngTwoInterfaces)) }},
	} {
		plain, err := newReaderSize(tc.r(), tc.name, 32)
		if err != nil {
			t.Fatal(err)
		}
		want, wantErr := readAll(t, plain, 3)
		ahead, err := newReaderSize(tc.r(), tc.name, 32)
		if err != nil {
			t.Fatal(err)
		}
		ahead.startReadAhead(40, 20)
		got, err := readAll(t, ahead, 3)
		sameFrames(t, got, want)
		if err.Error() != wantErr.Error() || errors.Is(err, boom) != errors.Is(wantErr, boom) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, wantErr)
		}
		ahead.Close()
	}
}
