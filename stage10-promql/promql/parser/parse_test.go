package parser

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// canonical lists queries with the canonical text String must print for
// them; every one of them must also survive the round trip.
var canonical = []struct{ in, want string }{
	// literals
	{"1", "1"},
	{"1.5e3", "1500"},
	{"0x1F", "31"},
	{".5", "0.5"},
	{"Inf", "Inf"},
	{"-inf", "-Inf"},
	{"NaN", "NaN"},
	{"1h30m", "5400"},
	{"-5m", "-300"},
	{`"a\"b"`, `"a\"b"`},
	{`'it''s'`, ""}, // two strings side by side: a syntax error, checked below
	{"`raw\\n`", `"raw\\n"`},
	{`'single "q"'`, `"single \"q\""`},
	{`"\u00e9\x41"`, `"éA"`},
	// selectors
	{"foo", "foo"},
	{"foo{}", "foo"},
	{`foo{a="b", c!="d", e=~"f.*", g!~"h"}`, `foo{a="b",c!="d",e=~"f.*",g!~"h"}`},
	{`{__name__=~"foo|bar"}`, `{__name__=~"foo|bar"}`},
	{`{"http.requests", a="b",}`, `{"http.requests",a="b"}`},
	{`{"foo"}`, `foo`},
	{`foo{"a.b"="c"}`, `foo{"a.b"="c"}`},
	{"job:rate5m:sum", "job:rate5m:sum"},
	{"foo[5m]", "foo[5m]"},
	{"foo[300]", "foo[5m]"},
	{"foo[1h30m]", "foo[1h30m]"},
	{"foo[90m]", "foo[1h30m]"},
	{"foo offset 5m", "foo offset 5m"},
	{"foo offset -1h", "foo offset -1h"},
	{"foo[5m] offset 1w", "foo[5m] offset 1w"},
	{"foo @ 1609746000", "foo @ 1609746000.000"},
	{"foo @ 1.5 offset 1m", "foo @ 1.500 offset 1m"},
	{"foo offset 1m @ 1.5", "foo @ 1.500 offset 1m"},
	{"foo[5m] @ start()", "foo[5m] @ start()"},
	{"foo @ end()", "foo @ end()"},
	// subqueries
	{"foo[5m:1m]", "foo[5m:1m]"},
	{"foo[5m:]", "foo[5m:]"},
	{"rate(foo[5m])[30m:1m] offset 10m", "rate(foo[5m])[30m:1m] offset 10m"},
	{"(a + b)[1h:5m] @ 100", "(a + b)[1h:5m] @ 100.000"},
	{"foo offset 5m [10m:1m]", "foo offset 5m[10m:1m]"},
	// operators and precedence
	{"1 + 2 * 3", "1 + 2 * 3"},
	{"(1 + 2) * 3", "(1 + 2) * 3"},
	{"a-b", "a - b"},
	{"a - -b", "a - -b"},
	{"-a", "-a"},
	{"+a", "+a"},
	{"2 ^ 3 ^ 2", "2 ^ 3 ^ 2"},
	{"a > bool 1", "a > bool 1"},
	{"1 == bool 1", "1 == bool 1"},
	{"a / on(x, y) b", "a / on (x, y) b"},
	{"a / on() b", "a / on () b"},
	{"a / ignoring(x) b", "a / ignoring (x) b"},
	{"a / ignoring() b", "a / b"},
	{"a * on(x) group_left(y, z) b", "a * on (x) group_left (y, z) b"},
	{"a * ignoring(x) group_right b", "a * ignoring (x) group_right () b"},
	{"a and on(x) b or c unless d", "a and on (x) b or c unless d"},
	{"a atan2 b", "a atan2 b"},
	{"a % 2", "a % 2"},
	// aggregations
	{"sum(foo)", "sum(foo)"},
	{"sum", "sum"},
	{"sum(sum)", "sum(sum)"},
	{"sum by (a, b) (foo)", "sum by (a, b) (foo)"},
	{"sum(foo) by (a)", "sum by (a) (foo)"},
	{"sum without (a) (foo)", "sum without (a) (foo)"},
	{"sum without () (foo)", "sum without () (foo)"},
	{"sum by () (foo)", "sum(foo)"},
	{"topk(5, foo)", "topk(5, foo)"},
	{"quantile by (le) (0.9, foo)", "quantile by (le) (0.9, foo)"},
	{`count_values("v", foo)`, `count_values("v", foo)`},
	{"sum by (on, by, bool) (foo)", "sum by (on, by, bool) (foo)"},
	// calls
	{"rate(foo[5m])", "rate(foo[5m])"},
	{"time()", "time()"},
	{"round(foo, 0.5)", "round(foo, 0.5)"},
	{`label_join(foo, "d", ",", "a", "b", "c")`, `label_join(foo, "d", ",", "a", "b", "c")`},
	{"histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))", "histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))"},
	{"day_of_week()", "day_of_week()"},
	// comments
	{"foo # the metric\n+ 1 # one", "foo + 1"},
}

