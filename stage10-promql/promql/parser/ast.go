package parser

import (
	"time"

	"github.com/tsdb-course/stage05-index/index"
)

// Pos is a byte offset into the query text.
type Pos int

// PosRange is the half-open byte range [Start, End) a node was parsed from;
// errors about a node point at its Start.
type PosRange struct {
	Start, End Pos
}

// PositionRange returns the range itself, so that every node embedding a
// PosRange satisfies Node's method.
func (p PosRange) PositionRange() PosRange { return p }

// Node is any part of the syntax tree.
type Node interface {
	// String is canonical PromQL that parses back to an equal tree.
	String() string
	PositionRange() PosRange
}

// Expr is a node that evaluates to a value.
type Expr interface {
	Node
	Type() ValueType
	expr()
}

// NumberLiteral is 1, 1.5e3, 0x1f, Inf, NaN, or a duration used as a number
// of seconds (5m is 300). A leading unary minus is folded into the literal.
type NumberLiteral struct {
	Val float64
	// Duration: written as a duration (5m), which printing keeps.
	Duration bool
	PosRange
}

// StringLiteral is "…", '…' or `…`, already unquoted.
type StringLiteral struct {
	Val string
	PosRange
}

// AtModifier is an `@` on a selector or subquery. StartOrEnd is "start" or
// "end" for @ start() / @ end(), which the engine resolves to the query's
// range; otherwise Timestamp (milliseconds) holds the fixed time.
type AtModifier struct {
	Timestamp  int64
	StartOrEnd string
}

// VectorSelector is foo{a="b"} offset 5m @ 123. The metric name, if any, is
// also present among LabelMatchers as __name__="foo", so evaluation only ever
// looks at matchers.
type VectorSelector struct {
	Name          string
	LabelMatchers []*index.Matcher
	Offset        time.Duration
	// OffsetExpr is an offset computed when the query runs (offset
	// step(), offset (1h / 2)); Offset is then 0 until the engine works
	// it out.
	OffsetExpr *DurationExpr
	At         *AtModifier
	// Anchored and Smoothed are the extended range selectors
	// (foo[5m] anchored, foo smoothed): the window reaches back to the
	// last sample before it (anchored), or is interpolated at both edges
	// (smoothed).
	Anchored, Smoothed bool
	PosRange
	// unquotedNames: parsed with Options.UnquotedUTF8Names, so the
	// printer leaves names such as service.name unquoted, as Prometheus's
	// does.
	unquotedNames bool
}

// MatrixSelector is foo[5m]: the samples of each selected series in the
// range (t-5m, t] at every evaluation time t. Offset and @ live on the
// inner VectorSelector (they were written after the brackets).
type MatrixSelector struct {
	VectorSelector *VectorSelector
	Range          time.Duration
	// RangeExpr is a range computed when the query runs ([step() * 2],
	// [1h + 5m]); Range is then 0 until the engine works it out.
	RangeExpr *DurationExpr
	PosRange
}

// SubqueryExpr is expr[range:step]: Expr evaluated at every multiple of Step
// inside each window, giving a range vector. Step 0 means the engine's
// default resolution.
type SubqueryExpr struct {
	Expr   Expr
	Range  time.Duration
	Step   time.Duration
	Offset time.Duration
	// The duration expressions computed when the query runs, if any (see
	// MatrixSelector.RangeExpr).
	RangeExpr, StepExpr, OffsetExpr *DurationExpr
	At                              *AtModifier
	PosRange
}

// DurationExpr is a duration computed when a query runs, written where a
// range, a subquery step or an offset goes: step(), range() (the query's
// step and range), min_of(a, b), max_of(a, b), arithmetic (+ - * / % ^) and
// signs over those and number or duration literals, in seconds. A plain
// literal ([5m]) is no DurationExpr: it is the duration itself.
type DurationExpr struct {
	Op Op // ADD, SUB, MUL, DIV, MOD, POW, STEP, RANGE, MIN_OF or MAX_OF
	// LHS and RHS are NumberLiterals or DurationExprs; a sign has only
	// RHS, step() and range() neither.
	LHS, RHS Expr
	// Wrapped: written in parentheses (kept for printing).
	Wrapped bool
	PosRange
}

// ParenExpr is (expr); kept in the tree so that printing reproduces it.
type ParenExpr struct {
	Expr Expr
	PosRange
}

// UnaryExpr is -expr or +expr.
type UnaryExpr struct {
	Op   Op
	Expr Expr
	PosRange
}

// VectorMatchCardinality says how series on the two sides of a binary
// operator may pair up.
type VectorMatchCardinality uint8

