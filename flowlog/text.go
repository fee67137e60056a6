package flowlog

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// RecordWriter is one output file of records: a gzip text object or a
// Parquet object.
type RecordWriter interface {
	Write(r *Record) error
	// Records is the number of records written so far.
	Records() int64
	// Size is the number of bytes passed on to the underlying writer.
	Size() int64
	// Close finishes the file; it does not close the underlying writer.
	Close() error
}

// textFlushAt is the size at which TextWriter hands its line buffer to the
// compressor: large enough that the per-call cost of the gzip writer
// disappears, small enough to stay in L2.
const textFlushAt = 64 << 10

// TextWriter writes the gzip plain-text form of an S3 object: a header line
// with the field names, then one line per record. A TextWriter is not safe
// for concurrent use; Write does not allocate in steady state.
type TextWriter struct {
	format  Format
	zw      *gzip.Writer
	out     countingWriter
	buf     []byte
	records int64
	closed  bool
}

// NewTextWriter returns a writer of records in format f to w, compressed at
// gzip level (gzip.BestSpeed .. gzip.BestCompression; 0 means BestSpeed).
func NewTextWriter(w io.Writer, f Format, level int) (*TextWriter, error) {
	if level == 0 {
		level = gzip.BestSpeed
	}
	t := &TextWriter{format: f, buf: make([]byte, 0, textFlushAt+4096)}
	t.out.w = w
	zw, err := gzip.NewWriterLevel(&t.out, level)
	if err != nil {
		return nil, fmt.Errorf("flowlog: gzip level %d: %w", level, err)
	}
	t.zw = zw
	t.buf = append(f.AppendHeader(t.buf), '\n')
	return t, nil
}

// Write adds one record line.
func (t *TextWriter) Write(r *Record) error {
	if t.closed {
		return errWriterClosed
	}
	t.buf = append(t.format.AppendText(t.buf, r), '\n')
	t.records++
	if len(t.buf) >= textFlushAt {
		return t.flush()
	}
	return nil
}

func (t *TextWriter) flush() error {
	_, err := t.zw.Write(t.buf)
	t.buf = t.buf[:0]
	if err != nil {
		return fmt.Errorf("flowlog: gzip: %w", err)
	}
	return nil
}

// Records returns the number of records written so far.
func (t *TextWriter) Records() int64 { return t.records }

// Size returns the compressed bytes passed on so far.
func (t *TextWriter) Size() int64 { return t.out.n }

// Close writes the buffered lines and the gzip trailer.
func (t *TextWriter) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	if err := t.flush(); err != nil {
		return err
	}
	if err := t.zw.Close(); err != nil {
		return fmt.Errorf("flowlog: gzip: %w", err)
	}
	return nil
}

// Reset discards the writer's state and starts a new object on w, reusing
// the compressor and buffers.
func (t *TextWriter) Reset(w io.Writer) {
	t.out = countingWriter{w: w}
	t.zw.Reset(&t.out)
	t.buf = append(t.format.AppendHeader(t.buf[:0]), '\n')
	t.records = 0
	t.closed = false
}