func TestParseCanonical(t *testing.T) {
	for _, c := range canonical {
		if c.want == "" {
			continue
		}
		e, err := ParseExpr(c.in)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", c.in, err)
			continue
		}
		if got := e.String(); got != c.want {
			t.Errorf("ParseExpr(%q).String() = %q, want %q", c.in, got, c.want)
		}
		checkRoundTrip(t, c.in)
	}
}

// TestParseShapes checks the tree, not the text: precedence and
// associativity are invisible in a canonical string without parentheses.
func TestParseShapes(t *testing.T) {
	cases := []struct{ in, tree string }{
		{"1 - 2 - 3", "BinaryExpr - :: scalar\n  BinaryExpr - :: scalar\n    NumberLiteral 1 :: scalar\n    NumberLiteral 2 :: scalar\n  NumberLiteral 3 :: scalar\n"},
		{"2 ^ 3 ^ 2", "BinaryExpr ^ :: scalar\n  NumberLiteral 2 :: scalar\n  BinaryExpr ^ :: scalar\n    NumberLiteral 3 :: scalar\n    NumberLiteral 2 :: scalar\n"},
		{"-2 ^ 2", "UnaryExpr - :: scalar\n  BinaryExpr ^ :: scalar\n    NumberLiteral 2 :: scalar\n    NumberLiteral 2 :: scalar\n"},
		{"-a * b", "BinaryExpr * one-to-one ignoring() include() :: instant vector\n  UnaryExpr - :: instant vector\n    VectorSelector name=\"a\" {__name__=\"a\"} :: instant vector\n  VectorSelector name=\"b\" {__name__=\"b\"} :: instant vector\n"},
		{"a or b and c", "BinaryExpr or many-to-many ignoring() include() :: instant vector\n  VectorSelector name=\"a\" {__name__=\"a\"} :: instant vector\n  BinaryExpr and many-to-many ignoring() include() :: instant vector\n    VectorSelector name=\"b\" {__name__=\"b\"} :: instant vector\n    VectorSelector name=\"c\" {__name__=\"c\"} :: instant vector\n"},
		{"1 + 2 > bool 3 * 4", "BinaryExpr > bool :: scalar\n  BinaryExpr + :: scalar\n    NumberLiteral 1 :: scalar\n    NumberLiteral 2 :: scalar\n  BinaryExpr * :: scalar\n    NumberLiteral 3 :: scalar\n    NumberLiteral 4 :: scalar\n"},
	}
	for _, c := range cases {
		e, err := ParseExpr(c.in)
		if err != nil {
			t.Fatalf("ParseExpr(%q): %v", c.in, err)
		}
		if got := Tree(e); got != c.tree {
			t.Errorf("Tree(%q) =\n%s\nwant\n%s", c.in, got, c.tree)
		}
	}
}

func TestParseValues(t *testing.T) {
	e := MustParseExpr(`foo{a="b"}[1h30m] offset -5m @ 1.5`).(*MatrixSelector)
	if e.Range != 90*time.Minute || e.VectorSelector.Offset != -5*time.Minute || e.VectorSelector.At.Timestamp != 1500 {
		t.Errorf("matrix selector fields: %+v %+v", e, e.VectorSelector)
	}
	sq := MustParseExpr(`rate(x[1m])[1h:30s] @ end()`).(*SubqueryExpr)
	if sq.Range != time.Hour || sq.Step != 30*time.Second || sq.At.StartOrEnd != "end" {
		t.Errorf("subquery fields: %+v", sq)
	}
	n := MustParseExpr("-Inf").(*NumberLiteral)
	if !math.IsInf(n.Val, -1) || n.Start != 0 || n.End != 4 {
		t.Errorf("-Inf: %+v", n)
	}
	be := MustParseExpr("a + b").(*BinaryExpr)
	if be.Start != 0 || be.End != 5 || be.RHS.PositionRange().Start != 4 {
		t.Errorf("positions of a + b: %+v, rhs %+v", be.PosRange, be.RHS.PositionRange())
	}
}

