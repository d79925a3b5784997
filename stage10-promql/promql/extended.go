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
	smoothed, lookback := vs.Smoothed, re.ev.lookback
	switch fn {
	case "rate", "increase", "delta":
		isCounter, isRate := fn != "delta", fn == "rate"
		re.fn = func(w *window) (float64, bool) { return extendedRate(w, lookback, isCounter, isRate, smoothed) }
	case "changes", "resets":
		re.fn = func(w *window) (float64, bool) {
			i, ok := anchorIndex(w.pts, w.start)
			if !ok {
				return 0, false
			}
			if fn == "resets" {
				var sts []int64
				if w.st != nil {
					sts = w.st[i:]
				}
				return float64(countResets(w.pts[i:], sts)), true
			}
			return changes(&window{pts: w.pts[i:]})
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
// window (w.pts reach lookback beyond w.start, and beyond w.end when
// smoothed): the value at the window's end less the value at its start
// (pickLeft, pickRight), plus, for a counter, the values lost at resets in
// between. Nothing is extrapolated.
func extendedRate(w *window, lookback int64, isCounter, isRate, smoothed bool) (float64, bool) {
	f, sts := w.pts, w.st
	if len(f) == 0 {
		return 0, false
	}
	last := len(f) - 1
	first := max(0, sort.Search(last, func(i int) bool { return f[i].T > w.start })-1)
	if smoothed {
		last = sort.Search(last, func(i int) bool { return f[i].T >= w.end })
	}
	lookbackStart := w.start - lookback
	if f[last].T <= w.start {
		return 0, false
	}
	if t, st := f[first].T, stAt(sts, first); smoothed && t > w.end &&
		(!isCounter || !stResetAfter(lookbackStart, st, t) || stResetAfter(w.end, st, t)) {
		return 0, false // nothing before the end, and no restart to begin from
	}
	left, leftST := pickLeft(f, sts, first, w.start, lookbackStart, smoothed, isCounter)
	right, rightST := pickRight(f, sts, last, w.end, lookbackStart, smoothed, isCounter)
	result := right - left
	if isCounter {
		// The samples strictly inside the window; the edges are left and
		// right.
		if f[first].T <= w.start {
			first++
		}
		if f[last].T >= w.end {
			last--
		}
		prev, prevT, prevST := left, w.start, leftST
		for i := first; i <= last; i++ {
			p, st := f[i], stAt(sts, i)
			if p.V < prev || stReset(prevST, prevT, st, p.T) {
				result += prev
			}
			prev, prevT, prevST = p.V, p.T, st
		}
		if right < prev || stReset(prevST, prevT, rightST, w.end) {
			result += prev
		}
	}
	if isRate {
		result /= float64(w.end-w.start) / 1000
	}
	return result, true
}

// extendPoints is an anchored or smoothed range vector as a query returns
// it (x[5m] anchored): the samples strictly inside (start, end], framed by
// the values at start and end. pts reach a lookback beyond start (and end
// when smoothed).
func extendPoints(pts []Point, start, end int64, smoothed bool) []Point {
	if len(pts) == 0 {
		return nil
	}
	last := len(pts) - 1
	first := max(0, sort.Search(last, func(i int) bool { return pts[i].T > start })-1)
	if smoothed {
		last = sort.Search(last, func(i int) bool { return pts[i].T >= end })
	}
	if pts[last].T <= start {
		return nil
	}
	left, _ := pickLeft(pts, nil, first, start, start, smoothed, false)
	right, _ := pickRight(pts, nil, last, end, start, smoothed, false)
	if pts[first].T <= start {
		first++
	}
	if pts[last].T >= end {
		last--
	}
	out := make([]Point, 0, max(last-first+1, 0)+2)
	out = append(out, Point{T: start, V: left})
	if first <= last {
		out = append(out, pts[first:last+1]...)
	}
	return append(out, Point{T: end, V: right})
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
