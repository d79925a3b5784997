package promql

import (
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// info(v, {selector}) adds to each series of v the data labels of the info
// metrics describing the same target: series such as
// target_info{job="api", instance="a", version="1.2"} whose identifying
// labels (job and instance) match the series'. The selector picks which
// info metrics (by __name__, target_info if none is named) and which data
// labels (by their matchers; all when there are none). A series that is
// itself such an info metric is left as it is. This is Prometheus's
// experimental info function, with its semantics.

// identifyingLabels tie a series to its info metrics.
var identifyingLabels = []string{"instance", "job"}

const targetInfo = "target_info"

func (ev *evaluator) info(c *parser.Call) (Matrix, error) {
	at, offset := ev.infoReference(c.Args[0])
	base, err := ev.evalVector(c.Args[0])
	if err != nil {
		return nil, err
	}
	// The data label matchers by label name; the name matchers pick the
	// info metrics.
	data := map[string][]*index.Matcher{}
	var nameMatchers []*index.Matcher
	if len(c.Args) > 1 {
		for _, m := range parser.UnwrapParens(c.Args[1]).(*parser.VectorSelector).LabelMatchers {
			data[m.Name()] = append(data[m.Name()], m)
			if m.Name() == model.MetricName {
				nameMatchers = append(nameMatchers, m)
			}
		}
	}
	nameMatchers = infoNameMatchers(nameMatchers)
	delete(data, model.MetricName) // the name picks, it is no data label
	ignore := make([]bool, len(base))
	for i, s := range base {
		ignore[i] = matchAll(nameMatchers, s.Metric.Name())
	}
	infos, err := ev.fetchInfo(base, ignore, data, nameMatchers, at, offset)
	if err != nil {
		return nil, err
	}
	return ev.combineInfo(base, infos, ignore, data)
}

// infoNameMatchers are the __name__ matchers that select info metrics:
// those given if one is positive; else (only negative ones) those after
// a name ending in _info; target_info when none is given.
func infoNameMatchers(ms []*index.Matcher) []*index.Matcher {
	for _, m := range ms {
		if m.Type() == index.MatchEqual || m.Type() == index.MatchRegexp {
			return ms
		}
	}
	if len(ms) > 0 {
		return append([]*index.Matcher{index.MustNewMatcher(index.MatchRegexp, model.MetricName, ".+_info")}, ms...)
	}
	return []*index.Matcher{index.MustNewMatcher(index.MatchEqual, model.MetricName, targetInfo)}
}

func matchAll(ms []*index.Matcher, v string) bool {
	for _, m := range ms {
		if !m.Matches(v) {
			return false
		}
	}
	return true
}

// infoReference is the @ and offset the info metrics are read with: those
// of the first argument's selectors if they all share one reference time
// (subqueries' modifiers included), else none: the evaluation time.
func (ev *evaluator) infoReference(e parser.Expr) (*parser.AtModifier, int64) {
	type ref struct {
		at     *parser.AtModifier
		offset int64
	}
	var first ref
	found, uniform, free := false, true, false
	same := func(a, b ref) bool {
		if a.at == nil || b.at == nil {
			return a.at == nil && b.at == nil && a.offset == b.offset
		}
		return ev.refTimes(a.at, 0).first-a.offset == ev.refTimes(b.at, 0).first-b.offset
	}
	var walk func(e parser.Expr, path []parser.Expr) bool
	walk = func(e parser.Expr, path []parser.Expr) bool {
		if t := e.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeMatrix {
			return false
		}
		if vs, ok := e.(*parser.VectorSelector); ok {
			r := ref{at: vs.At, offset: vs.Offset.Milliseconds()}
			for i := len(path) - 1; r.at == nil && i >= 0; i-- {
				if sq, ok := path[i].(*parser.SubqueryExpr); ok {
					r.offset += sq.Offset.Milliseconds()
					r.at = sq.At
				}
			}
			if !found {
				first, found = r, true
			} else if !same(first, r) {
				uniform = false
			}
			return true
		}
		path = append(path, e)
		children := parser.Children(e)
		if c, ok := e.(*parser.Call); ok && c.Func.Name == "info" {
			children = c.Args[:1] // the selector syntax is not evaluated
		}
		has := false
		for _, c := range children {
			if walk(c, path) {
				has = true
			}
		}
		if !has {
			free = true // a vector of no selector is read at the evaluation time
		}
		return has
	}
	walk(e, nil)
	if !found || !uniform || free {
		return nil, 0
	}
	return first.at, first.offset
}

// fetchInfo reads the info series the base series may need: one Select
// per pattern of identifying labels present (instance and job, instance
// alone, job alone), with the values seen, the data matchers and the name
// matchers. Each is evaluated like an instant selector, its value the
// time of the sample found (the newest info sample wins a tie).
func (ev *evaluator) fetchInfo(base Matrix, ignore []bool, data map[string][]*index.Matcher,
	nameMatchers []*index.Matcher, at *parser.AtModifier, offset int64) (Matrix, error) {
	type pattern struct {
		present [2]bool
		values  [2]map[string]bool
	}
	patterns := map[[2]bool]*pattern{}
	for i, s := range base {
		if ignore[i] {
			continue
		}
		var present [2]bool
		for k, n := range identifyingLabels {
			present[k] = s.Metric.Has(n)
		}
		if present == [2]bool{} {
			continue
		}
		p := patterns[present]
		if p == nil {
			p = &pattern{present: present, values: [2]map[string]bool{{}, {}}}
			patterns[present] = p
		}
		for k, n := range identifyingLabels {
			if present[k] {
				p.values[k][s.Metric.Get(n)] = true
			}
		}
	}
	var dataMatchers []*index.Matcher
	for _, name := range slices.Sorted(maps.Keys(data)) {
		dataMatchers = append(dataMatchers, data[name]...)
	}
	var out Matrix
	for _, present := range [][2]bool{{false, true}, {true, false}, {true, true}} {
		p := patterns[present]
		if p == nil {
			continue
		}
		var ms []*index.Matcher
		for k, n := range identifyingLabels {
			if !p.present[k] {
				ms = append(ms, index.MustNewMatcher(index.MatchEqual, n, ""))
				continue
			}
			vals := slices.Sorted(maps.Keys(p.values[k]))
			for j, v := range vals {
				vals[j] = regexp.QuoteMeta(v)
			}
			m, err := index.NewMatcher(index.MatchRegexp, n, strings.Join(vals, "|"))
			if err != nil {
				return nil, errorf("info: %v", err)
			}
			ms = append(ms, m)
		}
		ms = append(append(ms, dataMatchers...), nameMatchers...)
		vs := &parser.VectorSelector{LabelMatchers: ms, At: at, Offset: time.Duration(offset) * time.Millisecond}
		ev.infoSelect = true
		m, err := ev.vectorSelector(vs, true)
		ev.infoSelect = false
		if err != nil {
			return nil, err
		}
		out = append(out, m...)
	}
	return out, nil
}

// combineInfo adds, at each step, the data labels of the matching info
// series present then to each base series.
func (ev *evaluator) combineInfo(base, infos Matrix, ignore []bool, data map[string][]*index.Matcher) (Matrix, error) {
	// An info series and a base series meet on the info metric's name and
	// the identifying labels' values.
	sig := func(name string, l model.Labels) string {
		var b strings.Builder
		b.WriteString(name)
		for _, n := range identifyingLabels {
			b.WriteByte(0xff)
			b.WriteString(l.Get(n))
		}
		return b.String()
	}
	var infoNames []string
	infoSig := make([]string, len(infos))
	for i, s := range infos {
		if !slices.Contains(infoNames, s.Metric.Name()) {
			infoNames = append(infoNames, s.Metric.Name())
		}
		infoSig[i] = sig(s.Metric.Name(), s.Metric)
	}
	slices.Sort(infoNames)
	emptyOK := true // every data matcher accepts a missing label
	for _, ms := range data {
		for _, m := range ms {
			emptyOK = emptyOK && m.Matches("")
		}
	}
	baseSteps, infoSteps := ev.byStep(base), ev.byStep(infos)
	out := newStepOut()
	right := map[string]entry{}
	for i := 0; i < ev.steps; i++ {
		if err := ev.checkCtx(); err != nil {
			return nil, err
		}
		clear(right)
		for _, e := range infoSteps[i] {
			s := infoSig[e.idx]
			old, ok := right[s]
			switch {
			case !ok || e.v > old.v: // the newer info sample
				right[s] = e
			case e.v == old.v:
				return nil, errorf("found duplicate series for info metric: existing %s @ %d, new %s @ %d",
					promString(infos[old.idx].Metric), int64(math.Round(old.v*1000)), promString(infos[e.idx].Metric), int64(math.Round(e.v*1000)))
			}
		}
		t := ev.ts(i)
		for _, e := range baseSteps[i] {
			s := base[e.idx]
			l := s.Metric
			if !ignore[e.idx] {
				var added []model.Label
				matched := false
				for _, name := range infoNames {
					is, ok := right[sig(name, s.Metric)]
					if !ok {
						continue
					}
					matched = true
					for x := range infos[is.idx].Metric.All() {
						if slices.Contains(metadataLabels, x.Name) {
							continue
						}
						if _, wanted := data[x.Name]; len(data) > 0 && !wanted {
							continue
						}
						if k := slices.IndexFunc(added, func(a model.Label) bool { return a.Name == x.Name }); k >= 0 {
							if added[k].Value != x.Value {
								return nil, errorf("conflicting label: %s", x.Name)
							}
							continue
						}
						if s.Metric.Has(x.Name) {
							continue
						}
						added = append(added, x)
					}
				}
				if !matched && !emptyOK {
					continue
				}
				if len(added) > 0 {
					ps := append(slices.Collect(s.Metric.All()), added...)
					var err error
					if l, err = model.New(ps...); err != nil {
						return nil, errorf("info: %v", err)
					}
				}
			}
			oi := out.index(l)
			out.series[oi].DropName = s.DropName
			if !out.add(oi, t, e.v) {
				return nil, errorf("vector cannot contain metrics with the same labelset")
			}
		}
	}
	return out.matrix(), nil
}
