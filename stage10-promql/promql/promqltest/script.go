// Package promqltest runs PromQL test scripts: the plain-text format
// Prometheus tests its own engine with (promql/promqltest/README.md in its
// repository), read and run here by code of our own. A script loads
// series, then evaluates queries and states the expected results:
//
//	load 5m
//	    http_requests{job="api"} 0+10x10 _ stale
//	eval instant at 50m rate(http_requests[10m])
//	    expect no_warn
//	    {job="api"} 0.0333333
//	eval range from 0 to 10m step 5m http_requests
//	    http_requests{job="api"} 0 10 20
//	eval instant at 0 sum(nosuch(1))
//	    expect fail msg: 1:5: parse error: unknown function with name "nosuch"
//	clear
//
// Values use the expanding notation: a+bxn is n+1 values starting at a and
// growing by b (a-bxn shrinks), axn repeats a n+1 times, _ is a missing
// sample and _xn n of them, stale a staleness marker, {{…}} a native
// histogram sample.
package promqltest

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// command is one step of a script.
type command interface{ line() int }

type loadCmd struct {
	at       int
	interval time.Duration
	// withNHCB (load_with_nhcb) also loads each classic histogram as a
	// native histogram with custom buckets.
	withNHCB bool
	series   []loadSeries
}

type loadSeries struct {
	labels model.Labels
	values []seqValue
	// st are the samples' start timestamps, as offsets in ms from each
	// sample's own time (an "@st" line before the series; nil if none).
	st []seqValue
}

type clearCmd struct{ at int }

// expectKind is what an "expect" line is about.
type expectKind int

const (
	expectOrdered expectKind = iota
	expectFail
	expectWarn
	expectNoWarn
	expectInfo
	expectNoInfo
)

var expectKinds = map[string]expectKind{
	"ordered": expectOrdered, "fail": expectFail, "warn": expectWarn,
	"no_warn": expectNoWarn, "info": expectInfo, "no_info": expectNoInfo,
}

// expectation is one "expect <kind> [msg:|regex: …]" line: a message to
// match exactly, or a pattern (any message when the line gives none).
type expectation struct {
	msg string
	re  *regexp.Regexp
}

func (e expectation) matches(s string) bool {
	if e.re == nil {
		return e.msg == s
	}
	return e.re.MatchString(s)
}

func (e expectation) String() string {
	if e.re == nil {
		return fmt.Sprintf("message %q", e.msg)
	}
	return fmt.Sprintf("pattern %q", e.re)
}

// evalCmd is one query and what it must return.
type evalCmd struct {
	at   int
	expr string
	// instant: evaluated at time evalAt. Otherwise a range query from
	// start to end by step. An instant query whose result is a range
	// vector states the timestamps of its expected values with "expect
	// range vector from <start> to <end> step <step>", which also moves
	// evalAt to end.
	instant          bool
	evalAt           time.Duration
	start, end, step time.Duration
	rangeVector      bool
	// The deprecated forms: eval_fail, eval_warn, eval_info, eval_ordered,
	// expected_fail_message, expected_fail_regexp.
	fail, warn, info, ordered bool
	failMsg                   string
	failRegexp                *regexp.Regexp
	expects                   map[expectKind][]expectation
	expected                  []expectedSeries
	scalar                    *float64
	str                       *string
	// notInRangeMode: an instant query not also checked as a range query
	// (it expects a range vector or a string).
	notInRangeMode bool
}

func (c *evalCmd) isFail() bool    { return c.fail || len(c.expects[expectFail]) > 0 }
func (c *evalCmd) isOrdered() bool { return c.ordered || len(c.expects[expectOrdered]) > 0 }

type expectedSeries struct {
	labels model.Labels
	values []seqValue
	line   int
	pos    int // 1-based place among the expected lines, for "expect ordered"
}

func (c *loadCmd) line() int  { return c.at }
func (c *clearCmd) line() int { return c.at }
func (c *evalCmd) line() int  { return c.at }

// seqValue is one element of an expanded sequence.
type seqValue struct {
	missing bool
	v       float64
	h       *histogram.FloatHistogram // a native histogram sample, not v
	hintSet bool                      // h's counter_reset_hint was written out
}

