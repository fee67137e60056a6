package capture

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
)

const (
	// defaultBufSize is the read buffer a File starts with. The batch ends
	// and the partial record at the end is copied down once per buffer, so
	// per ~1,300 average-sized (800-byte) frames.
	defaultBufSize = 1 << 20
	// readSize caps one Read, so the bytes just copied in are still in L2
	// (1 MiB per core on the test machine) when their headers are parsed,
	// and a read never reaches the 1 MiB at which Go's memmove switches to
	// cache-bypassing stores. Interleaved runs on a shared 2-vCPU AMD EPYC
	// (Go 1.26, Nov 2026), best of 5, ns/packet for pcap mem/file and
	// pcapng mem/file: 256 KiB 47/48/50/54, 512 KiB 55/52/63/60, uncapped
	// 54/49/51/59. A second round was too noisy to separate them: the gain
	// is small; re-measure on a quiet machine before tuning further.
	readSize = 256 << 10
	// minBufSize is the smallest buffer used for inputs whose size is known
	// to be small (tests, fuzzing, tiny captures).
	minBufSize = 4 << 10
	// MaxRecordSize is the largest pcap record (header + data) or pcapng
	// block a File accepts. Real snap lengths stop at 256 KiB; a larger
	// length field is damage, and trusting it would make the reader grow its
	// buffer without bound.
	MaxRecordSize = 16 << 20
	// maxBufSize holds the largest acceptable record plus a pcap record
	// header, so a record that passed the size check always fits.
	maxBufSize = MaxRecordSize + pcapRecordHeaderLen
	// gzipReadSize is the bufio buffer under the gzip decompressor; 64 KiB
	// keeps the read syscalls far below the cost of inflating.
	gzipReadSize = 64 << 10
	// maxEmptyReads bounds how often a reader may return (0, nil) in a row
	// before the File gives up with io.ErrNoProgress, so a misbehaving
	// reader cannot make ReadBatch spin forever.
	maxEmptyReads = 100
)

type format uint8

const (
	formatPcap format = iota + 1
	formatPcapNG
)

// File reads a pcap or pcapng capture, plain or gzip-compressed, from a file
// or any io.Reader. The format is detected from the first bytes, never from
// the file name. *File implements Source.
//
// Frames handed out by ReadBatch alias File's read buffer: every frame of one
// batch stays valid until the next ReadBatch, Reset or Close on the File. A
// File is not safe for concurrent use.
//
// What File accepts, where the formats leave room:
//   - pcap: version 2.x in either byte order, µs or ns magic; the link type
//     is the low 16 bits of the header field (the upper bits hold FCS
//     information). A record with caplen > origlen or caplen > snaplen is
//     delivered as stored; WireLen may then be less than len(Data).
//   - pcapng: sections of major version 1 (any minor); another major version
//     is damage, as in libpcap and Wireshark. Enhanced, simple and obsolete
//     packet blocks give frames; every other block is skipped by its
//     length. An SPB has no timestamp and gets the previous packet's (0
//     before any). if_tsresol (decimal up to 10^-19 s, binary up to
//     2^-63 s, converted exactly) and if_tsoffset (signed seconds) are
//     honoured; other options are ignored.
//   - gzip: concatenated members read as one stream; bytes after the last
//     member that are not another member are damage. Offsets count
//     uncompressed bytes and Stats.Size is -1. gzip's CRC is checked at
//     the end of each member, so frames delivered before a checksum error
//     may hold corrupted bytes.
//   - Damage ends the file: the reader does not try to resynchronise.
type File struct {
	name string
	file *os.File // owned: OpenFile opened it, Close closes it; nil otherwise
	r    io.Reader

	// gzip plumbing, kept across Reset so re-reading allocates nothing.
	gz  *gzip.Reader
	br  *bufio.Reader
	pre prefixReader

	magic [4]byte // the first bytes, read before the buffer exists

	// buf[start:end] has been read but not consumed; buf[:start] holds the
	// records of the current batch. base is the stream offset of buf[0].
	buf        []byte
	start, end int
	base       int64
	bufHint    int   // tests only: initial buffer size, to force compaction and growth
	rerr       error // first error from r (io.EOF at the end); nothing is read after it
	emptyReads int
	err        error // sticky: what every ReadBatch returns once something ended the file
	closed     bool

	format format
	// swap is set when the file's byte order is big endian: fields are read
	// little endian and byte-reversed, which inlines to a load and a BSWAP.
	swap bool

	// pcap
	link    LinkType
	tsScale int64 // nanoseconds per unit of ts_frac: 1000 (µs) or 1 (ns)

	// pcapng
	ifaces    []iface // interfaces of the current section
	ifaceBase uint32  // Frame.Interface of the section's interface 0
	lastTS    int64   // timestamp of the last EPB/PB, for SPBs

	stats Stats

	ra *readAhead // set when a goroutine reads ahead (readahead.go)
}

