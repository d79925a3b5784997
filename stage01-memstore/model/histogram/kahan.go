package histogram

import (
	"math"
	"slices"
)

// KahanAdd adds o into h (in place) as Add does, keeping the rounding
// error of every count and of the sum in c, a compensation histogram of
// h's layout (nil: a new one), which it returns: summing many histograms
// whose values differ wildly in size (1e100 + 3.1 - 1e100) then loses
// nothing. The caller adds the final c into h (Add) when done. As
// PromQL's sum, avg and sum_over_time do.
func (h *FloatHistogram) KahanAdd(o, c *FloatHistogram) (*FloatHistogram, Combined, error) {
	var r Combined
	if h.UsesCustomBuckets() != o.UsesCustomBuckets() {
		return c, r, ErrMixedSchemas
	}
	r.CounterResetCollision = h.mergeHint(o.CounterResetHint)
	if c == nil {
		// The compensations, in h's layout: all zero.
		c = &FloatHistogram{CounterResetHint: h.CounterResetHint, Schema: h.Schema, ZeroThreshold: h.ZeroThreshold, CustomValues: h.CustomValues,
			PositiveSpans: h.PositiveSpans, NegativeSpans: h.NegativeSpans,
			PositiveBuckets: make([]float64, len(h.PositiveBuckets)), NegativeBuckets: make([]float64, len(h.NegativeBuckets))}
	}
	h.Count, c.Count = kahanInc(o.Count, h.Count, c.Count)
	h.Sum, c.Sum = kahanInc(o.Sum, h.Sum, c.Sum)
	if h.sameLayout(o) && c.sameSides(h) {
		h.ZeroCount, c.ZeroCount = kahanInc(o.ZeroCount, h.ZeroCount, c.ZeroCount)
		for i, x := range o.PositiveBuckets {
			h.PositiveBuckets[i], c.PositiveBuckets[i] = kahanInc(x, h.PositiveBuckets[i], c.PositiveBuckets[i])
		}
		for i, x := range o.NegativeBuckets {
			h.NegativeBuckets[i], c.NegativeBuckets[i] = kahanInc(x, h.NegativeBuckets[i], c.NegativeBuckets[i])
		}
		return c, r, nil
	}
	if h.UsesCustomBuckets() {
		hp, cp, op := h.positive(), c.positive(), o.positive()
		if !slices.Equal(h.CustomValues, o.CustomValues) {
			r.BoundsReconciled = true
			common := intersect(h.CustomValues, o.CustomValues)
			hp, cp, op = remap(hp, h.CustomValues, common), remap(cp, c.CustomValues, common), remap(op, o.CustomValues, common)
			h.CustomValues, c.CustomValues = common, common
		}
		hp, cp = kahanMerge(hp, cp, op)
		h.PositiveSpans, h.PositiveBuckets = hp.spans()
		c.PositiveSpans, c.PositiveBuckets = cp.spans()
		return c, r, nil
	}
	oZero, oThreshold := o.ZeroCount, o.ZeroThreshold
	for oThreshold != h.ZeroThreshold {
		if h.ZeroThreshold > oThreshold {
			oZero, oThreshold = o.zeroCountFor(h.ZeroThreshold)
		}
		if oThreshold > h.ZeroThreshold {
			h.widenZero(oThreshold)
			c.foldInto(h.ZeroThreshold)
		}
	}
	h.ZeroCount, c.ZeroCount = kahanInc(oZero, h.ZeroCount, c.ZeroCount)
	schema := min(h.Schema, o.Schema)
	hp, hn := h.positive().reduced(h.Schema, schema), h.negative().reduced(h.Schema, schema)
	cp, cn := c.positive().reduced(c.Schema, schema), c.negative().reduced(c.Schema, schema)
	op := o.positive().reduced(o.Schema, schema).without(h.ZeroThreshold, schema)
	on := o.negative().reduced(o.Schema, schema).without(h.ZeroThreshold, schema)
	h.Schema, c.Schema = schema, schema
	hp, cp = kahanMerge(hp, cp, op)
	hn, cn = kahanMerge(hn, cn, on)
	h.setSides(hp, hn)
	c.setSides(cp, cn)
	return c, r, nil
}

// sameSides: c has h's schema, zero threshold and spans (a compensation
// kept in step with its sum).
func (c *FloatHistogram) sameSides(h *FloatHistogram) bool {
	return c.Schema == h.Schema && c.ZeroThreshold == h.ZeroThreshold &&
		slices.Equal(c.PositiveSpans, h.PositiveSpans) && slices.Equal(c.NegativeSpans, h.NegativeSpans) &&
		len(c.PositiveBuckets) == len(h.PositiveBuckets) && len(c.NegativeBuckets) == len(h.NegativeBuckets)
}

// foldInto moves c's buckets that lie below the zero threshold t (or
// that t cuts) into its zero count and sets the threshold: a
// compensation histogram following its sum's zero bucket.
func (c *FloatHistogram) foldInto(t float64) {
	fold := func(s side) side {
		k := 0
		for k < len(s.idx) && Bound(s.idx[k]-1, c.Schema, nil) < t {
			c.ZeroCount += s.cnt[k]
			k++
		}
		return side{idx: s.idx[k:], cnt: s.cnt[k:]}
	}
	c.setSides(fold(c.positive()), fold(c.negative()))
	c.ZeroThreshold = t
}

// kahanMerge adds the buckets of o into sum, the rounding errors into
// comp; both come back over the union of the indexes.
func kahanMerge(sum, comp, o side) (side, side) {
	idx := make([]int32, 0, len(sum.idx)+len(o.idx))
	idx = append(append(idx, sum.idx...), o.idx...)
	slices.Sort(idx)
	idx = slices.Compact(idx)
	ns, nc := side{idx: idx, cnt: make([]float64, len(idx))}, side{idx: slices.Clone(idx), cnt: make([]float64, len(idx))}
	for k, i := range idx {
		ns.cnt[k], nc.cnt[k] = kahanInc(o.count(i), sum.count(i), comp.count(i))
	}
	return ns, nc
}

// kahanInc adds inc to sum, keeping the rounding error in c (Neumaier's
// variant of Kahan summation); once the sum is infinite the error means
// nothing and is dropped.
func kahanInc(inc, sum, c float64) (float64, float64) {
	t := sum + inc
	switch {
	case math.IsInf(t, 0):
		c = 0
	case math.Abs(sum) >= math.Abs(inc):
		c += (sum - t) + inc
	default:
		c += (inc - t) + sum
	}
	return t, c
}