var (
	loadRE         = regexp.MustCompile(`^load(?:_(with_nhcb))?\s+(.+?)$`)
	evalInstantRE  = regexp.MustCompile(`^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$`)
	evalRangeRE    = regexp.MustCompile(`^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$`)
	expectRE       = regexp.MustCompile(`^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$`)
	expectRangeRE  = regexp.MustCompile(`^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$`)
	commandWordRE  = regexp.MustCompile(`[\t ]+`)
	errNoSTSeries  = errors.New("@st line has no following sample line")
	expectStringPf = "expect string"
)

// parseScript splits a script into commands. A command's block ends at a
// blank line; a comment line counts as blank, as in Prometheus's runner.
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
		j := i + 1 // the block: following non-blank lines
		for j < len(lines) && lines[j] != "" {
			j++
		}
		block := lines[i+1 : j]
		lineNo := i + 1
		var (
			cmd command
			err error
		)
		switch word := strings.ToLower(commandWordRE.Split(l, 2)[0]); {
		case word == "clear":
			// A line of its own: what follows it is the next command,
			// blank line or not (as in Prometheus's runner).
			cmd, j = &clearCmd{at: lineNo}, i+1
		case strings.HasPrefix(word, "load"):
			cmd, err = parseLoad(lineNo, l, block)
		case strings.HasPrefix(word, "eval"):
			cmd, err = parseEval(lineNo, l, block)
		default:
			err = fmt.Errorf("line %d: unknown command %q", lineNo, l)
		}
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, cmd)
		i = j - 1
	}
	return cmds, nil
}

func parseLoad(lineNo int, l string, block []string) (*loadCmd, error) {
	m := loadRE.FindStringSubmatch(l)
	if m == nil {
		return nil, fmt.Errorf("line %d: want \"load[_with_nhcb] <interval>\", got %q", lineNo, l)
	}
	iv, err := parseTime(m[2])
	if err != nil || iv <= 0 {
		return nil, fmt.Errorf("line %d: bad load interval %q", lineNo, m[2])
	}
	c := &loadCmd{at: lineNo, interval: iv, withNHCB: m[1] != ""}
	var st []seqValue
	var stLabels model.Labels
	for k, l := range block {
		ln := lineNo + 1 + k
		desc, vals := splitSeriesLine(l)
		if name, ok := strings.CutSuffix(desc, "@st"); ok {
			if st != nil {
				return nil, fmt.Errorf("line %d: %v", ln-1, errNoSTSeries)
			}
			if stLabels, err = parseMetric(name); err != nil {
				return nil, fmt.Errorf("line %d: %v", ln, err)
			}
			if st, err = expandST(vals); err != nil {
				return nil, fmt.Errorf("line %d: %v", ln, err)
			}
			continue
		}
		ls, values, err := parseSeriesLine(l)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", ln, err)
		}
		s := loadSeries{labels: ls, values: values}
		if st != nil {
			if !stLabels.Equal(ls) {
				return nil, fmt.Errorf("line %d: @st metric does not match the following sample line metric", ln-1)
			}
			if len(st) != len(values) {
				return nil, fmt.Errorf("line %d: @st line has %d values but sample line has %d", ln-1, len(st), len(values))
			}
			s.st, st = st, nil
		}
		c.series = append(c.series, s)
	}
	if st != nil {
		return nil, fmt.Errorf("line %d: %v", lineNo+len(block), errNoSTSeries)
	}
	return c, nil
}

