package promql

import (
	"errors"
	"slices"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// hasHistograms reports whether any series of m has histogram points.
func hasHistograms(m Matrix) bool {
	return slices.ContainsFunc(m, func(s Series) bool { return len(s.Histograms) > 0 })
}

// floatsOnly is m with the histogram points left out (the series that
// keep no point at all too).
func floatsOnly(m Matrix) Matrix {
	out := make(Matrix, 0, len(m))
	for _, s := range m {
		if len(s.Floats) > 0 {
			s.Histograms = nil
			out = append(out, s)
		}
	}
	return out
}

// withHistogramsAsFloats is m with every histogram point turned into a
// float point of value 0 at its time: for the aggregations that only
// count samples (count, group) or choose series (limitk, limit_ratio).
func withHistogramsAsFloats(m Matrix) Matrix {
	out := make(Matrix, len(m))
	for i, s := range m {
		out[i] = s
		if len(s.Histograms) == 0 {
			continue
		}
		pts := make([]Point, 0, len(s.Floats)+len(s.Histograms))
		pts = append(pts, s.Floats...)
		for _, h := range s.Histograms {
			pts = append(pts, Point{T: h.T})
		}
		slices.SortFunc(pts, func(a, b Point) int { return cmpInt(a.T, b.T) })
		out[i].Floats, out[i].Histograms = pts, nil
	}
	return out
}

// aggregateMixed is aggregate over an input with histogram points, as
// Prometheus does it: sum and avg add histograms up (a group meeting
// both kinds at a step has no result there, and a warning); count, group,
// limitk and limit_ratio take histograms like any sample; min, max,
// stddev, stdvar, quantile, topk and bottomk ignore them, with an info.
func (ev *evaluator) aggregateMixed(n *parser.AggregateExpr, m Matrix, param []float64, label string) (Matrix, error) {
	pos := n.Expr.PositionRange()
	switch n.Op {
	case parser.COUNT, parser.GROUP:
		m = withHistogramsAsFloats(m)
	case parser.LIMITK, parser.LIMIT_RATIO:
		return ev.limitMixed(n, m, param)
	case parser.SUM, parser.AVG:
		return ev.sumMixed(n, m)
	case parser.COUNT_VALUES: // a histogram counts by its printed form
	default:
		ev.annos.add(info(pos, "ignored histogram in %s aggregation", n.Op.String()))
		m = floatsOnly(m)
	}
	groupOf, gr := groups(m, n.Grouping, n.Without)
	if err := ev.madeGroups(gr); err != nil {
		return nil, err
	}
	switch n.Op {
	case parser.TOPK, parser.BOTTOMK:
		return ev.selectK(n, m, groupOf, len(gr.labels), param)
	case parser.QUANTILE:
		return ev.quantileAgg(m, groupOf, gr, param)
	case parser.COUNT_VALUES:
		return ev.countValues(m, groupOf, gr, label)
	}
	f := ev.newFolder(n.Op)
	for si, s := range m {
		if err := f.add(groupOf[si], s.Floats); err != nil {
			return nil, err
		}
	}
	return f.result(gr), nil
}

// limitMixed is limitk and limit_ratio over floats and histograms: the
// choice of series does not look at values, so histograms are chosen as
// floats are, and keep their values.
func (ev *evaluator) limitMixed(n *parser.AggregateExpr, m Matrix, param []float64) (Matrix, error) {
	asFloats := withHistogramsAsFloats(m)
	groupOf, gr := groups(asFloats, n.Grouping, n.Without)
	if err := ev.madeGroups(gr); err != nil {
		return nil, err
	}
	chosen, err := ev.selectK(n, asFloats, groupOf, len(gr.labels), param)
	if err != nil {
		return nil, err
	}
	byKey := map[string]Series{}
	for _, s := range m {
		byKey[s.Metric.String()] = s
	}
	for i, c := range chosen {
		orig := byKey[c.Metric.String()]
		if len(orig.Histograms) == 0 {
			continue
		}
		var pts []Point
		var hs []HPoint
		for _, p := range c.Floats {
			k, ok := slices.BinarySearchFunc(orig.Histograms, p.T, func(h HPoint, t int64) int { return cmpInt(h.T, t) })
			if ok {
				hs = append(hs, orig.Histograms[k])
			} else {
				pts = append(pts, p)
			}
		}
		chosen[i].Floats, chosen[i].Histograms = pts, hs
	}
	return chosen, nil
}

// histAcc sums one group's histograms (at one step, or over a window):
// compensated (KahanAdd), and for a mean, as Prometheus does, the sum
// divided at the end unless it would overflow, in which case the mean
// goes on incrementally from there.
type histAcc struct {
	sum, c, mean       *histogram.FloatHistogram
	n                  float64
	incremental        bool
	broken             bool // incompatible schemas: no result
	reset, notReset    bool // counter reset hints seen
	reconciled, mixExp bool
}

// add adds h (not changed) into the accumulator, for a mean with avg.
func (a *histAcc) add(h *histogram.FloatHistogram, avg bool) {
	switch h.CounterResetHint {
	case histogram.CounterReset:
		a.reset = true
	case histogram.NotCounterReset:
		a.notReset = true
	}
	a.n++
	if a.broken {
		return
	}
	if a.sum == nil {
		a.sum = h.Copy()
		return
	}
	var r histogram.Combined
	var err error
	switch {
	case !avg:
		a.c, r, err = a.sum.KahanAdd(h, a.c)
	case !a.incremental:
		sum := a.sum.Copy()
		var c *histogram.FloatHistogram
		if a.c != nil {
			c = a.c.Copy()
		}
		c, r, err = sum.KahanAdd(h, c)
		if err == nil && !sum.HasOverflow() {
			a.sum, a.c = sum, c
			break
		}
		if err != nil {
			break
		}
		a.incremental = true
		a.mean = a.sum.Copy().Div(a.n - 1)
		if a.c != nil {
			a.c.Div(a.n - 1)
		}
		fallthrough
	default:
		q := (a.n - 1) / a.n
		if a.c != nil {
			a.c.Mul(q)
		}
		a.c, r, err = a.mean.Mul(q).KahanAdd(h.Copy().Div(a.n), a.c)
	}
	if errors.Is(err, histogram.ErrMixedSchemas) {
		a.broken, a.mixExp = true, true
		return
	}
	a.reconciled = a.reconciled || r.BoundsReconciled
}

// result is the sum, or with avg the mean, nil if the histograms could
// not be added up.
func (a *histAcc) result(avg bool) *histogram.FloatHistogram {
	if a.broken || a.sum == nil {
		return nil
	}
	switch {
	case avg && a.incremental:
		if a.c != nil {
			a.mean.Add(a.c)
		}
		return a.mean.Compact()
	case avg:
		a.sum.Div(a.n)
		if a.c != nil {
			a.sum.Add(a.c.Div(a.n))
		}
	case a.c != nil:
		a.sum.Add(a.c)
	}
	return a.sum.Compact()
}

// sumMixed is sum or avg where some inputs are histograms: the floats
// go through the float folder (the same results, to the bit, as without
// histograms), the histograms are added per group and step, and a group
// with both at a step gets neither.
func (ev *evaluator) sumMixed(n *parser.AggregateExpr, m Matrix) (Matrix, error) {
	pos := n.Expr.PositionRange()
	groupOf, gr := groups(m, n.Grouping, n.Without)
	if err := ev.madeGroups(gr); err != nil {
		return nil, err
	}
	f := ev.newFolder(n.Op)
	ns := ev.steps
	accs := make([]*histAcc, len(gr.labels)*ns)
	hasFloat := make([]bool, len(gr.labels)*ns)
	for si, s := range m {
		g := groupOf[si]
		if err := f.add(g, s.Floats); err != nil {
			return nil, err
		}
		for _, p := range s.Floats {
			hasFloat[g*ns+ev.step(p.T)] = true
		}
		for _, p := range s.Histograms {
			k := g*ns + ev.step(p.T)
			if accs[k] == nil {
				accs[k] = &histAcc{}
			}
			a := accs[k]
			wasBroken := a.broken
			a.add(p.H, n.Op == parser.AVG)
			if a.broken && !wasBroken {
				ev.annos.add(warning(pos, "vector contains a mix of histograms with exponential and custom buckets schemas for metric name %q", s.Metric.Get(model.MetricName)))
			}
		}
	}
	floats := f.result(gr)
	byGroup := make([]int, len(gr.labels))
	for g := range byGroup {
		byGroup[g] = -1
	}
	// f.result lists the groups with points in group order.
	fi := 0
	for g, l := range gr.labels {
		if fi < len(floats) && floats[fi].Metric.Equal(l) {
			byGroup[g] = fi
			fi++
		}
	}
	out := make(Matrix, 0, len(gr.labels))
	for g, l := range gr.labels {
		var pts []Point
		if k := byGroup[g]; k >= 0 {
			pts = floats[k].Floats
		}
		var hs []HPoint
		kept := pts[:0:0]
		for _, p := range pts {
			if a := accs[g*ns+ev.step(p.T)]; a != nil {
				continue // both kinds: neither
			}
			kept = append(kept, p)
		}
		for i := 0; i < ns; i++ {
			a := accs[g*ns+i]
			if a == nil {
				continue
			}
			if hasFloat[g*ns+i] {
				ev.annos.add(warning(pos, "encountered a mix of histograms and floats for aggregation"))
				continue
			}
			if a.reconciled {
				ev.annos.add(info(pos, "mismatched custom buckets were reconciled during aggregation"))
			}
			if a.reset && a.notReset {
				ev.annos.add(warning(pos, "conflicting counter resets during histogram aggregation"))
			}
			if h := a.result(n.Op == parser.AVG); h != nil {
				hs = append(hs, HPoint{T: ev.ts(i), H: h})
			}
		}
		if len(kept) > 0 || len(hs) > 0 {
			out = append(out, Series{Metric: l, Floats: kept, Histograms: hs, DropName: gr.dropName[g]})
		}
	}
	return out, nil
}
