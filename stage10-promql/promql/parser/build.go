package parser

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// builder turns participle's concrete tree into the typed AST, checking
// types as it goes, bottom-up: by the time a node is built its children are
// known to be well-typed, so each check only looks one level down.
type builder struct {
	input string
	opts  Options
	// labelSelector: the selector being built is info's second argument,
	// label matchers only, which may all match the empty string.
	labelSelector bool
}

// buildError carries a positioned error out of the recursive builder; it is
// recovered in ParseExpr and never escapes the package.
type buildError struct {
	pos PosRange
	err error
}

func fail(pr PosRange, format string, a ...any) {
	panic(buildError{pr, fmt.Errorf(format, a...)})
}

func at(p lexer.Position) PosRange { return PosRange{Pos(p.Offset), Pos(p.Offset)} }

// expr builds a binary-operator chain by precedence climbing: the grammar
// hands over "operand op operand op operand …" and climb groups it by
// Op.Precedence, left to right, except ^ which groups right to left.
func (b *builder) expr(g *gExpr) Expr {
	c := &chain{b: b, ops: g.Rest}
	return c.climb(c.operand(&g.First), 1)
}

type chain struct {
	b    *builder
	ops  []*gBinOp
	next int // index in ops of the next operator to consume
}

func (c *chain) peek() (Op, bool) {
	if c.next >= len(c.ops) {
		return OpInvalid, false
	}
	g := c.ops[c.next].Op
	op, ok := binaryOps[lowerKeyword(g.Op)]
	if !ok { // the grammar accepts any Op, Sign or Ident token here
		fail(at(g.Pos), "unexpected %q: expected a binary operator", g.Op)
	}
	return op, true
}

// climb extends lhs with every following operator that binds at least as
// tightly as minPrec.
func (c *chain) climb(lhs Expr, minPrec int) Expr {
	for {
		op, ok := c.peek()
		if !ok || op.Precedence() < minPrec {
			return lhs
		}
		g := c.ops[c.next]
		c.next++
		rhs := c.operand(&g.Right)
		for {
			nop, ok := c.peek()
			if !ok {
				break
			}
			if np := nop.Precedence(); np > op.Precedence() {
				rhs = c.climb(rhs, op.Precedence()+1)
			} else if np == op.Precedence() && op == POW {
				rhs = c.climb(rhs, np) // right-associative: a^b^c is a^(b^c)
			} else {
				break
			}
		}
		lhs = c.b.binary(lhs, g, rhs)
	}
}

// operand builds one operand and its signs. A sign binds looser than ^ and
// tighter than everything else, so a signed operand first swallows any ^
// chain that follows it: -2^2 is -(2^2), but -a*b is (-a)*b.
func (c *chain) operand(g *gOperand) Expr {
	e := c.b.postfix(g)
	if len(g.Signs) == 0 {
		return e
	}
	e = c.climb(e, POW.Precedence())
	pos := c.b.signPositions(g)
	for i := len(g.Signs) - 1; i >= 0; i-- {
		e = c.b.unary(g.Signs[i], Pos(pos[i]), e)
	}
	return e
}

func (b *builder) unary(sign string, start Pos, operand Expr) Expr {
	pr := PosRange{start, operand.PositionRange().End}
	if t := operand.Type(); t != ValueTypeScalar && t != ValueTypeVector {
		fail(pr, "unary expression only allowed on expressions of type scalar or instant vector, got %q", t.DocumentedType())
	}
	op := ADD
	if sign == "-" {
		op = SUB
	}
	// -1 is the number -1, not an operation on 1: Prometheus folds the sign
	// into the literal, and so must we for the trees to compare equal.
	if n, ok := operand.(*NumberLiteral); ok {
		if op == SUB {
			n.Val = -n.Val
		}
		n.PosRange = pr
		return n
	}
	return &UnaryExpr{Op: op, Expr: operand, PosRange: pr}
}

func isVectorOrScalar(t ValueType) bool { return t == ValueTypeScalar || t == ValueTypeVector }

