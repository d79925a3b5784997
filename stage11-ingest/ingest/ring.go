package ingest

import (
	"sync/atomic"
)

// Ring is a bounded multi-producer, multi-consumer queue without locks:
// the queue of sealed batches between the receivers and the flushers.
//
// It is the guide's BatchQueue (an array of slots, a write index, a read
// index, all atomics) with one addition that makes it correct with several
// producers and consumers: each slot carries a sequence number saying whose
// turn it is (D. Vyukov's bounded MPMC queue). For the slot at position
// pos:
//
//	seq == pos          free: the producer that claims pos may fill it
//	seq == pos+1        full: the consumer that claims pos may empty it
//	seq == pos+capacity free again, for the producer of the next lap
//
// A producer claims a position by advancing the write index with a
// compare-and-swap, writes the value, then publishes it by storing seq; a
// consumer does the mirror image with the read index. Nobody ever waits on
// another: a producer that finds the slot still full (seq < pos) reports
// the ring full, a consumer that finds it not yet filled reports it empty.
// The atomic store of seq is what makes the value written before it
// visible to the goroutine that loads seq after it.
type Ring[T any] struct {
	_     [64]byte // the indices on cache lines of their own: producers
	write atomic.Uint64
	_     [56]byte // and consumers do not invalidate each other's line
	read  atomic.Uint64
	_     [56]byte
	mask  uint64
	slots []ringSlot[T]
}

type ringSlot[T any] struct {
	seq atomic.Uint64
	val T
}

// NewRing returns a ring of capacity slots, rounded up to a power of two
// (at least 2).
func NewRing[T any](capacity int) *Ring[T] {
	n := 2
	for n < capacity {
		n <<= 1
	}
	r := &Ring[T]{mask: uint64(n - 1), slots: make([]ringSlot[T], n)}
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
	}
	return r
}

// Cap is the number of slots.
func (r *Ring[T]) Cap() int { return len(r.slots) }

// Len is the number of values in the ring: exact when no push or pop is
// under way, a snapshot otherwise.
func (r *Ring[T]) Len() int {
	w, rd := r.write.Load(), r.read.Load()
	if w < rd {
		return 0
	}
	return int(w - rd)
}

// Push adds v and reports true, or reports false when the ring is full.
func (r *Ring[T]) Push(v T) bool {
	pos := r.write.Load()
	for {
		s := &r.slots[pos&r.mask]
		seq := s.seq.Load()
		switch d := int64(seq - pos); {
		case d == 0:
			if r.write.CompareAndSwap(pos, pos+1) {
				s.val = v
				s.seq.Store(pos + 1)
				return true
			}
			pos = r.write.Load()
		case d < 0:
			return false // the slot of the previous lap is not emptied yet: full
		default:
			pos = r.write.Load() // another producer took pos
		}
	}
}

// Pop removes and returns the oldest value, or reports false when the ring
// is empty.
func (r *Ring[T]) Pop() (T, bool) {
	pos := r.read.Load()
	for {
		s := &r.slots[pos&r.mask]
		seq := s.seq.Load()
		switch d := int64(seq - (pos + 1)); {
		case d == 0:
			if r.read.CompareAndSwap(pos, pos+1) {
				v := s.val
				var zero T
				s.val = zero
				s.seq.Store(pos + r.mask + 1)
				return v, true
			}
			pos = r.read.Load()
		case d < 0:
			var zero T
			return zero, false // not filled yet: empty
		default:
			pos = r.read.Load()
		}
	}
}