var _ Source = (*File)(nil)

// OpenFile opens the capture file at path. The File owns the file and closes
// it on Close.
//
// The file is read, not mapped: mapping it and parsing in place measured no
// faster for small packets and a third slower for 240-byte ones (replays of
// 971 k and 962 k packets on the 2-vCPU VM, Nov 2026: 112 vs 111 ms and
// 164 vs 115 ms), because copying through a small buffer streams the bytes
// into cache ahead of the parser, while hopping from header to header through
// the mapping misses on each.
func OpenFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	f := &File{file: fh}
	if err := f.open(fh, path); err != nil {
		fh.Close()
		return nil, err
	}
	// A compressed regular file is inflated ahead on a goroutine (see
	// readahead.go for why plain files are not). Pipes and devices are not
	// read ahead: Close could not stop a read that blocks.
	if fi, err := fh.Stat(); err == nil && fi.Mode().IsRegular() && f.rerr == nil && f.gz != nil {
		f.startReadAhead(raChunkSize, raHeadroom)
	}
	return f, nil
}

// NewReader reads a capture from r; name identifies it in errors. The caller
// keeps ownership of r: Close does not close it. Stats.Size is r's length
// when r is an *os.File or has a Len method (bytes.Reader), -1 otherwise.
func NewReader(r io.Reader, name string) (*File, error) {
	f := &File{}
	if err := f.open(r, name); err != nil {
		return nil, err
	}
	return f, nil
}

// newReaderSize is NewReader with a given initial buffer size, so tests can
// drive the compaction and growth paths with tiny buffers.
func newReaderSize(r io.Reader, name string, size int) (*File, error) {
	f := &File{bufHint: size}
	if err := f.open(r, name); err != nil {
		return nil, err
	}
	return f, nil
}

// Reset makes f read a new capture from r, as NewReader would, but keeps f's
// buffers, so that re-reading (benchmarks, replay loops) allocates nothing
// for pcap and pcapng input. A file opened by OpenFile is closed first. On
// error f is left failed: ReadBatch returns the same error.
func (f *File) Reset(r io.Reader, name string) error {
	f.stopReadAhead()
	if f.file != nil {
		f.file.Close()
		f.file = nil
	}
	return f.open(r, name)
}

// open resets every field but the reusable buffers, detects the format and
// reads the file header (pcap) or first section header (pcapng).
func (f *File) open(r io.Reader, name string) error {
	*f = File{
		name: name, file: f.file, r: r,
		gz: f.gz, br: f.br,
		buf: f.buf[:cap(f.buf)], bufHint: f.bufHint,
		ifaces: f.ifaces[:0],
		stats:  Stats{Size: sizeOf(r)},
	}
	err := f.detect()
	if err != nil {
		f.err = err
	}
	return err
}

// sizeOf returns the number of bytes r will yield when that is known
// without reading, -1 otherwise.
func sizeOf(r io.Reader) int64 {
	switch r := r.(type) {
	case *os.File:
		fi, err := r.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		pos, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return fi.Size() - pos
	case interface{ Len() int }:
		return int64(r.Len())
	}
	return -1
}

