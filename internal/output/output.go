// Package output writes flows as people and programs read them: an aligned
// table, CSV, JSON lines, and Suricata EVE `flow` events; and it is where
// those outputs plug into the engine: NewSink returns an engine.Sink for a
// format and a destination, used the same way by every command.
//
// Formatting appends to a reused buffer with strconv, not fmt or
// encoding/json, so that printing a million flows takes about as long as
// reading them. A Writer is used by one goroutine; a Sink is called by the
// engine's sink goroutine only.
package output

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/flowd/flowd/engine"
)

// Format names an output format.
type Format string

// The formats.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatCSV   Format = "csv"
	FormatEVE   Format = "eve"
	FormatNone  Format = "none"
)

// Formats lists the formats in the order --help shows them.
var Formats = []Format{FormatTable, FormatJSON, FormatCSV, FormatEVE, FormatNone}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("format %q: want one of %s", s, strings.Join(names, ", "))
}

// Options tune the formats; the zero value works.
type Options struct {
	// SourceName names a flow's capture source (EVE in_iface, JSON source).
	SourceName func(id uint16) string
	// Stream writes every table row at once with fixed column widths
	// instead of sizing the columns from the first rows (live output).
	Stream bool
	// CommunityIDSeed seeds the EVE community_id (Community ID v1; 0 is
	// what other tools use unless told otherwise); NoCommunityID leaves
	// the field out.
	CommunityIDSeed uint16
	NoCommunityID   bool
}

// formatter turns one flow into the bytes of its line.
type formatter interface {
	// header is written once, before the first flow ("" for none).
	header() string
	// appendFlow appends f's line, newline included.
	appendFlow(b []byte, f *engine.Flow) []byte
}

func newFormatter(format Format, opt Options) (formatter, error) {
	switch format {
	case FormatCSV:
		return csvFormat{}, nil
	case FormatJSON:
		return jsonFormat{opt}, nil
	case FormatEVE:
		e := eveFormat{opt: opt}
		if opt.SourceName != nil {
			e.iface = &quotedNames{name: opt.SourceName}
		}
		return e, nil
	case FormatTable:
		return tableFormat{}, nil
	case FormatNone:
		return nil, nil
	}
	return nil, fmt.Errorf("output: unknown format %q", format)
}

// Writer writes flows in one format, in the order given.
type Writer struct {
	w       *bufio.Writer
	f       formatter // nil: format none
	align   *aligner  // the table format's column aligner
	buf     []byte
	started bool
}

// New returns a Writer for format on w.
func New(format Format, w io.Writer, opt Options) (*Writer, error) {
	f, err := newFormatter(format, opt)
	if err != nil {
		return nil, err
	}
	out := &Writer{w: bufio.NewWriterSize(w, 64<<10), f: f}
	if format == FormatTable {
		out.align = &aligner{w: out.w}
		if opt.Stream {
			out.align.widths, out.align.fixed = slices.Clone(streamWidths), true
		}
	}
	return out, nil
}

// Write formats one flow. f.Reason ReasonActive means the flow was still in
// the table.
func (w *Writer) Write(f *engine.Flow) error {
	if w.f == nil {
		return nil
	}
	w.buf = w.f.appendFlow(w.buf[:0], f)
	return w.writeLine(w.buf)
}

// writeLine writes one formatted line (the header first, once).
func (w *Writer) writeLine(line []byte) error {
	if err := w.start(); err != nil {
		return err
	}
	if w.align != nil {
		return w.align.write(line)
	}
	_, err := w.w.Write(line)
	return err
}

// writeLines writes lines [from, to) of buf, where line i ends at ends[i]:
// in one write where the format allows, since most lines come in long runs.
func (w *Writer) writeLines(buf []byte, ends []int, from, to int) error {
	if from >= to {
		return nil
	}
	at := 0
	if from > 0 {
		at = ends[from-1]
	}
	if w.align == nil {
		if err := w.start(); err != nil {
			return err
		}
		_, err := w.w.Write(buf[at:ends[to-1]])
		return err
	}
	for i := from; i < to; i++ {
		if err := w.writeLine(buf[at:ends[i]]); err != nil {
			return err
		}
		at = ends[i]
	}
	return nil
}

