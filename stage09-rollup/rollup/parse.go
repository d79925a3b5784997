package rollup

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// FuncKind is an aggregate a query asks for.
type FuncKind int

const (
	FuncAvg FuncKind = iota + 1
	FuncSum
	FuncMin
	FuncMax
	FuncCount
	FuncQuantile // pN: the N-th percentile, from the sketches
)

// Func is a query's aggregate function; Q is the quantile of FuncQuantile
// (p99 → 0.99, p99.9 → 0.999).
type Func struct {
	Kind FuncKind
	Q    float64
}

// NeedsSketch reports whether the function reads sketches.
func (f Func) NeedsSketch() bool { return f.Kind == FuncQuantile }

func (f Func) String() string {
	switch f.Kind {
	case FuncAvg:
		return "avg"
	case FuncSum:
		return "sum"
	case FuncMin:
		return "min"
	case FuncMax:
		return "max"
	case FuncCount:
		return "count"
	case FuncQuantile:
		return "p" + strconv.FormatFloat(f.Q*100, 'f', -1, 64)
	}
	return "?"
}

// ParseFunc parses avg, sum, min, max, count or pN (0 ≤ N ≤ 100).
func ParseFunc(s string) (Func, bool) {
	switch strings.ToLower(s) {
	case "avg", "mean":
		return Func{Kind: FuncAvg}, true
	case "sum":
		return Func{Kind: FuncSum}, true
	case "min":
		return Func{Kind: FuncMin}, true
	case "max":
		return Func{Kind: FuncMax}, true
	case "count":
		return Func{Kind: FuncCount}, true
	}
	if len(s) > 1 && (s[0] == 'p' || s[0] == 'P') {
		n, err := strconv.ParseFloat(s[1:], 64)
		if err == nil && n >= 0 && n <= 100 && s[1] != '+' && s[1] != '-' {
			return Func{Kind: FuncQuantile, Q: n / 100}, true
		}
	}
	return Func{}, false
}

// Query is a parsed query: FUNC(metric) [WHERE label='v' [AND …]].
type Query struct {
	Func     Func
	Metric   string
	Matchers []*index.Matcher // __name__ first, then the WHERE clauses
	Text     string
}

// ParseError is a query the parser rejects, with the byte offset of the
// problem.
type ParseError struct {
	Pos int
	Msg string
}

func (e *ParseError) Error() string { return fmt.Sprintf("query: col %d: %s", e.Pos+1, e.Msg) }

// Caret returns the query with a caret under the error's position.
func (e *ParseError) Caret(q string) string {
	return q + "\n" + strings.Repeat(" ", min(e.Pos, len(q))) + "^"
}

// ParseQuery parses the CLI's query language:
//
//	query   = func "(" metric ")" [ "WHERE" cond { "AND" cond } ]
//	func    = "avg" | "sum" | "min" | "max" | "count" | "p" number
//	cond    = label ( "=" | "!=" ) quoted
//	quoted  = "'" … "'" | '"' … '"'
//
// Keywords are case-insensitive; label and metric names are
// [a-zA-Z_:][a-zA-Z0-9_:.]*.
func ParseQuery(s string) (*Query, error) {
	p := &parser{s: s}
	q := &Query{Text: s}
	name, pos := p.ident()
	if name == "" {
		return nil, p.errf(pos, "expected a function (avg, sum, min, max, count, p99), got %s", p.near(pos))
	}
	f, ok := ParseFunc(name)
	if !ok {
		return nil, p.errf(pos, "unknown function %q (want avg, sum, min, max, count or pN)", name)
	}
	q.Func = f
	if err := p.expect("("); err != nil {
		return nil, err
	}
	if q.Metric, pos = p.ident(); q.Metric == "" {
		return nil, p.errf(pos, "expected a metric name, got %s", p.near(pos))
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	q.Matchers = append(q.Matchers, index.MustNewMatcher(index.MatchEqual, model.MetricName, q.Metric))
	kw, pos := p.ident()
	switch {
	case kw == "" && p.eof():
		return q, nil
	case !strings.EqualFold(kw, "where"):
		return nil, p.errf(pos, "expected WHERE or the end, got %s", p.near(pos))
	}
	for {
		label, pos := p.ident()
		if label == "" {
			return nil, p.errf(pos, "expected a label name, got %s", p.near(pos))
		}
		p.space()
		t := index.MatchEqual
		switch {
		case strings.HasPrefix(p.s[p.i:], "!="):
			t, p.i = index.MatchNotEqual, p.i+2
		case strings.HasPrefix(p.s[p.i:], "="):
			p.i++
		default:
			return nil, p.errf(p.i, "expected = or != after %s, got %s", label, p.near(p.i))
		}
		val, err := p.quoted()
		if err != nil {
			return nil, err
		}
		m, err := index.NewMatcher(t, label, val)
		if err != nil {
			return nil, p.errf(pos, "%v", err)
		}
		q.Matchers = append(q.Matchers, m)
		kw, pos := p.ident()
		switch {
		case kw == "" && p.eof():
			return q, nil
		case !strings.EqualFold(kw, "and"):
			return nil, p.errf(pos, "expected AND or the end, got %s", p.near(pos))
		}
	}
}

type parser struct {
	s string
	i int
}

func (p *parser) errf(pos int, format string, a ...any) error {
	return &ParseError{Pos: pos, Msg: fmt.Sprintf(format, a...)}
}

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *parser) eof() bool { p.space(); return p.i == len(p.s) }

// near describes the input at pos for an error.
func (p *parser) near(pos int) string {
	if pos >= len(p.s) {
		return "the end"
	}
	r := p.s[pos:]
	if len(r) > 12 {
		r = r[:12] + "…"
	}
	return strconv.Quote(r)
}

func isIdent(c byte, first bool) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(!first && (c == '.' || (c >= '0' && c <= '9')))
}

// ident reads a name ("" if none) and returns where it starts.
func (p *parser) ident() (string, int) {
	p.space()
	start := p.i
	for p.i < len(p.s) && isIdent(p.s[p.i], p.i == start) {
		p.i++
	}
	return p.s[start:p.i], start
}

func (p *parser) expect(tok string) error {
	p.space()
	if !strings.HasPrefix(p.s[p.i:], tok) {
		return p.errf(p.i, "expected %q, got %s", tok, p.near(p.i))
	}
	p.i += len(tok)
	return nil
}

func (p *parser) quoted() (string, error) {
	p.space()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", p.errf(p.i, "expected a quoted value, got %s", p.near(p.i))
	}
	q, start := p.s[p.i], p.i
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", p.errf(start, "unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}
