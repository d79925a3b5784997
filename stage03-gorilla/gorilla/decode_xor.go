package gorilla

import (
	"encoding/binary"
	"fmt"
	"math"
)

// xorState is the decoder state carried from one XOR sample to the next.
type xorState struct {
	t, delta          int64
	v                 uint64
	leading, trailing uint8
}

// decodeXORRest decodes samples 2.. of an XOR chunk. Its loop body is
// stepXOR written out by hand: the compiler does not inline a function of
// that size, and on this hot path the call and the state passing cost about
// as much as the decoding itself (measured: ~24 vs ~10 ns/sample). The
// reference and fuzz tests compare this path with the iterator's.
func decodeXORRest(it *Iterator, dstT []int64, dstV []float64) ([]int64, []float64, error) {
	b := it.r.b
	pos := it.r.pos
	t, delta, v := it.t, it.tDelta, it.v
	leading, trailing := it.leading, it.trailing
	limit := len(b) << 3
	for i := it.read; i < it.total; i++ {
		var w uint64
		if k := pos >> 3; k+8 <= len(b) {
			w = binary.BigEndian.Uint64(b[k:]) << uint(pos&7)
		} else {
			r := bitReader{b: b, pos: pos}
			w = r.peek()
		}
		avail := 64 - pos&7

		used := 1
		if w>>63 != 0 {
			r := bitReader{b: b, pos: pos}
			delta += r.readDod()
			used = r.pos - pos
			if used > 28 {
				pos = r.pos
				w = r.peek()
				avail = 64 - pos&7
				used = 0
			}
		}
		t += delta
		w <<= uint(used)
		avail -= used

		switch {
		case w>>63 == 0:
			used++
		case w>>62&1 == 0:
			if leading == noWindow {
				return dstT, dstV, fmt.Errorf("%w: sample %d: invalid XOR control bits", ErrCorrupt, i)
			}
			m := 64 - int(leading) - int(trailing)
			if 2+m <= avail {
				v ^= w << 2 >> uint(64-m) << trailing
				used += 2 + m
			} else {
				r := bitReader{b: b, pos: pos + used + 2}
				v ^= r.readBits64(m) << trailing
				used = r.pos - pos
			}
		default:
			lz := int(w << 2 >> 59)
			m := int(w << 7 >> 58)
			if m == 0 {
				m = 64
			}
			if lz+m > 64 {
				return dstT, dstV, fmt.Errorf("%w: sample %d: invalid XOR control bits", ErrCorrupt, i)
			}
			leading, trailing = uint8(lz), uint8(64-lz-m)
			if 13+m <= avail {
				v ^= w << 13 >> uint(64-m) << trailing
				used += 13 + m
			} else {
				r := bitReader{b: b, pos: pos + used + 13}
				v ^= r.readBits64(m) << trailing
				used = r.pos - pos
			}
		}
		pos += used
		if pos > limit {
			return dstT, dstV, fmt.Errorf("%w: sample %d runs past the end of the chunk", ErrCorrupt, i)
		}
		dstT = append(dstT, t)
		dstV = append(dstV, math.Float64frombits(v))
	}
	it.r.pos = pos
	return dstT, dstV, nil
}

// stepXOR decodes one sample after the second of an XOR chunk starting at
// bit pos, and returns the new position and state. It is readDod followed
// by readXOR, arranged for speed: state is passed and returned by value
// (in registers), and one 64-bit load usually serves the whole sample, since
// a regular timestamp ('0') plus a repeated or in-window value fits in the
// 57 bits a load guarantees. Fields that do not fit fall back to the bit
// reader. ok is false for control bits no encoder writes.
func stepXOR(b []byte, pos int, s xorState) (int, xorState, bool) {
	var w uint64
	if k := pos >> 3; k+8 <= len(b) {
		w = binary.BigEndian.Uint64(b[k:]) << uint(pos&7)
	} else {
		r := bitReader{b: b, pos: pos}
		w = r.peek()
	}
	avail := 64 - pos&7 // valid bits in w

	// Timestamp.
	used := 1
	if w>>63 != 0 {
		r := bitReader{b: b, pos: pos}
		s.delta += r.readDod()
		used = r.pos - pos
		if used > 28 { // the 64-bit escape: continue with a fresh load
			pos = r.pos
			w = r.peek()
			avail = 64 - pos&7
			used = 0
		}
	}
	s.t += s.delta
	w <<= uint(used)
	avail -= used

	// Value.
	switch {
	case w>>63 == 0:
		used++
	case w>>62&1 == 0:
		if s.leading == noWindow {
			return pos, s, false
		}
		m := 64 - int(s.leading) - int(s.trailing)
		if 2+m <= avail {
			s.v ^= w << 2 >> uint(64-m) << s.trailing
			used += 2 + m
		} else {
			r := bitReader{b: b, pos: pos + used + 2}
			s.v ^= r.readBits64(m) << s.trailing
			used = r.pos - pos
		}
	default:
		lz := int(w << 2 >> 59)
		m := int(w << 7 >> 58)
		if m == 0 {
			m = 64
		}
		if lz+m > 64 {
			return pos, s, false
		}
		s.leading, s.trailing = uint8(lz), uint8(64-lz-m)
		if 13+m <= avail {
			s.v ^= w << 13 >> uint(64-m) << s.trailing
			used += 13 + m
		} else {
			r := bitReader{b: b, pos: pos + used + 13}
			s.v ^= r.readBits64(m) << s.trailing
			used = r.pos - pos
		}
	}
	return pos + used, s, true
}

// decodeIntRest is decodeXORRest for Integer chunks.
func decodeIntRest(it *Iterator, dstT []int64, dstV []float64) ([]int64, []float64, error) {
	r := it.r
	t, delta, v := it.t, it.tDelta, int64(it.v)
	limit := len(r.b) << 3
	for i := it.read; i < it.total; i++ {
		delta += r.readDod()
		t += delta
		v += r.readIntDelta()
		if r.pos > limit {
			return dstT, dstV, fmt.Errorf("%w: sample %d runs past the end of the chunk", ErrCorrupt, i)
		}
		dstT = append(dstT, t)
		dstV = append(dstV, float64(v))
	}
	it.r = r
	return dstT, dstV, nil
}
