package output

import (
	"bufio"
	"net/netip"
	"strconv"

	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/engine"
)

// tableFormat prints aligned columns for a person at a terminal: its lines
// are tab-separated cells, which the aligner pads.
type tableFormat struct{}

func (tableFormat) header() string {
	return "PROTO\tSOURCE\tDESTINATION\tVLAN\tPKTS>\tPKTS<\tBYTES>\tBYTES<\tSTART (UTC)\tDURATION\tSTATE\tREASON\n"
}

func (tableFormat) appendFlow(b []byte, f *engine.Flow) []byte {
	b = append(b, ProtoName(f.Proto)...)
	if f.Proto == 1 || f.Proto == 58 {
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(f.ICMPType), 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(f.ICMPCode), 10)
	}
	b = append(b, '\t')
	b = appendEndpoint(b, f.SrcAddr(), f.SrcPort, decode.HasPorts(f.Proto))
	b = append(b, '\t')
	b = appendEndpoint(b, f.DstAddr(), f.DstPort, decode.HasPorts(f.Proto))
	b = append(b, '\t')
	if f.VLAN[0] == 0 {
		b = append(b, '-')
	} else {
		b = appendVLAN(b, f, '/')
	}
	for _, v := range [...]uint64{f.Pkts[0], f.Pkts[1], f.Bytes[0], f.Bytes[1]} {
		b = append(b, '\t')
		b = strconv.AppendUint(b, v, 10)
	}
	b = append(b, '\t')
	b = appendUTC(b, f.First, ' ', 3, "")
	b = append(b, '\t')
	b = strconv.AppendFloat(b, float64(f.Last-f.First)/1e9, 'f', 3, 64)
	b = append(b, 's', '\t')
	b = append(b, f.State.String()...)
	b = append(b, '\t')
	b = append(b, f.Reason.String()...)
	return append(b, '\n')
}

func appendEndpoint(b []byte, a netip.Addr, port uint16, ports bool) []byte {
	if !ports {
		return a.AppendTo(b)
	}
	if a.Is6() {
		b = append(b, '[')
		b = a.AppendTo(b)
		b = append(b, ']')
	} else {
		b = a.AppendTo(b)
	}
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(port), 10)
}

// streamWidths are the table's column widths when it streams: room for
// IPv4 endpoints and the usual counts; a wider cell pushes the rest of its
// row along.
var streamWidths = []int{9, 21, 21, 5, 7, 7, 10, 10, 23, 9, 11}

// alignRows is how many rows the aligner reads before it fixes the column
// widths and starts writing: enough to size the columns of a screenful
// and more, few enough that a table of millions of flows streams in
// bounded memory. A later, wider cell pushes its row's following cells
// out of line; nothing is cut.
const alignRows = 1000

// aligner pads tab-separated rows into columns two spaces apart.
type aligner struct {
	w      *bufio.Writer
	rows   [][]byte // held until the widths are fixed
	widths []int
	fixed  bool
}

func (a *aligner) write(row []byte) error {
	if a.fixed {
		return a.emit(row)
	}
	a.rows = append(a.rows, append([]byte(nil), row...))
	a.measure(row)
	if len(a.rows) >= alignRows {
		return a.flush()
	}
	return nil
}

func (a *aligner) measure(row []byte) {
	col, w := 0, 0
	for _, c := range row {
		switch c {
		case '\t':
			if col == len(a.widths) {
				a.widths = append(a.widths, 0)
			}
			a.widths[col] = max(a.widths[col], w)
			col, w = col+1, 0
		case '\n':
		default:
			w++
		}
	}
}

// flush fixes the widths and writes the rows held.
func (a *aligner) flush() error {
	a.fixed = true
	for _, r := range a.rows {
		if err := a.emit(r); err != nil {
			return err
		}
	}
	a.rows = nil
	return nil
}

func (a *aligner) emit(row []byte) error {
	col, w := 0, 0
	for _, c := range row {
		if c != '\t' {
			a.w.WriteByte(c)
			w++
			continue
		}
		pad := 2
		if col < len(a.widths) {
			pad += max(a.widths[col]-w, 0)
		}
		for range pad {
			a.w.WriteByte(' ')
		}
		col, w = col+1, 0
	}
	return nil
}
