package promql

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// groups assigns every input series to its output group once, for all
// steps: the label sets of a Matrix do not change from step to step, so
// there is no reason to recompute a grouping key per sample.
func groups(m Matrix, by []string, without bool) (groupOf []int, gr *grouper) {
	gr = newGrouper(by, without)
	groupOf = make([]int, len(m))
	for i, s := range m {
		groupOf[i] = gr.group(s.Metric, s.DropName)
	}
	return groupOf, gr
}

// grouper numbers the groups of an aggregation in the order their first
// series arrives; labels[g] is group g's label set, dropName[g] whether
// any of its series is marked for delayed name removal (then so is the
// group's).
type grouper struct {
	by       []string
	without  bool
	drop     []string
	index    map[string]int
	key      []byte // reused: a lookup with string(key) does not allocate
	labels   []model.Labels
	dropName []bool
}

func newGrouper(by []string, without bool) *grouper {
	return &grouper{by: by, without: without, drop: append(slices.Clone(metadataLabels), by...), index: map[string]int{}}
}

func (gr *grouper) group(l model.Labels, dropName bool) int {
	key := gr.key[:0]
	if gr.without {
		for x := range l.All() {
			if !slices.Contains(gr.drop, x.Name) {
				key = append(key, x.Name...)
				key = append(key, 0xfe)
				key = append(key, x.Value...)
				key = append(key, 0xff)
			}
		}
	} else {
		for _, n := range gr.by {
			key = append(key, l.Get(n)...)
			key = append(key, 0xff)
		}
	}
	gr.key = key
	g, ok := gr.index[string(key)]
	if ok {
		gr.dropName[g] = gr.dropName[g] || dropName
		return g
	}
	g = len(gr.labels)
	gr.index[string(key)] = g
	var gl model.Labels
	if gr.without {
		gl = l.Without(gr.drop...)
	} else {
		ps := make([]model.Label, 0, len(gr.by))
		for _, n := range gr.by {
			if !slices.ContainsFunc(ps, func(p model.Label) bool { return p.Name == n }) {
				ps = append(ps, model.Label{Name: n, Value: l.Get(n)})
			}
		}
		gl, _ = model.New(ps...)
	}
	gr.labels = append(gr.labels, gl)
	gr.dropName = append(gr.dropName, dropName)
	return g
}

func (ev *evaluator) aggregate(n *parser.AggregateExpr) (Matrix, error) {
	var param []float64
	var label string
	if n.Param != nil {
		if n.Op == parser.COUNT_VALUES {
			label = parser.UnwrapParens(n.Param).(*parser.StringLiteral).Val
			if label == "" || strings.ContainsAny(label, "\xff") {
				return nil, errorf("invalid label name %q", label)
			}
		} else {
			var err error
			if param, err = ev.evalScalar(n.Param); err != nil {
				return nil, err
			}
		}
	}
	if empty, err := ev.checkParam(n, param); empty || err != nil {
		return nil, err
	}
	switch n.Op {
	case parser.SUM, parser.AVG, parser.COUNT, parser.GROUP, parser.MIN, parser.MAX, parser.STDDEV, parser.STDVAR:
		if m, ok, err := ev.streamFold(n); ok || err != nil {
			return m, err
		}
	}
	m, err := ev.evalVector(n.Expr)
	if err != nil {
		return nil, err
	}
	if hasHistograms(m) {
		return ev.aggregateMixed(n, m, param, label)
	}
	groupOf, gr := groups(m, n.Grouping, n.Without)
	if err := ev.madeGroups(gr); err != nil {
		return nil, err
	}
	switch n.Op {
	case parser.TOPK, parser.BOTTOMK, parser.LIMITK, parser.LIMIT_RATIO:
		return ev.selectK(n, m, groupOf, len(gr.labels), param)
	case parser.QUANTILE:
		return ev.quantileAgg(m, groupOf, gr, param)
	case parser.COUNT_VALUES:
		return ev.countValues(m, groupOf, gr, label)
	}
	f := ev.newFolder(n.Op)
	for si, s := range m {
		if si%1024 == 0 {
			if err := ev.checkCtx(); err != nil {
				return nil, err
			}
		}
		if err := f.add(groupOf[si], s.Floats); err != nil {
			return nil, err
		}
	}
	return f.result(gr), nil
}

