package delta

import "fmt"

// MaxVarintLen is the longest LEB128 encoding of a uint64: ceil(64/7) bytes.
const MaxVarintLen = 10

// AppendUvarint appends the LEB128 encoding of v to dst: 7 bits per byte,
// least significant group first, the high bit of each byte set when more
// bytes follow. Values below 128 take one byte, below 16384 two, and so on,
// so a column of small deltas costs a byte per value instead of eight.
func AppendUvarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// UvarintLen is the number of bytes AppendUvarint writes for v. The encoder
// uses it to price the varint codec without writing anything.
func UvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Uvarint decodes one LEB128 value from the start of b and returns it with
// the number of bytes read. Truncated input, encodings longer than ten bytes
// and a tenth byte carrying bits above 2^64 are errors wrapping ErrCorrupt.
//
// Overlong forms (a trailing 0x80 0x00, say) are rejected too: each value then
// has exactly one encoding, so a flipped bit cannot produce a second valid
// spelling of the same data.
func Uvarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < MaxVarintLen; i++ {
		c := b[i]
		if i == MaxVarintLen-1 && c > 1 {
			return 0, 0, fmt.Errorf("%w: varint overflows 64 bits", ErrCorrupt)
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, 0, fmt.Errorf("%w: overlong varint", ErrCorrupt)
			}
			return v, i + 1, nil
		}
	}
	if len(b) < MaxVarintLen {
		return 0, 0, fmt.Errorf("%w: truncated varint", ErrCorrupt)
	}
	return 0, 0, fmt.Errorf("%w: varint longer than %d bytes", ErrCorrupt, MaxVarintLen)
}