func parseEval(lineNo int, l string, block []string) (*evalCmd, error) {
	c := &evalCmd{at: lineNo, expects: map[expectKind][]expectation{}}
	var mod string
	if m := evalInstantRE.FindStringSubmatch(l); m != nil {
		mod, c.instant, c.expr = m[1], true, m[3]
		t, err := parseTime(m[2])
		if err != nil {
			return nil, fmt.Errorf("line %d: bad time %q", lineNo, m[2])
		}
		c.evalAt = t
	} else if m := evalRangeRE.FindStringSubmatch(l); m != nil {
		mod, c.expr = m[1], m[5]
		var e1, e2, e3 error
		c.start, e1 = parseTime(m[2])
		c.end, e2 = parseTime(m[3])
		c.step, e3 = parseTime(m[4])
		if err := errors.Join(e1, e2, e3); err != nil {
			return nil, fmt.Errorf("line %d: bad range: %v", lineNo, err)
		}
		if c.end < c.start {
			return nil, fmt.Errorf("line %d: end %s before start %s", lineNo, m[3], m[2])
		}
	} else {
		return nil, fmt.Errorf("line %d: want \"eval instant at <time> <expr>\" or \"eval range from <t> to <t> step <d> <expr>\", got %q", lineNo, l)
	}
	switch mod {
	case "fail":
		c.fail = true
	case "warn":
		c.warn = true
	case "info":
		c.info = true
	case "ordered":
		c.ordered = true
	}
	pos := 0
	for k, l := range block {
		ln := lineNo + 1 + k
		fail := func(format string, a ...any) error {
			return fmt.Errorf("line %d: "+format, append([]any{ln}, a...)...)
		}
		pos++
		switch {
		case c.isFail() && strings.HasPrefix(l, "expected_fail_message"):
			c.failMsg = strings.TrimSpace(strings.TrimPrefix(l, "expected_fail_message"))
		case c.isFail() && strings.HasPrefix(l, "expected_fail_regexp"):
			re, err := regexp.Compile(strings.TrimSpace(strings.TrimPrefix(l, "expected_fail_regexp")))
			if err != nil {
				return nil, fail("%v", err)
			}
			c.failRegexp = re
		case strings.HasPrefix(l, "expect range vector"):
			m := expectRangeRE.FindStringSubmatch(l)
			if m == nil {
				return nil, fail("want \"expect range vector from <t> to <t> step <d>\", got %q", l)
			}
			var e1, e2, e3 error
			c.start, e1 = parseTime(m[1])
			c.end, e2 = parseTime(m[2])
			c.step, e3 = parseTime(m[3])
			if err := errors.Join(e1, e2, e3); err != nil || c.end < c.start {
				return nil, fail("bad range vector %q", l)
			}
			c.rangeVector, c.notInRangeMode, c.evalAt = true, true, c.end
		case strings.HasPrefix(l, expectStringPf):
			s, err := strconv.Unquote(strings.TrimSpace(strings.TrimPrefix(l, expectStringPf)))
			if err != nil {
				return nil, fail("expected string literal not valid - a quoted string literal is required: %q", l)
			}
			c.str, c.notInRangeMode = &s, true
		case strings.Split(l, " ")[0] == "expect":
			pos-- // expect lines take no place among the expected series
			kind, e, err := parseExpect(l)
			if err != nil {
				return nil, fail("%v", err)
			}
			c.expects[kind] = append(c.expects[kind], e)
			switch {
			case len(c.expects[expectInfo]) > 0 && len(c.expects[expectNoInfo]) > 0:
				return nil, fail("info and no_info cannot be used together")
			case len(c.expects[expectWarn]) > 0 && len(c.expects[expectNoWarn]) > 0:
				return nil, fail("warn and no_warn cannot be used together")
			case len(c.expects[expectFail]) > 1:
				return nil, fail("multiple expect fail lines are not allowed")
			}
		default:
			if f, err := parseNumber(l); err == nil {
				c.scalar = &f
				continue
			}
			ls, vals, err := parseSeriesLine(l)
			if err != nil {
				return nil, fail("%v", err)
			}
			if len(vals) > 1 && c.instant && !c.rangeVector {
				return nil, fail("expecting multiple values in instant evaluation not allowed. consider using 'expect range vector' directive to enable a range vector result for an instant query")
			}
			c.expected = append(c.expected, expectedSeries{labels: ls, values: vals, line: ln, pos: pos})
		}
	}
	return c, nil
}

// parseExpect reads "expect <kind>", "expect <kind> msg: <text>" or
// "expect <kind> regex: <pattern>".
func parseExpect(l string) (expectKind, expectation, error) {
	m := expectRE.FindStringSubmatch(l)
	if m == nil {
		return 0, expectation{}, fmt.Errorf("invalid expect statement %q, must match `expect <type> <match_type>: <string>`", l)
	}
	kind := expectKinds[m[1]]
	switch m[2] {
	case "msg":
		return kind, expectation{msg: strings.TrimSpace(m[3])}, nil
	case "regex":
		re, err := regexp.Compile(strings.TrimSpace(m[3]))
		if err != nil {
			return 0, expectation{}, fmt.Errorf("invalid regex for %s: %v", m[1], err)
		}
		return kind, expectation{re: re}, nil
	}
	return kind, expectation{re: matchAny}, nil
}

var matchAny = regexp.MustCompile(`^.*$`)

