package promql

import "slices"

// slider is one series' window (start, end] moving forward over its
// samples, step by step, for a range function. Fed from a storage iterator
// it keeps only the window's samples: a sample is read once, appended when
// the window's end passes it and dropped when the start does, so a 24 h
// query with 5 m windows holds about 5 m of samples per series, never the
// whole day. Fed from a slice (a storage series offering Samples, or a
// subquery's points) the window is a sub-slice and nothing is copied.
//
// Both edges only move forward (refTimes never decreases), which is what
// makes one pass enough. Stale markers are skipped: range selectors never
// see them.
type slider struct {
	buf    []Point // the window is buf[lo:hi]
	lo, hi int
	it     Iterator // nil when buf is the whole series
	next   Point    // read from it but past the current window's end
	ahead  bool     // next is valid
	// drops counts adjacent pairs in the window whose value falls
	// (buf[j+1].V < buf[j].V), i.e. counter resets. Kept as the window
	// moves, it lets rate skip its reset scan when there are none and is
	// resets' answer as is.
	drops int
}

// fromSlice starts the slider over pts, which it reads but never modifies.
func (s *slider) fromSlice(pts []Point) {
	s.buf, s.lo, s.hi, s.it, s.ahead, s.drops = pts, 0, 0, nil, false, 0
}

// fromIterator starts the slider over it, reusing the buffer of the
// previous series (its capacity is what one window needed so far).
func (s *slider) fromIterator(it Iterator, buf []Point) {
	s.buf, s.lo, s.hi, s.it, s.ahead, s.drops = buf[:cap(buf)], 0, 0, it, false, 0
}

// advance moves the window to (start, end] and returns its samples, valid
// until the next call.
func (s *slider) advance(start, end int64) []Point {
	if s.it == nil {
		for s.hi < len(s.buf) && s.buf[s.hi].T <= end {
			s.push()
		}
		s.dropBefore(start)
		return s.buf[s.lo:s.hi]
	}
	s.dropBefore(start)
	if s.lo == s.hi {
		s.lo, s.hi = 0, 0 // empty: start over at the front of the buffer
	}
	for {
		if !s.ahead {
			if !s.it.Next() {
				break
			}
			t, v := s.it.At()
			if IsStaleNaN(v) {
				continue
			}
			s.next, s.ahead = Point{T: t, V: v}, true
		}
		if s.next.T > end {
			break
		}
		s.ahead = false
		if s.next.T <= start {
			continue // between two windows (step > range), or before the first
		}
		if s.hi == len(s.buf) {
			if s.lo > 0 && s.lo >= len(s.buf)/2 {
				// Slide the window back to the front instead of growing:
				// the buffer stays about one window long.
				s.hi = copy(s.buf, s.buf[s.lo:s.hi])
				s.lo = 0
			} else {
				s.buf = slices.Grow(s.buf, 1)
				s.buf = s.buf[:cap(s.buf)]
			}
		}
		// In this mode len(buf) is its capacity, so storing a sample
		// does not write the slice header (and its GC write barrier).
		s.buf[s.hi] = s.next
		s.push()
	}
	return s.buf[s.lo:s.hi]
}

// push takes buf[hi] into the window.
func (s *slider) push() {
	if s.hi > s.lo && s.buf[s.hi].V < s.buf[s.hi-1].V {
		s.drops++
	}
	s.hi++
}

// dropBefore lets go of the samples at or before start.
func (s *slider) dropBefore(start int64) {
	for s.lo < s.hi && s.buf[s.lo].T <= start {
		if s.lo+1 < s.hi && s.buf[s.lo+1].V < s.buf[s.lo].V {
			s.drops--
		}
		s.lo++
	}
}