func (b *builder) binary(lhs Expr, g *gBinOp, rhs Expr) Expr {
	op := binaryOps[lowerKeyword(g.Op.Op)] // checked by chain.peek
	opPos := g.Op.Pos
	be := &BinaryExpr{Op: op, LHS: lhs, RHS: rhs,
		PosRange: PosRange{lhs.PositionRange().Start, rhs.PositionRange().End}}
	for _, side := range []Expr{lhs, rhs} {
		if !isVectorOrScalar(side.Type()) {
			fail(side.PositionRange(), "binary expression must contain only scalar and instant vector types")
		}
	}
	lt, rt := lhs.Type(), rhs.Type()
	bothVectors := lt == ValueTypeVector && rt == ValueTypeVector
	if g.Op.Bool {
		if !op.IsComparisonOperator() {
			fail(at(opPos), "bool modifier can only be used on comparison operators")
		}
		be.ReturnBool = true
	}
	if op.IsComparisonOperator() && !be.ReturnBool && lt == ValueTypeScalar && rt == ValueTypeScalar {
		fail(at(opPos), "comparisons between scalars must use BOOL modifier")
	}
	if op.IsSetOperator() && (lt == ValueTypeScalar || rt == ValueTypeScalar) {
		fail(be.PosRange, "set operator %q not allowed in binary scalar expression", op.String())
	}
	mt := g.Matching
	if mt == nil {
		mt = &gMatching{}
	}
	if len(mt.Fills) > 0 && !b.opts.FillModifiers {
		fail(be.PosRange, "binop fill modifiers are experimental and not enabled")
	}
	if mt.Kind != "" && !bothVectors {
		fail(be.PosRange, "vector matching only allowed between instant vectors")
	}
	if len(mt.Fills) > 0 && !bothVectors {
		fail(be.PosRange, "filling in missing series only allowed between instant vectors")
	}
	if len(mt.Fills) > 0 && op.IsSetOperator() {
		fail(be.PosRange, "filling in missing series not allowed for set operators")
	}
	if !bothVectors {
		return be
	}
	vm := &VectorMatching{Card: CardOneToOne, unquotedNames: b.opts.UnquotedUTF8Names}
	if op.IsSetOperator() {
		vm.Card = CardManyToMany
	}
	if mt.Kind != "" {
		vm.On = mt.Kind == "on"
		vm.MatchingLabels = b.labelList(&mt.Labels)
		if mt.Group != "" {
			if op.IsSetOperator() {
				fail(be.PosRange, "no grouping allowed for %q operation", op.String())
			}
			vm.Card = CardManyToOne
			if mt.Group == "group_right" {
				vm.Card = CardOneToMany
			}
			if mt.Incl != nil {
				vm.Include = b.labelList(mt.Incl)
			}
			if vm.On {
				for _, l := range vm.Include {
					for _, o := range vm.MatchingLabels {
						if l == o {
							fail(at(opPos), "label %q must not occur in ON and GROUP clause at once", l)
						}
					}
				}
			}
		}
	}
	for _, f := range mt.Fills {
		v := b.fillValue(f)
		switch f.Kind {
		case "fill":
			vm.FillLHS, vm.FillRHS = &v, &v
		case "fill_left":
			vm.FillLHS = &v
		case "fill_right":
			vm.FillRHS = &v
		}
	}
	be.VectorMatching = vm
	return be
}

// fillValue is a fill modifier's number (or duration, in seconds).
func (b *builder) fillValue(f gFill) float64 {
	var v float64
	switch strings.ToLower(f.Num) {
	case "inf":
		v = math.Inf(1)
	case "nan":
		v = math.NaN()
	default:
		v = b.numberLiteral(f.Num, at(f.Pos)).Val
	}
	if f.Sign == "-" {
		v = -v
	}
	return v
}

func (b *builder) labelList(g *gLabelList) []string {
	out := make([]string, 0, len(g.Labels))
	for i, l := range g.Labels {
		name := l
		if strings.ContainsAny(l[:1], "\"'`") {
			var err error
			if name, err = Unquote(l); err != nil {
				fail(at(g.Pos), "%v", err)
			}
		} else {
			b.checkName(l, g.Offsets[i], "")
		}
		out = append(out, name)
	}
	return out
}

