package capture

import (
	"fmt"
	"math/bits"
)

// pcapng (draft-ietf-opsawg-pcapng): a sequence of blocks, each
// type(4) total-length(4) body total-length(4), total length a multiple of 4.
// A file is one or more sections; each starts with a Section Header Block
// whose byte-order magic sets the byte order of the section, and has its own
// interfaces, numbered from 0 in the order of their Interface Description
// Blocks.
const (
	blockPB  = 0x00000002 // obsolete Packet Block
	blockIDB = 0x00000001 // Interface Description Block
	blockSPB = 0x00000003 // Simple Packet Block
	blockEPB = 0x00000006 // Enhanced Packet Block
	blockSHB = 0x0a0d0d0a // Section Header Block: a palindrome, the same in both byte orders

	byteOrderMagic = 0x1a2b3c4d

	blockMinLen = 12 // type, length, trailing length

	optEndOfOpt = 0
	optTSResol  = 9  // if_tsresol: 1 byte
	optTSOffset = 14 // if_tsoffset: 8 bytes, seconds added to every timestamp
)

// blockMin is the smallest total length of each block type flowd parses:
// the fixed fields plus the 12 bytes every block has.
func blockMin(typ uint32) int {
	switch typ {
	case blockSHB:
		return 28 // byte-order magic 4, versions 4, section length 8
	case blockIDB:
		return 20 // link type 2, reserved 2, snaplen 4
	case blockEPB, blockPB:
		return 32 // interface 4 (PB: 2 + drops 2), timestamp 8, caplen 4, origlen 4
	case blockSPB:
		return 16 // origlen 4
	}
	return blockMinLen
}

func blockName(typ uint32) string {
	switch typ {
	case blockSHB:
		return "section header block"
	case blockIDB:
		return "interface description block"
	case blockEPB:
		return "enhanced packet block"
	case blockSPB:
		return "simple packet block"
	case blockPB:
		return "packet block"
	}
	return fmt.Sprintf("block type 0x%08x", typ)
}

// iface is what a frame needs from its Interface Description Block.
type iface struct {
	link LinkType
	snap uint32
	// Timestamps are ticks of 10^-n or 2^-n seconds. When a tick is a whole
	// number of nanoseconds (n <= 9) the conversion is one multiply by mul;
	// otherwise mul is 0 and nanosSlow divides.
	mul   int64
	off   int64  // if_tsoffset in nanoseconds
	div   uint64 // ticks per second, decimal resolutions finer than 1 ns
	shift uint8  // binary resolutions finer than 2^-9 s
}

func (c *iface) nanos(ts uint64) int64 {
	if c.mul != 0 {
		return int64(ts)*c.mul + c.off
	}
	return c.nanosSlow(ts)
}

func (c *iface) nanosSlow(ts uint64) int64 {
	if c.shift != 0 {
		sec, frac := ts>>c.shift, ts&(1<<c.shift-1)
		// frac * 1e9 needs up to 94 bits; shift the 128-bit product.
		hi, lo := bits.Mul64(frac, 1e9)
		ns := lo>>c.shift | hi<<(64-c.shift)
		return int64(sec)*1e9 + int64(ns) + c.off
	}
	return int64(ts/c.div)*1e9 + int64(ts%c.div/(c.div/1e9)) + c.off
}

// setResolution decodes if_tsresol: bit 7 clear means ticks of 10^-n
// seconds, set means 2^-n, n in the low 7 bits.
func (c *iface) setResolution(v byte) bool {
	n := uint(v & 0x7f)
	binary := v&0x80 != 0
	c.mul, c.div, c.shift = 0, 0, 0
	switch {
	case binary && n <= 9: // 1e9 = 2^9 * 1953125: exact
		c.mul = 1e9 >> n
	case binary && n < 64:
		c.shift = uint8(n)
	case binary:
		return false
	case n <= 9:
		c.mul = pow10[9-n]
	case n <= 19: // 10^19 is the largest power of ten in a uint64
		c.div = uint64(pow10[9]) * uint64(pow10[n-9])
	default:
		return false
	}
	return true
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10}

