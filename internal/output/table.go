package output

import (
	"bufio"
	"net/netip"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/flowtable"
)

// tableWriter prints aligned columns for a person at a terminal. It keeps
// the rows until Flush, because column widths depend on every row.
type tableWriter struct {
	w    *bufio.Writer
	opt  Options
	rows [][]byte
}

const tableHeader = "PROTO\tSOURCE\tDESTINATION\tVLAN\tPKTS>\tPKTS<\tBYTES>\tBYTES<\tSTART (UTC)\tDURATION\tSTATE\tREASON\n"

func (t *tableWriter) Write(f *flowtable.Flow) error {
	src, sp := f.Src()
	dst, dp := f.Dst()
	b := make([]byte, 0, 160)
	b = append(b, ProtoName(f.Key.Proto)...)
	if f.Key.Proto == 1 || f.Key.Proto == 58 {
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(f.ICMPType), 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(f.ICMPCode), 10)
	}
	b = append(b, '\t')
	b = appendEndpoint(b, src, sp, decode.HasPorts(f.Key.Proto))
	b = append(b, '\t')
	b = appendEndpoint(b, dst, dp, decode.HasPorts(f.Key.Proto))
	b = append(b, '\t')
	if f.Key.VLAN[0] == 0 {
		b = append(b, '-')
	} else {
		b = appendVLAN(b, f, '/')
	}
	for _, v := range []uint64{uint64(f.Pkts[0]), uint64(f.Pkts[1]), f.Bytes[0], f.Bytes[1]} {
		b = append(b, '\t')
		b = strconv.AppendUint(b, v, 10)
	}
	b = append(b, '\t')
	b = time.Unix(0, f.First).UTC().AppendFormat(b, "2006-01-02 15:04:05.000")
	b = append(b, '\t')
	b = strconv.AppendFloat(b, float64(f.Last-f.First)/1e9, 'f', 3, 64)
	b = append(b, 's', '\t')
	b = append(b, f.State.String()...)
	b = append(b, '\t')
	b = append(b, f.Reason.String()...)
	b = append(b, '\n')
	t.rows = append(t.rows, b)
	return nil
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

func (t *tableWriter) Flush() error {
	tw := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
	tw.Write([]byte(tableHeader))
	for _, r := range t.rows {
		if _, err := tw.Write(r); err != nil {
			return err
		}
	}
	t.rows = t.rows[:0]
	if err := tw.Flush(); err != nil {
		return err
	}
	return t.w.Flush()
}
