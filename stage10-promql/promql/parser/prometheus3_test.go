package parser

import (
	"errors"
	"strings"
	"testing"
)

// allOptions is the language with every feature: what Prometheus's own
// test suite parses with.
var allOptions = Options{ExperimentalFunctions: true, FillModifiers: true, UnquotedUTF8Names: true}

// TestSameTree: Prometheus 3's spellings parse to the same trees as their
// plain forms: keywords in any case, the number forms.
func TestSameTree(t *testing.T) {
	for _, c := range []struct{ in, same string }{
		{"SUM BY (job) (x)", "sum by (job) (x)"},
		{"Sum(x) WithOut (a)", "sum without (a) (x)"},
		{"AVG(x) BY (job)", "avg by (job) (x)"},
		{"x * ON (a) GROUP_LEFT y", "x * on(a) group_left y"},
		{"x AND ON (a) y", "x and on(a) y"},
		{"x OR y UNLESS z", "x or y unless z"},
		{"x ATAN2 y", "x atan2 y"},
		{"x > BOOL 1", "x > bool 1"},
		{"x * IGNORING (a) GROUP_RIGHT (b) y", "x * ignoring(a) group_right(b) y"},
		{"x OFFSET 5m @ START()", "x offset 5m @ start()"},
		{"1.", "1"},
		{"5./6.", "5 / 6"},
		{".5e1", "5"},
		{"0x10 + 0X1f", "16 + 31"},
		{"1_000", "1000"},
		{"0x_ff", "255"},
		{"017", "15"}, // octal, as Go and Prometheus read it
		{"018", "18"}, // not octal: a float
		{"iNf - NAN", "Inf - NaN"},
		{"x[2m + 3m]", "x[2m + 3m]"},
	} {
		a, err := allOptions.ParseExpr(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		b := MustParseExpr(c.same)
		if ta, tb := Tree(a), Tree(b); ta != tb {
			t.Errorf("%s parses to\n%s\nbut %s to\n%s", c.in, ta, c.same, tb)
		}
		checkRoundTripWith(t, allOptions, c.in)
	}
}

// TestNewSyntaxTrees: the shapes of duration expressions, extended
// selectors, fill modifiers and the trims.
func TestNewSyntaxTrees(t *testing.T) {
	for _, c := range []struct{ in, tree string }{
		// An offset takes one signed operand: the operators after it
		// apply to the selector.
		{"x offset 1m + 2", "BinaryExpr + :: instant vector\n  VectorSelector name=\"x\" {__name__=\"x\"} offset 1m :: instant vector\n  NumberLiteral 2 :: scalar\n"},
		{"x offset -2 ^ 2", "BinaryExpr ^ :: instant vector\n  VectorSelector name=\"x\" {__name__=\"x\"} offset -2s :: instant vector\n  NumberLiteral 2 :: scalar\n"},
		{"x offset -step() * 2", "BinaryExpr * :: instant vector\n  VectorSelector name=\"x\" {__name__=\"x\"} offset -step() :: instant vector\n  NumberLiteral 2 :: scalar\n"},
		{"x offset (2 * 2)", "VectorSelector name=\"x\" {__name__=\"x\"} offset (2 * 2) :: instant vector\n"},
		// In brackets, a whole expression, + - below * / % below ^.
		{"x[2m * (1 + 2)]", "MatrixSelector name=\"x\" {__name__=\"x\"} range=2m * (1 + 2) :: range vector\n"},
		{"x[1 + (STep() - 5) * 2]", "MatrixSelector name=\"x\" {__name__=\"x\"} range=1 + (step() - 5) * 2 :: range vector\n"},
		{"x[-5m + 35m]", "MatrixSelector name=\"x\" {__name__=\"x\"} range=-5m + 35m :: range vector\n"},
		{"x[1h:step()]", "SubqueryExpr range=1h step=step() :: range vector\n  VectorSelector name=\"x\" {__name__=\"x\"} :: instant vector\n"},
		{"x[min_of(1h, range()):MAX_OF(step(), 1m)] offset min_of(step(), 1s)", "SubqueryExpr range=min_of(1h, range()) step=max_of(step(), 1m) offset min_of(step(), 1s) :: range vector\n  VectorSelector name=\"x\" {__name__=\"x\"} :: instant vector\n"},
		{"rate(x[5m] anchored)", "Call rate :: instant vector\n  MatrixSelector name=\"x\" {__name__=\"x\"} anchored range=5m :: range vector\n"},
		{"x SMOOTHED", "VectorSelector name=\"x\" {__name__=\"x\"} smoothed :: instant vector\n"},
		{"a + on(x) fill(0) b", "BinaryExpr + one-to-one on(x) include() fill (0) :: instant vector\n  VectorSelector name=\"a\" {__name__=\"a\"} :: instant vector\n  VectorSelector name=\"b\" {__name__=\"b\"} :: instant vector\n"},
		{"a + fill_right(-1) FILL_LEFT(2) b", "BinaryExpr + one-to-one ignoring() include() fill_left (2) fill_right (-1) :: instant vector\n  VectorSelector name=\"a\" {__name__=\"a\"} :: instant vector\n  VectorSelector name=\"b\" {__name__=\"b\"} :: instant vector\n"},
		// fill without "(" is a name.
		{"a + fill", "BinaryExpr + one-to-one ignoring() include() :: instant vector\n  VectorSelector name=\"a\" {__name__=\"a\"} :: instant vector\n  VectorSelector name=\"fill\" {__name__=\"fill\"} :: instant vector\n"},
		{"a </ 1 >/ 2", "BinaryExpr >/ :: instant vector\n  BinaryExpr </ :: instant vector\n    VectorSelector name=\"a\" {__name__=\"a\"} :: instant vector\n    NumberLiteral 1 :: scalar\n  NumberLiteral 2 :: scalar\n"},
		{`http.requests{service.name="a"}`, "VectorSelector name=\"http.requests\" {\"service.name\"=\"a\", __name__=\"http.requests\"} :: instant vector\n"},
		{`info(up, {version=~".*"})`, "Call info :: instant vector\n  VectorSelector name=\"up\" {__name__=\"up\"} :: instant vector\n  VectorSelector name=\"\" {version=~\".*\"} :: instant vector\n"},
	} {
		e, err := allOptions.ParseExpr(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if got := Tree(e); got != c.tree {
			t.Errorf("Tree(%s) =\n%s\nwant\n%s", c.in, got, c.tree)
		}
		checkRoundTripWith(t, allOptions, c.in)
	}
}

// TestFeatureErrors: what each option admits, and Prometheus's errors
// without it (compare/ checks these texts against Prometheus's parser).
func TestFeatureErrors(t *testing.T) {
	for _, c := range []struct{ in, off string }{
		{"limitk(1, x)", `1:1: parse error: limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions`},
		{"limit_ratio(0.5, x)", `1:1: parse error: limit_ratio() is experimental and must be enabled with --enable-feature=promql-experimental-functions`},
		{`sort_by_label(x, "a")`, `1:1: parse error: function "sort_by_label" is not enabled`},
		{"mad_over_time(x[5m])", `1:1: parse error: function "mad_over_time" is not enabled`},
		{"vector(step())", `1:8: parse error: function "step" is not enabled`},
		{"a + on(x) fill(0) b", `1:1: parse error: binop fill modifiers are experimental and not enabled`},
		{"http.requests", `1:5: parse error: unexpected character: '.'`},
		{`{a.b="c"}`, `1:3: parse error: unexpected character inside braces: '.'`},
		{"sum by (温度) (x)", `1:9: parse error: unexpected character: '温'`},
	} {
		_, err := ParseExpr(c.in)
		if err == nil || err.Error() != c.off {
			t.Errorf("ParseExpr(%s) = %v, want %s", c.in, err, c.off)
		}
		if !errors.Is(err, ErrParse) {
			t.Errorf("%s: %v does not wrap ErrParse", c.in, err)
		}
		if _, err := allOptions.ParseExpr(c.in); err != nil {
			t.Errorf("%s with every option: %v", c.in, err)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"holt_winters(x[5m], 0.5, 0.5)", `1:1: parse error: unknown function with name "holt_winters"`},
		{"x[5m] anchored smoothed", `1:1: parse error: anchored and smoothed modifiers cannot be used together`},
		{"x[1h:5m] anchored", `1:1: parse error: anchored modifier is not supported for subqueries`},
		{"x[5m / 0]", `1:6: parse error: division by zero`},
		{"x[5m % (1 - 1)]", ""}, // not a literal: found when the query runs
		{"x[-5m]", `1:3: parse error: duration must be greater than 0`},
		{"a + fill(0) fill_left(1) b", `1:13: parse error: unexpected identifier "fill_left"`},
		{"1 + fill(0) x", `1:1: parse error: filling in missing series only allowed between instant vectors`},
		{"a and fill(0) b", `1:1: parse error: filling in missing series not allowed for set operators`},
		{"info(x, y)", `1:9: parse error: expected label selectors only, got vector selector instead`},
		{"info(x, vector(1))", `1:9: parse error: expected label selectors only`},
	} {
		_, err := allOptions.ParseExpr(c.in)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.in, err)
		case c.want != "" && (err == nil || err.Error() != c.want):
			t.Errorf("%s: got %v, want %s", c.in, err, c.want)
		}
	}
}

// FuzzRoundTripAll is FuzzRoundTrip with every option on, from the new
// syntax.
func FuzzRoundTripAll(f *testing.F) {
	for _, s := range []string{
		"x offset -step() * 2", "x[1 + (STep() - 5) * 2]", "x[1h:step()] offset min_of(step(), 1s)",
		"rate(x[5m] anchored)", "x smoothed", "a + on(x) fill(0) b", "a + fill_right(-1) fill_left(2) b",
		"a </ 1 >/ 2", `http.requests{service.name="a"}`, `info(up, {version=~".*"})`, "SUM BY (a) (x) AND y",
		"0x_ff + 1_000 + 5./6.", "limitk(1, x)", "x[5m:] @ end()",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if strings.Count(in, "(") > 50 {
			return // deep nesting is the depth limit's business, not the printer's
		}
		checkRoundTripWith(t, allOptions, in)
	})
}