// checkName refuses an unquoted name with a character only
// Options.UnquotedUTF8Names allows (a letter beyond ASCII, a dot), where
// Prometheus's lexer would stop: "unexpected character" (context says
// where, " inside braces").
func (b *builder) checkName(name string, off int, context string) {
	if b.opts.UnquotedUTF8Names {
		return
	}
	for i, r := range name {
		if r == '.' || r >= utf8.RuneSelf {
			fail(PosRange{Pos(off + i), Pos(off + i)}, "unexpected character%s: %q", context, r)
		}
	}
}

// signPositions finds where each of an operand's signs stands (the
// grammar captures only their text): one character each, from the
// operand's start, skipping whitespace and comments.
func (b *builder) signPositions(g *gOperand) []int {
	pos := make([]int, len(g.Signs))
	off := g.start()
	for i := range g.Signs {
		off = b.skipSpace(off)
		pos[i] = off
		off++
	}
	return pos
}

// postfix builds an operand's primary expression and applies its
// suffixes ([range], [range:step], offset, @) left to right.
func (b *builder) postfix(g *gOperand) Expr {
	start := g.start()
	if n := len(g.Signs); n > 0 {
		start = b.skipSpace(b.signPositions(g)[n-1] + 1)
	}
	sfx := g.Suffixes
	end := g.end()
	if len(sfx) > 0 {
		end = b.trimSpace(sfx[0].Start)
	}
	e := b.primary(g, PosRange{Pos(start), Pos(end)})
	from := PosRange{Pos(start), Pos(start)}
	var offsetSet, atSet bool // for the current target of offset/@
	for _, s := range sfx {
		end, start := Pos(s.End), Pos(s.Start)
		switch {
		case s.Kind == '[' && !s.Colon:
			vs, ok := e.(*VectorSelector)
			if !ok {
				fail(PosRange{start, end}, "ranges only allowed for vector selectors")
			}
			if offsetSet {
				fail(PosRange{start, end}, "no offset modifiers allowed before range")
			}
			if atSet {
				fail(PosRange{start, end}, "no @ modifiers allowed before range")
			}
			ms := &MatrixSelector{VectorSelector: vs, PosRange: PosRange{vs.Start, end}}
			ms.Range, ms.RangeExpr = b.durationArg(s.Range, true)
			e = ms
		case s.Kind == '[':
			if e.Type() != ValueTypeVector {
				fail(from, "subquery is only allowed on instant vector, got %s instead", e.Type())
			}
			sq := &SubqueryExpr{Expr: e, PosRange: PosRange{e.PositionRange().Start, end}}
			sq.Range, sq.RangeExpr = b.durationArg(s.Range, true)
			if s.Step != nil {
				sq.Step, sq.StepExpr = b.durationArg(s.Step, true)
			}
			e, offsetSet, atSet = sq, false, false
		case s.Kind == 'o':
			if offsetSet {
				fail(e.PositionRange(), "offset may not be set multiple times")
			}
			m := modified(e, "offset")
			*m.offset, *m.offsetExpr = b.durationArg(s.Off, false)
			offsetSet = true
			setEnd(e, end)
		case s.Kind == '@':
			if atSet {
				fail(e.PositionRange(), "@ <timestamp> may not be set multiple times")
			}
			*modified(e, "@").at = b.atModifier(s)
			atSet = true
			setEnd(e, end)
		case s.Kind == 'a' || s.Kind == 's':
			extend(e, s.Kind == 'a')
		}
	}
	return e
}

// extend marks a selector anchored or smoothed.
func extend(e Expr, anchored bool) {
	name := "smoothed"
	if anchored {
		name = "anchored"
	}
	var vs *VectorSelector
	switch n := e.(type) {
	case *VectorSelector:
		vs = n
	case *MatrixSelector:
		vs = n.VectorSelector
	case *SubqueryExpr:
		fail(e.PositionRange(), "%s modifier is not supported for subqueries", name)
	default:
		fail(e.PositionRange(), "%s modifier not implemented", name)
	}
	if anchored {
		vs.Anchored = true
	} else {
		vs.Smoothed = true
	}
	if vs.Anchored && vs.Smoothed {
		fail(e.PositionRange(), "anchored and smoothed modifiers cannot be used together")
	}
}

