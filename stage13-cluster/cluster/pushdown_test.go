package cluster

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
	"github.com/tsdb-course/stage11-ingest/remote"
)

func TestPlanPushDown(t *testing.T) {
	for q, want := range map[string]bool{
		`sum(cpu)`:                    true,
		`sum by (dc) (rate(cpu[5m]))`: true,
		`avg without (host) (max_over_time(cpu[1m]))`: true,
		`(count by (dc, env) ((cpu)))`:                true,
		`min(cpu offset 5m)`:                          true,
		`max by (dc) (increase(cpu{dc=~"a.*"}[10m]))`: true,
		`sum(cpu) > 0`:                                false, // only the aggregation itself
		`topk(3, cpu)`:                                false,
		`quantile(0.9, cpu)`:                          false,
		`sum(cpu + mem)`:                              false,
		`sum(rate(cpu[5m:1m]))`:                       false, // a subquery
		`sum(histogram_quantile(0.9, cpu))`:           false,
		`stddev(cpu)`:                                 false,
		`sum(abs(cpu))`:                               false,
	} {
		expr, err := parser.ParseExpr(q)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := planPushDown(expr); ok != want {
			t.Errorf("%s: push-down %v, want %v", q, ok, want)
		}
	}
	expr, _ := parser.ParseExpr(`avg by (dc) (rate(cpu[5m]))`)
	p, _ := planPushDown(expr)
	if fmt.Sprint(p.partials) != `[sum by (dc) (rate(cpu[5m])) count by (dc) (rate(cpu[5m]))]` {
		t.Fatalf("avg partials %q", p.partials)
	}
}

// randomSeries: two metrics over 40 minutes with gaps, resets and
// irregular steps, labels dc, env and host.
func randomSeries(r *rand.Rand, n int, t0 int64) []remote.Series {
	out := make([]remote.Series, n)
	for i := range out {
		name := []string{"cpu", "mem"}[i%2]
		out[i].Labels = model.MustFromStrings("__name__", name, "host", fmt.Sprintf("h%d", i),
			"dc", fmt.Sprintf("dc%d", r.IntN(3)), "env", []string{"prod", "dev"}[r.IntN(2)])
		v := r.Float64() * 100
		for ts := t0 + r.Int64N(15_000); ts < t0+40*60_000; ts += 5_000 + r.Int64N(20_000) {
			if r.IntN(30) == 0 {
				ts += 6 * 60_000 // a gap longer than the lookback
			}
			if r.IntN(50) == 0 {
				v = 0 // a counter reset
			}
			v += r.Float64() * 10
			out[i].Samples = append(out[i].Samples, model.Sample{T: ts, V: v})
		}
	}
	return out
}

func randomAggQuery(r *rand.Rand) string {
	op := []string{"sum", "count", "min", "max", "avg"}[r.IntN(5)]
	grouping := []string{"", " by (dc)", " by (dc, env)", " without (host)", " by (__name__)"}[r.IntN(5)]
	sel := []string{"cpu", "mem", `{__name__=~"cpu|mem"}`, `cpu{env="prod"}`}[r.IntN(4)]
	inner := []string{sel, "rate(" + sel + "[5m])", "increase(" + sel + "[10m])", "sum_over_time(" + sel + "[2m])",
		"max_over_time(" + sel + "[7m])", "count_over_time(" + sel + "[1m])", "avg_over_time(" + sel + "[3m])"}[r.IntN(7)]
	return op + grouping + " (" + inner + ")"
}

// sameValue: equal labels and timestamps, values equal to 1e-9
// (relative): the nodes' partial sums add in another order.
func sameMatrix(a, b promql.Matrix) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d series, want %d", len(a), len(b))
	}
	for i := range a {
		if !a[i].Metric.Equal(b[i].Metric) || len(a[i].Floats) != len(b[i].Floats) {
			return fmt.Errorf("series %d: %s with %d points, want %s with %d", i, a[i].Metric, len(a[i].Floats), b[i].Metric, len(b[i].Floats))
		}
		for k, p := range b[i].Floats {
			q := a[i].Floats[k]
			if q.T != p.T || !closeTo(q.V, p.V) {
				return fmt.Errorf("%s point %d: %v, want %v", b[i].Metric, k, q, p)
			}
		}
	}
	return nil
}

