package promql_test

import (
	"context"
	"sync"
	"testing"
	"time"

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
