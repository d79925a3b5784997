package index

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// patternKind names the shape of a regular expression that the index can
// answer without running the regexp engine on every label value.
type patternKind uint8

const (
	patGeneral  patternKind = iota // anything else: run the regexp (on a narrowed range when it has a literal prefix)
	patAny                         // .*  matches every value, "" included
	patNonEmpty                    // .+  matches every value but ""
	patSet                         // a|b|c  a finite set of literals (one literal for = and !=)
	patPrefix                      // foo.*  every value that starts with a literal
)

// pattern is what a value is tested against: a fully anchored regular
// expression, or the literal of = and != (a set of one). The fast kinds are
// recognised from the text of the expression, conservatively: an expression
// that merely might be a literal alternation is left to the regexp engine,
// which is always right, only slower.
type pattern struct {
	kind   patternKind
	set    []string            // patSet: sorted, unique
	setMap map[string]struct{} // patSet with many members, for match
	prefix string              // patPrefix: the literal; patGeneral: a literal every match starts with ("" if none)
	re     *regexp.Regexp      // patGeneral only: ^(?s:expr)$
}

// bigSet is the set size from which match uses a map instead of a scan.
const bigSet = 8

func literalPattern(v string) *pattern { return &pattern{kind: patSet, set: []string{v}} }

// compilePattern compiles expr with Prometheus semantics: anchored at both
// ends, and '.' matches newlines too, so "foo.*" means "starts with foo".
func compilePattern(expr string) (*pattern, error) {
	// Parse expr on its own first: a malformed expression must be an error
	// even when it looks like a fast path, and "a)|(b" must not sneak past
	// the anchors by closing our group.
	sre, err := syntax.Parse(expr, syntax.Perl|syntax.DotNL)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile("^(?s:" + expr + ")$")
	if err != nil {
		return nil, err
	}
	switch expr {
	case ".*":
		return &pattern{kind: patAny}, nil
	case ".+":
		return &pattern{kind: patNonEmpty}, nil
	}
	if alts, ok := splitLiterals(expr); ok {
		slices.Sort(alts)
		alts = slices.Compact(alts)
		p := &pattern{kind: patSet, set: alts}
		if len(alts) > bigSet {
			p.setMap = make(map[string]struct{}, len(alts))
			for _, a := range alts {
				p.setMap[a] = struct{}{}
			}
		}
		return p, nil
	}
	if lit, ok := strings.CutSuffix(expr, ".*"); ok {
		if alts, ok := splitLiterals(lit); ok && len(alts) == 1 {
			return &pattern{kind: patPrefix, prefix: alts[0]}, nil
		}
	}
	return &pattern{kind: patGeneral, re: re, prefix: literalPrefix(sre.Simplify())}, nil
}

// splitLiterals reports whether expr is literals joined by '|' (each possibly
// empty, punctuation escaped with '\') and returns them unescaped. Any other
// regexp syntax, even harmless, makes it answer false.
func splitLiterals(expr string) ([]string, bool) {
	var alts []string
	var cur []byte
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '\\':
			// In Go's syntax a backslash before ASCII punctuation is that
			// character; before a letter or digit it is a class or escape.
			if i+1 >= len(expr) || !isASCIIPunct(expr[i+1]) {
				return nil, false
			}
			i++
			cur = append(cur, expr[i])
		case c == '|':
			alts = append(alts, string(cur))
			cur = cur[:0]
		case strings.IndexByte(`.^$*+?()[]{}`, c) >= 0:
			return nil, false
		default:
			cur = append(cur, c)
		}
	}
	return append(alts, string(cur)), true
}

func isASCIIPunct(c byte) bool {
	return c < 0x80 && !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_')
}

// literalPrefix returns a string every match of re starts with: the leading
// case-sensitive literal, looked for through concatenations and groups.
func literalPrefix(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return ""
		}
		return string(re.Rune)
	case syntax.OpConcat, syntax.OpCapture:
		if len(re.Sub) > 0 {
			return literalPrefix(re.Sub[0])
		}
	}
	return ""
}

// match reports whether v matches the pattern as a whole.
func (p *pattern) match(v string) bool {
	switch p.kind {
	case patAny:
		return true
	case patNonEmpty:
		return v != ""
	case patSet:
		if p.setMap != nil {
			_, ok := p.setMap[v]
			return ok
		}
		return slices.Contains(p.set, v)
	case patPrefix:
		return strings.HasPrefix(v, p.prefix)
	}
	return strings.HasPrefix(v, p.prefix) && p.re.MatchString(v)
}
