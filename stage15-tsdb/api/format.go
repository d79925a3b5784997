package api

import (
	"net/http"
	"strconv"

	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// formatQuery serves /api/v1/format_query: the query pretty-printed as
// Prometheus prints it (stage10's parser.Pretty), what Grafana's and
// Prometheus's "Format query" buttons show.
func (a *API) formatQuery(r *http.Request) (any, []string, *apiError) {
	expr, err := a.engine.Parse(r.FormValue("query")) // the language the engine's features allow
	if err != nil {
		return nil, nil, badParam("query", err)
	}
	return parser.Pretty(expr), nil, nil
}

// parseQuery serves /api/v1/parse_query: the query's syntax tree as JSON,
// in the shape Prometheus's UI draws its tree view from (every node an
// object with a "type": aggregation, binaryExpr, call, matrixSelector,
// subquery, numberLiteral, parenExpr, stringLiteral, unaryExpr,
// vectorSelector; durations and times in milliseconds).
func (a *API) parseQuery(r *http.Request) (any, []string, *apiError) {
	expr, err := a.engine.Parse(r.FormValue("query"))
	if err != nil {
		return nil, nil, badParam("query", err)
	}
	return astJSON(expr), nil, nil
}

// cardNames are Prometheus's names of the vector-matching cardinalities.
var cardNames = map[parser.VectorMatchCardinality]string{
	parser.CardOneToOne: "one-to-one", parser.CardManyToOne: "many-to-one",
	parser.CardOneToMany: "one-to-many", parser.CardManyToMany: "many-to-many",
}

func astJSON(e parser.Expr) any {
	switch n := e.(type) {
	case *parser.AggregateExpr:
		return map[string]any{"type": "aggregation", "op": n.Op.String(), "expr": astJSON(n.Expr),
			"param": astJSON(n.Param), "grouping": nonNil(n.Grouping), "without": n.Without}
	case *parser.BinaryExpr:
		var matching any
		if m := n.VectorMatching; m != nil {
			matching = map[string]any{"card": cardNames[m.Card], "labels": nonNil(m.MatchingLabels), "on": m.On,
				"include": nonNil(m.Include), "fillValues": map[string]*float64{"lhs": m.FillLHS, "rhs": m.FillRHS}}
		}
		return map[string]any{"type": "binaryExpr", "op": n.Op.String(), "lhs": astJSON(n.LHS), "rhs": astJSON(n.RHS),
			"matching": matching, "bool": n.ReturnBool}
	case *parser.Call:
		args := make([]any, len(n.Args))
		for i, arg := range n.Args {
			args[i] = astJSON(arg)
		}
		return map[string]any{"type": "call", "args": args, "func": map[string]any{
			"name": n.Func.Name, "argTypes": nonNil(n.Func.ArgTypes), "variadic": n.Func.Variadic, "returnType": n.Func.ReturnType}}
	case *parser.MatrixSelector:
		m := selectorJSON("matrixSelector", n.VectorSelector)
		m["range"], m["rangeExpr"] = n.Range.Milliseconds(), durationJSON(n.RangeExpr)
		return m
	case *parser.SubqueryExpr:
		ts, se := atJSON(n.At)
		return map[string]any{"type": "subquery", "expr": astJSON(n.Expr), "range": n.Range.Milliseconds(), "rangeExpr": durationJSON(n.RangeExpr),
			"offset": n.Offset.Milliseconds(), "offsetExpr": durationJSON(n.OffsetExpr), "step": n.Step.Milliseconds(), "stepExpr": durationJSON(n.StepExpr),
			"timestamp": ts, "startOrEnd": se}
	case *parser.DurationExpr:
		return durationJSON(n)
	case *parser.NumberLiteral:
		return map[string]any{"type": "numberLiteral", "val": strconv.FormatFloat(n.Val, 'f', -1, 64)}
	case *parser.ParenExpr:
		return map[string]any{"type": "parenExpr", "expr": astJSON(n.Expr)}
	case *parser.StringLiteral:
		return map[string]any{"type": "stringLiteral", "val": n.Val}
	case *parser.UnaryExpr:
		return map[string]any{"type": "unaryExpr", "op": n.Op.String(), "expr": astJSON(n.Expr)}
	case *parser.VectorSelector:
		return selectorJSON("vectorSelector", n)
	}
	return nil
}

func selectorJSON(typ string, vs *parser.VectorSelector) map[string]any {
	ms := make([]map[string]any, len(vs.LabelMatchers))
	for i, m := range vs.LabelMatchers {
		ms[i] = map[string]any{"name": m.Name(), "value": m.Value(), "type": m.Type().String()}
	}
	ts, se := atJSON(vs.At)
	return map[string]any{"type": typ, "name": vs.Name, "offset": vs.Offset.Milliseconds(), "offsetExpr": durationJSON(vs.OffsetExpr),
		"matchers": ms, "timestamp": ts, "startOrEnd": se, "anchored": vs.Anchored, "smoothed": vs.Smoothed}
}

// durationJSON is a range, step or offset computed when the query runs
// (step() * 2), as Prometheus's tree has it: null for a plain duration,
// else a durationExpr node whose leaves are number literals that say
// whether they were written as durations.
func durationJSON(e parser.Expr) any {
	switch n := e.(type) {
	case *parser.DurationExpr:
		if n == nil {
			return nil
		}
		return map[string]any{"type": "durationExpr", "op": n.Op.String(), "lhs": durationJSON(n.LHS), "rhs": durationJSON(n.RHS), "wrapped": n.Wrapped}
	case *parser.NumberLiteral:
		return map[string]any{"type": "numberLiteral", "val": strconv.FormatFloat(n.Val, 'f', -1, 64), "duration": n.Duration}
	}
	return nil
}

// atJSON is an @ modifier as Prometheus's tree has it: a timestamp in ms,
// or "start"/"end", or neither.
func atJSON(at *parser.AtModifier) (timestamp, startOrEnd any) {
	switch {
	case at == nil:
		return nil, nil
	case at.StartOrEnd != "":
		return nil, at.StartOrEnd
	}
	return at.Timestamp, nil
}

func nonNil[T any](l []T) []T {
	if l == nil {
		return []T{}
	}
	return l
}
