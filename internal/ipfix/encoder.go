package ipfix

import (
	"encoding/binary"
	"time"
)

const (
	ipfixVersion   = 10
	v9Version      = 9
	ipfixHeaderLen = 16 // version, length, export time, sequence, domain
	v9HeaderLen    = 20 // version, count, sysUptime, unix secs, sequence, source id
	setHeaderLen   = 4  // set (flowset) id, length

	// v9Uptime places NetFlow v9's virtual boot 2^31 ms (24.8 days) before
	// the first export time (or the first flow's start, whichever the
	// encoder sees first). FIRST/LAST_SWITCHED are 32-bit milliseconds
	// since boot, so flows up to 24.8 days older than that still fit, and
	// sysUptime wraps only after 24.8 more days of exporting.
	v9Uptime = int64(1) << 31
)

// addResult says what encoder.add did with a record.
type addResult uint8

const (
	added   addResult = iota
	full              // no room: send the message and add it to the next
	invalid           // a family other than 4 or 6: never exportable
)

// encoder builds export messages of one observation domain in a buffer
// allocated once. It is owned by one goroutine. A message is begun lazily by
// the first record added, finished by finish, and acknowledged by sent (which
// moves the sequence number) or dropped by discard.
type encoder struct {
	proto  Protocol
	biflow bool
	domain uint32
	max    int // bytes a message may hold

	tmpl [2]*template // for IPv4, IPv6
	tset []byte       // the template set (header included), prebuilt

	buf    []byte // the data message; cap(buf) == max
	tbuf   []byte // the template message
	setOff int    // offset of the open data set's header; 0 when none
	setID  uint16
	nData  int // data records in the message
	nFlows int // Records in the message (a uniflow Record may need 2 data records)

	// seq is the sequence number of the next message: IPFIX counts data
	// records sent before it in this domain, NetFlow v9 counts messages.
	seq uint32

	boot    int64 // v9 virtual boot time, Unix ms; valid when bootSet
	bootSet bool
}

func newEncoder(p Protocol, biflow bool, domain uint32, max int) *encoder {
	e := &encoder{proto: p, biflow: biflow, domain: domain, max: max}
	id4, id6 := tmplUni4, tmplUni6
	if biflow {
		id4, id6 = tmplBi4, tmplBi6
	}
	e.tmpl[0] = buildTemplate(id4, p, 4, biflow)
	e.tmpl[1] = buildTemplate(id6, p, 6, biflow)

	setID := uint16(ipfixTemplateSetID)
	if p == NetFlow9 {
		setID = v9TemplateFlowSetID
	}
	s := binary.BigEndian.AppendUint16(nil, setID)
	s = append(s, 0, 0)
	s = appendTemplateRecord(s, e.tmpl[0])
	s = appendTemplateRecord(s, e.tmpl[1])
	binary.BigEndian.PutUint16(s[2:], uint16(len(s))) // 4-byte aligned already
	e.tset = s

	e.buf = make([]byte, 0, max)
	e.tbuf = make([]byte, 0, e.headerLen()+len(s))
	return e
}

func (e *encoder) headerLen() int {
	if e.proto == NetFlow9 {
		return v9HeaderLen
	}
	return ipfixHeaderLen
}

// minMessage is the smallest message size that holds the template message
// and one Record of the largest template (two data records, uniflow).
func minMessage(p Protocol, biflow bool) int {
	e := newEncoder(p, biflow, 0, 0)
	n := e.headerLen() + setHeaderLen + 2*e.tmpl[1].recLen + 3
	if t := e.headerLen() + len(e.tset); t > n {
		n = t
	}
	return n
}

func (e *encoder) empty() bool { return e.nFlows == 0 }