// durationArg builds a range, a subquery step or an offset: a literal is
// the duration itself (a range or step must be positive), anything else a
// DurationExpr the engine works out when the query runs.
func (b *builder) durationArg(g *gDur, positive bool) (time.Duration, *DurationExpr) {
	switch e := b.durTree(g).(type) {
	case *NumberLiteral:
		if positive && e.Val <= 0 {
			fail(e.PosRange, "duration must be greater than 0")
		}
		return time.Duration(math.Round(e.Val * float64(time.Second))), nil
	case *DurationExpr:
		return 0, e
	}
	panic("unreachable")
}

// maxDurationSeconds bounds a duration literal: its nanoseconds must fit
// an int64.
const maxDurationSeconds = 1 << 63 / 1e9

// durTree turns a duration expression as read into a NumberLiteral (a
// literal, signs folded in) or a DurationExpr, as Prometheus's grammar
// builds them.
func (b *builder) durTree(g *gDur) Expr {
	pr := PosRange{Pos(g.Start), Pos(g.End)}
	switch {
	case g.Tok != nil:
		n := b.numberLiteral(g.Tok.Value, pr)
		if n.Val > maxDurationSeconds || n.Val < -maxDurationSeconds {
			fail(pr, "duration out of range")
		}
		return n
	case g.Fn == "step" || g.Fn == "range":
		op := STEP
		if g.Fn == "range" {
			op = RANGE
		}
		return &DurationExpr{Op: op, PosRange: pr}
	case g.Fn != "":
		op := MIN_OF
		if g.Fn == "max_of" {
			op = MAX_OF
		}
		return &DurationExpr{Op: op, LHS: b.durTree(g.L), RHS: b.durTree(g.R), PosRange: pr}
	case g.Paren:
		switch inner := b.durTree(g.R).(type) {
		case *DurationExpr:
			inner.Wrapped = true
			return inner
		case *NumberLiteral:
			return &DurationExpr{Op: ADD, RHS: inner, Wrapped: true, PosRange: pr}
		}
	case g.L == nil: // a sign
		switch operand := b.durTree(g.R).(type) {
		case *NumberLiteral:
			if g.Op == "-" {
				operand.Val = -operand.Val
			}
			operand.PosRange = pr
			return operand
		case *DurationExpr:
			if g.Op == "-" {
				return &DurationExpr{Op: SUB, RHS: operand, PosRange: pr}
			}
			return operand
		}
	}
	l, r := b.durTree(g.L), b.durTree(g.R)
	op := binaryOps[g.Op]
	if n, ok := r.(*NumberLiteral); ok && n.Val == 0 && (op == DIV || op == MOD) {
		opPos := Pos(b.skipSpace(g.L.End))
		if op == DIV {
			fail(PosRange{opPos, opPos + 1}, "division by zero")
		}
		fail(PosRange{opPos, opPos + 1}, "modulo by zero")
	}
	return &DurationExpr{Op: op, LHS: l, RHS: r, PosRange: pr}
}

func setEnd(e Expr, end Pos) {
	switch n := e.(type) {
	case *VectorSelector:
		n.End = end
	case *MatrixSelector:
		n.End = end
	case *SubqueryExpr:
		n.End = end
	}
}

func (b *builder) atModifier(g *gSuffix) *AtModifier {
	if g.Fn != "" {
		return &AtModifier{StartOrEnd: g.Fn}
	}
	var f float64
	if isDurationToken(g.Num) {
		f = b.duration(g.Num, g.Pos, true).Seconds()
	} else {
		var err error
		if f, err = parseNumber(g.Num); err != nil {
			fail(at(g.Pos), "%v", err)
		}
	}
	if g.Sign == "-" {
		f = -f
	}
	ms := math.Round(f * 1000)
	if math.IsNaN(ms) || math.IsInf(ms, 0) || ms >= math.MaxInt64 || ms <= math.MinInt64 {
		fail(at(g.Pos), "timestamp out of bounds for @ modifier: %v", f)
	}
	return &AtModifier{Timestamp: int64(ms)}
}

