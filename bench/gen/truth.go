package gen

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowd/flowd/decode"
)

// Truth is what a correct flowd must report for a generated capture.
//
// The rules it follows (flowd's own, see the README's "How flows are counted"):
//   - A flow's key is the protocol, both addresses, both ports (0 for ICMP
//     and ICMPv6: every echo packet between two hosts is one flow, whatever
//     its echo id) and the VLAN ids, outermost first.
//   - The flow's source is the sender of its first packet, except that a TCP
//     flow whose first packet is a SYN/ACK has the SYN/ACK's receiver as its
//     source (Reversed). To-server packets come from the source.
//   - Each direction counts packets, frame bytes (captured length, link
//     header and Ethernet padding included) and IP bytes (IPv4 total length,
//     40 + IPv6 payload length).
//   - An ICMP error counts (as one packet, with its own frame and IP bytes)
//     toward the flow of the packet it quotes, to-client when it is sent to
//     the flow's source, to-server otherwise; it never starts a flow and does
//     not count as the other direction being seen.
//   - Every IP fragment counts toward its datagram's flow.
//   - TCP state: closed once a RST is seen or FINs from both sides; else
//     closing once a FIN is seen; else established once both directions are
//     seen; else new. Other protocols: established once both directions are
//     seen, else new.
//   - A pure SYN on a TCP flow that is closing or closed ends that flow
//     (reason "tcp-closed") and starts a new one (Reused).
//   - Flows still in the table at the end of the capture have reason
//     "active". The generator keeps every capture's flows from timing out
//     with the default Duration (see Config.Duration), so no other reason
//     occurs.
type Truth struct {
	// Flows in CSV order: by Start, then protocol, source address and port,
	// destination address and port, VLAN ids.
	Flows []Flow
	// DecodeErrors counts the malformed frames by the reason flowd's decoder
	// must give them. They belong to no flow.
	DecodeErrors map[decode.Reason]uint64
	// Packets and Bytes count every frame and its captured bytes, malformed
	// ones included.
	Packets, Bytes uint64
	// First and Last are the times of the first and the last frame (Unix
	// ns).
	First, Last int64
	// Interfaces are the capture's interfaces, defaults filled in.
	Interfaces []Interface
}

// Flow is the truth about one flow.
type Flow struct {
	Proto            uint8 // IP protocol number
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	VLAN             []uint16 // outermost first; nil when untagged

	PktsToServer, PktsToClient       uint64
	BytesToServer, BytesToClient     uint64 // frame bytes
	IPBytesToServer, IPBytesToClient uint64

	// Start and End are the times (Unix ns) of the first and the last
	// packet counted toward the flow, ICMP errors included.
	Start, End int64

	// TCPFlagsToServer and TCPFlagsToClient OR the TCP flags of each
	// direction (ICMP errors not included); zero for other protocols.
	TCPFlagsToServer, TCPFlagsToClient uint8

	State  string // new, established, closing or closed
	Reason string // active, or tcp-closed for a flow ended by port reuse

	// Interface is the index of the capture interface the flow is on.
	Interface int
	// Reversed: a TCP flow whose first packet was the SYN/ACK. Reused: the
	// flow started by reusing the 5-tuple of an earlier, closed one.
	// Fragmented: some of its packets are IP fragments.
	Reversed, Reused, Fragmented bool
	// ICMPErrors is how many ICMP error messages count toward the flow.
	ICMPErrors int
	// Kind says what the generator meant the flow to be, for people and
	// reports ("tcp fin", "udp unanswered", "icmp echo", ...). Not in the CSV.
	Kind string
}

