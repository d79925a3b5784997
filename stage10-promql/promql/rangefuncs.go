package promql

import (
	"errors"
	"math"
	"slices"
	"strings"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// window is what a range function sees at one step: the samples in
// (start, end] and the step's scalar arguments.
type window struct {
	pts        []Point
	st         []int64 // the samples' start times, nil if not known
	start, end int64   // the window's bounds, ms: (end - range, end]
	t          int64   // the step's time (end is earlier by an offset, or pinned by @)
	overlaps   int     // windows of this series with overlapping start times (extrapolatedRateST)
	args       []float64
	drops      int // how many samples in pts are lower than the one before
}

type rangeFunc struct {
	fn       func(w *window) (float64, bool)
	keepName bool // last_over_time returns a sample of the metric itself
	matrix   int  // which argument is the range vector
	// extrapolated marks rate, increase and delta (extrapolatedRate with
	// isCounter, isRate), which have a tighter loop for windows without
	// counter resets (rateSlide).
	extrapolated, isCounter, isRate bool
}

var rangeFuncs = map[string]rangeFunc{
	"rate":                         {fn: func(w *window) (float64, bool) { return counterRate(w, true) }, extrapolated: true, isCounter: true, isRate: true},
	"increase":                     {fn: func(w *window) (float64, bool) { return counterRate(w, false) }, extrapolated: true, isCounter: true},
	"delta":                        {fn: func(w *window) (float64, bool) { return extrapolatedRate(w, false, false) }, extrapolated: true},
	"irate":                        {fn: func(w *window) (float64, bool) { return instantValue(w, true) }},
	"idelta":                       {fn: func(w *window) (float64, bool) { return instantValue(w, false) }},
	"deriv":                        {fn: deriv},
	"predict_linear":               {fn: predictLinear},
	"double_exponential_smoothing": {fn: doubleExpSmoothing},
	"changes":                      {fn: changes},
	"resets":                       {fn: resets},
	"avg_over_time":                {fn: avgOverTime},
	"sum_over_time":                {fn: sumOverTime},
	"count_over_time":              {fn: func(w *window) (float64, bool) { return float64(len(w.pts)), true }},
	"min_over_time":                {fn: func(w *window) (float64, bool) { return extremum(w, -1) }},
	"max_over_time":                {fn: func(w *window) (float64, bool) { return extremum(w, 1) }},
	"last_over_time":               {fn: func(w *window) (float64, bool) { return w.pts[len(w.pts)-1].V, true }, keepName: true},
	"first_over_time":              {fn: func(w *window) (float64, bool) { return w.pts[0].V, true }, keepName: true},
	"ts_of_first_over_time":        {fn: func(w *window) (float64, bool) { return seconds(w.pts[0].T), true }},
	"ts_of_last_over_time":         {fn: func(w *window) (float64, bool) { return seconds(w.pts[len(w.pts)-1].T), true }},
	"ts_of_max_over_time":          {fn: func(w *window) (float64, bool) { return seconds(w.pts[extremumIndex(w, 1, true)].T), true }},
	"ts_of_min_over_time":          {fn: func(w *window) (float64, bool) { return seconds(w.pts[extremumIndex(w, -1, true)].T), true }},
	"mad_over_time":                {fn: madOverTime},
	"integral":                     {fn: integral},
	"present_over_time":            {fn: func(*window) (float64, bool) { return 1, true }},
	"stddev_over_time":             {fn: func(w *window) (float64, bool) { v := variance(w.pts); return math.Sqrt(v), true }},
	"stdvar_over_time":             {fn: func(w *window) (float64, bool) { return variance(w.pts), true }},
	"quantile_over_time": {fn: func(w *window) (float64, bool) {
		vals := make([]float64, len(w.pts))
		for i, p := range w.pts {
			vals[i] = p.V
		}
		return quantileValue(w.args[0], vals), true
	}, matrix: 1},
}

// rangeCall slides each series' window over the steps (rangeSeries) and
// collects the results.
func (ev *evaluator) rangeCall(c *parser.Call, rf rangeFunc) (Matrix, error) {
	mg := newMerger()
	base, rbase := *ev.held, *ev.reserved
	err := ev.rangeSeries(c, rf, true, func(l model.Labels, drop bool, pts []Point) error {
		if err := ev.reserve(len(pts)); err != nil {
			return err
		}
		return mg.add(l, drop, pts)
	})
	if errors.Is(err, errHistograms) {
		// A series holds native histograms: start over on the path
		// that reads both kinds.
		*ev.held, *ev.reserved = base, rbase
		return ev.rangeCallMixed(c, rf)
	}
	return mg.matrix(), err
}

// rangeSeries evaluates a range function series by series and emits each
// series' result (labels without __name__ unless the function keeps it),
// in the order storage returned the series. Both window edges only move
// forward, so a series costs one pass over its samples plus the
// function's own work; a matrix selector's series are read from storage
// one at a time and only a window of each is held (slider), and their
// work is shared out between the cores (rangePipe). With keep false, pts
// is a buffer reused for later series, so emit must not retain it.
func (ev *evaluator) rangeSeries(c *parser.Call, rf rangeFunc, keep bool, emit emitFunc) error {
	var scalars [][]float64 // the other arguments, evaluated per step
	for i, a := range c.Args {
		if i == rf.matrix {
			continue
		}
		sc, err := ev.evalScalar(a)
		if err != nil {
			return err
		}
		scalars = append(scalars, sc)
	}
	if c.Func.Name == "double_exponential_smoothing" {
		for i := 0; i < ev.steps; i++ {
			if sf := scalars[0][i]; !(sf > 0 && sf < 1) {
				return errorf("invalid smoothing factor. Expected: 0 < sf < 1, got: %v", sf)
			}
			if tf := scalars[1][i]; !(tf > 0 && tf < 1) {
				return errorf("invalid trend factor. Expected: 0 < tf < 1, got: %v", tf)
			}
		}
	}
	emit = ev.paramWarnings(c, scalars, emit)
	name := c.Func.Name
	re := &rangeEval{ev: ev, rf: rf, fn: rf.fn, scalars: scalars, limit: ev.remaining(),
		useST:       ev.features.StartTimestamps && (name == "rate" || name == "increase" || name == "irate" || name == "resets"),
		counterInfo: c.Func.Name == "rate" || c.Func.Name == "increase", argPos: c.Args[rf.matrix].PositionRange()}
	re.w.args = make([]float64, len(scalars))
	switch n := parser.UnwrapParens(c.Args[rf.matrix]).(type) {
	case *parser.MatrixSelector:
		vs := n.VectorSelector
		if err := re.extend(c.Func.Name, vs); err != nil {
			return err
		}
		re.fixName(vs.LabelMatchers)
		p := ev.newRangePipe(re, n.Range.Milliseconds(), ev.refTimes(vs.At, vs.Offset), keep, emit)
		defer p.stop()
		add := func(s StorageSeries) error {
			if histogramsOf(s) != nil {
				return errHistograms
			}
			return p.add(s)
		}
		if err := ev.eachSeries(vs.LabelMatchers, p.ref.at(0)-p.rng-re.extLeft, p.ref.at(ev.steps-1)+re.extRight, add); err != nil {
			return err
		}
		return p.finish()
	case *parser.SubqueryExpr:
		r, err := ev.subquery(n)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(r.series, func(s rawSeries) bool { return len(s.hists) > 0 }) {
			return errHistograms
		}
		var scratch []Point
		for k, s := range r.series {
			if k%256 == 0 {
				if err := ev.checkCtx(); err != nil {
					return err
				}
			}
			var pts []Point
			if !keep {
				pts = scratch[:0]
			}
			pts, peak := re.series(s.samples, nil, nil, false, r.rng, r.ref, pts)
			if !keep {
				scratch = pts
			}
			re.checkCounter(re.nonCounterName(s.labels), pts)
			l, drop := re.outLabels(s.labels, s.dropName, pts)
			if err := ev.emitRange(l, drop, pts, peak, emit); err != nil {
				return err
			}
		}
		return nil
	}
	return errorf("expected a range vector, got %T", c.Args[rf.matrix])
}

// paramWarnings wraps emit so that a result computed with a parameter
// Prometheus warns about (a quantile_over_time φ outside [0, 1], an
// integral strategy not 0, 1 or 2) notes the warning, as Prometheus does
// for the windows it applies the function to.
func (ev *evaluator) paramWarnings(c *parser.Call, scalars [][]float64, emit emitFunc) emitFunc {
	var warn []Annotation // per step
	for i := 0; i < ev.steps && len(scalars) > 0; i++ {
		var a Annotation
		switch v := scalars[0][i]; c.Func.Name {
		case "quantile_over_time":
			if math.IsNaN(v) || v < 0 || v > 1 {
				a = invalidQuantileWarning(v, c.Args[0].PositionRange())
			}
		case "integral":
			if integralStrategy(&window{args: []float64{v}}) != int(v) || v != math.Trunc(v) {
				a = invalidIntegralStrategyWarning(v, c.Args[1].PositionRange())
			}
		}
		if a.Text != "" {
			if warn == nil {
				warn = make([]Annotation, ev.steps)
			}
			warn[i] = a
		}
	}
	if warn == nil {
		return emit
	}
	return func(l model.Labels, drop bool, pts []Point) error {
		for _, p := range pts {
			if a := warn[ev.step(p.T)]; a.Text != "" {
				ev.annos.add(a)
			}
		}
		return emit(l, drop, pts)
	}
}

// nonCounterName is the series' metric name if rate or increase over it
// deserve Prometheus's info that it might not be a counter: the name does
// not end in _total, _sum, _count or _bucket. "" otherwise.
// When the selector names the metric (nameFixed) the answer is the same
// for every series and the labels are not read: reading each series' name
// cost 5 % of an instant sum of rates over 10,000 series.
func (re *rangeEval) nonCounterName(l model.Labels) string {
	switch {
	case !re.counterInfo:
		return ""
	case re.nameFixed:
		return re.fixedNonCounter
	}
	return nonCounter(l.Name())
}

// nonCounter is name unless it ends in _total, _sum, _count or _bucket.
func nonCounter(name string) string {
	for _, suffix := range []string{"_total", "_sum", "_count", "_bucket"} {
		if strings.HasSuffix(name, suffix) {
			return ""
		}
	}
	return name
}

// fixName notes the metric name a selector's matchers fix, if they do
// (__name__="x"), for nonCounterName.
func (re *rangeEval) fixName(ms []*index.Matcher) {
	for _, m := range ms {
		if m.Name() == model.MetricName && m.Type() == index.MatchEqual {
			re.nameFixed = true
			if re.counterInfo {
				re.fixedNonCounter = nonCounter(m.Value())
			}
			return
		}
	}
}

// checkCounter notes the non-counter info for a series named name (see
// nonCounterName) if rate or increase gave it a result. Only the main
// goroutine calls it, in series order; a name just noted is not noted
// again (the text would be the same).
func (re *rangeEval) checkCounter(name string, pts []Point) {
	if name != "" && name != re.noted && len(pts) > 0 {
		re.ev.annos.add(nonCounterInfo(name, re.argPos))
		re.noted = name
	}
}

// emitRange passes one series' result to emit, in series order, once its
// largest window has been counted against the sample limit. l is the
// series' labels as the function returns them (nameless, see outLabels).
//
// The count is the series' peak, taken after the series rather than step
// by step: the limit is on what the query holds at once, and while a
// series slides nothing else changes what the query holds, so base + peak
// exceeds the limit exactly when some step's base + window would. That is
// what lets series be evaluated on other goroutines (rangePipe) with the
// errors, and the step at which a query fails, unchanged.
func (ev *evaluator) emitRange(l model.Labels, drop bool, pts []Point, peak int, emit emitFunc) error {
	if err := ev.hold(peak); err != nil {
		return err
	}
	ev.release(peak)
	if len(pts) == 0 {
		return nil
	}
	return emit(l, drop, pts)
}

// outLabels are the labels of a result series and its mark for delayed
// name removal (drop: the input's mark): without __name__ unless the
// function keeps it (last_over_time), see nameless. Worked out only for a
// series with points, as only those are emitted.
func (re *rangeEval) outLabels(l model.Labels, drop bool, pts []Point) (model.Labels, bool) {
	if re.rf.keepName || len(pts) == 0 {
		return l, drop
	}
	return re.ev.nameless(l, drop)
}

// rangeEval is the work of rangeSeries on one series: the function slid
// over the steps, with the buffers of the goroutine that runs it. It reads
// the evaluator (the step grid, the scalars) and never writes to it, so
// copies of one rangeEval run side by side.
type rangeEval struct {
	ev *evaluator
	rf rangeFunc
	fn func(w *window) (float64, bool) // rf.fn, or its anchored or smoothed form
	// extLeft and extRight widen each window beyond (start, end] for an
	// anchored or smoothed selector (extend): the function sees those
	// samples too, and the window's own bounds.
	extLeft, extRight int64
	scalars           [][]float64
	// limit is the largest window the sample limit allows (the limit less
	// what the query holds elsewhere): a series whose window grows past it
	// stops there, so that an over-limit query never reads a huge window
	// into memory before it fails.
	limit int
	// useST: the function reads start times (rate, increase, irate,
	// resets with the use-start-timestamps feature).
	useST bool
	// counterInfo: the function is rate or increase, which note a series
	// whose name does not say counter (checkCounter); argPos is where
	// their argument is, for the annotation.
	counterInfo bool
	argPos      parser.PosRange
	// nameFixed: the selector fixes the metric name, whose
	// nonCounterName is fixedNonCounter; noted is the name checkCounter
	// noted last.
	nameFixed       bool
	fixedNonCounter string
	noted           string
	w               window
	sl              slider
	buf             []Point // the slider's window buffer in iterator mode, kept for the next series
	noStale         []Point
}

// clone is a rangeEval for another goroutine: the same function and
// arguments, buffers of its own.
func (re *rangeEval) clone() *rangeEval {
	c := &rangeEval{ev: re.ev, rf: re.rf, fn: re.fn, extLeft: re.extLeft, extRight: re.extRight, useST: re.useST,
		scalars: re.scalars, limit: re.limit, counterInfo: re.counterInfo, argPos: re.argPos}
	c.w.args = make([]float64, len(re.scalars))
	return c
}

// series runs the function over one series at the windows (ref(i) − rng,
// ref(i)]: samples given as a slice (it nil; with dropStale its stale
// markers are skipped, as range selectors never see them), or an iterator.
// It appends the result's points to pts and returns them with the most
// samples one window held (more than limit: stopped early).
func (re *rangeEval) series(samples []Point, sts []int64, it Iterator, dropStale bool, rng int64, ref refGrid, pts []Point) ([]Point, int) {
	sl, rf, ev := &re.sl, re.rf, re.ev
	// Windows with start times, or extended, take the general loop.
	extended := re.extLeft != 0 || re.extRight != 0 || sts != nil
	if it == nil && rf.extrapolated && !extended {
		// The usual case, a counter without resets or stale markers:
		// rateSlide checks for both as its window passes the samples, which
		// saves scanSlice's pass over them, and gives up on finding one.
		n := len(pts)
		out, peak, ok := re.rateSlide(samples, rng, ref, pts)
		if ok {
			return out, peak
		}
		pts = out[:n]
	}
	if it != nil {
		sl.fromIterator(it, re.buf)
	} else {
		stale, falls := scanSlice(samples)
		if stale && dropStale {
			re.noStale = re.noStale[:0]
			var kept []int64
			for i, p := range samples {
				if !IsStaleNaN(p.V) {
					re.noStale = append(re.noStale, p)
					if sts != nil {
						kept = append(kept, sts[i])
					}
				}
			}
			samples, sts = re.noStale, kept
			_, falls = scanSlice(samples)
		}
		sl.fromScanned(samples, falls)
	}
	if rf.extrapolated && sl.it == nil && sl.noFalls && !extended {
		// No falls once the stale markers are dropped.
		n := len(pts)
		out, peak, ok := re.rateSlide(sl.buf, rng, ref, pts)
		if ok {
			return out, peak
		}
		pts = out[:n]
	}
	peak := 0
	n0 := len(pts) // pts may hold earlier series' points (rangePipe's tasks)
	w := &re.w
	for i := 0; i < ev.steps; i++ {
		if i%ctxEvery == ctxEvery-1 && ev.checkCtx() != nil {
			break // the caller's next check returns the error
		}
		end := ref.at(i)
		start := end - rng
		var win []Point
		if sl.it == nil {
			win = sl.advanceSlice(start-re.extLeft, end+re.extRight)
		} else {
			win = sl.advance(start-re.extLeft, end+re.extRight)
		}
		if len(win) > peak {
			if peak = len(win); peak > re.limit {
				break
			}
		}
		if len(win) == 0 {
			continue
		}
		w.pts, w.start, w.end, w.t, w.drops = win, start, end, ev.ts(i), sl.drops
		w.st = nil
		if sts != nil {
			w.st = sts[sl.lo:sl.hi]
		}
		for j := range re.scalars {
			w.args[j] = re.scalars[j][i]
		}
		if v, ok := re.fn(w); ok {
			if pts == nil {
				pts = make([]Point, 0, min(ev.steps-i, re.limit+1))
			}
			if pts = append(pts, Point{T: ev.ts(i), V: v}); len(pts)-n0 > re.limit {
				peak = len(pts) - n0 // the result alone is over the limit
				break
			}
		}
	}
	if sl.it != nil {
		re.buf = sl.buf
	}
	return pts, peak
}

// rateSlide is the step loop of series for rate, increase and delta over
// a series given as a slice in which no value falls, so that no window
// has a counter reset: the window's edges move by comparing timestamps and
// extrapolate is called directly, without the window struct and the
// function value, which makes the loop short enough for the CPU to overlap
// the divisions of consecutive steps.
//
// It checks that first: ok is false, and pts to be cut back to their
// length before the call, if a sample some window reaches falls below the
// one before it or is a NaN (a stale marker; any other NaN is left to the
// general loop too). Samples after the last window are never looked at,
// and need not be: they change no result. The check is one pass over the
// values with one comparison per sample, !(v >= prev), which is true for
// a fall and for a NaN on either side.
//
// The steps then look at no sample but the windows' edges. Over regular
// samples each edge moves by the same number of samples from one step to
// the next, so the edge is guessed (where it was plus its last move) and
// the guess checked with two comparisons; only a wrong guess scans. A scan
// of each window's new samples and of those it left, as the loop was
// before, cost twice as much per step.
func (re *rangeEval) rateSlide(buf []Point, rng int64, ref refGrid, pts []Point) (_ []Point, peak int, ok bool) {
	ev, rf := re.ev, re.rf
	if ev.steps > 0 {
		lastEnd := ref.at(ev.steps - 1)
		n := len(buf)
		for n > 0 && buf[n-1].T > lastEnd {
			n--
		}
		buf = buf[:n]
	}
	prev := math.Inf(-1) // nothing falls below -Inf
	for _, p := range buf {
		if !(p.V >= prev) {
			return pts, 0, false
		}
		prev = p.V
	}
	lo, hi := 0, 0
	dlo, dhi := 0, 0  // the edges' last moves
	n0 := len(pts)    // pts may hold earlier series' points (rangePipe's tasks)
	var memo rateMemo // isCounter and isRate are fixed for the loop
	end, t := ref.first, ev.start
	for i := 0; i < ev.steps; i, end, t = i+1, end+ref.stride, t+ev.interval {
		if i%ctxEvery == ctxEvery-1 && ev.checkCtx() != nil {
			break // the caller's next check returns the error
		}
		start := end - rng
		// hi is the first sample after end, lo the first after start.
		if h := hi + dhi; h <= len(buf) && (h == 0 || buf[h-1].T <= end) && (h == len(buf) || buf[h].T > end) {
			hi = h
		} else {
			h = hi
			for hi < len(buf) && buf[hi].T <= end {
				hi++
			}
			dhi = hi - h
		}
		if l := lo + dlo; l <= hi && (l == 0 || buf[l-1].T <= start) && (l == hi || buf[l].T > start) {
			lo = l
		} else {
			l = lo
			for lo < hi && buf[lo].T <= start {
				lo++
			}
			dlo = lo - l
		}
		if hi-lo > peak {
			if peak = hi - lo; peak > re.limit {
				break
			}
		}
		if hi-lo < 2 {
			continue
		}
		first, last := buf[lo], buf[hi-1]
		result := last.V - first.V
		var v float64
		if first.T-start == memo.first && last.T-start == memo.last && end-start == memo.rng && hi-lo == memo.n &&
			!(rf.isCounter && result > 0 && first.V >= 0 && !(first.V*memo.e.sampled > 2*memo.e.toStart*result)) {
			// memo.rate's common case, written out here: the call (too
			// big to inline) cost more than the multiplication.
			v = result * memo.factor
		} else {
			v = memo.rate(first, last, hi-lo, result, start, end, rf.isCounter, rf.isRate)
		}
		if pts == nil {
			pts = make([]Point, 0, min(ev.steps-i, re.limit+1))
		}
		if pts = append(pts, Point{T: t, V: v}); len(pts)-n0 > re.limit {
			return pts, len(pts) - n0, true // the result alone is over the limit
		}
	}
	return pts, peak, true
}

// extrapolatedRate is rate, increase and delta. The samples in a window
// rarely sit on its edges, so the raw difference last-first covers less
// time than the window. Prometheus extrapolates it towards each edge, by at
// most half an average sample interval when the series seems to go on
// beyond the window (the gap to the edge is less than 1.1 intervals), and
// for counters never below zero (a counter can't have been negative).
func extrapolatedRate(w *window, isCounter, isRate bool) (float64, bool) {
	pts := w.pts
	if len(pts) < 2 {
		return 0, false
	}
	first, last := pts[0], pts[len(pts)-1]
	result := last.V - first.V
	if isCounter && w.drops > 0 { // a drop is a reset: the counter restarted from 0
		prev := first.V
		for _, p := range pts[1:] {
			if p.V < prev {
				result += prev
			}
			prev = p.V
		}
	}
	return extrapolate(first, last, len(pts), result, w.start, w.end, isCounter, isRate), true
}

// extrapolate is extrapolatedRate once the raw increase (result) of the n
// samples from first to last in the window (start, end] is known.
func extrapolate(first, last Point, n int, result float64, start, end int64, isCounter, isRate bool) float64 {
	e := edgesOf(first.T, last.T, n, start, end)
	return result * e.factor(e.startFor(first.V, result, isCounter), end-start, isRate)
}

// edges is the part of extrapolate that depends only on where the window's
// samples sit: how much time they span and how far towards each edge the
// increase is extrapolated.
type edges struct{ sampled, toStart, toEnd float64 }

func edgesOf(firstT, lastT int64, n int, start, end int64) edges {
	sampled := float64(lastT-firstT) / 1000
	avgStep := sampled / float64(n-1)
	toStart := float64(firstT-start) / 1000
	toEnd := float64(end-lastT) / 1000
	threshold := avgStep * 1.1
	if toStart >= threshold {
		toStart = avgStep / 2
	}
	if toEnd >= threshold {
		toEnd = avgStep / 2
	}
	return edges{sampled, toStart, toEnd}
}

// startFor is toStart for a window whose first value is firstV and whose
// increase is result: a counter started at 0 at most sampled·firstV/result
// before its first sample, and is extrapolated no further back than that.
func (e edges) startFor(firstV, result float64, isCounter bool) float64 {
	if isCounter && result > 0 && firstV >= 0 {
		if toZero := e.sampled * (firstV / result); toZero < e.toStart {
			return toZero
		}
	}
	return e.toStart
}

// factor is what the increase is multiplied by, with the operations in
// Prometheus's order so that results are bit-identical to its.
func (e edges) factor(toStart float64, rng int64, isRate bool) float64 {
	f := (e.sampled + toStart + e.toEnd) / e.sampled
	if isRate {
		f /= float64(rng) / 1000
	}
	return f
}

// rateMemo is extrapolate for a sliding window. Over regular samples
// consecutive windows usually have the same shape (the same distances to
// their edges, the same count), so it keeps the last shape's edges and
// factor and, when the next window has that shape too, costs a comparison
// and a multiplication instead of extrapolate's chain of divisions. The one
// value-dependent part, a counter's distance to zero, is computed exactly
// whenever a cheap bound cannot rule it out.
type rateMemo struct {
	// The shape: offsets of the first and last sample from the window's
	// start, the window's length and the sample count. Compared field by
	// field: an array comparison would be a call to memequal.
	first, last, rng int64
	n                int
	e                edges
	factor           float64
}

func (m *rateMemo) rate(first, last Point, n int, result float64, start, end int64, isCounter, isRate bool) float64 {
	if first.T-start != m.first || last.T-start != m.last || end-start != m.rng || n != m.n {
		// n is never 0 for a window, so the zero rateMemo always misses.
		m.first, m.last, m.rng, m.n = first.T-start, last.T-start, end-start, n
		m.e = edgesOf(first.T, last.T, n, start, end)
		m.factor = m.e.factor(m.e.toStart, end-start, isRate)
	}
	// The distance to zero, sampled·first/result, is at least toStart
	// (so toStart stands) when first·sampled > 2·toStart·result: the
	// factor 2 covers the rounding of both sides. NaNs, infinities and a
	// zero first value fail the test and take the exact path.
	if isCounter && result > 0 && first.V >= 0 && !(first.V*m.e.sampled > 2*m.e.toStart*result) {
		return result * m.e.factor(m.e.startFor(first.V, result, isCounter), end-start, isRate)
	}
	return result * m.factor
}

// instantValue is irate and idelta: only the last two samples count.
func instantValue(w *window, isRate bool) (float64, bool) {
	pts := w.pts
	if len(pts) < 2 {
		return 0, false
	}
	prev, last := pts[len(pts)-2], pts[len(pts)-1]
	d := last.V - prev.V
	if !isRate {
		return d, true
	}
	n := len(pts)
	if last.V < prev.V || n-1 < len(w.st) && stReset(w.st[n-2], prev.T, w.st[n-1], last.T) { // counter reset
		d = last.V
	}
	dt := float64(last.T-prev.T) / 1000
	if dt == 0 {
		return 0, false
	}
	return d / dt, true
}

// linearRegression fits v = slope·x + intercept by least squares, x being
// seconds since interceptTime. A constant series has slope exactly 0 (the
// float formula would give rounding noise).
func linearRegression(pts []Point, interceptTime int64) (slope, intercept float64) {
	var n, sumX, cX, sumY, cY, sumXY, cXY, sumX2, cX2 float64
	constY := true
	for i, p := range pts {
		if i > 0 && p.V != pts[0].V {
			constY = false
		}
		n++
		x := float64(p.T-interceptTime) / 1000
		sumX, cX = kahanInc(x, sumX, cX)
		sumY, cY = kahanInc(p.V, sumY, cY)
		sumXY, cXY = kahanInc(x*p.V, sumXY, cXY)
		sumX2, cX2 = kahanInc(x*x, sumX2, cX2)
	}
	if constY {
		if math.IsInf(pts[0].V, 0) {
			return math.NaN(), math.NaN()
		}
		return 0, pts[0].V
	}
	sumX, sumY, sumXY, sumX2 = sumX+cX, sumY+cY, sumXY+cXY, sumX2+cX2
	covXY := sumXY - sumX*sumY/n
	varX := sumX2 - sumX*sumX/n
	slope = covXY / varX
	intercept = sumY/n - slope*sumX/n
	return slope, intercept
}

func deriv(w *window) (float64, bool) {
	if len(w.pts) < 2 {
		return 0, false
	}
	// x relative to the first sample keeps the squares small.
	slope, _ := linearRegression(w.pts, w.pts[0].T)
	return slope, true
}

func predictLinear(w *window) (float64, bool) {
	if len(w.pts) < 2 {
		return 0, false
	}
	// From the step's time, as Prometheus does: with @ or offset the line
	// goes on from the window to the step.
	slope, intercept := linearRegression(w.pts, w.t)
	return slope*w.args[0] + intercept, true
}

// doubleExpSmoothing (formerly holt_winters): level s smoothed with factor
// sf, trend b smoothed with factor tf; the result is the last level.
func doubleExpSmoothing(w *window) (float64, bool) {
	pts := w.pts
	if len(pts) < 2 {
		return 0, false
	}
	sf, tf := w.args[0], w.args[1]
	s0, s1 := 0.0, pts[0].V
	b := pts[1].V - pts[0].V
	for i := 1; i < len(pts); i++ {
		if i > 1 { // the first trend is the first difference as is
			b = tf*(s1-s0) + (1-tf)*b
		}
		s0, s1 = s1, sf*pts[i].V+(1-sf)*(s1+b)
	}
	return s1, true
}

func changes(w *window) (float64, bool) {
	n := 0
	for i := 1; i < len(w.pts); i++ {
		a, b := w.pts[i-1].V, w.pts[i].V
		if a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
			n++
		}
	}
	return float64(n), true
}

