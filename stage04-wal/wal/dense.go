package wal

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// RecordDenseSamples is a batch of samples stored by column: refs, then
// timestamps, then values, each as deltas from the previous sample, and the
// values as integers when they are exact decimals. Type 32 is not one of
// Prometheus's record types (1-10 there), so a Prometheus tool reading this
// log skips it as unknown instead of misreading it.
const RecordDenseSamples RecordType = 32

// Dense samples record (AppendDenseSamples, DecodeSamples):
//
//	type=32 | uvarint n | if n > 0:
//	  uvarint ref0 | (n-1) × varint (ref_i − ref_{i−1})
//	  varint t0    | (n-1) × varint (t_i − t_{i−1})
//	  byte e       | e ≤ maxDecimals: varint m0 | (n-1) × varint (m_i − m_{i−1}),  v_i = m_i / 10^e
//	               | e = rawValues:   n × 8-byte LE float64 bits
//
// Why columns, and deltas from the previous sample: in a scrape the refs go
// up by one and the timestamps repeat, so those two columns are runs of one
// byte (02 02 02 …, 00 00 00 …) that the frame's Snappy shrinks to almost
// nothing, and in a series' history the timestamp steps repeat the same way.
// Why decimals: counters and most gauges are integers or have a few decimal
// places; m is then a small integer whose delta from the neighbour's takes
// two or three bytes instead of eight, and leaves Snappy less to do. The
// encoder picks the smallest e that gives back every value bit for bit
// (float64(m)/10^e, the decoder's own arithmetic); one value that is not an
// exact decimal (NaN, a staleness marker, -0, 1/3) stores the whole column
// raw, so every float round-trips.
const (
	maxDecimals = 9    // 10^9: a larger e leaves m no room below 2^53 for values above ~10^7
	rawValues   = 0xFF // the value column is raw float64 bits
	maxMantissa = 1 << 53
)

// pow10 holds 10^e exactly (every power up to 10^22 is a float64).
var pow10 = [maxDecimals + 1]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// integer returns m with float64(m) == v bit for bit, or ok = false:
// decimal for e = 0, the common case, in two conversions (and inlined).
func integer(v float64) (m int64, ok bool) {
	m = int64(v) // NaN, ±Inf and |v| ≥ 2^63 give a value that fails below
	return m, float64(m) == v && m >= -maxMantissa && m <= maxMantissa && (m != 0 || !math.Signbit(v))
}

// decimal returns m with float64(m)/10^e == v bit for bit, or ok = false.
func decimal(v float64, e int) (m int64, ok bool) {
	if e == 0 {
		return integer(v)
	}
	x := v * pow10[e]
	if !(x >= -maxMantissa && x <= maxMantissa) { // NaN fails too
		return 0, false
	}
	m = int64(math.RoundToEven(x)) // an instruction on amd64 and arm64, math.Round is not
	return m, math.Float64bits(float64(m)/pow10[e]) == math.Float64bits(v)
}

// AppendDenseSamples appends the dense encoding of samples to dst.
func AppendDenseSamples(dst []byte, samples []RefSample) []byte {
	dst = append(dst, byte(RecordDenseSamples))
	dst = binary.AppendUvarint(dst, uint64(len(samples)))
	if len(samples) == 0 {
		return dst
	}
	dst = slices.Grow(dst, 4*len(samples)+2*binary.MaxVarintLen64) // a scrape of counters, in one allocation
	dst = binary.AppendUvarint(dst, samples[0].Ref)
	for i := 1; i < len(samples); i++ {
		// Wrapping subtraction: decoding adds it back with the same wrap.
		dst = appendVarint(dst, int64(samples[i].Ref-samples[i-1].Ref))
	}
	dst = binary.AppendVarint(dst, samples[0].T)
	for i := 1; i < len(samples); i++ {
		dst = appendVarint(dst, int64(uint64(samples[i].T)-uint64(samples[i-1].T)))
	}
	return appendValues(dst, samples)
}

// appendValues writes the value column with the smallest exponent that
// keeps every value: one pass when the first exponent tried fits them all
// (integers, most of the time); a value that needs a larger one restarts
// the column with it, at most maxDecimals times; no exponent: raw.
func appendValues(dst []byte, samples []RefSample) []byte {
	mark := len(dst)
	e := 0
	for {
		dst = append(dst[:mark], byte(e))
		prev, i := int64(0), 0
		if e == 0 { // the same loop with integer inlined: most batches are integers
			for ; i < len(samples); i++ {
				m, ok := integer(samples[i].V)
				if !ok {
					break
				}
				dst = appendVarint(dst, m-prev)
				prev = m
			}
		} else {
			for ; i < len(samples); i++ {
				m, ok := decimal(samples[i].V, e)
				if !ok {
					break
				}
				dst = appendVarint(dst, m-prev) // |m| ≤ 2^53: no overflow
				prev = m
			}
		}
		if i == len(samples) {
			return dst
		}
		// The value that did not fit decides the next exponent.
		for e++; e <= maxDecimals; e++ {
			if _, ok := decimal(samples[i].V, e); ok {
				break
			}
		}
		if e > maxDecimals {
			return appendRawValues(dst[:mark], samples)
		}
	}
}

