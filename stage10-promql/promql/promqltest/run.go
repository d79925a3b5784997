package promqltest

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql"
)

// Failure is one eval whose result differed from the script's.
type Failure struct {
	Line int
	Expr string
	// Msg explains the difference; for wrong results it is a diff, one line
	// per series: "- " expected but missing, "+ " returned but not
	// expected, "~ " present with other values.
	Msg string
}

// Result is the outcome of one script.
type Result struct {
	Name     string
	Evals    int
	Failures []Failure
	// Err is a script that could not be read or parsed; nothing ran.
	Err error
}

// Passed reports whether the script parsed and every eval matched.
func (r *Result) Passed() bool { return r.Err == nil && len(r.Failures) == 0 }

// Run executes a script against a fresh in-memory store.
func Run(name, script string, eng *promql.Engine) *Result {
	res := &Result{Name: name}
	cmds, err := parseScript(script)
	if err != nil {
		res.Err = err
		return res
	}
	st := promql.NewMemStorage()
	for _, c := range cmds {
		switch c := c.(type) {
		case *loadCmd:
			if err := load(st, c); err != nil {
				res.Err = fmt.Errorf("line %d: %v", c.at, err)
				return res
			}
		case *clearCmd:
			st.Clear()
		case *evalCmd:
			res.Evals++
			if msg := runEval(eng, st, c); msg != "" {
				res.Failures = append(res.Failures, Failure{Line: c.at, Expr: c.expr, Msg: msg})
			}
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
	for _, c := range cmds {
		l, ok := c.(*loadCmd)
		if !ok {
			continue
		}
		if err := load(st, l); err != nil {
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

func load(st *promql.MemStorage, c *loadCmd) error {
	for _, s := range c.series {
		for i, v := range s.values {
			if v.missing {
				continue
			}
			if err := st.Append(s.labels, int64(i)*c.interval.Milliseconds(), v.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// Check runs script files as subtests of t, reporting each failure with
// its file and line.
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
			if r.Evals == 0 {
				t.Fatalf("%s: no eval commands", p)
			}
			for _, f := range r.Failures {
				t.Errorf("%s:%d: %s\n%s", p, f.Line, f.Expr, f.Msg)
			}
		})
	}
}

// Report prints one line per script and the details of each failure.
func Report(w io.Writer, r *Result) {
	switch {
	case r.Err != nil:
		fmt.Fprintf(w, "FAIL %s: %v\n", r.Name, r.Err)
	case len(r.Failures) == 0:
		fmt.Fprintf(w, "PASS %s (%d evals)\n", r.Name, r.Evals)
	default:
		fmt.Fprintf(w, "FAIL %s (%d of %d evals failed)\n", r.Name, len(r.Failures), r.Evals)
		for _, f := range r.Failures {
			fmt.Fprintf(w, "  line %d: %s\n", f.Line, f.Expr)
			for l := range strings.SplitSeq(strings.TrimRight(f.Msg, "\n"), "\n") {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
	}
}

// runEval returns "" if the eval matched, else why not.
func runEval(eng *promql.Engine, st promql.Storage, c *evalCmd) string {
	ctx := context.Background()
	var (
		val promql.Value
		err error
	)
	if c.instant {
		val, err = eng.Query(ctx, st, c.expr, time.UnixMilli(c.start.Milliseconds()))
	} else {
		var m promql.Matrix
		m, err = eng.QueryRange(ctx, st, c.expr, time.UnixMilli(c.start.Milliseconds()), time.UnixMilli(c.end.Milliseconds()), c.step)
		val = m
	}
	if c.fail {
		switch {
		case err == nil:
			return "expected an error, the query succeeded"
		case c.failMsg != "" && err.Error() != c.failMsg:
			return fmt.Sprintf("expected error %q\n     got error %q", c.failMsg, err.Error())
		case c.failRegexp != nil && !c.failRegexp.MatchString(err.Error()):
			return fmt.Sprintf("expected an error matching %q\n     got error %q", c.failRegexp, err.Error())
		}
		return ""
	}
	if err != nil {
		return "unexpected error: " + err.Error()
	}
	switch v := val.(type) {
	case promql.Scalar:
		if c.scalar == nil {
			return fmt.Sprintf("got scalar %s, expected a vector", promql.FormatValue(v.V))
		}
		if !almostEqual(*c.scalar, v.V) {
			return fmt.Sprintf("expected scalar %s, got %s", promql.FormatValue(*c.scalar), promql.FormatValue(v.V))
		}
		return ""
	case promql.String:
		if c.str == nil || *c.str != v.V {
			return fmt.Sprintf("got string %q", v.V)
		}
		return ""
	case promql.Vector:
		if c.scalar != nil {
			return "expected a scalar, got a vector"
		}
		if c.rangeVector {
			return "expected a range vector, got an instant vector"
		}
		return compareVector(c, v)
	case promql.Matrix:
		if !c.instant {
			return compareMatrix(c, v, c.start, c.end, c.step)
		}
		if !c.rangeVector {
			return `got a range vector; an "expect range vector from <t> to <t> step <d>" line says which timestamps the expected values stand for`
		}
		return compareMatrix(c, v, c.rvFrom, c.rvTo, c.rvStep)
	}
	return fmt.Sprintf("unexpected result type %T", val)
}

func key(l model.Labels) string { return promql.MetricString(l) }

func compareVector(c *evalCmd, got promql.Vector) string {
	var diff []string
	want := map[string]float64{}
	var wantOrder []string
	for _, e := range c.expected {
		if len(e.values) != 1 || e.values[0].missing {
			return fmt.Sprintf("line %d: an instant result needs exactly one value per series", e.line)
		}
		want[key(e.labels)] = e.values[0].v
		wantOrder = append(wantOrder, key(e.labels))
	}
	seen := map[string]bool{}
	var gotOrder []string
	for _, s := range got {
		k := key(s.Metric)
		seen[k] = true
		gotOrder = append(gotOrder, k)
		w, ok := want[k]
		switch {
		case !ok:
			diff = append(diff, fmt.Sprintf("+ %s %s", k, promql.FormatValue(s.F)))
		case !almostEqual(w, s.F):
			diff = append(diff, fmt.Sprintf("~ %s expected %s, got %s", k, promql.FormatValue(w), promql.FormatValue(s.F)))
		}
	}
	for _, k := range wantOrder {
		if !seen[k] {
			diff = append(diff, fmt.Sprintf("- %s %s", k, promql.FormatValue(want[k])))
		}
	}
	if len(diff) == 0 && c.ordered && !slices.Equal(gotOrder, wantOrder) {
		diff = append(diff, "order differs; got:")
		diff = append(diff, gotOrder...)
	}
	return strings.Join(diff, "\n")
}

// compareMatrix compares a range query's result, or an instant query's
// range vector, with the expected values, which stand for the timestamps
// start, start+step, … end ("_" where no point is expected). A point off
// that grid is a difference too.
func compareMatrix(c *evalCmd, got promql.Matrix, start, end, step time.Duration) string {
	steps := int((end-start)/step) + 1
	slot := func(t int64) (int, bool) {
		d := time.Duration(t)*time.Millisecond - start
		i := int(d / step)
		return i, d >= 0 && d%step == 0 && i < steps
	}
	var diff []string
	seen := map[string]bool{}
	wantBy := map[string]expectedSeries{}
	for _, e := range c.expected {
		wantBy[key(e.labels)] = e
	}
	render := func(pts []promql.Point) string {
		out := make([]string, steps)
		for i := range out {
			out[i] = "_"
		}
		var off []string
		for _, p := range pts {
			if i, ok := slot(p.T); ok {
				out[i] = promql.FormatValue(p.V)
			} else {
				off = append(off, fmt.Sprintf("%s@%s", promql.FormatValue(p.V), time.Duration(p.T)*time.Millisecond))
			}
		}
		if len(off) > 0 {
			out = append(out, "(off the grid: "+strings.Join(off, " ")+")")
		}
		return strings.Join(out, " ")
	}
	for _, s := range got {
		k := key(s.Metric)
		seen[k] = true
		e, ok := wantBy[k]
		if !ok {
			diff = append(diff, "+ "+k+" "+render(s.Floats))
			continue
		}
		if len(e.values) > steps {
			diff = append(diff, fmt.Sprintf("~ %s: %d expected values for %d steps", k, len(e.values), steps))
			continue
		}
		// Fewer values than steps: no point is expected at the last ones
		// (Prometheus's runner reads them so too).
		for len(e.values) < steps {
			e.values = append(e.values[:len(e.values):len(e.values)], seqValue{missing: true})
		}
		gotAt := make([]*float64, steps)
		offGrid := false
		for _, p := range s.Floats {
			i, ok := slot(p.T)
			if !ok {
				offGrid = true
				continue
			}
			v := p.V
			gotAt[i] = &v
		}
		for i, w := range e.values {
			g := gotAt[i]
			if offGrid || w.missing != (g == nil) || (g != nil && !almostEqual(w.v, *g)) {
				exp := make([]string, steps)
				for j, x := range e.values {
					exp[j] = "_"
					if !x.missing {
						exp[j] = promql.FormatValue(x.v)
					}
				}
				diff = append(diff, fmt.Sprintf("~ %s\n    expected %s\n         got %s", k, strings.Join(exp, " "), render(s.Floats)))
				break
			}
		}
	}
	for _, e := range c.expected {
		if k := key(e.labels); !seen[k] {
			diff = append(diff, "- "+k)
		}
	}
	return strings.Join(diff, "\n")
}

// almostEqual: equal within a relative 1e-6 (the precision expected values
// are written with), NaN equal to NaN.
func almostEqual(a, b float64) bool {
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
