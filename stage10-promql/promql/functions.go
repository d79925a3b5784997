package promql

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// call evaluates a function returning an instant vector.
func (ev *evaluator) call(c *parser.Call) (Matrix, error) {
	name := c.Func.Name
	if err := checkExtended(c); err != nil {
		return nil, err
	}
	if rf, ok := rangeFuncs[name]; ok {
		return ev.rangeCall(c, rf)
	}
	if f, ok := simpleFuncs[name]; ok {
		return ev.mapCall(c, func(v float64, _ int) (float64, bool) { return f(v), true })
	}
	switch name {
	case "round":
		to := []float64(nil)
		if len(c.Args) > 1 {
			var err error
			if to, err = ev.evalScalar(c.Args[1]); err != nil {
				return nil, err
			}
		}
		return ev.mapCall(c, func(v float64, i int) (float64, bool) {
			inv := 1.0
			if to != nil {
				inv = 1 / to[i]
			}
			return math.Floor(v*inv+0.5) / inv, true
		})
	case "clamp", "clamp_min", "clamp_max":
		a, err := ev.evalScalar(c.Args[1])
		if err != nil {
			return nil, err
		}
		var b []float64
		if name == "clamp" {
			if b, err = ev.evalScalar(c.Args[2]); err != nil {
				return nil, err
			}
		}
		return ev.mapCall(c, func(v float64, i int) (float64, bool) {
			switch name {
			case "clamp_min":
				return math.Max(v, a[i]), true
			case "clamp_max":
				return math.Min(v, a[i]), true
			}
			if b[i] < a[i] { // clamp(v, min, max) with max < min is empty
				return 0, false
			}
			return math.Max(a[i], math.Min(b[i], v)), true
		})
	case "day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute", "month", "year":
		return ev.dateCall(c)
	case "timestamp":
		var m Matrix
		var err error
		if vs, ok := parser.UnwrapParens(c.Args[0]).(*parser.VectorSelector); ok {
			m, err = ev.vectorSelector(vs, true) // the sample's own time, not the step's
		} else if m, err = ev.evalVector(c.Args[0]); err == nil {
			for _, s := range m {
				for j := range s.Floats {
					s.Floats[j].V = float64(s.Floats[j].T) / 1000
				}
			}
		}
		if err != nil {
			return nil, err
		}
		return ev.relabel(m, ev.drop)
	case "start_timestamp":
		m, err := ev.startTimestamps(c.Args[0])
		if err != nil {
			return nil, err
		}
		return ev.relabel(m, ev.drop)
	case "vector":
		sc, err := ev.evalScalar(c.Args[0])
		if err != nil {
			return nil, err
		}
		if err := ev.reserve(len(sc)); err != nil {
			return nil, err
		}
		pts := make([]Point, len(sc))
		for i, v := range sc {
			pts[i] = Point{T: ev.ts(i), V: v}
		}
		return Matrix{{Floats: pts}}, nil
	case "sort", "sort_desc", "sort_by_label", "sort_by_label_desc":
		return ev.sortCall(c)
	case "absent":
		return ev.absent(c)
	case "absent_over_time":
		return ev.absentOverTime(c)
	case "histogram_quantile", "histogram_quantiles":
		return ev.histogramQuantile(c)
	case "histogram_fraction":
		return ev.histogramFraction(c)
	case "info":
		return ev.info(c)
	case "histogram_avg", "histogram_count", "histogram_sum", "histogram_stddev", "histogram_stdvar":
		return ev.histogramCall(c, histogramFuncs[name])
	case "label_replace":
		return ev.labelReplace(c)
	case "label_join":
		return ev.labelJoin(c)
	}
	return nil, errorf("function %q is not implemented", name)
}

