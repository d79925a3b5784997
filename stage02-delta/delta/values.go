package delta

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The value column:
//
//	E           1 byte, the shared decimal exponent, 0 … MaxExponent
//	integers    n values: zigzag(m_0), zigzag(m_i - m_{i-1}) (column.go framing)
//	k           uvarint, number of exceptions
//	positions   k uvarints: p_0, then p_j - p_{j-1} - 1 (gaps; positions increase)
//	raw bits    k × 8 bytes, float64 bits little-endian, in position order
//
// Why decimals: the float64 bits of 0.75 and 0.82 have nothing in common past
// the exponent, but the values are 75 and 82 hundredths. Most measurements are
// decimals with few digits (a percentage, a temperature, an integer count), so
// the column stores mantissas m_i with v_i == float64(m_i) / 10^E exactly, and
// their deltas are small integers.
//
// Why this is exact: 10^E (E ≤ 22) and every |m| ≤ 2^53 are exact float64s,
// and IEEE 754 division is correctly rounded, so float64(m)/10^E is the
// float64 nearest to the rational m/10^E. The encoder checks each value bit for
// bit against that very expression, and the decoder evaluates the same
// expression. A value that passes with exponent e also passes with any E ≥ e
// as long as m·10^(E-e) stays within 2^53: it is the same rational.
//
// Exceptions: NaN (any payload), ±Inf, -0 (float64(0)/p is +0), integers
// beyond 2^53 and fractions too long for 2^53 are kept as raw bits. In the
// mantissa stream they repeat the previous mantissa (delta 0, nearly free), so
// one NaN costs its own 9 or so bytes and does not disturb the deltas around it.

// MaxExponent is the largest shared decimal exponent; 10^18 is an exact
// float64 and fits an int64.
const MaxExponent = 18

// maxMantissa bounds |m|: every integer up to 2^53 is an exact float64.
const maxMantissa = 1 << 53

var pow10f [MaxExponent + 1]float64
var pow10i [MaxExponent + 1]int64

func init() {
	p := int64(1)
	for e := range pow10i {
		pow10i[e] = p
		pow10f[e] = float64(p)
		p *= 10
	}
}

// Mantissa returns m such that float64(m)/10^e has exactly the bits of v, if
// there is one with |m| ≤ 2^53.
func Mantissa(v float64, e int) (int64, bool) {
	if e < 0 || e > MaxExponent {
		return 0, false
	}
	p := pow10f[e]
	x := v * p
	if !(x >= -maxMantissa && x <= maxMantissa) { // also false for NaN
		return 0, false
	}
	m := int64(math.RoundToEven(x))
	return m, math.Float64bits(float64(m)/p) == math.Float64bits(v)
}

// minExponent is the smallest e for which v has a mantissa, or -1.
func minExponent(v float64) int {
	for e := 0; e <= MaxExponent; e++ {
		if _, ok := Mantissa(v, e); ok {
			return e
		}
		if !(math.Abs(v)*pow10f[e] <= maxMantissa) {
			break // larger exponents only make the mantissa larger
		}
	}
	return -1
}

// exponentSample is how many values chooseExponent inspects.
const exponentSample = 256

// chooseExponent picks the shared exponent from an evenly spaced sample of
// the values, so that its cost does not grow with the column. For each
// candidate E it estimates the bits spent:
//
//   - every sampled value that needs more than E decimals becomes an
//     exception: about 72 bits (8 raw bytes and a position);
//   - every other value's deltas grow by log2(10) ≈ 3.32 bits per decimal.
//
// and keeps the cheapest (the smaller E on a tie). A column of integers gets
// E = 0; two-decimal percentages get E = 2; a column of long fractions gets
// E = 0 and all exceptions.
func chooseExponent(vs []float64) int {
	var need [MaxExponent + 1]int // need[e]: sampled values whose smallest exponent is e
	step := max(1, len(vs)/exponentSample)
	for i := 0; i < len(vs); i += step {
		if e := minExponent(vs[i]); e >= 0 {
			need[e]++
		}
	}
	best, bestCost := 0, math.Inf(1)
	decimals, exceptionsAbove := 0, 0
	for _, c := range need {
		exceptionsAbove += c
	}
	for e := 0; e <= MaxExponent; e++ {
		decimals += need[e]
		exceptionsAbove -= need[e]
		cost := 72*float64(exceptionsAbove) + 3.32*float64(e*decimals)
		if cost < bestCost {
			best, bestCost = e, cost
		}
	}
	return best
}

// valueInts writes zigzag(m_i - m_{i-1}) into dst (room for len(vs)) for
// exponent e and returns the positions of the exceptions, appended to exc.
func valueInts(dst []uint64, vs []float64, e int, exc []int) []int {
	dst = dst[:len(vs)]
	prev := int64(0)
	if e == 0 {
		// Integers: no division needed to check the round trip.
		for i, v := range vs {
			m := int64(v) // saturating conversion on amd64/arm64; checked below
			if !(v >= -maxMantissa && v <= maxMantissa) || math.Float64bits(float64(m)) != math.Float64bits(v) {
				exc = append(exc, i)
				m = prev
			}
			dst[i] = ZigZag(m - prev)
			prev = m
		}
		return exc
	}
	for i, v := range vs {
		m, ok := Mantissa(v, e)
		if !ok {
			exc = append(exc, i)
			m = prev
		}
		dst[i] = ZigZag(m - prev)
		prev = m
	}
	return exc
}

