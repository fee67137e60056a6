package output

import (
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/flowd/flowd/decode"
	"github.com/flowd/flowd/engine"
)

// jsonFormat writes one JSON object per flow per line, with flowd's own
// field names (the csv columns plus flags, ICMP and source).
type jsonFormat struct{ opt Options }

func (jsonFormat) header() string { return "" }

func (j jsonFormat) appendFlow(b []byte, f *engine.Flow) []byte {
	src, sp := f.SrcAddr(), f.SrcPort
	dst, dp := f.DstAddr(), f.DstPort
	b = append(b, `{"flow_id":`...)
	b = strconv.AppendUint(b, f.ID, 10)
	b = append(b, `,"proto":`...)
	b = strconv.AppendUint(b, uint64(f.Proto), 10)
	b = append(b, `,"src_ip":"`...)
	b = src.AppendTo(b)
	b = append(b, `","src_port":`...)
	b = strconv.AppendUint(b, uint64(sp), 10)
	b = append(b, `,"dest_ip":"`...)
	b = dst.AppendTo(b)
	b = append(b, `","dest_port":`...)
	b = strconv.AppendUint(b, uint64(dp), 10)
	b = append(b, `,"vlan":[`...)
	b = appendVLAN(b, f, ',')
	b = append(b, ']')
	for _, kv := range []struct {
		k string
		v uint64
	}{{"pkts_toserver", f.Pkts[0]}, {"pkts_toclient", f.Pkts[1]},
		{"bytes_toserver", f.Bytes[0]}, {"bytes_toclient", f.Bytes[1]},
		{"ipbytes_toserver", f.IPBytes[0]}, {"ipbytes_toclient", f.IPBytes[1]}} {
		b = append(b, `,"`...)
		b = append(b, kv.k...)
		b = append(b, `":`...)
		b = strconv.AppendUint(b, kv.v, 10)
	}
	b = append(b, `,"start":"`...)
	b = AppendTime(b, f.First)
	b = append(b, `","end":"`...)
	b = AppendTime(b, f.Last)
	b = append(b, `","age":`...)
	b = strconv.AppendInt(b, Age(f), 10)
	b = append(b, `,"state":"`...)
	b = append(b, f.State.String()...)
	b = append(b, `","reason":"`...)
	b = append(b, f.Reason.String()...)
	b = append(b, '"')
	if f.Proto == 6 {
		b = append(b, `,"tcp_flags_ts":"`...)
		b = appendHex2(b, f.TCPFlags[0])
		b = append(b, `","tcp_flags_tc":"`...)
		b = appendHex2(b, f.TCPFlags[1])
		b = append(b, '"')
		if f.Reversed {
			b = append(b, `,"reversed":true`...)
		}
	}
	if f.Proto == 1 || f.Proto == 58 {
		b = append(b, `,"icmp_type":`...)
		b = strconv.AppendUint(b, uint64(f.ICMPType), 10)
		b = append(b, `,"icmp_code":`...)
		b = strconv.AppendUint(b, uint64(f.ICMPCode), 10)
	}
	if f.Proto == decode.ProtoESP {
		b = append(b, `,"spi":`...)
		b = strconv.AppendUint(b, uint64(f.SPI), 10)
	}
	if j.opt.SourceName != nil {
		b = append(b, `,"source":`...)
		b = strconv.AppendQuote(b, j.opt.SourceName(f.Source))
	}
	return append(b, "}\n"...)
}

func appendHex2(b []byte, v uint8) []byte {
	const hex = "0123456789abcdef"
	return append(b, hex[v>>4], hex[v&15])
}

// eveFormat writes Suricata EVE `flow` events, with Suricata's
// field meanings: bytes are frame bytes, age is end.sec − start.sec, ports
// only for TCP, UDP and SCTP.
//
// flowd's states and end reasons map onto Suricata's vocabulary: closing is
// "established" (Suricata's FIN_WAIT/CLOSE_WAIT flows are established);
// tcp-closed and flush are "timeout" (a closed flow ends by the closed-state
// timeout, and AWS describes a flush as marking flows timed out); evicted is
// "forced"; flows still active at the end of a replay are "shutdown".
type eveFormat struct {
	opt   Options
	iface *quotedNames // in_iface, quoted, by source id
}

