package influxql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Error is a query error at a 1-based column of the query text.
type Error struct {
	Column int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("column %d: %s", e.Column, e.Msg) }

// Caret returns the query and a second line with a caret under the column.
func (e *Error) Caret(query string) string {
	return query + "\n" + strings.Repeat(" ", max(0, e.Column-1)) + "^"
}

func errAt(pos lexer.Position, format string, a ...any) *Error {
	return &Error{Column: pos.Column, Msg: fmt.Sprintf(format, a...)}
}

// The lexer: order matters (Duration before Int, operators longest first).
var queryLexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Whitespace", Pattern: `\s+`},
	{Name: "String", Pattern: `'(?:\\.|[^'\\])*'`},
	{Name: "QuotedIdent", Pattern: `"(?:\\.|[^"\\])*"`},
	// Reserved words are their own token so that they never parse as a
	// field or measurement name ("SELECT FROM cpu" is an error at FROM).
	{Name: "Keyword", Pattern: `(?i)\b(?:SELECT|FROM|WHERE|AND|OR|GROUP|BY)\b`},
	{Name: "Duration", Pattern: `\d+(?:ns|us|u|µs|µ|ms|s|m|h|d|w)\b`},
	{Name: "Int", Pattern: `\d+`},
	{Name: "Ident", Pattern: `[A-Za-z_][A-Za-z0-9_.\-]*`},
	{Name: "Op", Pattern: `>=|<=|!=|<>|[-+*(),=<>]`},
})

var parser = participle.MustBuild[Query](
	participle.Lexer(queryLexer),
	participle.Elide("Whitespace"),
	participle.CaseInsensitive("Ident"),
	participle.CaseInsensitive("Keyword"),
	participle.Unquote("String", "QuotedIdent"),
)

// Parse parses and checks a query. Errors are *Error.
func Parse(q string) (*Query, error) {
	ast, err := parser.ParseString("", q)
	if err != nil {
		var pe participle.Error
		if errors.As(err, &pe) {
			return nil, &Error{Column: pe.Position().Column, Msg: pe.Message()}
		}
		return nil, &Error{Column: 1, Msg: err.Error()}
	}
	if err := check(ast); err != nil {
		return nil, err
	}
	return ast, nil
}

var aggregates = map[string]bool{"mean": true, "min": true, "max": true, "sum": true, "count": true}

// check enforces what the grammar does not: known functions, no mixing of
// raw fields and aggregates, GROUP BY time only with aggregates, time
// conditions only under AND, valid time literals and durations.
func check(q *Query) error {
	aggs, raw := 0, 0
	for _, f := range q.Fields {
		switch {
		case f.Arg != nil:
			f.Name = strings.ToLower(f.Name)
			if !aggregates[f.Name] {
				return errAt(f.Pos, "unknown function %s (want mean, min, max, sum or count)", f.Name)
			}
			aggs++
		default:
			raw++
		}
	}
	if aggs > 0 && raw > 0 {
		return errAt(q.Fields[0].Pos, "mixing aggregate and raw fields")
	}
	if q.GroupBy != nil {
		if aggs == 0 {
			return errAt(q.GroupBy.Pos, "GROUP BY time() needs an aggregate function in SELECT")
		}
		d, err := ParseDuration(q.GroupBy.Duration)
		if err != nil || d <= 0 {
			return errAt(q.GroupBy.Pos, "bad duration %q", q.GroupBy.Duration)
		}
	}
	if q.Where != nil {
		return checkTime(q.Where, false)
	}
	return nil
}

func checkTime(o *Or, underOr bool) error {
	underOr = underOr || len(o.And) > 1
	for _, a := range o.And {
		for _, t := range a.Terms {
			switch {
			case t.Paren != nil:
				if err := checkTime(t.Paren, underOr); err != nil {
					return err
				}
			case t.Tag != nil:
				switch {
				case t.Tag.Op != "=" && t.Tag.Op != "!=" && t.Tag.Op != "<>":
					return errAt(t.Tag.Value.Pos, "only = and != compare tags (%s %s …: conditions on fields are not supported)", t.Tag.Key, t.Tag.Op)
				case t.Tag.Value.Str == nil:
					return errAt(t.Tag.Value.Pos, "tag values are single-quoted strings: %s='%s'", t.Tag.Key, *t.Tag.Value.Bare)
				}
			case t.Time != nil:
				if underOr {
					return errAt(t.Pos, "time condition under OR (AND it with the rest of the condition)")
				}
				if _, err := t.Time.Expr.eval(time.Unix(0, 0)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// eval is the time in nanoseconds.
func (e *TimeExpr) eval(now time.Time) (int64, error) {
	switch {
	case e.Now != nil:
		t := now.UnixNano()
		if e.Now.Offset != "" {
			d, err := ParseDuration(e.Now.Offset)
			if err != nil {
				return 0, errAt(e.Pos, "bad duration %q", e.Now.Offset)
			}
			if e.Now.Sign == "-" {
				d = -d
			}
			t += int64(d)
		}
		return t, nil
	case e.Str != nil:
		t, err := parseTimeLiteral(*e.Str)
		if err != nil {
			return 0, errAt(e.Pos, "bad time %q (want RFC 3339, e.g. '2024-01-01T00:00:00Z', or a date '2024-01-01')", *e.Str)
		}
		return t.UnixNano(), nil
	default:
		n, err := strconv.ParseInt(*e.Int, 10, 64)
		if err != nil {
			return 0, errAt(e.Pos, "bad timestamp %s", *e.Int)
		}
		return n, nil
	}
}

// parseTimeLiteral reads an RFC 3339 time or, as InfluxDB allows, a date
// alone, which means midnight UTC: time > '2024-01-14'.
func parseTimeLiteral(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// ParseDuration parses an InfluxQL duration literal: an integer and a unit
// (ns, u or µ or us or µs, ms, s, m, h, d, w).
func ParseDuration(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || i == len(s) {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	units := map[string]time.Duration{"ns": time.Nanosecond, "u": time.Microsecond, "us": time.Microsecond,
		"µ": time.Microsecond, "µs": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
		"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}
	u, ok := units[s[i:]]
	if !ok {
		return 0, fmt.Errorf("bad duration unit in %q", s)
	}
	return time.Duration(n) * u, nil
}