// errorCases: the exact message, position included, for each kind of
// mistake the type checker and the grammar catch.
var errorCases = []struct{ in, want string }{
	{"rate(http_requests_total)", `1:6: parse error: expected type range vector in call to function "rate", got instant vector`},
	{"sum by (x) (rate(foo))", `1:18: parse error: expected type range vector in call to function "rate", got instant vector`},
	{"sum(x[5m])", `1:5: parse error: expected type instant vector in aggregation expression, got range vector`},
	{"abs(x[5m])", `1:5: parse error: expected type instant vector in call to function "abs", got range vector`},
	{"rate(x[5m], 1)", `1:1: parse error: expected 1 argument(s) in call to "rate", got 2`},
	{"round()", `1:1: parse error: expected at least 1 argument(s) in call to "round", got 0`},
	{"round(x, 1, 2)", `1:1: parse error: expected at most 2 argument(s) in call to "round", got 3`},
	{"label_join(x)", `1:1: parse error: expected at least 3 argument(s) in call to "label_join", got 1`},
	{"nosuch(x)", `1:1: parse error: unknown function with name "nosuch"`},
	{"topk(x)", `1:1: parse error: wrong number of arguments for aggregate expression provided, expected 2, got 1`},
	{`topk("a", x)`, `1:6: parse error: expected type scalar in aggregation parameter, got string`},
	{"count_values(1, x)", `1:14: parse error: expected type string in aggregation parameter, got scalar`},
	{"1 > 2", `1:3: parse error: comparisons between scalars must use BOOL modifier`},
	{"a + bool b", `1:3: parse error: bool modifier can only be used on comparison operators`},
	{"1 and x", `1:1: parse error: set operator "and" not allowed in binary scalar expression`},
	{"x[5m] + 1", `1:1: parse error: binary expression must contain only scalar and instant vector types`},
	{"1 + on(a) x", `1:1: parse error: vector matching only allowed between instant vectors`},
	{"a and on(x) group_left b", `1:1: parse error: no grouping allowed for "and" operation`},
	{"a * on(x) group_left(x) b", `1:3: parse error: label "x" must not occur in ON and GROUP clause at once`},
	{"-x[5m]", `1:1: parse error: unary expression only allowed on expressions of type scalar or instant vector, got "range vector"`},
	{"(foo)[5m]", `1:6: parse error: ranges only allowed for vector selectors`},
	{"foo offset 5m [5m]", `1:15: parse error: no offset modifiers allowed before range`},
	{"foo offset 1m offset 2m", `1:1: parse error: offset may not be set multiple times`},
	{"foo @ 1 @ 2", `1:1: parse error: @ <timestamp> may not be set multiple times`},
	{"(foo) offset 5m", `1:1: parse error: offset modifier must be preceded by an instant vector selector or range vector selector or a subquery`},
	{"x[5m][10m:]", `1:1: parse error: subquery is only allowed on instant vector, got matrix instead`},
	{`{a=""}`, `1:1: parse error: vector selector must contain at least one non-empty matcher`},
	{`{a=~".*"}`, `1:1: parse error: vector selector must contain at least one non-empty matcher`},
	{`foo{__name__="bar"}`, `1:1: parse error: metric name must not be set twice: "foo" or "bar"`},
	{`foo{a=~"("}`, "1:5: parse error: error parsing regexp: missing closing ): `(`"},
	{"foo[0s]", `1:5: parse error: duration must be greater than 0`},
	{"foo[5m30h]", `1:5: parse error: not a valid duration string: "5m30h"`},
	{"", `unknown position: parse error: no expression found in input`},
	{"# only a comment", `1:1: parse error: no expression found in input`},
	{"foo\n  + on", "2:5: parse error: unexpected \"on\": expected an expression"},
	// Syntax errors in Prometheus's words, not the grammar's node names.
	{"rate(cpu_usage", `1:15: parse error: unclosed left parenthesis`},
	{"sum by (a) (x[5m] # comment (", `1:30: parse error: unclosed left parenthesis`},
	{`foo{a="b"`, `1:10: parse error: unexpected end of input inside braces`},
	{`foo{a="}("`, `1:11: parse error: unexpected end of input inside braces`},
	{"foo[5m", `1:7: parse error: unclosed left bracket`},
	{"1 +", `1:4: parse error: unexpected end of input`},
	{"(1) + (2)) * 3", `1:10: parse error: unexpected ")"`},
	{"1 + * 2", `1:5: parse error: unexpected "*"`},
	{"foo{a=}", `1:6: parse error: unexpected "=", expected "}"`},
	{`foo{a="b" c="d"}`, `1:11: parse error: unexpected identifier "c", expected "}"`},
	{"rate(x[5m] 3)", `1:12: parse error: unexpected number "3"`},
}