func resets(w *window) (float64, bool) {
	if w.st != nil {
		return float64(countResets(w.pts, w.st)), true
	}
	return float64(w.drops), true
}

// counterRate is rate and increase, with start times where the window
// has them.
func counterRate(w *window, isRate bool) (float64, bool) {
	if w.st != nil {
		return extrapolatedRateST(w, true, isRate)
	}
	return extrapolatedRate(w, true, isRate)
}

func sumOverTime(w *window) (float64, bool) {
	var s, c float64
	for _, p := range w.pts {
		s, c = kahanInc(p.V, s, c)
	}
	if math.IsInf(s, 0) {
		return s, true
	}
	return s + c, true
}

func avgOverTime(w *window) (float64, bool) {
	var mean, sum, c float64
	var incr bool
	for i, p := range w.pts {
		mean, sum, c, incr = meanInc(p.V, float64(i+1), mean, sum, c, incr)
	}
	return meanOf(float64(len(w.pts)), mean, sum, c, incr), true
}

// extremum is min_over_time (sign -1) and max_over_time (+1); NaN loses to
// any number.
func extremum(w *window, sign float64) (float64, bool) {
	return w.pts[extremumIndex(w, sign, false)].V, true
}

// extremumIndex is where the window's minimum (sign -1) or maximum (+1)
// is: the first one if it repeats, or the last (ts_of_*_over_time, as in
// Prometheus).
func extremumIndex(w *window, sign float64, last bool) int {
	k := 0
	for i, p := range w.pts[1:] {
		m := w.pts[k].V
		if math.IsNaN(m) || (sign > 0 && p.V > m) || (sign < 0 && p.V < m) || (last && p.V == m) {
			k = i + 1
		}
	}
	return k
}

