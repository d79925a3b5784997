package gorilla

import (
	"fmt"
	"math"
	"slices"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// A histogram chunk stores the bucket layout once, after its first
// timestamp: every sample of the chunk has the same schema, zero threshold,
// spans and custom bounds, and only the numbers change from sample to
// sample. An append whose histogram has new buckets rewrites the chunk with
// the wider layout (recode); one whose layout cannot be widened into
// starts a new chunk.
//
// The layout, in the bit stream (varbit is the code of varbit.go):
//
//	zero threshold  '0' + 11 bits: the IEEE 754 exponent field of a threshold
//	                that is 0 or a power of two (sign and mantissa zero), or
//	                '1' + 64 bits: any other threshold
//	schema          varbit
//	positive spans  varbit count, then per span: varbit offset, varbit length
//	negative spans  the same
//	custom bounds   schema -53 only: varbit count, then the bounds as an XOR
//	                stream (each coded as xor.go codes a value, the first
//	                against 0)
type histLayout struct {
	schema         int32
	zeroThreshold  float64
	pSpans, nSpans []histogram.Span
	custom         []float64
	pIdx, nIdx     []int64 // bucket index of each bucket the spans cover
}

func (l *histLayout) numBuckets() (pos, neg int) { return len(l.pIdx), len(l.nIdx) }

// setLayout makes l the layout of the given fields (copied).
func (l *histLayout) set(schema int32, zt float64, pSpans, nSpans []histogram.Span, custom []float64) {
	l.schema, l.zeroThreshold = schema, zt
	l.pSpans = append(l.pSpans[:0], pSpans...)
	l.nSpans = append(l.nSpans[:0], nSpans...)
	l.custom = append(l.custom[:0], custom...)
	l.pIdx = appendIndexes(l.pIdx[:0], pSpans)
	l.nIdx = appendIndexes(l.nIdx[:0], nSpans)
}

// sameShape reports whether a histogram with these fields can be stored in
// a chunk of layout l, bucket indexes aside.
func (l *histLayout) sameShape(schema int32, zt float64, custom []float64) bool {
	return schema == l.schema && math.Float64bits(zt) == math.Float64bits(l.zeroThreshold) && slices.Equal(custom, l.custom)
}

// appendIndexes appends the bucket index of every bucket spans covers: the
// first span starts Offset after index 0, each next one Offset after the
// end of the previous one.
func appendIndexes(dst []int64, spans []histogram.Span) []int64 {
	var idx int64
	for _, s := range spans {
		idx += int64(s.Offset)
		for j := uint32(0); j < s.Length; j++ {
			dst = append(dst, idx)
			idx++
		}
	}
	return dst
}

// spansOf returns the shortest spans covering exactly the increasing
// bucket indexes idx.
func spansOf(idx []int64) []histogram.Span {
	var spans []histogram.Span
	var end int64 // index after the previous span
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && idx[j] == idx[j-1]+1 {
			j++
		}
		spans = append(spans, histogram.Span{Offset: int32(idx[i] - end), Length: uint32(j - i)})
		end = idx[j-1] + 1
		i = j
	}
	return spans
}

// unionIndexes returns the increasing union of the increasing index lists
// a and b, and whether it has indexes a lacks.
func unionIndexes(a, b []int64) (u []int64, grew bool) {
	u = make([]int64, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			u = append(u, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			u = append(u, b[j])
			j++
			grew = true
		default:
			u = append(u, a[i])
			i++
			j++
		}
	}
	return u, grew
}

// writeLayout appends the layout l.
func (w *bitWriter) writeLayout(l *histLayout) {
	zt := math.Float64bits(l.zeroThreshold)
	if zt&^(0x7ff<<52) == 0 {
		w.writeBits(zt>>52, 12) // '0' then the exponent field
	} else {
		w.writeBits(1, 1)
		w.writeBits64(zt, 64)
	}
	w.writeVarbit(int64(l.schema))
	for _, spans := range [2][]histogram.Span{l.pSpans, l.nSpans} {
		w.writeVarbit(int64(len(spans)))
		for _, s := range spans {
			w.writeVarbit(int64(s.Offset))
			w.writeVarbit(int64(s.Length))
		}
	}
	if histogram.IsCustom(l.schema) {
		w.writeVarbit(int64(len(l.custom)))
		var prev uint64
		leading, trailing := uint8(noWindow), uint8(0)
		for _, v := range l.custom {
			b := math.Float64bits(v)
			w.writeXOR(0, 0, b^prev, &leading, &trailing)
			prev = b
		}
	}
}

