// Package promqltest runs PromQL test scripts: the plain-text format
// Prometheus uses for its own engine tests. A script loads series, then
// evaluates queries and states the expected results:
//
//	load 5m
//	    http_requests{job="api"} 0+10x10 _ stale
//	eval instant at 50m rate(http_requests[10m])
//	    {job="api"} 0.0333333
//	eval range from 0 to 10m step 5m http_requests
//	    http_requests{job="api"} 0 10 20
//	eval instant at 0 nosuch(1)
//	    expect fail
//	clear
//
// Values use the expanding notation: a+bxn is n+1 values starting at a and
// growing by b (a-bxn shrinks), axn repeats a n+1 times, _ is a missing
// sample and _xn n of them, stale a staleness marker.
package promqltest

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// command is one step of a script.
type command interface{ line() int }

type loadCmd struct {
	at       int
	interval time.Duration
	series   []loadSeries
}

type loadSeries struct {
	labels model.Labels
	values []seqValue
}

type clearCmd struct{ at int }

// evalCmd is one query and what it must return.
type evalCmd struct {
	at               int
	expr             string
	instant          bool
	start, end, step time.Duration
	ordered          bool
	fail             bool
	failMsg          string         // exact message, if given
	failRegexp       *regexp.Regexp // or a pattern
	expected         []expectedSeries
	scalar           *float64
	str              *string
	// For an instant eval whose result is a range vector: "expect range
	// vector from <t> to <t> step <d>" gives the timestamps the expected
	// values stand for (and, as in Prometheus, moves the eval time to the
	// end of that range).
	rangeVector          bool
	rvFrom, rvTo, rvStep time.Duration
}

type expectedSeries struct {
	labels model.Labels
	values []seqValue
	line   int
}

func (c *loadCmd) line() int  { return c.at }
func (c *clearCmd) line() int { return c.at }
func (c *evalCmd) line() int  { return c.at }

// seqValue is one element of an expanded sequence.
type seqValue struct {
	missing bool
	v       float64
}

// parseScript splits a script into commands. Commands are separated by
// blank lines; a comment line counts as blank, as in Prometheus's runner.
func parseScript(src string) ([]command, error) {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") {
			l = ""
		}
		lines[i] = l
	}
	var cmds []command
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			continue
		}
		// The block: following non-blank lines.
		j := i + 1
		for j < len(lines) && lines[j] != "" {
			j++
		}
		block := lines[i+1 : j]
		lineNo := i + 1
		word, rest, _ := strings.Cut(l, " ")
		var (
			cmd command
			err error
		)
		switch word {
		case "load":
			cmd, err = parseLoad(lineNo, strings.TrimSpace(rest), block)
		case "clear":
			// A line of its own: what follows it is the next command,
			// blank line or not (as in Prometheus's runner).
			cmd, j = &clearCmd{at: lineNo}, i+1
		case "eval", "eval_fail", "eval_ordered", "eval_warn", "eval_info":
			cmd, err = parseEval(lineNo, word, strings.TrimSpace(rest), block)
		default:
			err = fmt.Errorf("line %d: unknown command %q", lineNo, word)
		}
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, cmd)
		i = j - 1
	}
	return cmds, nil
}

func parseLoad(lineNo int, arg string, block []string) (*loadCmd, error) {
	iv, err := parseTime(arg)
	if err != nil || iv <= 0 {
		return nil, fmt.Errorf("line %d: bad load interval %q", lineNo, arg)
	}
	c := &loadCmd{at: lineNo, interval: iv}
	for k, l := range block {
		ls, vals, err := parseSeriesLine(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", lineNo+1+k, err)
		}
		c.series = append(c.series, loadSeries{labels: ls, values: vals})
	}
	return c, nil
}

var (
	rangeVectorRE = regexp.MustCompile(`^vector\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)$`)
	instantRE     = regexp.MustCompile(`^instant\s+at\s+(\S+)\s+(.+)$`)
	rangeRE       = regexp.MustCompile(`^range\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.+)$`)
)

