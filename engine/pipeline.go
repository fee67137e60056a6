package engine

import (
	"unsafe"

	"github.com/flowd/flowd/capture"
	"github.com/flowd/flowd/decode"
)

// With several workers, a source that decoded every frame itself would cap
// the whole engine at its own speed: reading, decoding and keying a packet
// cost about 60 ns of the 100 a replay spends per packet, so 2 workers ran
// at 1.1-1.3× one. Instead the source goroutine only reads: it copies each
// batch of frames out of the reader's buffer and hands it to a pool of
// decoder goroutines, then takes the decoded batches back in the order it
// read them, runs the fragment tracker (the one step that depends on the
// packets before) and deals the packets to the workers. Per-flow packet
// order is kept, so the results equal those of one worker.
//
// Measured on the 2-vCPU VM (Nov 2026), replay of 965 k packets / 100 k
// flows, medians of 10: 1 worker 104-131 ms; 2 workers 1.05-1.2× that when
// the source decoded, 1.3-1.45× with this pipeline. The copy, the decoded
// packets' round trip and the extra goroutines cost about 45 % more CPU in
// all, which is what keeps 2 workers on 2 cores from 2×; on more cores the
// reading goroutine's share (read, copy, deal: ~30 ns a packet) is the cap.

// pipeline is a source's decoder pool.
type pipeline struct {
	work    chan *rawBatch // to the decoders
	free    []*rawBatch    // batches not in flight
	pending []*rawBatch    // in flight, in read order
}

// startPipeline starts n decoders for s; stopPipeline ends them.
func (s *source) startPipeline(n int) {
	pl := &pipeline{work: make(chan *rawBatch, 2*n)}
	for range 2 * n {
		pl.free = append(pl.free, newRawBatch(s.e.cfg.BatchSize, s.e.cfg.BatchSize))
	}
	for range n {
		go decodeLoop(pl.work, s.id, s.domain)
	}
	s.pipe = pl
}

// decodeLoop decodes batches until work is closed.
func decodeLoop(work <-chan *rawBatch, src uint16, domain uint8) {
	var d decode.Packet
	for rb := range work {
		decodeBatch(rb, &d, src, domain)
		rb.done <- struct{}{}
	}
}

// send copies a batch of frames (valid only until the next read) and hands
// it to the decoders, then deals out, in read order, whatever batches have
// come back decoded, without waiting.
func (s *source) send(frames []capture.Frame, bytes uint64) {
	pl := s.pipe
	if len(pl.free) == 0 {
		s.finishOldest()
	}
	rb := pl.free[len(pl.free)-1]
	pl.free = pl.free[:len(pl.free)-1]
	fill(rb, frames, bytes)
	pl.pending = append(pl.pending, rb)
	pl.work <- rb
	for len(pl.pending) > 0 && len(pl.pending[0].done) > 0 {
		s.finishOldest()
	}
}

// stopPipeline deals out every batch in flight and ends the decoders.
func (s *source) stopPipeline() {
	for len(s.pipe.pending) > 0 {
		s.finishOldest()
	}
	close(s.pipe.work)
}

// finishOldest waits for the oldest batch in flight and finishes it.
func (s *source) finishOldest() {
	pl := s.pipe
	rb := pl.pending[0]
	<-rb.done
	copy(pl.pending, pl.pending[1:])
	pl.pending = pl.pending[:len(pl.pending)-1]
	s.finish(rb)
	pl.free = append(pl.free, rb)
}

// fill copies frames (valid only until the next read) into rb. A capture
// file's batch lies in one stretch of its buffer, frame after frame, so the
// stretch is copied with one memmove and the frames re-pointed into the copy
// (a per-frame append measured 13 % of the reading goroutine's time);
// frames from elsewhere are copied one by one.
func fill(rb *rawBatch, frames []capture.Frame, bytes uint64) {
	rb.frames = rb.frames[:0]
	if first, n, ok := span(frames); ok {
		if cap(rb.data) < n {
			rb.data = make([]byte, 0, max(n, 2*cap(rb.data)))
		}
		rb.data = rb.data[:n]
		// The stretch lies inside the reader's buffer: first is its start.
		copy(rb.data, unsafe.Slice(first, n))
		lo := uintptr(unsafe.Pointer(first))
		for _, fr := range frames {
			if len(fr.Data) > 0 {
				off := uintptr(unsafe.Pointer(&fr.Data[0])) - lo
				fr.Data = rb.data[off : off+uintptr(len(fr.Data)) : off+uintptr(len(fr.Data))]
			}
			rb.frames = append(rb.frames, fr)
		}
		return
	}
	if cap(rb.data) < int(bytes) {
		rb.data = make([]byte, 0, max(int(bytes), 2*cap(rb.data)))
	}
	rb.data = rb.data[:0]
	for _, fr := range frames {
		at := len(rb.data)
		rb.data = append(rb.data, fr.Data...)
		fr.Data = rb.data[at:len(rb.data):len(rb.data)]
		rb.frames = append(rb.frames, fr)
	}
}

// span returns the first byte and the length of the stretch of memory
// holding every frame's bytes when the frames lie in it in order, one after
// another with at most small gaps (record headers) between them; ok is
// false otherwise.
func span(frames []capture.Frame) (first *byte, n int, ok bool) {
	const maxGap = 64 // pcap record header 16 B, pcapng EPB ~28 B + padding
	var lo, hi uintptr
	for i := range frames {
		d := frames[i].Data
		if len(d) == 0 {
			continue
		}
		a := uintptr(unsafe.Pointer(&d[0]))
		if first == nil {
			first, lo = &d[0], a
		} else if a < hi || a-hi > maxGap {
			return nil, 0, false
		}
		hi = a + uintptr(len(d))
	}
	return first, int(hi - lo), first != nil
}
