package histogram

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
	"sync"
)

// Bucket is one bucket of a float histogram with its bounds: what a query
// reads when it interpolates a quantile or a fraction. Exponential buckets
// are open towards zero and closed away from it, (lower, upper] on the
// positive side; a custom bucket is (lower, upper], the first one
// [-Inf, upper]; the zero bucket is [-threshold, threshold].
type Bucket struct {
	Lower, Upper                   float64
	LowerInclusive, UpperInclusive bool
	Count                          float64
	Index                          int32 // the bucket's index in its schema (0 for the zero bucket)
}

// UsesCustomBuckets reports whether h has the custom-bucket schema.
func (h *FloatHistogram) UsesCustomBuckets() bool { return IsCustom(h.Schema) }

// Bound is the upper bound of bucket idx in schema (the lower bound of
// bucket idx+1). For an exponential schema it is 2^(idx·2^-schema): bucket
// 1 of schema 0 ends at 2, bucket 1 of schema 1 at √2. For the custom
// schema it is custom[idx], +Inf past the last bound and -Inf before the
// first.
func Bound(idx, schema int32, custom []float64) float64 {
	if IsCustom(schema) {
		switch {
		case idx < 0:
			return math.Inf(-1)
		case int(idx) >= len(custom):
			return math.Inf(1)
		}
		return custom[idx]
	}
	if schema <= 0 {
		// Whole powers of two: exact.
		e := int64(idx) << uint(-schema)
		if e > 1024 {
			return math.Inf(1)
		}
		if e == 1024 {
			// The last finite bucket ends at the largest float; the
			// next one holds +Inf.
			return math.MaxFloat64
		}
		return math.Ldexp(1, int(e))
	}
	// idx = whole·2^schema + frac: 2^whole · 2^(frac/2^schema).
	per := int32(1) << uint(schema)
	whole, frac := idx>>uint(schema), idx&(per-1)
	if whole >= 1024 {
		if whole == 1024 && frac == 0 {
			return math.MaxFloat64
		}
		return math.Inf(1)
	}
	return math.Ldexp(fractionalPowers()[schema][frac], int(whole))
}

// fractionalPowers[s][k] is 2^(k/2^s), correctly rounded: computed once
// in 200-bit arithmetic (s square roots of 2, then k products), because
// bucket bounds print as labels (count_values) and must be the same
// floats on every platform, which math.Exp2 does not promise.
// (Prometheus's own table is off by one unit in the last place for some
// of them, so a few bounds print differently there.)
var fractionalPowers = sync.OnceValue(func() [MaxSchema + 1][]float64 {
	var out [MaxSchema + 1][]float64
	const prec = 200
	for s := 1; s <= MaxSchema; s++ {
		root := new(big.Float).SetPrec(prec).SetInt64(2)
		for range s {
			root.Sqrt(root)
		}
		per := 1 << s
		out[s] = make([]float64, per)
		p := new(big.Float).SetPrec(prec).SetInt64(1)
		for k := range per {
			out[s][k], _ = p.Float64()
			p.Mul(p, root)
		}
	}
	return out
})

// side is one side's buckets as parallel, index-sorted slices: the form
// the arithmetic works in, turned back into spans by spans().
type side struct {
	idx []int32
	cnt []float64
}

// expandSide lists the buckets that spans and counts describe.
func expandSide(spans []Span, counts []float64) side {
	s := side{idx: make([]int32, 0, len(counts)), cnt: make([]float64, 0, len(counts))}
	var i int32
	k := 0
	for n, sp := range spans {
		if n == 0 {
			i = sp.Offset
		} else {
			i += sp.Offset
		}
		for j := uint32(0); j < sp.Length && k < len(counts); j++ {
			s.idx = append(s.idx, i)
			s.cnt = append(s.cnt, counts[k])
			i++
			k++
		}
	}
	return s
}

// spans turns index-sorted buckets back into spans: consecutive indexes
// share a span, a gap starts a new one.
func (s side) spans() ([]Span, []float64) {
	if len(s.idx) == 0 {
		return nil, nil
	}
	var out []Span
	next := int32(0) // the index after the last span's end
	for k, i := range s.idx {
		if k > 0 && i == next {
			out[len(out)-1].Length++
		} else if k == 0 {
			out = append(out, Span{Offset: i, Length: 1})
		} else {
			out = append(out, Span{Offset: i - next, Length: 1})
		}
		next = i + 1
	}
	return out, slices.Clone(s.cnt)
}

// reduced maps the buckets of schema from to the coarser schema to: bucket
// i goes to ((i-1) >> (from-to)) + 1, and buckets that meet add up.
func (s side) reduced(from, to int32) side {
	if from == to {
		return s
	}
	var out side
	for k, i := range s.idx {
		t := ((i - 1) >> uint(from-to)) + 1
		if n := len(out.idx); n > 0 && out.idx[n-1] == t {
			out.cnt[n-1] += s.cnt[k]
			continue
		}
		out.idx = append(out.idx, t)
		out.cnt = append(out.cnt, s.cnt[k])
	}
	return out
}

