package cardinality

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// labelGen makes the i-th value of a synthetic label.
type labelGen struct {
	name  string
	bad   Kind // "" for a good label
	value func(rng *rand.Rand, i int) string
}

func pick(vals ...string) func(*rand.Rand, int) string {
	return func(rng *rand.Rand, _ int) string { return vals[rng.IntN(len(vals))] }
}

func hexN(rng *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[rng.IntN(16)]
	}
	return string(b)
}

// TestMilestone4_ActionableRecommendations: a labelled synthetic set —
// metrics whose labels are known good (bounded: method, status, instance
// addresses, le, region, cpu, mode …) or known bad, each bad one planted
// with its expected finding — goes through a Tracker; the analyzer gives
// every bad label exactly its finding (kind, severity, a recommendation)
// and no good label any, including a metric with many series made only of
// good labels. The labels' true kinds are the oracle; the thresholds are
// scaled down with the data (HighCardinality 2,000) to keep the test fast.
func TestMilestone4_ActionableRecommendations(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	instance := func(rng *rand.Rand, _ int) string { return fmt.Sprintf("10.0.%d.%d:9100", rng.IntN(2), rng.IntN(20)) }
	good := []labelGen{
		{name: "method", value: pick("GET", "POST", "PUT", "DELETE", "PATCH")},
		{name: "status", value: pick("200", "201", "301", "400", "404", "500")},
		{name: "instance", value: instance},
		{name: "region", value: pick("eu-west-1", "us-east-1", "ap-south-1")},
	}
	bad := map[string][]labelGen{
		"http_requests": {{name: "path", bad: HighCardinality, value: func(rng *rand.Rand, i int) string {
			return fmt.Sprintf("/api/users/%d/orders", 1000+i)
		}}},
		"container_cpu": {{name: "pod_id", bad: Ephemeral, value: func(rng *rand.Rand, i int) string {
			return fmt.Sprintf("checkout-%s-%s", hexN(rng, 9), hexN(rng, 5))
		}}},
		"container_mem": {{name: "container", bad: Ephemeral, value: func(rng *rand.Rand, i int) string { return hexN(rng, 64) }}},
		"conn_bytes": {{name: "peer", bad: Ephemeral, value: func(rng *rand.Rand, i int) string {
			return fmt.Sprintf("172.%d.%d.%d", rng.IntN(32), rng.IntN(256), rng.IntN(256))
		}}},
		"job_runs": {{name: "started", bad: Ephemeral, value: func(rng *rand.Rand, i int) string {
			return fmt.Sprint(1_760_000_000 + i*60)
		}}},
		"api_latency": {{name: "user_id", bad: Unbounded, value: func(rng *rand.Rand, i int) string { return fmt.Sprint(100000 + i) }}},
		"rpc_calls": {{name: "request_id", bad: Unbounded, value: func(rng *rand.Rand, i int) string {
			return fmt.Sprintf("%s-%s-4%s-a%s-%s", hexN(rng, 8), hexN(rng, 4), hexN(rng, 3), hexN(rng, 3), hexN(rng, 12))
		}}},
		"cart_items": {{name: "acct", bad: Unbounded, value: func(rng *rand.Rand, i int) string { return fmt.Sprint(5_000_000 + 7*i) }}},
		// A large but bounded vocabulary: ~2,400 distinct queries over 3,000
		// series (some repeat), too many to keep, not one per series.
		"search_hits": {{name: "query", bad: HighCardinality, value: func(rng *rand.Rand, i int) string {
			words := []string{"red", "blue", "shoe", "bag", "sale", "kids", "linen", "wool", "silk",
				"boot", "hat", "coat", "scarf", "belt", "sock", "tie", "cap", "vest"}
			return words[rng.IntN(18)] + " " + words[rng.IntN(18)] + " " + words[rng.IntN(18)]
		}}},
	}
	tr := NewTracker(TrackerOptions{})
	const perMetric = 3000
	exact := map[string]map[string]bool{} // metric/label → distinct values
	for metric, bads := range bad {
		for i := range perMetric {
			nv := []string{"__name__", metric}
			for _, g := range append(append([]labelGen{}, good[:2]...), bads...) {
				v := g.value(rng, i)
				nv = append(nv, g.name, v)
				if exact[metric+"/"+g.name] == nil {
					exact[metric+"/"+g.name] = map[string]bool{}
				}
				exact[metric+"/"+g.name][v] = true
			}
			ls := lbls(nv...)
			tr.SeriesCreated(ls, ls.Hash())
		}
	}
	// node_cpu: 20 instances × 64 cpus × 8 modes = 10,240 series, all good.
	for inst := range 20 {
		for cpu := range 64 {
			for _, mode := range []string{"user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"} {
				ls := lbls("__name__", "node_cpu", "instance", fmt.Sprintf("10.1.0.%d:9100", inst), "cpu", fmt.Sprint(cpu), "mode", mode)
				tr.SeriesCreated(ls, ls.Hash())
			}
		}
	}
	for range 2000 {
		nv := []string{"__name__", "http_server_duration_bucket", "le", pick("0.1", "0.5", "1", "5", "+Inf")(rng, 0)}
		for _, g := range good {
			nv = append(nv, g.name, g.value(rng, 0))
		}
		ls := lbls(nv...)
		tr.SeriesCreated(ls, ls.Hash())
	}

	r := Analyze(tr, AnalyzerOptions{HighCardinality: 2000})
	got := map[string]Finding{}
	for _, f := range r.Findings {
		key := f.Metric + "/" + f.Label
		if _, dup := got[key]; dup {
			t.Errorf("two findings for %s", key)
		}
		got[key] = f
	}
	for metric, bads := range bad {
		for _, g := range bads {
			f, ok := got[metric+"/"+g.name]
			if !ok {
				t.Errorf("%s{%s}: no finding, want %s", metric, g.name, g.bad)
				continue
			}
			if f.Kind != g.bad {
				t.Errorf("%s{%s}: %s (%s), want %s; examples %v", metric, g.name, f.Kind, f.Message, g.bad, f.Examples)
			}
			wantSev := Warning
			if g.bad == Unbounded {
				wantSev = Critical
			}
			if f.Severity != wantSev || f.Recommendation == "" || f.Message == "" {
				t.Errorf("%s{%s}: severity %s, message %q, recommendation %q", metric, g.name, f.Severity, f.Message, f.Recommendation)
			}
			if n := len(exact[metric+"/"+g.name]); relErr(f.Values, n) > 3*StdError {
				t.Errorf("%s{%s}: %d values, exact %d", metric, g.name, f.Values, n)
			}
			delete(got, metric+"/"+g.name)
		}
	}
	for key, f := range got {
		t.Errorf("good label %s got a finding: %s %q", key, f.Kind, f.Message)
	}
	if len(r.Findings) > 0 && r.Findings[0].Severity != Critical {
		t.Errorf("critical findings are not listed first")
	}
	if r.Contributors[0].Metric != "node_cpu" || r.Contributors[0].Label != "cpu" {
		t.Errorf("top contributor %+v, want node_cpu by cpu", r.Contributors[0])
	}
	var share float64
	for _, c := range r.Contributors {
		share += c.Share
	}
	if share > 1.05 {
		t.Errorf("shares add up to %.3f", share)
	}
}

