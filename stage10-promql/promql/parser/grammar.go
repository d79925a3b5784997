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
	Matching gMatching   `parser:"@@?"`
	Right    gOperand    `parser:"@@"`
}

// gOperand is one operand: any number of signs, a primary expression,
// then any of [range], [range:step], offset and @ in source order (the
// builder checks the order). Everything optional is inline rather than a
// struct of its own, and fields are values rather than pointers:
// participle allocates a struct before it knows whether the struct
// matches, and another to point at, and operands are most of a query.
//
// A name starts a selector foo{…}, a function call f(…), an aggregation
// sum by (x) (…) / sum(…) without (x), or a bare Inf/NaN; the builder
// decides which from the parts present.
type gOperand struct {
	Pos      lexer.Position
	EndPos   lexer.Position
	Signs    []string   `parser:"@Sign*"`
	Head     gHead      `parser:"( @@"`
	Call     bool       `parser:"  ( @'('"`
	Args     []*gExpr   `parser:"    ( @@ ( ',' @@ )* )? ')'"`
	Post     gGrouping  `parser:"    @@? )?"`
	NameSel  gMatchers  `parser:"  @@?"`
	Number   string     `parser:"| @(Number | Duration)"`
	Paren    *gExpr     `parser:"| '(' @@ ')'"`
	Str      string     `parser:"| @String"`
	Sel      gMatchers  `parser:"| @@ )"`
	Suffixes []*gSuffix `parser:"@@*"`
}
