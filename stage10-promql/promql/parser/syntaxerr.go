package parser

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/alecthomas/participle/v2"
)

// syntaxError turns a participle error into the message a PromQL user
// reads: Prometheus's wording ("unclosed left parenthesis", "unexpected end
// of input inside braces", `unexpected identifier "bar"`) instead of
// participle's, which names the grammar's own nodes (`expected ")"
// gGrouping?`, a whole production for "expected an expression").
func syntaxError(pe participle.Error, input string) (Pos, error) {
	off := pe.Position().Offset
	var ute *participle.UnexpectedTokenError
	if !errors.As(pe, &ute) {
		return Pos(off), errors.New(pe.Message())
	}
	tok := ute.Unexpected
	if tok.EOF() {
		return Pos(off), errors.New(endOfInput(input[:min(off, len(input))]))
	}
	msg := "unexpected " + describeToken(tok.Value)
	if exp := expectedTokens(ute.Expect); exp != "" {
		msg += ", expected " + exp
	}
	return Pos(off), errors.New(msg)
}

// endOfInput names what the input left open when it ended, as Prometheus
// does: the innermost bracket still open, or nothing.
func endOfInput(s string) string {
	var open []byte
	for len(s) > 0 {
		rule, n := match(s)
		if n == 0 {
			break
		}
		if rule == rulePunct {
			switch c := s[0]; c {
			case '(', '{', '[':
				open = append(open, c)
			case ')', '}', ']':
				if len(open) > 0 {
					open = open[:len(open)-1]
				}
			}
		}
		s = s[n:]
	}
	if len(open) == 0 {
		return "unexpected end of input"
	}
	switch open[len(open)-1] {
	case '(':
		return "unclosed left parenthesis"
	case '{':
		return "unexpected end of input inside braces"
	default:
		return "unclosed left bracket"
	}
}

// describeToken is a token as an error message shows it: its kind, then
// its text.
func describeToken(text string) string {
	rule, _ := match(text)
	switch rule {
	case ruleIdent:
		return fmt.Sprintf("identifier %q", text)
	case ruleString:
		return "string " + text
	case ruleNumber:
		return fmt.Sprintf("number %q", text)
	case ruleDuration:
		return fmt.Sprintf("duration %q", text)
	}
	return fmt.Sprintf("%q", text)
}

var quotedToken = regexp.MustCompile(`"[^"]+"`)

// expectedTokens keeps the literal tokens of participle's expectation
// ("}" from `"}"`, ")" from `")" gGrouping?`) and drops it when it is a
// production (the operand grammar, "expected an expression"): a list of
// the grammar's node names helps nobody.
func expectedTokens(expect string) string {
	if expect == "" || strings.Contains(expect, "|") {
		return ""
	}
	toks := quotedToken.FindAllString(expect, -1)
	if len(toks) == 0 {
		return ""
	}
	return strings.Join(toks, " or ")
}
