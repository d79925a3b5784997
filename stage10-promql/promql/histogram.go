package promql

import (
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// Classic histograms: one counter per bucket, the bucket's upper bound in
// the label "le", each counting the observations at or below it. Series
// that differ only in le are one histogram; histogram_quantile,
// histogram_quantiles and histogram_fraction read its buckets at each
// step.

// bucket is one classic histogram bucket: how many observations were <= le.
type bucket struct {
	le, count float64
}

// classicHistograms groups the series of m into histograms: all labels but
// le alike (the name included, as in Prometheus). A series without a
// parsable le is no bucket: Prometheus's warning names it (and, with
// delayed name removal, its metric) at pos.
type classicHistograms struct {
	groupOf []int // per series; -1: not a bucket
	les     []float64
	labels  []model.Labels // per histogram: without le, and without the name unless delayed
	names   []string       // per histogram: the metric name, for the monotonicity info (delayed only)
	drop    bool           // the output is marked for delayed name removal
}

func (ev *evaluator) classicHistograms(m Matrix, pos parser.PosRange) *classicHistograms {
	h := &classicHistograms{groupOf: make([]int, len(m)), les: make([]float64, len(m)), drop: ev.features.DelayedNameRemoval}
	index := map[uint64][]int{}
	var keys []model.Labels
	for i, s := range m {
		v := s.Metric.Get("le")
		le, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(le) {
			h.groupOf[i] = -1
			name := ""
			if h.drop {
				name = s.Metric.Name()
			}
			ev.annos.add(badBucketLabelWarning(name, v, pos))
			continue
		}
		h.les[i] = le
		key := s.Metric.Without("le")
		hash := key.Hash()
		g := -1
		for _, j := range index[hash] {
			if keys[j].Equal(key) {
				g = j
			}
		}
		if g < 0 {
			g = len(keys)
			keys = append(keys, key)
			index[hash] = append(index[hash], g)
			l, name := key, ""
			if h.drop {
				name = key.Name()
			} else {
				l = dropMetadata(key)
			}
			h.labels = append(h.labels, l)
			h.names = append(h.names, name)
		}
		h.groupOf[i] = g
	}
	return h
}

// each calls f at every step for each histogram with buckets there.
func (h *classicHistograms) each(ev *evaluator, m Matrix, f func(step, g int, b []bucket)) {
	eachStepGroup(ev, m, h.groupOf, len(h.labels),
		func(idx int, v float64) bucket { return bucket{h.les[idx], v} }, f)
}

// histogramQuantile is histogram_quantile(φ, buckets) and
// histogram_quantiles(buckets, "label", φ1, φ2, …) (label set to each φ).
func (ev *evaluator) histogramQuantile(c *parser.Call) (Matrix, error) {
	vecArg, qArgs, label := 1, c.Args[:1], ""
	if c.Func.Name == "histogram_quantiles" {
		vecArg, qArgs, label = 0, c.Args[2:], parser.UnwrapParens(c.Args[1]).(*parser.StringLiteral).Val
	}
	qs := make([][]float64, len(qArgs))
	for i, a := range qArgs {
		var err error
		if qs[i], err = ev.evalScalar(a); err != nil {
			return nil, err
		}
		for _, q := range qs[i] {
			if math.IsNaN(q) || q < 0 || q > 1 {
				ev.annos.add(invalidQuantileWarning(q, a.PositionRange()))
			}
		}
	}
	m, err := ev.evalVector(c.Args[vecArg])
	if err != nil {
		return nil, err
	}
	pos := c.Args[vecArg].PositionRange()
	m, native := ev.splitNative(m, pos)
	h := ev.classicHistograms(m, pos)
	// The result series: one per histogram and φ argument, and for
	// histogram_quantiles per value of that φ (its label).
	type key struct {
		g, i int
		q    string
	}
	index := map[key]int{}
	var keys []key
	var out []Series
	h.each(ev, m, func(step, g int, b []bucket) {
		t := ev.ts(step)
		for i, q := range qs {
			v, mono := bucketQuantile(q[step], b)
			if mono != nil {
				ev.annos.add(monotonicityInfo(h.names[g], pos, t, mono.minBucket, mono.maxBucket, mono.maxDiff))
			}
			k := key{g: g, i: i}
			if label != "" {
				k.q = openMetricsFloat(q[step])
			}
			j, ok := index[k]
			if !ok {
				j = len(out)
				index[k] = j
				keys = append(keys, k)
				out = append(out, Series{})
			}
			out[j].Floats = append(out[j].Floats, Point{T: t, V: v})
		}
	})
	mg := newMerger()
	for _, s := range native {
		for _, q := range qs {
			byQ := map[string][]Point{}
			var order []string
			for _, hp := range s.Histograms {
				step := ev.step(hp.T)
				v, note := hp.H.Quantile(q[step])
				ev.quantileNote(note, s.Metric, pos)
				k := ""
				if label != "" {
					k = openMetricsFloat(q[step])
				}
				if _, ok := byQ[k]; !ok {
					order = append(order, k)
				}
				byQ[k] = append(byQ[k], Point{T: hp.T, V: v})
			}
			for _, k := range order {
				l, drop := ev.nameless(s.Metric, s.DropName)
				if label != "" {
					if l, err = l.With(label, k); err != nil {
						return nil, errorf("invalid label name %q", label)
					}
				}
				if err := mg.add(l, drop, byQ[k]); err != nil {
					return nil, err
				}
			}
		}
	}
	for j, s := range out {
		k := keys[j]
		l := h.labels[k.g]
		if label != "" {
			if l, err = l.With(label, k.q); err != nil {
				return nil, errorf("invalid label name %q", label)
			}
		}
		if err := mg.add(l, h.drop, s.Floats); err != nil {
			return nil, err
		}
	}
	return mg.matrix(), nil
}

// histogramFraction is histogram_fraction(lower, upper, buckets): the
// share of observations between lower and upper.
func (ev *evaluator) histogramFraction(c *parser.Call) (Matrix, error) {
	lower, err := ev.evalScalar(c.Args[0])
	if err != nil {
		return nil, err
	}
	upper, err := ev.evalScalar(c.Args[1])
	if err != nil {
		return nil, err
	}
	m, err := ev.evalVector(c.Args[2])
	if err != nil {
		return nil, err
	}
	pos := c.Args[2].PositionRange()
	m, native := ev.splitNative(m, pos)
	h := ev.classicHistograms(m, pos)
	out := make(Matrix, len(h.labels))
	h.each(ev, m, func(step, g int, b []bucket) {
		out[g].Floats = append(out[g].Floats, Point{T: ev.ts(step), V: bucketFraction(lower[step], upper[step], b)})
	})
	mg := newMerger()
	if err := ev.nativeFraction(native, lower, upper, pos, mg); err != nil {
		return nil, err
	}
	for g, s := range out {
		if err := mg.add(h.labels[g], h.drop, s.Floats); err != nil {
			return nil, err
		}
	}
	return mg.matrix(), nil
}

// openMetricsFloat prints a quantile for histogram_quantiles' label as
// OpenMetrics does: always with a point or exponent (1.0, 0.5, 1e-05).
func openMetricsFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	for _, c := range s {
		if c == '.' || c == 'e' {
			return s
		}
	}
	return s + ".0"
}

