package capture

import (
	"fmt"
	"math/bits"
)

// The classic libpcap format: a 24-byte file header, then records of a
// 16-byte header (ts_sec, ts_frac, caplen, origlen) and caplen bytes of data,
// all in the byte order the magic number is written in.
const (
	pcapMagicMicros     = 0xa1b2c3d4 // ts_frac counts microseconds
	pcapMagicNanos      = 0xa1b23c4d // ts_frac counts nanoseconds
	pcapFileHeaderLen   = 24
	pcapRecordHeaderLen = 16
)

// pcapHeader reads the file header; the magic is already in buf[0:4].
func (f *File) pcapHeader() error {
	if f.fill(pcapFileHeaderLen, false) != filled {
		return f.inputEnded(func(avail int) string {
			return fmt.Sprintf("pcap file header needs %d bytes but the file has only %d", pcapFileHeaderLen, avail)
		})
	}
	h := f.buf[:pcapFileHeaderLen]
	magic := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16 | uint32(h[3])<<24
	f.swap = magic != pcapMagicMicros && magic != pcapMagicNanos
	f.tsScale = 1000
	if magic == pcapMagicNanos || magic == bits.ReverseBytes32(pcapMagicNanos) {
		f.tsScale = 1
	}
	if major, minor := f.u16(h[4:6]), f.u16(h[6:8]); major != 2 {
		return f.formatError(0, fmt.Sprintf("pcap version %d.%d is not supported (want 2.x)", major, minor))
	}
	// The upper bits of the link type field carry the FCS length and flags
	// (pcap spec, "LinkType and additional information"); the link type
	// proper is the low 16 bits.
	f.link = NormalizeLinkType(f.u32(h[20:24]) & 0xffff)
	f.start = pcapFileHeaderLen
	return nil
}

// readPcap is ReadBatch for pcap files. It tolerates caplen > origlen and
// caplen > snaplen (WireLen is reported as stored); only a record larger than
// MaxRecordSize or cut short is damage.
func (f *File) readPcap(dst []Frame) (int, error) {
	var (
		n     int
		bytes uint64
		err   error
	)
	for n < len(dst) {
		if f.end-f.start < pcapRecordHeaderLen {
			if r := f.fill(pcapRecordHeaderLen, n > 0); r != filled {
				if r == fillShort {
					err = f.inputEnded(func(avail int) string {
						return fmt.Sprintf("record header needs %d bytes but only %d remain", pcapRecordHeaderLen, avail)
					})
				}
				break
			}
		}
		caplen := f.u32(f.buf[f.start+8 : f.start+12])
		if caplen > MaxRecordSize {
			err = f.formatError(f.base+int64(f.start), fmt.Sprintf("record header says caplen %d, over the %d-byte limit", caplen, MaxRecordSize))
			break
		}
		need := pcapRecordHeaderLen + int(caplen)
		if f.end-f.start < need {
			if r := f.fill(need, n > 0); r != filled {
				if r == fillShort {
					err = f.inputEnded(func(avail int) string {
						return fmt.Sprintf("record header says caplen %d but only %d bytes remain", caplen, avail-pcapRecordHeaderLen)
					})
				}
				break
			}
		}
		// The three-index slice caps Data at the record, so a caller's
		// append cannot overwrite the next record.
		rec := f.buf[f.start : f.start+need : f.start+need]
		dst[n] = Frame{
			Data:      rec[pcapRecordHeaderLen:],
			Timestamp: int64(f.u32(rec[0:4]))*1e9 + int64(f.u32(rec[4:8]))*f.tsScale,
			WireLen:   f.u32(rec[12:16]),
			LinkType:  f.link,
		}
		f.start += need
		bytes += uint64(caplen)
		n++
	}
	f.stats.Frames += uint64(n)
	f.stats.Bytes += bytes
	return n, err
}
