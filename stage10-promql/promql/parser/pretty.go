package parser

import "strings"

// Pretty prints an expression over several lines when it is long, as
// Prometheus's formatter does (promtool promql format, the HTTP API's
// /api/v1/format_query, the "Format query" button of Grafana and of
// Prometheus's UI). The rule: a node whose one-line form (String) fits in
// maxLineWidth characters is printed on one line; a longer one is split
// and its children printed one level deeper, two spaces per level:
//
//   - an aggregation puts its parameter and its body on lines of their own
//     between "sum by (job) (" and ")";
//   - a binary operation puts the left operand, the operator (with bool
//     and its matching clause) and the right operand on three lines, the
//     operator at the node's own level;
//   - a call puts each argument on its own line, comma-separated;
//   - parentheses open and close on lines of their own;
//   - a subquery splits its inner expression and keeps "[5m:1m]" and its
//     modifiers after it; a unary minus goes before its operand's first
//     line; selectors and literals are never split.
func Pretty(e Expr) string { return pretty(e, 0) }

// maxLineWidth is the widest one-line form Pretty leaves unsplit
// (Prometheus's maxCharactersPerLine).
const maxLineWidth = 100

func indent(level int) string { return strings.Repeat("  ", level) }

func pretty(e Expr, level int) string {
	one := e.String()
	if len(one) <= maxLineWidth {
		if _, ok := e.(*SubqueryExpr); ok {
			return one // as Prometheus: an unsplit subquery is not indented
		}
		return indent(level) + one
	}
	switch n := e.(type) {
	case *AggregateExpr:
		s := indent(level) + n.head() + "(\n"
		if n.Param != nil {
			s += pretty(n.Param, level+1) + ",\n"
		}
		return s + pretty(n.Expr, level+1) + "\n" + indent(level) + ")"
	case *BinaryExpr:
		return pretty(n.LHS, level+1) + "\n" + indent(level) + n.opString() + "\n" + pretty(n.RHS, level+1)
	case *Call:
		args := make([]string, len(n.Args))
		for i, a := range n.Args {
			args[i] = pretty(a, level+1)
		}
		return indent(level) + n.Func.Name + "(\n" + strings.Join(args, ",\n") + "\n" + indent(level) + ")"
	case *ParenExpr:
		return indent(level) + "(\n" + pretty(n.Expr, level+1) + "\n" + indent(level) + ")"
	case *SubqueryExpr:
		return pretty(n.Expr, level) + strings.TrimPrefix(one, n.Expr.String())
	case *UnaryExpr:
		return indent(level) + n.Op.String() + strings.TrimSpace(pretty(n.Expr, level))
	}
	return indent(level) + one
}