// isDurationToken tells a Duration token (5m, 1h30m) from a Number token
// (5, 1., 0x1d) by its last character, a unit.
func isDurationToken(s string) bool {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return false
	}
	c := s[len(s)-1]
	return c >= 'a' && c <= 'z'
}

// numberLiteral is a Number or Duration token (in seconds) as a literal.
func (b *builder) numberLiteral(tok string, pr PosRange) *NumberLiteral {
	if isDurationToken(tok) {
		d, err := ParseDuration(tok)
		if err != nil {
			fail(pr, "%v", err)
		}
		return &NumberLiteral{Val: d.Seconds(), Duration: true, PosRange: pr}
	}
	f, err := parseNumber(tok)
	if err != nil {
		fail(pr, "%v", err)
	}
	return &NumberLiteral{Val: f, PosRange: pr}
}

// duration reads a Duration or Number token (a number is seconds). Ranges
// and steps must be positive; offsets may be zero.
func (b *builder) duration(tok string, p lexer.Position, zeroOK bool) time.Duration {
	var d time.Duration
	if isDurationToken(tok) {
		var err error
		if d, err = ParseDuration(tok); err != nil {
			fail(at(p), "%v", err)
		}
	} else {
		f, err := parseNumber(tok)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f*1e9 > math.MaxInt64 {
			fail(at(p), "invalid duration %q", tok)
		}
		d = time.Duration(math.Round(f*1000)) * time.Millisecond
	}
	if d == 0 && !zeroOK {
		fail(at(p), "duration must be greater than 0")
	}
	return d
}

func (b *builder) primary(g *gOperand, pr PosRange) Expr {
	switch {
	case g.Paren != nil:
		return &ParenExpr{Expr: b.expr(g.Paren), PosRange: pr}
	case g.Head.Name == "" && !g.Sel.Braces && isNumber(g.lead()):
		return b.numberLiteral(g.lead().Value, pr)
	case g.lead().Type == tokString:
		s, err := Unquote(g.lead().Value)
		if err != nil {
			fail(pr, "%v", err)
		}
		return &StringLiteral{Val: s, PosRange: pr}
	case g.Sel.Braces:
		return b.selector("", g.Sel.List, pr)
	}
	return b.ident(g, pr)
}

func (b *builder) skipSpace(off int) int {
	for off < len(b.input) && strings.IndexByte(" \t\r\n", b.input[off]) >= 0 {
		off++
	}
	return off
}

func (b *builder) trimSpace(off int) int {
	for off > 0 && strings.IndexByte(" \t\r\n", b.input[off-1]) >= 0 {
		off--
	}
	return off
}

// keywords cannot be metric names: the grammar gives them a meaning.
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "atan2": true, "by": true, "without": true, "on": true,
	"ignoring": true, "group_left": true, "group_right": true, "bool": true, "offset": true,
	"start": true, "end": true,
}

func (b *builder) ident(g *gOperand, pr PosRange) Expr {
	name, pre := g.Head.Name, &g.Head.Pre
	b.checkName(name, g.Head.Start, "")
	if !g.call() {
		if pre.Kind != "" {
			fail(pr, "unexpected grouping %q without an aggregation body", pre.Kind)
		}
		if keywords[lowerKeyword(name)] {
			fail(pr, "unexpected %q: expected an expression", name)
		}
		if !g.NameSel.Braces {
			switch strings.ToLower(name) {
			case "inf":
				return &NumberLiteral{Val: math.Inf(1), PosRange: pr}
			case "nan":
				return &NumberLiteral{Val: math.NaN(), PosRange: pr}
			}
		}
		return b.selector(name, g.NameSel.List, pr)
	}
	if g.NameSel.Braces {
		fail(pr, "unexpected \"{\" after a call to %q", name)
	}
	args := make([]Expr, len(g.Args))
	for i, a := range g.Args {
		b.labelSelector = i == 1 && name == "info"
		args[i] = b.expr(a)
		b.labelSelector = false
	}
	if op, ok := aggregateOps[lowerKeyword(name)]; ok {
		return b.aggregate(op, g, args, pr)
	}
	if pre.Kind != "" || g.Post != nil {
		fail(pr, "grouping is only allowed on aggregations, not on function %q", name)
	}
	fn, ok := Functions[name]
	if !ok {
		fail(pr, "unknown function with name %q", name)
	}
	if fn.Experimental && !b.opts.ExperimentalFunctions {
		fail(pr, "function %q is not enabled", name)
	}
	b.checkCall(fn, args, pr)
	if name == "info" && len(args) > 1 {
		// The second argument selects info metrics and their labels.
		switch vs, ok := args[1].(*VectorSelector); {
		case !ok:
			fail(args[1].PositionRange(), "expected label selectors only")
		case vs.Name != "":
			fail(args[1].PositionRange(), "expected label selectors only, got vector selector instead")
		}
	}
	return &Call{Func: fn, Args: args, PosRange: pr}
}

