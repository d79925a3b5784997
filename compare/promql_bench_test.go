package compare

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage10-promql/gen"
	"github.com/tsdb-course/stage10-promql/promql"
)

// The stage10 targets: each query as a 1h range query at a 15s step (241
// steps) over 10,000 series, ours and Prometheus v0.316.0's engine, same
// data, same run.
var benchQueries = []struct{ name, q string }{
	{"sum_rate", `sum by (method) (rate(http_requests_total[5m]))`},
	{"histogram_quantile", `histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))`},
	{"topk", `topk(10, rate(http_requests_total[5m]))`},
}

var benchStores struct {
	once sync.Once
	b    both
}

var (
	promBenchStart = time.Unix(1_700_000_000, 0)
	promBenchEnd   = promBenchStart.Add(65 * time.Minute)
)

func benchBoth(b *testing.B) both {
	benchStores.once.Do(func() {
		benchStores.b = both{promql.NewMemStorage(), newPromStore()}
		if err := gen.Benchmark(benchStores.b, 10_000, promBenchStart, 65*time.Minute, 15*time.Second, 1); err != nil {
			panic(err)
		}
		benchStores.b.their.sort()
	})
	return benchStores.b
}

func BenchmarkPromQL(b *testing.B) {
	st := benchBoth(b)
	ctx := context.Background()
	start, end, step := promBenchEnd.Add(-time.Hour), promBenchEnd, 15*time.Second
	for _, c := range benchQueries {
		b.Run(c.name+"/ours", func(b *testing.B) {
			eng := promql.NewEngine(promql.Opts{})
			b.ReportAllocs()
			var m promql.Matrix
			for b.Loop() {
				var err error
				if m, err = eng.QueryRange(ctx, st.ours, c.q, start, end, step); err != nil {
					b.Fatal(err)
				}
			}
			points := 0
			for _, s := range m {
				points += len(s.Floats)
			}
			if len(m) == 0 || points%241 != 0 {
				b.Fatalf("unexpected result: %d series, %d points for 241 steps", len(m), points)
			}
		})
		b.Run(c.name+"/prometheus", func(b *testing.B) {
			eng := newPromEngine()
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				q, err := eng.NewRangeQuery(ctx, st.their, nil, c.q, start, end, step)
				if err != nil {
					b.Fatal(err)
				}
				res := q.Exec(ctx)
				if res.Err != nil {
					b.Fatal(res.Err)
				}
				m, _ := res.Matrix()
				n = len(m)
				q.Close()
			}
			if n == 0 {
				b.Fatal("empty result")
			}
		})
	}
}
