package delta

import (
	"encoding/binary"
	"fmt"
)

// The timestamp column:
//
//	t0         8 bytes, int64 little-endian
//	integers   n-1 values, zigzag(dod_i) for i = 1 … n-1 (column.go framing)
//
// where delta_i = t_i - t_{i-1} and dod_i = delta_i - delta_{i-1}, with
// delta_0 = 0, so the first stored integer is the first delta itself.
//
// A scrape every 10 s gives deltas 10000, 10000, … and deltas-of-deltas
// 10000, 0, 0, …: after the first, every point costs a zero, and Simple-8b
// packs 240 zeros into one word (a quarter of a bit per point).
//
// The subtractions wrap around (two's complement), and so do the additions
// that undo them: t_i = t_{i-1} + delta_i holds modulo 2^64 in both
// directions, so any int64 sequence — MinInt64 next to MaxInt64, time going
// backwards — round-trips exactly. An overflowed delta only costs bits.

// timestampInts writes zigzag(dod_i) for i = 1 … len(ts)-1 into dst, which
// must have room for len(ts)-1 values.
func timestampInts(dst []uint64, ts []int64) {
	if len(ts) < 2 {
		return
	}
	dst = dst[:len(ts)-1]
	prev, prevDelta := ts[0], int64(0)
	for i, t := range ts[1:] {
		d := t - prev
		dst[i] = ZigZag(d - prevDelta)
		prev, prevDelta = t, d
	}
}

// AppendTimestamps appends the timestamp column of ts (at least one
// timestamp) to dst. The column does not store its length: the file header
// does.
func AppendTimestamps(dst []byte, ts []int64) []byte {
	dst, _, _ = appendTimestamps(dst, ts, nil, nil, Packed)
	return dst
}

// AppendTimestampsLayout is AppendTimestamps with the integers laid out
// as layout says (BytePlanes: for a general-purpose compressor after).
// DecodeTimestamps reads either.
func AppendTimestampsLayout(dst []byte, ts []int64, layout Layout) []byte {
	dst, _, _ = appendTimestamps(dst, ts, nil, nil, layout)
	return dst
}

func appendTimestamps(dst []byte, ts []int64, u []uint64, buf []byte, layout Layout) ([]byte, Codec, []byte) {
	if len(ts) == 0 {
		return dst, Simple8b, buf
	}
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ts[0]))
	if cap(u) < len(ts)-1 {
		u = make([]uint64, len(ts)-1)
	}
	u = u[:len(ts)-1]
	timestampInts(u, ts)
	return appendIntsLayout(dst, u, buf, layout)
}

// DecodeTimestamps fills ts (all len(ts) timestamps, at least one) from a
// column written by AppendTimestamps and returns the bytes after it.
func DecodeTimestamps(ts []int64, src []byte) (rest []byte, err error) {
	if len(ts) == 0 {
		return src, nil
	}
	if len(src) < 8 {
		return nil, fmt.Errorf("timestamps: %w: truncated first timestamp", ErrCorrupt)
	}
	first := int64(binary.LittleEndian.Uint64(src))
	// Unpack the zig-zag codes into ts[1:] itself, then undo the two
	// differences with two running sums, in place: each code is read before
	// its slot is overwritten.
	rest, err = readInts(ts[1:], src[8:])
	if err != nil {
		return nil, fmt.Errorf("timestamps: %w", err)
	}
	ts[0] = first
	t, d := first, int64(0)
	for i := 1; i < len(ts); i++ {
		d += UnZigZag(uint64(ts[i]))
		t += d
		ts[i] = t
	}
	return rest, nil
}

// skipTimestamps returns the bytes after a timestamp column.
func skipTimestamps(src []byte) ([]byte, error) {
	if len(src) < 8 {
		return nil, fmt.Errorf("timestamps: %w: truncated first timestamp", ErrCorrupt)
	}
	rest, err := skipInts(src[8:])
	if err != nil {
		return nil, fmt.Errorf("timestamps: %w", err)
	}
	return rest, nil
}