func (b *builder) checkCall(fn *Function, args []Expr, pr PosRange) {
	n, want := len(args), len(fn.ArgTypes)
	switch {
	case fn.Variadic == 0 && n != want:
		fail(pr, "expected %d argument(s) in call to %q, got %d", want, fn.Name, n)
	case fn.Variadic != 0 && n < want-1:
		fail(pr, "expected at least %d argument(s) in call to %q, got %d", want-1, fn.Name, n)
	case fn.Variadic > 0 && n > want-1+fn.Variadic:
		fail(pr, "expected at most %d argument(s) in call to %q, got %d", want-1+fn.Variadic, fn.Name, n)
	}
	for i, a := range args {
		wt := fn.ArgTypes[min(i, want-1)]
		if a.Type() != wt {
			fail(a.PositionRange(), "expected type %s in call to function %q, got %s",
				wt.DocumentedType(), fn.Name, a.Type().DocumentedType())
		}
	}
}

func (b *builder) aggregate(op Op, g *gOperand, args []Expr, pr PosRange) Expr {
	ae := &AggregateExpr{Op: op, PosRange: pr, unquotedNames: b.opts.UnquotedUTF8Names}
	pre, post := &g.Head.Pre, g.Post
	if post == nil {
		post = &gGrouping{}
	}
	if pre.Kind != "" && post.Kind != "" {
		fail(pr, "aggregation must have only one grouping clause")
	}
	gr := pre
	if post.Kind != "" {
		gr = post
	}
	if gr.Kind != "" {
		ae.Without = gr.Kind == "without"
		ae.Grouping = b.labelList(&gr.gLabelList)
	}
	if len(args) == 0 {
		fail(pr, "no arguments for aggregate expression provided")
	}
	want := 1
	if op.IsAggregatorWithParam() {
		if op.IsExperimental() && !b.opts.ExperimentalFunctions {
			fail(pr, "%s() is experimental and must be enabled with --enable-feature=promql-experimental-functions", op)
		}
		want = 2
	}
	if len(args) != want {
		fail(pr, "wrong number of arguments for aggregate expression provided, expected %d, got %d", want, len(args))
	}
	ae.Expr = args[want-1]
	if t := ae.Expr.Type(); t != ValueTypeVector {
		fail(ae.Expr.PositionRange(), "expected type instant vector in aggregation expression, got %s", t.DocumentedType())
	}
	if want == 2 {
		ae.Param = args[0]
		wt := ValueTypeScalar
		if op == COUNT_VALUES {
			wt = ValueTypeString
		}
		if t := ae.Param.Type(); t != wt {
			fail(ae.Param.PositionRange(), "expected type %s in aggregation parameter, got %s", wt.DocumentedType(), t.DocumentedType())
		}
	}
	return ae
}

