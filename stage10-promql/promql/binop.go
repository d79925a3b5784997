package promql

import (
	"slices"
	"strconv"
	"strings"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// binary evaluates lhs op rhs for the three operand shapes: scalar/vector,
// vector/scalar and vector/vector (scalar/scalar is evalScalar's).
func (ev *evaluator) binary(n *parser.BinaryExpr) (Matrix, error) {
	lt, rt := n.LHS.Type(), n.RHS.Type()
	if lt == parser.ValueTypeScalar || rt == parser.ValueTypeScalar {
		vecSide, scSide, swap := n.LHS, n.RHS, false
		if lt == parser.ValueTypeScalar {
			vecSide, scSide, swap = n.RHS, n.LHS, true
		}
		m, err := ev.evalVector(vecSide)
		if err != nil {
			return nil, err
		}
		sc, err := ev.evalScalar(scSide)
		if err != nil {
			return nil, err
		}
		return ev.vectorScalar(n, m, sc, swap)
	}
	lhs, err := ev.evalVector(n.LHS)
	if err != nil {
		return nil, err
	}
	rhs, err := ev.evalVector(n.RHS)
	if err != nil {
		return nil, err
	}
	switch n.Op {
	case parser.LAND, parser.LOR, parser.LUNLESS:
		return ev.setOp(n, lhs, rhs)
	}
	return ev.vectorVector(n, lhs, rhs)
}

// dropsName: arithmetic produces a new quantity, so the metric name no
// longer describes it; a filtering comparison keeps it, a bool one does
// not; a histogram trim (</, >/) keeps it, as a filter of observations.
func dropsName(n *parser.BinaryExpr) bool {
	return !n.Op.IsComparisonOperator() && !isTrim(n.Op) || n.ReturnBool
}

func (ev *evaluator) vectorScalar(n *parser.BinaryExpr, m Matrix, sc []float64, swap bool) (Matrix, error) {
	if isTrim(n.Op) {
		if points(floatsOnly(m)) > 0 {
			ev.trimmed(n)
		}
		if !hasHistograms(m) {
			return nil, nil
		}
	}
	mg := newMerger()
	for _, s := range m {
		var hs []HPoint
		for _, p := range s.Histograms {
			sv := sc[ev.step(p.T)]
			lf, rf, lh, rh := 0.0, sv, p.H, (*histogram.FloatHistogram)(nil)
			if swap {
				lf, rf, lh, rh = rf, lf, rh, lh
			}
			_, h, keep := ev.histBinop(n, lf, rf, lh, rh)
			if n.Op.IsComparisonOperator() {
				h = p.H
			}
			if swap && isTrim(n.Op) {
				continue // float </ histogram: histBinop noted it
			}
			if n.ReturnBool && !keep && !isHistComparison(n.Op, lh, rh) {
				continue // no result: histBinop noted why
			}
			if keep && !n.ReturnBool {
				hs = append(hs, HPoint{T: p.T, H: h})
			}
		}
		pts, in := s.Floats[:0], s.Floats
		if isTrim(n.Op) {
			pts, in = nil, nil // the trims keep no float (noted above)
		}
		for _, p := range in {
			l, r := p.V, sc[ev.step(p.T)]
			if swap {
				l, r = r, l
			}
			v, keep := binop(n.Op, l, r)
			if n.Op.IsComparisonOperator() {
				v = p.V // the vector's value, on whichever side it stands
				if n.ReturnBool {
					v, keep = boolValue(keep), true
				}
			}
			if keep {
				pts = append(pts, Point{T: p.T, V: v})
			}
		}
		l, drop := s.Metric, s.DropName
		if dropsName(n) {
			l, drop = ev.nameless(l, drop)
		}
		if err := mg.addMixed(l, drop, pts, hs); err != nil {
			return nil, err
		}
	}
	return mg.matrix(), nil
}

// signatures computes each series' match key once: the values of the on(…)
// labels, or every label but the ignoring(…) ones and the metadata labels
// (__name__, __type__, __unit__).
func signatures(m Matrix, vm *parser.VectorMatching) []string {
	out := make([]string, len(m))
	var b strings.Builder
	for i, s := range m {
		b.Reset()
		if vm.On {
			for _, name := range vm.MatchingLabels {
				b.WriteString(s.Metric.Get(name))
				b.WriteByte(0xff)
			}
		} else {
			for l := range s.Metric.All() {
				if slices.Contains(metadataLabels, l.Name) || slices.Contains(vm.MatchingLabels, l.Name) {
					continue
				}
				b.WriteString(l.Name)
				b.WriteByte(0xfe)
				b.WriteString(l.Value)
				b.WriteByte(0xff)
			}
		}
		out[i] = b.String()
	}
	return out
}

// matchLabels is the label set named by a signature, for error messages.
func matchLabels(l model.Labels, vm *parser.VectorMatching) model.Labels {
	if vm.On {
		var ps []model.Label
		for _, n := range vm.MatchingLabels {
			if v := l.Get(n); v != "" {
				ps = append(ps, model.Label{Name: n, Value: v})
			}
		}
		out, _ := model.New(ps...)
		return out
	}
	return dropMetadata(l).Without(vm.MatchingLabels...)
}

// promString prints labels as Prometheus's error messages do, name inside
// the braces: {__name__="up", job="a"}.
func promString(l model.Labels) string {
	var b strings.Builder
	b.WriteByte('{')
	i := 0
	for x := range l.All() {
		if i > 0 {
			b.WriteString(", ")
		}
		i++
		b.WriteString(x.Name + "=" + strconv.Quote(x.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// entry is one sample of a step: which series, what value.
type entry struct {
	idx int32
	// hi is 0 for a float, else 1 + the index of a histogram sample in
	// the series' Histograms (hist reads it): an index rather than a
	// pointer keeps an entry at 16 bytes, as transposes of float
	// matrices are large.
	hi int32
	v  float64
}

// hist is e's histogram in m (the matrix e was transposed from), nil for
// a float.
func (e entry) hist(m Matrix) *histogram.FloatHistogram {
	if e.hi == 0 {
		return nil
	}
	return m[e.idx].Histograms[e.hi-1].H
}

// byStep transposes a Matrix into the samples present at each step. One
// counting pass sizes every step's slice, so the whole transpose is one
// allocation of exactly the points there are.
func (ev *evaluator) byStep(m Matrix) [][]entry {
	counts := make([]int, ev.steps)
	total := 0
	for _, s := range m {
		for _, p := range s.Floats {
			counts[ev.step(p.T)]++
		}
		for _, p := range s.Histograms {
			counts[ev.step(p.T)]++
		}
		total += len(s.Floats) + len(s.Histograms)
	}
	backing := make([]entry, total)
	steps := make([][]entry, ev.steps)
	off := 0
	for i, c := range counts {
		steps[i] = backing[off : off : off+c]
		off += c
	}
	for i, s := range m {
		for _, p := range s.Floats {
			k := ev.step(p.T)
			steps[k] = append(steps[k], entry{idx: int32(i), v: p.V})
		}
		for j, p := range s.Histograms {
			k := ev.step(p.T)
			steps[k] = append(steps[k], entry{idx: int32(i), hi: int32(j + 1)})
		}
	}
	return steps
}

// stepOut collects a result step by step; a label set may receive one
// sample per step.
type stepOut struct {
	byHash map[uint64][]int
	series Matrix
}

func newStepOut() *stepOut { return &stepOut{byHash: map[uint64][]int{}} }

func (o *stepOut) index(l model.Labels) int {
	h := l.Hash()
	for _, i := range o.byHash[h] {
		if o.series[i].Metric.Equal(l) {
			return i
		}
	}
	o.byHash[h] = append(o.byHash[h], len(o.series))
	o.series = append(o.series, Series{Metric: l})
	return len(o.series) - 1
}

// add appends a sample; false if the series already has one at t.
func (o *stepOut) add(i int, t int64, v float64) bool {
	f := o.series[i].Floats
	if n := len(f); n > 0 && f[n-1].T == t {
		return false
	}
	o.series[i].Floats = append(f, Point{T: t, V: v})
	return true
}

// addH appends a histogram sample; false if the series already has a
// sample at t.
func (o *stepOut) addH(i int, t int64, h *histogram.FloatHistogram) bool {
	s := &o.series[i]
	if n := len(s.Histograms); n > 0 && s.Histograms[n-1].T == t {
		return false
	}
	if n := len(s.Floats); n > 0 && s.Floats[n-1].T == t {
		return false
	}
	s.Histograms = append(s.Histograms, HPoint{T: t, H: h})
	return true
}

func (o *stepOut) matrix() Matrix {
	out := o.series[:0]
	for _, s := range o.series {
		if len(s.Floats) > 0 || len(s.Histograms) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// vectorVector matches series one-to-one or many-to-one (group_left; and
// group_right, by swapping sides) at each step and applies the operator.
// With fill modifiers, a series without a match meets its fill value
// instead, standing in as a series with the match labels alone.
func (ev *evaluator) vectorVector(n *parser.BinaryExpr, lhs, rhs Matrix) (Matrix, error) {
	vm := n.VectorMatching
	swapped := vm.Card == parser.CardOneToMany
	fillL, fillR := vm.FillLHS, vm.FillRHS
	if swapped { // make lhs the "many" side
		lhs, rhs = rhs, lhs
		fillL, fillR = fillR, fillL
	}
	oneSide := "right"
	if swapped {
		oneSide = "left"
	}
	lsig, rsig := signatures(lhs, vm), signatures(rhs, vm)
	lsteps, rsteps := ev.byStep(lhs), ev.byStep(rhs)
	out := newStepOut()
	pairOut := map[[2]int32]int{} // (lhs, rhs) series → output series; -1: a fill
	right := map[string]entry{}
	matched := map[string]bool{}
	var t int64
	// apply computes one result sample of the pair (li, ri); -1 stands for
	// the fill value fv of a series without a match.
	apply := func(li, ri int32, lv, rv float64, lh, rh *histogram.FloatHistogram, sig string) error {
		if vm.Card == parser.CardOneToOne {
			if matched[sig] {
				return errorf("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
			}
		}
		matched[sig] = true
		if swapped {
			lv, rv = rv, lv
			lh, rh = rh, lh
		}
		var v float64
		var h *histogram.FloatHistogram
		var keep bool
		if lh == nil && rh == nil {
			if isTrim(n.Op) {
				ev.trimmed(n)
			}
			v, keep = binop(n.Op, lv, rv)
		} else {
			var ok bool
			v, h, ok = ev.histBinop(n, lv, rv, lh, rh)
			if !ok && (h == nil && !n.Op.IsComparisonOperator() || !isHistComparison(n.Op, lh, rh)) {
				return nil // no result: histBinop noted why
			}
			keep = ok
		}
		if n.ReturnBool {
			v, keep, h = boolValue(keep), true, nil
		}
		if !keep {
			return nil
		}
		key := [2]int32{li, ri}
		oi, ok := pairOut[key]
		if !ok {
			var l, r model.Labels
			switch {
			case li < 0:
				r = rhs[ri].Metric
				l = matchLabels(r, vm)
			case ri < 0:
				l = lhs[li].Metric
				r = matchLabels(l, vm)
			default:
				l, r = lhs[li].Metric, rhs[ri].Metric
			}
			rl, drop := ev.resultMetric(l, r, n)
			oi = out.index(rl)
			out.series[oi].DropName = drop
			pairOut[key] = oi
		}
		added := false
		if h != nil {
			added = out.addH(oi, t, h)
		} else {
			added = out.add(oi, t, v)
		}
		if !added {
			return errorf("multiple matches for labels: grouping labels must ensure unique matches")
		}
		return nil
	}
	for i := 0; i < ev.steps; i++ {
		if i%64 == 0 {
			if err := ev.checkCtx(); err != nil {
				return nil, err
			}
		}
		clear(right)
		for _, r := range rsteps[i] {
			sig := rsig[r.idx]
			if d, dup := right[sig]; dup {
				a, b := promString(rhs[d.idx].Metric), promString(rhs[r.idx].Metric)
				if a > b {
					a, b = b, a
				}
				return nil, errorf("found duplicate series for the match group %s on the %s hand-side of the operation: [%s, %s];many-to-many matching not allowed: matching labels must be unique on one side",
					promString(matchLabels(rhs[r.idx].Metric, vm)), oneSide, a, b)
			}
			right[sig] = r
		}
		clear(matched)
		t = ev.ts(i)
		for _, l := range lsteps[i] {
			sig := lsig[l.idx]
			r, ok := right[sig]
			var err error
			switch {
			case ok:
				err = apply(l.idx, r.idx, l.v, r.v, l.hist(lhs), r.hist(rhs), sig)
			case fillR != nil:
				err = apply(l.idx, -1, l.v, *fillR, l.hist(lhs), nil, sig)
			}
			if err != nil {
				return nil, err
			}
		}
		if fillL != nil {
			for _, r := range rsteps[i] {
				if sig := rsig[r.idx]; !matched[sig] {
					if err := apply(-1, r.idx, *fillL, r.v, nil, r.hist(rhs), sig); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	return out.matrix(), nil
}

// resultMetric: the "many" side's labels, without the metadata labels
// where the operator drops the name; one-to-one keeps only the on(…)
// labels (or drops the ignoring(…) ones); group_x(…) copies the listed
// labels from the "one" side. Arithmetic drops the name at once even with
// delayed name removal (as Prometheus does); a bool comparison marks it;
// a filtering comparison keeps it, unmarked.
func (ev *evaluator) resultMetric(l, r model.Labels, n *parser.BinaryExpr) (model.Labels, bool) {
	vm := n.VectorMatching
	drop := false
	switch {
	case !n.Op.IsComparisonOperator() && !isTrim(n.Op):
		l = dropMetadata(l)
	case n.ReturnBool:
		l, drop = ev.nameless(l, false)
	}
	if vm.Card == parser.CardOneToOne {
		if vm.On {
			var keep []string
			for x := range l.All() {
				if !slices.Contains(vm.MatchingLabels, x.Name) {
					keep = append(keep, x.Name)
				}
			}
			l = l.Without(keep...)
		} else {
			l = l.Without(vm.MatchingLabels...)
		}
	}
	for _, name := range vm.Include {
		nl, err := l.With(name, r.Get(name))
		if err == nil {
			l = nl
		}
	}
	return l, drop
}

// setOp: and keeps lhs samples whose match group has an rhs sample at the
// same step; unless keeps those that have none; or is lhs plus the rhs
// samples of groups lhs does not have at that step.
func (ev *evaluator) setOp(n *parser.BinaryExpr, lhs, rhs Matrix) (Matrix, error) {
	vm := n.VectorMatching
	lsig, rsig := signatures(lhs, vm), signatures(rhs, vm)
	lsteps, rsteps := ev.byStep(lhs), ev.byStep(rhs)
	out := make(Matrix, len(lhs)+len(rhs))
	for i, s := range lhs {
		out[i].Metric, out[i].DropName = s.Metric, s.DropName
	}
	for i, s := range rhs {
		out[len(lhs)+i].Metric, out[len(lhs)+i].DropName = s.Metric, s.DropName
	}
	present := map[string]bool{}
	for i := 0; i < ev.steps; i++ {
		t := ev.ts(i)
		clear(present)
		switch n.Op {
		case parser.LAND, parser.LUNLESS:
			for _, r := range rsteps[i] {
				present[rsig[r.idx]] = true
			}
			for _, l := range lsteps[i] {
				if present[lsig[l.idx]] == (n.Op == parser.LAND) {
					out[l.idx].append(t, l, lhs)
				}
			}
		case parser.LOR:
			for _, l := range lsteps[i] {
				present[lsig[l.idx]] = true
				out[l.idx].append(t, l, lhs)
			}
			for _, r := range rsteps[i] {
				if !present[rsig[r.idx]] {
					out[len(lhs)+int(r.idx)].append(t, r, rhs)
				}
			}
		}
	}
	mg := newMerger()
	for _, s := range out {
		if err := mg.addMixed(s.Metric, s.DropName, s.Floats, s.Histograms); err != nil {
			return nil, err
		}
	}
	return mg.matrix(), nil
}
