package promql_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/gen"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
	"github.com/tsdb-course/stage10-promql/promql/promqltest"
)

func scripts(t *testing.T, names ...string) {
	t.Helper()
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = "../testdata/" + n
	}
	promqltest.Check(t, promql.NewEngine(promql.Opts{Features: promql.AllFeatures}), paths...)
}

// Milestone 1: simple selectors work. The selector script, and the REPL's
// first query checked against the storage itself: for every series, the
// latest sample no older than 5 minutes.
func TestMilestone1_SimpleSelectors(t *testing.T) {
	scripts(t, "selectors.test")
	st := demoStorage(t)
	eng := promql.NewEngine(promql.Opts{})
	for _, at := range []time.Time{demoEnd, demoEnd.Add(-31 * time.Minute), demoEnd.Add(4 * time.Minute), demoEnd.Add(6 * time.Minute)} {
		v, err := eng.Query(context.Background(), st, `{__name__=~"http_requests_total|up"}`, at)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, s := range v.(promql.Vector) {
			got[promql.MetricString(s.Metric)] = s.F
		}
		want := map[string]float64{}
		set := st.Select(context.Background(), math.MinInt64, math.MaxInt64)
		for set.Next() {
			s := set.At()
			if n := s.Labels().Name(); n != "http_requests_total" && n != "up" {
				continue
			}
			var last *model.Sample
			for it := s.Iterator(); it.Next(); {
				ts, val := it.At()
				if ts <= at.UnixMilli() {
					last = &model.Sample{T: ts, V: val}
				}
			}
			if last != nil && last.T > at.UnixMilli()-5*60_000 && !promql.IsStaleNaN(last.V) {
				want[promql.MetricString(s.Labels())] = last.V
			}
		}
		if len(want) == 0 && at.Before(demoEnd.Add(5*time.Minute)) {
			t.Fatalf("oracle found nothing at %v", at)
		}
		if len(got) != len(want) {
			t.Errorf("at %v: %d series, want %d", at, len(got), len(want))
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("at %v: %s = %v, want %v", at, k, got[k], w)
			}
		}
	}
	// The lexer/parser side: every selector form parses to the matchers meant.
	e := parser.MustParseExpr(`http_requests_total{method="GET", status=~"5..", path!="/", user!~"bot.*"}`).(*parser.VectorSelector)
	if len(e.LabelMatchers) != 5 || e.LabelMatchers[2].String() != `status=~"5.."` || !e.LabelMatchers[2].Matches("503") || e.LabelMatchers[2].Matches("5030") {
		t.Errorf("matchers %v", e.LabelMatchers)
	}
}

// Milestone 2: rate() and other range functions work. The function scripts,
// and a property: a counter rising exactly 10/s, scraped every 15s and
// restarted at random moments, has rate 10 and increase 10·range over any
// window, at any evaluation time, because the reset correction and the
// extrapolation recover what the resets and the window edges hide.
func TestMilestone2_RangeFunctions(t *testing.T) {
	scripts(t, "rate.test", "over_time.test", "functions.test", "trig.test", "histogram.test", "subquery.test")
	rng := rand.New(rand.NewPCG(2, 3))
	st := promql.NewMemStorage()
	l := model.MustFromStrings("__name__", "c")
	v := 1000.0
	for k := range 400 {
		if k > 0 && rng.IntN(25) == 0 {
			// Restarted just after the previous scrape: it counted from 0 since.
			v = 0
		}
		v += 150
		if err := st.Append(l, int64(k)*15_000, v); err != nil {
			t.Fatal(err)
		}
	}
	eng := promql.NewEngine(promql.Opts{})
	for range 200 {
		at := time.UnixMilli(int64(25*60_000 + rng.IntN(60*60_000)))
		rangeMin := 1 + rng.IntN(20)
		q := "rate(c[" + parser.FormatDuration(time.Duration(rangeMin)*time.Minute) + "])"
		got, err := eng.Query(context.Background(), st, q, at)
		if err != nil {
			t.Fatal(err)
		}
		if r := got.(promql.Vector)[0].F; math.Abs(r-10) > 1e-9 {
			t.Fatalf("%s at %v = %v, want 10", q, at, r)
		}
	}
}

