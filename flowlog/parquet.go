package flowlog

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	pqgzip "github.com/parquet-go/parquet-go/compress/gzip"
)

// Schema returns the Parquet schema of objects written in format f: one
// column per field, in format order, named with '_' for '-' (account_id),
// INT32 for version, srcport, dstport, protocol, tcp_flags and traffic_path,
// INT64 for packets, bytes, start and end, UTF-8 strings for the rest.
//
// Every column is OPTIONAL: a value that prints "-" in text is null in
// Parquet, so that numeric columns keep their types in NODATA and SKIPDATA
// records.
func (f Format) Schema() *parquet.Schema {
	cols := make([]parquet.Field, 0, len(f.Fields()))
	for _, fl := range f.Fields() {
		var n parquet.Node
		switch fl.Kind() {
		case KindInt32:
			n = parquet.Int(32)
		case KindInt64:
			n = parquet.Int(64)
		default:
			// Dictionary pages for the columns that repeat a few values
			// (account, interface, action, status); PLAIN for addresses,
			// which do not. Measured 2026-12-04, default format, together
			// with version 1 pages: 608k -> 738k records per CPU second.
			n = parquet.Encoded(parquet.String(), &parquet.RLEDictionary)
			if isAddrField(fl) {
				n = parquet.Encoded(parquet.String(), &parquet.Plain)
			}
		}
		cols = append(cols, column{Node: parquet.Optional(n), name: fl.Column()})
	}
	return parquet.NewSchema("vpcflowlogs", orderedGroup{cols: cols})
}

// column is a named leaf of orderedGroup.
type column struct {
	parquet.Node
	name string
}

func (c column) Name() string                      { return c.name }
func (c column) Value(reflect.Value) reflect.Value { return reflect.Value{} }

// orderedGroup is a Parquet group whose columns keep the order they were
// given in. parquet.Group is a map and sorts its columns by name, but a flow
// log's columns follow its LogFormat.
type orderedGroup struct {
	parquet.Group // supplies the group type and the group defaults
	cols          []parquet.Field
}

func (g orderedGroup) Fields() []parquet.Field { return g.cols }

func (g orderedGroup) String() string {
	var b strings.Builder
	_ = parquet.PrintSchema(&b, "", g)
	return b.String()
}

func (g orderedGroup) GoType() reflect.Type {
	sf := make([]reflect.StructField, len(g.cols))
	for i, c := range g.cols {
		sf[i] = reflect.StructField{
			Name: "C" + strconv.Itoa(i),
			Type: c.GoType(),
			Tag:  reflect.StructTag(`parquet:` + strconv.Quote(c.Name())),
		}
	}
	return reflect.StructOf(sf)
}

// parquetBatch is how many records ParquetWriter gathers before handing them
// to the Parquet encoder.
const parquetBatch = 256

// parquetRowGroup is the most rows in one Parquet row group. Bounded row
// groups keep memory flat and make Size grow while writing, which the 75 MB
// object limit relies on.
const parquetRowGroup = 128 << 10

// cell is one pending column value: an integer, a byte range of the
// writer's scratch buffer, or null.
type cell struct {
	i      int64
	s0, s1 int32
	null   bool
}

// ParquetWriter writes flow log records as one Parquet file with gzip pages,
// the form AWS uses for DestinationOptions.FileFormat parquet. Records are
// gathered in batches of parquetBatch and encoded column by column; strings
// are copied into a scratch buffer, so the Record may be reused as soon as
// Write returns. A ParquetWriter is not safe for concurrent use.
type ParquetWriter struct {
	format    Format
	fields    []Field
	kinds     []Kind
	pw        *parquet.GenericWriter[any]
	out       *countingWriter
	cells     []cell
	n         int // records in cells
	scratch   []byte
	vals      []parquet.Value
	groupRows int64 // rows in the current row group
	records   int64
	closed    bool
}