// pcapngHeader reads the first Section Header Block.
func (f *File) pcapngHeader() error {
	_, b, err := f.nextBlock(false)
	if err != nil {
		return err
	}
	if err := f.sectionHeader(b); err != nil {
		return err
	}
	f.start += len(b)
	return nil
}

// nextBlock returns the whole block at buf[start], framing checked: length
// a multiple of 4, within limits, at least its type's minimum, equal at both
// ends. It does not consume the block. It returns b == nil and err == nil
// when the batch must end so the buffer can be refilled.
func (f *File) nextBlock(busy bool) (typ uint32, b []byte, err error) {
	if f.end-f.start < blockMinLen {
		if r := f.fill(blockMinLen, busy); r != filled {
			if r == fillShort {
				err = f.inputEnded(func(avail int) string {
					return fmt.Sprintf("block header needs %d bytes but only %d remain", blockMinLen, avail)
				})
			}
			return 0, nil, err
		}
	}
	h := f.buf[f.start : f.start+blockMinLen]
	off := f.base + int64(f.start)
	typ = f.u32(h[0:4])
	if typ == blockSHB {
		switch bom := uint32(h[8]) | uint32(h[9])<<8 | uint32(h[10])<<16 | uint32(h[11])<<24; bom {
		case byteOrderMagic:
			f.swap = false
		case bits.ReverseBytes32(byteOrderMagic):
			f.swap = true
		default:
			return 0, nil, f.formatError(off, fmt.Sprintf("section header byte-order magic % x is neither 1a2b3c4d nor 4d3c2b1a", h[8:12]))
		}
	}
	blen := f.u32(h[4:8])
	switch {
	case blen%4 != 0:
		return 0, nil, f.formatError(off, fmt.Sprintf("%s total length %d is not a multiple of 4", blockName(typ), blen))
	case blen > MaxRecordSize:
		return 0, nil, f.formatError(off, fmt.Sprintf("%s total length %d is over the %d-byte limit", blockName(typ), blen, MaxRecordSize))
	case int(blen) < blockMin(typ):
		return 0, nil, f.formatError(off, fmt.Sprintf("%s total length %d is less than its %d-byte minimum", blockName(typ), blen, blockMin(typ)))
	}
	need := int(blen)
	if f.end-f.start < need {
		if r := f.fill(need, busy); r != filled {
			if r == fillShort {
				err = f.inputEnded(func(avail int) string {
					return fmt.Sprintf("%s total length %d but only %d bytes remain", blockName(typ), blen, avail)
				})
			}
			return 0, nil, err
		}
	}
	b = f.buf[f.start : f.start+need : f.start+need]
	if tail := f.u32(b[need-4:]); tail != blen {
		return 0, nil, f.formatError(off, fmt.Sprintf("%s trailing total length %d does not match leading total length %d", blockName(typ), tail, blen))
	}
	return typ, b, nil
}

// sectionHeader starts a new section: its interfaces replace the last
// section's, numbered on after them so Frame.Interface stays unique.
func (f *File) sectionHeader(b []byte) error {
	if major, minor := f.u16(b[12:14]), f.u16(b[14:16]); major != 1 {
		// Like libpcap and Wireshark, refuse rather than skip: a new major
		// version may frame its blocks differently.
		return f.formatError(f.base+int64(f.start), fmt.Sprintf("section header version %d.%d is not supported (want 1.x)", major, minor))
	}
	f.ifaceBase += uint32(len(f.ifaces))
	f.ifaces = f.ifaces[:0]
	return nil
}

// MaxInterfaces bounds the interfaces one pcapng section may describe.
// Each costs 32 bytes of reader state; without a bound, a small gzip'd file
// of nothing but interface description blocks (10 M of them in 485 KB)
// drove a replay to 1.43 GB. Real captures have a handful.
const MaxInterfaces = 1 << 16