func parseEval(lineNo int, word, rest string, block []string) (*evalCmd, error) {
	c := &evalCmd{at: lineNo, fail: word == "eval_fail", ordered: word == "eval_ordered"}
	var err error
	if m := instantRE.FindStringSubmatch(rest); m != nil {
		c.instant = true
		if c.start, err = parseTime(m[1]); err != nil {
			return nil, fmt.Errorf("line %d: bad time %q", lineNo, m[1])
		}
		c.expr = m[2]
	} else if m := rangeRE.FindStringSubmatch(rest); m != nil {
		var e1, e2, e3 error
		c.start, e1 = parseTime(m[1])
		c.end, e2 = parseTime(m[2])
		c.step, e3 = parseTime(m[3])
		if e1 != nil || e2 != nil || e3 != nil {
			return nil, fmt.Errorf("line %d: bad range %q", lineNo, rest)
		}
		c.expr = m[4]
	} else {
		return nil, fmt.Errorf("line %d: want \"eval instant at <time> <expr>\" or \"eval range from <t> to <t> step <d> <expr>\", got %q", lineNo, rest)
	}
	for k, l := range block {
		ln := lineNo + 1 + k
		switch {
		case strings.HasPrefix(l, "expect "):
			if err := c.parseExpect(strings.TrimSpace(l[len("expect "):])); err != nil {
				return nil, fmt.Errorf("line %d: %v", ln, err)
			}
		case strings.HasPrefix(l, "expected_fail_message "):
			c.fail, c.failMsg = true, strings.TrimSpace(l[len("expected_fail_message "):])
		case strings.HasPrefix(l, "expected_fail_regexp "):
			re, err := regexp.Compile(strings.TrimSpace(l[len("expected_fail_regexp "):]))
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", ln, err)
			}
			c.fail, c.failRegexp = true, re
		case strings.HasPrefix(l, `"`):
			s, err := strconv.Unquote(l)
			if err != nil {
				return nil, fmt.Errorf("line %d: bad string %s", ln, l)
			}
			c.str = &s
		default:
			if f, err := parseNumber(l); err == nil {
				c.scalar = &f
				continue
			}
			ls, vals, err := parseSeriesLine(l)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", ln, err)
			}
			c.expected = append(c.expected, expectedSeries{labels: ls, values: vals, line: ln})
		}
	}
	return c, nil
}

// parseExpect reads "fail", "fail msg: …", "fail regex: …", "ordered";
// annotation expectations (warn, info, no_warn, no_info) are accepted and
// not checked: this engine reports no annotations.
func (c *evalCmd) parseExpect(s string) error {
	kind, rest, _ := strings.Cut(s, " ")
	switch kind {
	case "ordered":
		c.ordered = true
	case "fail":
		c.fail = true
		rest = strings.TrimSpace(rest)
		switch {
		case strings.HasPrefix(rest, "msg:"):
			c.failMsg = unquoteLoose(strings.TrimSpace(rest[len("msg:"):]))
		case strings.HasPrefix(rest, "regex:"):
			re, err := regexp.Compile(unquoteLoose(strings.TrimSpace(rest[len("regex:"):])))
			if err != nil {
				return err
			}
			c.failRegexp = re
		case rest != "":
			return fmt.Errorf("bad expect fail %q", rest)
		}
	case "range":
		m := rangeVectorRE.FindStringSubmatch(rest)
		if m == nil {
			return fmt.Errorf("want \"expect range vector from <t> to <t> step <d>\", got %q", s)
		}
		var e1, e2, e3 error
		c.rvFrom, e1 = parseTime(m[1])
		c.rvTo, e2 = parseTime(m[2])
		c.rvStep, e3 = parseTime(m[3])
		if e1 != nil || e2 != nil || e3 != nil || c.rvStep <= 0 || c.rvTo < c.rvFrom {
			return fmt.Errorf("bad range vector %q", rest)
		}
		c.rangeVector = true
		c.start = c.rvTo
	case "warn", "info", "no_warn", "no_info":
	default:
		return fmt.Errorf("unknown expectation %q", kind)
	}
	return nil
}

func unquoteLoose(s string) string {
	if u, err := strconv.Unquote(s); err == nil {
		return u
	}
	return s
}

// parseTime reads 50m, 1h30m, 0 or a number of seconds.
func parseTime(s string) (time.Duration, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	d, err := parser.ParseDuration(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0, err
		}
		d = time.Duration(math.Round(f*1000)) * time.Millisecond
	}
	if neg {
		d = -d
	}
	return d, nil
}

