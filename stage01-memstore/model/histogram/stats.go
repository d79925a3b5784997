package histogram

import "math"

// NaNNote tells how NaN observations (counted in Count, in no bucket; the
// sum is then NaN) affected an estimate.
type NaNNote int

const (
	NaNNone   NaNNote = iota
	NaNSkew           // the estimate may lean high: NaNs were counted as if above every bucket
	NaNResult         // the quantile fell among the NaNs: the result is NaN
)

// Quantile estimates the q-quantile of the observations, as PromQL's
// histogram_quantile does for native histograms: find the bucket where
// the rank q·Count falls, then interpolate inside it, linearly for custom
// buckets and the zero bucket, on a log scale for exponential buckets
// (where buckets are even-sized). q < 0 gives -Inf, q > 1 +Inf, an empty
// histogram or q NaN gives NaN. The zero bucket is taken to start (end)
// at 0 when the histogram has only positive (negative) buckets; the
// first custom bucket starts at 0 if its upper bound is positive, and a
// quantile in the last (+Inf) custom bucket is its lower bound.
func (h *FloatHistogram) Quantile(q float64) (float64, NaNNote) {
	switch {
	case q < 0:
		return math.Inf(-1), NaNNone
	case q > 1:
		return math.Inf(1), NaNNone
	case h.Count == 0 || math.IsNaN(q):
		return math.NaN(), NaNNone
	}
	buckets := h.Buckets()
	// With NaNs among the observations the buckets hold less than Count,
	// so the rank is counted from below; otherwise from the nearer end,
	// which keeps the rounding of high quantiles small.
	forward := math.IsNaN(h.Sum) || q < 0.5
	rank := q * h.Count
	if !forward {
		rank = (1 - q) * h.Count
	}
	var b Bucket
	var count float64
	at := -1
	for k := range buckets {
		i := k
		if !forward {
			i = len(buckets) - 1 - k
		}
		if buckets[i].Count == 0 {
			continue
		}
		b, at = buckets[i], i
		count += b.Count
		if count >= rank {
			break
		}
	}
	if h.UsesCustomBuckets() {
		switch {
		case math.IsInf(b.Lower, -1):
			if b.Upper <= 0 {
				return b.Upper, NaNNone
			}
			b.Lower = 0
		case math.IsInf(b.Upper, 1):
			return b.Lower, NaNNone
		}
	} else if b.Lower < 0 && b.Upper > 0 {
		switch {
		case len(h.NegativeBuckets) == 0 && len(h.PositiveBuckets) > 0:
			b.Lower = 0
		case len(h.PositiveBuckets) == 0 && len(h.NegativeBuckets) > 0:
			b.Upper = 0
		}
	}
	count = math.Min(count, h.Count)
	note := NaNNone
	if count < rank {
		if math.IsNaN(h.Sum) {
			return math.NaN(), NaNResult
		}
		return b.Upper, NaNNone
	}
	if forward {
		rank -= count - b.Count
	} else {
		rank = count - rank
	}
	if math.IsNaN(h.Sum) {
		total := count
		for _, x := range buckets[at+1:] {
			total += x.Count
		}
		if total < h.Count {
			note = NaNSkew
		}
	}
	f := rank / b.Count
	if h.UsesCustomBuckets() || (b.Lower <= 0 && b.Upper >= 0) {
		return b.Lower + (b.Upper-b.Lower)*f, note
	}
	lo, up := math.Log2(math.Abs(b.Lower)), math.Log2(math.Abs(b.Upper))
	if b.Lower > 0 {
		return math.Exp2(lo + (up-lo)*f), note
	}
	return -math.Exp2(up + (lo-up)*(1-f)), note
}

// Fraction estimates the share of observations between lower and upper,
// interpolating inside the buckets the bounds cut as Quantile does (it is
// Quantile's inverse). An empty histogram, or a NaN bound, gives NaN;
// lower ≥ upper gives 0. nans reports NaN observations (they are in no
// bucket, so the fraction of (-Inf, +Inf) is then below 1).
func (h *FloatHistogram) Fraction(lower, upper float64) (f float64, nans bool) {
	if h.Count == 0 || math.IsNaN(lower) || math.IsNaN(upper) {
		return math.NaN(), false
	}
	if lower >= upper {
		return 0, false
	}
	var rank, lowerRank, upperRank, inBuckets float64
	lowerSet, upperSet := false, false
	for _, b := range h.Buckets() {
		inBuckets += b.Count
		if lowerSet && upperSet {
			continue
		}
		linear := h.UsesCustomBuckets()
		if h.UsesCustomBuckets() {
			if math.IsInf(b.Lower, -1) && b.Upper > 0 {
				b.Lower = 0
			}
		} else if b.Lower <= 0 && b.Upper >= 0 {
			linear = true
			switch {
			case len(h.NegativeBuckets) == 0 && len(h.PositiveBuckets) > 0:
				b.Lower = 0
			case len(h.PositiveBuckets) == 0 && len(h.NegativeBuckets) > 0:
				b.Upper = 0
			}
		}
		below := func(v float64) float64 {
			if math.IsInf(b.Lower, -1) {
				return b.Count // no interpolation in an infinitely wide bucket
			}
			return rank + b.Count*b.fractionBelow(v, linear)
		}
		if !lowerSet && b.Lower >= lower {
			lowerRank, lowerSet = rank, true
		}
		if !upperSet && b.Lower >= upper {
			upperRank, upperSet = rank, true
		}
		if !lowerSet && b.Lower < lower && b.Upper > lower {
			lowerRank, lowerSet = below(lower), true
		}
		if !upperSet && b.Lower < upper && b.Upper > upper {
			upperRank, upperSet = below(upper), true
		}
		rank += b.Count
	}
	count := h.Count
	if math.IsNaN(h.Sum) {
		nans = inBuckets < h.Count
		count = inBuckets
	}
	if !lowerSet || lowerRank > count {
		lowerRank = count
	}
	if !upperSet || upperRank > count {
		upperRank = count
	}
	return (upperRank - lowerRank) / h.Count, nans
}

// fractionBelow is the share of b's width at or below v (inside b),
// linearly or on a log scale (mirrored for negative buckets).
func (b Bucket) fractionBelow(v float64, linear bool) float64 {
	if linear {
		return (v - b.Lower) / (b.Upper - b.Lower)
	}
	lo, up, lv := math.Log2(math.Abs(b.Lower)), math.Log2(math.Abs(b.Upper)), math.Log2(math.Abs(v))
	if v > 0 {
		return (lv - lo) / (up - lo)
	}
	return 1 - (lv-up)/(lo-up)
}

// StdVar estimates the variance of the observations: each bucket's count
// placed at its middle (the arithmetic middle for custom buckets, 0 for
// the zero bucket, the geometric middle √(lower·upper) for exponential
// buckets), around the mean Sum/Count.
func (h *FloatHistogram) StdVar() float64 {
	mean := h.Sum / h.Count
	var v float64
	for _, b := range h.Buckets() {
		if b.Count == 0 {
			continue
		}
		var mid float64
		switch {
		case h.UsesCustomBuckets():
			mid = (b.Upper + b.Lower) / 2
		case b.Lower <= 0 && b.Upper >= 0:
			mid = 0
		default:
			mid = math.Sqrt(b.Upper * b.Lower)
			if b.Upper < 0 {
				mid = -mid
			}
		}
		d := mid - mean
		v += b.Count * d * d
	}
	return v / h.Count
}

// StdDev is the square root of StdVar.
func (h *FloatHistogram) StdDev() float64 { return math.Sqrt(h.StdVar()) }