// quotedNames keeps each source's name quoted for JSON: quoting it again
// for every line cost as much as a tenth of an EVE line. A source's name
// does not change while flows of it are written; formatters on several
// goroutines share the list, copied on each new source.
type quotedNames struct {
	name  func(id uint16) string
	mu    sync.Mutex
	names atomic.Pointer[[]string]
}

func (q *quotedNames) appendQuoted(b []byte, id uint16) []byte {
	if p := q.names.Load(); p != nil && int(id) < len(*p) && (*p)[id] != "" {
		return append(b, (*p)[id]...)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var names []string
	if p := q.names.Load(); p != nil {
		names = *p
	}
	names = append(make([]string, 0, max(len(names), int(id)+1)), names...)
	names = names[:max(len(names), int(id)+1)]
	names[id] = strconv.Quote(q.name(id))
	q.names.Store(&names)
	return append(b, names[id]...)
}

func (eveFormat) header() string { return "" }

// appendEVEAddr writes an address as Suricata does: IPv4 dotted, IPv6 in
// full, every group four hex digits ("2001:0db8:0000:...:0001"), so that
// joins with Suricata's own eve.json match.
func appendEVEAddr(b []byte, a *[16]byte, family uint8) []byte {
	if family != 6 {
		return netip.AddrFrom4([4]byte(a[:4])).AppendTo(b)
	}
	const hex = "0123456789abcdef"
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hex[a[i]>>4], hex[a[i]&15], hex[a[i+1]>>4], hex[a[i+1]&15])
	}
	return b
}

// eveTimeLen is the length of an EVE time stamp of a four-digit year.
const eveTimeLen = len("2006-01-02T15:04:05.000000+0000")

func appendEVETime(b []byte, ns int64) []byte {
	return appendUTC(b, ns, 'T', 6, "+0000")
}

func eveState(s engine.State) string {
	switch s {
	case engine.StateNew:
		return "new"
	case engine.StateClosed:
		return "closed"
	}
	return "established"
}

func eveReason(r engine.EndReason) string {
	switch r {
	case engine.ReasonEvicted:
		return "forced"
	case engine.ReasonShutdown, engine.ReasonActive:
		return "shutdown"
	}
	return "timeout"
}

// eveTCPState approximates Suricata's TCP stream state from flowd's flow
// state and flags.
func eveTCPState(f *engine.Flow) string {
	switch f.State {
	case engine.StateNew:
		if (f.TCPFlags[0]|f.TCPFlags[1])&0x02 != 0 {
			return "syn_sent"
		}
		return "none"
	case engine.StateEstablished:
		return "established"
	case engine.StateClosing:
		return "fin_wait1"
	}
	return "closed"
}

// eveTracks reports whether Suricata makes flows of protocol p: TCP, UDP,
// SCTP, ICMP, ICMPv6, ESP, and IPv4 or IPv6 carried in IP (the outer packet
// of an IP-in-IP tunnel is a flow of its own). GRE, IGMP, OSPF and the
// others pass through Suricata without a flow, so its EVE has no flow
// event of them; flowd's table tracks them (VPC flow logs record them) and
// its EVE leaves them out, so the two files hold the same flows.
func eveTracks(p uint8) bool {
	switch p {
	case decode.ProtoICMP, decode.ProtoIPv4, decode.ProtoTCP, decode.ProtoUDP, decode.ProtoIPv6,
		decode.ProtoESP, decode.ProtoICMPv6, decode.ProtoSCTP:
		return true
	}
	return false
}