// AppendValues appends the value column of vs (at least one value) to dst.
func AppendValues(dst []byte, vs []float64) []byte {
	dst, _ = appendValues(dst, vs, nil, nil, Packed)
	return dst
}

// AppendValuesLayout is AppendValues with the mantissa deltas laid out as
// layout says (BytePlanes: for a general-purpose compressor after).
// DecodeValues reads either.
func AppendValuesLayout(dst []byte, vs []float64, layout Layout) []byte {
	dst, _ = appendValues(dst, vs, nil, nil, layout)
	return dst
}

// valueColumn is what appendValues reports for Stats.
type valueColumn struct {
	codec      Codec
	exponent   int
	exceptions int
	absDeltas  float64 // Σ|m_i - m_{i-1}| over i ≥ 1, in mantissa units
}

func appendValues(dst []byte, vs []float64, u []uint64, buf []byte, layout Layout) ([]byte, valueColumn) {
	var col valueColumn
	if len(vs) == 0 {
		return dst, col
	}
	if cap(u) < len(vs) {
		u = make([]uint64, len(vs))
	}
	u = u[:len(vs)]
	col.exponent = chooseExponent(vs)
	exc := valueInts(u, vs, col.exponent, nil)
	col.exceptions = len(exc)
	col.absDeltas = sumAbsDeltas(u[1:])

	dst = append(dst, byte(col.exponent))
	dst, col.codec, _ = appendIntsLayout(dst, u, buf, layout)
	dst = AppendUvarint(dst, uint64(len(exc)))
	last := -1
	for _, p := range exc {
		dst = AppendUvarint(dst, uint64(p-last-1))
		last = p
	}
	for _, p := range exc {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(vs[p]))
	}
	return dst, col
}

// sumAbsDeltas adds |d| for zig-zagged deltas, (u+1)>>1, in blocks small
// enough that the integer sum cannot overflow (|d| ≤ 2^54 here).
func sumAbsDeltas(u []uint64) float64 {
	var total float64
	for len(u) > 0 {
		k := min(len(u), 512)
		var s uint64
		for _, x := range u[:k] {
			s += (x + 1) >> 1
		}
		total += float64(s)
		u = u[k:]
	}
	return total
}

// DecodeValues fills vs (all len(vs) values, at least one) from a column
// written by AppendValues and returns the bytes after it.
func DecodeValues(vs []float64, src []byte) (rest []byte, err error) {
	return decodeValues(vs, src, nil)
}

// decodeValues decodes through scratch (len(vs) codes), which may be the
// caller's timestamp slice before the timestamps are decoded into it.
func decodeValues(vs []float64, src []byte, u []int64) ([]byte, error) {
	if len(vs) == 0 {
		return src, nil
	}
	if len(src) < 1 {
		return nil, fmt.Errorf("values: %w: missing exponent", ErrCorrupt)
	}
	e := int(src[0])
	if e > MaxExponent {
		return nil, fmt.Errorf("values: %w: exponent %d > %d", ErrCorrupt, e, MaxExponent)
	}
	if cap(u) < len(vs) {
		u = make([]int64, len(vs))
	}
	u = u[:len(vs)]
	src, err := readInts(u, src[1:])
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}

	// Bulk: one running sum and one scaling per value, no branches.
	vs = vs[:len(u)]
	m := int64(0)
	if e == 0 {
		for i, x := range u {
			m += UnZigZag(uint64(x))
			vs[i] = float64(m)
		}
	} else {
		p := pow10f[e]
		for i, x := range u {
			m += UnZigZag(uint64(x))
			vs[i] = float64(m) / p
		}
	}

	// Exceptions: patch the raw values in.
	k, n, err := Uvarint(src)
	if err != nil {
		return nil, fmt.Errorf("values: exception count: %w", err)
	}
	src = src[n:]
	if k > uint64(len(vs)) || k*9 > uint64(len(src)) {
		return nil, fmt.Errorf("values: %w: %d exceptions do not fit", ErrCorrupt, k)
	}
	raw := src
	// Skip the positions once to find where the raw bits start.
	off := 0
	for j := uint64(0); j < k; j++ {
		_, n, err := Uvarint(raw[off:])
		if err != nil {
			return nil, fmt.Errorf("values: exception position %d: %w", j, err)
		}
		off += n
	}
	raw = src[off:]
	if uint64(len(raw)) < 8*k {
		return nil, fmt.Errorf("values: %w: truncated exception values", ErrCorrupt)
	}
	pos := -1
	for j := uint64(0); j < k; j++ {
		gap, n, _ := Uvarint(src) // already validated above
		src = src[n:]
		if gap >= uint64(len(vs)-pos-1) {
			return nil, fmt.Errorf("values: %w: exception position out of range", ErrCorrupt)
		}
		pos += int(gap) + 1
		if u[pos] != 0 {
			// The encoder repeats the previous mantissa at an exception.
			return nil, fmt.Errorf("values: %w: nonzero delta at exception %d", ErrCorrupt, pos)
		}
		vs[pos] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*j:]))
	}
	return raw[8*k:], nil
}