func (f *File) detect() error {
	m := f.magic[:] // a local array would escape to the heap through Read
	k, err := io.ReadFull(f.r, m)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("capture: read %s: %w", f.name, err)
	}
	if k >= 2 && m[0] == 0x1f && m[1] == 0x8b {
		if err := f.openGzip(m[:k]); err != nil {
			return err
		}
		k, err = io.ReadFull(f.r, m)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			if isStreamDamage(err) {
				return f.formatError(0, "gzip: "+err.Error())
			}
			return fmt.Errorf("capture: read %s: %w", f.name, err)
		}
		if err == io.ErrUnexpectedEOF && k == 0 {
			return f.formatError(0, "gzip: "+err.Error())
		}
	}
	switch {
	case k == 0:
		return f.formatError(0, "file is empty")
	case k < 4:
		return f.formatError(0, fmt.Sprintf("file has only %d bytes (% x), too few for a capture file header", k, m[:k]))
	}

	size := defaultBufSize
	if f.stats.Size >= 0 && f.stats.Size < defaultBufSize {
		size = max(int(f.stats.Size), minBufSize)
	}
	if f.bufHint > 0 {
		size = max(f.bufHint, len(f.magic))
	}
	if len(f.buf) < size {
		f.buf = make([]byte, size)
	}
	f.end = copy(f.buf, m)

	switch le := uint32(m[0]) | uint32(m[1])<<8 | uint32(m[2])<<16 | uint32(m[3])<<24; le {
	case pcapMagicMicros, pcapMagicNanos, bits.ReverseBytes32(pcapMagicMicros), bits.ReverseBytes32(pcapMagicNanos):
		f.format = formatPcap
		return f.pcapHeader()
	case blockSHB:
		f.format = formatPcapNG
		return f.pcapngHeader()
	}
	what := "not a pcap, pcapng or gzip file"
	if f.gz != nil && f.r == f.gz {
		what = "gzip-compressed data is not a pcap or pcapng file"
	}
	return f.formatError(0, fmt.Sprintf("%s: starts with % x", what, m))
}

func (f *File) openGzip(magic []byte) error {
	f.pre = prefixReader{r: f.r}
	f.pre.n = copy(f.pre.p[:], magic)
	if f.br == nil {
		f.br = bufio.NewReaderSize(&f.pre, gzipReadSize)
	} else {
		f.br.Reset(&f.pre)
	}
	var err error
	if f.gz == nil {
		f.gz, err = gzip.NewReader(f.br)
	} else {
		err = f.gz.Reset(f.br)
	}
	if err != nil {
		if err == io.EOF || isStreamDamage(err) {
			return f.formatError(0, "gzip header: "+err.Error())
		}
		return fmt.Errorf("capture: read %s: %w", f.name, err)
	}
	f.r = f.gz
	// Offsets count uncompressed bytes; the compressed size says nothing
	// about how many there will be.
	f.stats.Size = -1
	return nil
}

// prefixReader gives back the magic bytes already read from r, then r.
type prefixReader struct {
	p    [4]byte
	i, n int
	r    io.Reader
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if p.i < p.n {
		k := copy(b, p.p[p.i:p.n])
		p.i += k
		return k, nil
	}
	return p.r.Read(b)
}

// ReadBatch fills dst with the next frames; see Source. It returns the frames
// it has together with the error that stopped it (io.EOF at a clean end, a
// *FormatError for damage), so callers must handle dst[:n] before err. Once
// an error has been returned, every later call returns 0 and the same error.
// A batch may hold fewer than len(dst) frames with a nil error when the read
// buffer is full and must be refilled; it never holds none with a nil error
// unless len(dst) == 0.
func (f *File) ReadBatch(dst []Frame) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	var n int
	var err error
	if f.format == formatPcap {
		n, err = f.readPcap(dst)
	} else {
		n, err = f.readPcapNG(dst)
	}
	if err != nil {
		f.err = err
	}
	return n, err
}

// Stats reports the frames and bytes delivered and how far into the
// (uncompressed) stream the File has consumed. Offset stops at the start of
// the first damaged record.
func (f *File) Stats() Stats {
	s := f.stats
	s.Offset = f.base + int64(f.start)
	return s
}

// Close releases the buffer and, for OpenFile, closes the file. Frames of the
// last batch become invalid. Later ReadBatch calls fail; Close is idempotent.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.stopReadAhead()
	var err error
	if f.file != nil {
		err = f.file.Close()
		f.file = nil
	}
	if f.gz != nil {
		f.gz.Close()
	}
	f.base += int64(f.start)
	f.buf, f.start, f.end = nil, 0, 0
	f.r, f.gz, f.br, f.pre = nil, nil, nil, prefixReader{}
	f.err = fmt.Errorf("capture: %s: %w", f.name, fs.ErrClosed)
	return err
}

func (f *File) formatError(off int64, reason string) error {
	return &FormatError{File: f.name, Offset: off, Reason: reason}
}

// u32 and u16 read a field in the file's byte order.
func (f *File) u32(b []byte) uint32 {
	v := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	if f.swap {
		v = bits.ReverseBytes32(v)
	}
	return v
}