// Cardinalities; set operators are always many-to-many.
const (
	CardOneToOne VectorMatchCardinality = iota
	CardManyToOne
	CardOneToMany
	CardManyToMany
)

// VectorMatching is on(…)/ignoring(…) and group_left(…)/group_right(…).
type VectorMatching struct {
	Card VectorMatchCardinality
	// FillLHS and FillRHS are fill_left(v) and fill_right(v) (fill(v) is
	// both): the value a missing series on that side stands in with, so
	// that a series without a match still gives a result.
	FillLHS, FillRHS *float64
	// MatchingLabels are the on(…) labels if On, else the ignoring(…) ones.
	MatchingLabels []string
	On             bool
	// Include are the labels group_left(…)/group_right(…) copy from the
	// "one" side.
	Include []string
	// unquotedNames: parsed with Options.UnquotedUTF8Names, so the
	// printer leaves names such as service.name unquoted, as Prometheus's
	// does.
	unquotedNames bool
}

// BinaryExpr is lhs op rhs. VectorMatching is nil unless both sides are
// instant vectors.
type BinaryExpr struct {
	Op             Op
	LHS, RHS       Expr
	VectorMatching *VectorMatching
	ReturnBool     bool
	PosRange
}

// AggregateExpr is sum by (a) (expr) and friends. Param is the k of topk,
// the φ of quantile, the label name of count_values.
type AggregateExpr struct {
	Op       Op
	Expr     Expr
	Param    Expr
	Grouping []string
	Without  bool
	PosRange
	// unquotedNames: parsed with Options.UnquotedUTF8Names, so the
	// printer leaves names such as service.name unquoted, as Prometheus's
	// does.
	unquotedNames bool
}

// Call is a function call.
type Call struct {
	Func *Function
	Args []Expr
	PosRange
}

func (*NumberLiteral) expr()  {}
func (*StringLiteral) expr()  {}
func (*VectorSelector) expr() {}
func (*MatrixSelector) expr() {}
func (*SubqueryExpr) expr()   {}
func (*ParenExpr) expr()      {}
func (*UnaryExpr) expr()      {}
func (*BinaryExpr) expr()     {}
func (*AggregateExpr) expr()  {}
func (*Call) expr()           {}
func (*DurationExpr) expr()   {}

// Type is what each node evaluates to.
func (*NumberLiteral) Type() ValueType  { return ValueTypeScalar }
func (*StringLiteral) Type() ValueType  { return ValueTypeString }
func (*VectorSelector) Type() ValueType { return ValueTypeVector }
func (*MatrixSelector) Type() ValueType { return ValueTypeMatrix }
func (*SubqueryExpr) Type() ValueType   { return ValueTypeMatrix }
func (e *ParenExpr) Type() ValueType    { return e.Expr.Type() }
func (e *UnaryExpr) Type() ValueType    { return e.Expr.Type() }
func (*AggregateExpr) Type() ValueType  { return ValueTypeVector }
func (e *Call) Type() ValueType         { return e.Func.ReturnType }
func (*DurationExpr) Type() ValueType   { return ValueTypeScalar }

// Type of a binary expression: scalar only when both sides are scalars.
func (e *BinaryExpr) Type() ValueType {
	if e.LHS.Type() == ValueTypeScalar && e.RHS.Type() == ValueTypeScalar {
		return ValueTypeScalar
	}
	return ValueTypeVector
}

// Children returns the direct sub-expressions of a node, in source order.
func Children(e Expr) []Expr {
	switch n := e.(type) {
	case *MatrixSelector:
		return []Expr{n.VectorSelector}
	case *SubqueryExpr:
		return []Expr{n.Expr}
	case *ParenExpr:
		return []Expr{n.Expr}
	case *UnaryExpr:
		return []Expr{n.Expr}
	case *BinaryExpr:
		return []Expr{n.LHS, n.RHS}
	case *AggregateExpr:
		if n.Param != nil {
			return []Expr{n.Param, n.Expr}
		}
		return []Expr{n.Expr}
	case *Call:
		return n.Args
	}
	return nil
}

// Inspect calls f for e and every expression below it, depth first, with
// the path of ancestors; it stops descending where f returns false.
func Inspect(e Expr, f func(e Expr, path []Expr) bool) {
	var walk func(e Expr, path []Expr)
	walk = func(e Expr, path []Expr) {
		if !f(e, path) {
			return
		}
		path = append(path, e)
		for _, c := range Children(e) {
			walk(c, path)
		}
	}
	walk(e, nil)
}

// UnwrapParens strips any parentheses around e.
func UnwrapParens(e Expr) Expr {
	for {
		p, ok := e.(*ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}
