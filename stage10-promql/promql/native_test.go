package promql_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql"
)

// counterHist is a histogram with every count k times the base one:
// buckets (0.5,1] (1,2] (2,4] holding k, 2k, k.
func counterHist(k float64) *histogram.FloatHistogram {
	return &histogram.FloatHistogram{Count: 4 * k, Sum: 6 * k,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 3}}, PositiveBuckets: []float64{k, 2 * k, k}}
}

// histStorage holds n series h{i="…"} whose histograms grow by
// counterHist(1) every 15s for 30 minutes, and a float counter c.
func histStorage(t testing.TB, n int) *promql.MemStorage {
	st := promql.NewMemStorage()
	for i := range n {
		l := model.MustFromStrings("__name__", "h", "i", string(rune('a'+i)))
		for k := range 121 {
			if err := st.AppendHistogram(l, int64(k)*15_000, counterHist(float64(k+1))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for k := range 121 {
		if err := st.Append(model.MustFromStrings("__name__", "c"), int64(k)*15_000, float64(k)); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestAppendHistogramOrder: a series' samples of both kinds share one
// time order.
func TestAppendHistogramOrder(t *testing.T) {
	st := promql.NewMemStorage()
	l := model.MustFromStrings("__name__", "x")
	if err := st.Append(l, 1000, 1); err != nil {
		t.Fatal(err)
	}
	if err := st.AppendHistogram(l, 1000, counterHist(1)); !errors.Is(err, promql.ErrOutOfOrder) {
		t.Fatalf("histogram at a float's time: %v", err)
	}
	if err := st.AppendHistogram(l, 2000, counterHist(1)); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(l, 1500, 1); !errors.Is(err, promql.ErrOutOfOrder) {
		t.Fatalf("float before the last histogram: %v", err)
	}
	set := st.Select(context.Background(), 0, 5000, index.MustNewMatcher(index.MatchEqual, "__name__", "x"))
	if !set.Next() {
		t.Fatal("no series")
	}
	hs, ok := set.At().(promql.HistogramSeries)
	if !ok || len(hs.HistogramSamples()) != 1 || hs.HistogramSamples()[0].T != 2000 {
		t.Fatalf("histogram samples of the series: %v", set.At())
	}
}

// TestFloatSeriesOfferNoHistograms: a float series is handed out as
// before, without the HistogramSeries method, so the engine's float
// paths do not change for it.
func TestFloatSeriesOfferNoHistograms(t *testing.T) {
	st := histStorage(t, 1)
	set := st.Select(context.Background(), 0, 1e9, index.MustNewMatcher(index.MatchEqual, "__name__", "c"))
	for set.Next() {
		if _, ok := set.At().(promql.HistogramSeries); ok {
			t.Fatal("a float series offers histograms")
		}
	}
}

// TestHistogramRangeMatchesInstant: a range query over histograms (which
// leaves the streaming float paths for the mixed one) gives at every
// step what an instant query at that step gives, for selectors, rate,
// sum(rate) (a streamed aggregation on floats) and quantiles.
func TestHistogramRangeMatchesInstant(t *testing.T) {
	st := histStorage(t, 3)
	eng := promql.NewEngine(promql.Opts{})
	ctx := context.Background()
	for _, q := range []string{
		`h`,
		`rate(h[5m])`,
		`sum(rate(h[5m]))`,
		`histogram_quantile(0.9, sum(rate(h[5m])))`,
		`histogram_count(h) / 4`,
		`sum by (i) (h) * 2`,
	} {
		start, end := time.UnixMilli(10*60_000), time.UnixMilli(20*60_000)
		m, err := eng.QueryRange(ctx, st, q, start, end, time.Minute)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if len(m) == 0 {
			t.Fatalf("%s: empty", q)
		}
		for ts := start; !ts.After(end); ts = ts.Add(time.Minute) {
			v, err := eng.Query(ctx, st, q, ts)
			if err != nil {
				t.Fatalf("%s at %v: %v", q, ts, err)
			}
			for _, s := range v.(promql.Vector) {
				found := false
				for _, rs := range m {
					if !rs.Metric.Equal(s.Metric) {
						continue
					}
					for _, p := range rs.Floats {
						found = found || (s.H == nil && p.T == ts.UnixMilli() && p.V == s.F)
					}
					for _, p := range rs.Histograms {
						found = found || (s.H != nil && p.T == ts.UnixMilli() && p.H.Equivalent(s.H, 0))
					}
				}
				if !found {
					t.Errorf("%s at %v: %s from the instant query is not in the range result", q, ts, s.Metric)
				}
			}
		}
	}
}

// TestHistogramRate: rate over steadily growing histograms is each
// bucket's growth per second: counterHist(1) every 15s.
func TestHistogramRate(t *testing.T) {
	st := histStorage(t, 2)
	eng := promql.NewEngine(promql.Opts{})
	v, err := eng.Query(context.Background(), st, `sum(rate(h[5m]))`, time.UnixMilli(20*60_000))
	if err != nil {
		t.Fatal(err)
	}
	vec := v.(promql.Vector)
	if len(vec) != 1 || vec[0].H == nil {
		t.Fatalf("got %v", vec)
	}
	// Two series, each +4 observations per 15s: 2·4/15 per second, and
	// the buckets 2·(1, 2, 1)/15.
	want := &histogram.FloatHistogram{Count: 8.0 / 15, Sum: 12.0 / 15,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 3}}, PositiveBuckets: []float64{2.0 / 15, 4.0 / 15, 2.0 / 15}}
	if !vec[0].H.Equivalent(want, 1e-9) {
		t.Errorf("sum(rate(h[5m])) = %s, want %s", promql.FormatHistogram(vec[0].H), promql.FormatHistogram(want))
	}
}

// TestHistogramSharedNotChanged: a selector hands the same stored
// histogram to every step and query; arithmetic must not change it.
func TestHistogramSharedNotChanged(t *testing.T) {
	st := promql.NewMemStorage()
	h := counterHist(1)
	if err := st.AppendHistogram(model.MustFromStrings("__name__", "x"), 0, h); err != nil {
		t.Fatal(err)
	}
	eng := promql.NewEngine(promql.Opts{})
	for _, q := range []string{`x * 3`, `-x`, `x / 2`, `sum(x)`, `x + x`, `x - x`, `x </ 1.5`} {
		if _, err := eng.Query(context.Background(), st, q, time.UnixMilli(0)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if !h.Equivalent(counterHist(1), 0) || h.CounterResetHint != histogram.UnknownCounterReset {
		t.Fatalf("the stored histogram changed: %s", promql.FormatHistogram(h))
	}
}