// merged adds sign·b into a, bucket by bucket; a bucket in one only is
// kept as is (negated from b when subtracting).
func merged(a, b side, sign float64) side {
	out := side{idx: make([]int32, 0, len(a.idx)+len(b.idx)), cnt: make([]float64, 0, len(a.idx)+len(b.idx))}
	i, j := 0, 0
	for i < len(a.idx) || j < len(b.idx) {
		switch {
		case j >= len(b.idx) || (i < len(a.idx) && a.idx[i] < b.idx[j]):
			out.idx, out.cnt = append(out.idx, a.idx[i]), append(out.cnt, a.cnt[i])
			i++
		case i >= len(a.idx) || b.idx[j] < a.idx[i]:
			out.idx, out.cnt = append(out.idx, b.idx[j]), append(out.cnt, sign*b.cnt[j])
			j++
		default:
			out.idx, out.cnt = append(out.idx, a.idx[i]), append(out.cnt, a.cnt[i]+sign*b.cnt[j])
			i++
			j++
		}
	}
	return out
}

// count is the count of bucket index i, 0 if absent.
func (s side) count(i int32) float64 {
	k, ok := slices.BinarySearch(s.idx, i)
	if !ok {
		return 0
	}
	return s.cnt[k]
}

// without drops the buckets whose upper bound (in absolute value) is at
// most t: they are inside a zero bucket of threshold t.
func (s side) without(t float64, schema int32) side {
	k := 0
	for k < len(s.idx) && Bound(s.idx[k], schema, nil) <= t {
		k++
	}
	return side{idx: s.idx[k:], cnt: s.cnt[k:]}
}

func (h *FloatHistogram) positive() side { return expandSide(h.PositiveSpans, h.PositiveBuckets) }
func (h *FloatHistogram) negative() side { return expandSide(h.NegativeSpans, h.NegativeBuckets) }

func (h *FloatHistogram) setSides(pos, neg side) {
	h.PositiveSpans, h.PositiveBuckets = pos.spans()
	h.NegativeSpans, h.NegativeBuckets = neg.spans()
}

// bucketsOf lists one side's buckets with their bounds in increasing
// absolute value.
func (h *FloatHistogram) bucketsOf(positive bool) []Bucket {
	s := h.negative()
	if positive {
		s = h.positive()
	}
	out := make([]Bucket, len(s.idx))
	for k, i := range s.idx {
		lo, up := Bound(i-1, h.Schema, h.CustomValues), Bound(i, h.Schema, h.CustomValues)
		b := Bucket{Lower: lo, Upper: up, Count: s.cnt[k], Index: i}
		switch {
		case h.UsesCustomBuckets():
			b.LowerInclusive, b.UpperInclusive = i == 0, true
		case positive:
			b.UpperInclusive = true
		default:
			b.Lower, b.Upper, b.LowerInclusive = -up, -lo, true
		}
		out[k] = b
	}
	return out
}

// ZeroBucket is the zero bucket, [-ZeroThreshold, ZeroThreshold].
func (h *FloatHistogram) ZeroBucket() Bucket {
	return Bucket{Lower: -h.ZeroThreshold, Upper: h.ZeroThreshold, LowerInclusive: true, UpperInclusive: true, Count: h.ZeroCount}
}

// Buckets lists every bucket in increasing order of value: the negative
// buckets from the most negative, the zero bucket if it holds anything,
// the positive buckets. A bucket that reaches into the zero bucket is cut
// at the zero threshold.
func (h *FloatHistogram) Buckets() []Bucket {
	neg := h.bucketsOf(false)
	slices.Reverse(neg)
	out := make([]Bucket, 0, len(neg)+1+len(h.PositiveBuckets))
	for _, b := range neg {
		if b.Upper < 0 && b.Upper > -h.ZeroThreshold {
			b.Upper = -h.ZeroThreshold
		}
		out = append(out, b)
	}
	if h.ZeroCount > 0 {
		out = append(out, h.ZeroBucket())
	}
	for _, b := range h.bucketsOf(true) {
		if b.Lower > 0 && b.Lower < h.ZeroThreshold {
			b.Lower = h.ZeroThreshold
		}
		out = append(out, b)
	}
	return out
}

// String prints the bucket in interval notation with its count,
// "(1,2]:3": a bracket for an inclusive bound, a parenthesis for an
// exclusive one.
func (b Bucket) String() string {
	lo, up := "(", ")"
	if b.LowerInclusive {
		lo = "["
	}
	if b.UpperInclusive {
		up = "]"
	}
	return fmt.Sprintf("%s%g,%g%s:%g", lo, b.Lower, b.Upper, up, b.Count)
}

// String prints the histogram as Prometheus does (count_values uses it
// as a label value): "{count:20, sum:10, [-2,-1):2, [-0.001,0.001]:2,
// (0.5,1]:1}", the populated buckets in increasing order.
func (h *FloatHistogram) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "{count:%g, sum:%g", h.Count, h.Sum)
	neg := h.bucketsOf(false)
	for i := len(neg) - 1; i >= 0; i-- {
		if neg[i].Count != 0 {
			b.WriteString(", " + neg[i].String())
		}
	}
	if h.ZeroCount != 0 {
		b.WriteString(", " + h.ZeroBucket().String())
	}
	for _, x := range h.bucketsOf(true) {
		if x.Count != 0 {
			b.WriteString(", " + x.String())
		}
	}
	b.WriteByte('}')
	return b.String()
}