func (w *Writer) start() error {
	if w.started || w.f == nil {
		return nil
	}
	w.started = true
	h := w.f.header()
	if h == "" {
		return nil
	}
	if w.align != nil {
		return w.align.write([]byte(h))
	}
	_, err := w.w.WriteString(h)
	return err
}

// Flush writes out what is buffered; the header goes out even when no flow
// did.
func (w *Writer) Flush() error {
	if err := w.start(); err != nil {
		return err
	}
	if w.align != nil {
		if err := w.align.flush(); err != nil {
			return err
		}
	}
	return w.w.Flush()
}

// CSVHeader is the column list of the csv format.
const CSVHeader = "proto,src_ip,src_port,dest_ip,dest_port,vlan,pkts_toserver,pkts_toclient," +
	"bytes_toserver,bytes_toclient,ipbytes_toserver,ipbytes_toclient,start,end,age,state,reason"

type csvFormat struct{}

func (csvFormat) header() string { return CSVHeader + "\n" }

func (csvFormat) appendFlow(b []byte, f *engine.Flow) []byte {
	b = strconv.AppendUint(b, uint64(f.Proto), 10)
	b = append(b, ',')
	b = f.SrcAddr().AppendTo(b)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(f.SrcPort), 10)
	b = append(b, ',')
	b = f.DstAddr().AppendTo(b)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(f.DstPort), 10)
	b = append(b, ',')
	b = appendVLAN(b, f, '/')
	for _, v := range [...]uint64{f.Pkts[0], f.Pkts[1], f.Bytes[0], f.Bytes[1], f.IPBytes[0], f.IPBytes[1]} {
		b = append(b, ',')
		b = strconv.AppendUint(b, v, 10)
	}
	b = append(b, ',')
	b = AppendTime(b, f.First)
	b = append(b, ',')
	b = AppendTime(b, f.Last)
	b = append(b, ',')
	b = strconv.AppendInt(b, Age(f), 10)
	b = append(b, ',')
	b = append(b, f.State.String()...)
	b = append(b, ',')
	b = append(b, f.Reason.String()...)
	return append(b, '\n')
}

// appendVLAN appends the VLAN ids joined by sep (nothing when untagged).
func appendVLAN(b []byte, f *engine.Flow, sep byte) []byte {
	for i, v := range f.VLAN {
		if v == 0 {
			break
		}
		if i > 0 {
			b = append(b, sep)
		}
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return b
}

// AppendTime appends a Unix-ns time as RFC 3339 in UTC with microseconds.
func AppendTime(b []byte, ns int64) []byte {
	return appendUTC(b, ns, 'T', 6, "Z")
}

// Age is a flow's age as Suricata reports it: whole seconds from the first
// to the last packet (end.sec − start.sec).
func Age(f *engine.Flow) int64 {
	return floorSec(f.Last) - floorSec(f.First)
}

func floorSec(ns int64) int64 {
	s := ns / 1e9
	if ns%1e9 < 0 {
		s--
	}
	return s
}

// ProtoName returns the name Suricata uses for an IP protocol, or its number.
func ProtoName(p uint8) string {
	switch p {
	case 1:
		return "ICMP"
	case 4:
		return "IP-in-IP" // Suricata's name for IPv4 encapsulated in IP
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 58:
		return "IPv6-ICMP"
	case 132:
		return "SCTP"
	case 41:
		return "IPv6" // IPv6 encapsulated in IP, as Suricata names it
	case 47:
		return "GRE"
	case 50:
		return "ESP"
	}
	return strconv.Itoa(int(p))
}