// interfaceDescription appends the interface an IDB describes.
func (f *File) interfaceDescription(b []byte) error {
	off := f.base + int64(f.start)
	if len(f.ifaces) >= MaxInterfaces {
		return f.formatError(off, fmt.Sprintf("more than %d interface description blocks in one section", MaxInterfaces))
	}
	c := iface{
		link: NormalizeLinkType(uint32(f.u16(b[8:10]))),
		snap: f.u32(b[12:16]),
		mul:  1e3, // default resolution 10^-6 s
	}
	opts := b[16 : len(b)-4]
	for len(opts) >= 4 {
		code, olen := f.u16(opts[0:2]), int(f.u16(opts[2:4]))
		if code == optEndOfOpt {
			break
		}
		if 4+olen > len(opts) {
			return f.formatError(off, fmt.Sprintf("interface description block option %d has length %d but only %d bytes remain in the block", code, olen, len(opts)-4))
		}
		v := opts[4 : 4+olen]
		switch {
		case code == optTSResol && olen >= 1:
			if !c.setResolution(v[0]) {
				return f.formatError(off, fmt.Sprintf("interface description block if_tsresol 0x%02x is not supported (at most 10^-19 or 2^-63 s)", v[0]))
			}
		case code == optTSOffset && olen >= 8:
			c.off = int64(f.u64(v[0:8])) * 1e9
		}
		opts = opts[min(4+(olen+3)&^3, len(opts)):]
	}
	f.ifaces = append(f.ifaces, c)
	return nil
}

// readPcapNG is ReadBatch for pcapng files.
func (f *File) readPcapNG(dst []Frame) (int, error) {
	var (
		n     int
		bytes uint64
		err   error
	)
	for n < len(dst) {
		var typ uint32
		var b []byte
		typ, b, err = f.nextBlock(n > 0)
		if b == nil {
			break
		}
		switch typ {
		case blockEPB, blockPB:
			var id uint32
			if typ == blockEPB {
				id = f.u32(b[8:12])
			} else {
				id = uint32(f.u16(b[8:10]))
			}
			if id >= uint32(len(f.ifaces)) {
				err = f.formatError(f.base+int64(f.start), fmt.Sprintf("%s names interface %d but the section has %d", blockName(typ), id, len(f.ifaces)))
				break
			}
			caplen := f.u32(b[20:24])
			if caplen > uint32(len(b)-32) {
				err = f.formatError(f.base+int64(f.start), fmt.Sprintf("%s captured length %d is more than the %d bytes the block holds", blockName(typ), caplen, len(b)-32))
				break
			}
			c := &f.ifaces[id]
			ts := c.nanos(uint64(f.u32(b[12:16]))<<32 | uint64(f.u32(b[16:20])))
			f.lastTS = ts
			dst[n] = Frame{
				Data:      b[28 : 28+caplen : 28+caplen],
				Timestamp: ts,
				WireLen:   f.u32(b[24:28]),
				LinkType:  c.link,
				Interface: f.ifaceBase + id,
			}
			n++
			bytes += uint64(caplen)
		case blockSPB:
			if len(f.ifaces) == 0 {
				err = f.formatError(f.base+int64(f.start), "simple packet block but the section has no interface")
				break
			}
			// An SPB has no captured length: it is the original length cut
			// to interface 0's snap length. It has no timestamp either;
			// the previous packet's is the best guess.
			c := &f.ifaces[0]
			wire := f.u32(b[8:12])
			caplen := wire
			if c.snap != 0 && caplen > c.snap {
				caplen = c.snap
			}
			if caplen > uint32(len(b)-16) {
				err = f.formatError(f.base+int64(f.start), fmt.Sprintf("simple packet block holds %d bytes of packet data but its lengths say %d", len(b)-16, caplen))
				break
			}
			dst[n] = Frame{
				Data:      b[12 : 12+caplen : 12+caplen],
				Timestamp: f.lastTS,
				WireLen:   wire,
				LinkType:  c.link,
				Interface: f.ifaceBase,
			}
			n++
			bytes += uint64(caplen)
		case blockIDB:
			err = f.interfaceDescription(b)
		case blockSHB:
			err = f.sectionHeader(b)
		}
		// Every other block (statistics, name resolution, decryption
		// secrets, custom, unknown) is skipped whole.
		if err != nil {
			break
		}
		f.start += len(b)
	}
	f.stats.Frames += uint64(n)
	f.stats.Bytes += bytes
	return n, err
}
