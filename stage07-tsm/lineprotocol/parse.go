package lineprotocol

import (
	"fmt"
	"math"
	"strconv"
	"unsafe"
)

// Parse parses one line (without its newline; a trailing \r is ignored) into
// p, reusing p's slices. Errors are *SyntaxError with Line 0.
//
// The parser is a single left-to-right scan with one function per section
// (measurement, tag set, field set, timestamp). Each section ends at the
// first unescaped delimiter of that section, which is why the escape rules
// differ: a comma ends a tag but not a string field.
//
// Most lines have no escapes and no string fields; fastParse takes those
// (see fast.go) and leaves every other line, and every line it finds
// anything wrong with, to the scan, which also words the errors.
func Parse(line []byte, p *Point) error {
	if fastParse(line, p) {
		return nil
	}
	ps := parser{line: line, p: p}
	return ps.parse()
}

type parser struct {
	line []byte
	i    int
	p    *Point
}

func (ps *parser) errf(col int, format string, a ...any) error {
	return &SyntaxError{Column: col + 1, Msg: fmt.Sprintf(format, a...)}
}

func (ps *parser) parse() error {
	p := ps.p
	line := ps.line
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
		ps.line = line
	}
	p.Key, p.Measurement, p.Tags, p.Fields, p.Time, p.HasTime = nil, nil, p.Tags[:0], p.Fields[:0], 0, false
	p.buf = p.buf[:0]
	// Names that need unescaping are copied into p.buf; reserving the line's
	// length up front means buf never moves while slices point into it.
	if cap(p.buf) < len(line) {
		p.buf = make([]byte, 0, len(line))
	}

	if err := ps.key(); err != nil {
		return err
	}
	if err := ps.spaces("a space before the fields"); err != nil {
		return err
	}
	for {
		if err := ps.field(); err != nil {
			return err
		}
		if ps.i < len(line) && line[ps.i] == ',' {
			ps.i++
			continue
		}
		break
	}
	if ps.i == len(line) {
		return nil
	}
	if line[ps.i] != ' ' {
		return ps.errf(ps.i, "unexpected %q after field value", line[ps.i])
	}
	ps.skipSpaces()
	if ps.i == len(line) {
		return nil // trailing whitespace, no timestamp
	}
	return ps.timestamp()
}

// key parses the measurement and the tag set.
func (ps *parser) key() error {
	line, p := ps.line, ps.p
	if len(line) == 0 {
		return ps.errf(0, "empty line")
	}
	if line[0] == ' ' {
		return ps.errf(0, "line starts with whitespace, expected a measurement")
	}
	if line[0] == '#' {
		return ps.errf(0, "comment line, not a point")
	}
	m, err := ps.name(measurementDelims, "measurement")
	if err != nil {
		return err
	}
	p.Measurement = m
	for ps.i < len(line) && line[ps.i] == ',' {
		ps.i++
		if err := ps.tag(); err != nil {
			return err
		}
	}
	p.Key = line[:ps.i]
	return nil
}

// ParseKey parses a series key, the measurement and tag set of a line as
// Point.Key holds it, into p's Key, Measurement and Tags (Fields are
// emptied). Errors are *SyntaxError with Line 0.
func ParseKey(key []byte, p *Point) error {
	p.Key, p.Measurement, p.Tags, p.Fields, p.Time, p.HasTime = nil, nil, p.Tags[:0], p.Fields[:0], 0, false
	p.buf = p.buf[:0]
	if cap(p.buf) < len(key) {
		p.buf = make([]byte, 0, len(key))
	}
	ps := parser{line: key, p: p}
	if err := ps.key(); err != nil {
		return err
	}
	if ps.i != len(key) {
		return ps.errf(ps.i, "unexpected %q after the tag set", key[ps.i])
	}
	return nil
}

// delimiter sets: which unescaped bytes end a name.
type delims uint8

const (
	measurementDelims delims = iota // , and space
	keyDelims                       // , = and space
)

func isDelim(d delims, c byte) bool {
	switch c {
	case ',', ' ':
		return true
	case '=':
		return d == keyDelims
	}
	return false
}