func seconds(ms int64) float64 { return float64(ms) / 1000 }

// madOverTime is the median absolute deviation: the median of the
// distances from the median. A NaN makes it NaN.
func madOverTime(w *window) (float64, bool) {
	vals := make([]float64, len(w.pts))
	for i, p := range w.pts {
		if math.IsNaN(p.V) {
			return math.NaN(), true
		}
		vals[i] = p.V
	}
	median := quantileValue(0.5, vals)
	for i := range vals {
		vals[i] = math.Abs(vals[i] - median)
	}
	return quantileValue(0.5, vals), true
}

// The integral strategies: rectangles from each interval's left or right
// sample, or trapezoids (the default).
const (
	integralLeft = iota
	integralRight
	integralTrapezoid
)

// integralStrategy is integral's optional second argument, or the default
// when it is missing or not one of 0, 1 and 2.
func integralStrategy(w *window) int {
	if len(w.args) == 0 {
		return integralTrapezoid
	}
	s := w.args[0]
	if math.IsNaN(s) || math.IsInf(s, 0) || math.Trunc(s) != s || s < integralLeft || s > integralTrapezoid {
		return integralTrapezoid
	}
	return int(s)
}

// integral is the area under the window's samples, value × seconds,
// summed interval by interval with the strategy's rule; a NaN counts as 0.
func integral(w *window) (float64, bool) {
	strategy := integralStrategy(w)
	nanAsZero := func(v float64) float64 {
		if math.IsNaN(v) {
			return 0
		}
		return v
	}
	var sum, c float64
	for i := 1; i < len(w.pts); i++ {
		prev, cur := nanAsZero(w.pts[i-1].V), nanAsZero(w.pts[i].V)
		var v, cv float64
		switch strategy {
		case integralLeft:
			v = prev
		case integralRight:
			v = cur
		default:
			// The mean of the two, compensated, halving first where the
			// sum of two finite values would overflow.
			if prev != 0 || cur != 0 {
				v, cv = kahanInc(cur, prev, 0)
				if math.IsInf(v, 0) && !math.IsInf(cur, 0) && !math.IsInf(prev, 0) {
					v, cv = kahanInc(cur/2, prev/2, 0)
				} else {
					v, cv = v/2, cv/2
				}
			}
		}
		if v != 0 || cv != 0 {
			dt := seconds(w.pts[i].T - w.pts[i-1].T)
			sum, c = kahanInc(v*dt, sum, c+cv*dt)
		}
	}
	if math.IsInf(sum, 0) {
		return sum, true
	}
	return sum + c, true
}

// variance is the population variance, by Welford's method with the
// running mean and sum of squares both Kahan-compensated, as Prometheus
// computes it (so the two agree to the last bit).
func variance(pts []Point) float64 {
	var n, mean, cMean, aux, cAux float64
	for _, p := range pts {
		n++
		d := p.V - (mean + cMean)
		mean, cMean = kahanInc(d/n, mean, cMean)
		aux, cAux = kahanInc(d*(p.V-(mean+cMean)), aux, cAux)
	}
	return (aux + cAux) / n
}
