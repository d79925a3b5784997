package notify

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// ErrBadMatcher wraps every matcher syntax error.
var ErrBadMatcher = errors.New("bad matcher")

// Matcher is one label matcher of a route, an inhibition rule or a silence:
// name, operator (=, !=, =~, !~) and value; regular expressions are anchored.
// Matching is stage05's (a missing label matches as "").
type Matcher struct{ m *index.Matcher }

// NewMatcher builds a matcher.
func NewMatcher(t index.MatchType, name, value string) (*Matcher, error) {
	m, err := index.NewMatcher(t, name, value)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMatcher, err)
	}
	return &Matcher{m}, nil
}

func (m *Matcher) Name() string          { return m.m.Name() }
func (m *Matcher) Value() string         { return m.m.Value() }
func (m *Matcher) Type() index.MatchType { return m.m.Type() }

// Matches reports whether l's value of the name matches.
func (m *Matcher) Matches(l model.Labels) bool { return m.m.Matches(l.Get(m.m.Name())) }

// String prints the matcher as Alertmanager does: name="value", the name
// quoted when it holds characters the syntax reserves.
func (m *Matcher) String() string {
	name := m.Name()
	if strings.ContainsFunc(name, isReserved) {
		return strconv.Quote(name) + m.Type().String() + strconv.Quote(m.Value())
	}
	return name + m.Type().String() + `"` + escaper.Replace(m.Value()) + `"`
}

var escaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func isReserved(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune("{}!=~,\\\"'`", r) }

// Matchers match when all of them do.
type Matchers []*Matcher

// Matches reports whether every matcher matches l.
func (ms Matchers) Matches(l model.Labels) bool {
	for _, m := range ms {
		if !m.Matches(l) {
			return false
		}
	}
	return true
}

// String is {a="b",c=~"d"}: a route's part of a group key.
func (ms Matchers) String() string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// sort orders matchers by name, value, then operator, as Alertmanager
// does, so that a route's key does not depend on how its matchers were
// written.
func (ms Matchers) sort() {
	slices.SortFunc(ms, func(a, b *Matcher) int {
		if c := strings.Compare(a.Name(), b.Name()); c != 0 {
			return c
		}
		if c := strings.Compare(a.Value(), b.Value()); c != 0 {
			return c
		}
		return int(a.Type()) - int(b.Type())
	})
}

// ParseMatchers reads one or more matchers in Alertmanager's syntax, the
// form of `matchers:` items in a configuration and of `silence add`
// arguments: `severity="critical"`, `job=~"api|web"`, `env!=prod` (an
// unquoted value runs to the next comma), several separated by commas,
// optionally inside braces.
func ParseMatchers(s string) (Matchers, error) {
	orig := s
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") {
		if !strings.HasSuffix(s, "}") {
			return nil, fmt.Errorf("%w: %s: missing closing '}'", ErrBadMatcher, orig)
		}
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	var out Matchers
	for s != "" {
		m, rest, err := parseOne(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadMatcher, orig, err)
		}
		out = append(out, m)
		rest = strings.TrimSpace(rest)
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return nil, fmt.Errorf("%w: %s: expected a comma or the end after %s", ErrBadMatcher, orig, m)
		}
		s = strings.TrimSpace(rest[1:])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %q: no matchers", ErrBadMatcher, orig)
	}
	return out, nil
}

// parseOne reads one matcher at the start of s and returns what follows.
func parseOne(s string) (*Matcher, string, error) {
	var name string
	if s[0] == '"' {
		n, rest, err := readQuoted(s)
		if err != nil {
			return nil, "", err
		}
		name, s = n, rest
	} else {
		i := strings.IndexFunc(s, func(r rune) bool { return strings.ContainsRune("=!~", r) || unicode.IsSpace(r) })
		if i <= 0 {
			return nil, "", fmt.Errorf("expected a label name in %q", s)
		}
		name, s = s[:i], s[i:]
	}
	s = strings.TrimSpace(s)
	var t index.MatchType
	switch {
	case strings.HasPrefix(s, "=~"):
		t, s = index.MatchRegexp, s[2:]
	case strings.HasPrefix(s, "!~"):
		t, s = index.MatchNotRegexp, s[2:]
	case strings.HasPrefix(s, "!="):
		t, s = index.MatchNotEqual, s[2:]
	case strings.HasPrefix(s, "="):
		t, s = index.MatchEqual, s[1:]
	default:
		return nil, "", fmt.Errorf("expected an operator (=, !=, =~, !~) after %q", name)
	}
	s = strings.TrimSpace(s)
	var value string
	if strings.HasPrefix(s, `"`) {
		v, rest, err := readQuoted(s)
		if err != nil {
			return nil, "", err
		}
		value, s = v, rest
	} else {
		i := strings.IndexByte(s, ',')
		if i < 0 {
			i = len(s)
		}
		value, s = strings.TrimSpace(s[:i]), s[i:]
		if strings.ContainsFunc(value, isReserved) {
			return nil, "", fmt.Errorf("unquoted value %q holds a reserved character; quote it", value)
		}
	}
	m, err := NewMatcher(t, name, value)
	if err != nil {
		return nil, "", err
	}
	return m, s, nil
}

// readQuoted reads a Go-style double-quoted string at the start of s.
func readQuoted(s string) (string, string, error) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			v, err := strconv.Unquote(s[:i+1])
			if err != nil {
				return "", "", fmt.Errorf("bad quoted string %s", s[:i+1])
			}
			return v, s[i+1:], nil
		}
	}
	return "", "", fmt.Errorf("unterminated quoted string %s", s)
}
