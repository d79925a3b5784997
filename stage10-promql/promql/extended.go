package promql

import (
	"slices"
	"sort"
	"strings"

	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// The extended range selectors, x[5m] anchored and x[5m] smoothed. A plain
// window (t-5m, t] sees only the samples inside it, and rate extrapolates
// from them. An anchored window also takes the last sample at or before its
// start (looking back as far as an instant selector would), so increase is
// exactly the last value less that one, resets included. A smoothed window
// interpolates the series linearly at both edges, looking a lookback beyond
// each, so increase over consecutive windows adds up.

// Which functions take which modifier, as in Prometheus.
var (
	anchoredFuncs = []string{"changes", "delta", "increase", "rate", "resets"}
	smoothedFuncs = []string{"delta", "increase", "rate"}
)

// checkExtended refuses an anchored or smoothed range argument to a
// function that does not take it.
func checkExtended(c *parser.Call) error {
	for _, a := range c.Args {
		ms, ok := parser.UnwrapParens(a).(*parser.MatrixSelector)
		if !ok {
			continue
		}
		switch vs := ms.VectorSelector; {
		case vs.Anchored && !slices.Contains(anchoredFuncs, c.Func.Name):
			return errorf("anchored modifier can only be used with: %s - not with %s", strings.Join(anchoredFuncs, ", "), c.Func.Name)
		case vs.Smoothed && !slices.Contains(smoothedFuncs, c.Func.Name):
			return errorf("smoothed modifier can only be used with: %s - not with %s", strings.Join(smoothedFuncs, ", "), c.Func.Name)
		}
	}
	return nil
}

// extension is how far an anchored or smoothed selector reads beyond its
// window on each side; 0, 0 for a plain one.
func (ev *evaluator) extension(vs *parser.VectorSelector) (left, right int64) {
	switch {
	case vs.Anchored:
		return ev.lookback, 0
	case vs.Smoothed:
		return ev.lookback, ev.lookback
	}
	return 0, 0
}

// extend sets re up for an anchored or smoothed selector (checkExtended
// has checked the function).
func (re *rangeEval) extend(fn string, vs *parser.VectorSelector) error {
	re.extLeft, re.extRight = re.ev.extension(vs)
	if re.extLeft == 0 {
		return nil
	}
	smoothed := vs.Smoothed
	switch fn {
	case "rate", "increase", "delta":
		isCounter, isRate := fn != "delta", fn == "rate"
		re.fn = func(w *window) (float64, bool) { return extendedRate(w, isCounter, isRate, smoothed) }
	case "changes", "resets":
		re.fn = func(w *window) (float64, bool) {
			i, ok := anchorIndex(w.pts, w.start)
			if !ok {
				return 0, false
			}
			pts := w.pts[i:]
			n := 0
			for j := 1; j < len(pts); j++ {
				if fn == "resets" && pts[j].V < pts[j-1].V || fn == "changes" && pts[j].V != pts[j-1].V && !(pts[j].V != pts[j].V && pts[j-1].V != pts[j-1].V) {
					n++
				}
			}
			return float64(n), true
		}
	}
	return nil
}

// anchorIndex is where an anchored window's samples begin: at the last one
// at or before the window's start (the anchor), else at the first. ok is
// false when no sample is after the start: there is nothing to measure.
func anchorIndex(pts []Point, start int64) (int, bool) {
	after := sort.Search(len(pts), func(i int) bool { return pts[i].T > start })
	if after == len(pts) {
		return 0, false
	}
	return max(0, after-1), true
}

// extendedRate is rate, increase and delta over an anchored or smoothed
// window (w.pts reach a lookback beyond w.start, and beyond w.end when
// smoothed): the value at the window's end less the value at its start
// (edges), plus, for a counter, the values lost at resets in between.
// Nothing is extrapolated.
func extendedRate(w *window, isCounter, isRate, smoothed bool) (float64, bool) {
	first, last, left, right, ok := extendedEdges(w.pts, w.start, w.end, smoothed, isCounter)
	if !ok {
		return 0, false
	}
	result := right - left
	if isCounter {
		prev := left
		for _, p := range w.pts[first : last+1] {
			if p.V < prev {
				result += prev
			}
			prev = p.V
		}
		if right < prev {
			result += prev
		}
	}
	if isRate {
		result /= float64(w.end-w.start) / 1000
	}
	return result, true
}

// extendedEdges finds an extended window's values at its start and end, left and
// right: the last sample at or before the start (the anchor; without one
// the first sample) and the last sample at or before the end, or, when
// smoothed, the series interpolated at each edge. pts[first:last+1] are
// the samples strictly between. ok is false when there is nothing to
// measure: no sample after the start, or (smoothed) none before the end.
func extendedEdges(pts []Point, start, end int64, smoothed, isCounter bool) (first, last int, left, right float64, ok bool) {
	if len(pts) == 0 {
		return 0, 0, 0, 0, false
	}
	last = len(pts) - 1
	first = max(0, sort.Search(last, func(i int) bool { return pts[i].T > start })-1)
	if smoothed {
		last = sort.Search(last, func(i int) bool { return pts[i].T >= end })
	}
	if pts[last].T <= start || smoothed && pts[first].T > end {
		return 0, 0, 0, 0, false
	}
	left = pts[first].V
	if smoothed && pts[first].T < start {
		left = interpolate(pts[first], pts[first+1], start, isCounter)
	}
	right = pts[last].V
	if pts[last].T > end && last > 0 {
		right = pts[last-1].V
		if smoothed {
			right = interpolate(pts[last-1], pts[last], end, isCounter)
		}
	}
	if pts[first].T <= start {
		first++
	}
	if pts[last].T >= end {
		last--
	}
	return first, last, left, right, true
}

// interpolate is the value at t on the line from p1 to p2; for a counter
// that fell in between (a reset), on the line from 0 to p2.
func interpolate(p1, p2 Point, t int64, isCounter bool) float64 {
	y1 := p1.V
	if isCounter && p2.V < y1 {
		y1 = 0
	}
	return y1 + (p2.V-y1)*float64(t-p1.T)/float64(p2.T-p1.T)
}

// extendPoints is an anchored or smoothed range vector as a query returns
// it (x[5m] anchored): the samples strictly inside (start, end], framed by
// the values at start and end (extendedEdges). pts reach a lookback beyond start
// (and end when smoothed).
func extendPoints(pts []Point, start, end int64, smoothed bool) []Point {
	first, last, left, right, ok := extendedEdges(pts, start, end, smoothed, false)
	if !ok {
		return nil
	}
	out := make([]Point, 0, max(last-first+1, 0)+2)
	out = append(out, Point{T: start, V: left})
	if first <= last {
		out = append(out, pts[first:last+1]...)
	}
	return append(out, Point{T: end, V: right})
}
