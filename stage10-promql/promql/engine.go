package promql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// Errors callers branch on. Every evaluation error wraps ErrExecution; the
// limits also wrap their own sentinel.
var (
	ErrExecution      = errors.New("execution error")
	ErrTooManySamples = errors.New("query processing would load too many samples into memory in query execution")
	// ErrMemoryLimit: the query would use more than Opts.MaxMemory.
	ErrMemoryLimit = errors.New("query processing would use more than the per-query memory limit")
	ErrTimeout     = errors.New("query timed out")
	ErrCanceled    = errors.New("query was canceled")
)

// execError is an evaluation error whose text is exactly Prometheus's
// (clients compare messages), while errors.Is(err, ErrExecution) holds.
type execError struct {
	msg  string
	also error
}

func (e *execError) Error() string { return e.msg }
func (e *execError) Is(target error) bool {
	return target == ErrExecution || (e.also != nil && target == e.also)
}

func errorf(format string, a ...any) error { return &execError{msg: fmt.Sprintf(format, a...)} }

// Opts configure an Engine. Zero values mean the defaults noted.
type Opts struct {
	// LookbackDelta is how far back an instant selector looks for a
	// sample. Defaults to 5m, as in Prometheus.
	LookbackDelta time.Duration
	// MaxSamples caps the samples one query holds in memory at once: the
	// windows range functions are sliding, subquery points, and the results
	// of sub-expressions still needed, counted at their peak as Prometheus
	// does (samples read and let go do not count). Defaults to 50,000,000,
	// Prometheus's default.
	MaxSamples int
	// MaxMemory caps the bytes one query holds at once: its samples at 16
	// bytes each, counted as MaxSamples counts them, plus the label sets
	// it makes (count_values, label_replace, label_join, aggregation
	// groups) and the scratch arrays of its steps. Every allocation that
	// grows with the data or the steps is checked before it is made, so a
	// query over either limit is refused without having used the memory.
	// Defaults to DefaultMaxMemory.
	MaxMemory int64
	// Timeout bounds one query's evaluation. Defaults to 2m.
	Timeout time.Duration
	// SubqueryStep is the step of a subquery written without one
	// (foo[1h:]). Defaults to 1m, Prometheus's default evaluation interval.
	SubqueryStep time.Duration
	// Features are the --enable-feature flags that change the language
	// (what parses, through Parse) and the evaluation (delayed __name__
	// removal). The zero value is Prometheus 3's default.
	Features Features
}

// DefaultMaxMemory is MaxMemory's default, 1 GiB: room for the default
// MaxSamples (50M samples, 800 MB) and the labels beside them.
const DefaultMaxMemory = 1 << 30

// Engine evaluates queries. It holds only configuration, so one Engine may
// run any number of queries concurrently.
type Engine struct {
	opts Opts
}

// NewEngine applies the defaults to opts.
func NewEngine(opts Opts) *Engine {
	if opts.LookbackDelta <= 0 {
		opts.LookbackDelta = 5 * time.Minute
	}
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = 50_000_000
	}
	if opts.MaxMemory <= 0 {
		opts.MaxMemory = DefaultMaxMemory
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.SubqueryStep <= 0 {
		opts.SubqueryStep = time.Minute
	}
	return &Engine{opts: opts}
}

// Parse parses a query with the language the engine's Features enable.
func (e *Engine) Parse(q string) (parser.Expr, error) {
	return e.opts.Features.Parser().ParseExpr(q)
}

// Features are the features the engine was made with.
func (e *Engine) Features() Features { return e.opts.Features }

// A Query is a parsed expression and when to evaluate it: at Start alone
// (an instant query, Step 0), or at Start, Start+Step, … up to End (a range
// query).
type Query struct {
	Expr       parser.Expr
	Start, End time.Time
	Step       time.Duration
}

// Result is what a query returns: its value and its annotations.
type Result struct {
	// Value is a Vector, Scalar or String for an instant query (a Matrix
	// of raw samples for a range-vector expression such as foo[5m]), a
	// Matrix sorted by label set for a range query.
	Value Value
	// Annotations are Prometheus's warnings and infos about the query.
	Annotations Annotations
}

// Exec runs a query. An instant vector keeps the order of a top-level
// sort, sort_desc, sort_by_label, topk or bottomk; any other result is
// sorted by label set.
func (e *Engine) Exec(ctx context.Context, st Storage, q Query) (*Result, error) {
	if q.Step == 0 {
		return e.instant(ctx, st, q.Expr, q.Start)
	}
	return e.rangeQuery(ctx, st, q.Expr, q.Start, q.End, q.Step)
}

// Eval runs an instant query at ts: Exec without the annotations.
func (e *Engine) Eval(ctx context.Context, st Storage, expr parser.Expr, ts time.Time) (Value, error) {
	r, err := e.instant(ctx, st, expr, ts)
	if err != nil {
		return nil, err
	}
	return r.Value, nil
}

// EvalRange runs a range query: expr at start, start+step, … up to end,
// Exec without the annotations.
func (e *Engine) EvalRange(ctx context.Context, st Storage, expr parser.Expr, start, end time.Time, step time.Duration) (Matrix, error) {
	r, err := e.rangeQuery(ctx, st, expr, start, end, step)
	if err != nil {
		return nil, err
	}
	return r.Value.(Matrix), nil
}