func closeTo(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

func asMatrix(v promql.Value) promql.Matrix {
	switch x := v.(type) {
	case promql.Matrix:
		return x
	case promql.Vector:
		m := promql.Matrix{}
		for _, s := range x {
			m = append(m, promql.Series{Metric: s.Metric, Floats: []model.Sample{{T: s.T, V: s.F}}})
		}
		return m
	}
	return nil
}

// TestPushDownMatchesFanOut: over random data and random aggregation
// queries, instant and range, the pushed-down answer is the coordinator's
// own (every replica merged), with every node up and with one node
// killed (RF=3 on 4 nodes: each series still has live replicas). Each
// series counts once: a node aggregates only the series it is the first
// live candidate of.
func TestPushDownMatchesFanOut(t *testing.T) {
	c := newCluster(t, 4, 3, func(cfg *Config) { cfg.FailureTimeout = time.Hour })
	r := rand.New(rand.NewPCG(17, 4))
	const t0 = 1_700_000_000_000
	k := newChecker()
	series := randomSeries(r, 60, t0)
	writeAll(t, c.nodes["node-1"], k, series, 20)
	// quorum is 2 of 3: the third copy may still be on its way
	eventually(t, 30*time.Second, "every series on its 3 replicas", func() bool {
		h := holders(t, c, k)
		for _, s := range series {
			if h[s.Labels.String()] != 3 {
				return false
			}
		}
		return true
	})

	run := func(n *Node, q string, instant bool, ts, end time.Time) (promql.Matrix, promql.Matrix, QueryStats) {
		t.Helper()
		if instant {
			pv, pst, err := n.Query(context.Background(), q, ts)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			fv, _, err := n.Query(context.Background(), q, ts, NoPushDown())
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			return asMatrix(pv), asMatrix(fv), pst.Stats()
		}
		pm, pst, err := n.QueryRange(context.Background(), q, ts, end, 30*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		fm, _, err := n.QueryRange(context.Background(), q, ts, end, 30*time.Second, NoPushDown())
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return pm, fm, pst.Stats()
	}
	type result struct {
		q      string
		answer promql.Matrix
	}
	var before []result
	queries := 0
	check := func(phase string, coordinator *Node, live int) {
		t.Helper()
		qr := rand.New(rand.NewPCG(5, 5)) // the same queries in each phase
		nonEmpty := 0
		for i := range 40 {
			q := randomAggQuery(qr)
			ts := time.UnixMilli(t0 + qr.Int64N(45*60_000))
			instant := i%2 == 0
			got, want, st := run(coordinator, q, instant, ts, ts.Add(10*time.Minute))
			if err := sameMatrix(got, want); err != nil {
				t.Fatalf("%s: %s (instant %v at %d): push-down vs fan-out: %v\nstats %+v\nmembers %+v", phase, q, instant, ts.UnixMilli(), err, st, coordinator.Members())
			}
			// every live node takes part; under load, gossip may
			// suspect one for a moment, and its series go to another
			if st.PushedDown == 0 || st.PushDownFallbacks != 0 || len(st.Asked) < 2 || len(st.Asked) > live {
				t.Fatalf("%s: %s: stats %+v", phase, q, st)
			}
			if len(want) > 0 {
				nonEmpty++
			}
			if phase == "all up" {
				before = append(before, result{q, want})
			} else if err := sameMatrix(got, before[i].answer); err != nil {
				t.Fatalf("%s: %s: the answer changed when a node died: %v", phase, q, err)
			}
			queries++
		}
		if nonEmpty < 30 {
			t.Fatalf("%s: only %d of 40 queries had an answer", phase, nonEmpty)
		}
	}
	check("all up", c.nodes["node-1"], 4)
	c.kill("node-3")
	n := c.nodes["node-2"]
	eventually(t, 30*time.Second, "node-3 seen dead", func() bool {
		return !slices.ContainsFunc(n.Members(), func(m Member) bool { return m.ID == "node-3" && m.Health == Alive })
	})
	check("node-3 down", n, 3)
	t.Logf("%d queries compared, push-down and fan-out, 4 nodes then 3, RF=3", queries)
}