// readLayout consumes a layout into l. Counts are checked against the bits
// left in the stream before anything is allocated for them: every span
// and every custom bound takes at least one bit, and so does every bucket
// of every sample.
func (r *bitReader) readLayout(l *histLayout) error {
	left := func() int64 { return int64(len(r.b)<<3 - r.pos) }
	if r.readBits(1) == 0 {
		l.zeroThreshold = math.Float64frombits(r.readBits(11) << 52)
	} else {
		l.zeroThreshold = math.Float64frombits(r.readBits64(64))
	}
	schema := r.readVarbit()
	if schema < math.MinInt32 || schema > math.MaxInt32 || !histogram.ValidSchema(int32(schema)) {
		return fmt.Errorf("%w: histogram schema %d", ErrCorrupt, schema)
	}
	l.schema = int32(schema)
	l.pSpans, l.nSpans = l.pSpans[:0], l.nSpans[:0]
	var buckets int64
	for side := range 2 {
		n := r.readVarbit()
		if n < 0 || n > left() {
			return fmt.Errorf("%w: %d spans", ErrCorrupt, n)
		}
		for i := int64(0); i < n; i++ {
			off, length := r.readVarbit(), r.readVarbit()
			if off < math.MinInt32 || off > math.MaxInt32 || (i > 0 && off < 0) || length < 0 || length > left() {
				return fmt.Errorf("%w: span offset %d length %d", ErrCorrupt, off, length)
			}
			buckets += length
			if buckets > left() {
				return fmt.Errorf("%w: %d buckets", ErrCorrupt, buckets)
			}
			s := histogram.Span{Offset: int32(off), Length: uint32(length)}
			if side == 0 {
				l.pSpans = append(l.pSpans, s)
			} else {
				l.nSpans = append(l.nSpans, s)
			}
		}
	}
	l.custom = l.custom[:0]
	if histogram.IsCustom(l.schema) {
		if len(l.nSpans) > 0 {
			return fmt.Errorf("%w: negative buckets with custom bounds", ErrCorrupt)
		}
		n := r.readVarbit()
		if n < 0 || n > left() {
			return fmt.Errorf("%w: %d custom bounds", ErrCorrupt, n)
		}
		var prev uint64
		leading, trailing := uint8(noWindow), uint8(0)
		for i := int64(0); i < n; i++ {
			x, ok := r.readXOR(&leading, &trailing)
			if !ok {
				return fmt.Errorf("%w: custom bound %d", ErrCorrupt, i)
			}
			prev ^= x
			l.custom = append(l.custom, math.Float64frombits(prev))
		}
	}
	if r.overrun() {
		return fmt.Errorf("%w: histogram layout runs past the end of the chunk", ErrCorrupt)
	}
	l.pIdx = appendIndexes(l.pIdx[:0], l.pSpans)
	l.nIdx = appendIndexes(l.nIdx[:0], l.nSpans)
	return nil
}

// expandInt writes into dst (len(dstIdx) long) the delta-coded buckets
// of the histogram whose buckets are src at the indexes srcIdx, laid out on
// dstIdx: a bucket of dstIdx that src lacks is 0. Every index of srcIdx
// must be in dstIdx.
func expandInt(dst []int64, dstIdx []int64, src []int64, srcIdx []int64) {
	var abs, prev int64
	j := 0
	for i, idx := range dstIdx {
		var c int64
		if j < len(srcIdx) && srcIdx[j] == idx {
			abs += src[j]
			c = abs
			j++
		}
		dst[i] = c - prev
		prev = c
	}
}

// expandFloat is expandInt for absolute float counts.
func expandFloat(dst []float64, dstIdx []int64, src []float64, srcIdx []int64) {
	j := 0
	for i, idx := range dstIdx {
		dst[i] = 0
		if j < len(srcIdx) && srcIdx[j] == idx {
			dst[i] = src[j]
			j++
		}
	}
}

// staleNaN is Prometheus's staleness marker, a NaN with a payload (the
// value model/value.StaleNaN). A histogram sample whose Sum is this NaN
// marks the series as gone: the chunks store only its timestamp and sum.
const staleNaN uint64 = 0x7ff0000000000002

func isStale(sum float64) bool { return math.Float64bits(sum) == staleNaN }