// errCollision stops a streamed aggregation whose input has two series with
// the same label set: only the collected Matrix can merge them (merger) in
// the order the folds must see, so aggregate starts over from that.
var errCollision = errors.New("promql: label sets collide")

// streamFold aggregates a selector or range function without its result
// Matrix: each input series is folded into its group as it is produced,
// and its points buffer is reused for the next. sum(rate(x[5m])) over
// 10,000 series then holds one series' window and points at a time, not
// 10,000 series of points. ok is false when n.Expr does not stream (or two
// input series collide), and the caller evaluates it the ordinary way; the
// folds see the series in the same order either way, so the results are
// the same to the bit.
func (ev *evaluator) streamFold(n *parser.AggregateExpr) (m Matrix, ok bool, err error) {
	base := *ev.held
	gr := newGrouper(n.Grouping, n.Without)
	f := ev.newFolder(n.Op)
	seen := map[uint64]struct{}{}
	k := 0
	// Input series collide only where a function drops the metric name of
	// series that differ in it; storage never returns one label set twice.
	check := true
	fold := func(l model.Labels, drop bool, pts []Point) error {
		if k++; k%1024 == 0 {
			if err := ev.checkCtx(); err != nil {
				return err
			}
		}
		if check {
			h := l.Hash()
			if _, dup := seen[h]; dup {
				return errCollision
			}
			seen[h] = struct{}{}
		}
		return f.add(gr.group(l, drop), pts)
	}
	switch e := parser.UnwrapParens(n.Expr).(type) {
	case *parser.VectorSelector:
		check = false
		err = ev.streamSelector(e, false, false, fold)
	case *parser.Call:
		rf, isRange := rangeFuncs[e.Func.Name]
		if !isRange {
			return nil, false, nil
		}
		if ms, ok := parser.UnwrapParens(e.Args[rf.matrix]).(*parser.MatrixSelector); ok {
			check = !rf.keepName && !oneName(ms.VectorSelector.LabelMatchers)
		}
		err = ev.rangeSeries(e, rf, false, fold)
	default:
		return nil, false, nil
	}
	*ev.held = base
	if errors.Is(err, errCollision) || errors.Is(err, errHistograms) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	if err := ev.madeGroups(gr); err != nil {
		return nil, true, err
	}
	return f.result(gr), true, nil
}

// madeGroups counts an aggregation's group label sets against the memory
// limit (madeLabels): count by (id) over a million ids makes a million.
func (ev *evaluator) madeGroups(gr *grouper) error {
	for _, l := range gr.labels {
		if err := ev.madeLabels(l); err != nil {
			return err
		}
	}
	return nil
}

// oneName reports whether ms pin the metric name to one value, so that
// the series they select differ in labels other than the name.
func oneName(ms []*index.Matcher) bool {
	for _, m := range ms {
		if m.Name() == model.MetricName && m.Type() == index.MatchEqual {
			return true
		}
	}
	return false
}

// folder computes sum, avg, count, min, max, group, stddev and stdvar in
// one pass over the points, with an accumulator per (group, step); groups
// may be added as series arrive.
type folder struct {
	ev            *evaluator
	op            parser.Op
	cnt, val, aux []float64 // count; sum, min, max or running mean; Kahan compensation or Welford's M2
	// avg's means: once a sum would overflow, the mean goes on
	// incrementally in mean (and aux), as Prometheus does.
	mean []float64
	incr []bool
}

func (ev *evaluator) newFolder(op parser.Op) *folder { return &folder{ev: ev, op: op} }

