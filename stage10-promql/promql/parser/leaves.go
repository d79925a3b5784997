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
	Pos    lexer.Position // of "("
	Labels []string
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
	Name string
	End  int // offset just past the name or the grouping
	Pre  gGrouping
}

func (g *gHead) Parse(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	if t.Type != tokIdent {
		return participle.NextMatch
	}
	g.Name = t.Value
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
// with an optional label list (Kind empty: absent).
type gMatching struct {
	Kind   string
	Labels gLabelList
	Group  string
	Incl   *gLabelList
}

func (g *gMatching) Parse(lex *lexer.PeekingLexer) error {
	t := lex.Peek()
	if !isIdent(t, "on") && !isIdent(t, "ignoring") {
		return participle.NextMatch
	}
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

// gSuffix is one of an operand's suffixes: "[" range "]", "[" range ":"
// [step] "]", "offset" [sign] duration, "@" [sign] number, "@" start() or
// "@" end().
type gSuffix struct {
	Kind  byte           // '[', 'o' (offset) or '@'
	Start int            // offset of "[", "offset" or "@"
	Pos   lexer.Position // of the first token after it
	End   int            // offset just past the suffix
	Range string         // [Range] or [Range:Step]
	Colon bool
	Step  string
	Sign  string // offset and @
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
	default:
		return participle.NextMatch
	}
	g.Start = t.Pos.Offset
	lex.Next()
	t = lex.Peek()
	g.Pos = t.Pos
	switch g.Kind {
	case '[':
		if !isNumber(t) {
			return unexpected(lex, "<duration>")
		}
		g.Range = t.Value
		lex.Next()
		if t = lex.Peek(); isPunct(t, ":") {
			g.Colon = true
			lex.Next()
			if t = lex.Peek(); isNumber(t) {
				g.Step = t.Value
				lex.Next()
			}
		}
		if !isPunct(lex.Peek(), "]") {
			return unexpected(lex, `"]"`)
		}
		g.end(lex.Next())
	case 'o':
		if t.Type == tokSign {
			g.Sign = t.Value
			lex.Next()
		}
		if !isNumber(lex.Peek()) {
			return unexpected(lex, "<duration>")
		}
		g.Num = g.end(lex.Next())
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
