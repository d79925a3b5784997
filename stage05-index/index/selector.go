package index

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tsdb-course/stage01-memstore/model"
)

// ParseError is a syntax error in a selector or query, with the byte offset
// where it was found.
type ParseError struct {
	Input string
	Pos   int // byte offset into Input
	Msg   string
}

func (e *ParseError) Error() string { return fmt.Sprintf("col %d: %s", e.Pos+1, e.Msg) }

// Caret returns the input and, under it, a caret at the error's position:
// the two lines a REPL shows.
func (e *ParseError) Caret() string {
	return e.Input + "\n" + strings.Repeat(" ", utf8.RuneCountInString(e.Input[:min(e.Pos, len(e.Input))])) + "^"
}

// ParseSelector parses a Prometheus series selector into matchers:
//
//	http_requests_total
//	http_requests_total{method="GET",code=~"5.."}
//	{__name__="http_requests_total", method!="GET"}
//	{"cpu.usage", host='a'}            (a quoted metric name, as in Prometheus 3)
//
// Values are double-, single- or back-quoted strings with Go escapes. Names
// are [A-Za-z_:][A-Za-z0-9_:.]* (the '.' is for the course's "cpu.usage"
// metric names) or quoted. As in PromQL, a selector must contain at least one
// matcher that does not match the empty string, so that it cannot select
// every series by accident.
func ParseSelector(s string) ([]*Matcher, error) {
	p := &parser{in: s}
	ms, err := p.selector()
	if err != nil {
		return nil, err
	}
	if !hasNonEmptyMatcher(ms) {
		return nil, p.errAt(0, "selector must contain at least one matcher that does not match the empty string, such as a metric name")
	}
	return ms, nil
}

// ParseQuery parses what the stage's REPL reads: either a selector as in
// ParseSelector, or the guide's form
//
//	region=us-east AND env=production AND service=~"api|web"
//
// terms joined by AND (any case), each a label name, an operator and a value,
// quoted or bare (a bare value runs to the next space). Unlike ParseSelector
// it accepts queries that only exclude (env!=production): the index answers
// them from the set of all series.
func ParseQuery(s string) ([]*Matcher, error) {
	p := &parser{in: s}
	p.space()
	start := p.pos
	if p.ident(true) != "" {
		p.space()
		if p.eof() || p.peek() == '{' {
			p.pos = 0
			return p.selector()
		}
	}
	p.pos = start
	if p.peek() == '{' {
		return p.selector()
	}
	return p.andQuery()
}

func hasNonEmptyMatcher(ms []*Matcher) bool {
	for _, m := range ms {
		if !m.Matches("") {
			return true
		}
	}
	return false
}

type parser struct {
	in  string
	pos int
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	return &ParseError{Input: p.in, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// found describes what is at the current position, for error messages.
func (p *parser) found() string {
	if p.eof() {
		return "end of input"
	}
	r, _ := utf8.DecodeRuneInString(p.in[p.pos:])
	return strconv.QuoteRune(r)
}

func (p *parser) eof() bool { return p.pos >= len(p.in) }

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.in[p.pos]
}

func (p *parser) space() {
	for !p.eof() && strings.IndexByte(" \t\r\n", p.in[p.pos]) >= 0 {
		p.pos++
	}
}

// Metric names may contain ':' (recording rules), label names may not.
func isIdentStart(c byte, metric bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || metric && c == ':'
}

func isIdentChar(c byte, metric bool) bool {
	return isIdentStart(c, metric) || c == '.' || '0' <= c && c <= '9'
}

// isLabelIdent reports whether a label name can be written unquoted.
func isLabelIdent(s string) bool {
	if s == "" || !isIdentStart(s[0], false) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i], false) {
			return false
		}
	}
	return true
}

// ident consumes a name, or returns "" and consumes nothing.
func (p *parser) ident(metric bool) string {
	start := p.pos
	if p.eof() || !isIdentStart(p.in[p.pos], metric) {
		return ""
	}
	for !p.eof() && isIdentChar(p.in[p.pos], metric) {
		p.pos++
	}
	return p.in[start:p.pos]
}

// str consumes a quoted string and returns its value.
func (p *parser) str() (string, error) {
	start := p.pos
	q := p.peek()
	p.pos++
	if q == '`' {
		end := strings.IndexByte(p.in[p.pos:], '`')
		if end < 0 {
			return "", p.errAt(start, "unterminated raw string")
		}
		v := p.in[p.pos : p.pos+end]
		p.pos += end + 1
		return v, nil
	}
	var b strings.Builder
	for {
		if p.eof() || p.in[p.pos] == '\n' {
			return "", p.errAt(start, "unterminated string")
		}
		if p.in[p.pos] == q {
			p.pos++
			return b.String(), nil
		}
		at := p.pos
		r, multibyte, tail, err := strconv.UnquoteChar(p.in[p.pos:], q)
		if err != nil {
			return "", p.errAt(at, "invalid escape or character in string")
		}
		if r < utf8.RuneSelf || !multibyte {
			b.WriteByte(byte(r))
		} else {
			b.WriteRune(r)
		}
		p.pos = len(p.in) - len(tail)
	}
}

func isQuote(c byte) bool { return c == '"' || c == '\'' || c == '`' }

