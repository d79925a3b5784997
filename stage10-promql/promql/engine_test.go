package promql_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/gen"
	"github.com/tsdb-course/stage10-promql/promql"
)

var (
	demoEnd   = time.Date(2025, 1, 1, 1, 0, 0, 0, time.UTC)
	demoStart = demoEnd.Add(-time.Hour)
)

func demoStorage(t testing.TB) *promql.MemStorage {
	t.Helper()
	st := promql.NewMemStorage()
	if err := gen.Demo(st, demoStart, time.Hour, 15*time.Second, 1); err != nil {
		t.Fatal(err)
	}
	return st
}

// queries exercise every kind of node; the consistency tests below run
// each of them as range and as instant queries.
var queries = []string{
	`http_requests_total`,
	`up`,
	`up offset 2m`,
	`http_requests_total @ 1735691400`,
	`rate(http_requests_total[5m])`,
	`increase(http_requests_total[90s] offset 1m)`,
	`irate(http_requests_total[1m])`,
	`delta(room_temperature_celsius[10m])`,
	`deriv(node_memory_used_bytes[10m])`,
	`predict_linear(node_memory_used_bytes[10m], 600)`,
	`avg_over_time(room_temperature_celsius[7m])`,
	`quantile_over_time(0.9, room_temperature_celsius[7m])`,
	`stddev_over_time(node_memory_used_bytes[5m])`,
	`changes(up[10m])`,
	`resets(http_requests_total[30m])`,
	`absent_over_time(up{instance="c"}[2m])`,
	`sum by (method) (rate(http_requests_total[5m]))`,
	`sum without (status) (http_requests_total)`,
	`topk(2, http_requests_total)`,
	`quantile(0.5, http_requests_total)`,
	`count_values("v", up)`,
	`stddev(room_temperature_celsius)`,
	`http_requests_total / ignoring(status) group_left http_requests_started`,
	`sum by (method) (http_requests_total) / on(method) http_requests_started`,
	`up and on(instance) node_memory_used_bytes`,
	`up or node_memory_used_bytes`,
	`up unless on(instance) node_memory_used_bytes`,
	`http_requests_total > 100`,
	`http_requests_total > bool 100`,
	`-room_temperature_celsius + 2 * 3`,
	`histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`,
	`max_over_time(rate(http_requests_total[1m])[10m:30s])`,
	`label_replace(up, "host", "h-$1", "instance", "(.*)")`,
	`clamp(room_temperature_celsius, 21, 22)`,
	`round(room_temperature_celsius, 0.5)`,
	`absent(nosuch{job="x"})`,
	`timestamp(up)`,
	`vector(time())`,
	`scalar(up{instance="a"}) * up`,
	`hour(up)`,
}

// TestRangeMatchesInstant: a range query is, by definition, an instant
// query at every step. The range evaluator selects once and slides windows;
// the instant one starts from scratch each time: they must agree exactly.
func TestRangeMatchesInstant(t *testing.T) {
	st := demoStorage(t)
	eng := promql.NewEngine(promql.Opts{})
	ctx := context.Background()
	start, end, step := demoStart.Add(2*time.Minute), demoEnd, 170*time.Second
	for _, q := range queries {
		m, err := eng.QueryRange(ctx, st, q, start, end, step)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		got := map[string]float64{}
		for _, s := range m {
			for _, p := range s.Floats {
				got[fmt.Sprintf("%s@%d", promql.MetricString(s.Metric), p.T)] = p.V
			}
		}
		want := map[string]float64{}
		for ts := start; !ts.After(end); ts = ts.Add(step) {
			v, err := eng.Query(ctx, st, q, ts)
			if err != nil {
				t.Fatalf("%s at %v: %v", q, ts, err)
			}
			for _, s := range v.(promql.Vector) {
				want[fmt.Sprintf("%s@%d", promql.MetricString(s.Metric), ts.UnixMilli())] = s.F
			}
		}
		if len(want) == 0 {
			t.Errorf("%s: no results at all; the query tests nothing", q)
		}
		for k, w := range want {
			g, ok := got[k]
			if !ok || !(g == w || (math.IsNaN(g) && math.IsNaN(w))) {
				t.Errorf("%s: %s instant=%v range=%v (present %v)", q, k, w, g, ok)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: %s only in the range result", q, k)
			}
		}
	}
}

// countingStorage counts Selects and can hide MemStorage's slice fast path,
// so that the engine has to use the plain Iterator interface.
type countingStorage struct {
	st       promql.Storage
	selects  atomic.Int64
	iterOnly bool
}

