package promql_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/gen"
	"github.com/tsdb-course/stage10-promql/promql"
)

// The benchmark data: 10,000 http_requests_total counters and 10,000
// h_bucket series, scraped every 15s for 65 minutes, so that a 1h range
// query with 5m windows has data from its first step.
var (
	benchOnce  sync.Once
	benchStore *promql.MemStorage
	benchStart = time.Unix(1_700_000_000, 0)
	benchEnd   = benchStart.Add(65 * time.Minute)
)

func benchData(b *testing.B) *promql.MemStorage {
	benchOnce.Do(func() {
		benchStore = promql.NewMemStorage()
		if err := gen.Benchmark(benchStore, 10_000, benchStart, 65*time.Minute, 15*time.Second, 1); err != nil {
			panic(err)
		}
	})
	return benchStore
}

// BenchmarkRangeQuery: the engine's target queries, 1h at a 15s step (241
// steps) over 10,000 series. Compare with Prometheus's engine on the same
// data in ../../compare (go test -bench PromQL ./compare/).
func BenchmarkRangeQuery(b *testing.B) {
	st := benchData(b)
	eng := promql.NewEngine(promql.Opts{})
	for _, c := range []struct {
		name, q    string
		wantSeries int
	}{
		{"sum_rate", `sum by (method) (rate(http_requests_total[5m]))`, 4},
		{"histogram_quantile", `histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))`, 1},
		{"topk", `topk(10, rate(http_requests_total[5m]))`, 10},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var m promql.Matrix
			for b.Loop() {
				var err error
				m, err = eng.QueryRange(context.Background(), st, c.q, benchEnd.Add(-time.Hour), benchEnd, 15*time.Second)
				if err != nil {
					b.Fatal(err)
				}
			}
			if len(m) < c.wantSeries || len(m[0].Floats) == 0 {
				b.Fatalf("%d series in the result, want at least %d", len(m), c.wantSeries)
			}
			b.ReportMetric(float64(10_000*261)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkInstantQuery: the same sum of rates as an alerting rule would
// run it, one step.
func BenchmarkInstantQuery(b *testing.B) {
	st := benchData(b)
	eng := promql.NewEngine(promql.Opts{})
	b.ReportAllocs()
	for b.Loop() {
		v, err := eng.Query(context.Background(), st, `sum by (method) (rate(http_requests_total[5m]))`, benchEnd)
		if err != nil || len(v.(promql.Vector)) != 4 {
			b.Fatalf("%v %v", v, err)
		}
	}
}

// nativeStore: 100 native histogram counters h (schema 3, 40 buckets
// each side of 1, growing at different rates) scraped every 15s for 2h.
var (
	nativeOnce  sync.Once
	nativeStore *promql.MemStorage
)

func nativeData(b *testing.B) *promql.MemStorage {
	nativeOnce.Do(func() {
		nativeStore = promql.NewMemStorage()
		for s := range 100 {
			l := model.MustFromStrings("__name__", "h", "i", strconv.Itoa(s))
			counts := make([]float64, 40)
			for k := range 481 {
				var total float64
				for j := range counts {
					counts[j] += float64((s+j+k)%5 + j%3)
					total += counts[j]
				}
				h := &histogram.FloatHistogram{Schema: 3, Count: total, Sum: total * 1.5,
					PositiveSpans: []histogram.Span{{Offset: -20, Length: 40}}, PositiveBuckets: slices.Clone(counts)}
				if err := nativeStore.AppendHistogram(l, benchStart.UnixMilli()+int64(k)*15_000, h); err != nil {
					panic(err)
				}
			}
		}
	})
	return nativeStore
}

// BenchmarkNativeHistogramQuantile: the p99 of the summed rates of 100
// native histogram series, 1h at a 1m step: the mixed path (native.go).
func BenchmarkNativeHistogramQuantile(b *testing.B) {
	st := nativeData(b)
	eng := promql.NewEngine(promql.Opts{})
	end := benchStart.Add(2 * time.Hour)
	b.ReportAllocs()
	var m promql.Matrix
	for b.Loop() {
		var err error
		m, err = eng.QueryRange(context.Background(), st, `histogram_quantile(0.99, sum(rate(h[5m])))`, end.Add(-time.Hour), end, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
	}
	if len(m) != 1 || len(m[0].Floats) != 61 {
		b.Fatalf("got %v", m)
	}
	// Each step reads 100 series' 5m windows of 20 histograms.
	b.ReportMetric(float64(100*20*61)*float64(b.N)/b.Elapsed().Seconds(), "histograms/s")
}
