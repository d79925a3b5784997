package parser

import "github.com/alecthomas/participle/v2/lexer"

// The participle grammar. It reads a binary expression as a flat sequence
// "operand (operator operand)*" and leaves precedence to the builder, which
// climbs it (build.go, expr): one grammar level instead of six keeps
// participle's reflective descent shallow, which is most of its cost.
// Operands carry their own unary signs.
//
// Where a choice between literal tokens is by token type (@Op, @Ident)
// rather than by spelling ('+' | '-' | …), the builder checks the spelling:
// participle tries every alternative of a choice in a fresh branch, and a
// sixteen-way choice after every operand was a third of the parse time.
//
// These structs are the concrete syntax tree that participle fills in; the
// builder turns them into the typed AST and type-checks it.

type gExpr struct {
	First *gOperand `parser:"@@"`
	Rest  []*gBinOp `parser:"@@*"`
}

// gBinOp is an operator, its modifiers (bool, on/ignoring(…),
// group_left/group_right(…)), and the operand after it. The modifiers are
// inline rather than a struct of their own: participle allocates an
// optional struct before it knows whether it matches.
type gBinOp struct {
	Pos      lexer.Position
	Op       string     `parser:"@(Op | Sign | Ident)"`
	Bool     bool       `parser:"@'bool'?"`
	Matching *gMatching `parser:"@@?"`
	Right    *gOperand  `parser:"@@"`
}

// gOperand is one operand: any number of signs, a primary expression,
// then any of [range], [range:step], offset and @ (the builder checks their
// order). Everything optional is inline rather than a struct of its own:
// participle allocates a struct (and boxes its position) before it knows
// whether the struct matches, and operands are most of a query. Suffixes
// are collected by kind; their positions give back their order.
//
// A name starts a selector foo{…}, a function call f(…), an aggregation
// sum by (x) (…) / sum(…) without (x), or a bare Inf/NaN; the builder
// decides which from the parts present.
type gOperand struct {
	Pos          lexer.Position
	EndPos       lexer.Position
	Signs        []string    `parser:"@Sign*"`
	Name         *string     `parser:"( @Ident"`
	PreKind      string      `parser:"  ( @('by' | 'without')"`
	PreLabels    *gLabelList `parser:"    @@ )?"`
	Call         bool        `parser:"  ( @'('"`
	Args         []*gExpr    `parser:"    ( @@ ( ',' @@ )* )? ')'"`
	PostKind     string      `parser:"    ( @('by' | 'without')"`
	PostLabels   *gLabelList `parser:"      @@ )? )?"`
	NameBraces   bool        `parser:"  ( @'{'"`
	NameMatchers []*gMatcher `parser:"    ( @@ ( ',' @@ )* ','? )? '}' )?"`
	Number       *string     `parser:"| @(Number | Duration)"`
	Paren        *gExpr      `parser:"| '(' @@ ')'"`
	Str          *string     `parser:"| @String"`
	Braces       bool        `parser:"| @'{'"`
	Matchers     []*gMatcher `parser:"  ( @@ ( ',' @@ )* ','? )? '}' )"`
	Ranges       []*gRange   `parser:"( '[' @@"`
	Offsets      []*gOffset  `parser:"| 'offset' @@"`
	Ats          []*gAt      `parser:"| '@' @@ )*"`
}

type gMatching struct {
	Kind   string      `parser:"@('on' | 'ignoring')"`
	Labels *gLabelList `parser:"@@"`
	Group  string      `parser:"( @('group_left' | 'group_right')"`
	Incl   *gLabelList `parser:"@@? )?"`
}

type gLabelList struct {
	Pos    lexer.Position
	Labels []string `parser:"'(' ( @(Ident | String) ( ',' @(Ident | String) )* ','? )? ')'"`
}

// gRange is what follows "[": a range, or range:step, and the "]".
type gRange struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Range  string  `parser:"@(Duration | Number)"`
	Colon  bool    `parser:"( @':'"`
	Step   *string `parser:"@(Duration | Number)? )? ']'"`
}

type gOffset struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Sign   string `parser:"@Sign?"`
	Dur    string `parser:"@(Duration | Number)"`
}

type gAt struct {
	Pos    lexer.Position
	EndPos lexer.Position
	Sign   string `parser:"( @Sign?"`
	Num    string `parser:"@(Number | Duration)"`
	Fn     string `parser:"| @('start' | 'end') '(' ')' )"`
}

// gMatcher is name op "value", or a bare "quoted metric name".
type gMatcher struct {
	Pos   lexer.Position
	Name  string  `parser:"@(Ident | String)"`
	Op    string  `parser:"( @Op"`
	Value *string `parser:"@String )?"`
}