// Milestone 3: binary operators with matching. The operator script, and
// group_left on the demo data against a brute-force nested-loop match of
// the two sides' instant values.
func TestMilestone3_VectorMatching(t *testing.T) {
	scripts(t, "operators.test")
	st := demoStorage(t)
	eng := promql.NewEngine(promql.Opts{})
	ctx := context.Background()
	for _, at := range []time.Time{demoEnd, demoEnd.Add(-17 * time.Minute)} {
		lhs, _ := eng.Query(ctx, st, `http_requests_total`, at)
		rhs, _ := eng.Query(ctx, st, `http_requests_started`, at)
		want := map[string]float64{}
		for _, l := range lhs.(promql.Vector) {
			for _, r := range rhs.(promql.Vector) {
				if l.Metric.Get("method") == r.Metric.Get("method") {
					want[promql.MetricString(l.Metric.Without(model.MetricName))] = l.F / r.F
				}
			}
		}
		got, err := eng.Query(ctx, st, `http_requests_total / ignoring(status) group_left http_requests_started`, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.(promql.Vector)) != len(want) || len(want) != 5 {
			t.Fatalf("%d results, oracle %d", len(got.(promql.Vector)), len(want))
		}
		for _, s := range got.(promql.Vector) {
			if w, ok := want[promql.MetricString(s.Metric)]; !ok || w != s.F {
				t.Errorf("%s = %v, oracle %v", promql.MetricString(s.Metric), s.F, w)
			}
		}
	}
}

// Milestone 4: aggregations. The aggregation script, and on 2,000 series:
// sum/max/count by method and topk against the same computed in Go from
// the per-series rates.
func TestMilestone4_Aggregations(t *testing.T) {
	scripts(t, "aggregations.test")
	st := promql.NewMemStorage()
	start := time.Unix(1_700_000_000, 0)
	if err := gen.Benchmark(st, 2000, start, 30*time.Minute, 15*time.Second, 7); err != nil {
		t.Fatal(err)
	}
	eng := promql.NewEngine(promql.Opts{})
	ctx := context.Background()
	at := start.Add(30 * time.Minute)
	per, err := eng.Query(ctx, st, `rate(http_requests_total[5m])`, at)
	if err != nil || len(per.(promql.Vector)) != 2000 {
		t.Fatalf("per-series rates: %d, %v", len(per.(promql.Vector)), err)
	}
	sum, maxv, cnt := map[string]float64{}, map[string]float64{}, map[string]float64{}
	var all []float64
	for _, s := range per.(promql.Vector) {
		m := s.Metric.Get("method")
		sum[m] += s.F
		cnt[m]++
		if s.F > maxv[m] || cnt[m] == 1 {
			maxv[m] = s.F
		}
		all = append(all, s.F)
	}
	check := func(q string, want map[string]float64, tol float64) {
		t.Helper()
		v, err := eng.Query(ctx, st, q, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(v.(promql.Vector)) != len(want) {
			t.Fatalf("%s: %d groups, want %d", q, len(v.(promql.Vector)), len(want))
		}
		for _, s := range v.(promql.Vector) {
			w := want[s.Metric.Get("method")]
			if math.Abs(s.F-w) > tol*math.Abs(w) {
				t.Errorf("%s %s = %v, want %v", q, promql.MetricString(s.Metric), s.F, w)
			}
		}
	}
	check(`sum by (method) (rate(http_requests_total[5m]))`, sum, 1e-12)
	check(`max by (method) (rate(http_requests_total[5m]))`, maxv, 0)
	check(`count by (method) (rate(http_requests_total[5m]))`, cnt, 0)
	slices.Sort(all)
	v, err := eng.Query(ctx, st, `topk(3, rate(http_requests_total[5m]))`, at)
	if err != nil {
		t.Fatal(err)
	}
	top := v.(promql.Vector)
	if len(top) != 3 || top[0].F != all[len(all)-1] || top[1].F != all[len(all)-2] || top[2].F != all[len(all)-3] {
		t.Errorf("topk(3) = %v, want %v", top, all[len(all)-3:])
	}
}