func TestParseErrors(t *testing.T) {
	for _, c := range errorCases {
		_, err := ParseExpr(c.in)
		if err == nil {
			t.Errorf("ParseExpr(%q) succeeded, want %q", c.in, c.want)
			continue
		}
		if !errors.Is(err, ErrParse) {
			t.Errorf("ParseExpr(%q): error %v does not wrap ErrParse", c.in, err)
		}
		if err.Error() != c.want {
			t.Errorf("ParseExpr(%q)\n got %s\nwant %s", c.in, err, c.want)
		}
	}
}

// TestSyntaxErrors: inputs the grammar itself rejects; the message is
// participle's, so only the position and the prefix are checked.
func TestSyntaxErrors(t *testing.T) {
	for _, c := range []struct {
		in  string
		pos string
	}{
		{"foo{", "1:5:"},
		{"1 +", "1:4:"},
		{"sum(foo", "1:8:"},
		{`'it''s'`, "1:5:"},
		{"foo[5m", "1:7:"},
		{"a +* b", "1:4:"},
		{"sum by (a", "1:10:"},
		{"foo{a=}", "1:6:"},
		{"foo[5m:", "1:8:"},
		{"foo offset -", "1:13:"},
		{"foo @ -", "1:8:"},
		{"foo @ start(", "1:13:"},
		{"a / on(x) group_left(y", "1:23:"},
		{"rate(x,)", "1:7:"},
	} {
		_, err := ParseExpr(c.in)
		if err == nil || !strings.HasPrefix(err.Error(), c.pos+" parse error: ") {
			t.Errorf("ParseExpr(%q) = %v, want an error at %s", c.in, err, c.pos)
		}
	}
}

// checkRoundTrip: String() of the tree parses back to a tree that prints and
// explains identically (Tree shows every field that matters, no positions).
func checkRoundTrip(t testing.TB, in string) {
	t.Helper()
	e1, err := ParseExpr(in)
	if err != nil {
		return
	}
	s1 := e1.String()
	e2, err := ParseExpr(s1)
	if err != nil {
		t.Fatalf("%q printed as %q, which does not parse: %v", in, s1, err)
	}
	if s2 := e2.String(); s2 != s1 {
		t.Fatalf("%q printed as %q, then as %q", in, s1, s2)
	}
	if t1, t2 := Tree(e1), Tree(e2); t1 != t2 {
		t.Fatalf("%q and its printed form %q parse to different trees:\n%s\n%s", in, s1, t1, t2)
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, c := range canonical {
		f.Add(c.in)
	}
	for _, c := range errorCases {
		f.Add(c.in)
	}
	f.Add(`sum by (job) (rate(http_requests_total{status=~"5.."}[5m])) / ignoring(status) group_left sum(x) > bool 0.1`)
	f.Add("a unless b or c and d")
	f.Add("2 ^ -1 ^ 2")
	f.Fuzz(func(t *testing.T, in string) {
		checkRoundTrip(t, in)
	})
}

// query200 is a realistic 200-character query for the parse-time target.
const query200 = `sum by (job, instance) (rate(http_requests_total{job="api", status=~"5..", method!="OPTIONS"}[5m])) / ignoring(status) group_left sum by (job, instance) (rate(http_requests_total{job="api"}[5m])) > 0.05`

func BenchmarkParse200(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseExpr(query200); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(query200)), "chars")
}