// scalarCall evaluates a function returning a scalar.
func (ev *evaluator) scalarCall(c *parser.Call) ([]float64, error) {
	if err := ev.need(ev.steps, 0); err != nil {
		return nil, err
	}
	out := make([]float64, ev.steps)
	switch c.Func.Name {
	case "time":
		for i := range out {
			out[i] = float64(ev.ts(i)) / 1000
		}
	case "pi":
		for i := range out {
			out[i] = math.Pi
		}
	case "start", "end", "range", "step":
		// The query's own range and step, the same at every step (a
		// subquery's grid does not change them).
		v := map[string]int64{"start": ev.qStart, "end": ev.qEnd, "range": ev.qEnd - ev.qStart, "step": ev.qStep}[c.Func.Name]
		if c.Func.Name == "step" && ev.qStart == ev.qEnd {
			v = 0
		}
		for i := range out {
			out[i] = float64(v) / 1000
		}
	case "min_of", "max_of":
		a, err := ev.evalScalar(c.Args[0])
		if err != nil {
			return nil, err
		}
		b, err := ev.evalScalar(c.Args[1])
		if err != nil {
			return nil, err
		}
		f := math.Min
		if c.Func.Name == "max_of" {
			f = math.Max
		}
		for i := range out {
			out[i] = f(a[i], b[i])
		}
	case "scalar":
		m, err := ev.evalVector(c.Args[0])
		if err != nil {
			return nil, err
		}
		if err := ev.needSteps(8); err != nil {
			return nil, err
		}
		cnt := make([]int, ev.steps)
		for i := range out {
			out[i] = math.NaN()
		}
		for _, s := range m {
			for _, p := range s.Floats {
				k := ev.step(p.T)
				cnt[k]++
				out[k] = p.V
			}
		}
		for i, n := range cnt {
			if n != 1 { // scalar() of anything but exactly one sample is NaN
				out[i] = math.NaN()
			}
		}
	default:
		return nil, errorf("function %q is not implemented", c.Func.Name)
	}
	return out, nil
}

var simpleFuncs = map[string]func(float64) float64{
	"abs": math.Abs, "ceil": math.Ceil, "floor": math.Floor, "exp": math.Exp, "ln": math.Log,
	"log2": math.Log2, "log10": math.Log10, "sqrt": math.Sqrt,
	"acos": math.Acos, "acosh": math.Acosh, "asin": math.Asin, "asinh": math.Asinh, "atan": math.Atan,
	"atanh": math.Atanh, "cos": math.Cos, "cosh": math.Cosh, "sin": math.Sin, "sinh": math.Sinh,
	"tan": math.Tan, "tanh": math.Tanh,
	// One factor, not v·180/π: that overflows for v near MaxFloat64.
	"deg": func(v float64) float64 { return v * (180 / math.Pi) },
	"rad": func(v float64) float64 { return v * (math.Pi / 180) },
	"sgn": func(v float64) float64 {
		switch {
		case v < 0:
			return -1
		case v > 0:
			return 1
		}
		return v // 0 stays 0, NaN stays NaN
	},
}

// mapCall applies f to every sample of the first argument (f gets the step
// index for step-varying scalar arguments) and drops __name__: the result
// is no longer the metric the name describes.
func (ev *evaluator) mapCall(c *parser.Call, f func(v float64, step int) (float64, bool)) (Matrix, error) {
	m, err := ev.evalVector(c.Args[0])
	if err != nil {
		return nil, err
	}
	for k := range m {
		pts := m[k].Floats[:0]
		for _, p := range m[k].Floats {
			if v, ok := f(p.V, ev.step(p.T)); ok {
				pts = append(pts, Point{T: p.T, V: v})
			}
		}
		m[k].Floats = pts
		m[k].Histograms = nil // math on floats ignores histograms, as in Prometheus
	}
	return ev.relabel(m, ev.drop)
}

// relabel rewrites every series' labels (and its mark for delayed name
// removal) and merges the result, failing if two series now collide at
// the same step.
//
// It checks the context every 1,024 series: an expression nested
// thousands deep is a relabel per level.
func (ev *evaluator) relabel(m Matrix, f func(s Series) (model.Labels, bool)) (Matrix, error) {
	return ev.relabelMade(m, f, false)
}

// relabelMade is relabel for functions whose labels are new strings
// (label_replace, label_join): with made, each label set counts against
// the memory limit (madeLabels).
func (ev *evaluator) relabelMade(m Matrix, f func(s Series) (model.Labels, bool), made bool) (Matrix, error) {
	mg := newMerger()
	for i, s := range m {
		if i%1024 == 1023 {
			if err := ev.checkCtx(); err != nil {
				return nil, err
			}
		}
		l, drop := f(s)
		if made {
			if err := ev.madeLabels(l); err != nil {
				return nil, err
			}
		}
		if err := mg.addMixed(l, drop, s.Floats, s.Histograms); err != nil {
			return nil, err
		}
	}
	return mg.matrix(), nil
}

// drop is relabel's function for a result that is no longer the metric:
// its name goes (nameless).
func (ev *evaluator) drop(s Series) (model.Labels, bool) { return ev.nameless(s.Metric, s.DropName) }

// setLabel is label_replace's and label_join's relabelling: the series
// keeps its mark for delayed name removal, unless the label set is the
// name itself, which then stays.
func setLabel(s Series, name, value string) (model.Labels, bool, error) {
	l, err := s.Metric.With(name, value)
	return l, s.DropName && name != model.MetricName, err
}

