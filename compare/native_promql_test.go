package compare

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	prom "github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	promengine "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/promql"
)

// Native histograms, both engines: ours over promql.MemStorage, Prometheus's
// over listStore, a plain in-memory storage.Queryable whose series hand out
// samples of either kind through Prometheus's list iterator.

type listSeries struct {
	lset    labels.Labels
	samples []chunks.Sample
}

func (s *listSeries) Labels() labels.Labels { return s.lset }
func (s *listSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator {
	return histIterator{storage.NewListSeriesIterator(s), s}
}
func (s *listSeries) Get(i int) chunks.Sample { return s.samples[i] }
func (s *listSeries) Len() int                { return len(s.samples) }

// histIterator is Prometheus's list iterator over a listSeries, but
// decoding a histogram into the one the caller passes, as a chunk
// iterator does (Prometheus's engine hands its buffers back that way and
// relies on it: with the stored pointers handed out, results change
// from run to run).
type histIterator struct {
	chunkenc.Iterator
	s *listSeries
}

func (it histIterator) AtFloatHistogram(fh *prom.FloatHistogram) (int64, *prom.FloatHistogram) {
	t := it.AtT()
	i, _ := slices.BinarySearchFunc(it.s.samples, t, func(x chunks.Sample, t int64) int { return cmp.Compare(x.T(), t) })
	h := it.s.samples[i].FH()
	if fh == nil {
		return t, h.Copy()
	}
	h.CopyTo(fh)
	return t, fh
}

type listStore struct{ series []*listSeries }

func (s *listStore) Querier(int64, int64) (storage.Querier, error) { return listQuerier{s}, nil }

type listQuerier struct{ s *listStore }

func (q listQuerier) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	var out []storage.Series
	for _, s := range q.s.series {
		if slices.ContainsFunc(ms, func(m *labels.Matcher) bool { return !m.Matches(s.lset.Get(m.Name)) }) {
			continue
		}
		out = append(out, s)
	}
	return &listSet{list: out, i: -1}
}