func appendRawValues(dst []byte, samples []RefSample) []byte {
	dst = append(dst, rawValues)
	for _, s := range samples {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.V))
	}
	return dst
}

// decodeDenseSamples is DecodeSamples for a dense record. Each column is
// one loop over a local slice, reading one- and two-byte varints (nearly
// all of them) inline: replay spends most of its decoding time here.
func decodeDenseSamples(rec []byte, dst []RefSample) ([]RefSample, error) {
	d := decoder{b: rec}
	// Every sample takes at least one byte of ref, one of time and one of
	// value, so a count the bytes cannot hold is refused before allocating.
	n := d.header(RecordDenseSamples, 3)
	if n == 0 || d.err != nil {
		return dst, d.end()
	}
	dst = growSamples(dst, n)[:n]
	ref := d.uvarint()
	if d.err != nil {
		return dst[:0], d.err
	}
	b, p := d.b, 0 // p: the read position in b (cheaper than re-slicing b)
	dst[0].Ref = ref
	for i := 1; i < n; i++ {
		var u uint64
		if p < len(b) && b[p] < 0x80 {
			u = uint64(b[p])
			p++
		} else if u, p = uvarintAt(b, p); p < 0 {
			return dst[:0], denseErr("bad ref delta")
		}
		ref += uint64(unzigzag(u))
		dst[i].Ref = ref
	}
	t, k := binary.Varint(b[p:])
	if k <= 0 {
		return dst[:0], denseErr("bad timestamp")
	}
	p += k
	dst[0].T = t
	for i := 1; i < n; i++ {
		var u uint64
		if p < len(b) && b[p] < 0x80 {
			u = uint64(b[p])
			p++
		} else if u, p = uvarintAt(b, p); p < 0 {
			return dst[:0], denseErr("bad timestamp delta")
		}
		t = int64(uint64(t) + uint64(unzigzag(u)))
		dst[i].T = t
	}
	b = b[p:]
	if len(b) == 0 {
		return dst[:0], denseErr("value column missing")
	}
	e := int(b[0])
	b = b[1:]
	switch {
	case e == rawValues:
		if len(b) < 8*n {
			return dst[:0], denseErr("values cut short")
		}
		for i := range dst {
			dst[i].V = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
		b = b[8*n:]
	case e <= maxDecimals:
		scale := pow10[e]
		var m int64
		p := 0
		for i := range dst {
			var u uint64
			if p < len(b) && b[p] < 0x80 {
				u = uint64(b[p])
				p++
			} else if p+1 < len(b) && b[p+1] < 0x80 { // counters: mostly two bytes
				u = uint64(b[p]&0x7f) | uint64(b[p+1])<<7
				p += 2
			} else if u, p = uvarintAt(b, p); p < 0 {
				return dst[:0], denseErr("bad value delta")
			}
			m += unzigzag(u)
			if e == 0 { // integers: no division (predicted, one record has one e)
				dst[i].V = float64(m)
			} else {
				dst[i].V = float64(m) / scale
			}
		}
		b = b[p:]
	default:
		return dst[:0], denseErr(fmt.Sprintf("value encoding %d", e))
	}
	if len(b) != 0 {
		return dst[:0], denseErr(fmt.Sprintf("%d trailing bytes", len(b)))
	}
	return dst, nil
}

func denseErr(what string) error {
	return fmt.Errorf("%w: record: %s", ErrCorrupt, what)
}

// appendVarint is binary.AppendVarint with the one- and two-byte cases
// inline.
func appendVarint(dst []byte, x int64) []byte {
	u := uint64(x<<1) ^ uint64(x>>63)
	if u < 0x80 {
		return append(dst, byte(u))
	}
	if u < 0x4000 {
		return append(dst, byte(u)|0x80, byte(u>>7))
	}
	return binary.AppendUvarint(dst, u)
}

// uvarintAt reads the uvarint at b[p:], returning the position after it,
// or p = -1 if there is none: the column loops' path for anything but the
// common short varints they read inline.
func uvarintAt(b []byte, p int) (uint64, int) {
	if p < 0 || p > len(b) {
		return 0, -1
	}
	u, k := binary.Uvarint(b[p:])
	if k <= 0 {
		return 0, -1
	}
	return u, p + k
}

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }
