package promqltest

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// Eval is the outcome of one eval command.
type Eval struct {
	Line int
	Expr string
	// Native: the eval reads or expects native histogram samples (it
	// runs like any other; the counts keep these evals apart).
	Native bool
	// Failure says why the eval failed, "" if it passed. For wrong results
	// it is a diff, one line per series: "- " expected but missing, "+ "
	// returned but not expected, "~ " present with other values.
	Failure string
}

// Result is the outcome of one script.
type Result struct {
	Name  string
	Evals []Eval
	// Err is a script that could not be read or parsed (nothing ran), or a
	// load that failed (the evals before it ran).
	Err error
}

// Counts are how many evals passed and failed, and how many of them
// (passed or failed) read or expect native histograms.
func (r *Result) Counts() (passed, failed, native int) {
	for _, e := range r.Evals {
		if e.Native {
			native++
		}
		if e.Failure != "" {
			failed++
		} else {
			passed++
		}
	}
	return passed, failed, native
}

// CountsBy are the passed and failed evals of one kind: native (reading
// or expecting native histograms) or not.
func (r *Result) CountsBy(native bool) (passed, failed int) {
	for _, e := range r.Evals {
		switch {
		case e.Native != native:
		case e.Failure != "":
			failed++
		default:
			passed++
		}
	}
	return passed, failed
}

// Failures are the evals that failed.
func (r *Result) Failures() []Eval {
	var out []Eval
	for _, e := range r.Evals {
		if e.Failure != "" {
			out = append(out, e)
		}
	}
	return out
}

// Passed reports whether the script parsed and every eval it ran matched.
func (r *Result) Passed() bool { return r.Err == nil && len(r.Failures()) == 0 }

// runner runs one script's commands against a fresh in-memory store.
type runner struct {
	eng *promql.Engine
	st  *promql.MemStorage
	// native are the series that hold native histogram samples: an eval
	// selecting one of them counts as a native histogram eval.
	native []model.Labels
}

// Run executes a script against a fresh in-memory store, evaluating with
// eng (whose Features decide what parses, as Prometheus's test engine
// enables all of them).
func Run(name, script string, eng *promql.Engine) *Result {
	res := &Result{Name: name}
	cmds, err := parseScript(script)
	if err != nil {
		res.Err = err
		return res
	}
	r := &runner{eng: eng, st: promql.NewMemStorage()}
	for _, c := range cmds {
		switch c := c.(type) {
		case *loadCmd:
			if err := r.load(c); err != nil {
				res.Err = fmt.Errorf("line %d: %v", c.at, err)
				return res
			}
		case *clearCmd:
			r.st.Clear()
			r.native = nil
		case *evalCmd:
			e := Eval{Line: c.at, Expr: c.expr, Native: r.isNative(c)}
			e.Failure = r.eval(c)
			res.Evals = append(res.Evals, e)
		}
	}
	return res
}

// RunFile reads and runs one script file.
func RunFile(path string, eng *promql.Engine) *Result {
	b, err := os.ReadFile(path)
	if err != nil {
		return &Result{Name: path, Err: err}
	}
	return Run(path, string(b), eng)
}

// Load adds a script's load blocks (its other commands are ignored) to st:
// how the REPL's :load reads a file. It reports the series and samples
// loaded and the latest sample time (ms).
func Load(st *promql.MemStorage, script string) (series, samples int, last int64, err error) {
	cmds, err := parseScript(script)
	if err != nil {
		return 0, 0, 0, err
	}
	r := &runner{st: st}
	for _, c := range cmds {
		l, ok := c.(*loadCmd)
		if !ok {
			continue
		}
		if err := r.load(l); err != nil {
			return series, samples, last, err
		}
		series += len(l.series)
		for _, s := range l.series {
			for i, v := range s.values {
				if !v.missing {
					samples++
					last = max(last, int64(i)*l.interval.Milliseconds())
				}
			}
		}
	}
	return series, samples, last, nil
}

