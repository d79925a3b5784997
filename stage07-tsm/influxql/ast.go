// Package influxql parses and runs a small subset of InfluxQL against the
// TSM engine:
//
//	SELECT <field>[, …] | * | <fn>(<field>)[, …] FROM <measurement>
//	  [WHERE <tag> = '<v>' | <tag> != '<v>' [AND|OR …] (parentheses allowed)
//	         [AND time >|>=|<|<=|= <time>]]
//	  [GROUP BY time(<duration>)]
//
// with fn one of mean, min, max, sum, count; <time> is now() [± duration],
// an RFC 3339 string ('2024-01-01T00:00:00Z') or integer nanoseconds;
// durations are an integer and a unit ns, u/µ, ms, s, m, h, d, w.
// Keywords are case-insensitive. Time conditions must be ANDed with the rest
// (a time condition under OR has no meaning for a scan and is rejected, as
// InfluxDB does).
//
// The grammar is declared on the AST types below and parsed by
// github.com/alecthomas/participle/v2. Errors, from the parser or from the
// checks after it, are *Error values carrying the 1-based column.
package influxql

import "github.com/alecthomas/participle/v2/lexer"

// Query is one SELECT statement.
type Query struct {
	Pos     lexer.Position
	Fields  []*Field   `parser:"\"SELECT\" @@ ( \",\" @@ )*"`
	From    string     `parser:"\"FROM\" @(Ident | QuotedIdent)"`
	Where   *Or        `parser:"( \"WHERE\" @@ )?"`
	GroupBy *GroupTime `parser:"( \"GROUP\" \"BY\" @@ )?"`
	End     string     `parser:"@EOF"`
}

// Field is one projection: *, a field name, or an aggregate call fn(field)
// (a name followed by parentheses; Call() tells them apart).
type Field struct {
	Pos  lexer.Position
	Star bool    `parser:"(  @\"*\""`
	Name string  `parser:" | @(Ident | QuotedIdent)"`
	Arg  *string `parser:"    ( \"(\" @(Ident | QuotedIdent) \")\" )? )"`
}

// Call is an aggregate function applied to a field.
type Call struct {
	Func, Field string
}

// Call returns the aggregate, nil for a plain field or *.
func (f *Field) Call() *Call {
	if f.Arg == nil {
		return nil
	}
	return &Call{Func: f.Name, Field: *f.Arg}
}

// Or is a disjunction of conjunctions.
type Or struct {
	Pos lexer.Position
	And []*And `parser:"@@ ( \"OR\" @@ )*"`
}

// And is a conjunction of terms.
type And struct {
	Terms []*Term `parser:"@@ ( \"AND\" @@ )*"`
}

// Term is a parenthesised condition, a time comparison or a tag comparison.
type Term struct {
	Pos   lexer.Position
	Paren *Or      `parser:"(  \"(\" @@ \")\""`
	Time  *TimeCmp `parser:" | \"TIME\" @@"`
	Tag   *TagCmp  `parser:" | @@ )"`
}

// TagCmp is tag = 'value' or tag != 'value'. The grammar takes any
// comparison and any operand so that check can say what is wrong with
// "usage > 5" or "host = server1" at the right column.
type TagCmp struct {
	Pos   lexer.Position
	Key   string    `parser:"@(Ident | QuotedIdent)"`
	Op    string    `parser:"@(\"=\" | \"!=\" | \"<>\" | \">=\" | \"<=\" | \">\" | \"<\")"`
	Value *TagValue `parser:"@@"`
}

// TagValue is the right-hand side of a tag comparison.
type TagValue struct {
	Pos  lexer.Position
	Str  *string `parser:"(  @String"`
	Bare *string `parser:" | @(Int | Ident | Duration | QuotedIdent) )"`
}

// TimeCmp is the operator and operand of a time condition.
type TimeCmp struct {
	Pos  lexer.Position
	Op   string    `parser:"@(\">=\" | \"<=\" | \">\" | \"<\" | \"=\")"`
	Expr *TimeExpr `parser:"@@"`
}

// TimeExpr is now() [± duration], an RFC 3339 string or nanoseconds.
type TimeExpr struct {
	Pos lexer.Position
	Now *Now    `parser:"(  @@"`
	Str *string `parser:" | @String"`
	Int *string `parser:" | @Int )"`
}

// Now is now() with an optional offset.
type Now struct {
	Call   bool   `parser:"@\"NOW\" \"(\" \")\""`
	Sign   string `parser:"( @(\"-\" | \"+\")"`
	Offset string `parser:"  @Duration )?"`
}

// GroupTime is GROUP BY time(<duration>).
type GroupTime struct {
	Pos      lexer.Position
	Duration string `parser:"\"TIME\" \"(\" @Duration \")\""`
}