func parseNumber(s string) (float64, error) {
	return strconv.ParseFloat(s, 64) // also reads Inf, -Inf, NaN
}

// parseSeriesLine splits `metric{a="b"} 1 2+3x4 _ stale` into labels and
// the expanded values.
func parseSeriesLine(l string) (model.Labels, []seqValue, error) {
	end := metricEnd(l)
	desc, vals := l[:end], strings.Fields(l[end:])
	ls, err := parseMetric(desc)
	if err != nil {
		return model.Labels{}, nil, err
	}
	var out []seqValue
	for _, tok := range vals {
		vs, err := expand(tok)
		if err != nil {
			return model.Labels{}, nil, err
		}
		out = append(out, vs...)
	}
	return ls, out, nil
}

// metricEnd finds where the series descriptor ends: after the closing brace
// (quotes respected), or at the first space.
func metricEnd(l string) int {
	inQuote := byte(0)
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case inQuote != 0:
			if c == '\\' {
				i++
			} else if c == inQuote {
				inQuote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			inQuote = c
		case c == '}':
			return i + 1
		case c == ' ' || c == '\t':
			if !strings.Contains(l[:i], "{") {
				return i
			}
		}
	}
	return len(l)
}

// parseMetric reads a series descriptor with the PromQL parser: it must be
// a selector with "=" matchers only.
func parseMetric(s string) (model.Labels, error) {
	if s == "{}" {
		return model.Labels{}, nil
	}
	e, err := parser.ParseExpr(s)
	if err != nil {
		return model.Labels{}, fmt.Errorf("bad series %q: %v", s, err)
	}
	vs, ok := e.(*parser.VectorSelector)
	if !ok {
		return model.Labels{}, fmt.Errorf("bad series %q: not a selector", s)
	}
	var ps []model.Label
	for _, m := range vs.LabelMatchers {
		if m.Type() != index.MatchEqual {
			return model.Labels{}, fmt.Errorf("bad series %q: only = matchers describe a series", s)
		}
		ps = append(ps, model.Label{Name: m.Name(), Value: m.Value()})
	}
	return model.New(ps...)
}

// maxExpand bounds one token's repetitions, so a typo cannot ask for
// billions of samples.
const maxExpand = 1_000_000

// expand reads one token of the expanding notation.
func expand(tok string) ([]seqValue, error) {
	switch {
	case tok == "_":
		return []seqValue{{missing: true}}, nil
	case tok == "stale":
		return []seqValue{{v: promql.StaleNaN}}, nil
	case strings.HasPrefix(tok, "_x"):
		n, err := strconv.Atoi(tok[2:])
		if err != nil || n < 0 || n > maxExpand {
			return nil, fmt.Errorf("bad value %q", tok)
		}
		out := make([]seqValue, n)
		for i := range out {
			out[i].missing = true
		}
		return out, nil
	}
	if f, err := parseNumber(tok); err == nil {
		return []seqValue{{v: f}}, nil
	}
	x := strings.LastIndexByte(tok, 'x')
	if x < 0 {
		return nil, fmt.Errorf("bad value %q", tok)
	}
	n, err := strconv.Atoi(tok[x+1:])
	if err != nil || n < 0 || n > maxExpand {
		return nil, fmt.Errorf("bad value %q", tok)
	}
	ab := tok[:x]
	// The operator is the first + or - after the first character that is not
	// an exponent sign (1e-3+1x2).
	op := -1
	for i := 1; i < len(ab); i++ {
		if (ab[i] == '+' || ab[i] == '-') && ab[i-1] != 'e' && ab[i-1] != 'E' {
			op = i
			break
		}
	}
	var a, b float64
	if op < 0 {
		if a, err = parseNumber(ab); err != nil {
			return nil, fmt.Errorf("bad value %q", tok)
		}
	} else {
		var e1, e2 error
		a, e1 = parseNumber(ab[:op])
		b, e2 = parseNumber(ab[op+1:])
		if e1 != nil || e2 != nil {
			return nil, fmt.Errorf("bad value %q", tok)
		}
		if ab[op] == '-' {
			b = -b
		}
	}
	out := make([]seqValue, n+1)
	for i := range out {
		// a + i*b, not repeated addition: no drift after many steps.
		out[i] = seqValue{v: a + float64(i)*b}
	}
	return out, nil
}
