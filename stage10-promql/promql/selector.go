package promql

import (
	"slices"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// rawSeries is a series as read from storage (or produced by a subquery):
// its samples in time order.
type rawSeries struct {
	labels   model.Labels
	samples  []Point
	hists    []HPoint // native histogram samples, nil for a float series
	hsts     []int64  // their start times (nil: unknown)
	dropName bool     // a subquery's series marked for delayed name removal
}

// sampleSlicer is an optional fast path a StorageSeries may offer: the
// samples as a slice the engine may read but not modify. An Iterator may
// offer it too, for the samples it holds decoded and has not returned yet
// (valid until the iterator is handed back for reuse): reading the slice
// saves two interface calls and a copy per sample.
type sampleSlicer interface{ Samples() []model.Sample }

// load reads the series matching ms with samples in (mint, maxt], whole:
// for a range vector that is itself the result (an instant query of x[5m])
// or absent_over_time. Functions over ranges stream instead (rangeSeries).
// Range selectors never see stale markers (dropStale); instant selectors
// need them to stop looking back.
func (ev *evaluator) load(ms []*index.Matcher, mint, maxt int64, dropStale bool) ([]rawSeries, error) {
	var out []rawSeries
	err := ev.loadEach(ms, mint, maxt, dropStale, func(s rawSeries) error {
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// loadEach is load handing each series to fn as it is read, held (its
// points counted against the limits) when fn gets it: a caller done with
// a series before the next releases it, and holds only one series at a
// time (rangeCallMixed over a matrix selector).
func (ev *evaluator) loadEach(ms []*index.Matcher, mint, maxt int64, dropStale bool, fn func(rawSeries) error) error {
	set := ev.st.Select(ev.ctx, mint+1, maxt, ms...)
	var its iterators // pts are copies: each iterator can be reused
	for set.Next() {
		s := set.At()
		var pts []Point
		if sl, ok := s.(sampleSlicer); ok {
			pts = sl.Samples()
			lo, _ := slices.BinarySearchFunc(pts, mint+1, func(p Point, t int64) int { return cmpInt(p.T, t) })
			hi, found := slices.BinarySearchFunc(pts, maxt, func(p Point, t int64) int { return cmpInt(p.T, t) })
			if found {
				hi++
			}
			pts = pts[lo:hi:hi]
			if dropStale && slices.ContainsFunc(pts, func(p Point) bool { return IsStaleNaN(p.V) }) {
				pts = slices.DeleteFunc(slices.Clone(pts), func(p Point) bool { return IsStaleNaN(p.V) })
			}
		} else {
			it := its.of(s)
			room := ev.remaining()
			for it.Next() {
				t, v := it.At()
				if t <= mint || t > maxt || (dropStale && IsStaleNaN(v)) {
					continue
				}
				if len(pts) >= room {
					return ev.hold(room + 1) // over a limit: fails, naming which
				}
				pts = append(pts, Point{T: t, V: v})
			}
			if err := it.Err(); err != nil {
				return err
			}
		}
		hs, hsts := windowHistsST(histogramsOf(s), histogramSTsOf(s), mint, maxt, dropStale)
		if len(pts) == 0 && len(hs) == 0 {
			continue
		}
		if err := ev.hold(len(pts) + histPoints(hs)); err != nil {
			return err
		}
		if err := fn(rawSeries{labels: s.Labels(), samples: pts, hists: hs, hsts: hsts}); err != nil {
			return err
		}
	}
	return set.Err()
}

// eachSeries calls fn for every series matching ms with samples in
// (mint, maxt], one at a time, as storage returns them (sorted by labels).
func (ev *evaluator) eachSeries(ms []*index.Matcher, mint, maxt int64, fn func(StorageSeries) error) error {
	set := ev.st.Select(ev.ctx, mint+1, maxt, ms...)
	for k := 0; set.Next(); k++ {
		if k%256 == 0 {
			if err := ev.checkCtx(); err != nil {
				return err
			}
		}
		if err := fn(set.At()); err != nil {
			return err
		}
	}
	return set.Err()
}

// vectorSelector evaluates foo{…} at every step: the latest sample in
// (t - lookback, t], unless that sample is a staleness marker. With
// sampleTime, the value is the sample's own timestamp in seconds (what
// timestamp(foo) returns) instead of its value.
func (ev *evaluator) vectorSelector(vs *parser.VectorSelector, sampleTime bool) (Matrix, error) {
	var out Matrix
	base, rbase := *ev.held, *ev.reserved
	err := ev.streamSelector(vs, sampleTime, true, func(l model.Labels, _ bool, pts []Point) error {
		out = append(out, Series{Metric: l, Floats: pts})
		return ev.reserve(len(pts))
	})
	if err == errHistograms {
		// A series holds native histograms: start over on the path
		// that reads both kinds.
		*ev.held, *ev.reserved = base, rbase
		return ev.mixedSelector(vs, sampleTime)
	}
	return out, err
}

// emitFunc takes a series a streaming evaluation produced: its labels,
// whether its name is marked for delayed removal, its points.
type emitFunc func(l model.Labels, dropName bool, pts []Point) error

// ctxEvery is how many steps a step loop runs between context checks: a
// subquery's grid may have billions of steps, and a check costs a clock
// read.
const ctxEvery = 1 << 12

// streamSelector is vectorSelector one series at a time: each series is
// read straight from its iterator (or slice), keeping only the latest
// sample, and emitted with its points. With keep false, pts is a buffer
// reused for the next series, so emit must not retain it.
//
// A series' points are allocated no faster than the limits allow: at most
// what the query may still hold (remaining), and the series is refused as
// soon as it would need more.
func (ev *evaluator) streamSelector(vs *parser.VectorSelector, sampleTime, keep bool, emit emitFunc) error {
	if vs.Smoothed {
		return ev.smoothedSelector(vs, emit)
	}
	ref := ev.refTimes(vs.At, vs.Offset)
	var scratch []Point
	var its iterators
	return ev.eachSeries(vs.LabelMatchers, ref.at(0)-ev.lookback, ref.at(ev.steps-1), func(s StorageSeries) error {
		if histogramsOf(s) != nil {
			return errHistograms
		}
		var pts []Point
		if !keep {
			pts = scratch[:0]
		}
		room := ev.remaining()
		over := false
		point := func(i int, last Point) {
			if last.T <= ref.at(i)-ev.lookback || IsStaleNaN(last.V) {
				return
			}
			if pts == nil {
				pts = make([]Point, 0, min(ev.steps-i, room+1))
			}
			if len(pts) >= room {
				over = true
				return
			}
			v := last.V
			if sampleTime {
				v = float64(last.T) / 1000
			}
			pts = append(pts, Point{T: ev.ts(i), V: v})
		}
		var err error
		samples, it, ok := its.samplesOf(s)
		if ok {
			j := 0 // samples[:j] are at or before the current reference time
			for i := 0; i < ev.steps && !over; i++ {
				if i%ctxEvery == ctxEvery-1 {
					if err = ev.checkCtx(); err != nil {
						break
					}
				}
				t := ref.at(i)
				for j < len(samples) && samples[j].T <= t {
					j++
				}
				if j > 0 {
					point(i, samples[j-1])
				}
			}
		} else {
			var last, next Point
			have, ahead := false, false
			for i := 0; i < ev.steps && !over; i++ {
				if i%ctxEvery == ctxEvery-1 {
					if err = ev.checkCtx(); err != nil {
						break
					}
				}
				t := ref.at(i)
				for {
					if !ahead {
						if !it.Next() {
							break
						}
						next.T, next.V = it.At()
						ahead = true
					}
					if next.T > t {
						break
					}
					last, have, ahead = next, true, false
				}
				if have {
					point(i, last)
				}
			}
		}
		if it != nil && err == nil {
			err = it.Err()
		}
		if err != nil {
			return err
		}
		if over {
			return ev.hold(room + 1) // over a limit: fails, naming which
		}
		if !keep {
			scratch = pts
		}
		if len(pts) == 0 {
			return nil
		}
		return emit(s.Labels(), false, pts)
	})
}

// smoothedSelector is a smoothed instant selector (foo smoothed): at each
// step the series interpolated linearly between the samples either side
// of the step's time, each at most a lookback away; the last sample
// carried forward if none is after it yet; nothing before the first.
func (ev *evaluator) smoothedSelector(vs *parser.VectorSelector, emit emitFunc) error {
	ref := ev.refTimes(vs.At, vs.Offset)
	var its iterators
	return ev.eachSeries(vs.LabelMatchers, ref.at(0)-ev.lookback, ref.at(ev.steps-1)+ev.lookback, func(s StorageSeries) error {
		if histogramsOf(s) != nil {
			return errHistograms
		}
		samples, it, ok := its.samplesOf(s)
		if !ok {
			for it.Next() {
				t, v := it.At()
				samples = append(samples, Point{T: t, V: v})
			}
		}
		if it != nil {
			if err := it.Err(); err != nil {
				return err
			}
		}
		if slices.ContainsFunc(samples, func(p Point) bool { return IsStaleNaN(p.V) }) {
			samples = slices.DeleteFunc(slices.Clone(samples), func(p Point) bool { return IsStaleNaN(p.V) })
		}
		var pts []Point
		room := ev.remaining()
		for i := 0; i < ev.steps; i++ {
			if i%ctxEvery == ctxEvery-1 {
				if err := ev.checkCtx(); err != nil {
					return err
				}
			}
			if len(pts) >= room {
				return ev.hold(room + 1) // over a limit: fails, naming which
			}
			t := ref.at(i)
			lo, _ := slices.BinarySearchFunc(samples, t-ev.lookback+1, cmpPointTime)
			hi, _ := slices.BinarySearchFunc(samples, t+ev.lookback+1, cmpPointTime)
			win := samples[lo:hi]
			j, exact := slices.BinarySearchFunc(win, t, cmpPointTime)
			var v float64
			switch {
			case exact:
				v = win[j].V
			case j > 0 && j < len(win):
				v = interpolate(win[j-1], win[j], t, false)
			case j > 0:
				v = win[j-1].V
			default:
				continue
			}
			pts = append(pts, Point{T: ev.ts(i), V: v})
		}
		if len(pts) == 0 {
			return nil
		}
		return emit(s.Labels(), false, pts)
	})
}

func cmpPointTime(p Point, t int64) int { return cmpInt(p.T, t) }

// rangeInput is the argument of a range-vector function, ready to slide:
// the series and, for every step, the window (ref.at(i) - rng, ref.at(i)].
type rangeInput struct {
	series []rawSeries
	rng    int64
	ref    refGrid
	// fromSelector: the series came from a matrix selector, so they keep
	// the selector's matchers for absent_over_time's labels.
	selector *parser.VectorSelector
	// extended: the selector is anchored or smoothed, and the series
	// reach as far beyond the windows as that reads (evaluator.extension).
	extended bool
}

// window returns the bounds of step i's window in samples, searching from
// scratch (sliding callers keep their own cursors instead).
func (r *rangeInput) window(samples []Point, i, _ int) (lo, hi int) {
	t := r.ref.at(i)
	hi, _ = slices.BinarySearchFunc(samples, t+1, func(p Point, t int64) int { return cmpInt(p.T, t) })
	lo, _ = slices.BinarySearchFunc(samples[:hi], t-r.rng+1, func(p Point, t int64) int { return cmpInt(p.T, t) })
	return lo, hi
}

// rangeArg evaluates a matrix selector or subquery into a rangeInput.
func (ev *evaluator) rangeArg(e parser.Expr) (*rangeInput, error) {
	switch n := parser.UnwrapParens(e).(type) {
	case *parser.MatrixSelector:
		vs := n.VectorSelector
		r := &rangeInput{rng: n.Range.Milliseconds(), ref: ev.refTimes(vs.At, vs.Offset), selector: vs}
		left, right := ev.extension(vs)
		r.extended = left != 0
		var err error
		r.series, err = ev.load(vs.LabelMatchers, r.ref.at(0)-r.rng-left, r.ref.at(ev.steps-1)+right, true)
		return r, err
	case *parser.SubqueryExpr:
		return ev.subquery(n)
	}
	return nil, errorf("expected a range vector, got %T", e)
}

// subquery evaluates expr[range:step] as a range query over every window
// the outer steps need. Its own steps are aligned to multiples of step (in
// absolute time), so the same subquery gives the same points whatever the
// outer query's start: Prometheus does the same.
func (ev *evaluator) subquery(sq *parser.SubqueryExpr) (*rangeInput, error) {
	r := &rangeInput{rng: sq.Range.Milliseconds(), ref: ev.refTimes(sq.At, sq.Offset)}
	step := sq.Step.Milliseconds()
	if step == 0 {
		step = ev.subStep
	}
	lo, hi := r.ref.at(0)-r.rng, r.ref.at(ev.steps-1)
	start := lo / step * step
	if start < lo {
		start += step
	}
	c := ev.child(start, hi, step)
	if c.steps == 0 {
		return r, nil
	}
	// Every node over the subquery's grid may keep a few words a step
	// (transposes, counts, scalars), whether or not it has data: a grid
	// that could not afford them is refused before any is allocated,
	// not after (vector(1)[1y:1ms] has 31.5 billion steps).
	if err := c.needSteps(gridBytes); err != nil {
		return nil, err
	}
	m, err := c.evalVector(sq.Expr)
	if err != nil {
		return nil, err
	}
	// m's points stay counted against the limit (c.evalVector counted
	// them) until the caller's evalVector lets them go.
	r.series = make([]rawSeries, len(m))
	for i, s := range m {
		r.series[i] = rawSeries{labels: s.Metric, samples: s.Floats, hists: unknownResets(s.Histograms), dropName: s.DropName}
	}
	return r, nil
}

// merger assembles a result Matrix from series whose label sets may
// collide, as they do once a function drops __name__ (rate of a and of b
// with otherwise equal labels). Collisions at different steps merge into one
// series; at the same step they are an error, as in Prometheus.
type merger struct {
	byHash map[uint64][]int
	out    Matrix
}

func newMerger() *merger { return &merger{byHash: map[uint64][]int{}} }

func (mg *merger) add(l model.Labels, dropName bool, pts []Point) error {
	return mg.addMixed(l, dropName, pts, nil)
}

// addMixed is add for a series that may have histogram points too.
func (mg *merger) addMixed(l model.Labels, dropName bool, pts []Point, hs []HPoint) error {
	if len(pts) == 0 && len(hs) == 0 {
		return nil
	}
	h := l.Hash()
	for _, i := range mg.byHash[h] {
		if mg.out[i].Metric.Equal(l) {
			o := &mg.out[i]
			merged, ok := mergeByTime(o.Floats, pts, pointTime)
			if ok && len(hs) > 0 {
				var mh []HPoint
				mh, ok = mergeByTime(o.Histograms, hs, hpointTime)
				o.Histograms = mh
			}
			if ok && len(o.Histograms) > 0 && (len(pts) > 0 || len(hs) > 0) {
				ok = !sameTimes(merged, o.Histograms)
			}
			if !ok {
				return errorf("vector cannot contain metrics with the same labelset")
			}
			o.Floats = merged
			return nil
		}
	}
	mg.byHash[h] = append(mg.byHash[h], len(mg.out))
	mg.out = append(mg.out, Series{Metric: l, Floats: pts, Histograms: hs, DropName: dropName})
	return nil
}

func (mg *merger) matrix() Matrix { return mg.out }

// mergeByTime merges two time-sorted lists of points (floats or
// histograms; at gives a point's time); false if a time repeats.
func mergeByTime[P any](a, b []P, at func(P) int64) ([]P, bool) {
	out := make([]P, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch ta, tb := at(a[i]), at(b[j]); {
		case ta < tb:
			out = append(out, a[i])
			i++
		case ta > tb:
			out = append(out, b[j])
			j++
		default:
			return nil, false
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...), true
}

func pointTime(p Point) int64   { return p.T }
func hpointTime(p HPoint) int64 { return p.T }
