package promql

import (
	"math"
	"time"

	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// resolveDurations works out the duration expressions of a query (ranges,
// subquery steps and offsets written as step(), range(), min_of(…) or
// arithmetic) for the query's own range and step (0 for an instant query),
// as Prometheus does before evaluating. A query without any is returned as
// it is; one with some is copied first, so that a parsed query can run
// again, or concurrently, with another range.
func resolveDurations(expr parser.Expr, start, end, step int64) (parser.Expr, error) {
	if !hasDurationExpr(expr) {
		return expr, nil
	}
	expr = cloneExpr(expr)
	dv := durationValues{step: float64(step) / 1000, rng: float64(end-start) / 1000}
	var err error
	parser.Inspect(expr, func(e parser.Expr, _ []parser.Expr) bool {
		set := func(d *time.Duration, de *parser.DurationExpr, negativeOK bool) {
			if de != nil && err == nil {
				*d, err = dv.duration(de, negativeOK)
			}
		}
		switch n := e.(type) {
		case *parser.VectorSelector:
			set(&n.Offset, n.OffsetExpr, true)
		case *parser.MatrixSelector:
			set(&n.Range, n.RangeExpr, false)
		case *parser.SubqueryExpr:
			set(&n.Offset, n.OffsetExpr, true)
			set(&n.Step, n.StepExpr, false)
			set(&n.Range, n.RangeExpr, false)
		}
		return err == nil
	})
	return expr, err
}

func hasDurationExpr(expr parser.Expr) bool {
	found := false
	parser.Inspect(expr, func(e parser.Expr, _ []parser.Expr) bool {
		switch n := e.(type) {
		case *parser.VectorSelector:
			found = found || n.OffsetExpr != nil
		case *parser.MatrixSelector:
			found = found || n.RangeExpr != nil
		case *parser.SubqueryExpr:
			found = found || n.OffsetExpr != nil || n.StepExpr != nil || n.RangeExpr != nil
		}
		return !found
	})
	return found
}

// durationValues are what step() and range() stand for, in seconds.
type durationValues struct{ step, rng float64 }

// duration is a duration expression's value, checked as Prometheus
// checks it (its errors name the expression's byte range).
func (dv durationValues) duration(de *parser.DurationExpr, negativeOK bool) (time.Duration, error) {
	f, err := dv.eval(de)
	if err != nil {
		return 0, err
	}
	pr := de.PositionRange()
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, errorf("%d:%d: duration is NaN or infinite", pr.Start, pr.End)
	case f <= 0 && !negativeOK:
		return 0, errorf("%d:%d: duration must be greater than 0", pr.Start, pr.End)
	case f > 1<<63/1e9 || f < -(1<<63)/1e9:
		return 0, errorf("%d:%d: duration is out of range", pr.Start, pr.End)
	}
	return time.Duration(f*1000) * time.Millisecond, nil
}

func (dv durationValues) eval(e parser.Expr) (float64, error) {
	switch n := e.(type) {
	case *parser.NumberLiteral:
		return n.Val, nil
	case *parser.DurationExpr:
		var l, r float64
		var err error
		if n.LHS != nil {
			if l, err = dv.eval(n.LHS); err != nil {
				return 0, err
			}
		}
		if n.RHS != nil {
			if r, err = dv.eval(n.RHS); err != nil {
				return 0, err
			}
		}
		pr := n.PositionRange()
		switch n.Op {
		case parser.STEP:
			return dv.step, nil
		case parser.RANGE:
			return dv.rng, nil
		case parser.MIN_OF:
			return math.Min(l, r), nil
		case parser.MAX_OF:
			return math.Max(l, r), nil
		case parser.ADD:
			return l + r, nil // a sign has no LHS: l is 0
		case parser.SUB:
			return l - r, nil
		case parser.MUL:
			return l * r, nil
		case parser.DIV:
			if r == 0 {
				return 0, errorf("%d:%d: division by zero", pr.Start, pr.End)
			}
			return l / r, nil
		case parser.MOD:
			if r == 0 {
				return 0, errorf("%d:%d: modulo by zero", pr.Start, pr.End)
			}
			return math.Mod(l, r), nil
		case parser.POW:
			return math.Pow(l, r), nil
		}
	}
	return 0, errorf("unexpected duration expression %s", e)
}

// cloneExpr copies a syntax tree's nodes (not what they share and never
// change: matchers, vector matching, functions).
func cloneExpr(e parser.Expr) parser.Expr {
	switch n := e.(type) {
	case *parser.VectorSelector:
		c := *n
		return &c
	case *parser.MatrixSelector:
		c := *n
		c.VectorSelector = cloneExpr(n.VectorSelector).(*parser.VectorSelector)
		return &c
	case *parser.SubqueryExpr:
		c := *n
		c.Expr = cloneExpr(n.Expr)
		return &c
	case *parser.ParenExpr:
		c := *n
		c.Expr = cloneExpr(n.Expr)
		return &c
	case *parser.UnaryExpr:
		c := *n
		c.Expr = cloneExpr(n.Expr)
		return &c
	case *parser.BinaryExpr:
		c := *n
		c.LHS, c.RHS = cloneExpr(n.LHS), cloneExpr(n.RHS)
		return &c
	case *parser.AggregateExpr:
		c := *n
		c.Expr = cloneExpr(n.Expr)
		if n.Param != nil {
			c.Param = cloneExpr(n.Param)
		}
		return &c
	case *parser.Call:
		c := *n
		c.Args = make([]parser.Expr, len(n.Args))
		for i, a := range n.Args {
			c.Args[i] = cloneExpr(a)
		}
		return &c
	}
	return e // literals and duration expressions are never changed
}