// add folds one series of group g. A new group's arrays (a value per
// step in each) are checked against the memory limit before they grow:
// count by (id) over a million ids at 3,000 steps is 72 GB of them.
func (f *folder) add(g int, pts []Point) error {
	ns := f.ev.steps
	if need := (g + 1) * ns; need > len(f.cnt) {
		if err := f.ev.need(0, int64(need)*int64(5*8+1)); err != nil { // cnt, val, aux, avg's mean and incr, and the result
			return err
		}
		f.cnt = append(f.cnt, make([]float64, need-len(f.cnt))...)
		f.val = append(f.val, make([]float64, need-len(f.val))...)
		f.aux = append(f.aux, make([]float64, need-len(f.aux))...)
	}
	cnt, val, aux := f.cnt[g*ns:(g+1)*ns], f.val[g*ns:(g+1)*ns], f.aux[g*ns:(g+1)*ns]
	if f.op == parser.AVG && len(f.mean) < len(f.cnt) {
		f.mean = append(f.mean, make([]float64, len(f.cnt)-len(f.mean))...)
		f.incr = append(f.incr, make([]bool, len(f.cnt)-len(f.incr))...)
	}
	// pts are on the step grid, in order and mostly one step apart: the
	// step of each is the one after the previous point's, checked, rather
	// than a 64-bit division per point.
	ev := f.ev
	i, ti := -1, ev.start-ev.interval // ti = ev.ts(i)
	at := func(t int64) int {
		switch t {
		case ti + ev.interval:
			i, ti = i+1, t
		case ti:
		default:
			i = ev.step(t)
			ti = ev.ts(i)
		}
		return i
	}
	switch f.op {
	case parser.SUM:
		for _, p := range pts {
			k := at(p.T)
			cnt[k]++
			val[k], aux[k] = kahanInc(p.V, val[k], aux[k])
		}
	case parser.AVG:
		mean, incr := f.mean[g*ns:(g+1)*ns], f.incr[g*ns:(g+1)*ns]
		for _, p := range pts {
			k := at(p.T)
			cnt[k]++
			mean[k], val[k], aux[k], incr[k] = meanInc(p.V, cnt[k], mean[k], val[k], aux[k], incr[k])
		}
	case parser.MIN:
		for _, p := range pts {
			k, v := at(p.T), p.V
			cnt[k]++
			// NaN loses to any number, so min of {NaN, 1} is 1.
			if cnt[k] == 1 || val[k] > v || math.IsNaN(val[k]) {
				val[k] = v
			}
		}
	case parser.MAX:
		for _, p := range pts {
			k, v := at(p.T), p.V
			cnt[k]++
			if cnt[k] == 1 || val[k] < v || math.IsNaN(val[k]) {
				val[k] = v
			}
		}
	case parser.STDDEV, parser.STDVAR:
		for _, p := range pts {
			k, v := at(p.T), p.V
			cnt[k]++
			// Welford's online variance: stable where sum of squares is not.
			d := v - val[k]
			val[k] += d / cnt[k]
			aux[k] += d * (v - val[k])
		}
	default:
		for _, p := range pts {
			cnt[at(p.T)]++
		}
	}
	return nil
}

// result is one series per group with at least one point.
func (f *folder) result(gr *grouper) Matrix {
	ns := f.ev.steps
	out := make(Matrix, 0, len(gr.labels))
	for g, l := range gr.labels {
		var pts []Point
		for i := 0; i < ns && (g+1)*ns <= len(f.cnt); i++ {
			k := g*ns + i
			c := f.cnt[k]
			if c == 0 {
				continue
			}
			var v float64
			switch f.op {
			case parser.SUM:
				v = f.val[k] + f.aux[k]
			case parser.AVG:
				v = meanOf(c, f.mean[k], f.val[k], f.aux[k], f.incr[k])
			case parser.COUNT:
				v = c
			case parser.GROUP:
				v = 1
			case parser.MIN, parser.MAX:
				v = f.val[k]
			case parser.STDVAR:
				v = f.aux[k] / c
			case parser.STDDEV:
				v = math.Sqrt(f.aux[k] / c)
			}
			pts = append(pts, Point{T: f.ev.ts(i), V: v})
		}
		if len(pts) > 0 {
			out = append(out, Series{Metric: l, Floats: pts, DropName: gr.dropName[g]})
		}
	}
	return out
}

