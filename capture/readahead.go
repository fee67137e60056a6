package capture

import (
	"io"
)

// Read-ahead: for a compressed capture file, a goroutine reads and inflates
// the next chunks while the caller parses the current one. Replay of a
// gzip'd 105 MB, 965 k-frame pcap (gzip -1, 57 MB) went from 850 to 698 ms
// (hyperfine, 8 runs, 2-vCPU EPYC VM, Nov 2026): inflating, 85 % of the
// work, now overlaps the rest.
//
// Plain files are not read ahead. The read syscall's copy is 12 % of a
// plain replay (pprof over 20 replays of the same pcap), but moving it to
// another goroutine measured no faster (119 vs 121 ms, 30 runs): the copy in
// the parsing thread leaves the bytes in its own cache, while a chunk filled
// on another core is read from there, and parsing slowed by as much as the
// syscall saved.
//
// The parser still sees one buffer at a time. Each chunk has headroom in
// front of its data: when the parser reaches a chunk's end, the partial
// record there is copied into the headroom of the next chunk, in front of
// its data, and the parser goes on in that chunk. Nothing else is copied.
// A partial record larger than the headroom (only captures with records of
// more than raHeadroom bytes) continues in a private buffer that grows by
// doubling.

const (
	// raChunkSize is the data bytes of one read-ahead chunk.
	raChunkSize = 1 << 20
	// raHeadroom is the space in front of a chunk's data for the partial
	// record carried over from the chunk before: room for 64 KiB GSO frames
	// and their record headers, which captures on hosts with offloads hold.
	raHeadroom = 128 << 10
	// raChunks is how many chunks exist: one the parser is in, one being
	// read, the rest read and waiting.
	raChunks = 4
)

// readAhead is the reading goroutine's side: filled chunks come in on full,
// in order; the parser sends back the chunks it is done with on free.
type readAhead struct {
	full chan raChunk
	free chan []byte
	stop chan struct{} // closed to make the goroutine end
	done chan struct{} // closed by the goroutine when it has ended
	head int           // headroom of each chunk
	// pooled says f.buf is a chunk (to be sent back on free) rather than
	// the File's first or private buffer.
	pooled bool
}

// raChunk is a filled chunk: buf[head:head+n] holds data; err, if set, is
// what ended the input right after it (the goroutine sends nothing more).
type raChunk struct {
	buf []byte
	n   int
	err error
}

// startReadAhead makes f read its input on a goroutine, in chunks of size
// bytes with head bytes of headroom. f.buf[start:end] (what the header
// reads left) is parsed first. It must be called right after open.
func (f *File) startReadAhead(size, head int) {
	ra := &readAhead{
		full: make(chan raChunk, raChunks),
		free: make(chan []byte, raChunks),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		head: head,
	}
	for range raChunks {
		ra.free <- make([]byte, head+size)
	}
	go ra.run(f.r)
	f.ra = ra
}

func (ra *readAhead) run(r io.Reader) {
	defer close(ra.done)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.stop:
			return
		}
		n, err := readChunk(r, buf[ra.head:])
		ra.full <- raChunk{buf: buf, n: n, err: err} // never blocks: raChunks slots
		if err != nil {
			return
		}
	}
}

// readChunk fills b from r. It returns less than len(b) only together with
// the error that stopped it.
func readChunk(r io.Reader, b []byte) (int, error) {
	n, empty := 0, 0
	for n < len(b) {
		m, err := readOnce(r, b[n:], &empty)
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// nextChunk moves the parser to the next chunk, carrying the unread bytes
// buf[start:end] (a partial record) along in front of its data. Frames of
// the batch before become invalid: the chunk they lie in goes back to be
// refilled.
func (f *File) nextChunk() {
	ra := f.ra
	c := <-ra.full
	tail := f.buf[f.start:f.end]
	data := c.buf[ra.head : ra.head+c.n]
	var nb []byte
	start := 0
	switch {
	case len(tail) <= ra.head:
		start = ra.head - len(tail)
		copy(c.buf[start:], tail)
		nb = c.buf[:ra.head+c.n]
	case !ra.pooled && f.start == 0 && cap(f.buf)-f.end >= c.n:
		// Already in a private buffer with room: append in place.
		nb = append(f.buf[:f.end], data...)
	default:
		nb = make([]byte, len(tail), max(2*len(tail), len(tail)+c.n))
		copy(nb, tail)
		nb = append(nb, data...)
	}
	if ra.pooled && &nb[0] != &f.buf[0] {
		ra.free <- f.buf[:cap(f.buf)]
	}
	ra.pooled = &nb[0] == &c.buf[0]
	if !ra.pooled {
		ra.free <- c.buf
	}
	f.base += int64(f.start - start)
	f.buf, f.start, f.end = nb, start, len(nb)
	f.rerr = c.err
}

// stopReadAhead ends the reading goroutine and waits for it, so the reader
// under it may be closed or reused.
func (f *File) stopReadAhead() {
	if f.ra == nil {
		return
	}
	close(f.ra.stop)
	<-f.ra.done
	f.ra = nil
}