// add appends r's data record(s) to the message: one biflow record, or in
// uniflow mode one record per direction that saw packets (the forward one
// when neither did, so a report is never silent). Both directions of a Record go into
// the same message, so a message's Records are whole. It does not allocate.
func (e *encoder) add(r *Record) addResult {
	var t *template
	switch r.Family {
	case 4:
		t = e.tmpl[0]
	case 6:
		t = e.tmpl[1]
	default:
		return invalid
	}
	dirs := 1
	if !e.biflow && r.Packets[1] > 0 && r.Packets[0] > 0 {
		dirs = 2
	}
	onlyReverse := !e.biflow && r.Packets[0] == 0 && r.Packets[1] > 0

	if len(e.buf) == 0 {
		e.buf = e.buf[:e.headerLen()]
		if e.proto == NetFlow9 && !e.bootSet {
			// No message went out yet: center the uptime window on
			// this flow, which the first export time will be near.
			e.boot = floorMs(r.Start) - v9Uptime
			e.bootSet = true
		}
	}
	need := dirs * t.recLen
	newSet := e.setOff == 0 || e.setID != t.id
	pad := 0
	if newSet {
		need += setHeaderLen
		pad = e.setPad() // the open set is closed first
	}
	if e.proto == NetFlow9 {
		need += 3 // room to pad the last set to 4 bytes
	}
	if len(e.buf)+pad+need > e.max {
		if e.nFlows == 0 {
			e.buf = e.buf[:0]
		}
		return full
	}
	if newSet {
		e.closeSet()
		e.setOff = len(e.buf)
		e.setID = t.id
		e.buf = binary.BigEndian.AppendUint16(e.buf, t.id)
		e.buf = append(e.buf, 0, 0)
	}
	if onlyReverse {
		e.appendRecord(t, r, 1)
	} else {
		e.appendRecord(t, r, 0)
		if dirs == 2 {
			e.appendRecord(t, r, 1)
		}
	}
	e.nData += dirs
	e.nFlows++
	return added
}

// setPad is the padding the open data set needs: NetFlow v9 pads flowsets
// to 4 bytes (RFC 3954 section 5.3); IPFIX sets are sent unpadded, which RFC
// 7011 allows and every collector reads.
func (e *encoder) setPad() int {
	if e.proto != NetFlow9 || e.setOff == 0 {
		return 0
	}
	return (4 - (len(e.buf)-e.setOff)%4) % 4
}

// closeSet pads the open data set and writes its length.
func (e *encoder) closeSet() {
	if e.setOff == 0 {
		return
	}
	for p := e.setPad(); p > 0; p-- {
		e.buf = append(e.buf, 0)
	}
	binary.BigEndian.PutUint16(e.buf[e.setOff+2:], uint16(len(e.buf)-e.setOff))
	e.setOff = 0
}

// appendRecord writes one data record of template t for direction dir of r
// (0: as recorded, 1: endpoints, ports and counters swapped).
func (e *encoder) appendRecord(t *template, r *Record, dir int) {
	b := e.buf
	src, dst := &r.Src, &r.Dst
	sport, dport := r.SrcPort, r.DstPort
	if dir == 1 {
		src, dst = dst, src
		sport, dport = dport, sport
	}
	for i := range t.fields {
		f := &t.fields[i]
		var v uint64
		switch f.kind {
		case kSrcAddr:
			b = append(b, src[:f.size]...)
			continue
		case kDstAddr:
			b = append(b, dst[:f.size]...)
			continue
		case kSrcPort:
			v = uint64(sport)
		case kDstPort:
			v = uint64(dport)
		case kProto:
			v = uint64(r.Proto)
		case kFlags:
			v = uint64(r.TCPFlags[dir])
		case kPackets:
			v = r.Packets[dir]
		case kOctets:
			v = r.Octets[dir]
		case kStartMs:
			v = uint64(floorMs(r.Start))
		case kEndMs:
			v = uint64(floorMs(r.End))
		case kFirstUp:
			v = e.uptime(r.Start)
		case kLastUp:
			v = e.uptime(r.End)
		case kVLAN0:
			v = uint64(r.VLAN[0] & 0xfff)
		case kVLAN1:
			v = uint64(r.VLAN[1] & 0xfff)
		case kICMP:
			v = icmpTypeCode(r, dir)
		case kReason:
			v = uint64(r.EndReason)
		case kIngress:
			v = uint64(r.Ingress)
		case kRevFlags:
			v = uint64(r.TCPFlags[1])
		case kRevPkts:
			v = r.Packets[1]
		case kRevOctets:
			v = r.Octets[1]
		case kRevICMP:
			v = icmpTypeCode(r, 1)
		case kBiflowDir:
			v = biflowDirectionInitiat
		}
		switch f.size {
		case 1:
			b = append(b, byte(v))
		case 2:
			b = binary.BigEndian.AppendUint16(b, uint16(v))
		case 4:
			b = binary.BigEndian.AppendUint32(b, uint32(v))
		default:
			b = binary.BigEndian.AppendUint64(b, v)
		}
	}
	e.buf = b
}