func (listQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (listQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}
func (listQuerier) Close() error { return nil }

type listSet struct {
	list []storage.Series
	i    int
}

func (s *listSet) Next() bool                        { s.i++; return s.i < len(s.list) }
func (s *listSet) At() storage.Series                { return s.list[s.i] }
func (s *listSet) Err() error                        { return nil }
func (s *listSet) Warnings() annotations.Annotations { return nil }
func (s *promHSample) T() int64                      { return s.t }
func (s *promHSample) ST() int64                     { return 0 }
func (s *promHSample) F() float64                    { return 0 }
func (s *promHSample) H() *prom.Histogram            { return nil }
func (s *promHSample) FH() *prom.FloatHistogram      { return s.h }
func (s *promHSample) Type() chunkenc.ValueType      { return chunkenc.ValFloatHistogram }
func (s *promHSample) Copy() chunks.Sample           { c := *s; return &c }

// promHSample is a float histogram sample for Prometheus's iterator. It
// hands out a copy, as a chunk iterator decodes a fresh histogram:
// Prometheus's engine reuses the histograms it is given as buffers for
// later steps, which would overwrite the stored samples.
type promHSample struct {
	t int64
	h *prom.FloatHistogram
}

// nativeBoth holds the same native histogram series in both stores:
// n counters h{job, i} scraped every 15s for d, each of 20 buckets at
// schema 2 growing by random amounts (a fixed seed), with one counter
// reset per series, and a gauge histogram g.
func nativeBoth(n int, d time.Duration) (*promql.MemStorage, *listStore, time.Time) {
	ours, theirs := promql.NewMemStorage(), &listStore{}
	start := time.Unix(1_700_000_000, 0)
	rng := rand.New(rand.NewPCG(3, 19))
	steps := int(d / (15 * time.Second))
	for s := range n {
		ls := model.MustFromStrings("__name__", "h", "job", fmt.Sprintf("j%d", s%3), "i", fmt.Sprint(s))
		ps := &listSeries{lset: labels.FromStrings("__name__", "h", "job", fmt.Sprintf("j%d", s%3), "i", fmt.Sprint(s))}
		counts := make([]float64, 20)
		reset := rng.IntN(steps)
		for k := range steps {
			if k == reset {
				clear(counts)
			}
			var total float64
			for j := range counts {
				counts[j] += float64(rng.IntN(4))
				total += counts[j]
			}
			h := &histogram.FloatHistogram{Schema: 2, ZeroThreshold: 0.001, Count: total, Sum: total * 1.7,
				PositiveSpans: []histogram.Span{{Offset: -5, Length: 20}}, PositiveBuckets: slices.Clone(counts)}
			t := start.UnixMilli() + int64(k)*15_000
			if err := ours.AppendHistogram(ls, t, h); err != nil {
				panic(err)
			}
			ps.samples = append(ps.samples, &promHSample{t: t, h: toProm(h)})
		}
		theirs.series = append(theirs.series, ps)
	}
	slices.SortFunc(theirs.series, func(a, b *listSeries) int { return labels.Compare(a.lset, b.lset) })
	return ours, theirs, start
}

// TestNativeEnginesAgree: queries over native histograms answer the same
// on both engines at every minute of 45, histogram results bucket by
// bucket (within 1e-9: sums in another order), floats within 1e-9. They
// run as instant queries, each Prometheus query closed once its result is
// copied (its engine recycles result histograms; range results compared
// step by step would need the same care).
func TestNativeEnginesAgree(t *testing.T) {
	ours, theirs, start := nativeBoth(12, time.Hour)
	ctx := context.Background()
	eng := promql.NewEngine(promql.Opts{})
	for _, q := range []string{
		`h`,
		`rate(h[5m])`,
		`increase(h[10m])`,
		`irate(h[1m])`,
		`sum by (job) (rate(h[5m]))`,
		`avg(h)`,
		`histogram_quantile(0.9, sum by (job) (rate(h[5m])))`,
		`histogram_quantile(0.5, h)`,
		`histogram_fraction(0, 4, rate(h[5m]))`,
		`histogram_count(rate(h[5m])) / histogram_sum(rate(h[5m]))`,
		`histogram_stddev(h)`,
		`resets(h[30m])`,
		`h * 2 - h`,
		`sum_over_time(h[2m])`,
		`count(h)`,
	} {
		for at := start.Add(10 * time.Minute); !at.After(start.Add(55 * time.Minute)); at = at.Add(time.Minute) {
			v, err := eng.Query(ctx, ours, q, at)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			pq, err := newPromEngine().NewInstantQuery(ctx, theirs, nil, q, at)
			if err != nil {
				t.Fatal(err)
			}
			res := pq.Exec(ctx)
			if res.Err != nil {
				t.Fatalf("%s: Prometheus: %v", q, res.Err)
			}
			vec, pvec := v.(promql.Vector), slices.Clone(res.Value.(promengine.Vector))
			for i := range pvec {
				if pvec[i].H != nil {
					pvec[i].H = pvec[i].H.Copy()
				}
			}
			// Prometheus's engine recycles its result buffers once a
			// query is closed: copied first, closed at once.
			pq.Close()
			if len(vec) != len(pvec) || len(vec) == 0 {
				t.Fatalf("%s at %v: %d samples, Prometheus %d", q, at, len(vec), len(pvec))
			}
			slices.SortFunc(pvec, func(a, b promengine.Sample) int { return labels.Compare(a.Metric, b.Metric) })
			for i, s := range vec {
				ps := pvec[i]
				if k := promKey(ps.Metric); promql.MetricString(s.Metric) != k {
					t.Fatalf("%s: sample %d is %s, Prometheus %s", q, i, promql.MetricString(s.Metric), k)
				}
				switch {
				case (s.H == nil) != (ps.H == nil):
					t.Fatalf("%s %s at %v: histogram %v, Prometheus %v", q, s.Metric, at, s.H != nil, ps.H != nil)
				case s.H == nil && !closeFloat(s.F, ps.F):
					t.Fatalf("%s %s at %v: %v, Prometheus %v", q, s.Metric, at, s.F, ps.F)
				case s.H != nil && !s.H.Equivalent(fromProm(ps.H), 1e-9):
					t.Fatalf("%s %s at %v: %s, Prometheus %s", q, s.Metric, at, s.H, ps.H)
				}
			}
		}
	}
}

// BenchmarkNativePromQL: histogram_quantile(0.99, sum(rate(h[5m]))) as a
// 6h range query at a 1m step (361 steps) over 200 native histogram
// series of 20 buckets scraped every 15s, ours and Prometheus v0.316.0's
// engine, same data, same run.
func BenchmarkNativePromQL(b *testing.B) {
	ours, theirs, start := nativeBoth(200, 6*time.Hour+5*time.Minute)
	ctx := context.Background()
	q := `histogram_quantile(0.99, sum(rate(h[5m])))`
	from, to := start.Add(5*time.Minute), start.Add(6*time.Hour+5*time.Minute)
	b.Run("ours", func(b *testing.B) {
		eng := promql.NewEngine(promql.Opts{})
		b.ReportAllocs()
		for b.Loop() {
			m, err := eng.QueryRange(ctx, ours, q, from, to, time.Minute)
			if err != nil || len(m) != 1 || len(m[0].Floats) != 361 {
				b.Fatalf("%v %v", m, err)
			}
		}
	})
	b.Run("prometheus", func(b *testing.B) {
		eng := newPromEngine()
		b.ReportAllocs()
		for b.Loop() {
			pq, err := eng.NewRangeQuery(ctx, theirs, nil, q, from, to, time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			res := pq.Exec(ctx)
			if m, _ := res.Matrix(); res.Err != nil || len(m) != 1 || len(m[0].Floats) != 361 {
				b.Fatalf("%v %v", m, res.Err)
			}
		}
	})
}
