package promql

import (
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// bucket is one classic histogram bucket: how many observations were <= le.
type bucket struct {
	le, count float64
}

// histogramQuantile estimates the φ-quantile from classic cumulative
// buckets: series that differ only in "le" form one histogram.
func (ev *evaluator) histogramQuantile(c *parser.Call) (Matrix, error) {
	q, err := ev.evalScalar(c.Args[0])
	if err != nil {
		return nil, err
	}
	m, err := ev.evalVector(c.Args[1])
	if err != nil {
		return nil, err
	}
	// Group once per series: the histogram's labels are all but le and
	// __name__; a series without a parsable le is not a bucket and is
	// skipped.
	groupOf := make([]int, len(m))
	les := make([]float64, len(m))
	var glabels []model.Labels
	index := map[uint64][]int{}
	for i, s := range m {
		le, err := strconv.ParseFloat(s.Metric.Get("le"), 64)
		if err != nil {
			groupOf[i] = -1
			continue
		}
		les[i] = le
		gl := s.Metric.Without(model.MetricName, "le")
		h := gl.Hash()
		g := -1
		for _, j := range index[h] {
			if glabels[j].Equal(gl) {
				g = j
			}
		}
		if g < 0 {
			g = len(glabels)
			glabels = append(glabels, gl)
			index[h] = append(index[h], g)
		}
		groupOf[i] = g
	}
	return perStepGroups(ev, m, groupOf, glabels,
		func(idx int, v float64) bucket { return bucket{les[idx], v} },
		func(step int, b []bucket) float64 { return bucketQuantile(q[step], b) }), nil
}

// bucketQuantile: find the bucket the rank φ·total falls in and interpolate
// linearly inside it, assuming observations spread evenly across it. The
// highest bucket must be +Inf (else the total is unknown: NaN); a rank in
// the +Inf bucket answers with the largest finite bound.
func bucketQuantile(q float64, b []bucket) float64 {
	switch {
	case math.IsNaN(q):
		return math.NaN()
	case q < 0:
		return math.Inf(-1)
	case q > 1:
		return math.Inf(1)
	}
	slices.SortFunc(b, func(x, y bucket) int { return cmpFloat(x.le, y.le) })
	if !math.IsInf(b[len(b)-1].le, 1) {
		return math.NaN()
	}
	// Buckets with the same bound (from series that differ in a label the
	// grouping ignores) are one bucket.
	merged := b[:1]
	for _, x := range b[1:] {
		if x.le == merged[len(merged)-1].le {
			merged[len(merged)-1].count += x.count
		} else {
			merged = append(merged, x)
		}
	}
	b = merged
	// Cumulative counts can't decrease; scrapes that are not atomic make them
	// do so slightly, and float noise makes them differ by an ulp. Flatten
	// both, as Prometheus does.
	prev := b[0].count
	for i := 1; i < len(b); i++ {
		cur := b[i].count
		switch {
		case cur == prev:
		case almostEqual(prev, cur, 1e-12) || cur < prev:
			b[i].count = prev
		default:
			prev = cur
		}
	}
	if len(b) < 2 {
		return math.NaN()
	}
	total := b[len(b)-1].count
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	i := sort.Search(len(b)-1, func(i int) bool { return b[i].count >= rank })
	if i == len(b)-1 {
		return b[len(b)-2].le
	}
	if i == 0 && b[0].le <= 0 {
		return b[0].le
	}
	start, end, count := 0.0, b[i].le, b[i].count
	if i > 0 {
		start = b[i-1].le
		count -= b[i-1].count
		rank -= b[i-1].count
	}
	return start + (end-start)*(rank/count)
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
