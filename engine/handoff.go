package engine

import "sync/atomic"

// handoff carries batches from the workers to one consumer goroutine and
// back through a free list, so that steady state allocates nothing: the
// ended flows bound for the sinks and the flow windows bound for the
// window sinks each go through one.
type handoff[T any] struct {
	ch      chan []T
	free    chan []T
	size    int           // capacity of a new batch
	dropped atomic.Uint64 // elements dropped because the consumer fell behind
}

func newHandoff[T any](workers, size int) handoff[T] {
	n := 4 * workers
	return handoff[T]{ch: make(chan []T, n), free: make(chan []T, n+workers+1), size: size}
}

// newBatch returns an empty batch, from the free list when it has one.
func (h *handoff[T]) newBatch() []T {
	select {
	case b := <-h.free:
		return b[:0]
	default:
		return make([]T, 0, h.size)
	}
}

// send hands a batch over and returns an empty one. With drop set it never
// waits: when the consumer is behind, the batch is counted as dropped and
// reused.
func (h *handoff[T]) send(b []T, drop bool) []T {
	if drop {
		select {
		case h.ch <- b:
		default:
			h.dropped.Add(uint64(len(b)))
			return b[:0]
		}
	} else {
		h.ch <- b
	}
	return h.newBatch()
}

// recycle gives a consumed batch back to the free list.
func (h *handoff[T]) recycle(b []T) {
	select {
	case h.free <- b:
	default:
	}
}
