// Package text parses the guide's text write format, one sample a line:
//
//	cpu_usage{host="server1",region="us-east"} 0.75 1703001600
//
// ParseLine builds a sample with its label set; Decoder feeds lines to an
// ingest pipeline, keying each series by its raw `name{labels}` text so that
// a series seen before costs no label parsing.
package text

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tsdb-course/stage01-memstore/model"
)

// ErrSyntax is wrapped by every error about a line that does not parse.
var ErrSyntax = errors.New("text: syntax error")

// TextSample is one line of the guide's text write format.
type TextSample struct {
	Labels  model.Labels
	V       float64
	T       int64 // ms since the epoch
	HasTime bool  // false: the line had no timestamp (the writer uses "now")
}

// ParseLine parses one line of the guide's write format,
//
//	cpu_usage{host="server1",region="us-east"} 0.75 1703001600
//
// a metric name, optional labels in braces (double-quoted values with Go
// escapes; a trailing comma is allowed), a value (Go float syntax, NaN and
// ±Inf included) and an optional timestamp in unix seconds, fractions
// allowed (1703001600.5), kept to the millisecond. Errors wrap ErrSyntax and
// name the column (1-based).
func ParseLine(line string) (TextSample, error) {
	var s TextSample
	p := lineParser{s: line}
	p.space()
	name := p.ident()
	var pairs []model.Label
	if name != "" {
		pairs = append(pairs, model.Label{Name: model.MetricName, Value: name})
	}
	if p.peek() == '{' {
		p.i++
		for {
			p.space()
			if p.peek() == '}' {
				p.i++
				break
			}
			ln := p.ident()
			if ln == "" {
				return s, p.errorf("expected label name")
			}
			p.space()
			if p.peek() != '=' {
				return s, p.errorf("expected '=' after label name %q", ln)
			}
			p.i++
			p.space()
			q, err := strconv.QuotedPrefix(p.s[p.i:])
			if err != nil || q[0] != '"' {
				return s, p.errorf("expected a double-quoted value for label %q", ln)
			}
			v, err := strconv.Unquote(q)
			if err != nil {
				return s, p.errorf("label %q: %v", ln, err)
			}
			p.i += len(q)
			pairs = append(pairs, model.Label{Name: ln, Value: v})
			p.space()
			switch p.peek() {
			case ',':
				p.i++
			case '}':
			default:
				return s, p.errorf("expected ',' or '}' after the value of label %q", ln)
			}
		}
	}
	lset, err := model.New(pairs...)
	if err != nil {
		return s, p.errorf("%v", err)
	}
	if lset.Name() == "" {
		return s, p.errorf("expected a metric name")
	}
	s.Labels = lset
	if p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != '\t' {
		return s, p.errorf("expected a space before the value")
	}
	fields := strings.Fields(p.s[p.i:])
	switch len(fields) {
	case 0:
		return s, p.errorf("expected a value")
	case 1, 2:
	default:
		return s, fmt.Errorf("%w: column %d: unexpected %q after the timestamp", ErrSyntax, strings.LastIndex(line, fields[2])+1, fields[2])
	}
	if s.V, err = strconv.ParseFloat(fields[0], 64); err != nil {
		return s, fmt.Errorf("%w: column %d: value %q is not a number", ErrSyntax, strings.Index(line[p.i:], fields[0])+p.i+1, fields[0])
	}
	if len(fields) == 2 {
		sec, err := strconv.ParseFloat(fields[1], 64)
		ms := math.Round(sec * 1000)
		if err != nil || math.IsNaN(ms) || ms > math.MaxInt64/2 || ms < math.MinInt64/2 {
			return s, fmt.Errorf("%w: column %d: timestamp %q is not unix seconds", ErrSyntax, strings.LastIndex(line, fields[1])+1, fields[1])
		}
		s.T, s.HasTime = int64(ms), true
	}
	return s, nil
}

type lineParser struct {
	s string
	i int
}

func (p *lineParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *lineParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// ident reads [A-Za-z_:][A-Za-z0-9_:.]* (the '.' for names like cpu.usage,
// as stage05's selector parser allows).
func (p *lineParser) ident() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || p.i > start && (c == '.' || '0' <= c && c <= '9') {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

func (p *lineParser) errorf(format string, a ...any) error {
	return fmt.Errorf("%w: column %d: %s", ErrSyntax, p.i+1, fmt.Sprintf(format, a...))
}
