package index

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSelector(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`metric`, `{__name__="metric"}`},
		{`metric{a="b",c=~"d.*"}`, `{__name__="metric", a="b", c=~"d.*"}`},
		{` metric { a = "b" , } `, `{__name__="metric", a="b"}`},
		{`{__name__="x"}`, `{__name__="x"}`},
		{`{__name__=~"x|y", __name__!="y"}`, `{__name__=~"x|y", __name__!="y"}`},
		{`cpu.usage{host!='server1'}`, `{__name__="cpu.usage", host!="server1"}`},
		{"{\"cpu.usage\", `re`!~`a\\d`}", `{__name__="cpu.usage", re!~"a\\d"}`},
		{`up{job="a\"b\n\u00e9"}`, `{__name__="up", job="a\"b\né"}`},
		{`{a="b", c=""}`, `{a="b", c=""}`},
		{`ns:rate5m{x="1"}`, `{__name__="ns:rate5m", x="1"}`},
	} {
		ms, err := ParseSelector(c.in)
		if err != nil {
			t.Errorf("ParseSelector(%q): %v", c.in, err)
			continue
		}
		if got := fmtMatchers(ms); got != c.want {
			t.Errorf("ParseSelector(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestParseSelectorErrors(t *testing.T) {
	for _, c := range []struct {
		in  string
		pos int // 1-based column in the message
		msg string
	}{
		{``, 1, "expected a metric name"},
		{`{}`, 1, "at least one matcher that does not match the empty string"},
		{`{a=""}`, 1, "at least one matcher"},
		{`{a!="x"}`, 1, "at least one matcher"},
		{`metric{a="b"`, 13, `expected "," or "}"`},
		{`metric{a="b" c="d"}`, 14, `expected "," or "}"`},
		{`metric{a:"b"}`, 9, "expected one of =, !=, =~, !~"},
		{`metric{a=b}`, 10, "expected a quoted value"},
		{`metric{a="b}`, 10, "unterminated string"},
		{`metric{a=~"("}`, 11, "missing closing )"},
		{`metric{a="\q"}`, 11, "invalid escape"},
		{`metric{9="b"}`, 8, "expected a label name"},
		{`metric{__name__="y"}`, 8, "metric name set twice"},
		{`{"a", "b"}`, 7, "metric name set twice"},
		{`{__name__="a", "b"}`, 16, "metric name set twice"},
		{`metric{a="b"} x`, 15, "unexpected"},
		{`metric x`, 8, "unexpected"},
		{`{""}`, 2, "empty metric name"},
		{`{""="x"}`, 2, "empty label name"},
	} {
		_, err := ParseSelector(c.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("ParseSelector(%q): error %v, want a *ParseError", c.in, err)
			continue
		}
		if pe.Pos+1 != c.pos || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("ParseSelector(%q): %v; want col %d, %q", c.in, err, c.pos, c.msg)
		}
	}
}

func TestParseQuery(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`region=us-east`, `{region="us-east"}`},
		{`region=us-east AND env=production`, `{region="us-east", env="production"}`},
		{`region=us-east and env!=production  AND service=~"api|web"`, `{region="us-east", env!="production", service=~"api|web"}`},
		{`env!=production`, `{env!="production"}`}, // exclusion-only queries are allowed here
		{`region = "us east"`, `{region="us east"}`},
		{`instance=~host-1.*`, `{instance=~"host-1.*"}`},
		{`metric`, `{__name__="metric"}`},
		{`metric{a="b"}`, `{__name__="metric", a="b"}`},
		{`{env!="prod"}`, `{env!="prod"}`},
	} {
		ms, err := ParseQuery(c.in)
		if err != nil {
			t.Errorf("ParseQuery(%q): %v", c.in, err)
			continue
		}
		if got := fmtMatchers(ms); got != c.want {
			t.Errorf("ParseQuery(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in  string
		pos int
		msg string
	}{
		{`region=us-east OR env=prod`, 16, `expected AND or end of query, found "OR"`},
		{`region=us-east AND`, 19, "expected a space after AND"},
		{`region=us-east AND `, 20, "expected a label name"},
		{`region us-east`, 8, "expected one of"},
		{`region=~(`, 9, "missing closing )"},
		{`=x`, 1, "expected a label name"},
	} {
		_, err := ParseQuery(c.in)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Pos+1 != c.pos || !strings.Contains(pe.Msg, c.msg) {
			t.Errorf("ParseQuery(%q): %v; want col %d, %q", c.in, err, c.pos, c.msg)
		}
	}
}

func TestParseErrorCaret(t *testing.T) {
	_, err := ParseSelector(`m{a="é",b:"c"}`)
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatal(err)
	}
	// The caret counts characters, not bytes: é is two bytes.
	if got, want := pe.Caret(), "m{a=\"é\",b:\"c\"}\n         ^"; got != want {
		t.Fatalf("Caret:\n%s\nwant\n%s", got, want)
	}
}

// FuzzParseSelector: no input panics; an accepted selector printed back
// with Matcher.String parses to the same matchers.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{`metric`, `metric{a="b",c=~"d.*"}`, `{__name__="x"}`, `{"a.b", c!~'x'}`,
		"m{a=`raw`}", `m{a="\u00e9\x41"}`, `{a=""}`, `m{`, `m{a=~"("}`, `region=us-east AND env=production`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, parse := range []func(string) ([]*Matcher, error){ParseSelector, ParseQuery} {
			ms, err := parse(s)
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Pos < 0 || pe.Pos > len(s) {
					t.Fatalf("%q: error %v is not a positioned ParseError", s, err)
				}
				continue
			}
			printed := fmtMatchers(ms)
			var parts []string
			for _, m := range ms {
				parts = append(parts, m.String())
			}
			again, err := ParseQuery("{" + strings.Join(parts, ",") + "}")
			if err != nil {
				t.Fatalf("%q → %s does not parse back: %v", s, printed, err)
			}
			if fmtMatchers(again) != printed {
				t.Fatalf("%q → %s → %s", s, printed, fmtMatchers(again))
			}
		}
	})
}