func (c *countingStorage) Select(ctx context.Context, mint, maxt int64, ms ...*index.Matcher) promql.SeriesSet {
	c.selects.Add(1)
	set := c.st.Select(ctx, mint, maxt, ms...)
	if c.iterOnly {
		return iterOnlySet{set}
	}
	return set
}

type iterOnlySet struct{ promql.SeriesSet }

func (s iterOnlySet) At() promql.StorageSeries { return iterOnlySeries{s.SeriesSet.At()} }

type iterOnlySeries struct{ s promql.StorageSeries }

func (s iterOnlySeries) Labels() model.Labels      { return s.s.Labels() }
func (s iterOnlySeries) Iterator() promql.Iterator { return s.s.Iterator() }

// TestSelectOncePerSelector: a 121-step range query reads storage once per
// selector in the expression, not once per step.
func TestSelectOncePerSelector(t *testing.T) {
	cs := &countingStorage{st: demoStorage(t)}
	eng := promql.NewEngine(promql.Opts{})
	q := `sum by (method) (rate(http_requests_total[5m])) / on(method) http_requests_started + max_over_time(up[10m:1m])`
	if _, err := eng.QueryRange(context.Background(), cs, q, demoStart, demoEnd, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := cs.selects.Load(); n != 3 {
		t.Errorf("%d Selects for 3 selectors", n)
	}
}

// TestIteratorPath: the results are the same whether the engine reads the
// samples through Iterator or through the slice fast path.
func TestIteratorPath(t *testing.T) {
	st := demoStorage(t)
	fast := &countingStorage{st: st}
	slow := &countingStorage{st: st, iterOnly: true}
	eng := promql.NewEngine(promql.Opts{})
	for _, q := range queries {
		a, err1 := eng.QueryRange(context.Background(), fast, q, demoStart, demoEnd, time.Minute)
		b, err2 := eng.QueryRange(context.Background(), slow, q, demoStart, demoEnd, time.Minute)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v / %v", q, err1, err2)
		}
		if a.String() != b.String() {
			t.Errorf("%s: slice path and iterator path differ", q)
		}
	}
}