// stops marks, per delimiter set, the bytes at which name's fast loop
// stops to look: the delimiters and the backslash. One table lookup per
// byte instead of a chain of comparisons is most of the parser's speed:
// names are most of a line.
var stops = func() (t [2][256]bool) {
	for d := range t {
		t[d][','], t[d][' '], t[d]['\\'] = true, true, true
	}
	t[keyDelims]['='] = true
	return t
}()

// name scans a measurement, tag key, tag value or field key up to the next
// unescaped delimiter and returns it unescaped. Only the section's
// delimiters may be escaped; a backslash before anything else is literal.
func (ps *parser) name(d delims, what string) ([]byte, error) {
	line := ps.line
	start, i := ps.i, ps.i
	stop := &stops[d]
	escaped := false
	for i < len(line) {
		c := line[i]
		if !stop[c] {
			i++
			continue
		}
		if c == '\\' {
			if i+1 < len(line) && isEscapable(d, line[i+1]) {
				escaped = true
				i += 2
			} else {
				i++
			}
			continue
		}
		break
	}
	ps.i = i
	if i == start {
		if i < len(line) {
			return nil, ps.errf(i, "expected %s, got %q", what, line[i])
		}
		return nil, ps.errf(i, "expected %s, got end of line", what)
	}
	raw := line[start:i]
	if !escaped {
		return raw, nil
	}
	return ps.unescape(raw, d), nil
}

func isEscapable(d delims, c byte) bool {
	switch c {
	case ',', ' ':
		return true
	case '=':
		return d == keyDelims
	}
	return false
}

// unescape copies raw into p.buf without the escaping backslashes.
func (ps *parser) unescape(raw []byte, d delims) []byte {
	b := ps.p.buf
	start := len(b)
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' && i+1 < len(raw) && isEscapable(d, raw[i+1]) {
			i++
		}
		b = append(b, raw[i])
	}
	ps.p.buf = b
	return b[start:len(b):len(b)]
}

func (ps *parser) tag() error {
	k, err := ps.name(keyDelims, "tag key")
	if err != nil {
		return err
	}
	if ps.i >= len(ps.line) || ps.line[ps.i] != '=' {
		return ps.errf(ps.i, "expected = after tag key %q", k)
	}
	ps.i++
	v, err := ps.name(keyDelims, "tag value")
	if err != nil {
		return err
	}
	if ps.i < len(ps.line) && ps.line[ps.i] == '=' {
		return ps.errf(ps.i, "unescaped = in tag value %q", v)
	}
	ps.p.Tags = append(ps.p.Tags, Tag{Key: k, Value: v})
	return nil
}

func (ps *parser) spaces(what string) error {
	if ps.i >= len(ps.line) {
		return ps.errf(ps.i, "expected %s, got end of line", what)
	}
	if c := ps.line[ps.i]; c != ' ' {
		return ps.errf(ps.i, "expected %s, got %q", what, c)
	}
	ps.skipSpaces()
	if ps.i >= len(ps.line) {
		return ps.errf(ps.i, "expected a field, got end of line")
	}
	return nil
}

func (ps *parser) skipSpaces() {
	for ps.i < len(ps.line) && ps.line[ps.i] == ' ' {
		ps.i++
	}
}

func (ps *parser) field() error {
	k, err := ps.name(keyDelims, "field key")
	if err != nil {
		return err
	}
	if ps.i >= len(ps.line) || ps.line[ps.i] != '=' {
		return ps.errf(ps.i, "expected = after field key %q", k)
	}
	ps.i++
	v, err := ps.value()
	if err != nil {
		return err
	}
	ps.p.Fields = append(ps.p.Fields, Field{Key: k, Value: v})
	return nil
}

func (ps *parser) value() (Value, error) {
	line := ps.line
	if ps.i >= len(line) {
		return Value{}, ps.errf(ps.i, "expected a field value, got end of line")
	}
	if line[ps.i] == '"' {
		return ps.stringValue()
	}
	start, i := ps.i, ps.i
	for i < len(line) && line[i] != ',' && line[i] != ' ' {
		i++
	}
	ps.i = i
	tok := line[start:i]
	if len(tok) == 0 {
		return Value{}, ps.errf(start, "expected a field value, got %q", line[start])
	}
	v, ok := tokenValue(tok)
	if !ok {
		return Value{}, ps.errf(start, "%s", tokenError(tok))
	}
	return v, nil
}