// op consumes a matcher operator.
func (p *parser) op() (MatchType, error) {
	ops := []struct {
		s string
		t MatchType
	}{{"!=", MatchNotEqual}, {"=~", MatchRegexp}, {"!~", MatchNotRegexp}, {"=", MatchEqual}}
	for _, o := range ops {
		if strings.HasPrefix(p.in[p.pos:], o.s) {
			p.pos += len(o.s)
			return o.t, nil
		}
	}
	return 0, p.errAt(p.pos, "expected one of =, !=, =~, !~, found %s", p.found())
}

// matcher builds a matcher, reporting a bad regular expression at valuePos.
func (p *parser) matcher(t MatchType, name, value string, valuePos int) (*Matcher, error) {
	m, err := NewMatcher(t, name, value)
	if err != nil {
		return nil, p.errAt(valuePos, "%s", strings.TrimPrefix(err.Error(), "index: "))
	}
	return m, nil
}

// selector parses metric{...} and checks that the metric name is set once.
func (p *parser) selector() ([]*Matcher, error) {
	var ms []*Matcher
	p.space()
	metricPos := -1 // where a metric name was given as a name, if it was
	nameAsMatcher := false
	if name := p.ident(true); name != "" {
		metricPos = p.pos - len(name)
		ms = append(ms, MustNewMatcher(MatchEqual, model.MetricName, name))
		p.space()
	}
	if p.peek() == '{' {
		p.pos++
		for {
			p.space()
			if p.peek() == '}' {
				p.pos++
				break
			}
			itemPos := p.pos
			m, lone, err := p.braceItem()
			if err != nil {
				return nil, err
			}
			// As in PromQL, the metric name may be given once, either as a
			// name or as __name__ matchers, not both.
			if m.name == model.MetricName && metricPos >= 0 || lone && nameAsMatcher {
				return nil, p.errAt(itemPos, "metric name set twice")
			}
			if lone {
				metricPos = itemPos
			} else if m.name == model.MetricName {
				nameAsMatcher = true
			}
			ms = append(ms, m)
			p.space()
			switch p.peek() {
			case ',':
				p.pos++
				continue
			case '}':
				p.pos++
			default:
				return nil, p.errAt(p.pos, "expected \",\" or \"}\" after a matcher, found %s", p.found())
			}
			break
		}
		p.space()
	} else if len(ms) == 0 {
		return nil, p.errAt(p.pos, "expected a metric name or \"{\", found %s", p.found())
	}
	if !p.eof() {
		return nil, p.errAt(p.pos, "unexpected %s after the selector", p.found())
	}
	return ms, nil
}

// braceItem parses one item between braces: name op value, or a lone quoted
// metric name.
func (p *parser) braceItem() (m *Matcher, lone bool, err error) {
	namePos := p.pos
	var name string
	switch c := p.peek(); {
	case isQuote(c):
		s, err := p.str()
		if err != nil {
			return nil, false, err
		}
		p.space()
		if c := p.peek(); c == ',' || c == '}' {
			if s == "" {
				return nil, false, p.errAt(namePos, "empty metric name")
			}
			return MustNewMatcher(MatchEqual, model.MetricName, s), true, nil
		}
		name = s
	case isIdentStart(c, false):
		name = p.ident(false)
	default:
		return nil, false, p.errAt(p.pos, "expected a label name, found %s", p.found())
	}
	if name == "" {
		return nil, false, p.errAt(namePos, "empty label name")
	}
	p.space()
	t, err := p.op()
	if err != nil {
		return nil, false, err
	}
	p.space()
	valuePos := p.pos
	if !isQuote(p.peek()) {
		return nil, false, p.errAt(p.pos, "expected a quoted value after %s%s, found %s", name, t, p.found())
	}
	v, err := p.str()
	if err != nil {
		return nil, false, err
	}
	m, err = p.matcher(t, name, v, valuePos)
	return m, false, err
}

// andQuery parses term AND term AND ….
func (p *parser) andQuery() ([]*Matcher, error) {
	var ms []*Matcher
	for {
		p.space()
		namePos := p.pos
		name := p.ident(false)
		if name == "" {
			return nil, p.errAt(namePos, "expected a label name, found %s", p.found())
		}
		p.space()
		t, err := p.op()
		if err != nil {
			return nil, err
		}
		p.space()
		valuePos := p.pos
		var v string
		if isQuote(p.peek()) {
			if v, err = p.str(); err != nil {
				return nil, err
			}
		} else {
			for !p.eof() && strings.IndexByte(" \t\r\n", p.in[p.pos]) < 0 {
				p.pos++
			}
			v = p.in[valuePos:p.pos]
		}
		m, err := p.matcher(t, name, v, valuePos)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		p.space()
		if p.eof() {
			return ms, nil
		}
		andPos := p.pos
		if w := p.ident(false); !strings.EqualFold(w, "AND") {
			return nil, p.errAt(andPos, "expected AND or end of query, found %s", strconv.Quote(firstWord(p.in[andPos:])))
		}
		if p.eof() || strings.IndexByte(" \t\r\n", p.peek()) < 0 {
			return nil, p.errAt(p.pos, "expected a space after AND, found %s", p.found())
		}
	}
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
