package parser

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

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

// FormatFloat prints a number literal as Prometheus does, so that it
// parses back to the same float64: +Inf, -Inf, NaN, or the shortest exact
// decimal, never with an exponent.
func FormatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (e *NumberLiteral) String() string {
	if e.Duration {
		if math.Signbit(e.Val) { // -0y keeps its sign
			return "-" + FormatDuration(time.Duration(-e.Val*1e9))
		}
		return FormatDuration(time.Duration(e.Val * 1e9))
	}
	return FormatFloat(e.Val)
}

func (e *DurationExpr) String() string {
	var s string
	switch {
	case e.Op == STEP || e.Op == RANGE:
		s = e.Op.String() + "()"
	case e.Op == MIN_OF || e.Op == MAX_OF:
		s = e.Op.String() + "(" + e.LHS.String() + ", " + e.RHS.String() + ")"
	case e.LHS == nil && e.Op == SUB:
		s = "-" + e.RHS.String()
	case e.LHS == nil:
		s = e.RHS.String()
	default:
		s = e.LHS.String() + " " + e.Op.String() + " " + e.RHS.String()
	}
	if e.Wrapped {
		return "(" + s + ")"
	}
	return s
}

func (e *StringLiteral) String() string { return strconv.Quote(e.Val) }

func labelName(n string, unquoted bool) string {
	if labelRE.MatchString(n) || unquoted && utf8Name(n) {
		return n
	}
	return strconv.Quote(n)
}

// utf8Name: the lexer reads n as one name under Options.UnquotedUTF8Names:
// a letter or _ first, then letters, digits, _ and dots.
func utf8Name(n string) bool {
	for i, r := range n {
		if !(r == '_' || unicode.IsLetter(r) || i > 0 && (r == '.' || '0' <= r && r <= '9')) {
			return false
		}
	}
	return n != ""
}

func labelList(ls []string, unquoted bool) string {
	q := make([]string, len(ls))
	for i, l := range ls {
		q[i] = labelName(l, unquoted)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

func matcherString(m *index.Matcher, unquoted bool) string {
	return labelName(m.Name(), unquoted) + m.Type().String() + strconv.Quote(m.Value())
}

func printableMetricName(n string) bool {
	if !identRE.MatchString(n) || keywords[lowerKeyword(n)] {
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
		ms = append(ms, matcherString(m, e.unquotedNames))
	}
	// Sorted and comma-separated without spaces, as Prometheus prints them.
	slices.Sort(ms)
	switch {
	case e.Name == "":
		return "{" + strings.Join(ms, ",") + "}"
	case (e.unquotedNames || printableMetricName(e.Name)) && len(ms) == 0:
		return e.Name
	case e.unquotedNames || printableMetricName(e.Name):
		return e.Name + "{" + strings.Join(ms, ",") + "}"
	}
	return "{" + strings.Join(append([]string{strconv.Quote(e.Name)}, ms...), ",") + "}"
}

// modifiers prints @, anchored/smoothed and offset, in Prometheus's order.
func modifiers(offset time.Duration, offsetExpr *DurationExpr, am *AtModifier, extended string) string {
	var b strings.Builder
	if am != nil {
		if am.StartOrEnd != "" {
			b.WriteString(" @ " + am.StartOrEnd + "()")
		} else {
			b.WriteString(" @ " + strconv.FormatFloat(float64(am.Timestamp)/1000, 'f', 3, 64))
		}
	}
	b.WriteString(extended)
	switch {
	case offsetExpr != nil:
		b.WriteString(" offset " + offsetExpr.String())
	case offset != 0:
		b.WriteString(" offset " + FormatDuration(offset))
	}
	return b.String()
}

func (e *VectorSelector) extended() string {
	switch {
	case e.Anchored:
		return " anchored"
	case e.Smoothed:
		return " smoothed"
	}
	return ""
}

func (e *VectorSelector) String() string {
	return e.selectorString() + modifiers(e.Offset, e.OffsetExpr, e.At, e.extended())
}

func durationString(d time.Duration, de *DurationExpr) string {
	if de != nil {
		return de.String()
	}
	return FormatDuration(d)
}

func (e *MatrixSelector) String() string {
	vs := e.VectorSelector
	return vs.selectorString() + "[" + durationString(e.Range, e.RangeExpr) + "]" + vs.extended() +
		modifiers(vs.Offset, vs.OffsetExpr, vs.At, "")
}

func (e *SubqueryExpr) String() string {
	step := ""
	if e.Step != 0 || e.StepExpr != nil {
		step = durationString(e.Step, e.StepExpr)
	}
	return e.Expr.String() + "[" + durationString(e.Range, e.RangeExpr) + ":" + step + "]" +
		modifiers(e.Offset, e.OffsetExpr, e.At, "")
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
			b.WriteString(labelList(vm.MatchingLabels, vm.unquotedNames))
		}
		if grouped {
			if vm.Card == CardManyToOne {
				b.WriteString(" group_left ")
			} else {
				b.WriteString(" group_right ")
			}
			b.WriteString(labelList(vm.Include, vm.unquotedNames))
		}
		b.WriteString(vm.fills())
	}
	return b.String()
}

// fills prints the fill modifiers as Prometheus does: fill (v) when both
// sides have the same, the value as Go's %v prints it (1e+06, +Inf).
func (vm *VectorMatching) fills() string {
	v := func(f *float64) string { return "(" + strconv.FormatFloat(*f, 'g', -1, 64) + ")" }
	switch l, r := vm.FillLHS, vm.FillRHS; {
	case l != nil && r != nil && *l == *r:
		return " fill " + v(l)
	case l != nil && r != nil:
		return " fill_left " + v(l) + " fill_right " + v(r)
	case l != nil:
		return " fill_left " + v(l)
	case r != nil:
		return " fill_right " + v(r)
	}
	return ""
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
		return e.Op.String() + " without " + labelList(e.Grouping, e.unquotedNames) + " "
	case len(e.Grouping) > 0:
		return e.Op.String() + " by " + labelList(e.Grouping, e.unquotedNames) + " "
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
		return "MatrixSelector " + selectorDetail(n.VectorSelector) + " range=" + durationString(n.Range, n.RangeExpr)
	case *SubqueryExpr:
		return fmt.Sprintf("SubqueryExpr range=%s step=%s%s", durationString(n.Range, n.RangeExpr),
			durationString(n.Step, n.StepExpr), modifiers(n.Offset, n.OffsetExpr, n.At, ""))
	case *DurationExpr:
		return "DurationExpr " + n.String()
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
			s += fmt.Sprintf(" %s %s%s include%s%s", card, kind, labelList(vm.MatchingLabels, false), labelList(vm.Include, false), vm.fills())
		}
		return s
	case *AggregateExpr:
		kind := "by"
		if n.Without {
			kind = "without"
		}
		return fmt.Sprintf("AggregateExpr %s %s%s", n.Op, kind, labelList(n.Grouping, false))
	case *Call:
		return "Call " + n.Func.Name
	}
	return fmt.Sprintf("%T", e)
}

func selectorDetail(vs *VectorSelector) string {
	ms := make([]string, len(vs.LabelMatchers))
	for i, m := range vs.LabelMatchers {
		ms[i] = matcherString(m, false)
	}
	slices.Sort(ms) // in any order they select the same, and print sorted
	return fmt.Sprintf("name=%q {%s}%s", vs.Name, strings.Join(ms, ", "), modifiers(vs.Offset, vs.OffsetExpr, vs.At, vs.extended()))
}