// meanInc adds v, the n-th value (n counts it), to a mean kept as a compensated sum
// (sum, c) while the sum stays finite, and from the value that would make
// it overflow on as an incremental mean (mean, c): the sum is the more
// accurate, the incremental mean the one that cannot overflow. Prometheus
// computes avg and avg_over_time so, and so must we to agree on the last
// bit and on huge values.
func meanInc(v, n, mean, sum, c float64, incr bool) (newMean, newSum, newC float64, newIncr bool) {
	if n == 1 {
		return 0, v, 0, false
	}
	if !incr {
		ns, nc := kahanInc(v, sum, c)
		if !math.IsInf(ns, 0) {
			return mean, ns, nc, false
		}
		incr = true
		mean = sum / (n - 1)
		c /= n - 1
	}
	q := (n - 1) / n
	mean, c = kahanInc(v/n, q*mean, q*c)
	return mean, sum, c, incr
}

// meanOf is the mean meanInc kept over n values.
func meanOf(n, mean, sum, c float64, incr bool) float64 {
	if incr {
		return mean + c
	}
	return sum/n + c/n
}

// kahanInc adds f to sum with Kahan-Babuška (Neumaier) compensation c, so
// that sum + c keeps the low bits a plain float sum loses.
func kahanInc(f, sum, c float64) (float64, float64) {
	t := sum + f
	switch {
	case math.IsInf(t, 0):
		c = 0
	case math.Abs(sum) >= math.Abs(f):
		c += (sum - t) + f
	default:
		c += (f - t) + sum
	}
	return t, c
}

// Prometheus's bounds for a k: the float64s nearest to ±2^63 that an
// int64 holds.
const (
	maxK = 9223372036854774784
	minK = -9223372036854775808
)

// checkParam checks an aggregation's parameter over all steps, as
// Prometheus does before aggregating: k of topk, bottomk and limitk must be
// a number within int64 (a k below 1 everywhere is an empty result), a
// ratio a number (capped to [-1, 1] with a warning), a quantile φ in
// [0, 1] or a warning.
func (ev *evaluator) checkParam(n *parser.AggregateExpr, param []float64) (empty bool, err error) {
	if param == nil {
		return false, nil
	}
	// The smallest and largest, a NaN making both NaN (math.Min, math.Max).
	mn, mx, nan := math.MaxFloat64, -math.MaxFloat64, false
	for _, p := range param {
		mn, mx, nan = math.Min(mn, p), math.Max(mx, p), nan || math.IsNaN(p)
	}
	pos := n.Param.PositionRange()
	switch n.Op {
	case parser.TOPK, parser.BOTTOMK, parser.LIMITK:
		switch {
		case mx < 1:
			return true, nil
		case nan:
			return false, errorf("Parameter value is NaN")
		case mn <= minK:
			return false, errorf("Scalar value %v underflows int64", mn)
		case mx >= maxK:
			return false, errorf("Scalar value %v overflows int64", mx)
		}
	case parser.LIMIT_RATIO:
		switch {
		case mx == 0 && mn == 0:
			return true, nil
		case nan:
			return false, errorf("Ratio value is NaN")
		}
		if mx > 1 {
			ev.annos.add(invalidRatioWarning(mx, 1, pos))
		}
		if mn < -1 {
			ev.annos.add(invalidRatioWarning(mn, -1, pos))
		}
	case parser.QUANTILE:
		if nan {
			ev.annos.add(invalidQuantileWarning(math.NaN(), pos))
		}
		if mx > 1 {
			ev.annos.add(invalidQuantileWarning(mx, pos))
		}
		if mn < 0 {
			ev.annos.add(invalidQuantileWarning(mn, pos))
		}
	}
	return false, nil
}