func (r *runner) load(c *loadCmd) error {
	var classic map[string]*classicBuckets
	// A series given twice in one block is the later line, as in
	// Prometheus's runner (which keeps one definition per series).
	last := map[string]int{}
	for i, s := range c.series {
		last[s.labels.String()] = i
	}
	for i, s := range c.series {
		if last[s.labels.String()] != i {
			continue
		}
		hasHist := false
		var hints chunkHints
		for k, v := range s.values {
			if v.missing {
				continue
			}
			t, st := int64(k)*c.interval.Milliseconds(), int64(0)
			if v.h != nil {
				hasHist = true
				hst := int64(0)
				if k < len(s.st) && !s.st[k].missing {
					hst = t + int64(s.st[k].v) // an offset from the sample's time
				}
				if err := r.st.AppendHistogramWithStart(s.labels, t, hints.next(v.h), hst); err != nil {
					return err
				}
				continue
			}
			hints.float()
			if k < len(s.st) && !s.st[k].missing {
				st = t + int64(s.st[k].v) // an offset from the sample's time
			}
			if err := r.st.AppendWithStart(s.labels, t, v.v, st); err != nil {
				return err
			}
		}
		if hasHist {
			r.native = append(r.native, s.labels)
		}
		if c.withNHCB {
			if l, ok := nhcbSeries(s.labels); ok {
				r.native = append(r.native, l)
				if classic == nil {
					classic = map[string]*classicBuckets{}
				}
				collectClassic(classic, l, s, c.interval.Milliseconds())
			}
		}
	}
	keys := make([]string, 0, len(classic))
	for k := range classic {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		cb := classic[k]
		ts := make([]int64, 0, len(cb.byTime))
		for t := range cb.byTime {
			ts = append(ts, t)
		}
		slices.Sort(ts)
		for _, t := range ts {
			h, ok := cb.byTime[t].convert()
			if !ok {
				continue
			}
			if err := r.st.AppendHistogram(cb.labels, t, h); err != nil {
				return err
			}
		}
	}
	return nil
}

// chunkHints gives appended histograms the counter reset hints that
// Prometheus's TSDB hands back when they are read: a histogram starting a
// chunk has an unknown hint (the chunk before may be gone, or come from
// elsewhere), the others in the chunk "not a reset". A chunk starts at
// the series' first histogram, after a float, at a counter reset (or a
// histogram that says it is one), when the bucket layout changes
// (schema, zero threshold, custom bounds), and every 120 samples. Gauge
// histograms keep their hint.
type chunkHints struct {
	prev *histogram.FloatHistogram
	n    int
}

// chunkSamples is how many samples a chunk holds at most.
const chunkSamples = 120

func (c *chunkHints) float() { c.prev, c.n = nil, 0 }

func (c *chunkHints) next(h *histogram.FloatHistogram) *histogram.FloatHistogram {
	if h.CounterResetHint == histogram.GaugeType {
		c.prev, c.n = nil, 0
		return h
	}
	p := c.prev
	cut := p == nil || c.n >= chunkSamples || h.CounterResetHint == histogram.CounterReset ||
		h.Schema != p.Schema || h.ZeroThreshold != p.ZeroThreshold ||
		!slices.Equal(h.CustomValues, p.CustomValues) || h.DetectReset(p)
	out := h.Copy() // h may stand for several samples ({{…}}x3)
	out.CounterResetHint = histogram.NotCounterReset
	if cut {
		out.CounterResetHint = histogram.UnknownCounterReset
		c.n = 0
	}
	c.prev = h
	c.n++
	return out
}

// collectClassic adds a classic histogram series' samples (a bucket, the
// count or the sum of nl) to what load_with_nhcb converts.
func collectClassic(classic map[string]*classicBuckets, nl model.Labels, s loadSeries, interval int64) {
	key := nl.String()
	cb := classic[key]
	if cb == nil {
		cb = &classicBuckets{labels: nl, byTime: map[int64]*nhcb{}}
		classic[key] = cb
	}
	name := s.labels.Name()
	var le float64
	if strings.HasSuffix(name, "_bucket") {
		var err error
		if le, err = strconv.ParseFloat(s.labels.Get("le"), 64); err != nil {
			return
		}
	}
	for k, v := range s.values {
		if v.missing || v.h != nil || promql.IsStaleNaN(v.v) {
			continue
		}
		t := int64(k) * interval
		h := cb.byTime[t]
		if h == nil {
			h = &nhcb{}
			cb.byTime[t] = h
		}
		switch {
		case strings.HasSuffix(name, "_bucket"):
			h.les, h.counts = append(h.les, le), append(h.counts, v.v)
		case strings.HasSuffix(name, "_count"):
			h.count, h.hasCount = v.v, true
		default:
			h.sum = v.v
		}
	}
}

