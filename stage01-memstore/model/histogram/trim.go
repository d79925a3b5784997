package histogram

import "math"

// TrimBuckets keeps the observations below rhs (upper true, PromQL's </)
// or above it (>/), in place, and returns h. A bucket that rhs cuts keeps
// the share of its count on the kept side, interpolated as Quantile does
// (linearly for custom buckets and the zero bucket, on a log scale for
// exponential ones); the sum is re-estimated from each kept part's
// middle. Buckets of unknown extent (the custom ones reaching ±Inf) are
// kept or dropped whole unless a finite bound makes a cut meaningful.
// Nothing changes when no bucket is cut or dropped.
func (h *FloatHistogram) TrimBuckets(rhs float64, upper bool) *FloatHistogram {
	var count, sum float64
	trimmed := false
	custom := h.UsesCustomBuckets()
	hasPos, hasNeg := false, false
	for _, positive := range []bool{true, false} {
		counts := h.NegativeBuckets
		if positive {
			counts = h.PositiveBuckets
		}
		for i, b := range h.bucketsOf(positive) {
			if b.Count == 0 {
				continue
			}
			if positive {
				hasPos = true
			} else {
				hasNeg = true
			}
			keep, mid := trimBucket(b, rhs, upper, positive, custom)
			count += keep
			sum += mid * keep
			if counts[i] != keep {
				counts[i] = keep
				trimmed = true
			}
		}
	}
	if h.ZeroCount > 0 {
		keep, mid := trimZero(h.ZeroBucket(), rhs, hasNeg, hasPos, upper)
		if h.ZeroCount != keep {
			h.ZeroCount = keep
			trimmed = true
		}
		count += keep
		sum += mid * keep
	}
	if trimmed {
		h.Count, h.Sum = count, sum
		h.Compact()
	}
	return h
}

// trimBucket is the count b keeps and the middle of the kept part.
func trimBucket(b Bucket, rhs float64, upper, positive, linear bool) (keep, mid float64) {
	all, cut := b.Lower >= rhs, b.Upper > rhs
	if upper {
		all, cut = b.Upper <= rhs, b.Lower < rhs
	}
	switch {
	case all:
		return b.Count, middle(b.Lower, b.Upper, positive, linear)
	case !cut:
		return 0, 0
	case math.IsInf(b.Lower, -1) || math.IsInf(b.Upper, 1):
		return trimInfinite(b, rhs, upper)
	}
	below := b.Count
	if rhs <= b.Lower {
		below = 0
	} else if rhs < b.Upper {
		below = b.Count * b.fractionBelow(rhs, linear)
	}
	if upper {
		return below, middle(b.Lower, rhs, positive, linear)
	}
	return b.Count - below, middle(rhs, b.Upper, positive, linear)
}

// trimInfinite cuts a custom bucket that reaches -Inf or +Inf: only a
// finite positive upper bound lets the first bucket be read as starting
// at 0 and cut linearly; otherwise the bucket is kept or dropped whole.
func trimInfinite(b Bucket, rhs float64, upper bool) (keep, mid float64) {
	finite := func(x float64) float64 {
		if math.IsInf(x, 0) {
			return 0
		}
		return x
	}
	if math.IsInf(b.Lower, -1) {
		if upper {
			switch {
			case rhs >= b.Upper:
				return b.Count, 0
			case rhs > 0 && b.Upper > 0 && !math.IsInf(b.Upper, 1):
				return b.Count * rhs / b.Upper, rhs / 2
			case b.Upper <= 0:
				return b.Count, rhs
			}
			return 0, finite(b.Upper)
		}
		if rhs >= 0 && b.Upper > rhs && !math.IsInf(b.Upper, 1) {
			return b.Count * (1 - rhs/b.Upper), (rhs + b.Upper) / 2
		}
		return 0, finite(b.Upper)
	}
	if upper {
		return 0, finite(b.Lower)
	}
	if rhs >= b.Lower {
		return b.Count, rhs
	}
	return 0, finite(b.Lower)
}

// trimZero cuts the zero bucket linearly, taken to start (end) at 0 when
// the histogram has only positive (negative) buckets.
func trimZero(z Bucket, rhs float64, hasNeg, hasPos, upper bool) (keep, mid float64) {
	lo, up := z.Lower, z.Upper
	if hasNeg && !hasPos {
		up = 0
	}
	if hasPos && !hasNeg {
		lo = 0
	}
	if upper {
		switch {
		case rhs <= lo:
			return 0, 0
		case rhs >= up:
			return z.Count, (lo + up) / 2
		}
		return z.Count * (rhs - lo) / (up - lo), (lo + rhs) / 2
	}
	switch {
	case rhs <= lo:
		return z.Count, (lo + up) / 2
	case rhs >= up:
		return 0, 0
	}
	return z.Count * (up - rhs) / (up - lo), (rhs + up) / 2
}

// middle is where a kept interval's observations are taken to sit: the
// arithmetic middle for linear buckets, the geometric one (signed) for
// exponential buckets, the finite end (or half of a positive upper
// bound) for a half-infinite interval.
func middle(lo, up float64, positive, linear bool) float64 {
	switch {
	case math.IsInf(lo, 0) && math.IsInf(up, 0):
		return 0
	case math.IsInf(lo, 0):
		if up > 0 {
			return up / 2
		}
		return up
	case math.IsInf(up, 0):
		return lo
	case linear:
		return (lo + up) / 2
	}
	g := math.Sqrt(math.Abs(lo * up))
	if positive {
		return g
	}
	return -g
}