// selectK is topk, bottomk, limitk and limit_ratio: per step and group,
// which series survive. The survivors keep all their labels (__name__ too).
func (ev *evaluator) selectK(n *parser.AggregateExpr, m Matrix, groupOf []int, ngroups int, param []float64) (Matrix, error) {
	steps := ev.byStep(m)
	out := make(Matrix, len(m))
	for i, s := range m {
		out[i].Metric, out[i].DropName = s.Metric, s.DropName
	}
	var order []int32 // series in output order, for an instant query
	seen := make([]bool, len(m))
	perGroup := make([][]entry, ngroups)
	for i := 0; i < ev.steps; i++ {
		p := param[i]
		for g := range perGroup {
			perGroup[g] = perGroup[g][:0]
		}
		for _, e := range steps[i] {
			perGroup[groupOf[e.idx]] = append(perGroup[groupOf[e.idx]], e)
		}
		k := min(int(p), len(m)) // checkParam made p a number within int64
		p = max(-1, min(1, p))   // a ratio, capped
		for _, es := range perGroup {
			switch n.Op {
			case parser.TOPK, parser.BOTTOMK:
				es = selectTop(es, k, n.Op == parser.TOPK)
			case parser.LIMITK:
				es = es[:max(0, min(k, len(es)))]
			case parser.LIMIT_RATIO:
				kept := es[:0]
				for _, e := range es {
					// The same series is kept at every step: the choice
					// depends on its label hash only.
					off := float64(ratioHash(m[e.idx].Metric)) / float64(math.MaxUint64)
					if (p >= 0 && off < p) || (p < 0 && off >= 1+p) {
						kept = append(kept, e)
					}
				}
				es = kept
			}
			for _, e := range es {
				out[e.idx].Floats = append(out[e.idx].Floats, Point{T: ev.ts(i), V: e.v})
				if !seen[e.idx] {
					seen[e.idx] = true
					order = append(order, e.idx)
				}
			}
		}
	}
	res := make(Matrix, 0, len(order))
	for _, i := range order {
		res = append(res, out[i])
	}
	return res, nil
}

// ratioHash is the hash limit_ratio samples by. To pick the same series as
// Prometheus it must be Prometheus's label hash, which (in its default
// build) is xxHash64 of its internal encoding: each name and value
// prefixed by its length as a uvarint. (model.Labels.Hash separates with
// 0xff instead, and would pick different series.)
func ratioHash(l model.Labels) uint64 {
	var b []byte
	for x := range l.All() {
		b = binary.AppendUvarint(b, uint64(len(x.Name)))
		b = append(b, x.Name...)
		b = binary.AppendUvarint(b, uint64(len(x.Value)))
		b = append(b, x.Value...)
	}
	return xxhash.Sum64(b)
}

// ranksBefore orders entries for topk (top) or bottomk: larger (smaller)
// values first, NaN last either way.
func ranksBefore(a, b entry, top bool) bool {
	an, bn := math.IsNaN(a.v), math.IsNaN(b.v)
	switch {
	case an:
		return false
	case bn:
		return true
	}
	if top {
		return a.v > b.v
	}
	return a.v < b.v
}

// selectTop keeps the k best entries of es, best first. A heap of size k
// holding the k best so far, its worst at the root, makes this O(n log k)
// instead of sorting all n series at every step.
func selectTop(es []entry, k int, top bool) []entry {
	if k <= 0 {
		return es[:0]
	}
	if k < len(es) {
		h := es[:0:0]
		h = append(h, es[:k]...)
		worse := func(i, j int) bool { return ranksBefore(h[j], h[i], top) } // h[i] ranks after h[j]
		down := func(i int) {
			for {
				l, w := 2*i+1, i
				if l < len(h) && worse(l, w) {
					w = l
				}
				if r := l + 1; r < len(h) && worse(r, w) {
					w = r
				}
				if w == i {
					return
				}
				h[i], h[w] = h[w], h[i]
				i = w
			}
		}
		for i := len(h)/2 - 1; i >= 0; i-- {
			down(i)
		}
		for _, e := range es[k:] {
			if ranksBefore(e, h[0], top) {
				h[0] = e
				down(0)
			}
		}
		es = h
	}
	slices.SortStableFunc(es, func(a, b entry) int {
		switch {
		case ranksBefore(a, b, top):
			return -1
		case ranksBefore(b, a, top):
			return 1
		}
		return 0
	})
	return es
}

