package promql

import (
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// histogramFuncs are the functions of one native histogram sample:
// histogram_count(h) and the others. They return nothing for floats.
var histogramFuncs = map[string]func(h *histogram.FloatHistogram) float64{
	"histogram_count":  func(h *histogram.FloatHistogram) float64 { return h.Count },
	"histogram_sum":    func(h *histogram.FloatHistogram) float64 { return h.Sum },
	"histogram_avg":    func(h *histogram.FloatHistogram) float64 { return h.Sum / h.Count },
	"histogram_stddev": (*histogram.FloatHistogram).StdDev,
	"histogram_stdvar": (*histogram.FloatHistogram).StdVar,
}

// histogramCall applies one of histogramFuncs to every histogram sample
// of its argument; the result loses the metric name.
func (ev *evaluator) histogramCall(c *parser.Call, f func(h *histogram.FloatHistogram) float64) (Matrix, error) {
	m, err := ev.evalVector(c.Args[0])
	if err != nil {
		return nil, err
	}
	out := m[:0]
	for _, s := range m {
		if len(s.Histograms) == 0 {
			continue
		}
		pts := make([]Point, len(s.Histograms))
		for i, h := range s.Histograms {
			pts[i] = Point{T: h.T, V: f(h.H)}
		}
		s.Floats, s.Histograms = pts, nil
		out = append(out, s)
	}
	return ev.relabel(out, ev.drop)
}

// splitNative separates the histogram samples of m (returned as their
// own series) from its floats (m's series keep only those), for the
// functions that read classic and native histograms side by side. A
// native histogram with the same labels as a classic histogram's buckets
// (all but le) at the same step is neither: Prometheus cannot tell which
// to use, and warns.
func (ev *evaluator) splitNative(m Matrix, pos parser.PosRange) (classic, native Matrix) {
	for _, s := range m {
		if len(s.Histograms) > 0 {
			native = append(native, Series{Metric: s.Metric, Histograms: s.Histograms, DropName: s.DropName})
		}
		if len(s.Floats) > 0 {
			s.Histograms = nil
			classic = append(classic, s)
		}
	}
	if len(native) == 0 || len(classic) == 0 {
		return classic, native
	}
	byKey := map[string][]int{} // classic bucket series by their labels without le
	for i, s := range classic {
		if s.Metric.Has("le") {
			k := s.Metric.Without("le").String()
			byKey[k] = append(byKey[k], i)
		}
	}
	for ni, s := range native {
		buckets := byKey[s.Metric.String()]
		if len(buckets) == 0 {
			continue
		}
		kept := s.Histograms[:0:0]
		for _, h := range s.Histograms {
			clash := false
			for _, bi := range buckets {
				for _, p := range classic[bi].Floats {
					clash = clash || p.T == h.T
				}
			}
			if !clash {
				kept = append(kept, h)
				continue
			}
			name := ""
			if ev.features.DelayedNameRemoval {
				name = s.Metric.Name()
			}
			ev.annos.add(warning(pos, "vector contains a mix of classic and native histograms%s", forMetric(name)))
			for _, bi := range buckets {
				fl := classic[bi].Floats[:0:0]
				for _, p := range classic[bi].Floats {
					if p.T != h.T {
						fl = append(fl, p)
					}
				}
				classic[bi].Floats = fl
			}
		}
		native[ni].Histograms = kept
	}
	return classic, native
}

// nativeName is the metric name the annotations about a native
// histogram name: none unless names are removed late.
func (ev *evaluator) nativeName(l model.Labels) string {
	if ev.features.DelayedNameRemoval {
		return l.Name()
	}
	return ""
}

// quantileNote adds histogram_quantile's infos about NaN observations.
func (ev *evaluator) quantileNote(note histogram.NaNNote, l model.Labels, pos parser.PosRange) {
	switch note {
	case histogram.NaNSkew:
		ev.annos.add(info(pos, "input to histogram_quantile has NaN observations, result is skewed higher%s", forMetric(ev.nativeName(l))))
	case histogram.NaNResult:
		ev.annos.add(info(pos, "input to histogram_quantile has NaN observations, result is NaN%s", forMetric(ev.nativeName(l))))
	}
}

// nativeFraction is histogram_fraction over the native histograms.
func (ev *evaluator) nativeFraction(native Matrix, lower, upper []float64, pos parser.PosRange, mg *merger) error {
	for _, s := range native {
		pts := make([]Point, 0, len(s.Histograms))
		for _, h := range s.Histograms {
			i := ev.step(h.T)
			f, nans := h.H.Fraction(lower[i], upper[i])
			if nans {
				ev.annos.add(info(pos, "input to histogram_fraction has NaN observations, which are excluded from all fractions%s", forMetric(ev.nativeName(s.Metric))))
			}
			pts = append(pts, Point{T: h.T, V: f})
		}
		l, drop := ev.nameless(s.Metric, s.DropName)
		if err := mg.add(l, drop, pts); err != nil {
			return err
		}
	}
	return nil
}
