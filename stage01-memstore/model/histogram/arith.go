package histogram

import (
	"errors"
	"math"
	"slices"
)

// ErrMixedSchemas: an operation met a custom-bucket histogram and an
// exponential one, whose buckets cannot be lined up.
var ErrMixedSchemas = errors.New("histogram: cannot combine exponential and custom buckets")

// Mul scales every count and the sum by f, in place, and returns h. A
// negative factor makes h a gauge: its counts no longer only grow.
func (h *FloatHistogram) Mul(f float64) *FloatHistogram {
	h.Count *= f
	h.Sum *= f
	h.ZeroCount *= f
	for i := range h.PositiveBuckets {
		h.PositiveBuckets[i] *= f
	}
	for i := range h.NegativeBuckets {
		h.NegativeBuckets[i] *= f
	}
	if f < 0 {
		h.CounterResetHint = GaugeType
	}
	return h
}

// Div divides every count and the sum by f, in place, and returns h.
// Dividing by zero leaves no buckets (count, zero count and sum become
// ±Inf or NaN), as in Prometheus.
func (h *FloatHistogram) Div(f float64) *FloatHistogram {
	h.Count /= f
	h.Sum /= f
	h.ZeroCount /= f
	if f == 0 {
		h.PositiveSpans, h.PositiveBuckets, h.NegativeSpans, h.NegativeBuckets = nil, nil, nil, nil
		return h
	}
	for i := range h.PositiveBuckets {
		h.PositiveBuckets[i] /= f
	}
	for i := range h.NegativeBuckets {
		h.NegativeBuckets[i] /= f
	}
	if f < 0 {
		h.CounterResetHint = GaugeType
	}
	return h
}

// Combined says what Add and Sub had to reconcile.
type Combined struct {
	// CounterResetCollision: one operand said "counter reset", the
	// other "no counter reset"; the result's hint is unknown.
	CounterResetCollision bool
	// BoundsReconciled: the operands had different custom bounds, and
	// the result has only the bounds both share.
	BoundsReconciled bool
}

// Add adds o into h (in place; o is not changed) and returns h. Schemas
// are reconciled to the coarser one, zero thresholds to the wider one
// (buckets inside it fold into the zero bucket); custom buckets with
// different bounds are summed over the bounds both have. A custom-bucket
// histogram and an exponential one cannot be added: ErrMixedSchemas,
// and h is unchanged.
func (h *FloatHistogram) Add(o *FloatHistogram) (*FloatHistogram, Combined, error) {
	return h.combine(o, 1)
}

// Sub subtracts o from h as Add adds.
func (h *FloatHistogram) Sub(o *FloatHistogram) (*FloatHistogram, Combined, error) {
	return h.combine(o, -1)
}