// quantileValue is the φ-quantile of values by linear interpolation between
// the closest ranks: rank φ·(n-1), as the PromQL docs define it. φ < 0 is
// -Inf, φ > 1 is +Inf. values is sorted in place.
func quantileValue(q float64, values []float64) float64 {
	if len(values) == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	if q < 0 {
		return math.Inf(-1)
	}
	if q > 1 {
		return math.Inf(1)
	}
	sort.Float64s(values)
	rank := q * float64(len(values)-1)
	lo := math.Max(0, math.Floor(rank))
	hi := math.Min(float64(len(values)-1), lo+1)
	w := rank - math.Floor(rank)
	if w == 0 { // on a sample: no weighting, which would make ±Inf·0 a NaN
		return values[int(lo)]
	}
	return values[int(lo)]*(1-w) + values[int(hi)]*w
}

func (ev *evaluator) quantileAgg(m Matrix, groupOf []int, gr *grouper, param []float64) (Matrix, error) {
	out := make(Matrix, len(gr.labels))
	eachStepGroup(ev, m, groupOf, len(gr.labels),
		func(_ int, v float64) float64 { return v },
		func(step, g int, vs []float64) {
			out[g].Floats = append(out[g].Floats, Point{T: ev.ts(step), V: quantileValue(param[step], vs)})
		})
	res := out[:0]
	for g, s := range out {
		if len(s.Floats) > 0 {
			s.Metric, s.DropName = gr.labels[g], gr.dropName[g]
			res = append(res, s)
		}
	}
	return res, nil
}

// eachStepGroup calls f, at every step, with the elements of each group
// that has any there (elem makes one from a series' index and value; a
// series with groupOf < 0 belongs to no group). quantile and the
// histogram functions need all of a group's values at once, unlike the
// streaming aggregations.
func eachStepGroup[T any](ev *evaluator, m Matrix, groupOf []int, ngroups int,
	elem func(idx int, v float64) T, f func(step, g int, xs []T)) {
	steps := ev.byStep(m)
	xs := make([][]T, ngroups)
	for i := 0; i < ev.steps; i++ {
		for g := range xs {
			xs[g] = xs[g][:0]
		}
		for _, e := range steps[i] {
			if g := groupOf[e.idx]; g >= 0 {
				xs[g] = append(xs[g], elem(int(e.idx), e.v))
			}
		}
		for g, x := range xs {
			if len(x) > 0 {
				f(i, g, x)
			}
		}
	}
}

// countValues counts, per group, how many series have each value; the
// value becomes a label.
func (ev *evaluator) countValues(m Matrix, groupOf []int, gr *grouper, label string) (Matrix, error) {
	steps := ev.byStep(m)
	out := newStepOut()
	type key struct {
		g int
		v string
	}
	counts := map[key]int{}
	var keys []key
	for i := 0; i < ev.steps; i++ {
		if err := ev.checkCtx(); err != nil {
			return nil, err
		}
		clear(counts)
		keys = keys[:0]
		for _, e := range steps[i] {
			k := key{groupOf[e.idx], strconv.FormatFloat(e.v, 'f', -1, 64)}
			if h := e.hist(m); h != nil {
				k.v = h.String()
			}
			if counts[k] == 0 {
				keys = append(keys, k)
			}
			counts[k]++
		}
		for _, k := range keys {
			l, err := gr.labels[k.g].With(label, k.v)
			if err != nil {
				return nil, errorf("invalid label name %q", label)
			}
			n := len(out.series)
			oi := out.index(l)
			if oi == n { // a new series: its label set is the query's own
				if err := ev.madeLabels(l); err != nil {
					return nil, err
				}
			}
			out.series[oi].DropName = gr.dropName[k.g]
			if !out.add(oi, ev.ts(i), float64(counts[k])) {
				// Groups that differ only in the label count_values
				// sets are one series: their counts add up.
				f := out.series[oi].Floats
				f[len(f)-1].V += float64(counts[k])
			}
		}
	}
	return out.matrix(), nil
}
