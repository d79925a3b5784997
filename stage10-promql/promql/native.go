package promql

import (
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// Native histograms take a path of their own through the engine. The
// streaming float paths (selectors, range functions, aggregations) check
// each storage series for histogram samples (HistogramSeries), and on
// meeting one give up with errHistograms; the caller starts over on the
// mixed path, which reads whole series of both kinds into a Matrix
// (Series.Floats and Series.Histograms) and works step by step. A query
// over floats only never leaves the float paths and pays one interface
// check per series.
//
// Histograms in a Matrix are shared (a selector hands the same sample to
// every step it covers): an operation copies before it changes one.

// errHistograms stops a float-only path that met a native histogram.
var errHistograms = errors.New("promql: series holds native histograms")

// histPoints is what histogram samples count against the sample limit:
// like Prometheus, a histogram counts by its size, a point per 16 bytes
// of buckets, at least one.
func histPoints(hs []HPoint) int {
	n := 0
	for _, p := range hs {
		n += histSize(p.H)
	}
	return n
}

func histSize(h *histogram.FloatHistogram) int {
	return 1 + (len(h.PositiveBuckets)+len(h.NegativeBuckets)+len(h.PositiveSpans)+len(h.NegativeSpans))/2
}

// isStaleHist: a histogram staleness marker, its sum the StaleNaN.
func isStaleHist(h *histogram.FloatHistogram) bool { return IsStaleNaN(h.Sum) }

// windowHists is the histograms in (mint, maxt], without staleness
// markers when dropStale.
func windowHists(hs []HPoint, mint, maxt int64, dropStale bool) []HPoint {
	if len(hs) == 0 {
		return nil
	}
	lo, _ := slices.BinarySearchFunc(hs, mint+1, func(p HPoint, t int64) int { return cmpInt(p.T, t) })
	hi, found := slices.BinarySearchFunc(hs, maxt, func(p HPoint, t int64) int { return cmpInt(p.T, t) })
	if found {
		hi++
	}
	if lo >= hi {
		return nil
	}
	out := hs[lo:hi:hi]
	if dropStale && slices.ContainsFunc(out, func(p HPoint) bool { return isStaleHist(p.H) }) {
		out = slices.DeleteFunc(slices.Clone(out), func(p HPoint) bool { return isStaleHist(p.H) })
	}
	return out
}

// windowHistsST is windowHists with the histograms' start times (sts,
// parallel to hs, nil if unknown) cut the same way.
func windowHistsST(hs []HPoint, sts []int64, mint, maxt int64, dropStale bool) ([]HPoint, []int64) {
	if sts == nil {
		return windowHists(hs, mint, maxt, dropStale), nil
	}
	lo, _ := slices.BinarySearchFunc(hs, mint+1, func(p HPoint, t int64) int { return cmpInt(p.T, t) })
	hi, found := slices.BinarySearchFunc(hs, maxt, func(p HPoint, t int64) int { return cmpInt(p.T, t) })
	if found {
		hi++
	}
	if lo >= hi {
		return nil, nil
	}
	out, outST := hs[lo:hi:hi], sts[lo:hi:hi]
	if dropStale && slices.ContainsFunc(out, func(p HPoint) bool { return isStaleHist(p.H) }) {
		var h2 []HPoint
		var s2 []int64
		for i, p := range out {
			if !isStaleHist(p.H) {
				h2, s2 = append(h2, p), append(s2, outST[i])
			}
		}
		out, outST = h2, s2
	}
	return out, outST
}

// sameTimes reports a time at which both a float and a histogram point
// exist.
func sameTimes(pts []Point, hs []HPoint) bool {
	i, j := 0, 0
	for i < len(pts) && j < len(hs) {
		switch {
		case pts[i].T < hs[j].T:
			i++
		case pts[i].T > hs[j].T:
			j++
		default:
			return true
		}
	}
	return false
}

// floatsOf reads a storage series' float samples whole.
func floatsOf(its *iterators, s StorageSeries) ([]Point, error) {
	samples, it, ok := its.samplesOf(s)
	if ok {
		return samples, nil
	}
	var out []Point
	for it.Next() {
		t, v := it.At()
		out = append(out, Point{T: t, V: v})
	}
	return out, it.Err()
}

// mixedSelector is vectorSelector over series that may hold histograms:
// at each step the latest sample of either kind within the lookback,
// unless it is a staleness marker.
func (ev *evaluator) mixedSelector(vs *parser.VectorSelector, sampleTime bool) (Matrix, error) {
	if vs.Smoothed {
		return ev.mixedSmoothed(vs)
	}
	ref := ev.refTimes(vs.At, vs.Offset)
	var out Matrix
	var its iterators
	err := ev.eachSeries(vs.LabelMatchers, ref.at(0)-ev.lookback, ref.at(ev.steps-1), func(s StorageSeries) error {
		fl, err := floatsOf(&its, s)
		if err != nil {
			return err
		}
		hs := histogramsOf(s)
		if ev.infoSelect && len(hs) > 0 {
			return errorf("info: the info series %s holds native histograms, not the float samples of an info metric", MetricString(s.Labels()))
		}
		if ev.statsSel[vs] {
			hs = statsHints(hs)
		}
		var pts []Point
		var hps []HPoint
		j, k := 0, 0
		for i := 0; i < ev.steps; i++ {
			if i%ctxEvery == ctxEvery-1 {
				if err := ev.checkCtx(); err != nil {
					return err
				}
			}
			t := ref.at(i)
			for j < len(fl) && fl[j].T <= t {
				j++
			}
			for k < len(hs) && hs[k].T <= t {
				k++
			}
			useHist := k > 0 && (j == 0 || hs[k-1].T > fl[j-1].T)
			switch {
			case useHist:
				h := hs[k-1]
				if h.T <= t-ev.lookback || isStaleHist(h.H) {
					continue
				}
				if sampleTime {
					pts = append(pts, Point{T: ev.ts(i), V: float64(h.T) / 1000})
				} else {
					hps = append(hps, HPoint{T: ev.ts(i), H: h.H})
				}
			case j > 0:
				p := fl[j-1]
				if p.T <= t-ev.lookback || IsStaleNaN(p.V) {
					continue
				}
				v := p.V
				if sampleTime {
					v = float64(p.T) / 1000
				}
				pts = append(pts, Point{T: ev.ts(i), V: v})
			}
		}
		if len(pts) == 0 && len(hps) == 0 {
			return nil
		}
		out = append(out, Series{Metric: s.Labels(), Floats: pts, Histograms: hps})
		return ev.reserve(len(pts) + histPoints(hps))
	})
	return out, err
}

// FormatHistogram prints a histogram in the notation of the test
// scripts: {{schema:0 count:4 sum:5 z_bucket:1 z_bucket_w:0.001
// offset:1 buckets:[1 2] n_offset:0 n_buckets:[1]}}, fields at their
// zero value left out, custom_values:[…] for custom buckets,
// counter_reset_hint:… unless unknown.
func FormatHistogram(h *histogram.FloatHistogram) string {
	var b strings.Builder
	f := func(v float64) string { return FormatValue(v) }
	list := func(vs []float64) string {
		s := make([]string, len(vs))
		for i, v := range vs {
			s[i] = f(v)
		}
		return "[" + strings.Join(s, " ") + "]"
	}
	// Spans are printed as an offset and a list with the gaps filled by
	// zeros: the notation has one span per side.
	side := func(spans []histogram.Span, counts []float64) (int32, []float64) {
		var out []float64
		var off, next int32
		k := 0
		for n, sp := range spans {
			if n == 0 {
				off, next = sp.Offset, sp.Offset
			} else {
				for g := int32(0); g < sp.Offset; g++ {
					out = append(out, 0)
				}
				next += sp.Offset
			}
			for l := uint32(0); l < sp.Length && k < len(counts); l++ {
				out = append(out, counts[k])
				k++
				next++
			}
		}
		return off, out
	}
	b.WriteString("{{")
	parts := []string{}
	if h.Schema != 0 {
		parts = append(parts, "schema:"+strconv.Itoa(int(h.Schema)))
	}
	parts = append(parts, "count:"+f(h.Count), "sum:"+f(h.Sum))
	if h.ZeroCount != 0 {
		parts = append(parts, "z_bucket:"+f(h.ZeroCount))
	}
	if h.ZeroThreshold != 0 {
		parts = append(parts, "z_bucket_w:"+f(h.ZeroThreshold))
	}
	if off, bs := side(h.PositiveSpans, h.PositiveBuckets); len(bs) > 0 {
		if off != 0 {
			parts = append(parts, "offset:"+strconv.Itoa(int(off)))
		}
		parts = append(parts, "buckets:"+list(bs))
	}
	if off, bs := side(h.NegativeSpans, h.NegativeBuckets); len(bs) > 0 {
		if off != 0 {
			parts = append(parts, "n_offset:"+strconv.Itoa(int(off)))
		}
		parts = append(parts, "n_buckets:"+list(bs))
	}
	if h.UsesCustomBuckets() {
		parts = append(parts, "custom_values:"+list(h.CustomValues))
	}
	switch h.CounterResetHint {
	case histogram.CounterReset:
		parts = append(parts, "counter_reset_hint:reset")
	case histogram.NotCounterReset:
		parts = append(parts, "counter_reset_hint:not_reset")
	case histogram.GaugeType:
		parts = append(parts, "counter_reset_hint:gauge")
	}
	b.WriteString(strings.Join(parts, " "))
	b.WriteString("}}")
	return b.String()
}

// unknownResets is a subquery's histograms with "reset" and "not a
// reset" hints made unknown, as Prometheus does: the subquery's steps may
// skip samples (missing a reset) or repeat one (seeing a reset twice), so
// functions over it detect resets from the counts, as for floats.
func unknownResets(hs []HPoint) []HPoint {
	for i, p := range hs {
		if h := p.H.CounterResetHint; h == histogram.CounterReset || h == histogram.NotCounterReset {
			c := *p.H // the buckets are shared, only the hint changes
			c.CounterResetHint = histogram.UnknownCounterReset
			hs[i].H = &c
		}
	}
	return hs
}

// mixedSmoothed is a smoothed selector over series that may hold
// histograms: at each step the samples within a lookback either side;
// floats interpolate as in smoothedSelector, histograms likewise (a
// counter that reset in between restarts from zero, the last one is
// carried forward with an unknown reset hint); a series with both kinds
// there has no value, and a warning.
func (ev *evaluator) mixedSmoothed(vs *parser.VectorSelector) (Matrix, error) {
	ref := ev.refTimes(vs.At, vs.Offset)
	var out Matrix
	var its iterators
	pos := vs.PositionRange()
	err := ev.eachSeries(vs.LabelMatchers, ref.at(0)-ev.lookback, ref.at(ev.steps-1)+ev.lookback, func(s StorageSeries) error {
		fl, err := floatsOf(&its, s)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(fl, func(p Point) bool { return IsStaleNaN(p.V) }) {
			fl = slices.DeleteFunc(slices.Clone(fl), func(p Point) bool { return IsStaleNaN(p.V) })
		}
		hs := histogramsOf(s)
		hw := &hwindow{name: s.Labels().Name(), pos: pos, ev: ev}
		var pts []Point
		var hps []HPoint
		for i := 0; i < ev.steps; i++ {
			t := ref.at(i)
			lo, hi := windowBounds(fl, t-ev.lookback, t+ev.lookback)
			win := fl[lo:hi]
			hwin := windowHists(hs, t-ev.lookback, t+ev.lookback, true)
			switch {
			case len(win) > 0 && len(hwin) > 0:
				hw.mixedWarning()
			case len(hwin) > 0:
				k := sort.Search(len(hwin), func(k int) bool { return hwin[k].T >= t })
				switch {
				case k < len(hwin) && hwin[k].T == t:
					hps = append(hps, HPoint{T: ev.ts(i), H: hwin[k].H})
				case k > 0 && k < len(hwin):
					a, b := hwin[k-1], hwin[k]
					if a.H.UsesCustomBuckets() != b.H.UsesCustomBuckets() {
						hw.mixedSchemas()
						continue
					}
					counter := a.H.CounterResetHint != histogram.GaugeType || b.H.CounterResetHint != histogram.GaugeType
					h, err := hw.interpolate(a.H, a.T, b.H, b.T, t, counter)
					if err != nil {
						hw.mixedSchemas()
						continue
					}
					hps = append(hps, HPoint{T: ev.ts(i), H: h})
				case k > 0:
					h := hwin[k-1].H.Copy()
					h.CounterResetHint = histogram.UnknownCounterReset
					hps = append(hps, HPoint{T: ev.ts(i), H: h})
				}
			case len(win) > 0:
				j, exact := slices.BinarySearchFunc(win, t, cmpPointTime)
				switch {
				case exact:
					pts = append(pts, Point{T: ev.ts(i), V: win[j].V})
				case j > 0 && j < len(win):
					pts = append(pts, Point{T: ev.ts(i), V: interpolate(win[j-1], win[j], t, false)})
				case j > 0:
					pts = append(pts, Point{T: ev.ts(i), V: win[j-1].V})
				}
			}
		}
		if len(pts) == 0 && len(hps) == 0 {
			return nil
		}
		out = append(out, Series{Metric: s.Labels(), Floats: pts, Histograms: hps})
		return ev.reserve(len(pts) + histPoints(hps))
	})
	return out, err
}
