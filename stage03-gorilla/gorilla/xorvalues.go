package gorilla

import (
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// A values-only XOR stream: the value half of a chunk, for a format that
// stores its timestamps in a column of its own (stage07's TSM blocks keep
// them in stage02's delta-of-delta column, as InfluxDB does). It is the
// chunk's bit stream without the header and without the timestamp codes:
//
//	value 0   64 raw bits
//	value i   the XOR with value i-1, coded as in xor.go:
//	          '0' | '10' <window bits> | '11' <5 bits leading> <6 bits width> <window bits>
//	          zero bits up to the next byte boundary
//
// The count is not stored: the caller keeps it (a TSM block has it in its
// header), and the decoder needs it to know where the stream ends. A
// sequence has exactly one encoding, padding included, so the decoder can
// insist on it: anything else is ErrCorrupt.

// AppendXORValues appends the values-only XOR stream of vs to dst and
// returns the extended slice. An empty vs appends nothing.
func AppendXORValues(dst []byte, vs []float64) []byte {
	if len(vs) == 0 {
		return dst
	}
	start := len(dst)
	// The writer stores whole 8-byte words past its last bit and needs zeros
	// after it: give it zeroed room, then cut the stream out.
	w := bitWriter{buf: append(dst, make([]byte, 16+len(vs))...), at: start}
	prev := math.Float64bits(vs[0])
	w.writeBits64(prev, 64)
	leading, trailing := uint8(noWindow), uint8(0)
	for _, f := range vs[1:] {
		v := math.Float64bits(f)
		w.writeXOR(0, 0, v^prev, &leading, &trailing)
		prev = v
	}
	return w.buf[:start+(w.nbits()-start*8+7)>>3]
}

// DecodeXORValues decodes the n values of the values-only XOR stream b and
// appends them to dst. b must be exactly the stream (as AppendXORValues
// wrote it, padding included); anything else is an error wrapping
// ErrCorrupt. Nothing panics on damaged input.
func DecodeXORValues(dst []float64, b []byte, n int) ([]float64, error) {
	base := len(dst)
	if n > 0 {
		dst = growF(dst, n)
	}
	// A float64 and its bits have the same size and alignment: decode the
	// bits straight into dst's memory rather than through a second slice.
	bits := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(dst))), cap(dst))[:base]
	bits, err := DecodeXORBits(bits, b, n)
	return dst[:len(bits)], err
}

// DecodeXORBits is DecodeXORValues for a reader that keeps values as their
// IEEE 754 bits (stage07's TSM values hold every type in a uint64): the
// same stream, appended to dst without converting.
func DecodeXORBits(dst []uint64, b []byte, n int) ([]uint64, error) {
	if n < 0 {
		return dst, fmt.Errorf("%w: %d values", ErrCorrupt, n)
	}
	if n == 0 {
		if len(b) != 0 {
			return dst, fmt.Errorf("%w: %d bytes for no values", ErrCorrupt, len(b))
		}
		return dst, nil
	}
	// Every value after the first takes at least one bit: a count the stream
	// cannot hold is rejected before anything is allocated for it.
	if len(b) < 8 || n-1 > len(b)*8-64 {
		return dst, fmt.Errorf("%w: %d bytes cannot hold %d values", ErrCorrupt, len(b), n)
	}
	base := len(dst)
	dst = slices.Grow(dst, n)[:base+n]
	out := dst[base:]
	r := bitReader{b: b}
	v := r.readBits64(64)
	out[0] = v
	leading, trailing := uint8(noWindow), uint8(0)
	limit := len(b) << 3
	for i := 1; i < n; i++ {
		x, ok := r.readXOR(&leading, &trailing)
		if !ok {
			return dst[:base], fmt.Errorf("%w: value %d: invalid XOR control bits", ErrCorrupt, i)
		}
		if r.pos > limit {
			return dst[:base], fmt.Errorf("%w: value %d runs past the end of the stream", ErrCorrupt, i)
		}
		v ^= x
		out[i] = v
	}
	if (r.pos+7)>>3 != len(b) {
		return dst[:base], fmt.Errorf("%w: %d bytes after the last value", ErrCorrupt, len(b)-(r.pos+7)>>3)
	}
	if pad := r.pos & 7; pad != 0 && b[len(b)-1]<<uint(pad) != 0 {
		return dst[:base], fmt.Errorf("%w: padding bits are not zero", ErrCorrupt)
	}
	return dst, nil
}
