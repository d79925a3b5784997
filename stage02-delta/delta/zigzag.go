package delta

// ZigZag maps a signed integer to an unsigned one so that values of small
// magnitude get small codes: 0, -1, 1, -2, 2 … become 0, 1, 2, 3, 4 ….
//
// Deltas can be negative (a clock step back, a gauge going down). Written as
// two's complement, -1 is 0xFFFF_FFFF_FFFF_FFFF: 64 significant bits, the
// worst case for a variable-length code. Zig-zag moves the sign into the lowest
// bit instead, so |x| < 2^k needs only k+1 bits.
//
// x<<1 drops the sign bit and doubles; x>>63 is all ones for negatives
// (arithmetic shift), and XOR with it turns 2|x| into 2|x|-1. Every int64,
// MinInt64 included, has a distinct code.
func ZigZag(x int64) uint64 {
	return uint64(x<<1) ^ uint64(x>>63)
}

// UnZigZag is the inverse of ZigZag: the low bit is the sign, the rest the
// magnitude.
func UnZigZag(u uint64) int64 {
	return int64(u>>1) ^ -int64(u&1)
}
