package promql

import (
	"fmt"

	"github.com/tsdb-course/stage01-memstore/model"

	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// Start timestamps (the use-start-timestamps feature). A sample may carry
// the time its counter started counting (OpenTelemetry's start time,
// Prometheus's created timestamp; 0 when unknown). Two things follow, as in
// Prometheus:
//
//   - a reset shows even where the value does not fall: a sample whose
//     start time is after the previous sample began counting afresh
//     (stReset), which is also how delta series (each sample counting since
//     the one before) read as counters;
//   - a window's first sample with a start time inside the window gives
//     the exact beginning: the counter was 0 then, so rate and increase
//     start there instead of extrapolating.
//
// The storage offers start times beside the samples it hands out as a
// slice (startTimestamper); the engine reads them for rate, increase,
// irate and resets. Subqueries cut them off: their points have none.

// stReset reports whether the sample (t, st) restarted the counter after
// the sample (prevT, prevST).
func stReset(prevST, prevT, st, t int64) bool {
	switch {
	case st == prevST || st == 0 || st >= t:
		// No start time, the same counter, or one that cannot be
		// (after the sample, or at it: OpenTelemetry's unknown start).
		return false
	case st < prevT:
		return false
	case st > prevT:
		return true
	}
	// The start is the previous sample's time: a delta series counts so,
	// a cumulative one with an unknown start too. Only a known start of
	// the previous sample tells the delta.
	return prevST <= prevT && prevST != 0 && prevST != prevT
}

// stResetAfter reports whether the sample (t, st) restarted its counter
// after time t0 (as if after a sample of unknown start at t0).
func stResetAfter(t0, st, t int64) bool {
	if st <= t0 || t <= t0 {
		return false
	}
	return stReset(t0, t0, st, t)
}

// stOverlap reports a start time that lies before the previous sample but
// is not its start: the two samples claim overlapping spans.
func stOverlap(prevST, prevT, st int64) bool {
	return st != 0 && st < prevT && st != prevST
}

// stAt is sts[i], 0 (unknown) beyond it.
func stAt(sts []int64, i int) int64 {
	if i < len(sts) {
		return sts[i]
	}
	return 0
}

// startTimeOverlapWarning is Prometheus's warning about overlapping start
// times; n windows had them.
func startTimeOverlapWarning(name string, n int, pos parser.PosRange) Annotation {
	a := warning(pos, "sample has start time that overlaps with previous sample timestamp for metric %q", name)
	a.count = n
	return a
}

// extrapolatedRateST is extrapolatedRate for a window with start times.
func extrapolatedRateST(w *window, isCounter, isRate bool) (float64, bool) {
	pts, sts := w.pts, w.st
	if len(pts) == 0 {
		return 0, false
	}
	first, last := pts[0], pts[len(pts)-1]
	n1 := len(pts) - 1
	result := last.V - first.V
	if isCounter {
		overlap := false
		for i := 1; i < len(pts); i++ {
			prev, cur := pts[i-1], pts[i]
			if !overlap && i < len(sts) && stOverlap(sts[i-1], prev.T, sts[i]) {
				w.overlaps++
				overlap = true
			}
			if cur.V < prev.V || i < len(sts) && stReset(sts[i-1], prev.T, sts[i], cur.T) {
				result += prev.V
			}
		}
	}
	toStart := float64(first.T-w.start) / 1000
	toEnd := float64(w.end-last.T) / 1000
	sampled := float64(last.T-first.T) / 1000
	var avg float64
	if n1 > 0 {
		avg = sampled / float64(n1)
	}
	threshold := avg * 1.1
	switch st := stAt(sts, 0); {
	case isCounter && st != 0 && st > w.start && st < first.T:
		// The counter was 0 at st, inside the window: start there.
		toStart = 0
		sampled = float64(last.T-st) / 1000
		result += first.V
	case n1 == 0:
		return 0, false
	default:
		if toStart >= threshold {
			toStart = avg / 2
		}
		if isCounter {
			toZero := toStart
			if result > 0 && first.V >= 0 {
				toZero = sampled * (first.V / result)
			}
			toStart = min(toStart, toZero)
		}
	}
	if toEnd >= threshold {
		toEnd = avg / 2
	}
	factor := 1.0
	if sampled != 0 {
		factor = (sampled + toStart + toEnd) / sampled
	}
	if isRate {
		factor /= float64(w.end-w.start) / 1000
	}
	return result * factor, true
}

// countResets counts the counter resets of pts: falls, and with start
// times (sts, may be nil) restarts.
func countResets(pts []Point, sts []int64) int {
	n := 0
	for i := 1; i < len(pts); i++ {
		if pts[i].V < pts[i-1].V || i < len(sts) && stReset(sts[i-1], pts[i-1].T, sts[i], pts[i].T) {
			n++
		}
	}
	return n
}

// The extended (anchored, smoothed) windows' edges with start times.

// pickLeft is the value at an extended window's start: the sample at
// first (the last at or before the start, else the first), or, smoothed,
// the series interpolated at the start; a start time can move either end
// of that line to a counter restart at 0. It also returns the start time
// the left edge carries.
func pickLeft(pts []Point, sts []int64, first int, start, lookbackStart int64, smoothed, isCounter bool) (float64, int64) {
	dp, st := pts[first], stAt(sts, first)
	carried := st
	if carried > start {
		carried = 0
	}
	if dp.T == start {
		return dp.V, st
	}
	if dp.T > start {
		// No sample at or before the start.
		switch {
		case !isCounter || !stResetAfter(lookbackStart, st, dp.T):
			return dp.V, carried
		case stResetAfter(start, st, dp.T):
			return 0, carried // the counter started inside the window
		case smoothed:
			return interpolate(Point{T: st}, dp, start, isCounter), carried
		}
		return 0, carried
	}
	next, nextST := pts[first+1], stAt(sts, first+1)
	switch {
	case !isCounter:
	case stResetAfter(start, nextST, next.T):
		next = Point{T: nextST}
	case stReset(st, dp.T, nextST, next.T):
		dp = Point{T: nextST}
		carried = nextST
	}
	if smoothed {
		return interpolate(dp, next, start, isCounter), carried
	}
	return dp.V, carried
}

// pickRight is pickLeft for the window's end, last the last sample at or
// before it (smoothed: the first after it, if any).
func pickRight(pts []Point, sts []int64, last int, end, lookbackStart int64, smoothed, isCounter bool) (float64, int64) {
	dp, st := pts[last], stAt(sts, last)
	carried := st
	if carried > end {
		carried = 0
	}
	if dp.T <= end {
		return dp.V, carried
	}
	if last == 0 {
		switch {
		case !isCounter || !stResetAfter(lookbackStart, st, dp.T):
			return dp.V, carried
		case stResetAfter(end, st, dp.T):
			return 0, carried
		case smoothed:
			return interpolate(Point{T: st}, dp, end, isCounter), carried
		}
		return 0, carried
	}
	prev, prevST := pts[last-1], stAt(sts, last-1)
	switch {
	case !isCounter:
	case stResetAfter(end, st, dp.T):
		dp = Point{T: st}
		carried = prevST
	case stReset(prevST, prev.T, st, dp.T):
		prev = Point{T: st}
	}
	if smoothed {
		return interpolate(prev, dp, end, isCounter), carried
	}
	return prev.V, carried
}

// annotationCount renders an annotation's occurrence count as Prometheus
// does for the start time overlap warning.
func annotationCount(n int) string {
	if n > 1 {
		return fmt.Sprintf(" (%d occurrences)", n)
	}
	return ""
}

// startTimestamps is start_timestamp(arg): at each step, the start time
// (in seconds; 0 unknown) of the sample a selector picks there. As in
// Prometheus only a selector has start times, and only with the
// use-start-timestamps feature: otherwise, and for any other argument,
// the result is empty.
func (ev *evaluator) startTimestamps(arg parser.Expr) (Matrix, error) {
	vs, ok := parser.UnwrapParens(arg).(*parser.VectorSelector)
	if !ok || !ev.features.StartTimestamps || vs.Smoothed {
		_, err := ev.evalVector(arg)
		return nil, err
	}
	ref := ev.refTimes(vs.At, vs.Offset)
	var its iterators
	var out Matrix
	err := ev.eachSeries(vs.LabelMatchers, ref.at(0)-ev.lookback, ref.at(ev.steps-1), func(s StorageSeries) error {
		samples, it, ok := its.samplesOf(s)
		if !ok { // start times come beside a slice of samples only
			for it.Next() {
				t, v := it.At()
				samples = append(samples, model.Sample{T: t, V: v})
			}
			if err := it.Err(); err != nil {
				return err
			}
		}
		var sts []int64
		if st, ok := s.(startTimestamper); ok {
			sts = st.StartTimestamps()
		}
		hs, hsts := histogramsOf(s), histogramSTsOf(s)
		var pts []Point
		j, k := 0, 0 // samples[:j] and hs[:k] are at or before the current reference time
		for i := 0; i < ev.steps; i++ {
			t := ref.at(i)
			for j < len(samples) && samples[j].T <= t {
				j++
			}
			for k < len(hs) && hs[k].T <= t {
				k++
			}
			if k > 0 && (j == 0 || hs[k-1].T > samples[j-1].T) {
				// The latest sample is a histogram.
				if hs[k-1].T <= t-ev.lookback || isStaleHist(hs[k-1].H) {
					continue
				}
				pts = append(pts, Point{T: ev.ts(i), V: float64(stAt(hsts, k-1)) / 1000})
				continue
			}
			if j == 0 || samples[j-1].T <= t-ev.lookback || IsStaleNaN(samples[j-1].V) {
				continue
			}
			pts = append(pts, Point{T: ev.ts(i), V: float64(stAt(sts, j-1)) / 1000})
		}
		if len(pts) > 0 {
			out = append(out, Series{Metric: s.Labels(), Floats: pts})
		}
		return nil
	})
	return out, err
}