// parseTime reads a time or a duration: 50m, 1h30m, 0, a number of
// seconds, optionally negative.
func parseTime(s string) (time.Duration, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	d, err := parser.ParseDuration(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0, err
		}
		d = time.Duration(f * float64(time.Second)).Round(time.Millisecond)
	}
	if neg {
		d = -d
	}
	return d, nil
}

// parseNumber reads an expected scalar: an integer in Go syntax (0x10),
// else a float (1e3, Inf, NaN), as Prometheus's runner does.
func parseNumber(s string) (float64, error) {
	if n, err := strconv.ParseInt(s, 0, 64); err == nil {
		return float64(n), nil
	}
	return strconv.ParseFloat(s, 64)
}

// splitSeriesLine cuts `metric{a="b"} 1 2+3x4` into the descriptor and
// the value tokens. A native histogram {{…}} is one token, its spaces
// included.
func splitSeriesLine(l string) (desc string, vals []string) {
	end := metricEnd(l)
	desc, rest := l[:end], l[end:]
	for {
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			return desc, vals
		}
		n := strings.IndexAny(rest, " \t")
		if n < 0 {
			n = len(rest)
		}
		if i := strings.Index(rest[:n], "{{"); i >= 0 {
			// Through the matching "}}" and whatever is glued to it
			// ({{…}}x3, {{…}}+{{…}}x3).
			depth, k := 0, i
			for k < len(rest) {
				switch {
				case strings.HasPrefix(rest[k:], "{{"):
					depth++
					k += 2
					continue
				case strings.HasPrefix(rest[k:], "}}"):
					depth--
					k += 2
					continue
				case depth == 0 && (rest[k] == ' ' || rest[k] == '\t'):
				default:
					k++
					continue
				}
				break
			}
			n = k
		}
		vals = append(vals, rest[:n])
		rest = rest[n:]
	}
}

// parseSeriesLine reads `metric{a="b"} 1 2+3x4 _ stale` into labels and
// the expanded values.
func parseSeriesLine(l string) (model.Labels, []seqValue, error) {
	desc, toks := splitSeriesLine(l)
	ls, err := parseMetric(desc)
	if err != nil {
		return model.Labels{}, nil, err
	}
	var out []seqValue
	for _, tok := range toks {
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
			if strings.HasPrefix(l[i+1:], "@st") {
				return i + 4 // a start-timestamp line's descriptor
			}
			return i + 1
		case c == ' ' || c == '\t':
			if !strings.Contains(l[:i], "{") {
				return i
			}
		}
	}
	return len(l)
}

// parseMetric reads a series descriptor: an optional metric name, then
// optional braces of name="value" pairs, where a name may be quoted and a
// lone quoted string is the metric name ({"http.requests", a="b"}).
// Unquoted names may use Unicode letters and dots, as with
// promql-unquoted-utf8-names.
func parseMetric(s string) (model.Labels, error) {
	bad := func(why string) (model.Labels, error) {
		return model.Labels{}, fmt.Errorf("bad series %q: %s", s, why)
	}
	var pairs []model.Label
	rest := s
	if n := nameLen(rest); n > 0 {
		pairs = append(pairs, model.Label{Name: model.MetricName, Value: rest[:n]})
		rest = rest[n:]
	}
	if rest == "" {
		if len(pairs) == 0 {
			return bad("no metric name or labels")
		}
		return model.New(pairs...)
	}
	if rest[0] != '{' || rest[len(rest)-1] != '}' {
		return bad("want name{label=\"value\", …}")
	}
	rest = strings.TrimSpace(rest[1 : len(rest)-1])
	for rest != "" {
		name, quoted, r, err := labelToken(rest)
		if err != nil {
			return bad(err.Error())
		}
		rest = strings.TrimSpace(r)
		if rest == "" || rest[0] == ',' {
			// A lone quoted string is the metric name.
			if !quoted {
				return bad("label " + name + " without a value")
			}
			pairs = append(pairs, model.Label{Name: model.MetricName, Value: name})
		} else {
			if rest[0] != '=' {
				return bad("want = after label " + name)
			}
			rest = strings.TrimSpace(rest[1:])
			q := stringLen(rest)
			if q == 0 {
				return bad("want a quoted value after " + name + "=")
			}
			v, err := parser.Unquote(rest[:q])
			if err != nil {
				return bad(err.Error())
			}
			pairs = append(pairs, model.Label{Name: name, Value: v})
			rest = strings.TrimSpace(rest[q:])
		}
		if rest != "" {
			if rest[0] != ',' {
				return bad("want , between labels")
			}
			rest = strings.TrimSpace(rest[1:])
		}
	}
	ls, err := model.New(pairs...)
	if err != nil {
		return bad(err.Error())
	}
	return ls, nil
}

