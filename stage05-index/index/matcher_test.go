package index

import (
	"regexp"
	"slices"
	"testing"
)

func TestMatcherMatches(t *testing.T) {
	cases := []struct {
		t       MatchType
		value   string
		yes, no []string
	}{
		{MatchEqual, "prod", []string{"prod"}, []string{"", "production", "Prod"}},
		{MatchEqual, "", []string{""}, []string{"a"}},
		{MatchNotEqual, "prod", []string{"", "production"}, []string{"prod"}},
		{MatchRegexp, "prod", []string{"prod"}, []string{"production", "aprod", ""}}, // anchored both ends
		{MatchRegexp, "prod|dev", []string{"prod", "dev"}, []string{"", "prodev", "proddev"}},
		{MatchRegexp, "prod|", []string{"prod", ""}, []string{"p"}},
		{MatchRegexp, "a\\.b|c", []string{"a.b", "c"}, []string{"axb", "a\\.b"}},
		{MatchRegexp, "us-.*", []string{"us-", "us-east", "us-\nx"}, []string{"eu-west", "us"}}, // '.' matches newline
		{MatchRegexp, ".*", []string{"", "x", "\n"}, nil},
		{MatchRegexp, ".+", []string{"x", "\n"}, []string{""}},
		{MatchRegexp, "host-.*7", []string{"host-7", "host-0007"}, []string{"host-70", "xhost-7"}},
		{MatchRegexp, "(?i)PROD", []string{"prod", "PrOd"}, []string{"production"}},
		{MatchRegexp, "a.*|b", []string{"a", "abc", "b"}, []string{"bc"}},
		{MatchRegexp, "foo\\.*", []string{"foo", "foo..."}, []string{"foox"}}, // an escaped dot repeated, not a prefix
		{MatchNotRegexp, "d.*", []string{"", "prod"}, []string{"dev", "d"}},
		{MatchNotRegexp, ".*", nil, []string{"", "x"}},
	}
	for _, c := range cases {
		m, err := NewMatcher(c.t, "l", c.value)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range c.yes {
			if !m.Matches(v) {
				t.Errorf("%s should match %q", m, v)
			}
		}
		for _, v := range c.no {
			if m.Matches(v) {
				t.Errorf("%s should not match %q", m, v)
			}
		}
	}
}

func TestNewMatcherErrors(t *testing.T) {
	for _, c := range []struct {
		t           MatchType
		name, value string
	}{
		{MatchRegexp, "a", "("},
		{MatchRegexp, "a", "a)|(b"}, // would close our anchoring group
		{MatchNotRegexp, "a", "[z-a]"},
		{MatchEqual, "", "x"},
		{MatchType(9), "a", "x"},
	} {
		if m, err := NewMatcher(c.t, c.name, c.value); err == nil {
			t.Errorf("NewMatcher(%v, %q, %q) = %v, want an error", c.t, c.name, c.value, m)
		}
	}
}

func TestPatternKinds(t *testing.T) {
	for _, c := range []struct {
		expr   string
		kind   patternKind
		set    []string
		prefix string
	}{
		{".*", patAny, nil, ""},
		{".+", patNonEmpty, nil, ""},
		{"a|b|c", patSet, []string{"a", "b", "c"}, ""},
		{"b|a|b", patSet, []string{"a", "b"}, ""},
		{"prod", patSet, []string{"prod"}, ""},
		{"a\\.b|", patSet, []string{"", "a.b"}, ""},
		{"us-.*", patPrefix, nil, "us-"},
		{"us\\-east.*", patPrefix, nil, "us-east"},
		{"host-.*7", patGeneral, nil, "host-"},
		{"(host)-[0-9]+", patGeneral, nil, "host"},
		{"(?i)host.*", patGeneral, nil, ""},
		{"a\\d", patGeneral, nil, "a"},
		{"foo\\.*", patGeneral, nil, "foo"},
		{"a.*|b", patGeneral, nil, ""},
	} {
		p, err := compilePattern(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		if p.kind != c.kind || !slices.Equal(p.set, c.set) || p.prefix != c.prefix {
			t.Errorf("%q: kind %d set %q prefix %q; want %d %q %q", c.expr, p.kind, p.set, p.prefix, c.kind, c.set, c.prefix)
		}
	}
}

// FuzzPattern checks every fast path against the plain anchored regexp.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{".*", ".+", "a|b", "a|", "foo.*", "foo\\.*", "a\\.b.*", "host-.*7", "(?i)ab", "", "\\|", "x{2}", "é|e"} {
		f.Add(s, "foo")
		f.Add(s, "")
		f.Add(s, "a.b\n")
	}
	f.Fuzz(func(t *testing.T, expr, v string) {
		p, err := compilePattern(expr)
		re, rerr := regexp.Compile("^(?s:" + expr + ")$")
		if err != nil {
			if _, serr := regexp.Compile(expr); serr == nil && rerr == nil {
				t.Fatalf("%q rejected (%v) but compiles", expr, err)
			}
			return
		}
		if got, want := p.match(v), re.MatchString(v); got != want {
			t.Fatalf("pattern %q (kind %d) on %q: %v, regexp says %v", expr, p.kind, v, got, want)
		}
	})
}