// nhcbSeries is the native histogram that load_with_nhcb makes of a
// classic histogram's series: foo_bucket{le="…"}, foo_count and foo_sum
// are all part of foo.
func nhcbSeries(l model.Labels) (model.Labels, bool) {
	name := l.Name()
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			nl, err := l.Without("le").With(model.MetricName, base)
			return nl, err == nil
		}
	}
	return model.Labels{}, false
}

// isNative reports an eval that needs native histograms: it expects a
// histogram value, or one of its selectors matches a series holding
// histogram samples.
func (r *runner) isNative(c *evalCmd) bool {
	for _, e := range c.expected {
		for _, v := range e.values {
			if v.h != nil {
				return true
			}
		}
	}
	if len(r.native) == 0 {
		return false
	}
	expr, err := r.eng.Parse(c.expr)
	if err != nil {
		return false
	}
	native := false
	parser.Inspect(expr, func(e parser.Expr, _ []parser.Expr) bool {
		vs, ok := e.(*parser.VectorSelector)
		if !ok {
			return !native
		}
		for _, l := range r.native {
			all := true
			for _, m := range vs.LabelMatchers {
				if !m.Matches(l.Get(m.Name())) {
					all = false
					break
				}
			}
			native = native || all
		}
		return !native
	})
	return native
}

