package capture

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/rand/v2"
)

// A seeded generator of capture files and of the frames a reader must find
// in them. Its timestamp arithmetic uses math/big, a slow twin of the
// reader's multiply/shift fast paths.

type genFile struct {
	data   []byte
	frames []want
	// ends lists the offsets where the file header and each record or block
	// end, with the number of frames complete at that point.
	ends []genEnd
}

type genEnd struct {
	off    int
	frames int
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

type genWriter struct {
	genFile
	order byteOrder
}

func (w *genWriter) mark()        { w.ends = append(w.ends, genEnd{len(w.data), len(w.frames)}) }
func (w *genWriter) u16(v uint16) { w.data = w.order.AppendUint16(w.data, v) }
func (w *genWriter) u32(v uint32) { w.data = w.order.AppendUint32(w.data, v) }
func (w *genWriter) u64(v uint64) { w.data = w.order.AppendUint64(w.data, v) }

func randPacket(rng *rand.Rand) []byte {
	// Realistic sizes: ACK-sized, mid-sized and full-MTU frames.
	var n int
	switch r := rng.IntN(10); {
	case r < 4:
		n = 54 + rng.IntN(13)
	case r < 5:
		n = rng.IntN(54)
	case r < 6:
		n = 60 + rng.IntN(1000)
	default:
		n = 1514
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// genPcap writes n records in the given byte order and resolution.
func genPcap(rng *rand.Rand, n int, order byteOrder, nanos bool, link uint32) genFile {
	w := genWriter{order: order}
	magic, scale := uint32(pcapMagicMicros), int64(1000)
	if nanos {
		magic, scale = pcapMagicNanos, 1
	}
	w.u32(magic)
	w.u16(2)
	w.u16(4)
	w.u32(0)
	w.u32(0)
	w.u32(65535)
	w.u32(link)
	w.mark()
	sec := uint32(1_600_000_000 + rng.IntN(1e8))
	for range n {
		p := randPacket(rng)
		wire := uint32(len(p))
		if rng.IntN(8) == 0 {
			wire += uint32(rng.IntN(9000)) // snapped
		}
		sec += uint32(rng.IntN(3))
		frac := uint32(rng.Int64N(1e9 / scale))
		w.u32(sec)
		w.u32(frac)
		w.u32(uint32(len(p)))
		w.u32(wire)
		w.data = append(w.data, p...)
		w.frames = append(w.frames, want{p, int64(sec)*1e9 + int64(frac)*scale, wire, NormalizeLinkType(link & 0xffff), 0})
		w.mark()
	}
	return w.genFile
}

type genIface struct {
	link  LinkType
	snap  uint32
	resol byte // 0: no if_tsresol option (10^-6)
	off   int64
}

// ticksPerSecond and nanos compute timestamps the slow, obvious way.
func ticksPerSecond(resol byte) *big.Int {
	if resol == 0 {
		resol = 6
	}
	if resol&0x80 != 0 {
		return new(big.Int).Lsh(big.NewInt(1), uint(resol&0x7f))
	}
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(resol)), nil)
}

func (c genIface) nanos(ticks uint64) int64 {
	ns := new(big.Int).Mul(new(big.Int).SetUint64(ticks), big.NewInt(1e9))
	ns.Div(ns, ticksPerSecond(c.resol))
	return ns.Int64() + c.off*1e9
}

// randTicks returns a timestamp in ticks of c's resolution, around
// 2020-2023 when that fits in 64 bits, else whatever does.
func (c genIface) randTicks(rng *rand.Rand) uint64 {
	tps := ticksPerSecond(c.resol)
	fit := int64(math.MaxInt64)
	if q := new(big.Int).Div(new(big.Int).SetUint64(^uint64(0)), tps); q.IsInt64() {
		fit = q.Int64() // whole seconds that fit
	}
	sec := 1_600_000_000 + rng.Int64N(1e8) - c.off
	if sec >= fit {
		sec = rng.Int64N(fit)
	}
	t := new(big.Int).Mul(big.NewInt(sec), tps)
	t.Add(t, new(big.Int).SetUint64(rng.Uint64N(tps.Uint64())))
	return t.Uint64()
}

type ngOptions struct {
	sections int
	// exactForGopacket avoids what gopacket's NgReader does differently on
	// purpose: binary resolutions finer than 2^-9 (it rounds the scale),
	// minor versions other than 0, and a zero if_tsresol.
	exactForGopacket bool
	// simple leaves out everything but EPBs in one section with one
	// interface (benchmarks).
	simple bool
}

// genPcapNG writes n packet blocks spread over sections and interfaces with
// random link types, resolutions and offsets, interleaved with blocks the
// reader must skip, in random byte orders.
func genPcapNG(rng *rand.Rand, n int, o ngOptions) genFile {
	var w genWriter
	var ifaces []genIface
	var base uint32
	var lastTS int64
	sections := max(o.sections, 1)
	links := []LinkType{LinkEthernet, LinkRaw, LinkLinuxSLL, LinkLinuxSLL2, LinkIPv4, LinkIPv6, LinkNull, LinkLoop}
	resols := []byte{0, 3, 6, 9, 0x80, 0x83, 0x89, 12}
	if !o.exactForGopacket {
		resols = append(resols, 0x8a, 0x94, 0xbf, 15, 19)
	}
	block := func(typ uint32, body func()) {
		start := len(w.data)
		w.u32(typ)
		w.u32(0) // length, patched below
		body()
		for len(w.data)%4 != 0 {
			w.data = append(w.data, 0)
		}
		w.u32(uint32(len(w.data) - start + 4))
		w.order.PutUint32(w.data[start+4:], uint32(len(w.data)-start))
		w.mark()
	}
	option := func(code uint16, v []byte) {
		w.u16(code)
		w.u16(uint16(len(v)))
		w.data = append(w.data, v...)
		for len(w.data)%4 != 0 {
			w.data = append(w.data, 0)
		}
	}
	for s := range sections {
		w.order = byteOrder(binary.LittleEndian)
		if !o.simple && rng.IntN(2) == 0 {
			w.order = binary.BigEndian
		}
		base += uint32(len(ifaces))
		ifaces = ifaces[:0]
		block(blockSHB, func() {
			w.u32(byteOrderMagic)
			w.u16(1)
			if o.exactForGopacket || o.simple {
				w.u16(0)
			} else {
				w.u16(uint16(rng.IntN(3)))
			}
			w.u64(^uint64(0))
			if rng.IntN(2) == 0 {
				option(4, []byte("flowd test")) // shb_userappl
				option(optEndOfOpt, nil)
			}
		})
		nIf := 1
		if !o.simple {
			nIf = 1 + rng.IntN(3)
		}
		for range nIf {
			c := genIface{link: links[rng.IntN(len(links))]}
			if o.simple {
				c = genIface{link: LinkEthernet, resol: 9}
			} else {
				c.resol = resols[rng.IntN(len(resols))]
				if rng.IntN(4) == 0 {
					c.snap = uint32(rng.IntN(200))
				}
				if rng.IntN(3) == 0 {
					c.off = rng.Int64N(1e6)
				}
				if rng.IntN(2) == 0 && (c.resol == 19 || c.resol == 15 || c.resol == 12 || c.resol&0x7f >= 60) {
					c.off = 1_600_000_000 // ticks this fine cannot count from 1970 in 64 bits
				}
			}
			block(blockIDB, func() {
				w.u16(uint16(c.link))
				w.u16(0)
				w.u32(c.snap)
				if rng.IntN(2) == 0 {
					option(2, []byte("eth0")) // if_name
				}
				if c.resol != 0 {
					option(optTSResol, []byte{c.resol})
				}
				if c.off != 0 {
					v := w.order.AppendUint64(nil, uint64(c.off))
					option(optTSOffset, v)
				}
				if rng.IntN(2) == 0 {
					option(optEndOfOpt, nil)
				}
			})
			ifaces = append(ifaces, c)
		}
		per := n / sections
		if s == sections-1 {
			per = n - per*(sections-1)
		}
		for range per {
			if !o.simple {
				switch rng.IntN(12) {
				case 0: // ISB for some interface
					block(5, func() { w.u32(uint32(rng.IntN(len(ifaces)))); w.u64(0) })
				case 1: // NRB with one IPv4 record
					block(4, func() { w.u16(1); w.u16(8); w.data = append(w.data, 10, 0, 0, 1, 'a', 0, 0, 0); w.u32(0) })
				case 2: // custom block
					block(0x40000bad, func() { w.u32(32473); w.data = append(w.data, 1, 2, 3) })
				}
			}
			id := uint32(rng.IntN(len(ifaces)))
			c := ifaces[id]
			p := randPacket(rng)
			kind := 2 // EPB
			if !o.simple {
				kind = rng.IntN(6)
			}
			switch {
			case kind == 0 && id == 0: // SPB: interface 0, no timestamp
				wire := uint32(len(p))
				if c.snap != 0 && uint32(len(p)) > c.snap {
					p = p[:c.snap]
				}
				block(blockSPB, func() { w.u32(wire); w.data = append(w.data, p...) })
				w.frames = append(w.frames, want{p, lastTS, wire, c.link, base})
				w.ends[len(w.ends)-1].frames++
			default: // EPB, or the obsolete PB one time in six
				typ := uint32(blockEPB)
				if kind == 1 {
					typ = blockPB
				}
				if c.snap != 0 && uint32(len(p)) > c.snap {
					p = p[:c.snap]
				}
				wire := uint32(len(p)) + uint32(rng.IntN(2))*uint32(rng.IntN(100))
				ticks := c.randTicks(rng)
				block(typ, func() {
					if typ == blockEPB {
						w.u32(id)
					} else {
						w.u16(uint16(id))
						w.u16(0)
					}
					w.u32(uint32(ticks >> 32))
					w.u32(uint32(ticks))
					w.u32(uint32(len(p)))
					w.u32(wire)
					w.data = append(w.data, p...)
					for len(w.data)%4 != 0 {
						w.data = append(w.data, 0)
					}
					if typ == blockEPB && rng.IntN(4) == 0 {
						option(1, []byte("a comment")) // opt_comment
						option(optEndOfOpt, nil)
					}
				})
				lastTS = c.nanos(ticks)
				w.frames = append(w.frames, want{p, lastTS, wire, c.link, base + id})
				w.ends[len(w.ends)-1].frames++
			}
		}
	}
	return w.genFile
}
