package promql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// evaluator runs one query. Every expression is evaluated once for the
// whole step grid start, start+interval, …, end (an instant query is a grid
// of one step), producing a Matrix whose points sit on the grid. That is the
// "select once, slide windows" design: a selector reads storage once for
// the widest range any step needs, and each step is a window over what was
// read, never a new Select.
type evaluator struct {
	ctx                  context.Context
	deadline             time.Time // ctx's, zero if none
	st                   Storage
	start, end, interval int64
	steps                int
	lookback             int64
	maxSamples           int
	maxMemory            int64
	held                 *int   // samples in memory now; shared with subquery evaluators
	reserved             *int   // of held: points of results still being built (reserve)
	labelBytes           *int64 // bytes of the label sets the query made (madeLabels)
	qStart, qEnd         int64  // the query's own range, for @ start() / @ end()
	qStep                int64  // the query's step (0: instant), for step()
	subStep              int64
	features             Features
	// statsSel are the selectors read as Prometheus's count-and-sum
	// histogram iterator reads them (statsSelectors).
	statsSel map[*parser.VectorSelector]bool
	// infoSelect: the selector being read is info()'s, whose series must
	// hold floats (an info metric's samples are 1s).
	infoSelect bool
	annos      *annotationSet // shared with subquery evaluators
	stats      *Stats         // nil unless the caller asked (WithStats)
}

func (e *Engine) newEvaluator(ctx context.Context, st Storage, start, end, interval int64) (*evaluator, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	deadline, _ := ctx.Deadline()
	var held, reserved int
	var labelBytes int64
	return &evaluator{
		ctx: ctx, deadline: deadline, st: st, start: start, end: end, interval: interval,
		steps:    int((end-start)/interval) + 1,
		lookback: e.opts.LookbackDelta.Milliseconds(), maxSamples: e.opts.MaxSamples, maxMemory: e.opts.MaxMemory,
		held: &held, reserved: &reserved, labelBytes: &labelBytes,
		qStart: start, qEnd: end, qStep: interval, subStep: e.opts.SubqueryStep.Milliseconds(),
		features: e.opts.Features, annos: &annotationSet{}, stats: statsFrom(ctx),
	}, cancel
}

// child is an evaluator for a subquery's inner expression: its own grid,
// the same limits, storage, counters and query range.
func (ev *evaluator) child(start, end, interval int64) *evaluator {
	c := *ev
	c.start, c.end, c.interval = start, end, interval
	c.steps = 0
	if end >= start {
		c.steps = int((end-start)/interval) + 1
	}
	return &c
}

func (ev *evaluator) ts(i int) int64 { return ev.start + int64(i)*ev.interval }

// step is the index of a grid timestamp.
func (ev *evaluator) step(t int64) int { return int((t - ev.start) / ev.interval) }

