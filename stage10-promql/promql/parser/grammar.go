package parser

import "github.com/alecthomas/participle/v2/lexer"

// The participle grammar. It reads a binary expression as a flat sequence
// "operand (operator operand)*" and leaves precedence to the builder, which
// climbs it (build.go, expr): one grammar level instead of six keeps
// participle's reflective descent shallow, which is most of its cost.
// Operands carry their own unary signs.
//
// Everything here nests expressions; the leaves in between (label lists,
// matchers in braces, suffixes, an operator and its modifiers) are
// Parseable types in leaves.go. participle tries every alternative and
// optional part in a fresh branch, allocating as it goes, so the grammar
// keeps as few of them as it can: where a choice is between token types
// (@(Number | Duration)) rather than spellings, the builder checks the
// spelling.
//
// These structs are the concrete syntax tree that participle fills in; the
// builder turns them into the typed AST and type-checks it.

type gExpr struct {
	First gOperand  `parser:"@@"`
	Rest  []*gBinOp `parser:"@@*"`
}

// gBinOp is an operator (with bool), its vector matching, and the operand
// after it.
type gBinOp struct {
	Op       gBinOpToken `parser:"@@"`
	Matching *gMatching  `parser:"@@?"`
	Right    gOperand    `parser:"@@"`
}

// gOperand is one operand: any number of signs, a primary expression,
// then any of [range], [range:step], offset and @ in source order (the
// builder checks the order). Everything optional is inline rather than a
// struct of its own, and fields are values rather than pointers:
// participle allocates a struct before it knows whether the struct
// matches, and another to point at, and operands are most of a query.
// (Post and gBinOp's Matching are the exceptions: rarely present and
// large, they would make every operand and operator, and every failed try
// at one, bigger.)
//
// A name starts a selector foo{…}, a function call f(…), an aggregation
// sum by (x) (…) / sum(…) without (x), or a bare Inf/NaN; the builder
// decides which from the parts present.
//
// Its place comes from Tokens, the raw tokens it spans, which participle
// hands over as one slice: Pos and EndPos fields would cost two
// allocations per operand (each Position is boxed on its way in).
type gOperand struct {
	Tokens   []lexer.Token // see start and end
	Signs    []string      `parser:"@Sign*"`
	Head     gHead         `parser:"( @@"`
	LParen   struct{}      `parser:"  ( '('"` // not captured: see call
	Args     []*gExpr      `parser:"    ( @@ ( ',' @@ )* )? ')'"`
	Post     *gGrouping    `parser:"    @@? )?"`
	NameSel  gMatchers     `parser:"  @@?"`
	Number   struct{}      `parser:"| (Number | Duration)"` // not captured: see lead
	Paren    *gExpr        `parser:"| '(' @@ ')'"`
	Str      struct{}      `parser:"| String"` // not captured: see lead
	Sel      gMatchers     `parser:"| @@ )"`
	Suffixes []*gSuffix    `parser:"@@*"`
}

// start is the offset of the operand's first token (participle's Pos: the
// span may begin with elided whitespace and comments).
func (g *gOperand) start() int {
	for i := range g.Tokens {
		if t := &g.Tokens[i]; t.Type != tokWhitespace && t.Type != tokComment {
			return t.Pos.Offset
		}
	}
	return 0
}

// end is the offset just past the operand's last token (participle's
// EndPos: the span ends at that token).
func (g *gOperand) end() int {
	if n := len(g.Tokens); n > 0 {
		t := &g.Tokens[n-1]
		return t.Pos.Offset + len(t.Value)
	}
	return 0
}

// call reports a function call or aggregation: a "(" right after the head.
// The grammar matches that "(" without capturing it, as a capture costs
// participle a deferred assignment and its allocations.
func (g *gOperand) call() bool {
	if g.Head.Name == "" {
		return false
	}
	for i := range g.Tokens {
		if t := &g.Tokens[i]; t.Pos.Offset >= g.Head.End && t.Type != tokWhitespace && t.Type != tokComment {
			return t.Type == tokPunct && t.Value == "("
		}
	}
	return false
}

// lead is the operand's first token after its signs: the number or the
// string of a literal operand, which the grammar matches without
// capturing (the builder reads them from here).
func (g *gOperand) lead() *lexer.Token {
	signs := len(g.Signs)
	for i := range g.Tokens {
		t := &g.Tokens[i]
		if t.Type == tokWhitespace || t.Type == tokComment {
			continue
		}
		if signs > 0 {
			signs--
			continue
		}
		return t
	}
	return &lexer.Token{}
}
