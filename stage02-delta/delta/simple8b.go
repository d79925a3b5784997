package delta

import (
	"encoding/binary"
	"fmt"
)

// Simple-8b (Anh & Moffat, 2010) packs as many small integers as fit into one
// 64-bit word. The top 4 bits of the word are a selector saying how the other
// 60 bits are cut: 60 values of 1 bit, 30 of 2, … 2 of 30. A column of zeros
// and ones costs about one bit per value, where varint spends a whole byte.
//
// Decoding is a switch on the selector and a fixed shift-and-mask loop, with
// no per-value branch on "more bytes follow": that is why it decodes faster
// than varint, and why InfluxDB and many columnar formats use it.
//
// Word layout (the word is stored little-endian, 8 bytes):
//
//	bits 63..60  selector s
//	bits 59..0   payload: value j of the word sits at bits [j·b, (j+1)·b)
//
// Selectors of this package (the two zero-run selectors follow the paper;
// selector 15 is this package's escape for values wider than 30 bits):
//
//	s:     0    1   2   3   4   5   6   7   8   9  10  11  12  13  14  15
//	n:   240  120  60  30  20  15  12  10   8   7   6   5   4   3   2   1
//	bits:  0    0   1   2   3   4   5   6   7   8  10  12  15  20  30  64
//
// Selectors 0 and 1 are runs of 240 and 120 zeros (payload must be zero): the
// delta-of-delta of a regular scrape is a long run of zeros. Selector 15 has a
// zero payload and the value follows as the next 8-byte little-endian word, so
// any uint64 (a zig-zagged MinInt64 delta included) can be stored; such jumps
// are rare, and 16 bytes for them costs nothing on real data.
//
// The last word may be partial (fewer values than its selector holds); the
// unused slots must be zero. The number of values is not stored in the words:
// the caller knows it (the file header holds the point count).

type selector struct {
	n    int
	bits uint
}

var selectors = [16]selector{
	{240, 0}, {120, 0}, {60, 1}, {30, 2}, {20, 3}, {15, 4}, {12, 5}, {10, 6},
	{8, 7}, {7, 8}, {6, 10}, {5, 12}, {4, 15}, {3, 20}, {2, 30}, {1, 64},
}

const escapeSelector = 15

// AppendSimple8b appends the Simple-8b encoding of src to dst.
func AppendSimple8b(dst []byte, src []uint64) []byte {
	for len(src) > 0 {
		w, n := packWord(src)
		dst = binary.LittleEndian.AppendUint64(dst, w)
		if w>>60 == escapeSelector {
			dst = binary.LittleEndian.AppendUint64(dst, src[0])
		}
		src = src[n:]
	}
	return dst
}

// packWord greedily chooses the densest selector whose width holds the next
// values and returns the packed word and how many values it took.
func packWord(src []uint64) (word uint64, n int) {
	if src[0] == 0 {
		run, limit := 1, min(len(src), 240)
		for run < limit && src[run] == 0 {
			run++
		}
		switch {
		case run == 240:
			return 0 << 60, 240
		case run >= 120:
			return 1 << 60, 120
		}
	}
	// i counts the leading values known to fit the previous (narrower)
	// selector, hence every later one: each value is examined about once.
	i := 0
	for s := 2; s < escapeSelector; s++ {
		sel := selectors[s]
		want := min(sel.n, len(src))
		for i < want && src[i]>>sel.bits == 0 {
			i++
		}
		if i >= want {
			w := uint64(s) << 60
			for j := range want {
				w |= src[j] << (uint(j) * sel.bits)
			}
			return w, want
		}
	}
	return escapeSelector << 60, 1
}

// Simple8bLen is the number of bytes AppendSimple8b would write for src.
func Simple8bLen(src []uint64) int {
	size := 0
	for len(src) > 0 {
		w, n := packWord(src)
		size += 8
		if w>>60 == escapeSelector {
			size += 8
		}
		src = src[n:]
	}
	return size
}

// DecodeSimple8b fills dst (all len(dst) values) from the Simple-8b words in
// src, which must hold exactly those values: missing words, trailing words, a
// length that is not a multiple of 8 and nonzero unused bits are errors
// wrapping ErrCorrupt.
func DecodeSimple8b(dst []uint64, src []byte) error {
	return decodeSimple8b(dst, src)
}

// decodeSimple8b is DecodeSimple8b for either integer type, so that the
// timestamp decoder can unpack straight into the []int64 it returns instead
// of into a scratch column.
func decodeSimple8b[T uint64 | int64](dst []T, src []byte) error {
	if len(src)%8 != 0 {
		return fmt.Errorf("%w: simple8b: %d bytes is not a whole number of words", ErrCorrupt, len(src))
	}
	i, off := 0, 0
	for i < len(dst) {
		if off == len(src) {
			return fmt.Errorf("%w: simple8b: %d of %d values present", ErrCorrupt, i, len(dst))
		}
		w := binary.LittleEndian.Uint64(src[off:])
		off += 8
		s := int(w >> 60)
		n := selectors[s].n
		switch {
		case s == escapeSelector:
			if w<<4 != 0 || off == len(src) {
				return fmt.Errorf("%w: simple8b: bad escape word at byte %d", ErrCorrupt, off-8)
			}
			dst[i] = T(binary.LittleEndian.Uint64(src[off:]))
			off += 8
		case s <= 1:
			if w<<4 != 0 || len(dst)-i < n {
				return fmt.Errorf("%w: simple8b: bad zero-run word at byte %d", ErrCorrupt, off-8)
			}
			clear(dst[i : i+n])
		case (w<<4)>>(4+uint(n)*selectors[s].bits) != 0:
			return fmt.Errorf("%w: simple8b: nonzero unused bits at byte %d", ErrCorrupt, off-8)
		case len(dst)-i >= n:
			unpack(dst[i:i+n], w, selectors[s].bits)
		default:
			// The last, partial word: unpack into a scratch array and check
			// that the slots past the end are empty.
			var tmp [60]T
			unpack(tmp[:n], w, selectors[s].bits)
			k := copy(dst[i:], tmp[:n])
			for _, v := range tmp[k:n] {
				if v != 0 {
					return fmt.Errorf("%w: simple8b: nonzero padding in last word", ErrCorrupt)
				}
			}
			n = k
		}
		i += n
	}
	if off != len(src) {
		return fmt.Errorf("%w: simple8b: %d trailing bytes", ErrCorrupt, len(src)-off)
	}
	return nil
}

// unpack splits the 60-bit payload of w into len(dst) values of b bits. The
// cases with constant widths let the compiler turn shift and mask into
// immediates; the loop bodies carry no dependency from one value to the next.
func unpack[T uint64 | int64](dst []T, w uint64, b uint) {
	switch b {
	case 1:
		for j := range dst {
			dst[j] = T(w >> uint(j) & 1)
		}
	case 2:
		for j := range dst {
			dst[j] = T(w >> (uint(j) * 2) & 3)
		}
	case 3:
		for j := range dst {
			dst[j] = T(w >> (uint(j) * 3) & 7)
		}
	case 4:
		for j := range dst {
			dst[j] = T(w >> (uint(j) * 4) & 15)
		}
	default:
		mask := uint64(1)<<b - 1
		for j := range dst {
			dst[j] = T(w >> (uint(j) * b) & mask)
		}
	}
}
