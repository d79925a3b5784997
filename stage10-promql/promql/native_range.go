package promql

import (
	"errors"
	"math"
	"slices"
	"sort"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// hwindow is what a range function sees at one step on the mixed path:
// the float window (w) and the histograms in the same (start, end].
type hwindow struct {
	w      *window
	hs     []HPoint
	name   string // the series' metric name, for the annotations
	pos    parser.PosRange
	ev     *evaluator
	result *histogram.FloatHistogram // set by a function whose result is a histogram
	// anchored, smoothed: the selector's modifier; the windows then
	// reach beyond (start, end] (rangeEval.extend).
	anchored, smoothed bool
	// hst are the start times of hs (use-start-timestamps, for rate,
	// increase, irate and resets), nil if unknown.
	hst []int64
}

func (hw *hwindow) warn(format string, a ...any) { hw.ev.annos.add(warning(hw.pos, format, a...)) }
func (hw *hwindow) info(format string, a ...any) { hw.ev.annos.add(info(hw.pos, format, a...)) }

func (hw *hwindow) mixedWarning() {
	hw.warn("encountered a mix of histograms and floats for metric name %q", hw.name)
}

func (hw *hwindow) mixedSchemas() {
	hw.warn("vector contains a mix of histograms with exponential and custom buckets schemas for metric name %q", hw.name)
}

// ignoredInMixed is the info of the float-only functions over a window
// that holds histograms too.
func (hw *hwindow) ignoredInMixed() {
	hw.info("ignored histograms in a range containing both floats and histograms for metric name %q", hw.name)
}

// rangeCallMixed evaluates a range function over series that may hold
// histograms, series by series and step by step. Functions that take
// histograms (rate, increase, delta, irate, idelta, sum_over_time,
// avg_over_time, last/first_over_time, count_over_time, changes, resets,
// …) follow Prometheus; the others read the floats and ignore the
// histograms, with Prometheus's info.
func (ev *evaluator) rangeCallMixed(c *parser.Call, rf rangeFunc) (Matrix, error) {
	var scalars [][]float64
	for i, a := range c.Args {
		if i == rf.matrix {
			continue
		}
		sc, err := ev.evalScalar(a)
		if err != nil {
			return nil, err
		}
		scalars = append(scalars, sc)
	}
	name := c.Func.Name
	re := &rangeEval{ev: ev, rf: rf, fn: rf.fn}
	useST := ev.features.StartTimestamps && (name == "rate" || name == "increase" || name == "irate" || name == "resets")
	arg := c.Args[rf.matrix]
	var anchored, smoothed, stats bool
	if ms, ok := parser.UnwrapParens(arg).(*parser.MatrixSelector); ok {
		stats = ev.statsSel[ms.VectorSelector]
		if err := re.extend(name, ms.VectorSelector); err != nil {
			return nil, err
		}
		anchored, smoothed = ms.VectorSelector.Anchored, ms.VectorSelector.Smoothed
	}
	base := *ev.held
	pos := arg.PositionRange()
	mg := newMerger()
	out := 0
	var r *rangeInput
	each := func(s rawSeries) error {
		if err := ev.checkCtx(); err != nil {
			return err
		}
		var pts []Point
		var hps []HPoint
		hw := &hwindow{name: s.labels.Name(), pos: pos, ev: ev, anchored: anchored, smoothed: smoothed}
		if stats {
			s.hists = statsHints(s.hists)
		}
		for i := 0; i < ev.steps; i++ {
			end := r.ref.at(i)
			start := end - r.rng
			lo, hi := windowBounds(s.samples, start-re.extLeft, end+re.extRight)
			win := s.samples[lo:hi]
			hs, hst := windowHistsST(s.hists, s.hsts, start-re.extLeft, end+re.extRight, false)
			if !useST {
				hst = nil
			}
			if len(win) == 0 && len(hs) == 0 {
				continue
			}
			w := &window{pts: win, start: start, end: end, t: ev.ts(i), args: make([]float64, len(scalars))}
			for j := range scalars {
				w.args[j] = scalars[j][i]
			}
			for k := 1; k < len(win); k++ {
				if win[k].V < win[k-1].V {
					w.drops++
				}
			}
			hw.w, hw.hs, hw.hst, hw.result = w, hs, hst, nil
			v, ok := ev.mixedRangeValue(name, re.fn, hw, r.rng)
			switch {
			case !ok:
			case hw.result != nil:
				hps = append(hps, HPoint{T: ev.ts(i), H: hw.result})
			default:
				pts = append(pts, Point{T: ev.ts(i), V: v})
			}
		}
		if name == "rate" || name == "increase" {
			re.counterInfo, re.argPos = true, pos
			re.checkCounter(nonCounter(s.labels.Name()), pts)
		}
		l, drop := s.labels, s.dropName
		if !rf.keepName && (len(pts) > 0 || len(hps) > 0) {
			l, drop = ev.nameless(s.labels, s.dropName)
		}
		out += len(pts) + histPoints(hps)
		return mg.addMixed(l, drop, pts, hps)
	}
	if ms, ok := parser.UnwrapParens(arg).(*parser.MatrixSelector); ok {
		// A selector's series are read one at a time, each let go once
		// its steps are done, as Prometheus streams them: the query holds
		// one series' samples and the results, not every series whole.
		vs := ms.VectorSelector
		r = &rangeInput{rng: ms.Range.Milliseconds(), ref: ev.refTimes(vs.At, vs.Offset), selector: vs}
		left, right := ev.extension(vs)
		r.extended = left != 0
		err := ev.loadEach(vs.LabelMatchers, r.ref.at(0)-r.rng-left, r.ref.at(ev.steps-1)+right, true, func(s rawSeries) error {
			held, before := *ev.held-len(s.samples)-histPoints(s.hists), out
			if err := each(s); err != nil {
				return err
			}
			*ev.held = held
			return ev.hold(out - before) // its results stay
		})
		if err != nil {
			return nil, err
		}
	} else {
		var err error
		if r, err = ev.rangeArg(arg); err != nil {
			return nil, err
		}
		for _, s := range r.series {
			if err := each(s); err != nil {
				return nil, err
			}
		}
	}
	*ev.held = base
	if err := ev.reserve(out); err != nil {
		return nil, err
	}
	return mg.matrix(), nil
}

// windowBounds are the indexes of the points in (start, end].
func windowBounds(pts []Point, start, end int64) (lo, hi int) {
	hi, _ = slices.BinarySearchFunc(pts, end+1, cmpPointTime)
	lo, _ = slices.BinarySearchFunc(pts[:hi], start+1, cmpPointTime)
	return lo, hi
}

// mixedRangeValue is one step of a range function on the mixed path:
// a float (ok), a histogram (hw.result set), or nothing.
func (ev *evaluator) mixedRangeValue(name string, fn func(*window) (float64, bool), hw *hwindow, rng int64) (float64, bool) {
	w, hs := hw.w, hw.hs
	if len(hs) == 0 {
		if len(w.pts) == 0 {
			return 0, false
		}
		return fn(w)
	}
	floats := len(w.pts) > 0
	switch name {
	case "rate", "increase", "delta":
		if floats {
			hw.mixedWarning()
			return 0, false
		}
		var h *histogram.FloatHistogram
		if hw.anchored || hw.smoothed {
			h = hw.extendedRate(name != "delta", name == "rate", rng)
		} else {
			h = hw.histogramRate(name != "delta", name == "rate", rng)
		}
		if h == nil {
			return 0, false
		}
		hw.result = h
		return 0, true
	case "irate", "idelta":
		return hw.instantValue(name == "irate")
	case "sum_over_time", "avg_over_time":
		if floats {
			hw.mixedWarning()
			return 0, false
		}
		h := hw.sumHistograms(name == "avg_over_time")
		if h == nil {
			return 0, false
		}
		hw.result = h
		return 0, true
	case "last_over_time", "first_over_time":
		last := name == "last_over_time"
		hp := hs[0]
		if last {
			hp = hs[len(hs)-1]
		}
		if floats {
			fp := w.pts[0]
			if last {
				fp = w.pts[len(w.pts)-1]
			}
			if (last && fp.T > hp.T) || (!last && fp.T < hp.T) {
				return fp.V, true
			}
		}
		hw.result = hp.H
		return 0, true
	case "ts_of_last_over_time":
		t := hs[len(hs)-1].T
		if floats {
			t = max(t, w.pts[len(w.pts)-1].T)
		}
		return seconds(t), true
	case "ts_of_first_over_time":
		t := hs[0].T
		if floats {
			t = min(t, w.pts[0].T)
		}
		return seconds(t), true
	case "count_over_time":
		return float64(len(w.pts) + len(hs)), true
	case "present_over_time":
		return 1, true
	case "changes", "resets":
		if hw.anchored && !hw.anchor() {
			return 0, false
		}
		return hw.changesOrResets(name == "resets"), true
	}
	// The float-only functions: histograms are ignored.
	if !floats {
		return 0, false
	}
	if name == "deriv" && len(w.pts) < 2 {
		if len(w.pts) == 1 {
			hw.ignoredInMixed()
		}
		return 0, false
	}
	v, ok := fn(w)
	if ok || name == "deriv" {
		hw.ignoredInMixed()
	}
	return v, ok
}

// histogramRate is rate, increase (counter) or delta over the window's
// histograms: the last less the first, plus the value before each
// counter reset, extrapolated to the window's edges as floats are (the
// counter's zero point from the count).
func (hw *hwindow) histogramRate(isCounter, isRate bool, rng int64) *histogram.FloatHistogram {
	pts, sts := hw.hs, hw.hst
	first := pts[0]
	// A start time inside the window says where the counter was 0: the
	// increase starts there, from zero, instead of being extrapolated
	// (one sample is then enough).
	stStart := isCounter && stAt(sts, 0) != 0 && stAt(sts, 0) > hw.w.start && stAt(sts, 0) < first.T
	var h *histogram.FloatHistogram
	if len(pts) > 1 {
		if h = hw.histogramIncrease(isCounter); h == nil {
			return nil
		}
	}
	if stStart {
		if h == nil {
			h = first.H.Copy()
		} else if !hw.combine(h, first.H, 1) {
			return nil
		}
		sampled := float64(pts[len(pts)-1].T-stAt(sts, 0)) / 1000
		toEnd := float64(hw.w.end-pts[len(pts)-1].T) / 1000
		if n1 := len(pts) - 1; n1 > 0 {
			if avg := float64(pts[len(pts)-1].T-first.T) / 1000 / float64(n1); toEnd >= avg*1.1 {
				toEnd = avg / 2
			}
		} else {
			toEnd = 0 // one sample: nothing to extrapolate towards the end from
		}
		f := 1.0
		if sampled != 0 {
			f = (sampled + toEnd) / sampled
		}
		if isRate {
			f /= float64(rng) / 1000
		}
		return h.Mul(f)
	}
	if h == nil {
		return nil
	}
	// Extrapolation, as for floats, with the count standing for the value.
	lastT := pts[len(pts)-1].T
	e := edgesOf(first.T, lastT, len(pts), hw.w.start, hw.w.end)
	toStart := e.toStart
	if isCounter && h.Count > 0 && first.H.Count >= 0 {
		if toZero := e.sampled * (first.H.Count / h.Count); toZero < toStart {
			toStart = toZero
		}
	}
	return h.Mul(e.factor(toStart, rng, isRate))
}

// histogramIncrease is the raw increase of the window's histograms (at
// least two): the last less the first, plus the value before each
// counter reset (a fall, or a start time that says so).
func (hw *hwindow) histogramIncrease(isCounter bool) *histogram.FloatHistogram {
	pts, sts := hw.hs, hw.hst
	reset := func(i int) bool { // between pts[i-1] and pts[i]
		return pts[i].H.DetectReset(pts[i-1].H) || stReset(stAt(sts, i-1), pts[i-1].T, stAt(sts, i), pts[i].T)
	}
	prev, last := pts[0].H, pts[len(pts)-1].H
	if isCounter && (prev.CounterResetHint == histogram.GaugeType || last.CounterResetHint == histogram.GaugeType) {
		hw.warn("this native histogram metric is not a counter: %q", hw.name)
	}
	custom := prev.UsesCustomBuckets()
	if isCounter && reset(1) {
		// A reset right after the first sample: its layout does not
		// matter, only that the count starts from zero.
		prev = &histogram.FloatHistogram{Schema: pts[1].H.Schema, CustomValues: pts[1].H.CustomValues}
		custom = pts[1].H.UsesCustomBuckets()
	}
	if last.UsesCustomBuckets() != custom {
		hw.mixedSchemas()
		return nil
	}
	for _, p := range pts[1 : len(pts)-1] {
		if !isCounter {
			continue
		}
		if p.H.CounterResetHint == histogram.GaugeType {
			hw.warn("this native histogram metric is not a counter: %q", hw.name)
		}
		if p.H.UsesCustomBuckets() != custom {
			hw.mixedSchemas()
			return nil
		}
	}
	h := last.Copy()
	_, c, err := h.Sub(prev)
	if errors.Is(err, histogram.ErrMixedSchemas) {
		hw.mixedSchemas()
		return nil
	}
	if c.BoundsReconciled {
		hw.info("mismatched custom buckets were reconciled during subtraction")
	}
	if isCounter {
		before := prev
		overlap := false
		for i, p := range pts[1:] {
			if !overlap && i+1 < len(sts) && stOverlap(sts[i], pts[i].T, sts[i+1]) {
				hw.ev.annos.add(startTimeOverlapWarning(hw.name, 1, hw.pos))
				overlap = true
			}
			if p.H.DetectReset(before) || stReset(stAt(sts, i), pts[i].T, stAt(sts, i+1), p.T) {
				_, c, err := h.Add(before)
				if errors.Is(err, histogram.ErrMixedSchemas) {
					hw.mixedSchemas()
					return nil
				}
				if c.BoundsReconciled {
					hw.info("mismatched custom buckets were reconciled during addition")
				}
			}
			before = p.H
		}
	} else if pts[0].H.CounterResetHint != histogram.GaugeType || last.CounterResetHint != histogram.GaugeType {
		hw.warn("this native histogram metric is not a gauge: %q", hw.name)
	}
	h.CounterResetHint = histogram.GaugeType
	return h.Compact()
}

// instantValue is irate (isRate) or idelta over the last two samples of
// either kind.
func (hw *hwindow) instantValue(isRate bool) (float64, bool) {
	type sample struct {
		t, st int64
		v     float64
		h     *histogram.FloatHistogram
	}
	var all []sample
	for _, p := range hw.w.pts[max(0, len(hw.w.pts)-2):] {
		all = append(all, sample{t: p.T, v: p.V})
	}
	for i := max(0, len(hw.hs)-2); i < len(hw.hs); i++ {
		all = append(all, sample{t: hw.hs[i].T, st: stAt(hw.hst, i), h: hw.hs[i].H})
	}
	if len(hw.w.pts)+len(hw.hs) < 2 {
		return 0, false
	}
	slices.SortStableFunc(all, func(a, b sample) int { return cmpInt(a.t, b.t) })
	a, b := all[len(all)-2], all[len(all)-1]
	dt := float64(b.t-a.t) / 1000
	if dt == 0 {
		return 0, false
	}
	switch {
	case a.h == nil && b.h == nil:
		v := b.v
		if !isRate || b.v >= a.v {
			v = b.v - a.v
		}
		if isRate {
			v /= dt
		}
		return v, true
	case a.h != nil && b.h != nil:
		h := b.h.Copy()
		if isRate && (a.h.CounterResetHint == histogram.GaugeType || b.h.CounterResetHint == histogram.GaugeType) {
			hw.warn("this native histogram metric is not a counter: %q", hw.name)
		}
		if !isRate && (a.h.CounterResetHint != histogram.GaugeType || b.h.CounterResetHint != histogram.GaugeType) {
			hw.warn("this native histogram metric is not a gauge: %q", hw.name)
		}
		if !isRate || !(b.h.DetectReset(a.h) || stReset(a.st, a.t, b.st, b.t)) {
			_, c, err := h.Sub(a.h)
			if errors.Is(err, histogram.ErrMixedSchemas) {
				hw.mixedSchemas()
				return 0, false
			}
			if c.BoundsReconciled {
				hw.info("mismatched custom buckets were reconciled during subtraction")
			}
		}
		h.CounterResetHint = histogram.GaugeType
		h.Compact()
		if isRate {
			h.Div(dt)
		}
		hw.result = h
		return 0, true
	}
	hw.mixedWarning()
	return 0, false
}

// sumHistograms is sum_over_time (or, with avg, avg_over_time) of the
// window's histograms.
func (hw *hwindow) sumHistograms(avg bool) *histogram.FloatHistogram {
	var acc histAcc
	for _, p := range hw.hs {
		acc.add(p.H, avg)
	}
	if acc.mixExp {
		hw.mixedSchemas()
		return nil
	}
	if acc.reset && acc.notReset {
		hw.warn("conflicting counter resets during histogram aggregation")
	}
	if acc.reconciled {
		hw.info("mismatched custom buckets were reconciled during aggregation")
	}
	return acc.result(avg)
}

// changesOrResets is changes or resets over samples of both kinds in
// time order: a change of kind counts as both.
func (hw *hwindow) changesOrResets(resets bool) float64 {
	n := 0
	i, j := 0, 0
	var prevV float64
	var prevH *histogram.FloatHistogram
	var prevT, prevST, t, st int64
	first := true
	for i < len(hw.w.pts) || j < len(hw.hs) {
		var v float64
		var h *histogram.FloatHistogram
		if j >= len(hw.hs) || (i < len(hw.w.pts) && hw.w.pts[i].T < hw.hs[j].T) {
			v, t, st = hw.w.pts[i].V, hw.w.pts[i].T, 0
			i++
		} else {
			h, t, st = hw.hs[j].H, hw.hs[j].T, stAt(hw.hst, j)
			j++
		}
		if !first {
			switch {
			case h == nil && prevH == nil:
				if resets && v < prevV {
					n++
				}
				if !resets && v != prevV && !(math.IsNaN(v) && math.IsNaN(prevV)) {
					n++
				}
			case (h == nil) != (prevH == nil):
				n++
			case resets:
				if h.DetectReset(prevH) || stReset(prevST, prevT, st, t) {
					n++
				}
			default:
				if !h.Equivalent(prevH, 0) {
					n++
				}
			}
		}
		first, prevV, prevH, prevT, prevST = false, v, h, t, st
	}
	return float64(n)
}

// anchor cuts an anchored window's samples to start at the last one (of
// either kind) at or before the window's start, the others before it
// dropped; false if no sample lies after the start.
func (hw *hwindow) anchor() bool {
	start := hw.w.start
	f := sort.Search(len(hw.w.pts), func(i int) bool { return hw.w.pts[i].T > start }) - 1
	h := sort.Search(len(hw.hs), func(i int) bool { return hw.hs[i].T > start }) - 1
	if f+1 >= len(hw.w.pts) && h+1 >= len(hw.hs) {
		return false
	}
	switch {
	case f < 0 && h < 0:
	case h < 0 || (f >= 0 && hw.w.pts[f].T >= hw.hs[h].T):
		hw.w.pts, hw.hs = hw.w.pts[f:], hw.hs[h+1:]
	default:
		hw.w.pts, hw.hs = hw.w.pts[f+1:], hw.hs[h:]
	}
	return true
}

// interpolateHistograms is the histogram between (t1, h1) and (t2, h2)
// at t, linearly; a counter that reset between them is taken to have
// restarted from zero at t1.
func (hw *hwindow) interpolate(h1 *histogram.FloatHistogram, t1 int64, h2 *histogram.FloatHistogram, t2, t int64, isCounter bool) (*histogram.FloatHistogram, error) {
	switch t {
	case t1:
		return h1.Copy(), nil
	case t2:
		return h2.Copy(), nil
	}
	f := float64(t-t1) / float64(t2-t1)
	if isCounter && h2.DetectReset(h1) {
		return h2.Copy().Mul(f), nil
	}
	res := h2.Copy()
	_, c, err := res.Sub(h1)
	if err != nil {
		return nil, err
	}
	if c.BoundsReconciled {
		hw.info("mismatched custom buckets were reconciled during subtraction")
	}
	res.Mul(f)
	if _, c, err = res.Add(h1); err != nil {
		return nil, err
	}
	if c.BoundsReconciled {
		hw.info("mismatched custom buckets were reconciled during addition")
	}
	return res, nil
}

// combine adds (sign 1) or subtracts o into h, noting what Prometheus
// notes; false if the layouts cannot meet.
func (hw *hwindow) combine(h, o *histogram.FloatHistogram, sign float64) bool {
	var c histogram.Combined
	var err error
	what := "addition"
	if sign > 0 {
		_, c, err = h.Add(o)
	} else {
		what = "subtraction"
		_, c, err = h.Sub(o)
	}
	if err != nil {
		hw.mixedSchemas()
		return false
	}
	if c.BoundsReconciled {
		hw.info("mismatched custom buckets were reconciled during %s", what)
	}
	return true
}

// extendedRate is rate, increase or delta over an anchored or smoothed
// window of histograms: no extrapolation, but the value at each edge (the
// sample at or before the start when anchored; interpolated at the start
// and the end when smoothed), the right less the left, plus what each
// counter reset in between lost.
func (hw *hwindow) extendedRate(isCounter, isRate bool, rng int64) *histogram.FloatHistogram {
	h := hw.hs
	start, end := hw.w.start, hw.w.end
	last := len(h) - 1
	first := max(0, sort.Search(last, func(i int) bool { return h[i].T > start })-1)
	if hw.smoothed {
		last = sort.Search(last, func(i int) bool { return h[i].T >= end })
	}
	if h[last].T <= start || (hw.smoothed && h[first].T > end) {
		return nil
	}
	custom := h[first].H.UsesCustomBuckets()
	for _, p := range h[first : last+1] {
		if p.H.UsesCustomBuckets() != custom {
			hw.mixedSchemas()
			return nil
		}
		if isCounter && p.H.CounterResetHint == histogram.GaugeType {
			hw.warn("this native histogram metric is not a counter: %q", hw.name)
		}
	}
	left := h[first].H.Copy()
	var err error
	if hw.smoothed && h[first].T < start {
		if left, err = hw.interpolate(h[first].H, h[first].T, h[first+1].H, h[first+1].T, start, isCounter); err != nil {
			hw.mixedSchemas()
			return nil
		}
	}
	right := h[last].H.Copy()
	if hw.smoothed && last > 0 && h[last].T > end {
		if right, err = hw.interpolate(h[last-1].H, h[last-1].T, h[last].H, h[last].T, end, isCounter); err != nil {
			hw.mixedSchemas()
			return nil
		}
	}
	if !isCounter && (left.CounterResetHint != histogram.GaugeType || right.CounterResetHint != histogram.GaugeType) {
		hw.warn("this native histogram metric is not a gauge: %q", hw.name)
	}
	res := right.Copy()
	if !hw.combine(res, left, -1) {
		return nil
	}
	if isCounter {
		// The samples strictly between the edges, each compared with the
		// one before; the right edge with the last of them.
		from, prev := first+1, left
		if hw.smoothed && h[first].T < start && h[first+1].H.DetectReset(h[first].H) {
			// The left edge's interpolation already spans this reset.
			prev, from = h[first+1].H, from+1
		}
		to := last - 1
		if from <= to+1 {
			var corr *histogram.FloatHistogram
			add := func(x *histogram.FloatHistogram) bool {
				if corr == nil {
					corr = x.Copy()
					return true
				}
				return hw.combine(corr, x, 1)
			}
			for _, p := range h[from : to+1] {
				if p.H.DetectReset(prev) && !add(prev) {
					return nil
				}
				prev = p.H
			}
			if right.DetectReset(prev) && !add(prev) {
				return nil
			}
			if corr != nil && !hw.combine(res, corr, 1) {
				return nil
			}
		}
	}
	if isRate {
		res.Div(float64(rng) / 1000)
	}
	res.CounterResetHint = histogram.GaugeType
	return res.Compact()
}
