package promql

import (
	"slices"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// Prometheus reads the selectors whose histograms only feed
// histogram_count, histogram_sum or histogram_avg (or functions that do
// not look at values) through an iterator that decodes the count and sum
// alone, and that, having the previous histogram at hand, replaces an
// unknown counter reset hint by what it detects. The hints are visible:
// an aggregation of such histograms warns about conflicting resets it
// would not see otherwise. statsSelectors finds those selectors, with
// Prometheus's rules, so that the engine gives their histograms the same
// hints (statsHints).
func statsSelectors(e parser.Expr) map[*parser.VectorSelector]bool {
	var out map[*parser.VectorSelector]bool
	parser.Inspect(e, func(n parser.Expr, path []parser.Expr) bool {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return true
		}
		skip := false
	walk:
		for _, p := range slices.Backward(path) {
			switch p := p.(type) {
			case *parser.SubqueryExpr:
				skip = false
				break walk
			case *parser.Call:
				switch p.Func.Name {
				case "histogram_count", "histogram_sum", "histogram_avg", "timestamp", "start_timestamp", "absent":
					skip = true
				case "histogram_quantile", "histogram_quantiles", "histogram_fraction", "histogram_stddev", "histogram_stdvar", "changes":
					skip = false
					break walk
				}
			case *parser.AggregateExpr:
				if p.Op == parser.COUNT_VALUES {
					skip = false
					break walk
				}
			case *parser.BinaryExpr:
				switch p.Op {
				case parser.TRIM_UPPER, parser.TRIM_LOWER, parser.EQLC, parser.NEQ:
					skip = false
					break walk
				}
			}
		}
		if skip {
			if out == nil {
				out = map[*parser.VectorSelector]bool{}
			}
			out[vs] = true
		}
		return true
	})
	return out
}

// statsHints is hs as the count-and-sum iterator reads them: an unknown
// reset hint becomes "reset" or "not a reset" by comparison with the
// histogram read before it (staleness markers aside).
func statsHints(hs []HPoint) []HPoint {
	out := make([]HPoint, len(hs))
	var last *histogram.FloatHistogram
	for i, p := range hs {
		out[i] = p
		if isStaleHist(p.H) {
			continue
		}
		if p.H.CounterResetHint == histogram.UnknownCounterReset && last != nil {
			c := *p.H
			c.CounterResetHint = histogram.NotCounterReset
			if p.H.DetectReset(last) {
				c.CounterResetHint = histogram.CounterReset
			}
			out[i].H = &c
		}
		last = p.H
	}
	return out
}
