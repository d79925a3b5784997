package parser

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// scanner is a hand-written participle lexer.Definition that produces
// exactly the tokens promqlLexer's regular expressions define (the same
// rules, tried in the same order, with the same leftmost-first choice), but
// without running a regexp per token: lexing with the regexps is a quarter
// of participle's parse time. promqlLexer stays the specification;
// FuzzScannerAgrees checks the two against each other.
type scanner struct {
	symbols map[string]lexer.TokenType
	typ     [numRules]lexer.TokenType
}

// The rules, in promqlLexer's order.
const (
	ruleComment = iota
	ruleWhitespace
	ruleDuration
	ruleNumber
	ruleString
	ruleIdent
	ruleSign
	ruleOp
	rulePunct
	numRules
)

var ruleNames = [numRules]string{"Comment", "Whitespace", "Duration", "Number", "String", "Ident", "Sign", "Op", "Punct"}

var fastLexer = newScanner()

func newScanner() *scanner {
	s := &scanner{symbols: promqlLexer.Symbols()}
	for i, n := range ruleNames {
		s.typ[i] = s.symbols[n]
	}
	return s
}

func (s *scanner) Symbols() map[string]lexer.TokenType { return s.symbols }

func (s *scanner) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return s.LexString(filename, string(b))
}

func (s *scanner) LexString(filename, input string) (lexer.Lexer, error) {
	return &scan{def: s, in: input, pos: lexer.Position{Filename: filename, Line: 1, Column: 1}}, nil
}

type scan struct {
	def *scanner
	in  string
	pos lexer.Position
}

// Next returns the next token, whitespace and comments included (the
// parser elides them, as it does for the regexp lexer).
func (l *scan) Next() (lexer.Token, error) {
	off := l.pos.Offset
	if off >= len(l.in) {
		return lexer.EOFToken(l.pos), nil
	}
	rule, n := match(l.in[off:])
	if n == 0 {
		rest := l.in[off:]
		if len(rest) > 10 {
			rest = rest[:10]
		}
		return lexer.Token{}, &lexer.Error{Msg: fmt.Sprintf("invalid input text %q", rest), Pos: l.pos}
	}
	tok := lexer.Token{Type: l.def.typ[rule], Value: l.in[off : off+n], Pos: l.pos}
	l.advance(tok.Value)
	return tok, nil
}

