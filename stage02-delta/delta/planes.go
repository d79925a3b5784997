package delta

import (
	"fmt"
	"math/bits"
	"slices"
)

// Byte planes: a column laid out for a general-purpose compressor (zstd,
// as stage06's cold chunks apply) rather than to be small by itself.
// Every value takes the same width w, the bytes of the widest value
// (1 … 8), and the column is w planes of n bytes: the low bytes of all
// values, then the next bytes, and so on.
//
//	1 byte     w
//	w × n      plane 0 (bits 0-7 of every value), plane 1 (bits 8-15), …
//
// Why: Simple-8b packs values at any bit width, so a compressor sees
// bytes that straddle values and cannot learn their distribution;
// varint's continuation bits do the same to values around 128. In byte
// planes a delta of 37 is always the byte 37, so zstd's entropy coder
// prices each value at the entropy of the deltas, and a plane of high
// bytes that are nearly all zero compresses to almost nothing. Alone the
// column is larger than the packed codecs (w bytes a value), so
// appendInts never picks it; a caller asks for it (Layout).

// Layout says how a column's integers are laid out.
type Layout uint8

const (
	// Packed: the smaller of varint and Simple-8b (what Compress writes).
	Packed Layout = iota
	// BytePlanes: byte planes, for a general-purpose compressor after.
	BytePlanes
)

// appendPlanes appends the byte-plane body of u (w byte, then the planes).
// The planes are written in place, one store per byte: no append, no
// per-byte capacity check.
func appendPlanes(dst []byte, u []uint64) []byte {
	var all uint64
	for _, x := range u {
		all |= x
	}
	return appendPlanesWidth(dst, u, planesWidth(all))
}

// planesWidth is the plane count of values whose bits OR to all.
func planesWidth(all uint64) int {
	w := 1
	for w < 8 && all>>(8*w) != 0 {
		w++
	}
	return w
}

// appendPlanesWidth is appendPlanes for a width already known.
func appendPlanesWidth(dst []byte, u []uint64, w int) []byte {
	n, start := len(u), len(dst)
	dst = slices.Grow(dst, planesLen(n, w))[:start+planesLen(n, w)]
	dst[start] = byte(w)
	out := dst[start+1:]
	for p := range w {
		plane := out[p*n : (p+1)*n]
		shift := 8 * uint(p)
		for i, x := range u[:len(plane)] {
			plane[i] = byte(x >> shift)
		}
	}
	return dst
}

// appendPlanesColumn appends a whole byte-plane column (codec byte,
// uvarint length, body), the body written straight into dst, and returns
// a lower bound of the column's packed body (the smaller of varint and
// Simple-8b), from sums taken in the pass that finds the width: varint's
// size exactly (a byte per 7 bits of each value, one at least) and
// Simple-8b's words at least (s8bShare).
func appendPlanesColumn(dst []byte, u []uint64) ([]byte, int) {
	var all uint64
	share, vlen := 0, 0
	for _, x := range u {
		all |= x
		b := bits.Len64(x)
		share += int(s8bShare[b])
		vlen += max(1, (b+6)/7)
	}
	w := planesWidth(all)
	dst = append(dst, byte(Planes))
	dst = AppendUvarint(dst, uint64(planesLen(len(u), w)))
	return appendPlanesWidth(dst, u, w), min(vlen, 8*((share+s8bWord-1)/s8bWord))
}

// s8bShare[b] is the least share of a Simple-8b word, in 1/s8bWord, that a
// value of b significant bits takes: a word's width is at least the
// widest of its values, so a word holding a b-bit value holds at most n
// values, n that of the narrowest selector of b bits or more (the escape
// selector: two words for one value). Summed over a column it bounds the
// words from below without packing them.
var s8bShare = func() (t [65]uint16) {
	for b := range t {
		for s := 0; s < len(selectors); s++ {
			if selectors[s].bits >= uint(b) {
				t[b] = uint16(s8bWord / selectors[s].n)
				if s == escapeSelector {
					t[b] = 2 * s8bWord
				}
				break
			}
		}
	}
	return t
}()

// s8bWord is a word in s8bShare's unit: a multiple of every selector's n.
const s8bWord = 1680

// planesLen is the size of appendPlanes' body for n values of width w.
func planesLen(n, w int) int { return 1 + n*w }

// decodePlanes fills dst from a byte-plane body that must be exactly
// len(dst) values long.
func decodePlanes[T uint64 | int64](dst []T, src []byte) error {
	if len(src) < 1 || src[0] < 1 || src[0] > 8 {
		return fmt.Errorf("%w: byte planes: bad width", ErrCorrupt)
	}
	w, n := int(src[0]), len(dst)
	if len(src) != planesLen(n, w) {
		return fmt.Errorf("%w: byte planes: %d bytes for %d values of %d bytes", ErrCorrupt, len(src), n, w)
	}
	src = src[1:]
	switch w {
	case 1:
		planes1(dst, src[:n])
	case 2:
		planes2(dst, src[:n], src[n:2*n])
	default:
		planes2(dst, src[:n], src[n:2*n])
		for p := 2; p < w; p++ {
			plane := src[p*n : (p+1)*n]
			shift := 8 * uint(p)
			for i, b := range plane[:len(dst)] {
				dst[i] |= T(uint64(b) << shift)
			}
		}
	}
	return nil
}

// planes1 widens one plane, eight values a step: fixed-size array views
// leave the compiler no bounds to check inside the step.
func planes1[T uint64 | int64](dst []T, p0 []byte) {
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		d := (*[8]T)(dst[i : i+8])
		s := (*[8]byte)(p0[i : i+8])
		d[0], d[1], d[2], d[3] = T(s[0]), T(s[1]), T(s[2]), T(s[3])
		d[4], d[5], d[6], d[7] = T(s[4]), T(s[5]), T(s[6]), T(s[7])
	}
	for ; i < len(dst); i++ {
		dst[i] = T(p0[i])
	}
}

// planes2 joins two planes in one pass (the second plane's bytes are
// shifted in as they are read, not in a second read-modify-write pass).
func planes2[T uint64 | int64](dst []T, p0, p1 []byte) {
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		d := (*[8]T)(dst[i : i+8])
		a := (*[8]byte)(p0[i : i+8])
		b := (*[8]byte)(p1[i : i+8])
		for k := range 8 {
			d[k] = T(a[k]) | T(b[k])<<8
		}
	}
	for ; i < len(dst); i++ {
		dst[i] = T(p0[i]) | T(p1[i])<<8
	}
}