func (ev *evaluator) dateCall(c *parser.Call) (Matrix, error) {
	var m Matrix
	if len(c.Args) == 0 { // default argument: vector(time())
		if err := ev.reserve(ev.steps); err != nil {
			return nil, err
		}
		pts := make([]Point, ev.steps)
		for i := range pts {
			pts[i] = Point{T: ev.ts(i), V: float64(ev.ts(i)) / 1000}
		}
		m = Matrix{{Floats: pts}}
	} else {
		var err error
		if m, err = ev.evalVector(c.Args[0]); err != nil {
			return nil, err
		}
	}
	f := func(v float64) float64 {
		t := time.Unix(int64(v), 0).UTC()
		switch c.Func.Name {
		case "day_of_month":
			return float64(t.Day())
		case "day_of_week":
			return float64(t.Weekday())
		case "day_of_year":
			return float64(t.YearDay())
		case "days_in_month":
			return float64(32 - time.Date(t.Year(), t.Month(), 32, 0, 0, 0, 0, time.UTC).Day())
		case "hour":
			return float64(t.Hour())
		case "minute":
			return float64(t.Minute())
		case "month":
			return float64(t.Month())
		}
		return float64(t.Year())
	}
	for k := range m {
		s := &m[k]
		for j := range s.Floats {
			s.Floats[j].V = f(s.Floats[j].V)
		}
		s.Histograms = nil // the date functions read floats only
	}
	return ev.relabel(m, ev.drop)
}

func (ev *evaluator) sortCall(c *parser.Call) (Matrix, error) {
	if ev.start != ev.end {
		ev.annos.add(sortInRangeQueryWarning(c.PositionRange()))
	}
	m, err := ev.evalVector(c.Args[0])
	if err != nil || ev.steps != 1 { // a range query's result is ordered by labels anyway
		return m, err
	}
	switch name := c.Func.Name; name {
	case "sort", "sort_desc":
		desc := name == "sort_desc"
		if hasHistograms(m) {
			m = floatsOnly(m) // sort orders floats; histograms drop out, as in Prometheus
		}
		slices.SortStableFunc(m, func(a, b Series) int {
			x, y := a.Floats[0].V, b.Floats[0].V
			switch xn, yn := math.IsNaN(x), math.IsNaN(y); {
			case xn && yn:
				return 0
			case xn: // NaN sorts last either way
				return 1
			case yn:
				return -1
			case x == y:
				return 0
			case (x < y) != desc:
				return -1
			}
			return 1
		})
	default:
		var names []string
		for _, a := range c.Args[1:] {
			names = append(names, parser.UnwrapParens(a).(*parser.StringLiteral).Val)
		}
		desc := name == "sort_by_label_desc"
		slices.SortStableFunc(m, func(a, b Series) int {
			r := 0
			for _, n := range names {
				if x, y := a.Metric.Get(n), b.Metric.Get(n); x != y {
					r = 1
					if naturalLess(x, y) {
						r = -1
					}
					break
				}
			}
			if r == 0 {
				r = a.Metric.Compare(b.Metric)
			}
			if desc {
				r = -r
			}
			return r
		})
	}
	return m, nil
}

// naturalLess orders label values naturally, as sort_by_label does in
// Prometheus: runs of digits compare as numbers (a9 < a10), other runs as
// strings; of two values equal chunk by chunk the one that ends first (or
// either, when both do) comes first.
func naturalLess(a, b string) bool {
	ca, cb := chunks(a), chunks(b)
	for i := range ca {
		if i >= len(cb) {
			return false
		}
		x, xerr := strconv.Atoi(ca[i])
		y, yerr := strconv.Atoi(cb[i])
		numeric := xerr == nil && yerr == nil
		switch {
		case numeric && x != y:
			return x < y
		case !numeric && ca[i] != cb[i]:
			return ca[i] < cb[i]
		case i == len(ca)-1:
			return true
		case i == len(cb)-1:
			return false
		}
	}
	return false
}

