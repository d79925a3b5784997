package parser

import (
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The leaves of the grammar: the parts of an expression that hold tokens
// but no sub-expression — label lists, matchers in braces, the suffixes
// [range], [range:step], offset, @, and a binary operator's modifiers.
// Each implements participle's Parseable interface and reads its tokens
// straight off the PeekingLexer, where grammar structs would cost
// participle a branch context for every optional part and alternative, and
// a deferred capture for every token (a matcher was about 45 allocations
// that way, 1 this way). Everything that nests an expression (operands,
// calls, parentheses, operator chains) stays in grammar.go.
//
// A leaf behaves as participle's own nodes do, so that errors come out at
// the same places: it returns participle.NextMatch, having consumed
// nothing, when its first token is not there, and otherwise an error at
// the first token it cannot use, with the lexer left on that token (which
// is how participle decides whether a failed optional part is an error or
// just absent: by how far it got).

// Token types, as the scanner numbers them.
var (
	tokComment    = fastLexer.typ[ruleComment]
	tokWhitespace = fastLexer.typ[ruleWhitespace]
	tokDuration   = fastLexer.typ[ruleDuration]
	tokNumber     = fastLexer.typ[ruleNumber]
	tokString     = fastLexer.typ[ruleString]
	tokIdent      = fastLexer.typ[ruleIdent]
	tokSign       = fastLexer.typ[ruleSign]
	tokOp         = fastLexer.typ[ruleOp]
	tokPunct      = fastLexer.typ[rulePunct]
)

func isPunct(t *lexer.Token, p string) bool { return t.Type == tokPunct && t.Value == p }

// isIdent reports the keyword v (lower case) in any case, as Prometheus's
// lexer reads keywords: BY, By and by are the same word.
func isIdent(t *lexer.Token, v string) bool { return t.Type == tokIdent && keywordIs(t.Value, v) }

// keywordIs compares a word with a lower-case ASCII keyword, ignoring the
// word's case. Only ASCII letters fold: Prometheus lower-cases a word to
// look it up but refuses any word with a non-ASCII character.
func keywordIs(word, kw string) bool {
	if len(word) != len(kw) {
		return false
	}
	for i := 0; i < len(word); i++ {
		c := word[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != kw[i] {
			return false
		}
	}
	return true
}

// lowerKeyword is word in lower case if it is ASCII (a keyword's
// spelling), else word as it is.
func lowerKeyword(word string) string {
	for i := 0; i < len(word); i++ {
		if c := word[i]; c >= 0x80 {
			return word
		} else if 'A' <= c && c <= 'Z' {
			return strings.ToLower(word)
		}
	}
	return word
}
func isLabel(t *lexer.Token) bool  { return t.Type == tokIdent || t.Type == tokString }
func isNumber(t *lexer.Token) bool { return t.Type == tokNumber || t.Type == tokDuration }

func unexpected(lex *lexer.PeekingLexer, expect string) error {
	return &participle.UnexpectedTokenError{Unexpected: *lex.Peek(), Expect: expect}
}

// gLabelList is "(" [label {"," label} [","]] ")", a label being a name or
// a quoted string.
type gLabelList struct {
	Pos     lexer.Position // of "("
	Labels  []string
	Offsets []int // of each label
}

func (g *gLabelList) Parse(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	if !isPunct(t, "(") {
		return participle.NextMatch
	}
	g.Pos = t.Pos
	lex.Next()
	for {
		t = lex.Peek()
		if isLabel(t) {
			g.Labels = append(g.Labels, t.Value)
			g.Offsets = append(g.Offsets, t.Pos.Offset)
			lex.Next()
			if t = lex.Peek(); isPunct(t, ",") {
				lex.Next()
				continue
			}
		}
		if !isPunct(t, ")") {
			return unexpected(lex, `")"`)
		}
		lex.Next()
		return nil
	}
}

// gGrouping is an aggregation's "by (…)" or "without (…)" (Kind empty:
// absent).
type gGrouping struct {
	Kind string
	gLabelList
}

// gHead is the name that starts a selector, a call or an aggregation, and
// an aggregation's grouping if it comes first ("sum by (x) (…)").
type gHead struct {
	Name  string
	Start int // offset of the name
	End   int // offset just past the name or the grouping
	Pre   gGrouping
}

func (g *gHead) Parse(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	if t.Type != tokIdent {
		return participle.NextMatch
	}
	g.Name = t.Value
	g.Start = t.Pos.Offset
	g.End = t.Pos.Offset + len(t.Value)
	lex.Next()
	// The grouping is optional: one that fails right after its keyword
	// is given back, and the keyword is left for what follows.
	cp := lex.MakeCheckpoint()
	switch err := g.Pre.Parse(lex); {
	case err == nil:
		g.End = lex.RawPeek().Pos.Offset
	case err == participle.NextMatch:
	case lex.Cursor() > cp.Cursor()+1:
		return err
	default:
		lex.LoadCheckpoint(cp)
		g.Pre = gGrouping{}
	}
	return nil
}

func (g *gGrouping) Parse(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	if !isIdent(t, "by") && !isIdent(t, "without") {
		return participle.NextMatch
	}
	g.Kind = lowerKeyword(t.Value)
	lex.Next()
	if err := g.gLabelList.Parse(lex); err != participle.NextMatch {
		return err
	}
	return unexpected(lex, `"("`)
}

// gMatcher is name op "value", or a bare "quoted metric name" (Op empty).
type gMatcher struct {
	Pos   lexer.Position
	Name  string
	Op    string
	Value string
}

// gMatchers is "{" [matcher {"," matcher} [","]] "}".
type gMatchers struct {
	Braces bool // false: absent
	List   []gMatcher
}

func (g *gMatchers) Parse(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	if !isPunct(t, "{") {
		return participle.NextMatch
	}
	g.Braces = true
	lex.Next()
	for {
		t = lex.Peek()
		if isLabel(t) {
			m := gMatcher{Pos: t.Pos, Name: t.Value}
			lex.Next()
			// An operator without a string after it is not part of the
			// matcher: the error is then that "}" was expected there.
			if op := lex.Peek(); op.Type == tokOp {
				cp := lex.MakeCheckpoint()
				lex.Next()
				if v := lex.Peek(); v.Type == tokString {
					m.Op, m.Value = op.Value, v.Value
					lex.Next()
				} else {
					lex.LoadCheckpoint(cp)
				}
			}
			g.List = append(g.List, m)
			if t = lex.Peek(); isPunct(t, ",") {
				lex.Next()
				continue
			}
		}
		if !isPunct(t, "}") {
			return unexpected(lex, `"}"`)
		}
		lex.Next()
		return nil
	}
}

// gBinOpToken is a binary operator and its bool modifier. Any Op, Sign or
// Ident token is taken; the builder checks that it names an operator.
type gBinOpToken struct {
	Pos  lexer.Position
	Op   string
	Bool bool
}

func (g *gBinOpToken) Parse(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	if t.Type != tokOp && t.Type != tokSign && t.Type != tokIdent {
		return participle.NextMatch
	}
	g.Pos, g.Op = t.Pos, t.Value
	lex.Next()
	if isIdent(lex.Peek(), "bool") {
		g.Bool = true
		lex.Next()
	}
	return nil
}

// gMatching is on(…)/ignoring(…), then optionally group_left/group_right
// with an optional label list (Kind empty: absent), then optionally the
// fill modifiers: fill(v), or fill_left(v) and/or fill_right(v).
type gMatching struct {
	Kind     string
	Labels   gLabelList
	Group    string
	Incl     *gLabelList
	Fills    []gFill
	FillsPos lexer.Position
}

// gFill is fill(v), fill_left(v) or fill_right(v).
type gFill struct {
	Kind string
	Pos  lexer.Position // of the value
	Sign string
	Num  string
}

func (g *gMatching) Parse(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	if isIdent(t, "on") || isIdent(t, "ignoring") {
		if err := g.parseMatching(lex); err != nil {
			return err
		}
	}
	if err := g.parseFills(lex); err != nil {
		return err
	}
	if g.Kind == "" && len(g.Fills) == 0 {
		return participle.NextMatch
	}
	return nil
}

func (g *gMatching) parseMatching(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	g.Kind = lowerKeyword(t.Value)
	lex.Next()
	switch err := g.Labels.Parse(lex); err {
	case nil:
	case participle.NextMatch:
		return unexpected(lex, `"("`)
	default:
		return err
	}
	if t = lex.Peek(); !isIdent(t, "group_left") && !isIdent(t, "group_right") {
		return nil
	}
	g.Group = lowerKeyword(t.Value)
	lex.Next()
	// A label list that fails right after its "(" is left unread, as an
	// optional part that did not match: "(" then starts the right operand.
	cp := lex.MakeCheckpoint()
	incl := &gLabelList{}
	switch err := incl.Parse(lex); {
	case err == nil:
		g.Incl = incl
	case err != participle.NextMatch && lex.Cursor() > cp.Cursor()+1:
		return err
	default:
		lex.LoadCheckpoint(cp)
	}
	return nil
}

// parseFills reads fill(v) alone, or fill_left(v) and fill_right(v) in
// either order or alone. A fill word is a keyword only when "(" follows
// (as Prometheus's lexer decides): fill without it is the right operand.
func (g *gMatching) parseFills(lex *lexer.PeekingLexer) error {
	for {
		t := lex.Peek()
		kind := ""
		for _, k := range []string{"fill", "fill_left", "fill_right"} {
			if isIdent(t, k) {
				kind = k
			}
		}
		if kind == "" {
			return nil
		}
		cp := lex.MakeCheckpoint()
		lex.Next()
		if !isPunct(lex.Peek(), "(") {
			lex.LoadCheckpoint(cp)
			return nil
		}
		allowed := len(g.Fills) == 0 || (len(g.Fills) == 1 && g.Fills[0].Kind != "fill" && kind != "fill" && kind != g.Fills[0].Kind)
		if !allowed {
			return &participle.UnexpectedTokenError{Unexpected: *t}
		}
		if len(g.Fills) == 0 {
			g.FillsPos = t.Pos
		}
		lex.Next()
		f := gFill{Kind: kind, Pos: lex.Peek().Pos}
		if v := lex.Peek(); v.Type == tokSign {
			f.Sign = v.Value
			lex.Next()
		}
		if v := lex.Peek(); !isNumber(v) && !isIdent(v, "inf") && !isIdent(v, "nan") {
			return unexpected(lex, "<number>")
		}
		f.Num = lex.Next().Value
		if !isPunct(lex.Peek(), ")") {
			return unexpected(lex, `")"`)
		}
		lex.Next()
		g.Fills = append(g.Fills, f)
	}
}

// gSuffix is one of an operand's suffixes: "[" range "]", "[" range ":"
// [step] "]", "offset" duration, "@" [sign] number, "@" start() or
// "@" end(), "anchored", "smoothed". Ranges, steps and offsets are
// duration expressions (gDur).
type gSuffix struct {
	Kind  byte           // '[', 'o' (offset), '@', 'a' (anchored) or 's' (smoothed)
	Start int            // offset of "[", "offset", "@", "anchored" or "smoothed"
	Pos   lexer.Position // of the first token after it
	End   int            // offset just past the suffix
	Range *gDur          // [Range] or [Range:Step]
	Colon bool
	Step  *gDur
	Off   *gDur  // offset
	Sign  string // @
	Num   string
	Fn    string // "start" or "end"
}

func (g *gSuffix) Parse(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	switch {
	case isPunct(t, "["):
		g.Kind = '['
	case isIdent(t, "offset"):
		g.Kind = 'o'
	case t.Type == tokOp && t.Value == "@":
		g.Kind = '@'
	case isIdent(t, "anchored"):
		g.Kind = 'a'
	case isIdent(t, "smoothed"):
		g.Kind = 's'
	default:
		return participle.NextMatch
	}
	g.Start = t.Pos.Offset
	lex.Next()
	if g.Kind == 'a' || g.Kind == 's' {
		g.End = g.Start + len(t.Value)
		return nil
	}
	t = lex.Peek()
	g.Pos = t.Pos
	var err error
	switch g.Kind {
	case '[':
		if g.Range, err = durExpr(lex, 1); err != nil {
			return err
		}
		switch t = lex.Peek(); {
		case isPunct(t, ":"):
			g.Colon = true
			lex.Next()
			if t = lex.Peek(); !isPunct(t, "]") {
				if g.Step, err = durExpr(lex, 1); err != nil {
					return err
				}
			}
		case t.Type == tokIdent && strings.HasPrefix(t.Value, ":"):
			// [1h:step()] lexes as 1h, ":step": a name may start with a
			// colon (job:rate5m). The colon belongs to the brackets here,
			// the rest is a duration function.
			g.Colon = true
			if g.Step, err = durExprAfter(lex, t); err != nil {
				return err
			}
		}
		if !isPunct(lex.Peek(), "]") {
			return unexpected(lex, `"]"`)
		}
		g.end(lex.Next())
	case 'o':
		// An offset takes one signed operand, not an expression:
		// "x offset 1m + 2" is (x offset 1m) + 2, "x offset -2 ^ 2" is
		// (x offset -2) ^ 2. Parentheses make it an expression.
		if g.Off, err = durSigned(lex, false); err != nil {
			return err
		}
		g.End = g.Off.End
	case '@':
		// After "@" come two alternatives, [sign] number and start() or
		// end(); one that fails on its second token is given back whole,
		// as participle gives back a branch that got no further than that.
		cp := lex.MakeCheckpoint()
		switch {
		case t.Type == tokSign:
			g.Sign = t.Value
			lex.Next()
			if !isNumber(lex.Peek()) {
				err := unexpected(lex, "<number>")
				lex.LoadCheckpoint(cp)
				return err
			}
			g.Num = g.end(lex.Next())
		case isNumber(t):
			g.Num = g.end(lex.Next())
		case isIdent(t, "start") || isIdent(t, "end"):
			g.Fn = lowerKeyword(t.Value)
			lex.Next()
			if !isPunct(lex.Peek(), "(") {
				err := unexpected(lex, `"("`)
				lex.LoadCheckpoint(cp)
				return err
			}
			lex.Next()
			if !isPunct(lex.Peek(), ")") {
				return unexpected(lex, `")"`)
			}
			g.end(lex.Next())
		default:
			return unexpected(lex, `<number> or start() or end()`)
		}
	}
	return nil
}

// end records where the suffix ends: just past its last token t.
func (g *gSuffix) end(t *lexer.Token) string {
	g.End = t.Pos.Offset + len(t.Value)
	return t.Value
}

// gDur is a duration expression as read: a number or duration literal
// (Tok), a sign (Op "+"/"-", R), a binary operation (Op, L, R), step() or
// range() (Fn), min_of(L, R) or max_of(L, R) (Fn), or parentheses (Paren,
// R). The builder turns it into a NumberLiteral or a DurationExpr.
type gDur struct {
	Tok        *lexer.Token
	Op         string
	Fn         string
	Paren      bool
	L, R       *gDur
	Start, End int // byte offsets
}

// durPrec is how tightly a duration operator binds; 0: not one.
func durPrec(t *lexer.Token) int {
	switch {
	case t.Type == tokSign:
		return 1
	case t.Type == tokOp && (t.Value == "*" || t.Value == "/" || t.Value == "%"):
		return 2
	case t.Type == tokOp && t.Value == "^":
		return 3
	}
	return 0
}

// durExpr reads a duration expression by precedence climbing: + - below
// * / % below ^, which groups to the right; a sign binds like *.
func durExpr(lex *lexer.PeekingLexer, minPrec int) (*gDur, error) {
	lhs, err := durSigned(lex, true)
	if err != nil {
		return nil, err
	}
	return durClimb(lex, lhs, minPrec)
}

func durClimb(lex *lexer.PeekingLexer, lhs *gDur, minPrec int) (*gDur, error) {
	for {
		t := lex.Peek()
		p := durPrec(t)
		if p == 0 || p < minPrec {
			return lhs, nil
		}
		op := t.Value
		lex.Next()
		next := p + 1
		if op == "^" {
			next = p // right-associative
		}
		rhs, err := durExpr(lex, next)
		if err != nil {
			return nil, err
		}
		lhs = &gDur{Op: op, L: lhs, R: rhs, Start: lhs.Start, End: rhs.End}
	}
}

// durSigned reads any signs and a primary. In an expression (full) a
// sign takes what follows up to a * / %: -2^2 is -(2^2).
func durSigned(lex *lexer.PeekingLexer, full bool) (*gDur, error) {
	t := lex.Peek()
	if t.Type != tokSign {
		return durPrimary(lex)
	}
	start := t.Pos.Offset
	sign := t.Value
	lex.Next()
	var operand *gDur
	var err error
	if full {
		if operand, err = durSigned(lex, true); err == nil {
			operand, err = durClimb(lex, operand, 3)
		}
	} else {
		operand, err = durPrimary(lex)
	}
	if err != nil {
		return nil, err
	}
	return &gDur{Op: sign, R: operand, Start: start, End: operand.End}, nil
}

// durExprAfter reads a subquery step whose first token t is ":name":
// the step is the duration function name(…) and whatever follows it.
func durExprAfter(lex *lexer.PeekingLexer, t *lexer.Token) (*gDur, error) {
	fn := lowerKeyword(t.Value[1:])
	if fn != "step" && fn != "range" && fn != "min_of" && fn != "max_of" {
		return nil, unexpected(lex, `":"`)
	}
	lex.Next()
	first, err := durCall(lex, fn, t.Pos.Offset+1)
	if err != nil {
		return nil, err
	}
	return durClimb(lex, first, 1)
}

func durPrimary(lex *lexer.PeekingLexer) (*gDur, error) {
	t := lex.Peek()
	switch {
	case isNumber(t):
		lex.Next()
		return &gDur{Tok: t, Start: t.Pos.Offset, End: t.Pos.Offset + len(t.Value)}, nil
	case isPunct(t, "("):
		start := t.Pos.Offset
		lex.Next()
		e, err := durExpr(lex, 1)
		if err != nil {
			return nil, err
		}
		if t = lex.Peek(); !isPunct(t, ")") {
			return nil, unexpected(lex, `")"`)
		}
		lex.Next()
		return &gDur{Paren: true, R: e, Start: start, End: t.Pos.Offset + 1}, nil
	case isIdent(t, "step") || isIdent(t, "range") || isIdent(t, "min_of") || isIdent(t, "max_of"):
		lex.Next()
		return durCall(lex, lowerKeyword(t.Value), t.Pos.Offset)
	}
	return nil, unexpected(lex, "<duration>")
}

// durCall reads the parenthesised part of step(), range(), min_of(a, b)
// or max_of(a, b), the name (at offset start) read already.
func durCall(lex *lexer.PeekingLexer, fn string, start int) (*gDur, error) {
	if !isPunct(lex.Peek(), "(") {
		return nil, unexpected(lex, `"("`)
	}
	lex.Next()
	d := &gDur{Fn: fn, Start: start}
	if fn == "min_of" || fn == "max_of" {
		var err error
		if d.L, err = durExpr(lex, 1); err != nil {
			return nil, err
		}
		if !isPunct(lex.Peek(), ",") {
			return nil, unexpected(lex, `","`)
		}
		lex.Next()
		if d.R, err = durExpr(lex, 1); err != nil {
			return nil, err
		}
	}
	t := lex.Peek()
	if !isPunct(t, ")") {
		return nil, unexpected(lex, `")"`)
	}
	lex.Next()
	d.End = t.Pos.Offset + 1
	return d, nil
}
