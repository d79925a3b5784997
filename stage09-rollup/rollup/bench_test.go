package rollup

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage08-shards/shard"
)

// The year benchmark's data, built once per process: one series sampled
// every second for 365 days (31,536,000 raw samples, the guide's
// resolution), rolled up day by day as the clock advances, raw retention
// not enforced so that the raw-only scan can read the whole year.
var year struct {
	once sync.Once
	e    *Engine
	dir  string
	now  time.Time
	err  error
	took time.Duration
}

const yearSeries = 1

func TestMain(m *testing.M) {
	code := m.Run()
	if year.e != nil {
		year.e.Close()
		os.RemoveAll(year.dir)
	}
	os.Exit(code)
}

func buildYear() {
	start := time.Now()
	year.dir, year.err = os.MkdirTemp("", "rollup-bench-")
	if year.err != nil {
		return
	}
	begin := time.Date(2023, 1, 16, 0, 0, 0, 0, time.UTC)
	clk := newClock(begin)
	e, err := Open(year.dir, Options{Now: clk.now})
	if err != nil {
		year.err = err
		return
	}
	year.e = e
	lsets := seriesLabels(yearSeries)
	batch := make([]shard.Series, len(lsets))
	for d := range 365 {
		day0 := begin.Add(time.Duration(d) * 24 * time.Hour).UnixMilli()
		for i := range batch {
			s := batch[i].Samples[:0]
			for t := day0; t < day0+86_400_000; t += 1000 {
				s = append(s, model.Sample{T: t, V: dyadic(i, t)})
			}
			batch[i] = shard.Series{Labels: lsets[i], Samples: s}
		}
		clk.set(time.UnixMilli(day0 + 86_400_000))
		if year.err = e.Write(batch); year.err != nil {
			return
		}
		if _, year.err = e.Run(ctx); year.err != nil {
			return
		}
		if d%60 == 59 {
			fmt.Fprintf(os.Stderr, "bench setup: %d/365 days in %s\n", d+1, time.Since(start).Round(time.Second))
		}
	}
	year.now = clk.now()
	year.took = time.Since(start)
}

// BenchmarkYearAvg: avg over the last 365 days, routed (raw 7 d, 1 m to
// 30 d, 1 h beyond) against a raw-only scan of the same range of the same
// data, in the same loop. Reports the points each reads and the speed-up.
func BenchmarkYearAvg(b *testing.B) {
	year.once.Do(buildYear)
	if year.err != nil {
		b.Fatal(year.err)
	}
	e := year.e
	b.Logf("setup: 365 days × 86,400 samples × %d series in %s", yearSeries, year.took.Round(time.Second))
	q := mustQuery(b, "avg(cpu_usage) WHERE host='server1'")
	to := year.now.UnixMilli()
	from := to - 365*day.Milliseconds()
	routed := e.Plan(from, to)
	raw := e.PlanTier(0, routed.From, routed.To)
	var tRouted, tRaw time.Duration
	var pRouted, pRaw int64
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		r1, err := e.Execute(ctx, q, routed)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		r2, err := e.Execute(ctx, q, raw)
		if err != nil {
			b.Fatal(err)
		}
		tRouted += t1.Sub(t0)
		tRaw += time.Since(t1)
		if !sameAgg(r1.Aggregate, r2.Aggregate) || r2.Aggregate.Count != 365*86_400 {
			b.Fatalf("routed %s, raw %s", fmtAgg(r1.Aggregate), fmtAgg(r2.Aggregate))
		}
		pRouted, _ = r1.Points()
		pRaw, _ = r2.Points()
	}
	n := float64(b.N)
	b.ReportMetric(float64(tRouted.Nanoseconds())/n/1e6, "routed-ms")
	b.ReportMetric(float64(tRaw.Nanoseconds())/n/1e6, "raw-ms")
	b.ReportMetric(float64(tRaw)/float64(tRouted), "speedup")
	b.ReportMetric(float64(pRouted), "routed-points")
	b.ReportMetric(float64(pRaw), "raw-points")
	b.ReportMetric(float64(pRaw)/float64(pRouted), "fewer-points")
}

// BenchmarkSketch: the cost of adding a value, the encoded size of one
// window's sketch (1 m, 1 h and 1 d of 1-second lognormal samples: 60,
// 3,600 and 86,400 values), and the worst relative error over p50, p90,
// p95, p99 and p99.9 against the exact quantiles.
func BenchmarkSketch(b *testing.B) {
	b.Run("add", func(b *testing.B) {
		s := NewSketch()
		r := rand.New(rand.NewPCG(1, 1))
		vals := make([]float64, 1<<16)
		for i := range vals {
			vals[i] = math.Exp(r.NormFloat64()*0.8 + 3)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			s.Add(vals[i&(len(vals)-1)])
			i++
		}
	})
	for _, w := range []struct {
		name string
		n    int
	}{{"window=1m", 60}, {"window=1h", 3600}, {"window=1d", 86_400}} {
		b.Run(w.name, func(b *testing.B) {
			vals := make([]float64, w.n)
			for i := range vals {
				vals[i] = lognormal(0, int64(i)*1000)
			}
			sorted := slices.Sorted(slices.Values(vals))
			var size int
			var worst float64
			b.ReportAllocs()
			for b.Loop() {
				s := NewSketch()
				for _, v := range vals {
					s.Add(v)
				}
				enc, _ := s.MarshalBinary()
				size = len(enc)
				worst = 0
				for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999} {
					worst = max(worst, relErr(s.Quantile(q), exact(sorted, q)))
				}
			}
			if worst > DefaultAlpha || size > 2048 {
				b.Fatalf("error %.4f, %d bytes", worst, size)
			}
			b.ReportMetric(float64(size), "B/window")
			b.ReportMetric(worst*100, "max-rel-err-%")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(w.n), "ns/value")
		})
	}
}