func (e eveFormat) appendFlow(b []byte, f *engine.Flow) []byte {
	sp, dp := f.SrcPort, f.DstPort
	b = append(b, `{"timestamp":"`...)
	at := len(b)
	b = appendEVETime(b, f.Last)
	last := b[at:len(b):len(b)] // "end" is the same time: copied, not formatted again
	b = append(b, `","flow_id":`...)
	b = strconv.AppendUint(b, f.ID, 10)
	if e.iface != nil {
		b = append(b, `,"in_iface":`...)
		b = e.iface.appendQuoted(b, f.Source)
	}
	b = append(b, `,"event_type":"flow"`...)
	if f.VLAN[0] != 0 {
		b = append(b, `,"vlan":[`...)
		b = appendVLAN(b, f, ',')
		b = append(b, ']')
	}
	b = append(b, `,"src_ip":"`...)
	b = appendEVEAddr(b, &f.Src, f.Family)
	b = append(b, '"')
	if decode.HasPorts(f.Proto) {
		b = append(b, `,"src_port":`...)
		b = strconv.AppendUint(b, uint64(sp), 10)
	}
	b = append(b, `,"dest_ip":"`...)
	b = appendEVEAddr(b, &f.Dst, f.Family)
	b = append(b, '"')
	if decode.HasPorts(f.Proto) {
		b = append(b, `,"dest_port":`...)
		b = strconv.AppendUint(b, uint64(dp), 10)
	}
	b = append(b, `,"ip_v":`...)
	b = strconv.AppendUint(b, uint64(f.Family), 10)
	b = append(b, `,"proto":"`...)
	b = append(b, ProtoName(f.Proto)...)
	b = append(b, '"')
	if !e.opt.NoCommunityID {
		b = append(b, `,"community_id":"`...)
		b = appendCommunityID(b, f, e.opt.CommunityIDSeed)
		b = append(b, '"')
	}
	switch f.Proto {
	case decode.ProtoICMP, decode.ProtoICMPv6:
		b = append(b, `,"icmp_type":`...)
		b = strconv.AppendUint(b, uint64(f.ICMPType), 10)
		b = append(b, `,"icmp_code":`...)
		b = strconv.AppendUint(b, uint64(f.ICMPCode), 10)
		if f.Pkts[engine.ToClient] != 0 {
			// Suricata writes the type that answers the first packet's
			// and code 0: it keeps nothing of the answer itself.
			b = append(b, `,"response_icmp_type":`...)
			b = strconv.AppendUint(b, uint64(f.ResponseICMPType), 10)
			b = append(b, `,"response_icmp_code":0`...)
		}
	case decode.ProtoESP:
		b = append(b, `,"spi":`...)
		b = strconv.AppendUint(b, uint64(f.SPI), 10)
	}
	b = append(b, `,"flow":{"pkts_toserver":`...)
	b = strconv.AppendUint(b, f.Pkts[0], 10)
	b = append(b, `,"pkts_toclient":`...)
	b = strconv.AppendUint(b, f.Pkts[1], 10)
	b = append(b, `,"bytes_toserver":`...)
	b = strconv.AppendUint(b, f.Bytes[0], 10)
	b = append(b, `,"bytes_toclient":`...)
	b = strconv.AppendUint(b, f.Bytes[1], 10)
	b = append(b, `,"start":"`...)
	if floorSec(f.First) == floorSec(f.Last) && len(last) == eveTimeLen {
		// Most flows start and end within the same second: the date and
		// time of day are those of the end.
		b = append(b, last[:20]...)
		b = appendFrac6(b, f.First)
		b = append(b, "+0000"...)
	} else {
		b = appendEVETime(b, f.First)
	}
	b = append(b, `","end":"`...)
	b = append(b, last...)
	b = append(b, `","age":`...)
	b = strconv.AppendInt(b, Age(f), 10)
	if f.Emergency {
		b = append(b, `,"emergency":true`...)
	}
	b = append(b, `,"state":"`...)
	b = append(b, eveState(f.State)...)
	b = append(b, `","reason":"`...)
	b = append(b, eveReason(f.Reason)...)
	b = append(b, `","alerted":false}`...)
	if f.Proto == 6 {
		all := f.TCPFlags[0] | f.TCPFlags[1]
		b = append(b, `,"tcp":{"tcp_flags":"`...)
		b = appendHex2(b, all)
		b = append(b, `","tcp_flags_ts":"`...)
		b = appendHex2(b, f.TCPFlags[0])
		b = append(b, `","tcp_flags_tc":"`...)
		b = appendHex2(b, f.TCPFlags[1])
		b = append(b, '"')
		for i, name := range []string{"fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"} {
			if all&(1<<i) != 0 {
				b = append(b, `,"`...)
				b = append(b, name...)
				b = append(b, `":true`...)
			}
		}
		b = append(b, `,"state":"`...)
		b = append(b, eveTCPState(f)...)
		b = append(b, `"}`...)
	}
	return append(b, "}\n"...)
}