// NewParquetWriter returns a writer of records in format f to w. Close
// finishes the file; it does not close w.
func NewParquetWriter(w io.Writer, f Format) *ParquetWriter {
	fl := f.Fields()
	p := &ParquetWriter{
		format: f,
		fields: fl,
		kinds:  make([]Kind, len(fl)),
		out:    &countingWriter{w: w},
		cells:  make([]cell, parquetBatch*len(fl)),
		vals:   make([]parquet.Value, parquetBatch),
	}
	for i, x := range fl {
		p.kinds[i] = x.Kind()
	}
	// The schema is built at run time from the log format, so the writer
	// is the generic one over any, given the schema.
	p.pw = parquet.NewGenericWriter[any](p.out, f.Schema(),
		parquet.Compression(&pqgzip.Codec{Level: pqgzip.BestSpeed}),
		parquet.CreatedBy("flowd", "", ""),
		// Version 1 data pages and only PLAIN and dictionary encodings:
		// what every Hive-era reader (Athena, Spark, Glue) understands.
		parquet.DataPageVersion(1),
	)
	return p
}

// Write adds one record. The record is copied.
func (p *ParquetWriter) Write(r *Record) error {
	if p.closed {
		return errWriterClosed
	}
	ver := p.format.Version()
	for i, f := range p.fields {
		c := &p.cells[i*parquetBatch+p.n]
		if p.kinds[i] != KindString {
			v, ok := intField(r, f, ver)
			*c = cell{i: v, null: !ok}
			continue
		}
		s0 := len(p.scratch)
		p.scratch = appendField(p.scratch, r, f, ver)
		if len(p.scratch)-s0 == 1 && p.scratch[s0] == '-' {
			p.scratch = p.scratch[:s0]
			*c = cell{null: true}
		} else {
			*c = cell{s0: int32(s0), s1: int32(len(p.scratch))}
		}
	}
	p.n++
	p.records++
	if p.n == parquetBatch {
		return p.flushBatch()
	}
	return nil
}

func (p *ParquetWriter) flushBatch() error {
	if p.n == 0 {
		return nil
	}
	// Hand the batch to the encoder column by column: it stores columns, so
	// this skips the row-to-column shuffle of Writer.WriteRows. Measured
	// 2026-12-04, default format: 548k -> 686k records per CPU second.
	cols := p.pw.ColumnWriters()
	var err error
	for i, kind := range p.kinds {
		vals := p.vals[:p.n]
		cells := p.cells[i*parquetBatch : i*parquetBatch+p.n]
		switch kind {
		case KindInt32:
			for j, c := range cells {
				if c.null {
					vals[j] = parquet.NullValue().Level(0, 0, i)
				} else {
					vals[j] = parquet.Int32Value(int32(c.i)).Level(0, 1, i)
				}
			}
		case KindInt64:
			for j, c := range cells {
				if c.null {
					vals[j] = parquet.NullValue().Level(0, 0, i)
				} else {
					vals[j] = parquet.Int64Value(c.i).Level(0, 1, i)
				}
			}
		default:
			for j, c := range cells {
				if c.null {
					vals[j] = parquet.NullValue().Level(0, 0, i)
				} else {
					vals[j] = parquet.ByteArrayValue(p.scratch[c.s0:c.s1]).Level(0, 1, i)
				}
			}
		}
		if _, err = cols[i].WriteRowValues(vals); err != nil {
			break
		}
	}
	p.groupRows += int64(p.n)
	p.n = 0
	p.scratch = p.scratch[:0]
	if err == nil && p.groupRows >= parquetRowGroup {
		p.groupRows = 0
		err = p.pw.Flush()
	}
	if err != nil {
		return fmt.Errorf("flowlog: parquet: %w", err)
	}
	return nil
}

// Records returns the number of records written so far.
func (p *ParquetWriter) Records() int64 { return p.records }

// Size returns the bytes handed to the underlying writer so far. Parquet
// buffers a row group in memory, so this lags behind the records written.
func (p *ParquetWriter) Size() int64 { return p.out.n }

// Close writes the pending records and the file footer.
func (p *ParquetWriter) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	if err := p.flushBatch(); err != nil {
		return err
	}
	if err := p.pw.Close(); err != nil {
		return fmt.Errorf("flowlog: parquet: %w", err)
	}
	return nil
}

var errWriterClosed = errors.New("flowlog: write after close")

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}