func (h *FloatHistogram) combine(o *FloatHistogram, sign float64) (*FloatHistogram, Combined, error) {
	var c Combined
	if h.UsesCustomBuckets() != o.UsesCustomBuckets() {
		return nil, c, ErrMixedSchemas
	}
	c.CounterResetCollision = h.mergeHint(o.CounterResetHint)
	h.Count += sign * o.Count
	h.Sum += sign * o.Sum
	if h.sameLayout(o) {
		// The common case (consecutive samples of a series, the series
		// of one metric): bucket by bucket, nothing to reconcile.
		h.ZeroCount += sign * o.ZeroCount
		for i, x := range o.PositiveBuckets {
			h.PositiveBuckets[i] += sign * x
		}
		for i, x := range o.NegativeBuckets {
			h.NegativeBuckets[i] += sign * x
		}
		return h, c, nil
	}
	if h.UsesCustomBuckets() {
		hp, op := h.positive(), o.positive()
		if !slices.Equal(h.CustomValues, o.CustomValues) {
			c.BoundsReconciled = true
			common := intersect(h.CustomValues, o.CustomValues)
			hp, op = remap(hp, h.CustomValues, common), remap(op, o.CustomValues, common)
			h.CustomValues = common
		}
		h.PositiveSpans, h.PositiveBuckets = merged(hp, op, sign).spans()
		return h, c, nil
	}
	// The wider zero bucket wins; widening may land in a populated
	// bucket of either side, which widens it again, until both agree.
	oZero, oThreshold := o.ZeroCount, o.ZeroThreshold
	for oThreshold != h.ZeroThreshold {
		if h.ZeroThreshold > oThreshold {
			oZero, oThreshold = o.zeroCountFor(h.ZeroThreshold)
		}
		if oThreshold > h.ZeroThreshold {
			h.widenZero(oThreshold)
		}
	}
	h.ZeroCount += sign * oZero
	schema := min(h.Schema, o.Schema)
	hp, hn := h.positive().reduced(h.Schema, schema), h.negative().reduced(h.Schema, schema)
	op := o.positive().reduced(o.Schema, schema).without(h.ZeroThreshold, schema)
	on := o.negative().reduced(o.Schema, schema).without(h.ZeroThreshold, schema)
	h.Schema = schema
	h.setSides(merged(hp, op, sign), merged(hn, on, sign))
	return h, c, nil
}

// mergeHint combines the counter-reset hints of two operands: a gauge
// makes a gauge, unknown makes unknown, and "reset" against "no reset"
// is a collision (reported, and unknown).
func (h *FloatHistogram) mergeHint(o CounterResetHint) (collision bool) {
	switch {
	case h.CounterResetHint == o, h.CounterResetHint == GaugeType:
	case o == GaugeType:
		h.CounterResetHint = GaugeType
	case h.CounterResetHint == UnknownCounterReset:
	case o == UnknownCounterReset:
		h.CounterResetHint = UnknownCounterReset
	default:
		h.CounterResetHint = UnknownCounterReset
		return true
	}
	return false
}

// zeroCountFor is h's zero count if its zero threshold were t (≥ its
// own): the buckets below t fold in. A populated bucket that t cuts
// through folds in whole and moves the threshold to its far bound, which
// is returned.
func (h *FloatHistogram) zeroCountFor(t float64) (count, threshold float64) {
	if t == h.ZeroThreshold {
		return h.ZeroCount, t
	}
	pos, neg := h.positive(), h.negative()
again:
	count = h.ZeroCount
	for _, s := range []side{pos, neg} {
		for k, i := range s.idx {
			lo, up := Bound(i-1, h.Schema, nil), Bound(i, h.Schema, nil)
			if lo >= t {
				break
			}
			count += s.cnt[k]
			if up > t {
				if s.cnt[k] != 0 {
					t = up
					goto again
				}
				break
			}
		}
	}
	return count, t
}

// widenZero moves h's zero threshold up to t (≥ its own), folding the
// buckets inside into the zero count.
func (h *FloatHistogram) widenZero(t float64) {
	h.ZeroCount, h.ZeroThreshold = h.zeroCountFor(t)
	h.setSides(h.positive().without(h.ZeroThreshold, h.Schema), h.negative().without(h.ZeroThreshold, h.Schema))
}

// intersect is the bounds both lists have.
func intersect(a, b []float64) []float64 {
	var out []float64
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			out = append(out, a[i])
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return out
}

// remap moves custom buckets over bounds onto the coarser common bounds
// (a subset of bounds): each bucket lands in the first common bucket
// whose upper bound is at or above its own.
func remap(s side, bounds, common []float64) side {
	var out side
	for k, i := range s.idx {
		up := Bound(i, CustomBucketsSchema, bounds)
		t := int32(len(common))
		if !math.IsInf(up, 1) {
			j, _ := slices.BinarySearch(common, up)
			t = int32(j)
		}
		if n := len(out.idx); n > 0 && out.idx[n-1] == t {
			out.cnt[n-1] += s.cnt[k]
			continue
		}
		out.idx, out.cnt = append(out.idx, t), append(out.cnt, s.cnt[k])
	}
	return out
}