// TestLooksGenerated: the value shapes one by one.
func TestLooksGenerated(t *testing.T) {
	yes := []string{"550e8400-e29b-41d4-a716-446655440000", "3f4a9c0d2b7e", "api-7d4b9c5f6-x2kq9", "10.0.0.1",
		"10.0.0.1:8080", "[::1]:80", "1703001600", "1703001600123", "2026-01-02T03:04:05Z"}
	no := []string{"GET", "200", "eu-west-1", "kube-proxy", "node-exporter", "12345", "/api/users", "deadline", "v1.2.3"}
	for _, v := range yes {
		if !looksGenerated(v) {
			t.Errorf("%q should look generated", v)
		}
	}
	for _, v := range no {
		if looksGenerated(v) {
			t.Errorf("%q should not look generated", v)
		}
	}
	if !hasIDInside("/api/users/123/orders") || hasIDInside("/api/users") || hasIDInside("GET") {
		t.Error("hasIDInside")
	}
}

// TestPredict: both methods recover a known line exactly; Holt follows a
// change of pace sooner than the line; crossings are where the line says.
func TestPredict(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var pts []Point
	for h := range 48 {
		pts = append(pts, Point{start.Add(time.Duration(h) * time.Hour), 1000 + 50*float64(h)})
	}
	f, err := Predict(pts, ForecastOptions{Days: 10, Limit: 15000})
	if err != nil {
		t.Fatal(err)
	}
	want := 1000 + 50*float64(47+240)
	if math.Abs(f.Linear-want) > 1e-6 || math.Abs(f.Holt-want) > 1e-6 {
		t.Fatalf("linear %v holt %v, want %v", f.Linear, f.Holt, want)
	}
	if !f.Exceeds() {
		t.Fatal("15,350 in 10 days over a limit of 15,000, and Exceeds is false")
	}
	// 15,000 is reached at hour (15000-1000)/50 = 280, by both methods.
	if got := f.LinearCrossing.Sub(start).Hours(); math.Abs(got-280) > 1e-6 {
		t.Fatalf("linear crossing at hour %v, want 280", got)
	}
	if got := f.HoltCrossing.Sub(start).Hours(); math.Abs(got-280) > 1e-6 {
		t.Fatalf("Holt crossing at hour %v, want 280", got)
	}
	// A pace that triples for the last 12 hours: Holt's trend is closer.
	for i := 36; i < 48; i++ {
		pts[i].V = pts[35].V + 150*float64(i-35)
	}
	f, _ = Predict(pts, ForecastOptions{Days: 1})
	if !(f.HoltPerHour > f.LinearPerHour && math.Abs(f.HoltPerHour-150) < math.Abs(f.LinearPerHour-150)) {
		t.Fatalf("holt trend %v, linear slope %v: Holt should follow the new 150/h", f.HoltPerHour, f.LinearPerHour)
	}
	if _, err := Predict(pts[:1], ForecastOptions{}); err != ErrNoHistory {
		t.Fatalf("one point: %v", err)
	}
}
