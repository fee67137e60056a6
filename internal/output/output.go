// Package output writes flows as people and programs read them: an aligned
// table, CSV, JSON lines, and Suricata EVE `flow` events.
//
// Writers append to a reused buffer with strconv, not fmt or encoding/json,
// so that printing a million flows takes about as long as reading them.
// A Writer is used by one goroutine.
package output

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/flowd/flowd/flowtable"
)

// Format names an output format.
type Format string

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

// Options tune a Writer; the zero value works.
type Options struct {
	// SourceName names a flow's capture source (EVE in_iface, JSON source).
	SourceName func(id uint16) string
}

// Writer writes flows.
type Writer interface {
	// Write formats one flow. f.Reason ReasonActive means the flow was still
	// in the table.
	Write(f *flowtable.Flow) error
	// Flush writes out what is buffered (the table writer prints everything
	// here, once it knows the column widths).
	Flush() error
}

// New returns a Writer for format on w.
func New(format Format, w io.Writer, opt Options) (Writer, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case FormatCSV:
		return &csvWriter{w: bw, opt: opt}, nil
	case FormatJSON:
		return &jsonWriter{w: bw, opt: opt}, nil
	case FormatEVE:
		return &eveWriter{w: bw, opt: opt}, nil
	case FormatTable:
		return &tableWriter{w: bw, opt: opt}, nil
	case FormatNone:
		return nopWriter{}, nil
	}
	return nil, fmt.Errorf("output: unknown format %q", format)
}

type nopWriter struct{}

func (nopWriter) Write(*flowtable.Flow) error { return nil }
func (nopWriter) Flush() error                { return nil }

// CSVHeader is the column list of the csv format.
const CSVHeader = "proto,src_ip,src_port,dest_ip,dest_port,vlan,pkts_toserver,pkts_toclient," +
	"bytes_toserver,bytes_toclient,ipbytes_toserver,ipbytes_toclient,start,end,age,state,reason"

type csvWriter struct {
	w      *bufio.Writer
	opt    Options
	buf    []byte
	header bool
}

func (c *csvWriter) Write(f *flowtable.Flow) error {
	if !c.header {
		c.header = true
		c.w.WriteString(CSVHeader + "\n")
	}
	b := c.buf[:0]
	src, sp := f.Src()
	dst, dp := f.Dst()
	b = strconv.AppendUint(b, uint64(f.Key.Proto), 10)
	b = append(b, ',')
	b = src.AppendTo(b)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(sp), 10)
	b = append(b, ',')
	b = dst.AppendTo(b)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(dp), 10)
	b = append(b, ',')
	b = appendVLAN(b, f, '/')
	for _, v := range []uint64{uint64(f.Pkts[0]), uint64(f.Pkts[1]), f.Bytes[0], f.Bytes[1], f.IPBytes[0], f.IPBytes[1]} {
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
	b = append(b, '\n')
	c.buf = b
	_, err := c.w.Write(b)
	return err
}

func (c *csvWriter) Flush() error {
	if !c.header {
		c.header = true
		c.w.WriteString(CSVHeader + "\n")
	}
	return c.w.Flush()
}

// appendVLAN appends the VLAN ids joined by sep (nothing when untagged).
func appendVLAN(b []byte, f *flowtable.Flow, sep byte) []byte {
	for i, v := range f.Key.VLAN {
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
	return time.Unix(0, ns).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
}

// Age is a flow's age as Suricata reports it: whole seconds from the first
// to the last packet (end.sec − start.sec).
func Age(f *flowtable.Flow) int64 {
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
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 58:
		return "IPv6-ICMP"
	case 132:
		return "SCTP"
	case 47:
		return "GRE"
	case 50:
		return "ESP"
	}
	return strconv.Itoa(int(p))
}
