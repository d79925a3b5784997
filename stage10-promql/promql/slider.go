package promql

import (
	"math"
	"slices"
)

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
	// noFalls: fed from a slice in which no value falls (a counter without
	// resets, the usual case), so drops stays 0 and advanceSlice only
	// compares timestamps.
	noFalls bool
}

// fromSlice starts the slider over pts, which it reads but never modifies.
func (s *slider) fromSlice(pts []Point) {
	_, falls := scanSlice(pts)
	s.fromScanned(pts, falls)
}

// fromScanned is fromSlice for a caller that has scanned pts already.
func (s *slider) fromScanned(pts []Point, falls bool) {
	s.buf, s.lo, s.hi, s.it, s.ahead, s.drops = pts, 0, 0, nil, false, 0
	s.noFalls = !falls
}

// scanSlice reports whether pts hold a stale marker and whether a value
// falls below the one before: one pass, as it runs over every sample of a
// range query.
func scanSlice(pts []Point) (stale, falls bool) {
	for i := range pts {
		if math.Float64bits(pts[i].V) == staleNaNBits {
			stale = true
		}
		if i > 0 && pts[i].V < pts[i-1].V {
			falls = true
		}
	}
	return stale, falls
}

// fromIterator starts the slider over it, reusing the buffer of the
// previous series (its capacity is what one window needed so far).
func (s *slider) fromIterator(it Iterator, buf []Point) {
	s.buf, s.lo, s.hi, s.it, s.ahead, s.drops, s.noFalls = buf[:cap(buf)], 0, 0, it, false, 0, false
}

// advance moves the window to (start, end] and returns its samples, valid
// until the next call.
func (s *slider) advance(start, end int64) []Point {
	if s.it == nil {
		return s.advanceSlice(start, end)
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

// advanceSlice is advance when fed from a slice: the hot loop of a range
// query over a storage that hands out decoded series, so it is kept apart
// from the iterator mode.
func (s *slider) advanceSlice(start, end int64) []Point {
	buf, lo, hi, drops := s.buf, s.lo, s.hi, s.drops
	if s.noFalls {
		for hi < len(buf) && buf[hi].T <= end {
			hi++
		}
		for lo < hi && buf[lo].T <= start {
			lo++
		}
		s.lo, s.hi = lo, hi
		return buf[lo:hi]
	}
	for hi < len(buf) && buf[hi].T <= end {
		if hi > lo && buf[hi].V < buf[hi-1].V {
			drops++
		}
		hi++
	}
	for lo < hi && buf[lo].T <= start {
		if lo+1 < hi && buf[lo+1].V < buf[lo].V {
			drops--
		}
		lo++
	}
	s.lo, s.hi, s.drops = lo, hi, drops
	return buf[lo:hi]
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
