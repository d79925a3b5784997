package parser

import "github.com/alecthomas/participle/v2/lexer"

// promqlLexer is the specification of PromQL's tokens; the parser runs
// scanner.go, a hand-written implementation of exactly these rules. Rules
// are tried in order and the first match wins, which is why the order
// matters:
//   - Duration before Number, so 5m is one token and not 5 followed by m;
//   - two-character operators (=~ != == <= >= and the histogram trims </ >/)
//     before their one-character prefixes;
//   - an Ident may not start with ":" followed by a digit, so [5m:1m] lexes as
//     5m, ":", 1m;
//   - an Ident may hold letters of any script, and dots after its first
//     character (http.requests, 温度): the builder refuses them unless
//     Options.UnquotedUTF8Names allows them, as Prometheus's lexer does;
//   - keywords (by, on, offset, …) are plain Idents: the grammar matches them
//     by value, in any case (BY is by), so a label may still be named "on";
//   - a number may separate its digits with single underscores (1_000,
//     0x_ff), as Go and Prometheus allow;
//   - + and - are a type of their own, Sign, because they are both unary and
//     binary operators: the grammar asks for @Sign* before every operand,
//     which is cheaper than a choice between two spellings.
var promqlLexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Comment", Pattern: `#[^\n]*`},
	{Name: "Whitespace", Pattern: `[ \t\r\n]+`},
	{Name: "Duration", Pattern: `(\d+(ms|[smhdwy]))+\b`},
	{Name: "Number", Pattern: `0[xX]_?[0-9a-fA-F]+(_[0-9a-fA-F]+)*|(\d+(_\d+)*\.?(\d+(_\d+)*)?|\.\d+(_\d+)*)([eE][-+]?\d+(_\d+)*)?`},
	{Name: "String", Pattern: `"(\\.|[^"\\\n])*"|'(\\.|[^'\\\n])*'|` + "`[^`]*`"},
	{Name: "Ident", Pattern: `[a-zA-Z_\p{L}][a-zA-Z0-9_:.\p{L}]*|:[a-zA-Z_\p{L}][a-zA-Z0-9_:.\p{L}]*`},
	{Name: "Sign", Pattern: `[-+]`},
	{Name: "Op", Pattern: `=~|!~|!=|==|<=|>=|</|>/|[*/%^<>=@]`},
	{Name: "Punct", Pattern: `[(){}\[\],:]`},
})