// eval runs one eval command as Prometheus's runner does and returns ""
// or why it failed. An instant query is also run with every selector
// pinned to its time by @ at other evaluation times (the result must not
// change), and as a range query around its time (the middle step must
// equal the instant result).
func (r *runner) eval(c *evalCmd) string {
	if !c.instant {
		return r.rangeEval(c)
	}
	at := ms(c.evalAt)
	if msg := r.instant(c, c.expr, at); msg != "" {
		return msg
	}
	variant, times := r.atVariants(c.expr, at)
	for _, t := range times {
		if msg := r.instant(c, variant, t); msg != "" {
			return fmt.Sprintf("with @ at %s, as %s:\n%s", time.Duration(t)*time.Millisecond, variant, msg)
		}
	}
	return ""
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

// queryContextRE finds the functions whose value depends on the query's
// own range: a range query around an instant one answers differently.
var queryContextRE = regexp.MustCompile(`(start|end|range|step)\(\)`)

func (r *runner) instant(c *evalCmd, expr string, at int64) string {
	res, err := r.exec(expr, time.UnixMilli(at), time.UnixMilli(at), 0)
	if err != nil || c.isFail() {
		return c.checkFailure(err)
	}
	if msg := c.checkAnnotations(expr, res.Annotations); msg != "" {
		return msg
	}
	if msg := c.compare(res.Value, at); msg != "" {
		return msg
	}
	if c.notInRangeMode || queryContextRE.MatchString(expr) {
		return ""
	}
	rr, err := r.exec(expr, time.UnixMilli(at-60_000), time.UnixMilli(at+60_000), time.Minute)
	if err != nil {
		return "in range mode: unexpected error: " + err.Error()
	}
	if c.isOrdered() {
		return "" // range results are ordered by labels
	}
	m := rr.Value.(promql.Matrix)
	var vec promql.Vector
	for _, s := range m {
		for _, p := range s.Floats {
			if p.T == at {
				vec = append(vec, promql.Sample{Metric: s.Metric, T: at, F: p.V})
				break
			}
		}
		for _, p := range s.Histograms {
			if p.T == at {
				vec = append(vec, promql.Sample{Metric: s.Metric, T: at, H: p.H})
				break
			}
		}
	}
	var msg string
	if _, ok := res.Value.(promql.Scalar); ok {
		if len(vec) == 0 {
			return "in range mode: no scalar at the instant query's time"
		}
		msg = c.compare(promql.Scalar{T: at, V: vec[0].F}, at)
	} else {
		msg = c.compare(vec, at)
	}
	if msg != "" {
		return "in range mode:\n" + msg
	}
	return ""
}

func (r *runner) rangeEval(c *evalCmd) string {
	res, err := r.exec(c.expr, time.UnixMilli(ms(c.start)), time.UnixMilli(ms(c.end)), c.step)
	if err != nil || c.isFail() {
		return c.checkFailure(err)
	}
	if msg := c.checkAnnotations(c.expr, res.Annotations); msg != "" {
		return msg
	}
	return c.compare(res.Value, 0)
}

// exec parses and runs one query (step 0: instant).
func (r *runner) exec(q string, start, end time.Time, step time.Duration) (*promql.Result, error) {
	expr, err := r.eng.Parse(q)
	if err != nil {
		return nil, err
	}
	return r.eng.Exec(context.Background(), r.st, promql.Query{Expr: expr, Start: start, End: end, Step: step})
}

// atVariants is the query with an @ at the evaluation time on every
// selector and subquery that has none (and is not inside a subquery that
// has one), and the times to run it at: other times give the same answer.
// Queries using a function whose value depends on the evaluation time
// (time(), hour(), timestamp(), …) get none, as in Prometheus's runner.
func (r *runner) atVariants(q string, at int64) (string, []int64) {
	expr, err := r.eng.Parse(q)
	if err != nil {
		return "", nil
	}
	unsafe := false
	parser.Inspect(expr, func(e parser.Expr, path []parser.Expr) bool {
		for _, p := range path {
			if sq, ok := p.(*parser.SubqueryExpr); ok && sq.At != nil {
				return false
			}
		}
		pin := func(a **parser.AtModifier) {
			if *a == nil {
				*a = &parser.AtModifier{Timestamp: at}
			}
		}
		switch n := e.(type) {
		case *parser.VectorSelector:
			pin(&n.At)
		case *parser.MatrixSelector:
			pin(&n.VectorSelector.At)
		case *parser.SubqueryExpr:
			pin(&n.At)
		case *parser.Call:
			unsafe = unsafe || atUnsafe[n.Func.Name]
		}
		return true
	})
	if unsafe {
		return "", nil
	}
	times := []int64{-10 * at, 0, at / 5, at, 10 * at}
	if at == 0 {
		times = []int64{-1000, 0, 1000}
	}
	return expr.String(), times
}

// atUnsafe are the functions whose result depends on the evaluation time
// even when their arguments are pinned by @.
var atUnsafe = map[string]bool{
	"days_in_month": true, "day_of_month": true, "day_of_week": true, "day_of_year": true,
	"end": true, "hour": true, "minute": true, "month": true, "year": true, "predict_linear": true,
	"range": true, "start": true, "step": true, "time": true, "timestamp": true,
}

// checkFailure compares a query's error with what the eval expects.
func (c *evalCmd) checkFailure(err error) string {
	switch {
	case err == nil:
		return "expected an error, the query succeeded"
	case !c.isFail():
		return "unexpected error: " + err.Error()
	case c.failMsg != "" && err.Error() != c.failMsg:
		return fmt.Sprintf("expected error %q\n     got error %q", c.failMsg, err.Error())
	case c.failRegexp != nil && !c.failRegexp.MatchString(err.Error()):
		return fmt.Sprintf("expected an error matching %q\n     got error %q", c.failRegexp, err.Error())
	}
	if es := c.expects[expectFail]; len(es) > 0 && !es[0].matches(err.Error()) {
		return fmt.Sprintf("expected an error matching %s\n     got error %q", es[0], err.Error())
	}
	return ""
}

// checkAnnotations compares the query's warnings and infos with the
// eval's expect lines, as Prometheus's runner does: each expected one
// must be there, and once any is expected, every one there must be.
func (c *evalCmd) checkAnnotations(expr string, as promql.Annotations) string {
	warnings, infos := as.Strings(expr)
	switch {
	case c.warn && len(warnings) == 0:
		return "expected warnings, got none"
	case c.info && len(infos) == 0:
		return "expected infos, got none"
	}
	for _, k := range []struct {
		kind, none expectKind
		what       string
		got        []string
	}{{expectWarn, expectNoWarn, "warning", warnings}, {expectInfo, expectNoInfo, "info", infos}} {
		want := c.expects[k.kind]
		if len(want) > 0 && len(k.got) == 0 {
			return fmt.Sprintf("expected %s annotations, got none", k.what)
		}
		for _, w := range want {
			if !slices.ContainsFunc(k.got, w.matches) {
				return fmt.Sprintf("expected a %s matching %s, got %q", k.what, w, k.got)
			}
		}
		for _, g := range k.got {
			if len(want) > 0 && !slices.ContainsFunc(want, func(w expectation) bool { return w.matches(g) }) {
				return fmt.Sprintf("unexpected %s %q", k.what, g)
			}
		}
		if c.expects[k.none] != nil && len(k.got) > 0 {
			return fmt.Sprintf("expected no %s, got %q", k.what, k.got)
		}
	}
	return ""
}

// compare checks a result against the expected values. at is an instant
// query's time.
func (c *evalCmd) compare(v promql.Value, at int64) string {
	switch v := v.(type) {
	case promql.Scalar:
		if c.scalar == nil {
			return fmt.Sprintf("got scalar %s, expected a vector or matrix", promql.FormatValue(v.V))
		}
		if !almostEqual(*c.scalar, v.V) {
			return fmt.Sprintf("expected scalar %s, got %s", promql.FormatValue(*c.scalar), promql.FormatValue(v.V))
		}
	case promql.String:
		want := ""
		if c.str != nil {
			want = *c.str
		}
		if v.V != want {
			return fmt.Sprintf("expected string %q, got %q", want, v.V)
		}
	case promql.Vector:
		if c.scalar != nil {
			return "expected a scalar, got a vector"
		}
		return c.compareVector(v)
	case promql.Matrix:
		if c.isOrdered() {
			return "expected an ordered result, the query returned a matrix"
		}
		if c.scalar != nil {
			return "expected a scalar, got a matrix"
		}
		if c.instant && !c.rangeVector {
			// Only an empty range vector can match: the expected
			// values have no timestamps.
			return c.compareMatrix(v, at, at-1, 1)
		}
		return c.compareMatrix(v, ms(c.start), ms(c.end), ms(c.step))
	default:
		return fmt.Sprintf("unexpected result type %T", v)
	}
	return ""
}

func key(l model.Labels) string { return promql.MetricString(l) }

func (c *evalCmd) compareVector(got promql.Vector) string {
	var diff []string
	want := map[string]expectedSeries{}
	for _, e := range c.expected {
		if len(e.values) != 1 || e.values[0].missing {
			return fmt.Sprintf("line %d: an instant result needs exactly one value per series", e.line)
		}
		want[key(e.labels)] = e
	}
	seen := map[string]bool{}
	misplaced := false
	for i, s := range got {
		k := key(s.Metric)
		seen[k] = true
		w, ok := want[k]
		switch {
		case !ok:
			diff = append(diff, fmt.Sprintf("+ %s %s", k, formatSample(s.F, s.H)))
		case !sameValue(w.values[0], s.F, s.H):
			diff = append(diff, fmt.Sprintf("~ %s expected %s, got %s", k, formatSample(w.values[0].v, w.values[0].h), formatSample(s.F, s.H)))
		case c.isOrdered() && w.pos != i+1:
			misplaced = true
		}
	}
	for _, e := range c.expected {
		if k := key(e.labels); !seen[k] {
			diff = append(diff, fmt.Sprintf("- %s %s", k, formatSample(e.values[0].v, e.values[0].h)))
		}
	}
	if len(diff) == 0 && misplaced {
		diff = append(diff, "order differs; got:")
		for _, s := range got {
			diff = append(diff, "  "+key(s.Metric))
		}
	}
	return strings.Join(diff, "\n")
}

// compareMatrix compares a range query's result, or an instant query's
// range vector, with the expected values, which stand for the timestamps
// start, start+step, … up to end ("_" where no point is expected; fewer
// values than steps: none at the last ones). The result must be sorted
// by labels, and a point at any other time is a difference.
func (c *evalCmd) compareMatrix(got promql.Matrix, start, end, step int64) string {
	for i := 1; i < len(got); i++ {
		if got[i-1].Metric.Compare(got[i].Metric) > 0 {
			return fmt.Sprintf("the matrix is not sorted by labels: %s before %s", key(got[i-1].Metric), key(got[i].Metric))
		}
	}
	var diff []string
	seen := map[string]bool{}
	wantBy := map[string]expectedSeries{}
	for _, e := range c.expected {
		wantBy[key(e.labels)] = e
	}
	type point struct {
		t int64
		v seqValue
	}
	render := func(pts []point) string {
		var out []string
		for _, p := range pts {
			out = append(out, fmt.Sprintf("%s@%s", formatSample(p.v.v, p.v.h), time.Duration(p.t)*time.Millisecond))
		}
		return strings.Join(out, " ")
	}
	// A series' points of both kinds in time order.
	gotPoints := func(s promql.Series) []point {
		out := make([]point, 0, len(s.Floats)+len(s.Histograms))
		i, j := 0, 0
		for i < len(s.Floats) || j < len(s.Histograms) {
			if j >= len(s.Histograms) || (i < len(s.Floats) && s.Floats[i].T <= s.Histograms[j].T) {
				out = append(out, point{t: s.Floats[i].T, v: seqValue{v: s.Floats[i].V}})
				i++
			} else {
				out = append(out, point{t: s.Histograms[j].T, v: seqValue{h: s.Histograms[j].H}})
				j++
			}
		}
		return out
	}
	for _, s := range got {
		k := key(s.Metric)
		seen[k] = true
		e, ok := wantBy[k]
		gp := gotPoints(s)
		if !ok {
			diff = append(diff, "+ "+k+" "+render(gp))
			continue
		}
		var want []point
		for i, v := range e.values {
			t := start + int64(i)*step
			if t > end {
				diff = append(diff, fmt.Sprintf("~ %s: %d expected values, more than the query's steps", k, len(e.values)))
				want = nil
				break
			}
			if !v.missing {
				want = append(want, point{t: t, v: v})
			}
		}
		same := len(want) == len(gp)
		for i := 0; same && i < len(want); i++ {
			same = want[i].t == gp[i].t && sameValue(want[i].v, gp[i].v.v, gp[i].v.h)
		}
		if !same {
			diff = append(diff, fmt.Sprintf("~ %s\n    expected %s\n         got %s", k, render(want), render(gp)))
		}
	}
	for _, e := range c.expected {
		if k := key(e.labels); !seen[k] {
			diff = append(diff, "- "+k)
		}
	}
	return strings.Join(diff, "\n")
}

// sameValue compares an expected value with a result's float f or
// histogram h (nil for a float): a float with a float (almostEqual), a
// histogram with a histogram, as Prometheus's runner compares them:
// empty buckets aside (it compacts both), every field within the same
// tolerance, the counter reset hint only where the expected one wrote it.
func sameValue(want seqValue, f float64, h *histogram.FloatHistogram) bool {
	switch {
	case want.h == nil && h == nil:
		return almostEqual(want.v, f)
	case want.h == nil || h == nil:
		return false
	case want.hintSet && want.h.CounterResetHint != h.CounterResetHint:
		return false
	}
	return want.h.Equivalent(h, 1e-6)
}

func formatSample(f float64, h *histogram.FloatHistogram) string {
	if h != nil {
		return promql.FormatHistogram(h)
	}
	return promql.FormatValue(f)
}

// almostEqual: equal within a relative 1e-6 (the precision expected values
// are written with), NaN equal to NaN, a staleness marker only to one.
func almostEqual(a, b float64) bool {
	if promql.IsStaleNaN(a) || promql.IsStaleNaN(b) {
		return promql.IsStaleNaN(a) && promql.IsStaleNaN(b)
	}
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if a == b {
		return true
	}
	const minNormal = 2.2250738585072014e-308
	diff := math.Abs(a - b)
	sum := math.Abs(a) + math.Abs(b)
	if a == 0 || b == 0 || sum < minNormal {
		return diff < 1e-6*minNormal
	}
	return diff/math.Min(sum, math.MaxFloat64) < 1e-6
}

// Check runs script files as subtests of t, reporting each failure with
// its file and line. An eval that needs native histograms fails too: the
// stage's own scripts must test only what the engine does.
func Check(t *testing.T, eng *promql.Engine, paths ...string) {
	t.Helper()
	if len(paths) == 0 {
		t.Fatal("promqltest.Check: no script files")
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			r := RunFile(p, eng)
			if r.Err != nil {
				t.Fatalf("%s: %v", p, r.Err)
			}
			if len(r.Evals) == 0 {
				t.Fatalf("%s: no eval commands", p)
			}
			for _, e := range r.Evals {
				if e.Failure != "" {
					t.Errorf("%s:%d: %s\n%s", p, e.Line, e.Expr, e.Failure)
				}
			}
		})
	}
}

// Report prints one line per script and the details of each failure.
func Report(w io.Writer, r *Result) {
	passed, failed, native := r.Counts()
	skipped := ""
	if native > 0 {
		np, _ := r.CountsBy(true)
		skipped = fmt.Sprintf(", %d of %d native histogram evals passed", np, native)
	}
	switch {
	case r.Err != nil:
		fmt.Fprintf(w, "FAIL %s: %v\n", r.Name, r.Err)
	case failed == 0:
		fmt.Fprintf(w, "PASS %s (%d evals%s)\n", r.Name, passed, skipped)
	default:
		fmt.Fprintf(w, "FAIL %s (%d of %d evals failed%s)\n", r.Name, failed, passed+failed, skipped)
	}
	for _, f := range r.Failures() {
		fmt.Fprintf(w, "  line %d: %s\n", f.Line, f.Expr)
		for l := range strings.SplitSeq(strings.TrimRight(f.Failure, "\n"), "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
}