// Compact drops the empty buckets and joins touching spans, in place,
// and returns h.
func (h *FloatHistogram) Compact() *FloatHistogram {
	if compacted(h.PositiveSpans, h.PositiveBuckets) && compacted(h.NegativeSpans, h.NegativeBuckets) {
		// Nothing to drop or join (a rate of a counter whose buckets
		// all moved): spared expanding and rebuilding both sides.
		return h
	}
	drop := func(s side) side {
		var out side
		for k, c := range s.cnt {
			if c != 0 {
				out.idx, out.cnt = append(out.idx, s.idx[k]), append(out.cnt, c)
			}
		}
		return out
	}
	h.setSides(drop(h.positive()), drop(h.negative()))
	return h
}

// compacted reports whether a side is already as Compact leaves it: no
// empty bucket, no empty span, no span touching the previous one (offset
// 0 after the first), spans covering exactly the counts.
func compacted(spans []Span, counts []float64) bool {
	n := 0
	for i, sp := range spans {
		if sp.Length == 0 || i > 0 && sp.Offset == 0 {
			return false
		}
		n += int(sp.Length)
	}
	if n != len(counts) {
		return false
	}
	for _, c := range counts {
		if c == 0 {
			return false
		}
	}
	return true
}

// ReduceResolution lowers h's schema to schema (coarser; a finer or
// equal one, or a custom-bucket histogram, leaves h as it is), merging
// each run of 2^(h.Schema-schema) buckets into one, in place, and
// returns h.
func (h *FloatHistogram) ReduceResolution(schema int32) *FloatHistogram {
	if h.UsesCustomBuckets() || IsCustom(schema) || schema >= h.Schema {
		return h
	}
	h.setSides(h.positive().reduced(h.Schema, schema), h.negative().reduced(h.Schema, schema))
	h.Schema = schema
	return h
}

// DetectReset reports whether h, the sample after prev in a counter
// series, shows a counter reset: its hint says so, or (hint unknown or
// gauge) its count, zero bucket or any bucket went down, or its layout
// became finer (a higher schema, a narrower zero bucket), which only a
// restarted counter can do. Custom buckets with other bounds compare
// over the bounds both share.
func (h *FloatHistogram) DetectReset(prev *FloatHistogram) bool {
	switch h.CounterResetHint {
	case CounterReset:
		return true
	case NotCounterReset:
		return false
	}
	if h.Count < prev.Count {
		return true
	}
	if h.UsesCustomBuckets() != prev.UsesCustomBuckets() {
		return true
	}
	if h.UsesCustomBuckets() {
		cur, old := h.positive(), prev.positive()
		if !slices.Equal(h.CustomValues, prev.CustomValues) {
			common := intersect(h.CustomValues, prev.CustomValues)
			cur, old = remap(cur, h.CustomValues, common), remap(old, prev.CustomValues, common)
		}
		return wentDown(cur, old)
	}
	if h.Schema > prev.Schema || h.ZeroThreshold < prev.ZeroThreshold {
		return true
	}
	if h.sameLayout(prev) {
		return h.ZeroCount < prev.ZeroCount || lessSomewhere(h.PositiveBuckets, prev.PositiveBuckets) ||
			lessSomewhere(h.NegativeBuckets, prev.NegativeBuckets)
	}
	prevZero, t := prev.zeroCountFor(h.ZeroThreshold)
	if t != h.ZeroThreshold || h.ZeroCount < prevZero {
		return true
	}
	for _, pair := range [][2]side{{h.positive(), prev.positive()}, {h.negative(), prev.negative()}} {
		old := pair[1].reduced(prev.Schema, h.Schema).without(h.ZeroThreshold, h.Schema)
		if wentDown(pair[0], old) {
			return true
		}
	}
	return false
}