// sortBuckets sorts by upper bound, the highest must be +Inf (else the
// total is unknown), and merges buckets with the same bound (from series
// that differ in a label the grouping ignores). ok false: not a histogram.
func sortBuckets(b []bucket) ([]bucket, bool) {
	if len(b) == 0 {
		return b, false
	}
	slices.SortFunc(b, func(x, y bucket) int { return cmpFloat(x.le, y.le) })
	if !math.IsInf(b[len(b)-1].le, 1) {
		return b, false
	}
	merged := b[:1]
	for _, x := range b[1:] {
		if x.le == merged[len(merged)-1].le {
			merged[len(merged)-1].count += x.count
		} else {
			merged = append(merged, x)
		}
	}
	return merged, true
}

// fix is what making a histogram's counts monotonic changed: the
// lowest and highest bounds it raised and the largest rise.
type fix struct{ minBucket, maxBucket, maxDiff float64 }

// bucketQuantile: find the bucket the rank φ·total falls in and interpolate
// linearly inside it, assuming observations spread evenly across it. A rank
// in the +Inf bucket answers with the largest finite bound. mono is non-nil
// when the counts had to be made monotonic.
func bucketQuantile(q float64, b []bucket) (v float64, mono *fix) {
	switch {
	case math.IsNaN(q):
		return math.NaN(), nil
	case q < 0:
		return math.Inf(-1), nil
	case q > 1:
		return math.Inf(1), nil
	}
	b, ok := sortBuckets(b)
	if !ok {
		return math.NaN(), nil
	}
	mono = monotonic(b)
	if len(b) < 2 {
		return math.NaN(), mono
	}
	total := b[len(b)-1].count
	if total == 0 {
		return math.NaN(), mono
	}
	rank := q * total
	i := sort.Search(len(b)-1, func(i int) bool { return b[i].count >= rank })
	if i == len(b)-1 {
		return b[len(b)-2].le, mono
	}
	if i == 0 && b[0].le <= 0 {
		return b[0].le, mono
	}
	start, end, count := 0.0, b[i].le, b[i].count
	if i > 0 {
		start = b[i-1].le
		count -= b[i-1].count
		rank -= b[i-1].count
	}
	return start + (end-start)*(rank/count), mono
}

