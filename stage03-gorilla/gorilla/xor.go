package gorilla

import "math/bits"

// Values are stored as the XOR with the previous value (section 4.1.2 of the
// paper). Two nearby floats share their sign, exponent and the top of their
// mantissa, so the XOR is zero except for a short run of "meaningful" bits in
// the middle. Only that run is stored, together with where it sits:
//
//	0                                  the value repeats (XOR is zero)
//	10 <meaningful bits>               the run fits inside the previous window:
//	                                   same leading/trailing bounds, no position stored
//	11 <5 bits leading> <6 bits length> <meaningful bits>
//	                                   a new window
//
// Two edge cases the paper leaves implicit:
//   - Leading zeros are stored in 5 bits, so counts of 32 or more are stored
//     as 31: the window then starts a little early and carries a few zero bits,
//     which costs space but never correctness.
//   - The length field has 6 bits but a length can be 1..64. A length of 0 is
//     impossible (the XOR is not zero), so 0 stands for 64.

// noWindow marks "no window yet": the first non-zero XOR of a chunk must open
// one. It is above any leading count, so no XOR fits it (fitsWindow).
const noWindow = 0xff

// maxLeading is the largest leading-zero count the 5-bit field holds.
const maxLeading = 31

// fitsWindow is the window rule, the one place it is written: it returns x's
// leading and trailing zero counts as a new window would store them
// (leading clamped to maxLeading) and whether x's meaningful bits lie inside
// the current window, so that x is coded '10' with the old bounds. An XOR of
// zero fits any window (64 trailing zeros); no XOR fits noWindow. Small
// enough to inline into the appender's fast path.
func fitsWindow(x uint64, leading, trailing uint8) (lz, tz uint8, fits bool) {
	lz = uint8(min(bits.LeadingZeros64(x), maxLeading))
	tz = uint8(bits.TrailingZeros64(x))
	return lz, tz, lz >= leading && tz >= trailing
}

// writeXOR appends the XOR of a value with its predecessor and updates the
// window. The value's code is preceded by the pn bits of prefix (0 or 1 bits:
// the appender passes a regular timestamp's '0' here, so that the most
// common sample is a single write).
func (w *bitWriter) writeXOR(prefix uint64, pn int, x uint64, leading, trailing *uint8) {
	if x == 0 {
		w.writeBits(prefix<<1, pn+1)
		return
	}
	if pn > 0 {
		w.writeBits(prefix, pn)
	}
	lz, tz, fits := fitsWindow(x, *leading, *trailing)
	if fits {
		// '10': reuse the window; the run is stored with the old bounds.
		m := 64 - int(*leading) - int(*trailing)
		if m+2 <= maxFast {
			w.writeBits(0b10<<uint(m)|x>>*trailing, m+2)
		} else {
			w.writeBits(0b10, 2)
			w.writeBits64(x>>*trailing, m)
		}
		return
	}
	// '11': open a new window.
	*leading, *trailing = lz, tz
	m := 64 - int(lz) - int(tz)
	head := uint64(0b11)<<11 | uint64(lz)<<6 | uint64(m&63)
	if 13+m <= maxFast {
		w.writeBits(head<<uint(m)|x>>tz, 13+m)
	} else {
		w.writeBits(head, 13)
		w.writeBits64(x>>tz, m)
	}
}

// readXOR consumes one XOR-coded value and returns the XOR with the previous
// value. ok is false for a stream no encoder writes (a '10' before any window,
// or a window wider than 64 bits).
func (r *bitReader) readXOR(leading, trailing *uint8) (x uint64, ok bool) {
	word := r.peek()
	if word>>63 == 0 {
		r.pos++
		return 0, true
	}
	if word>>62&1 == 0 {
		if *leading == noWindow {
			return 0, false
		}
		m := 64 - int(*leading) - int(*trailing)
		if m+2 <= maxFast {
			x = word << 2 >> uint(64-m)
			r.pos += 2 + m
		} else {
			r.pos += 2
			x = r.readBits64(m)
		}
		return x << *trailing, true
	}
	lz := int(word << 2 >> 59)
	m := int(word << 7 >> 58)
	if m == 0 {
		m = 64
	}
	if lz+m > 64 {
		return 0, false
	}
	tz := 64 - lz - m
	*leading, *trailing = uint8(lz), uint8(tz)
	if 13+m <= maxFast {
		x = word << 13 >> uint(64-m)
		r.pos += 13 + m
	} else {
		r.pos += 13
		x = r.readBits64(m)
	}
	return x << uint(tz), true
}
