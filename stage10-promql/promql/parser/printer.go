package parser

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// The printer writes canonical PromQL: one space around binary operators,
// grouping before the aggregation body, durations in largest units. It adds
// no parentheses of its own: explicit ones are ParenExpr nodes, and the tree
// shape already follows the precedence rules, so printing it back and
// parsing again yields the same tree (FuzzRoundTrip checks this).

var identRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
var labelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// FormatFloat prints a number literal so that it parses back to the same
// float64: Inf, -Inf, NaN, or the shortest exact decimal.
func FormatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e15) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func (e *NumberLiteral) String() string { return FormatFloat(e.Val) }

func (e *StringLiteral) String() string { return strconv.Quote(e.Val) }

func labelName(n string) string {
	if labelRE.MatchString(n) && !keywordLike(n) {
		return n
	}
	return strconv.Quote(n)
}

// keywordLike names must be quoted in label lists only where the grammar
// would misread them; no keyword is ambiguous there, so none needs quoting.
func keywordLike(string) bool { return false }

func labelList(ls []string) string {
	q := make([]string, len(ls))
	for i, l := range ls {
		q[i] = labelName(l)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

func matcherString(m *index.Matcher) string {
	return labelName(m.Name()) + m.Type().String() + strconv.Quote(m.Value())
}

func printableMetricName(n string) bool {
	if !identRE.MatchString(n) || keywords[n] {
		return false
	}
	l := strings.ToLower(n)
	return l != "inf" && l != "nan"
}

func (e *VectorSelector) selectorString() string {
	var ms []string
	skippedName := false
	for _, m := range e.LabelMatchers {
		if e.Name != "" && !skippedName && m.Name() == model.MetricName && m.Type() == index.MatchEqual && m.Value() == e.Name {
			skippedName = true
			continue
		}
		ms = append(ms, matcherString(m))
	}
	// Sorted and comma-separated without spaces, as Prometheus prints them.
	slices.Sort(ms)
	switch {
	case e.Name == "":
		return "{" + strings.Join(ms, ",") + "}"
	case printableMetricName(e.Name) && len(ms) == 0:
		return e.Name
	case printableMetricName(e.Name):
		return e.Name + "{" + strings.Join(ms, ",") + "}"
	}
	return "{" + strings.Join(append([]string{strconv.Quote(e.Name)}, ms...), ",") + "}"
}

func modifiers(offset int64, am *AtModifier) string {
	var b strings.Builder
	if am != nil {
		if am.StartOrEnd != "" {
			b.WriteString(" @ " + am.StartOrEnd + "()")
		} else {
			b.WriteString(" @ " + strconv.FormatFloat(float64(am.Timestamp)/1000, 'f', 3, 64))
		}
	}
	if offset != 0 {
		b.WriteString(" offset " + FormatDuration(durationOf(offset)))
	}
	return b.String()
}

func (e *VectorSelector) String() string {
	return e.selectorString() + modifiers(int64(e.Offset), e.At)
}

func (e *MatrixSelector) String() string {
	vs := e.VectorSelector
	return vs.selectorString() + "[" + FormatDuration(e.Range) + "]" + modifiers(int64(vs.Offset), vs.At)
}

func (e *SubqueryExpr) String() string {
	step := ""
	if e.Step != 0 {
		step = FormatDuration(e.Step)
	}
	return e.Expr.String() + "[" + FormatDuration(e.Range) + ":" + step + "]" + modifiers(int64(e.Offset), e.At)
}

func (e *ParenExpr) String() string { return "(" + e.Expr.String() + ")" }

func (e *UnaryExpr) String() string { return e.Op.String() + e.Expr.String() }

func (e *BinaryExpr) String() string {
	return e.LHS.String() + " " + e.opString() + " " + e.RHS.String()
}

// opString is the operator with its bool and vector-matching modifiers:
// "/ on (a) group_left (b)".
func (e *BinaryExpr) opString() string {
	var b strings.Builder
	b.WriteString(e.Op.String())
	if e.ReturnBool {
		b.WriteString(" bool")
	}
	if vm := e.VectorMatching; vm != nil {
		grouped := vm.Card == CardManyToOne || vm.Card == CardOneToMany
		if vm.On || len(vm.MatchingLabels) > 0 || grouped {
			if vm.On {
				b.WriteString(" on ")
			} else {
				b.WriteString(" ignoring ")
			}
			b.WriteString(labelList(vm.MatchingLabels))
		}
		if grouped {
			if vm.Card == CardManyToOne {
				b.WriteString(" group_left ")
			} else {
				b.WriteString(" group_right ")
			}
			b.WriteString(labelList(vm.Include))
		}
	}
	return b.String()
}

func (e *AggregateExpr) String() string {
	var b strings.Builder
	b.WriteString(e.head())
	b.WriteByte('(')
	if e.Param != nil {
		b.WriteString(e.Param.String() + ", ")
	}
	b.WriteString(e.Expr.String() + ")")
	return b.String()
}

// head is the operator and its grouping, up to the opening parenthesis:
// "sum by (job) ".
func (e *AggregateExpr) head() string {
	switch {
	case e.Without:
		return e.Op.String() + " without " + labelList(e.Grouping) + " "
	case len(e.Grouping) > 0:
		return e.Op.String() + " by " + labelList(e.Grouping) + " "
	}
	return e.Op.String()
}

func (e *Call) String() string {
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = a.String()
	}
	return e.Func.Name + "(" + strings.Join(args, ", ") + ")"
}

// Tree prints the AST one node per line, indented, each with its type: the
// REPL's :explain. It shows every field that affects evaluation and no
// position, so two trees print alike exactly when they mean the same.
func Tree(e Expr) string {
	var b strings.Builder
	var walk func(e Expr, depth int)
	walk = func(e Expr, depth int) {
		ind := strings.Repeat("  ", depth)
		fmt.Fprintf(&b, "%s%s :: %s\n", ind, describe(e), e.Type().DocumentedType())
		for _, c := range Children(e) {
			if _, ok := e.(*MatrixSelector); ok {
				continue // the selector is described on the MatrixSelector's line
			}
			walk(c, depth+1)
		}
	}
	walk(e, 0)
	return b.String()
}

func describe(e Expr) string {
	switch n := e.(type) {
	case *NumberLiteral:
		return "NumberLiteral " + FormatFloat(n.Val)
	case *StringLiteral:
		return "StringLiteral " + strconv.Quote(n.Val)
	case *VectorSelector:
		return "VectorSelector " + selectorDetail(n)
	case *MatrixSelector:
		return "MatrixSelector " + selectorDetail(n.VectorSelector) + " range=" + FormatDuration(n.Range)
	case *SubqueryExpr:
		return fmt.Sprintf("SubqueryExpr range=%s step=%s%s", FormatDuration(n.Range), FormatDuration(n.Step),
			modifiers(int64(n.Offset), n.At))
	case *ParenExpr:
		return "ParenExpr"
	case *UnaryExpr:
		return "UnaryExpr " + n.Op.String()
	case *BinaryExpr:
		s := "BinaryExpr " + n.Op.String()
		if n.ReturnBool {
			s += " bool"
		}
		if vm := n.VectorMatching; vm != nil {
			card := [...]string{"one-to-one", "many-to-one", "one-to-many", "many-to-many"}[vm.Card]
			kind := "ignoring"
			if vm.On {
				kind = "on"
			}
			s += fmt.Sprintf(" %s %s%s include%s", card, kind, labelList(vm.MatchingLabels), labelList(vm.Include))
		}
		return s
	case *AggregateExpr:
		kind := "by"
		if n.Without {
			kind = "without"
		}
		return fmt.Sprintf("AggregateExpr %s %s%s", n.Op, kind, labelList(n.Grouping))
	case *Call:
		return "Call " + n.Func.Name
	}
	return fmt.Sprintf("%T", e)
}

func selectorDetail(vs *VectorSelector) string {
	ms := make([]string, len(vs.LabelMatchers))
	for i, m := range vs.LabelMatchers {
		ms[i] = matcherString(m)
	}
	return fmt.Sprintf("name=%q {%s}%s", vs.Name, strings.Join(ms, ", "), modifiers(int64(vs.Offset), vs.At))
}