// monotonic makes cumulative counts non-decreasing, as Prometheus does:
// a difference within float noise (relative 1e-12) is no change; a real
// decrease (scrapes of the buckets that are not atomic) is raised to the
// count before it and reported.
func monotonic(b []bucket) *fix {
	var f *fix
	prev := b[0].count
	for i := 1; i < len(b); i++ {
		cur := b[i].count
		switch {
		case cur == prev:
		case almostEqual(prev, cur, 1e-12):
			b[i].count = prev
		case cur < prev:
			b[i].count = prev
			if f == nil {
				f = &fix{minBucket: math.Inf(1), maxBucket: math.Inf(-1)}
			}
			f.minBucket, f.maxBucket = min(f.minBucket, b[i].le), max(f.maxBucket, b[i].le)
			f.maxDiff = max(f.maxDiff, prev-cur)
		default:
			prev = cur
		}
	}
	return f
}

// bucketFraction is the share of the observations between lower and
// upper, interpolating linearly within the buckets they fall in; the lowest
// bucket starts at 0 if its bound is positive (else at -Inf), and nothing
// is interpolated within a bucket of infinite width.
func bucketFraction(lower, upper float64, b []bucket) float64 {
	b, ok := sortBuckets(b)
	if !ok {
		return math.NaN()
	}
	total := b[len(b)-1].count
	if total == 0 || math.IsNaN(lower) || math.IsNaN(upper) {
		return math.NaN()
	}
	if lower >= upper {
		return 0
	}
	var rank, lowerRank, upperRank float64
	var lowerSet, upperSet bool
	lowerBound := 0.0
	if b[0].le <= 0 {
		lowerBound = math.Inf(-1)
	}
	for i, x := range b {
		if i > 0 {
			lowerBound = b[i-1].le
		}
		upperBound := x.le
		interpolate := func(v float64) float64 {
			if math.IsInf(lowerBound, -1) {
				return x.count
			}
			return rank + (x.count-rank)*(v-lowerBound)/(upperBound-lowerBound)
		}
		if !lowerSet && lowerBound >= lower {
			lowerRank, lowerSet = rank, true
		}
		if !upperSet && lowerBound >= upper {
			upperRank, upperSet = rank, true
		}
		if lowerSet && upperSet {
			break
		}
		if !lowerSet && lowerBound < lower && upperBound > lower {
			lowerRank, lowerSet = interpolate(lower), true
		}
		if !upperSet && lowerBound < upper && upperBound > upper {
			upperRank, upperSet = interpolate(upper), true
		}
		if lowerSet && upperSet {
			break
		}
		rank = x.count
	}
	if !lowerSet || lowerRank > total {
		lowerRank = total
	}
	if !upperSet || upperRank > total {
		upperRank = total
	}
	return (upperRank - lowerRank) / total
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// almostEqual compares with a relative tolerance.
func almostEqual(a, b, eps float64) bool {
	const minNormal = 2.2250738585072014e-308
	if a == b {
		return true
	}
	absSum := math.Abs(a) + math.Abs(b)
	diff := math.Abs(a - b)
	if a == 0 || b == 0 || absSum < minNormal {
		return diff < eps*minNormal
	}
	return diff/math.Min(absSum, math.MaxFloat64) < eps
}