// labelToken reads a label name at the start of s, unquoted or quoted.
func labelToken(s string) (name string, quoted bool, rest string, err error) {
	if q := stringLen(s); q > 0 {
		name, err = parser.Unquote(s[:q])
		return name, true, s[q:], err
	}
	if n := nameLen(s); n > 0 {
		return s[:n], false, s[n:], nil
	}
	return "", false, s, fmt.Errorf("want a label name at %q", s)
}

// nameLen is the length of the unquoted name at the start of s: letters
// (any script), digits, _ and :, and dots after the first character.
func nameLen(s string) int {
	n := 0
	for n < len(s) {
		r, w := utf8.DecodeRuneInString(s[n:])
		ok := r == '_' || r == ':' || unicode.IsLetter(r) || (n > 0 && (unicode.IsDigit(r) || r == '.'))
		if !ok {
			break
		}
		n += w
	}
	return n
}

// stringLen is the length of the quoted string at the start of s, 0 if
// there is none.
func stringLen(s string) int {
	if s == "" || !strings.ContainsRune("\"'`", rune(s[0])) {
		return 0
	}
	q := s[0]
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q != '`':
			i++
		case s[i] == q:
			return i + 1
		}
	}
	return 0
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
	case strings.HasPrefix(tok, "{{"):
		return expandHistogram(tok)
	}
	a, b, n, err := sequence(tok, seriesNumber)
	if err != nil {
		return nil, err
	}
	out := make([]seqValue, n+1)
	for i := range out {
		// Repeated addition, as Prometheus's series parser does, rounding
		// included: 0+0.99x100 must give the same floats there and here.
		out[i] = seqValue{v: a}
		a += b
	}
	return out, nil
}

// seriesNumber reads a value of a series line: a sign, then a number that
// is not hexadecimal (0x59 is 0 repeated 60 times), as Prometheus's series
// lexer reads them; -0 is negative zero.
func seriesNumber(s string) (float64, error) {
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") || strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("bad number %q", s)
	}
	f, err := parseNumber(s)
	if neg {
		f = -f
	}
	return f, err
}

// sequence reads a, axn, a+bxn or a-bxn with num reading a and b; axn is
// b = 0, a alone n = 0.
func sequence(tok string, num func(string) (float64, error)) (a, b float64, n int, err error) {
	if a, err = num(tok); err == nil {
		return a, 0, 0, nil
	}
	bad := fmt.Errorf("bad value %q", tok)
	x := strings.LastIndexByte(tok, 'x')
	if x < 0 {
		return 0, 0, 0, bad
	}
	if n, err = strconv.Atoi(tok[x+1:]); err != nil || n < 0 || n > maxExpand {
		return 0, 0, 0, bad
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
	if op < 0 {
		a, err = num(ab)
		if err != nil {
			return 0, 0, 0, bad
		}
		return a, 0, n, nil
	}
	var e1, e2 error
	a, e1 = num(ab[:op])
	b, e2 = num(ab[op+1:])
	if e1 != nil || e2 != nil {
		return 0, 0, 0, bad
	}
	if ab[op] == '-' {
		b = -b
	}
	return a, b, n, nil
}

// expandST reads an "@st" line's offsets: durations (-30s, 1ms, 0) in the
// same expanding notation (-1m-1mx2 is -1m -2m -3m), as milliseconds.
func expandST(toks []string) ([]seqValue, error) {
	var out []seqValue
	for _, tok := range toks {
		if tok == "_" || strings.HasPrefix(tok, "_x") {
			vs, err := expand(tok)
			if err != nil {
				return nil, err
			}
			out = append(out, vs...)
			continue
		}
		a, b, n, err := sequence(tok, func(s string) (float64, error) {
			d, err := parseTime(strings.TrimPrefix(s, "+"))
			return float64(d.Milliseconds()), err
		})
		if err != nil {
			return nil, fmt.Errorf("invalid ST item %q", tok)
		}
		for i := 0; i <= n; i++ {
			out = append(out, seqValue{v: a + float64(i)*b})
		}
	}
	return out, nil
}