// advance moves past a token; Position.Advance keeps line and column the
// way participle's own lexers do (columns count runes).
func (l *scan) advance(v string) { l.pos.Advance(v) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isWord(c byte) bool  { return isAlpha(c) || isDigit(c) }
func isHex(c byte) bool   { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// match returns the first rule that matches a prefix of s and the length
// of that prefix (0: none).
func match(s string) (rule, n int) {
	c := s[0]
	switch {
	case c == '#':
		n = strings.IndexByte(s, '\n')
		if n < 0 {
			n = len(s)
		}
		return ruleComment, n
	case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		for n < len(s) && (s[n] == ' ' || s[n] == '\t' || s[n] == '\r' || s[n] == '\n') {
			n++
		}
		return ruleWhitespace, n
	}
	if isDigit(c) {
		if n, ok := durationAt(s, 0); ok {
			return ruleDuration, n
		}
	}
	if n := numberAt(s); n > 0 {
		return ruleNumber, n
	}
	if c == '"' || c == '\'' || c == '`' {
		if n := stringAt(s); n > 0 {
			return ruleString, n
		}
	}
	if n := identAt(s); n > 0 {
		return ruleIdent, n
	}
	if len(s) > 1 {
		switch s[:2] {
		case "=~", "!~", "!=", "==", "<=", ">=", "</", ">/":
			return ruleOp, 2
		}
	}
	if c == '-' || c == '+' {
		return ruleSign, 1
	}
	if strings.IndexByte("*/%^<>=@", c) >= 0 {
		return ruleOp, 1
	}
	if strings.IndexByte("(){}[],:", c) >= 0 {
		return rulePunct, 1
	}
	return 0, 0
}

// identAt matches promqlLexer's Ident rule:
// [a-zA-Z_\p{L}][a-zA-Z0-9_:.\p{L}]*|:[a-zA-Z_\p{L}][a-zA-Z0-9_:.\p{L}]*.
func identAt(s string) int {
	n := 0
	if s[0] == ':' {
		n = 1
	}
	if w := letterAt(s, n); w > 0 {
		n += w
	} else {
		return 0
	}
	for n < len(s) {
		if c := s[n]; isDigit(c) || c == ':' || c == '.' {
			n++
		} else if w := letterAt(s, n); w > 0 {
			n += w
		} else {
			break
		}
	}
	return n
}

// letterAt is the length of the letter (ASCII, _ or any Unicode letter)
// at s[i:], 0 if there is none.
func letterAt(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		if isAlpha(c) {
			return 1
		}
		return 0
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	if unicode.IsLetter(r) {
		return w
	}
	return 0
}

// durationAt matches (\d+(ms|[smhdwy]))+\b at s[i:] the way a backtracking
// (leftmost-first) engine does: as many groups as possible, "ms" before
// "m", giving groups back until a word boundary follows.
func durationAt(s string, i int) (int, bool) {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j == i || j == len(s) {
		return 0, false
	}
	var units []int // candidate unit lengths, in preference order
	if strings.HasPrefix(s[j:], "ms") {
		units = append(units, 2)
	}
	if strings.IndexByte("smhdwy", s[j]) >= 0 {
		units = append(units, 1)
	}
	for _, u := range units {
		end := j + u
		if n, ok := durationAt(s, end); ok {
			return n, true
		}
		if end == len(s) || !isWord(s[end]) {
			return end, true
		}
	}
	return 0, false
}

// numberAt matches promqlLexer's Number rule:
// 0[xX]_?[0-9a-fA-F]+(_[0-9a-fA-F]+)* |
// (\d+(_\d+)*\.?(\d+(_\d+)*)?|\.\d+(_\d+)*)([eE][-+]?\d+(_\d+)*)?
func numberAt(s string) int {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		k := 2
		if s[k] == '_' {
			k++
		}
		if n := runAt(s, k, isHex); n > k {
			return n
		}
	}
	n := 0
	switch {
	case isDigit(s[0]):
		n = runAt(s, 0, isDigit)
		if n < len(s) && s[n] == '.' {
			n = max(n+1, runAt(s, n+1, isDigit))
		}
	case s[0] == '.' && len(s) > 1 && isDigit(s[1]):
		n = runAt(s, 1, isDigit)
	default:
		return 0
	}
	if n < len(s) && (s[n] == 'e' || s[n] == 'E') {
		k := n + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if e := runAt(s, k, isDigit); e > k {
			n = e
		}
	}
	return n
}

// runAt matches d+(_d+)* at s[i:] for the digits d that ok accepts and
// returns where the match ends (i: no match). An underscore counts only
// between two digits.
func runAt(s string, i int, ok func(byte) bool) int {
	n := i
	for n < len(s) && ok(s[n]) {
		n++
	}
	if n == i {
		return i
	}
	for n+1 < len(s) && s[n] == '_' && ok(s[n+1]) {
		n++
		for n < len(s) && ok(s[n]) {
			n++
		}
	}
	return n
}

// stringAt matches "…" and '…' (backslash escapes anything but a newline,
// no raw newline inside) or `…` (anything but a backtick).
func stringAt(s string) int {
	q := s[0]
	for n := 1; n < len(s); n++ {
		c := s[n]
		switch {
		case c == q:
			return n + 1
		case q == '`':
		case c == '\n':
			return 0
		case c == '\\':
			if n+1 >= len(s) || s[n+1] == '\n' {
				return 0
			}
			n++
		}
	}
	return 0
}