func (e *Engine) instant(ctx context.Context, st Storage, expr parser.Expr, ts time.Time) (*Result, error) {
	t := ts.UnixMilli()
	ev, cancel := e.newEvaluator(ctx, st, t, t, 1)
	defer cancel()
	ev.qStep = 0 // an instant query has no step
	expr, err := resolveDurations(expr, t, t, 0)
	if err != nil {
		return nil, err
	}
	ev.statsSel = statsSelectors(expr)
	res := &Result{}
	switch expr.Type() {
	case parser.ValueTypeMatrix:
		r, err := ev.rangeArg(parser.UnwrapParens(expr))
		if err != nil {
			return nil, ev.wrap(err)
		}
		out := make(Matrix, 0, len(r.series))
		for _, s := range r.series {
			var pts []Point
			if r.extended {
				end := r.ref.at(0)
				pts = extendPoints(s.samples, end-r.rng, end, r.selector.Smoothed)
			} else if lo, hi := r.window(s.samples, 0, 0); lo < hi {
				pts = slices.Clone(s.samples[lo:hi])
			}
			var hs []HPoint
			if !r.extended {
				end := r.ref.at(0)
				hs = windowHists(s.hists, end-r.rng, end, false)
			}
			if len(pts) > 0 || len(hs) > 0 {
				out = append(out, Series{Metric: s.labels, Floats: pts, Histograms: hs, DropName: s.dropName})
			}
		}
		if out, err = finish(out, false); err != nil {
			return nil, ev.wrap(err)
		}
		sortMatrix(out)
		res.Value = out
	case parser.ValueTypeString:
		res.Value = String{T: t, V: parser.UnwrapParens(expr).(*parser.StringLiteral).Val}
	case parser.ValueTypeScalar:
		sc, err := ev.evalScalar(expr)
		if err != nil {
			return nil, ev.wrap(err)
		}
		res.Value = Scalar{T: t, V: sc[0]}
	default:
		m, err := ev.evalVector(expr)
		if err != nil {
			return nil, ev.wrap(err)
		}
		if m, err = finish(m, true); err != nil {
			return nil, ev.wrap(err)
		}
		if !keepsOrder(expr) {
			sortMatrix(m)
		}
		vec := make(Vector, 0, len(m))
		for _, s := range m {
			for _, p := range s.Floats {
				vec = append(vec, Sample{Metric: s.Metric, T: t, F: p.V})
			}
			for _, p := range s.Histograms {
				vec = append(vec, Sample{Metric: s.Metric, T: t, H: p.H})
			}
		}
		res.Value = vec
	}
	res.Annotations = ev.annos.list
	return res, nil
}

func (e *Engine) rangeQuery(ctx context.Context, st Storage, expr parser.Expr, start, end time.Time, step time.Duration) (*Result, error) {
	s, en, stp := start.UnixMilli(), end.UnixMilli(), step.Milliseconds()
	if stp <= 0 {
		return nil, errorf("zero or negative query resolution step widths are not accepted. Try a positive integer")
	}
	if en < s {
		return nil, errorf("end timestamp must not be before start time")
	}
	if (en-s)/stp >= maxSteps {
		return nil, errorf("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")
	}
	if t := expr.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeScalar {
		return nil, errorf("invalid expression type %q for range query, must be Scalar or instant Vector", t.DocumentedType())
	}
	ev, cancel := e.newEvaluator(ctx, st, s, en, stp)
	defer cancel()
	expr, err := resolveDurations(expr, s, en, stp)
	if err != nil {
		return nil, err
	}
	ev.statsSel = statsSelectors(expr)
	var m Matrix
	if expr.Type() == parser.ValueTypeScalar {
		sc, err := ev.evalScalar(expr)
		if err != nil {
			return nil, ev.wrap(err)
		}
		pts := make([]Point, len(sc))
		for i, v := range sc {
			pts[i] = Point{T: ev.ts(i), V: v}
		}
		m = Matrix{{Floats: pts}}
	} else {
		if m, err = ev.evalVector(expr); err != nil {
			return nil, ev.wrap(err)
		}
		if m, err = finish(m, false); err != nil {
			return nil, ev.wrap(err)
		}
		sortMatrix(m)
	}
	return &Result{Value: m, Annotations: ev.annos.list}, nil
}

// maxSteps is Prometheus's cap on a range query's points per series.
const maxSteps = 11_000

// Query parses q (with the engine's Features) and runs it as an instant
// query.
func (e *Engine) Query(ctx context.Context, st Storage, q string, ts time.Time) (Value, error) {
	expr, err := e.Parse(q)
	if err != nil {
		return nil, err
	}
	return e.Eval(ctx, st, expr, ts)
}

// QueryRange parses q (with the engine's Features) and runs it as a range
// query.
func (e *Engine) QueryRange(ctx context.Context, st Storage, q string, start, end time.Time, step time.Duration) (Matrix, error) {
	expr, err := e.Parse(q)
	if err != nil {
		return nil, err
	}
	return e.EvalRange(ctx, st, expr, start, end, step)
}

// keepsOrder: an instant query whose outermost operation orders its
// result (sort, sort_desc, topk, bottomk) keeps that order; any other
// result is sorted by label set so output is deterministic.
func keepsOrder(e parser.Expr) bool {
	switch n := parser.UnwrapParens(e).(type) {
	case *parser.Call:
		switch n.Func.Name {
		case "sort", "sort_desc", "sort_by_label", "sort_by_label_desc":
			return true
		}
	case *parser.AggregateExpr:
		return n.Op == parser.TOPK || n.Op == parser.BOTTOMK
	}
	return false
}

func sortMatrix(m Matrix) {
	slices.SortFunc(m, func(a, b Series) int { return a.Metric.Compare(b.Metric) })
}
