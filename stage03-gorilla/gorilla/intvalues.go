package gorilla

import (
	"math"
	"math/bits"
)

// The integer variant is not in the paper. Much monitoring data is whole
// numbers stored as floats (percentages, counts, bytes), and for those XOR is
// a poor fit: 58 -> 59 flips one mantissa bit, but 63 -> 64 changes the
// exponent and costs a new window of 20-odd bits. When every value of a chunk
// is an integer, the chunk can instead store the integer difference between
// neighbours, which for a slowly moving gauge is a tiny number.
//
// A difference d is coded like a delta-of-delta, with buckets sized for
// gauges (measured on the TSBS cpu-only data: 38 % of differences are 0,
// 48 % are ±1, 13 % are ±2):
//
//	prefix  payload  d range
//	0       -        0
//	10      2 bits   ±1 .. ±2
//	110     6 bits   ±1 .. ±32
//	1110    13 bits  ±1 .. ±4096
//	11110   24 bits  ±1 .. ±8388608
//	11111   64 bits  any (two's complement, wrapping)
//
// Zero has its own one-bit code, so a bucket of n bits holds the 2^n
// non-zero values -2^(n-1) .. -1, 1 .. 2^(n-1): positive d is stored as d-1.

var intBuckets = [...]dodBucket{
	{prefix: 0b10, prefixLen: 2, payload: 2},
	{prefix: 0b110, prefixLen: 3, payload: 6},
	{prefix: 0b1110, prefixLen: 4, payload: 13},
	{prefix: 0b11110, prefixLen: 5, payload: 24},
}

// isInteger reports whether v survives a round trip through int64. Negative
// zero does not (its sign would be lost), nor do NaN and the infinities.
func isInteger(v float64) bool {
	return v == math.Trunc(v) && v >= -(1<<63) && v < 1<<63 && !(v == 0 && math.Signbit(v))
}

// writeIntDelta appends one integer difference.
func (w *bitWriter) writeIntDelta(d int64) {
	if d == 0 {
		w.writeBits(0, 1)
		return
	}
	u := d
	if d > 0 {
		u = d - 1
	}
	for _, bk := range intBuckets {
		half := int64(1) << (bk.payload - 1)
		if -half <= u && u < half {
			mask := uint64(1)<<bk.payload - 1
			w.writeBits(bk.prefix<<bk.payload|uint64(u)&mask, int(bk.prefixLen)+bk.payload)
			return
		}
	}
	w.writeBits(0b11111, 5)
	w.writeBits64(uint64(d), 64)
}

// readIntDelta consumes one integer difference.
func (r *bitReader) readIntDelta() int64 {
	word := r.peek()
	if word>>63 == 0 {
		r.pos++
		return 0
	}
	ones := bits.LeadingZeros64(^word)
	if ones >= 5 {
		r.pos += 5
		return int64(r.readBits64(64))
	}
	bk := &intBuckets[ones-1]
	n := uint(bk.payload)
	// Sign-extend the n-bit payload with an arithmetic shift.
	s := int64(word<<bk.prefixLen) >> (64 - n)
	r.pos += int(bk.prefixLen) + bk.payload
	if s >= 0 {
		s++
	}
	return s
}

func init() {
	// decodeInt computes the bucket layout instead of loading it.
	for i, bk := range intBuckets {
		if int(bk.prefixLen) != i+2 || int(intPayloads>>(8*i)&0xff) != bk.payload {
			panic("gorilla: intPayloads does not match intBuckets")
		}
	}
}