func TestMaxSamples(t *testing.T) {
	st := promql.NewMemStorage()
	l := model.MustFromStrings("__name__", "x")
	for i := range 100 {
		if err := st.Append(l, int64(i)*1000, float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	q := `count_over_time(x[200s])`
	_, err := promql.NewEngine(promql.Opts{MaxSamples: 50}).Query(ctx, st, q, time.UnixMilli(99_000))
	if !errors.Is(err, promql.ErrTooManySamples) || !errors.Is(err, promql.ErrExecution) {
		t.Fatalf("50-sample limit, 100 samples: err = %v", err)
	}
	if err.Error() != "query processing would load too many samples into memory in query execution" {
		t.Errorf("message %q", err)
	}
	v, err := promql.NewEngine(promql.Opts{MaxSamples: 100}).Query(ctx, st, q, time.UnixMilli(99_000))
	if err != nil || v.(promql.Vector)[0].F != 100 {
		t.Fatalf("100-sample limit, 100 samples: %v %v", v, err)
	}
	// Subquery points count too: 100 inner points more than the limit.
	_, err = promql.NewEngine(promql.Opts{MaxSamples: 150}).Query(ctx, st, `count_over_time(x[100s:1s])`, time.UnixMilli(99_000))
	if !errors.Is(err, promql.ErrTooManySamples) {
		t.Fatalf("subquery over the limit: err = %v", err)
	}
}

// blockingStorage never returns a series: its set waits for the context.
type blockingStorage struct{}

func (blockingStorage) Select(ctx context.Context, _, _ int64, _ ...*index.Matcher) promql.SeriesSet {
	return &blockingSet{ctx: ctx}
}

type blockingSet struct{ ctx context.Context }

func (s *blockingSet) Next() bool               { <-s.ctx.Done(); return false }
func (s *blockingSet) At() promql.StorageSeries { return nil }
func (s *blockingSet) Err() error               { return s.ctx.Err() }

func TestTimeoutAndCancel(t *testing.T) {
	eng := promql.NewEngine(promql.Opts{Timeout: time.Millisecond})
	_, err := eng.Query(context.Background(), blockingStorage{}, `sum(x)`, time.Unix(0, 0))
	if !errors.Is(err, promql.ErrTimeout) || err.Error() != "query timed out in expression evaluation" {
		t.Errorf("timeout: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = promql.NewEngine(promql.Opts{}).Query(ctx, blockingStorage{}, `x`, time.Unix(0, 0))
	if !errors.Is(err, promql.ErrCanceled) {
		t.Errorf("cancel: err = %v", err)
	}
}

// lateTimerCtx has a deadline that has passed while its Err is still nil:
// a context whose timer a busy machine has not run yet.
type lateTimerCtx struct{ context.Context }

func (lateTimerCtx) Deadline() (time.Time, bool) { return time.Now().Add(-time.Second), true }

// TestDeadlineWithoutTimer: a query past its deadline stops at the first
// check whether or not the context's timer has fired.
func TestDeadlineWithoutTimer(t *testing.T) {
	ctx := lateTimerCtx{context.Background()}
	_, err := promql.NewEngine(promql.Opts{}).Query(ctx, demoStorage(t), `sum(http_requests_total)`, demoStart.Add(30*time.Minute))
	if !errors.Is(err, promql.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestRangeQueryErrors(t *testing.T) {
	st := promql.NewMemStorage()
	eng := promql.NewEngine(promql.Opts{})
	for q, want := range map[string]string{
		`x[5m]`: `invalid expression type "range vector" for range query, must be Scalar or instant Vector`,
		`"s"`:   `invalid expression type "string" for range query, must be Scalar or instant Vector`,
	} {
		_, err := eng.QueryRange(context.Background(), st, q, time.Unix(0, 0), time.Unix(60, 0), time.Second)
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %s", q, err, want)
		}
	}
	if _, err := eng.QueryRange(context.Background(), st, `1`, time.Unix(0, 0), time.Unix(60, 0), 0); err == nil {
		t.Error("step 0 accepted")
	}
}

// TestConcurrentQueries: one engine, one store, queries and appends at the
// same time (run with -race).
func TestConcurrentQueries(t *testing.T) {
	st := demoStorage(t)
	eng := promql.NewEngine(promql.Opts{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				q := queries[(g*10+i)%len(queries)]
				if _, err := eng.QueryRange(context.Background(), st, q, demoStart, demoEnd, time.Minute); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		l := model.MustFromStrings("__name__", "up", "instance", "late")
		for i := range 200 {
			if err := st.Append(l, demoEnd.UnixMilli()+int64(i)*1000, 1); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
}

// TestInstantRangeVector: an instant query of a range selector returns the
// raw samples of the window (left-open), stale markers excluded.
func TestInstantRangeVector(t *testing.T) {
	st := promql.NewMemStorage()
	l := model.MustFromStrings("__name__", "x")
	for i, v := range []float64{1, 2, promql.StaleNaN, 4} {
		if err := st.Append(l, int64(i)*60_000, v); err != nil {
			t.Fatal(err)
		}
	}
	v, err := promql.NewEngine(promql.Opts{}).Query(context.Background(), st, `x[3m]`, time.UnixMilli(180_000))
	if err != nil {
		t.Fatal(err)
	}
	m := v.(promql.Matrix)
	if len(m) != 1 || len(m[0].Floats) != 2 || m[0].Floats[0] != (model.Sample{T: 60_000, V: 2}) || m[0].Floats[1] != (model.Sample{T: 180_000, V: 4}) {
		t.Errorf("x[3m] at 3m = %v, want 2@60000 4@180000", m)
	}
}

// TestStreamedAggregation: an aggregation over a selector or a range
// function folds each series as it is produced instead of building the
// Matrix first. -(-x) is x to the bit but is not streamed, so it is the
// oracle; both the slice and the iterator path are checked.
func TestStreamedAggregation(t *testing.T) {
	st := demoStorage(t)
	eng := promql.NewEngine(promql.Opts{})
	ctx := context.Background()
	for _, inner := range []string{
		`rate(http_requests_total[5m])`,
		`http_requests_total`,
		`resets(http_requests_total[30m])`,
		`max_over_time(rate(http_requests_total[1m])[10m:30s])`,
		`avg_over_time(room_temperature_celsius[7m] offset 3m)`,
		`up`,
	} {
		for _, agg := range []string{"sum", "avg", "count", "min", "max", "group", "stddev", "stdvar"} {
			for _, grouping := range []string{"", " by (method)", " without (status)"} {
				q := agg + grouping + " (" + inner + ")"
				oracle := agg + grouping + " (-(-" + inner + "))"
				for _, cs := range []*countingStorage{{st: st}, {st: st, iterOnly: true}} {
					a, err1 := eng.QueryRange(ctx, cs, q, demoStart, demoEnd, 45*time.Second)
					b, err2 := eng.QueryRange(ctx, cs, oracle, demoStart, demoEnd, 45*time.Second)
					if err1 != nil || err2 != nil {
						t.Fatalf("%s: %v / %v", q, err1, err2)
					}
					if len(a) == 0 || a.String() != b.String() {
						t.Errorf("%s (iterator only: %v): streamed %v, collected %v", q, cs.iterOnly, a, b)
					}
				}
			}
		}
	}
}

// TestStreamedAggregationCollision: rate drops __name__, so a and b below
// give the same label set. At different steps the two results merge into
// one series, and the streamed sum must give what summing the merged
// series gives (it starts over from the collected Matrix); at the same
// step they are an error either way. (a ends at 285s, b starts at 390s:
// no 1m window holds both, every 10m window between 390s and 885s does.)
func TestStreamedAggregationCollision(t *testing.T) {
	st := promql.NewMemStorage()
	other := model.MustFromStrings("__name__", "z", "job", "y")
	for i := range 40 {
		ts := int64(i) * 15_000
		name := "a"
		if i >= 26 {
			name = "b"
		}
		if i < 20 || i >= 26 {
			if err := st.Append(model.MustFromStrings("__name__", name, "job", "x"), ts, float64(i*i)/3); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Append(other, ts, float64(i)/7); err != nil {
			t.Fatal(err)
		}
	}
	eng := promql.NewEngine(promql.Opts{})
	ctx := context.Background()
	start, end := time.UnixMilli(60_000), time.UnixMilli(600_000)
	a, err1 := eng.QueryRange(ctx, st, `sum(rate({__name__=~"a|b|z"}[1m]))`, start, end, 15*time.Second)
	b, err2 := eng.QueryRange(ctx, st, `sum(-(-rate({__name__=~"a|b|z"}[1m])))`, start, end, 15*time.Second)
	if err1 != nil || err2 != nil {
		t.Fatalf("%v / %v", err1, err2)
	}
	if len(a) != 1 || len(a[0].Floats) != 37 || a.String() != b.String() {
		t.Errorf("streamed %v, collected %v", a, b)
	}
	_, err := eng.QueryRange(ctx, st, `sum(rate({__name__=~"a|b"}[10m]))`, start, end, 15*time.Second)
	if err == nil || err.Error() != "vector cannot contain metrics with the same labelset" {
		t.Errorf("same labels at the same step: err = %v", err)
	}
}

// TestMaxSamplesCountsThePeak: the limit is on the samples held at once,
// as in Prometheus, not on the samples read. A day of one-second samples
// (86,400) through 5m windows holds at most 300 of them at once, and a
// streamed sum no more than its own result (1,435 points at a 1m step).
func TestMaxSamplesCountsThePeak(t *testing.T) {
	st := promql.NewMemStorage()
	for i := range 86_400 {
		if err := st.Append(model.MustFromStrings("__name__", "c"), int64(i)*1000, float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	start, end := time.UnixMilli(300_000), time.UnixMilli(86_399_000)
	for _, mode := range []struct {
		iterOnly bool
		taskCost int // 1: on rangePipe's workers
	}{{false, 1}, {false, 1 << 30}, {true, 1}} {
		iterOnly := mode.iterOnly
		restore := promql.SetTaskCost(mode.taskCost)
		cs := &countingStorage{st: st, iterOnly: iterOnly}
		for _, c := range []struct {
			q     string
			limit int
			ok    bool
		}{
			{`sum(rate(c[5m]))`, 1_435, true}, // the result; the windows came and went
			{`sum(rate(c[5m]))`, 1_434, false},
			{`rate(c[5m])`, 1_435, true}, // the same, unaggregated
			{`rate(c[5m])`, 299, false},  // a 300-sample window does not fit
			// The subquery's points (0s…86,340s, the last step) and the result.
			{`max_over_time(c[5m:1s])`, 86_341 + 1_435, true},
			{`max_over_time(c[5m:1s])`, 86_341 + 1_434, false},
			// The subquery's points (82,799s…86,399s) and a 1h window of them.
			{`max_over_time(c[1h:1s] @ 86399)`, 3_601 + 3_600, true},
			{`max_over_time(c[1h:1s] @ 86399)`, 3_601 + 3_599, false},
			{`sum(c) + sum(rate(c[5m]))`, 3 * 1_435, true}, // both operands and the result
			{`sum(c) + sum(rate(c[5m]))`, 3*1_435 - 1, false},
			{`count_over_time(c[10m])`, 1_435, true}, // a 600-sample window, then the result
			{`count_over_time(c[10m])`, 599, false},
		} {
			eng := promql.NewEngine(promql.Opts{MaxSamples: c.limit})
			_, err := eng.QueryRange(ctx, cs, c.q, start, end, time.Minute)
			if c.ok && err != nil || !c.ok && !errors.Is(err, promql.ErrTooManySamples) {
				t.Errorf("%s with limit %d (iterator only: %v, task cost %d): err = %v", c.q, c.limit, iterOnly, mode.taskCost, err)
			}
		}
		restore()
	}
}