// Age returns the flow's age as Suricata and flowd report it: whole seconds
// between the start and end timestamps' seconds.
func (f *Flow) Age() int64 { return floorDiv(f.End, 1e9) - floorDiv(f.Start, 1e9) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// rec is a truth record being built: a Flow and the state its rules need.
type rec struct {
	fl        Flow
	started   bool
	srcClient bool
	progress  Progress
}

// Progress is what a flow's packets (ICMP errors aside) have shown of its
// state: which directions carried one, which sent a TCP FIN, and whether
// either sent a RST. The truth of generated traffic, here and in
// internal/synth, keeps one per flow.
type Progress struct {
	seen, fin [2]bool
	rst       bool
}

// Saw counts a packet in direction dir (0: to the server) with TCP flags
// flags (0 for other protocols).
func (p *Progress) Saw(dir int, flags uint8) {
	p.seen[dir] = true
	p.fin[dir] = p.fin[dir] || flags&fin != 0
	p.rst = p.rst || flags&rst != 0
}

// Ending reports whether a FIN or RST was seen.
func (p *Progress) Ending() bool { return p.rst || p.fin[0] || p.fin[1] }

// State is the state flowd gives the flow at its end: for TCP closed after
// a RST or a FIN each way and closing after one FIN, otherwise established
// once packets went both ways, else new.
func (p *Progress) State(tcp bool) string {
	if tcp {
		switch {
		case p.rst || p.fin[0] && p.fin[1]:
			return "closed"
		case p.fin[0] || p.fin[1]:
			return "closing"
		}
	}
	if p.seen[0] && p.seen[1] {
		return "established"
	}
	return "new"
}

func (g *Generator) recording() bool { return !g.s.NoTruth }

// openRec starts a truth record for f's next connection.
func (g *Generator) openRec() int32 {
	if n := len(g.rfree); n > 0 {
		i := g.rfree[n-1]
		g.rfree = g.rfree[:n-1]
		g.recs[i] = rec{}
		return i
	}
	g.recs = append(g.recs, rec{})
	return int32(len(g.recs) - 1)
}

// closeRec finishes record i with reason.
func (g *Generator) closeRec(i int32, reason string) {
	r := &g.recs[i]
	if !r.started {
		return
	}
	r.fl.State = r.progress.State(r.fl.Proto == protoTCP)
	r.fl.Reason = reason
	g.truth.Flows = append(g.truth.Flows, r.fl)
	r.fl = Flow{}
}

// kindKey packs what kind looks at.
func (f *flow) kindKey() uint32 {
	const mask = fV6 | fUnanswered | fReject | fSynAck | fICMPErr | fHalf
	k := uint32(f.proto) | uint32(f.end)<<4 | uint32(f.flags&mask)<<8
	if f.fragAt != 0 {
		k |= 1 << 31
	}
	return k
}

// kind describes f's current connection.
func (f *flow) kind() string {
	var k []string
	switch f.proto {
	case pTCP:
		k = append(k, "tcp")
		switch {
		case f.flags&fReject != 0:
			k = append(k, "reject")
		case f.flags&fUnanswered != 0:
			k = append(k, "unanswered")
		default:
			if f.flags&fSynAck != 0 {
				k = append(k, "synack-first")
			}
			switch {
			case f.end == endFIN && f.flags&fHalf != 0:
				k = append(k, "half-close")
			default:
				k = append(k, [...]string{"fin", "rst", "open"}[f.end])
			}
			if f.flags&fICMPErr != 0 {
				k = append(k, "time-exceeded")
			}
		}
	case pUDP:
		k = append(k, "udp")
		switch {
		case f.flags&fUnanswered != 0:
			k = append(k, "unanswered")
		case f.flags&fICMPErr != 0:
			k = append(k, "port-unreachable")
		}
		if f.fragAt != 0 {
			k = append(k, "fragments")
		}
	case pICMP:
		k = append(k, "icmp")
		if f.v6() {
			k[0] = "icmpv6"
		}
		k = append(k, "echo")
		if f.flags&fUnanswered != 0 {
			k = append(k, "unanswered")
		}
	case pSCTP:
		k = append(k, "sctp")
		if f.flags&fUnanswered != 0 {
			k = append(k, "unanswered")
		}
	}
	return strings.Join(k, " ")
}

// count counts a packet of f toward its truth record: sent by the client
// when fromClient (for an ICMP error: travelling as if sent by the client,
// that is toward the server).
func (g *Generator) count(f *flow, fromClient bool, frame, iplen int, flags uint8, icmpErr bool) {
	if f.rec < 0 {
		return
	}
	r := &g.recs[f.rec]
	tcp := f.proto == pTCP
	if tcp && !icmpErr && r.started && flags&(syn|ack|rst) == syn && r.progress.Ending() {
		g.closeRec(f.rec, "tcp-closed")
		r.started = false
		r.fl.Reused = true
	}
	if !r.started {
		if icmpErr {
			return // an ICMP error never starts a flow
		}
		*r = rec{started: true, srcClient: fromClient, fl: Flow{Reused: r.fl.Reused}}
		if tcp && !fromClient && flags&(syn|ack) == syn|ack {
			r.srcClient = true
			r.fl.Reversed = true
		}
		fl := &r.fl
		fl.Proto = g.ipProto(f)
		var c, s [16]byte
		f.clientAddr(c[:])
		f.serverAddr(s[:])
		ca, sa := addrOf(c, f.v6()), addrOf(s, f.v6())
		cp, sp := f.cport, f.sport
		if r.srcClient {
			fl.Src, fl.Dst, fl.SrcPort, fl.DstPort = ca, sa, cp, sp
		} else {
			fl.Src, fl.Dst, fl.SrcPort, fl.DstPort = sa, ca, sp, cp
		}
		if f.nvlan > 0 {
			fl.VLAN = append([]uint16(nil), f.vlan[:f.nvlan]...)
		}
		fl.Interface = int(f.iface)
		fl.Start = g.now
		k := f.kindKey()
		if fl.Kind = g.kinds[k]; fl.Kind == "" {
			fl.Kind = f.kind()
			g.kinds[k] = fl.Kind
		}
	}
	fl := &r.fl
	fl.End = g.now
	if fromClient == r.srcClient {
		fl.PktsToServer++
		fl.BytesToServer += uint64(frame)
		fl.IPBytesToServer += uint64(iplen)
	} else {
		fl.PktsToClient++
		fl.BytesToClient += uint64(frame)
		fl.IPBytesToClient += uint64(iplen)
	}
	if icmpErr {
		fl.ICMPErrors++
		return
	}
	d := 0
	if fromClient != r.srcClient {
		d = 1
	}
	if !tcp {
		flags = 0
	}
	r.progress.Saw(d, flags)
	if d == 0 {
		fl.TCPFlagsToServer |= flags
	} else {
		fl.TCPFlagsToClient |= flags
	}
}

func addrOf(b [16]byte, v6 bool) netip.Addr {
	if v6 {
		return netip.AddrFrom16(b)
	}
	return netip.AddrFrom4([4]byte(b[:4]))
}

// finishTruth closes the truth once every packet is out.
func (g *Generator) finishTruth() {
	if g.done {
		return
	}
	g.done = true
	SortFlows(g.truth.Flows)
}

// Truth returns the truth about everything Next has made so far; complete
// once Next has returned false. Flows still going are not in it before then.
func (g *Generator) Truth() *Truth {
	t := g.truth
	t.Flows = slices.Clone(t.Flows)
	if !g.done {
		SortFlows(t.Flows)
	}
	t.DecodeErrors = maps.Clone(g.truth.DecodeErrors)
	t.Interfaces = g.Interfaces()
	return &t
}

// SortFlows sorts flows in CSV order: by Start, then protocol, source
// address, source port, destination address, destination port and VLAN
// ids.
func SortFlows(fs []Flow) {
	slices.SortStableFunc(fs, compareFlows)
}

func compareFlows(a, b Flow) int {
	return cmp.Or(
		cmp.Compare(a.Start, b.Start),
		cmp.Compare(a.Proto, b.Proto),
		a.Src.Compare(b.Src),
		cmp.Compare(a.SrcPort, b.SrcPort),
		a.Dst.Compare(b.Dst),
		cmp.Compare(a.DstPort, b.DstPort),
		slices.Compare(a.VLAN, b.VLAN),
	)
}

// CSVHeader is the column list of WriteCSV, the same as `flowd replay
// --format csv` prints.
var CSVHeader = []string{
	"proto", "src_ip", "src_port", "dest_ip", "dest_port", "vlan",
	"pkts_toserver", "pkts_toclient", "bytes_toserver", "bytes_toclient",
	"ipbytes_toserver", "ipbytes_toclient", "start", "end", "age", "state", "reason",
}

// TimeFormat is the format of the start and end columns: RFC 3339 in UTC
// with microseconds.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// Row returns the flow's CSV columns.
func (f *Flow) Row() []string {
	vl := make([]string, len(f.VLAN))
	for i, v := range f.VLAN {
		vl[i] = strconv.Itoa(int(v))
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	return []string{
		strconv.Itoa(int(f.Proto)), f.Src.String(), strconv.Itoa(int(f.SrcPort)),
		f.Dst.String(), strconv.Itoa(int(f.DstPort)), strings.Join(vl, "/"),
		u(f.PktsToServer), u(f.PktsToClient), u(f.BytesToServer), u(f.BytesToClient),
		u(f.IPBytesToServer), u(f.IPBytesToClient),
		time.Unix(0, f.Start).UTC().Format(TimeFormat), time.Unix(0, f.End).UTC().Format(TimeFormat),
		strconv.FormatInt(f.Age(), 10), f.State, f.Reason,
	}
}

// WriteCSV writes the flows as CSV with a header line (CSVHeader), in the
// order of t.Flows.
func (t *Truth) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for i := range t.Flows {
		if err := cw.Write(t.Flows[i].Row()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ErrCSV is the sentinel under every ReadCSV error about the content.
var ErrCSV = errors.New("bad flow csv")

// ReadCSV reads flows written by WriteCSV (or by `flowd replay --format
// csv`). The header must list CSVHeader's columns, in any order; other
// columns are ignored. Times come back with microsecond precision; the
// fields the CSV lacks (TCP flags, Interface, Kind, ...) stay zero.
func ReadCSV(r io.Reader) ([]Flow, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read flow csv header: %w", err)
	}
	col := make(map[string]int, len(head))
	for i, h := range head {
		col[strings.TrimSpace(h)] = i
	}
	idx := make([]int, len(CSVHeader))
	for i, h := range CSVHeader {
		j, ok := col[h]
		if !ok {
			return nil, fmt.Errorf("%w: header lacks column %q", ErrCSV, h)
		}
		idx[i] = j
	}
	var out []Flow
	for line := 2; ; line++ {
		recd, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read flow csv: %w", err)
		}
		get := func(i int) string { return recd[idx[i]] }
		var f Flow
		var perr error
		num := func(i int, bitSize int) uint64 {
			v, err := strconv.ParseUint(get(i), 10, bitSize)
			if err != nil && perr == nil {
				perr = fmt.Errorf("%w: line %d: %s %q is not a number", ErrCSV, line, CSVHeader[i], get(i))
			}
			return v
		}
		addr := func(i int) netip.Addr {
			a, err := netip.ParseAddr(get(i))
			if err != nil && perr == nil {
				perr = fmt.Errorf("%w: line %d: %s %q is not an IP address", ErrCSV, line, CSVHeader[i], get(i))
			}
			return a
		}
		tm := func(i int) int64 {
			t, err := time.Parse(time.RFC3339Nano, get(i))
			if err != nil && perr == nil {
				perr = fmt.Errorf("%w: line %d: %s %q is not an RFC 3339 time", ErrCSV, line, CSVHeader[i], get(i))
			}
			return t.UnixNano()
		}
		f.Proto = uint8(num(0, 8))
		f.Src = addr(1)
		f.SrcPort = uint16(num(2, 16))
		f.Dst = addr(3)
		f.DstPort = uint16(num(4, 16))
		if v := get(5); v != "" {
			for s := range strings.SplitSeq(v, "/") {
				id, err := strconv.ParseUint(s, 10, 12)
				if err != nil && perr == nil {
					perr = fmt.Errorf("%w: line %d: vlan %q is not a list of VLAN ids", ErrCSV, line, v)
				}
				f.VLAN = append(f.VLAN, uint16(id))
			}
		}
		f.PktsToServer, f.PktsToClient = num(6, 64), num(7, 64)
		f.BytesToServer, f.BytesToClient = num(8, 64), num(9, 64)
		f.IPBytesToServer, f.IPBytesToClient = num(10, 64), num(11, 64)
		f.Start, f.End = tm(12), tm(13)
		f.State, f.Reason = get(15), get(16)
		if perr != nil {
			return nil, perr
		}
		out = append(out, f)
	}
}
