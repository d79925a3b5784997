package parser

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/alecthomas/participle/v2"
)

// ParseErr is a syntax or type error with the place it was found. Its text
// is Prometheus's: "1:14: parse error: expected type range vector in call
// to function \"rate\", got instant vector" (line and column are 1-based,
// the column counts bytes).
type ParseErr struct {
	PositionRange PosRange
	Err           error
	Query         string
}

func (e *ParseErr) Error() string {
	if e.Query == "" {
		return "unknown position: parse error: " + e.Err.Error()
	}
	line, col := e.PositionRange.LineCol(e.Query)
	return fmt.Sprintf("%d:%d: parse error: %v", line, col, e.Err)
}

func (e *ParseErr) Unwrap() error { return e.Err }

// ErrParse is wrapped by every error ParseExpr returns, so callers (an HTTP
// API answering "bad_data") can branch on errors.Is(err, ErrParse).
var ErrParse = errors.New("parse error")

// LineCol is where the range starts in the query q: a 1-based line and a
// 1-based column counted in bytes, as Prometheus reports positions.
func (p PosRange) LineCol(q string) (line, col int) {
	off := int(p.Start)
	if off > len(q) {
		off = len(q)
	}
	line = 1 + strings.Count(q[:off], "\n")
	col = off - strings.LastIndexByte(q[:off], '\n')
	return line, col
}

// The participle parser is built once: building it reflects over every
// grammar struct, which costs far more than parsing a query.
var (
	grammarOnce sync.Once
	grammar     *participle.Parser[gExpr]
	grammarErr  error
)

func getGrammar() (*participle.Parser[gExpr], error) {
	grammarOnce.Do(func() {
		grammar, grammarErr = participle.Build[gExpr](
			participle.Lexer(fastLexer),
			participle.Elide("Comment", "Whitespace"),
		)
	})
	return grammar, grammarErr
}

// ParseExpr parses and type-checks one PromQL expression with the default
// Options: Prometheus 3's language without its experimental features.
func ParseExpr(input string) (Expr, error) { return Options{}.ParseExpr(input) }

// ParseExpr parses and type-checks one PromQL expression with the features
// o enables.
func (o Options) ParseExpr(input string) (expr Expr, err error) {
	g, err := getGrammar()
	if err != nil {
		return nil, fmt.Errorf("promql grammar: %w", err)
	}
	if onlyComments(input) {
		return nil, &ParseErr{Err: errors.New("no expression found in input"), Query: input}
	}
	if err := checkNesting(input); err != nil {
		return nil, &ParseErr{Err: err, Query: input}
	}
	tree, err := g.ParseString("", input)
	if err != nil {
		var pe participle.Error
		if errors.As(err, &pe) {
			pos, msg := syntaxError(pe, input)
			return nil, &ParseErr{PositionRange: PosRange{pos, pos}, Err: msg, Query: input}
		}
		return nil, &ParseErr{Err: err, Query: input}
	}
	b := &builder{input: input, opts: o}
	defer func() {
		if r := recover(); r != nil {
			be, ok := r.(buildError)
			if !ok {
				panic(r)
			}
			expr, err = nil, &ParseErr{PositionRange: be.pos, Err: be.err, Query: input}
		}
	}()
	expr = b.expr(tree)
	depth := 0
	Inspect(expr, func(_ Expr, path []Expr) bool {
		depth = max(depth, len(path))
		return depth <= MaxDepth
	})
	if depth > MaxDepth {
		return nil, &ParseErr{Err: errNesting, Query: input}
	}
	return expr, nil
}

// MaxDepth is how deep an expression may nest: brackets in brackets,
// unary signs on signs, operators on operators. Parsing and evaluating
// recurse once a level, and a query nested 100,000 deep took seconds to
// parse, before any deadline could stop it; no real query comes near.
const MaxDepth = 10_000

var errNesting = fmt.Errorf("expression nests deeper than %d levels", MaxDepth)

// checkNesting refuses an input whose brackets or runs of unary signs nest
// deeper than MaxDepth, before the parser recurses into them. It reads
// tokens, so brackets inside strings and comments do not count.
func checkNesting(s string) error {
	depth, signs := 0, 0
	for len(s) > 0 {
		rule, n := match(s)
		if n == 0 {
			return nil // the parser reports it
		}
		if rule == ruleComment || rule == ruleWhitespace {
			s = s[n:]
			continue
		}
		tok := s[:n]
		switch tok {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		}
		if tok == "+" || tok == "-" {
			signs++
		} else {
			signs = 0
		}
		if depth > MaxDepth || signs > MaxDepth {
			return errNesting
		}
		s = s[n:]
	}
	return nil
}

// MustParseExpr is ParseExpr for queries written in source code.
func MustParseExpr(input string) Expr {
	e, err := ParseExpr(input)
	if err != nil {
		panic(err)
	}
	return e
}

// onlyComments reports an input with no token but whitespace and comments.
func onlyComments(s string) bool {
	for len(s) > 0 {
		rule, n := match(s)
		if n == 0 || (rule != ruleComment && rule != ruleWhitespace) {
			return false
		}
		s = s[n:]
	}
	return true
}

// Is makes errors.Is(err, ErrParse) true for every ParseErr.
func (e *ParseErr) Is(target error) bool { return target == ErrParse }
