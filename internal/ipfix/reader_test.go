package ipfix

import (
	"encoding/binary"
	"fmt"
)

// This file is a small collector-side reader written from RFC 7011 (IPFIX)
// and RFC 3954 (NetFlow v9) for the tests. It shares nothing with the
// encoder: templates are learned from the wire, fields are looked up by
// (enterprise, id), and values are read by their announced length.

// ieKey names an information element: enterprise number and element id.
type ieKey struct {
	pen uint32
	id  uint16
}

type specifier struct {
	ieKey
	length uint16
}

// msgHeader is a decoded message header.
type msgHeader struct {
	version   uint16
	length    uint16 // IPFIX: message length; v9: record count
	uptime    uint32 // v9 only
	exportSec uint32
	seq       uint32
	domain    uint32
}

// decodedRecord maps elements to their values (unsigned, or raw bytes for
// addresses).
type decodedRecord struct {
	template uint16
	vals     map[ieKey]uint64
	raw      map[ieKey][]byte
}

func (r decodedRecord) u(id uint16) uint64     { return r.vals[ieKey{0, id}] }
func (r decodedRecord) rev(id uint16) uint64   { return r.vals[ieKey{29305, id}] }
func (r decodedRecord) bytes(id uint16) []byte { return r.raw[ieKey{0, id}] }
func (r decodedRecord) has(pen uint32, id uint16) bool {
	_, ok := r.raw[ieKey{pen, id}]
	return ok
}

// wireReader keeps the templates of one transport session.
type wireReader struct {
	templates map[uint32]map[uint16][]specifier // by domain, template id
}

func newWireReader() *wireReader {
	return &wireReader{templates: map[uint32]map[uint16][]specifier{}}
}

// read decodes one message: its header, how many template records it held,
// and its data records.
func (w *wireReader) read(m []byte) (h msgHeader, ntmpl int, recs []decodedRecord, err error) {
	if len(m) < 2 {
		return h, 0, nil, fmt.Errorf("message of %d bytes", len(m))
	}
	h.version = binary.BigEndian.Uint16(m)
	var off int
	switch h.version {
	case 10:
		if len(m) < 16 {
			return h, 0, nil, fmt.Errorf("short IPFIX header")
		}
		h.length = binary.BigEndian.Uint16(m[2:])
		if int(h.length) != len(m) {
			return h, 0, nil, fmt.Errorf("IPFIX length %d, message %d bytes", h.length, len(m))
		}
		h.exportSec = binary.BigEndian.Uint32(m[4:])
		h.seq = binary.BigEndian.Uint32(m[8:])
		h.domain = binary.BigEndian.Uint32(m[12:])
		off = 16
	case 9:
		if len(m) < 20 {
			return h, 0, nil, fmt.Errorf("short v9 header")
		}
		h.length = binary.BigEndian.Uint16(m[2:])
		h.uptime = binary.BigEndian.Uint32(m[4:])
		h.exportSec = binary.BigEndian.Uint32(m[8:])
		h.seq = binary.BigEndian.Uint32(m[12:])
		h.domain = binary.BigEndian.Uint32(m[16:])
		off = 20
	default:
		return h, 0, nil, fmt.Errorf("version %d", h.version)
	}
	tm := w.templates[h.domain]
	if tm == nil {
		tm = map[uint16][]specifier{}
		w.templates[h.domain] = tm
	}
	for off < len(m) {
		if len(m)-off < 4 {
			return h, 0, nil, fmt.Errorf("set header cut at %d", off)
		}
		id := binary.BigEndian.Uint16(m[off:])
		sl := int(binary.BigEndian.Uint16(m[off+2:]))
		if sl < 4 || off+sl > len(m) {
			return h, 0, nil, fmt.Errorf("set %d length %d at %d", id, sl, off)
		}
		body := m[off+4 : off+sl]
		off += sl
		isTemplate := (h.version == 10 && id == 2) || (h.version == 9 && id == 0)
		if isTemplate {
			for len(body) >= 4 {
				tid := binary.BigEndian.Uint16(body)
				n := int(binary.BigEndian.Uint16(body[2:]))
				body = body[4:]
				var specs []specifier
				for i := 0; i < n; i++ {
					if len(body) < 4 {
						return h, 0, nil, fmt.Errorf("template %d cut", tid)
					}
					s := specifier{ieKey: ieKey{id: binary.BigEndian.Uint16(body)}, length: binary.BigEndian.Uint16(body[2:])}
					body = body[4:]
					if h.version == 10 && s.id&0x8000 != 0 {
						s.id &^= 0x8000
						s.pen = binary.BigEndian.Uint32(body)
						body = body[4:]
					}
					specs = append(specs, s)
				}
				tm[tid] = specs
				ntmpl++
			}
			continue
		}
		if id < 256 {
			return h, 0, nil, fmt.Errorf("unexpected set id %d", id)
		}
		specs, ok := tm[id]
		if !ok {
			return h, 0, nil, fmt.Errorf("data set %d before its template", id)
		}
		rl := 0
		for _, s := range specs {
			rl += int(s.length)
		}
		for len(body) >= rl {
			r := decodedRecord{template: id, vals: map[ieKey]uint64{}, raw: map[ieKey][]byte{}}
			for _, s := range specs {
				v := body[:s.length]
				body = body[s.length:]
				r.raw[s.ieKey] = v
				if s.length <= 8 {
					var x uint64
					for _, c := range v {
						x = x<<8 | uint64(c)
					}
					r.vals[s.ieKey] = x
				}
			}
			recs = append(recs, r)
		}
		for _, c := range body { // what is left must be padding
			if c != 0 {
				return h, 0, nil, fmt.Errorf("non-zero padding in set %d", id)
			}
		}
	}
	return h, ntmpl, recs, nil
}