// sameLayout: h and o have the same schema, zero threshold, custom
// bounds and spans, so their bucket slices line up index by index.
// (A bucket inside the zero bucket, which a valid histogram does not
// have, is left to the general path, which drops it as Prometheus does.)
func (h *FloatHistogram) sameLayout(o *FloatHistogram) bool {
	return h.Schema == o.Schema && h.ZeroThreshold == o.ZeroThreshold &&
		slices.Equal(h.PositiveSpans, o.PositiveSpans) && slices.Equal(h.NegativeSpans, o.NegativeSpans) &&
		len(h.PositiveBuckets) == len(o.PositiveBuckets) && len(h.NegativeBuckets) == len(o.NegativeBuckets) &&
		(!h.UsesCustomBuckets() || slices.Equal(h.CustomValues, o.CustomValues)) && !o.bucketInZero()
}

// bucketInZero: an exponential bucket lies inside the zero bucket (its
// spans start at or below the zero threshold).
func (h *FloatHistogram) bucketInZero() bool {
	if h.UsesCustomBuckets() || h.ZeroThreshold == 0 {
		return false
	}
	for _, spans := range [][]Span{h.PositiveSpans, h.NegativeSpans} {
		if len(spans) > 0 && Bound(spans[0].Offset, h.Schema, nil) <= h.ZeroThreshold {
			return true
		}
	}
	return false
}

// lessSomewhere: some count of a is below the same count of b.
func lessSomewhere(a, b []float64) bool {
	for i, x := range a {
		if x < b[i] {
			return true
		}
	}
	return false
}

// wentDown: some bucket of old holds more than the same bucket of cur.
func wentDown(cur, old side) bool {
	for k, i := range old.idx {
		if cur.count(i) < old.cnt[k] {
			return true
		}
	}
	return false
}

// Equivalent reports whether h and o describe the same distribution
// within a relative tolerance eps: schema, zero threshold and custom
// bounds equal, count, sum, zero count and every bucket's count close,
// where a bucket absent from one is an empty one (so the same counts
// spelled with different spans are equivalent). NaN equals NaN.
func (h *FloatHistogram) Equivalent(o *FloatHistogram, eps float64) bool {
	if h.Schema != o.Schema || h.ZeroThreshold != o.ZeroThreshold ||
		(h.UsesCustomBuckets() && !slices.Equal(h.CustomValues, o.CustomValues)) {
		return false
	}
	if !close(h.Count, o.Count, eps) || !close(h.Sum, o.Sum, eps) || !close(h.ZeroCount, o.ZeroCount, eps) {
		return false
	}
	for _, pair := range [][2]side{{h.positive(), o.positive()}, {h.negative(), o.negative()}} {
		a, b := pair[0], pair[1]
		for k, i := range a.idx {
			if !close(a.cnt[k], b.count(i), eps) {
				return false
			}
		}
		for k, i := range b.idx {
			if !close(b.cnt[k], a.count(i), eps) {
				return false
			}
		}
	}
	return true
}

func close(a, b, eps float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if a == b {
		return true
	}
	d := math.Abs(a - b)
	s := math.Abs(a) + math.Abs(b)
	if a == 0 || b == 0 || s < math.SmallestNonzeroFloat64*(1<<52) {
		return d < eps*math.SmallestNonzeroFloat64*(1<<52)
	}
	return d/math.Min(s, math.MaxFloat64) < eps
}

// HasOverflow reports whether a count or the sum is infinite, as a sum
// over very large histograms can become.
func (h *FloatHistogram) HasOverflow() bool {
	if math.IsInf(h.Count, 0) || math.IsInf(h.Sum, 0) || math.IsInf(h.ZeroCount, 0) {
		return true
	}
	for _, bs := range [][]float64{h.PositiveBuckets, h.NegativeBuckets} {
		for _, c := range bs {
			if math.IsInf(c, 0) {
				return true
			}
		}
	}
	return false
}