func (b *builder) selector(name string, matchers []gMatcher, pr PosRange) *VectorSelector {
	vs := &VectorSelector{Name: name, PosRange: pr, unquotedNames: b.opts.UnquotedUTF8Names}
	if name != "" {
		vs.LabelMatchers = append(vs.LabelMatchers, index.MustNewMatcher(index.MatchEqual, model.MetricName, name))
	}
	for _, gm := range matchers {
		mpr := at(gm.Pos)
		lname := gm.Name
		quoted := strings.ContainsAny(lname[:1], "\"'`")
		if quoted {
			var err error
			if lname, err = Unquote(lname); err != nil {
				fail(mpr, "%v", err)
			}
		}
		if !quoted {
			b.checkName(lname, gm.Pos.Offset, " inside braces")
		}
		if gm.Op == "" {
			// A bare quoted string in braces is a __name__ matcher:
			// {"http.requests"}. As in Prometheus it leaves Name (a name
			// before the braces) empty, so it prints {__name__="…"}, and
			// may be given beside another: {"a", __name__="b"}.
			if !quoted {
				fail(mpr, "unexpected %q in label matching, expected label matching operator", lname)
			}
			if vs.Name != "" {
				fail(pr, "metric name must not be set twice: %q or %q", vs.Name, lname)
			}
			vs.LabelMatchers = append(vs.LabelMatchers, index.MustNewMatcher(index.MatchEqual, model.MetricName, lname))
			continue
		}
		val, err := Unquote(gm.Value)
		if err != nil {
			fail(mpr, "%v", err)
		}
		if lname == model.MetricName && vs.Name != "" {
			fail(pr, "metric name must not be set twice: %q or %q", vs.Name, val)
		}
		mt, ok := matchTypes[gm.Op]
		if !ok {
			fail(mpr, "unexpected %q in label matching, expected one of =, !=, =~, !~", gm.Op)
		}
		m, err := index.NewMatcher(mt, lname, val)
		if err != nil {
			fail(mpr, "%v", errors.Unwrap(err))
		}
		vs.LabelMatchers = append(vs.LabelMatchers, m)
	}

	nonEmpty := false
	for _, m := range vs.LabelMatchers {
		if !m.Matches("") {
			nonEmpty = true
		}
	}
	if !nonEmpty && !b.labelSelector {
		fail(pr, "vector selector must contain at least one non-empty matcher")
	}
	return vs
}

var matchTypes = map[string]index.MatchType{
	"=": index.MatchEqual, "!=": index.MatchNotEqual, "=~": index.MatchRegexp, "!~": index.MatchNotRegexp,
}

// parseNumber reads a Number token as Prometheus does: as an integer in Go
// syntax if it is one (0x1f, 017 octal, 1_000), else as a float (1.5e3,
// 2., .5).
func parseNumber(s string) (float64, error) {
	if n, err := strconv.ParseInt(s, 0, 64); err == nil {
		return float64(n), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("error parsing number: %w", err)
	}
	return f, nil
}

// Unquote reads a string literal in any of PromQL's three quotings: "…" and
// '…' with Go escapes, `…` raw.
func Unquote(s string) (string, error) {
	if len(s) < 2 || s[0] != s[len(s)-1] {
		return "", fmt.Errorf("bad string %s", s)
	}
	q, body := s[0], s[1:len(s)-1]
	if q == '`' || strings.IndexByte(body, '\\') < 0 && utf8.ValidString(body) {
		return body, nil // nothing to decode
	}
	var out strings.Builder
	for len(body) > 0 {
		r, mb, tail, err := strconv.UnquoteChar(body, q)
		if err != nil {
			return "", fmt.Errorf("invalid escape in string %s", s)
		}
		// \xff is a byte, \u00ff a character: only the latter is UTF-8 encoded.
		if r < utf8.RuneSelf || mb {
			out.WriteRune(r)
		} else {
			out.WriteByte(byte(r))
		}
		body = tail
	}
	return out.String(), nil
}

// modifiable is where an offset or @ modifier goes in the node it follows.
type modifiable struct {
	offset     *time.Duration
	offsetExpr **DurationExpr
	at         **AtModifier
}

// modified returns the modifier fields of e, the only kinds of node that
// take one, or fails naming the modifier.
func modified(e Expr, modifier string) modifiable {
	switch n := e.(type) {
	case *VectorSelector:
		return modifiable{&n.Offset, &n.OffsetExpr, &n.At}
	case *MatrixSelector:
		return modifiable{&n.VectorSelector.Offset, &n.VectorSelector.OffsetExpr, &n.VectorSelector.At}
	case *SubqueryExpr:
		return modifiable{&n.Offset, &n.OffsetExpr, &n.At}
	}
	fail(e.PositionRange(), "%s modifier must be preceded by an instant vector selector or range vector selector or a subquery", modifier)
	return modifiable{}
}
