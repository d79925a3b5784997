package index

import (
	"fmt"
	"strconv"
)

// MatchType is the operator of a Matcher.
type MatchType uint8

// The four Prometheus matcher operators.
const (
	MatchEqual     MatchType = iota // =
	MatchNotEqual                   // !=
	MatchRegexp                     // =~
	MatchNotRegexp                  // !~
)

func (t MatchType) String() string {
	switch t {
	case MatchEqual:
		return "="
	case MatchNotEqual:
		return "!="
	case MatchRegexp:
		return "=~"
	case MatchNotRegexp:
		return "!~"
	}
	return fmt.Sprintf("MatchType(%d)", uint8(t))
}

// Matcher tests the value of one label, with Prometheus semantics:
//
//   - a series without the label is tested as if its value were "", so
//     env!="prod" and env=~"|dev" select series that have no env label, and
//     env="" selects exactly those;
//   - regular expressions are anchored at both ends (env=~"pro" does not
//     match "production") and '.' matches a newline.
//
// A Matcher is immutable and safe for concurrent use; build it with
// NewMatcher, which compiles the regular expression once.
type Matcher struct {
	typ   MatchType
	name  string
	value string
	pat   *pattern
}

// NewMatcher validates and compiles a matcher. The name must not be empty; a
// regular expression must compile (RE2 syntax, as in Go's regexp package).
func NewMatcher(t MatchType, name, value string) (*Matcher, error) {
	if name == "" {
		return nil, fmt.Errorf("index: matcher with an empty label name")
	}
	m := &Matcher{typ: t, name: name, value: value}
	switch t {
	case MatchEqual, MatchNotEqual:
		m.pat = literalPattern(value)
	case MatchRegexp, MatchNotRegexp:
		p, err := compilePattern(value)
		if err != nil {
			return nil, fmt.Errorf("index: matcher %s%s%s: %w", name, t, strconv.Quote(value), err)
		}
		m.pat = p
	default:
		return nil, fmt.Errorf("index: unknown match type %d", uint8(t))
	}
	return m, nil
}

// MustNewMatcher is NewMatcher for matchers written in source code; it panics
// on an error.
func MustNewMatcher(t MatchType, name, value string) *Matcher {
	m, err := NewMatcher(t, name, value)
	if err != nil {
		panic(err)
	}
	return m
}

// Type is the operator.
func (m *Matcher) Type() MatchType { return m.typ }

// Name is the label name tested.
func (m *Matcher) Name() string { return m.name }

// Value is the literal or the regular expression, as given.
func (m *Matcher) Value() string { return m.value }

// negative reports whether the operator inverts its pattern (!= and !~).
func (m *Matcher) negative() bool { return m.typ == MatchNotEqual || m.typ == MatchNotRegexp }

// Matches reports whether a label value satisfies the matcher; "" stands for
// an absent label.
func (m *Matcher) Matches(v string) bool { return m.pat.match(v) != m.negative() }

// String is the matcher as written in a selector: region=~"us-.*", or
// "odd name"="x" for a name that is not an identifier.
func (m *Matcher) String() string {
	name := m.name
	if !isLabelIdent(name) {
		name = strconv.Quote(name)
	}
	return name + m.typ.String() + strconv.Quote(m.value)
}