func (f *File) u64(b []byte) uint64 {
	lo, hi := uint64(f.u32(b[0:4])), uint64(f.u32(b[4:8]))
	if f.swap {
		lo, hi = hi, lo
	}
	return hi<<32 | lo
}

func (f *File) u16(b []byte) uint16 {
	v := uint16(b[0]) | uint16(b[1])<<8
	if f.swap {
		v = bits.ReverseBytes16(v)
	}
	return v
}

type fillResult uint8

const (
	filled    fillResult = iota // buf[start:end] holds at least need bytes
	fillLater                   // the buffer is full of this batch's frames: end the batch, refill next call
	fillShort                   // the input ended or failed first; f.rerr says how
)

// fill makes buf[start:end] hold at least need bytes (need <= maxBufSize).
// busy says frames of the current batch live in buf[:start]: then the
// buffer may be appended to but not moved, and fill returns fillLater
// instead. Every loop either reads, moves or grows, or returns; a reader
// that keeps returning nothing is stopped by maxEmptyReads.
func (f *File) fill(need int, busy bool) fillResult {
	for f.end-f.start < need {
		if f.rerr != nil {
			return fillShort
		}
		if f.ra != nil {
			// The next bytes are in the next chunk: the batch's frames
			// must be handed out before the parser moves there.
			if busy {
				return fillLater
			}
			f.nextChunk()
			continue
		}
		if f.end == len(f.buf) {
			if busy {
				return fillLater
			}
			f.makeRoom()
		}
		f.read()
	}
	return filled
}

// makeRoom frees space after buf[end]: it moves the unread bytes to the
// front, or, when they already start there (a record longer than the
// buffer), doubles the buffer up to maxBufSize.
func (f *File) makeRoom() {
	if f.start > 0 {
		f.end = copy(f.buf, f.buf[f.start:f.end])
		f.base += int64(f.start)
		f.start = 0
		return
	}
	nb := make([]byte, min(2*len(f.buf), maxBufSize))
	f.end = copy(nb, f.buf[:f.end])
	f.buf = nb
}

func (f *File) read() {
	m, err := readOnce(f.r, f.buf[f.end:min(len(f.buf), f.end+readSize)], &f.emptyReads)
	f.end += m
	if err != nil {
		f.rerr = err
	}
}

// readOnce is one Read from r into p, checked: a count outside p is an
// error, and a reader that keeps returning nothing is stopped with
// io.ErrNoProgress after maxEmptyReads calls in a row (*empty counts them).
func readOnce(r io.Reader, p []byte, empty *int) (int, error) {
	m, err := r.Read(p)
	if m < 0 || m > len(p) {
		return 0, fmt.Errorf("reader returned %d bytes for a %d-byte buffer", m, len(p))
	}
	switch {
	case err != nil:
	case m > 0:
		*empty = 0
	default:
		*empty++
		if *empty >= maxEmptyReads {
			err = io.ErrNoProgress
		}
	}
	return m, err
}

// inputEnded explains why fill came back short at the record or block that
// starts at buf[start]: a clean io.EOF at a record boundary, a
// *FormatError for a cut record or a damaged compressed stream, or the
// reader's own error. reason describes the cut record; it is only built
// when the record is really cut.
func (f *File) inputEnded(reason func(avail int) string) error {
	avail := f.end - f.start
	off := f.base + int64(f.start)
	switch {
	case f.rerr == io.EOF && avail == 0:
		return io.EOF
	case f.rerr == io.EOF:
		return f.formatError(off, reason(avail))
	case isStreamDamage(f.rerr) && avail == 0:
		return f.formatError(f.base+int64(f.end), "stream ends early: "+f.rerr.Error())
	case isStreamDamage(f.rerr):
		return f.formatError(off, reason(avail)+" (stream ends early: "+f.rerr.Error()+")")
	}
	return fmt.Errorf("capture: read %s at offset %d: %w", f.name, f.base+int64(f.end), f.rerr)
}

// isStreamDamage tells a damaged or cut stream (gzip's checksum, header
// and inflate errors, an early EOF) from an I/O failure.
func isStreamDamage(err error) bool {
	var ce flate.CorruptInputError
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum) ||
		errors.Is(err, gzip.ErrHeader) || errors.As(err, &ce)
}
