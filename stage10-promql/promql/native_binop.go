package promql

import (
	"errors"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// histBinop applies op where one side or both are histograms (lh, rh;
// nil for a float), as Prometheus does: a histogram times or divided by
// a float scales it, histograms add and subtract (the difference is a
// gauge), == and != compare them (keeping the left one); any other
// combination has no result and an info (or, for bucket layouts that
// cannot meet, a warning). keep false with no annotation: a comparison
// that did not hold.
func (ev *evaluator) histBinop(n *parser.BinaryExpr, lf, rf float64, lh, rh *histogram.FloatHistogram) (f float64, h *histogram.FloatHistogram, keep bool) {
	pos := n.PositionRange()
	op := n.Op
	kind := func(h *histogram.FloatHistogram) string {
		if h == nil {
			return "float"
		}
		return "histogram"
	}
	incompatible := func() (float64, *histogram.FloatHistogram, bool) {
		ev.annos.add(info(pos, "incompatible sample types encountered for binary operator %q: %s %s %s", op.String(), kind(lh), op.String(), kind(rh)))
		return 0, nil, false
	}
	switch {
	case lh == nil && rh != nil:
		if op == parser.MUL {
			return 0, rh.Copy().Mul(lf).Compact(), true
		}
		return incompatible()
	case lh != nil && rh == nil:
		switch op {
		case parser.MUL:
			return 0, lh.Copy().Mul(rf).Compact(), true
		case parser.DIV:
			return 0, lh.Copy().Div(rf).Compact(), true
		case parser.TRIM_UPPER, parser.TRIM_LOWER:
			return 0, lh.Copy().TrimBuckets(rf, op == parser.TRIM_UPPER), true
		}
		return incompatible()
	}
	switch op {
	case parser.ADD, parser.SUB:
		res := lh.Copy()
		var c histogram.Combined
		var err error
		what := "addition"
		if op == parser.ADD {
			_, c, err = res.Add(rh)
		} else {
			what = "subtraction"
			_, c, err = res.Sub(rh)
			res.CounterResetHint = histogram.GaugeType
		}
		if errors.Is(err, histogram.ErrMixedSchemas) {
			ev.annos.add(warning(pos, "incompatible bucket layout encountered for binary operator %s", op.String()))
			return 0, nil, false
		}
		if c.CounterResetCollision {
			ev.annos.add(warning(pos, "conflicting counter resets during histogram %s", what))
			return 0, nil, false
		}
		if c.BoundsReconciled {
			ev.annos.add(info(pos, "mismatched custom buckets were reconciled during %s", what))
		}
		return 0, res.Compact(), true
	case parser.EQLC, parser.NEQ:
		eq := lh.Equivalent(rh, 0) // the hints are no part of the value
		return 0, lh, eq == (op == parser.EQLC)
	}
	return incompatible()
}

// isHistComparison: op compares two histograms (== or !=), which may
// not hold without anything being wrong.
func isHistComparison(op parser.Op, lh, rh *histogram.FloatHistogram) bool {
	return lh != nil && rh != nil && (op == parser.EQLC || op == parser.NEQ)
}

// append adds a step's sample, of either kind, to a series; m is the
// matrix e comes from.
func (s *Series) append(t int64, e entry, m Matrix) {
	if h := e.hist(m); h != nil {
		s.Histograms = append(s.Histograms, HPoint{T: t, H: h})
		return
	}
	s.Floats = append(s.Floats, Point{T: t, V: e.v})
}