// chunks splits s into runs of ASCII digits and runs of anything else.
func chunks(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := i + 1
		for j < len(s) && isDigit(s[j]) == isDigit(s[i]) {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// absentLabels: the labels absent() reports are those its selector pins
// with "=", except the metadata labels; a label matched again, or matched
// otherwise, is left out (Prometheus's rule, kept for compatibility).
func absentLabels(e parser.Expr) model.Labels {
	var ms []*index.Matcher
	switch n := parser.UnwrapParens(e).(type) {
	case *parser.VectorSelector:
		ms = n.LabelMatchers
	case *parser.MatrixSelector:
		ms = n.VectorSelector.LabelMatchers
	}
	var ps []model.Label
	set := map[string]bool{}
	for _, m := range ms {
		if slices.Contains(metadataLabels, m.Name()) {
			continue
		}
		ps = slices.DeleteFunc(ps, func(p model.Label) bool { return p.Name == m.Name() })
		if m.Type() == index.MatchEqual && !set[m.Name()] {
			ps = append(ps, model.Label{Name: m.Name(), Value: m.Value()})
			set[m.Name()] = true
		}
	}
	l, _ := model.New(ps...)
	return l
}

func (ev *evaluator) absent(c *parser.Call) (Matrix, error) {
	m, err := ev.evalVector(c.Args[0])
	if err != nil {
		return nil, err
	}
	if err := ev.needSteps(pointBytes + 1); err != nil { // present, then the result
		return nil, err
	}
	present := make([]bool, ev.steps)
	for _, s := range m {
		for _, p := range s.Floats {
			present[ev.step(p.T)] = true
		}
		for _, p := range s.Histograms {
			present[ev.step(p.T)] = true
		}
	}
	return ev.onesWhere(present, false, absentLabels(c.Args[0])), nil
}

func (ev *evaluator) absentOverTime(c *parser.Call) (Matrix, error) {
	r, err := ev.rangeArg(c.Args[0])
	if err != nil {
		return nil, err
	}
	if err := ev.needSteps(pointBytes + 1); err != nil { // present, then the result
		return nil, err
	}
	present := make([]bool, ev.steps)
	for _, s := range r.series {
		for i := 0; i < ev.steps; i++ {
			if lo, hi := r.window(s.samples, i, 0); lo < hi {
				present[i] = true
			}
			end := r.ref.at(i)
			if len(windowHists(s.hists, end-r.rng, end, false)) > 0 {
				present[i] = true
			}
		}
	}
	return ev.onesWhere(present, false, absentLabels(c.Args[0])), nil
}

// onesWhere is a one-series result with value 1 at the steps where
// present[i] == want.
func (ev *evaluator) onesWhere(present []bool, want bool, l model.Labels) Matrix {
	var pts []Point
	for i, p := range present {
		if p == want {
			pts = append(pts, Point{T: ev.ts(i), V: 1})
		}
	}
	if len(pts) == 0 {
		return nil
	}
	return Matrix{{Metric: l, Floats: pts}}
}

func validLabelName(n string) bool { return n != "" && utf8.ValidString(n) }

func (ev *evaluator) stringArg(e parser.Expr) string {
	return parser.UnwrapParens(e).(*parser.StringLiteral).Val
}

func (ev *evaluator) labelReplace(c *parser.Call) (Matrix, error) {
	dst, repl, src, reStr := ev.stringArg(c.Args[1]), ev.stringArg(c.Args[2]), ev.stringArg(c.Args[3]), ev.stringArg(c.Args[4])
	re, err := regexp.Compile("^(?s:" + reStr + ")$")
	if err != nil {
		return nil, errorf("invalid regular expression in label_replace(): %s", reStr)
	}
	if !validLabelName(dst) {
		return nil, errorf("invalid destination label name in label_replace(): %s", dst)
	}
	m, err := ev.evalVector(c.Args[0])
	if err != nil {
		return nil, err
	}
	var bad error
	out, err := ev.relabelMade(m, func(s Series) (model.Labels, bool) {
		v := s.Metric.Get(src)
		idx := re.FindStringSubmatchIndex(v)
		if idx == nil {
			return s.Metric, s.DropName
		}
		nl, drop, err := setLabel(s, dst, string(re.ExpandString(nil, repl, v, idx)))
		if err != nil {
			bad = err
		}
		return nl, drop
	}, true)
	if bad != nil {
		return nil, errorf("label_replace: %v", bad)
	}
	return out, err
}

func (ev *evaluator) labelJoin(c *parser.Call) (Matrix, error) {
	dst, sep := ev.stringArg(c.Args[1]), ev.stringArg(c.Args[2])
	var srcs []string
	for _, a := range c.Args[3:] {
		s := ev.stringArg(a)
		if !validLabelName(s) {
			return nil, errorf("invalid source label name in label_join(): %s", s)
		}
		srcs = append(srcs, s)
	}
	if !validLabelName(dst) {
		return nil, errorf("invalid destination label name in label_join(): %s", dst)
	}
	m, err := ev.evalVector(c.Args[0])
	if err != nil {
		return nil, err
	}
	return ev.relabelMade(m, func(s Series) (model.Labels, bool) {
		vals := make([]string, len(srcs))
		for i, src := range srcs {
			vals[i] = s.Metric.Get(src)
		}
		nl, drop, _ := setLabel(s, dst, strings.Join(vals, sep))
		return nl, drop
	}, true)
}
