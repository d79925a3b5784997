package compare

import (
	"testing"

	promparser "github.com/prometheus/prometheus/promql/parser"
	ourparser "github.com/tsdb-course/stage10-promql/promql/parser"
)

// TestPrettyMatchesPrometheus: stage10's Pretty (what /api/v1/format_query
// answers) prints every query as Prometheus's own Prettify does, short
// ones on one line and long ones split by the same rules.
func TestPrettyMatchesPrometheus(t *testing.T) {
	long := `http_requests_total{job="api-server",instance="10.0.0.1:8080",method="GET",status="200",handler="/api/v1/query"}`
	for _, q := range []string{
		`sum by (job) (rate(http_requests_total[5m]))`,
		`a * on (x) group_left (y, z) b`,
		`a / ignoring (x) group_right () b`,
		`a > bool 1`,
		`sum by (method, status, handler, instance, job) (rate(http_requests_total{job="api-server",method="GET"}[5m]))`,
		`histogram_quantile(0.99, sum by (le, job, instance, handler) (rate(http_request_duration_seconds_bucket{job="api-server"}[5m])))`,
		`topk(5, sum without (instance, pod, container, namespace, node) (rate(container_cpu_usage_seconds_total{image!=""}[5m])))`,
		`sum(rate(http_requests_total{status=~"5.."}[5m])) / on (job) group_left (team, owner) sum(rate(http_requests_total[5m])) * 100 > bool 5`,
		`-(` + long + ` - ` + long + `)`,
		`max_over_time(sum by (job, instance, method) (rate(http_requests_total{job="api-server",status!="500"}[5m]))[1h:1m])`,
		`label_replace(` + long + `, "dst", "$1", "instance", "(.*):.*")`,
		long + ` offset 5m`,
		`(` + long + ` + ` + long + `) / 2`,
		`count_values("version", build_info{job="api-server",instance="10.0.0.1:8080",version!="",goversion!=""})`,
		`avg(` + long + `) unless on (instance) ` + long,
	} {
		pe, err := promparser.NewParser(promparser.Options{}).ParseExpr(q)
		if err != nil {
			t.Fatalf("Prometheus cannot parse %s: %v", q, err)
		}
		oe, err := ourparser.ParseExpr(q)
		if err != nil {
			t.Fatalf("stage10 cannot parse %s: %v", q, err)
		}
		want, got := promparser.Prettify(pe), ourparser.Pretty(oe)
		if got != want {
			t.Errorf("%s:\n--- stage10\n%s\n--- Prometheus\n%s", q, got, want)
		}
		// The formatted query means the same: it parses to the same tree.
		back, err := ourparser.ParseExpr(got)
		if err != nil || back.String() != oe.String() {
			t.Errorf("%s: the formatted query does not parse back alike: %v", q, err)
		}
	}
}