// checkCtx is called between series and between steps of long loops. It
// reads the clock as well as ctx: a context's deadline is marked by a timer
// that a busy machine may run late, and a query past its deadline must
// stop at the next check whatever the scheduler did.
func (ev *evaluator) checkCtx() error {
	if err := ev.ctx.Err(); err != nil {
		return err
	}
	if !ev.deadline.IsZero() && !time.Now().Before(ev.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// wrap turns a context error into the engine's timeout/cancel errors.
func (ev *evaluator) wrap(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &execError{msg: "query timed out in expression evaluation", also: ErrTimeout}
	case errors.Is(err, context.Canceled):
		return &execError{msg: "query was canceled in expression evaluation", also: ErrCanceled}
	}
	return err
}

// hold and release count the samples the query holds in memory, against
// MaxSamples. As in Prometheus, the limit is on the peak, not on the
// samples read: every node's result counts while a parent still needs it
// (evalVector), and a range function's current window counts while it
// slides over a series (rangeSeries), but a sample read and let go no
// longer does. So a 24 h rate over 10,000 series holds its 5 m windows one
// series at a time, not the 57.8M samples it reads.
//
// The same count, at pointBytes a sample, plus the label sets the query
// made (madeLabels) is what MaxMemory limits.
func (ev *evaluator) hold(n int) error {
	*ev.held += n
	if ev.stats != nil && *ev.held > ev.stats.PeakSamples {
		ev.stats.PeakSamples = *ev.held
	}
	if *ev.held > ev.maxSamples {
		return errTooManySamples()
	}
	return ev.checkMemory(0)
}

func (ev *evaluator) release(n int) { *ev.held -= n }

// reserve counts n points of the result a node is still building, before
// they are allocated or as each series of them is done; evalVector then
// counts only the rest of the result. So a result over the limit is
// refused as it grows, not once it is all in memory.
func (ev *evaluator) reserve(n int) error {
	*ev.reserved += n
	return ev.hold(n)
}

// need checks, before an allocation that is not a result (a scratch
// array, a scalar's value per step), that samples more samples and bytes
// more bytes would fit beside what the query holds. Nothing stays counted:
// the allocation lives no longer than the node that makes it.
func (ev *evaluator) need(samples int, bytes int64) error {
	if samples > ev.maxSamples-*ev.held {
		return errTooManySamples()
	}
	return ev.checkMemory(bytes + int64(samples)*pointBytes)
}

// needSteps is need for a scratch array of size bytes per step.
func (ev *evaluator) needSteps(size int) error {
	return ev.need(0, int64(ev.steps)*int64(size))
}

// madeLabels counts the bytes of a label set the query made (count_values,
// label_replace, label_join, an aggregation's groups) against MaxMemory.
// They stay counted to the end of the query: they are few beside the
// points unless a query makes very many, which is what this is for.
func (ev *evaluator) madeLabels(l model.Labels) error {
	*ev.labelBytes += int64(labelsBytes(l))
	return ev.checkMemory(0)
}

// checkMemory: the bytes the query holds, and extra more, within
// MaxMemory.
func (ev *evaluator) checkMemory(extra int64) error {
	if int64(*ev.held)*pointBytes+*ev.labelBytes+extra > ev.maxMemory {
		return &execError{msg: fmt.Sprintf("query processing would use more than the per-query memory limit of %d bytes (max memory) in query execution", ev.maxMemory), also: ErrMemoryLimit}
	}
	return nil
}

// remaining is how many more points the query may hold: the lesser of
// what the sample limit and the memory limit leave.
func (ev *evaluator) remaining() int {
	n := ev.maxSamples - *ev.held
	if m := (ev.maxMemory - int64(*ev.held)*pointBytes - *ev.labelBytes) / pointBytes; m < int64(n) {
		n = int(max(m, 0))
	}
	return n
}

// gridBytes is what a step of a grid costs at least in scratch arrays:
// byStep's count and slice header.
const gridBytes = 32

// pointBytes is what one point costs in memory: a timestamp and a value.
const pointBytes = 16

// labelsBytes is a label set's size: its strings and a header per label.
func labelsBytes(l model.Labels) int {
	n := 0
	for x := range l.All() {
		n += len(x.Name) + len(x.Value) + 32
	}
	return n
}

func errTooManySamples() error {
	return &execError{msg: ErrTooManySamples.Error(), also: ErrTooManySamples}
}

// points is how many samples a Matrix holds.
func points(m Matrix) int {
	n := 0
	for _, s := range m {
		n += len(s.Floats) + histPoints(s.Histograms)
	}
	return n
}

// refGrid gives, for each step, the time a selector or subquery with a
// given @ and offset actually looks at: the step's time (or the fixed @
// time) minus the offset, i.e. first + i·stride with stride the query's
// interval (0 with @). It never decreases from one step to the next,
// which is what lets windows slide forward, and a loop over the steps can
// add the stride instead of calling anything.
type refGrid struct{ first, stride int64 }

func (r refGrid) at(i int) int64 { return r.first + int64(i)*r.stride }

// refTimes is the refGrid of a selector or subquery.
func (ev *evaluator) refTimes(at *parser.AtModifier, offset time.Duration) refGrid {
	off := offset.Milliseconds()
	if at != nil {
		t := at.Timestamp
		switch at.StartOrEnd {
		case "start":
			t = ev.qStart
		case "end":
			t = ev.qEnd
		}
		return refGrid{first: t - off}
	}
	return refGrid{first: ev.start - off, stride: ev.interval}
}

// evalScalar evaluates a scalar expression at every step.
// Its value per step counts as that many samples, as in Prometheus,
// checked before it is allocated: a subquery's grid may have billions of
// steps (vector(1)[1y:1ms]).
func (ev *evaluator) evalScalar(e parser.Expr) ([]float64, error) {
	if err := ev.need(ev.steps, 0); err != nil {
		return nil, err
	}
	out := make([]float64, ev.steps)
	switch n := e.(type) {
	case *parser.NumberLiteral:
		for i := range out {
			out[i] = n.Val
		}
		return out, nil
	case *parser.ParenExpr:
		return ev.evalScalar(n.Expr)
	case *parser.UnaryExpr:
		v, err := ev.evalScalar(n.Expr)
		if err != nil {
			return nil, err
		}
		if n.Op == parser.SUB {
			for i := range v {
				v[i] = -v[i]
			}
		}
		return v, nil
	case *parser.BinaryExpr:
		if isTrim(n.Op) {
			return nil, errorf("operator %q not allowed for Scalar operations", n.Op)
		}
		l, err := ev.evalScalar(n.LHS)
		if err != nil {
			return nil, err
		}
		r, err := ev.evalScalar(n.RHS)
		if err != nil {
			return nil, err
		}
		for i := range out {
			v, keep := binop(n.Op, l[i], r[i])
			if n.Op.IsComparisonOperator() {
				v = boolValue(keep) // scalar comparisons always carry bool
			}
			out[i] = v
		}
		return out, nil
	case *parser.Call:
		return ev.scalarCall(n)
	}
	return nil, errorf("unexpected scalar expression %T", e)
}

// evalVector evaluates an instant-vector expression at every step. Its
// result counts against the sample limit together with what its operands
// still held (their results, at most); once it is built, the operands are
// let go and only the result stays counted, until the caller lets it go.
//
// A node that reserved points of its result while building it (reserve)
// has them counted already; evalVector counts the rest. It checks the
// context too, after the node: a query nested thousands deep does its
// work on the way back up, and must stop there as well.
func (ev *evaluator) evalVector(e parser.Expr) (Matrix, error) {
	base, rbase := *ev.held, *ev.reserved
	m, err := ev.evalNode(e)
	if err != nil {
		return nil, err
	}
	if err := ev.checkCtx(); err != nil {
		return nil, err
	}
	n := points(m)
	if r := *ev.reserved - rbase; n > r {
		if err := ev.hold(n - r); err != nil {
			return nil, err
		}
	}
	*ev.held, *ev.reserved = base+n, rbase
	return m, nil
}

func (ev *evaluator) evalNode(e parser.Expr) (Matrix, error) {
	if err := ev.checkCtx(); err != nil {
		return nil, err
	}
	switch n := e.(type) {
	case *parser.ParenExpr:
		return ev.evalNode(n.Expr)
	case *parser.VectorSelector:
		return ev.vectorSelector(n, false)
	case *parser.UnaryExpr:
		m, err := ev.evalVector(n.Expr)
		if err != nil || n.Op == parser.ADD {
			return m, err
		}
		mg := newMerger()
		for _, s := range m {
			for j := range s.Floats {
				s.Floats[j].V = -s.Floats[j].V
			}
			for j := range s.Histograms {
				s.Histograms[j].H = s.Histograms[j].H.Copy().Mul(-1)
			}
			l, drop := ev.nameless(s.Metric, s.DropName)
			if err := mg.addMixed(l, drop, s.Floats, s.Histograms); err != nil {
				return nil, err
			}
		}
		return mg.matrix(), nil
	case *parser.BinaryExpr:
		return ev.binary(n)
	case *parser.AggregateExpr:
		return ev.aggregate(n)
	case *parser.Call:
		return ev.call(n)
	}
	return nil, errorf("unexpected instant-vector expression %T", e)
}

// isTrim reports the native histogram bucket trims, </ and >/, which have
// no meaning for floats.
func isTrim(op parser.Op) bool { return op == parser.TRIM_UPPER || op == parser.TRIM_LOWER }

// trimmed notes that a trim met floats: Prometheus's info, and no result.
func (ev *evaluator) trimmed(n *parser.BinaryExpr) {
	ev.annos.add(info(n.PositionRange(), "incompatible sample types encountered for binary operator %q: float %s float", n.Op.String(), n.Op))
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// binop applies an arithmetic or comparison operator; for comparisons, keep
// reports whether it held (and the value is the left operand). The
// histogram trims (</, >/) keep no float (trimmed notes why).
func binop(op parser.Op, l, r float64) (v float64, keep bool) {
	switch op {
	case parser.TRIM_UPPER, parser.TRIM_LOWER:
		return 0, false
	case parser.ADD:
		return l + r, true
	case parser.SUB:
		return l - r, true
	case parser.MUL:
		return l * r, true
	case parser.DIV:
		return l / r, true
	case parser.POW:
		return math.Pow(l, r), true
	case parser.MOD:
		return math.Mod(l, r), true
	case parser.ATAN2:
		return math.Atan2(l, r), true
	case parser.EQLC:
		return l, l == r
	case parser.NEQ:
		return l, l != r
	case parser.GTR:
		return l, l > r
	case parser.LSS:
		return l, l < r
	case parser.GTE:
		return l, l >= r
	case parser.LTE:
		return l, l <= r
	}
	panic(fmt.Sprintf("promql: binop called with %v", op))
}
