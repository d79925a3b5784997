package compare

import (
	"strings"
	"testing"

	promparser "github.com/prometheus/prometheus/promql/parser"
	ourparser "github.com/tsdb-course/stage10-promql/promql/parser"
)

// TestPrintMatchesPrometheus: Prometheus 3's newer syntax (keyword case,
// number forms, duration expressions, anchored/smoothed selectors, fill
// modifiers, trim operators, UTF-8 names, experimental functions) prints
// as Prometheus prints it, on one line (String) and formatted (Pretty),
// with every parser option on in both.
func TestPrintMatchesPrometheus(t *testing.T) {
	long := `http_requests_total{job="api-server",instance="10.0.0.1:8080",method="GET"}`
	popts := promparser.Options{EnableExperimentalFunctions: true, EnableBinopFillModifiers: true, EnableUnquotedUTF8Names: true}
	oopts := ourparser.Options{ExperimentalFunctions: true, FillModifiers: true, UnquotedUTF8Names: true}
	for _, q := range []string{
		`SUM BY (job) (x) AND ON (job) Y`,
		`AVG(x) BY (job)`,
		`1. + 5./6. + 0x1F + 1_000 + 1e3 + Inf - NaN`,
		`x[5m+1m] offset -(1m)`,
		`rate(x[step() * 2])`,
		`max_over_time(x[1h:step()])`,
		`x[min_of(5m, 2h)] @ end()`,
		`{"foo"} + {"a.b", c="d"} + {"x", __name__="y"}`,
		`sum by ("a.b", ä) (x{"ä"="1"}) + on ("a.b") fill (1e6) -y`,
		`x + -Inf + NaN + 1e-7 + 1e21`,
		`x offset (1h / 2)`,
		`rate(x[5m] anchored) + increase(y[5m] smoothed)`,
		`x smoothed`,
		`a + on (x) fill(0) b`,
		`a * ignoring (y) group_left (z) fill_left(1) fill_right(2) b`,
		`a / fill_right(NaN) b`,
		`a </ 5 >/ b`,
		`{"a.b", c="d"} + a.b{c="d"}`,
		`limitk(2, x) or limit_ratio(0.5, y)`,
		`double_exponential_smoothing(x[5m], 0.5, 0.5)`,
		`sort_by_label_desc(x, "a", "b")`,
		`info(x, {k8s_cluster_name=~".+"})`,
		`ts_of_max_over_time(x[5m]) - mad_over_time(y[5m])`,
		`histogram_quantiles(x, "q", 0.5, 0.9)`,
		`sum by (job) (rate(` + long + `[5m] anchored)) / on (job) fill(0) sum by (job) (rate(` + long + `[5m:step()]))`,
		`max_over_time(sum by (job, instance, method) (rate(` + long + `[5m+5m]))[1h:1m] offset -(5m))`,
	} {
		pe, err := promparser.NewParser(popts).ParseExpr(q)
		if err != nil {
			t.Errorf("Prometheus cannot parse %s: %v", q, err)
			continue
		}
		oe, err := oopts.ParseExpr(q)
		if err != nil {
			t.Errorf("stage10 cannot parse %s: %v", q, err)
			continue
		}
		if got, want := oe.String(), pe.String(); got != want {
			t.Errorf("%s printed:\n  stage10:    %s\n  Prometheus: %s", q, got, want)
		}
		if got, want := ourparser.Pretty(oe), promparser.Prettify(pe); got != want {
			t.Errorf("%s formatted:\n--- stage10\n%s\n--- Prometheus\n%s", q, got, want)
		} else if strings.Contains(got, "\n") {
			if back, err := oopts.ParseExpr(got); err != nil || back.String() != oe.String() {
				t.Errorf("%s: the formatted query does not parse back alike: %v", q, err)
			}
		}
	}
}