// tokenValue reads an unquoted field value: a boolean, an integer (42i),
// an unsigned integer (42u) or a float.
func tokenValue(tok []byte) (Value, bool) {
	switch last := tok[len(tok)-1]; {
	case tok[0] == 't' || tok[0] == 'T' || tok[0] == 'f' || tok[0] == 'F':
		switch string(tok) {
		case "t", "T", "true", "True", "TRUE":
			return BoolValue(true), true
		case "f", "F", "false", "False", "FALSE":
			return BoolValue(false), true
		}
		return Value{}, false
	case last == 'i':
		n, ok := parseInt(tok[:len(tok)-1])
		return IntValue(n), ok
	case last == 'u':
		n, ok := parseUint(tok[:len(tok)-1])
		return UintValue(n), ok
	}
	f, ok := parseFloat(tok)
	return FloatValue(f), ok
}

// tokenError says why tokenValue refused tok.
func tokenError(tok []byte) string {
	switch last := tok[len(tok)-1]; {
	case last == 'i' && tok[0] != 't' && tok[0] != 'T' && tok[0] != 'f' && tok[0] != 'F':
		return fmt.Sprintf("invalid integer %q", tok)
	case last == 'u' && tok[0] != 't' && tok[0] != 'T' && tok[0] != 'f' && tok[0] != 'F':
		return fmt.Sprintf("invalid unsigned integer %q", tok)
	}
	return fmt.Sprintf("invalid field value %q (strings need double quotes)", tok)
}

// stringValue scans "…" where \" and \\ are escapes.
func (ps *parser) stringValue() (Value, error) {
	line := ps.line
	open := ps.i
	ps.i++
	start := ps.i
	escaped := false
	for ps.i < len(line) {
		c := line[ps.i]
		if c == '\\' && ps.i+1 < len(line) && (line[ps.i+1] == '"' || line[ps.i+1] == '\\') {
			escaped = true
			ps.i += 2
			continue
		}
		if c == '"' {
			raw := line[start:ps.i]
			ps.i++
			if ps.i < len(line) && line[ps.i] != ',' && line[ps.i] != ' ' {
				return Value{}, ps.errf(ps.i, "unexpected %q after string field", line[ps.i])
			}
			if !escaped {
				return StringValue(raw), nil
			}
			b := ps.p.buf
			s := len(b)
			for j := 0; j < len(raw); j++ {
				if raw[j] == '\\' && j+1 < len(raw) && (raw[j+1] == '"' || raw[j+1] == '\\') {
					j++
				}
				b = append(b, raw[j])
			}
			ps.p.buf = b
			return StringValue(b[s:len(b):len(b)]), nil
		}
		ps.i++
	}
	return Value{}, ps.errf(open, "unterminated string field")
}

func (ps *parser) timestamp() error {
	start := ps.i
	for ps.i < len(ps.line) && ps.line[ps.i] != ' ' {
		ps.i++
	}
	tok := ps.line[start:ps.i]
	n, ok := parseInt(tok)
	if !ok {
		return ps.errf(start, "invalid timestamp %q", tok)
	}
	ps.skipSpaces()
	if ps.i != len(ps.line) {
		return ps.errf(ps.i, "unexpected %q after timestamp", ps.line[ps.i])
	}
	ps.p.Time, ps.p.HasTime = n, true
	return nil
}

// parseInt parses an optionally signed decimal int64 without allocating.
func parseInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	u, ok := parseUint(b)
	if !ok {
		return 0, false
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// parseUint parses a decimal uint64 (digits only) without allocating.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		d := uint64(c - '0')
		if d > 9 {
			return 0, false
		}
		if n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseFloat accepts decimal floats only: digits, one '.', an exponent.
// strconv alone would also take "NaN", "Inf", hex floats and underscores,
// none of which are line protocol.
func parseFloat(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	digits := false
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' || c == 'e' || c == 'E':
		case c == '-' || c == '+':
			if i != 0 && b[i-1] != 'e' && b[i-1] != 'E' {
				return 0, false
			}
		default:
			return 0, false
		}
	}
	if !digits {
		return 0, false
	}
	if n, ok := parseInt(b); ok && n > -1<<53 && n < 1<<53 && (n != 0 || b[0] != '-') {
		return float64(n), true // the common case, exact and fast
	}
	f, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