// floorMs converts Unix ns to Unix ms, rounding down also before 1970.
func floorMs(ns int64) int64 {
	ms := ns / 1e6
	if ns < 0 && ns%1e6 != 0 {
		ms--
	}
	return ms
}

// uptime converts Unix ns to milliseconds since the virtual boot, clamped to
// what 32 bits hold.
func (e *encoder) uptime(ns int64) uint64 {
	d := floorMs(ns) - e.boot
	if d < 0 {
		return 0
	}
	if d > 0xffffffff {
		return 0xffffffff
	}
	return uint64(d)
}

// icmpTypeCode is the icmpTypeCode value (type<<8 | code) of direction dir.
func icmpTypeCode(r *Record, dir int) uint64 {
	if !r.isICMP() {
		return 0
	}
	t := r.ICMPType
	if dir == 1 {
		t = replyICMPType(r.Family, t)
	}
	return uint64(t)<<8 | uint64(r.ICMPCode)
}

// finish closes the message and fills in its header; the bytes stay valid
// until the next add, sent or discard.
func (e *encoder) finish(now time.Time) []byte {
	e.closeSet()
	e.putHeader(e.buf, e.nData, now)
	return e.buf
}

// sent records that the finished message reached the socket and starts a
// new one.
func (e *encoder) sent() {
	if e.proto == NetFlow9 {
		e.seq++
	} else {
		e.seq += uint32(e.nData)
	}
	e.reset()
}

// discard drops the message (it could not be sent). The sequence number does
// not move: the collector sees the next message continue where the last one
// it could have received ended.
func (e *encoder) discard() { e.reset() }

func (e *encoder) reset() {
	e.buf = e.buf[:0]
	e.setOff, e.nData, e.nFlows = 0, 0, 0
}

// templateMessage returns a message holding only the template set. Call
// templateSent once it reached the socket.
func (e *encoder) templateMessage(now time.Time) []byte {
	if e.proto == NetFlow9 && !e.bootSet {
		e.boot = now.UnixMilli() - v9Uptime
		e.bootSet = true
	}
	e.tbuf = append(e.tbuf[:e.headerLen()], e.tset...)
	e.putHeader(e.tbuf, 2, now)
	return e.tbuf
}

// templateSent moves the sequence number past a template message: NetFlow v9
// counts every message; IPFIX counts data records only.
func (e *encoder) templateSent() {
	if e.proto == NetFlow9 {
		e.seq++
	}
}

// putHeader writes the message header. records is the v9 Count field (data
// and template records in the message); IPFIX has none.
func (e *encoder) putHeader(b []byte, records int, now time.Time) {
	if e.proto == NetFlow9 {
		binary.BigEndian.PutUint16(b[0:], v9Version)
		binary.BigEndian.PutUint16(b[2:], uint16(records))
		// The header has whole seconds only, and collectors take the boot
		// time as unix secs × 1000 − sysUptime: an uptime counted to the
		// same whole second gives them the exact boot, so the records'
		// times come back to the millisecond.
		secs := now.Unix()
		binary.BigEndian.PutUint32(b[4:], uint32(secs*1000-e.boot))
		binary.BigEndian.PutUint32(b[8:], uint32(secs))
		binary.BigEndian.PutUint32(b[12:], e.seq)
		binary.BigEndian.PutUint32(b[16:], e.domain)
		return
	}
	binary.BigEndian.PutUint16(b[0:], ipfixVersion)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint32(b[4:], uint32(now.Unix()))
	binary.BigEndian.PutUint32(b[8:], e.seq)
	binary.BigEndian.PutUint32(b[12:], e.domain)
}
