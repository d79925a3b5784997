package compare

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	promengine "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	qstorage "github.com/tsdb-course/stage15-tsdb/storage"
)

// Native histograms through both whole read paths: stage10's engine over
// stage06's TSDB (through the capstone's adapter, stage15's
// storage.QueryStorage, as the server queries) and Prometheus's engine
// over Prometheus's TSDB, the same samples appended to both and compacted
// by each into its own blocks as it goes.

// nativeTSDBStart is the first sample's time in nativeTSDBs.
var nativeTSDBStart = time.Unix(1_700_000_000, 0)

// nativeTSDBs appends the same integer native histograms to a stage06 DB
// and a Prometheus DB in dir: n counters h{job, i} scraped every 15 s for
// d, each of 20 buckets at schema 2 (zero threshold 0.001) growing by
// 0-3 observations a scrape (a fixed seed), with one counter reset per
// series. Each DB compacts every 2 h of data written, as its background
// loop would, so that most of the data is in blocks and the newest in
// the head. progress, if not nil, is told the steps written.
func nativeTSDBs(tb testing.TB, dir string, n int, d time.Duration, progress func(done, total int)) (*tsdb.DB, *promtsdb.DB) {
	tb.Helper()
	ours, err := tsdb.Open(dir+"/ours", tsdb.Options{WALSync: wal.SyncNone, NoBackgroundCompaction: true, FutureGrace: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ours.Close() })
	theirs, err := promtsdb.Open(dir+"/prometheus", slog.New(slog.DiscardHandler), nil, promtsdb.DefaultOptions(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { theirs.Close() })
	theirs.DisableCompactions()

	rng := rand.New(rand.NewPCG(5, 19))
	steps := int(d / (15 * time.Second))
	type state struct {
		lset   model.Labels
		plset  labels.Labels
		counts []int64
		reset  int
		ref    uint64
		pref   storage.SeriesRef
	}
	ss := make([]state, n)
	for i := range ss {
		job, inst := fmt.Sprintf("j%d", i%3), strconv.Itoa(i)
		ss[i] = state{lset: model.MustFromStrings("__name__", "h", "job", job, "i", inst),
			plset: labels.FromStrings("__name__", "h", "job", job, "i", inst), counts: make([]int64, 20), reset: rng.IntN(steps)}
	}
	ctx := context.Background()
	for k := range steps {
		t := nativeTSDBStart.UnixMilli() + int64(k)*15_000
		app, papp := ours.Appender(ctx), theirs.Appender(ctx)
		for i := range ss {
			s := &ss[i]
			if k == s.reset {
				clear(s.counts)
			}
			h := &histogram.Histogram{Schema: 2, ZeroThreshold: 0.001, PositiveSpans: []histogram.Span{{Offset: -5, Length: 20}},
				PositiveBuckets: make([]int64, 20)}
			prev := int64(0)
			for j := range s.counts {
				s.counts[j] += int64(rng.IntN(4))
				h.Count += uint64(s.counts[j])
				h.PositiveBuckets[j], prev = s.counts[j]-prev, s.counts[j]
			}
			h.Sum = float64(h.Count) * 1.7
			if s.ref, err = app.AppendHistogram(s.ref, s.lset, t, h, nil); err != nil {
				tb.Fatalf("ours: %v", err)
			}
			if s.pref, err = papp.AppendHistogram(s.pref, s.plset, t, ToPrometheus(h), nil); err != nil {
				tb.Fatalf("prometheus: %v", err)
			}
		}
		if err := app.Commit(); err != nil {
			tb.Fatal(err)
		}
		if err := papp.Commit(); err != nil {
			tb.Fatal(err)
		}
		if (k+1)%480 == 0 || k == steps-1 {
			if err := ours.Compact(); err != nil {
				tb.Fatal(err)
			}
			if err := theirs.Compact(ctx); err != nil {
				tb.Fatal(err)
			}
			if progress != nil {
				progress(k+1, steps)
			}
		}
	}
	return ours, theirs
}

// rangeBoth runs q as a range query on both engines and returns each
// one's single result series' floats (nil if it had another shape).
func rangeBoth(tb testing.TB, eng *promql.Engine, peng *promengine.Engine, ours *tsdb.DB, theirs *promtsdb.DB, q string, from, to time.Time, step time.Duration) ([]float64, []float64) {
	tb.Helper()
	ctx := context.Background()
	st := qstorage.NewQueryStorage(ours)
	m, err := eng.QueryRange(ctx, st, q, from, to, step)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatalf("ours: %s: %v", q, err)
	}
	var o, p []float64
	if len(m) == 1 {
		for _, f := range m[0].Floats {
			o = append(o, f.V)
		}
	}
	pq, err := peng.NewRangeQuery(ctx, theirs, nil, q, from, to, step)
	if err != nil {
		tb.Fatal(err)
	}
	defer pq.Close()
	res := pq.Exec(ctx)
	if res.Err != nil {
		tb.Fatalf("prometheus: %s: %v", q, res.Err)
	}
	if pm, _ := res.Matrix(); len(pm) == 1 {
		for _, f := range pm[0].Floats {
			p = append(p, f.F)
		}
	}
	return o, p
}

// sameFloats says where two results differ beyond 1e-9 relative (sums
// of the same histograms in another order), or "".
func sameFloats(o, p []float64, steps int) string {
	if len(o) != steps || len(p) != steps {
		return fmt.Sprintf("%d points, Prometheus %d, want %d", len(o), len(p), steps)
	}
	for i := range o {
		if !closeFloat(o[i], p[i]) {
			return fmt.Sprintf("step %d: %v, Prometheus %v", i, o[i], p[i])
		}
	}
	return ""
}

// TestNativeTSDBEnginesAgree: on the same native histograms stored by
// each TSDB (blocks and head), range queries over them answer the same,
// step by step, from stage10 over stage06 and from Prometheus.
func TestNativeTSDBEnginesAgree(t *testing.T) {
	ours, theirs := nativeTSDBs(t, t.TempDir(), 30, 5*time.Hour, nil)
	eng, peng := promql.NewEngine(promql.Opts{}), newPromEngine()
	from, to := nativeTSDBStart.Add(5*time.Minute), nativeTSDBStart.Add(5*time.Hour-15*time.Second)
	steps := int(to.Sub(from)/time.Minute) + 1
	for _, q := range []string{
		`histogram_quantile(0.99, sum(rate(h[5m])))`,
		`histogram_quantile(0.5, sum(rate(h[5m])))`,
		`histogram_count(sum(increase(h[10m])))`,
		`histogram_sum(sum(rate(h[5m])))`,
		`sum(histogram_fraction(0, 2, rate(h[5m])))`,
		`count(h)`,
	} {
		o, p := rangeBoth(t, eng, peng, ours, theirs, q, from, to, time.Minute)
		if d := sameFloats(o, p, steps); d != "" {
			t.Errorf("%s: %s", q, d)
		}
	}
}

// BenchmarkNativePromQLTSDB: histogram_quantile(0.99, sum(rate(h[5m]))) as
// a 24 h range query at a 1 m step (1,441 steps) over 1,000 native
// histogram series of 20 buckets scraped every 15 s (5.78M histograms),
// stage10 over stage06 and Prometheus v0.316.0's engine over its TSDB,
// the same samples in both. Before timing, both answers are checked to
// agree at every step. Each iteration runs both queries, the one going
// first alternating, each after a collection, and it reports each one's
// wall and CPU time (the process's: both engines and the stores' read
// paths may use more than one goroutine, and GC counts) and the ratios
// ours / Prometheus's (below 1: ours is faster), all medians of the
// iterations (the CPU ratio's lowest and highest too).
//
// Loading takes minutes, so it is skipped under -short;
// TSDB_NATIVE_BENCH_SERIES and TSDB_NATIVE_BENCH_HOURS make it smaller.
func BenchmarkNativePromQLTSDB(b *testing.B) {
	if testing.Short() {
		b.Skip("loads 5.78M native histograms into two TSDBs")
	}
	series, hours := 1000, 24
	if v, err := strconv.Atoi(os.Getenv("TSDB_NATIVE_BENCH_SERIES")); err == nil && v > 0 {
		series = v
	}
	if v, err := strconv.Atoi(os.Getenv("TSDB_NATIVE_BENCH_HOURS")); err == nil && v > 0 {
		hours = v
	}
	d := time.Duration(hours)*time.Hour + 5*time.Minute
	start := time.Now()
	ours, theirs := nativeTSDBs(b, b.TempDir(), series, d, func(done, total int) {
		fmt.Fprintf(os.Stderr, "\rloading: %d of %d scrapes, %v", done, total, time.Since(start).Round(time.Second))
	})
	fmt.Fprintln(os.Stderr)
	q := `histogram_quantile(0.99, sum(rate(h[5m])))`
	from, to := nativeTSDBStart.Add(5*time.Minute), nativeTSDBStart.Add(d-15*time.Second)
	steps := int(to.Sub(from)/time.Minute) + 1
	eng, peng := promql.NewEngine(promql.Opts{}), newPromEngine()
	if o, p := rangeBoth(b, eng, peng, ours, theirs, q, from, to, time.Minute); sameFloats(o, p, steps) != "" {
		b.Fatalf("answers differ: %s", sameFloats(o, p, steps))
	}

	ctx := context.Background()
	run := [2]func(){
		func() { // Prometheus's
			pq, err := peng.NewRangeQuery(ctx, theirs, nil, q, from, to, time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			res := pq.Exec(ctx)
			if m, _ := res.Matrix(); res.Err != nil || len(m) != 1 || len(m[0].Floats) != steps {
				b.Fatalf("prometheus: %v %v", len(m), res.Err)
			}
			pq.Close()
		},
		func() { // ours
			st := qstorage.NewQueryStorage(ours)
			m, err := eng.QueryRange(ctx, st, q, from, to, time.Minute)
			if err != nil || len(m) != 1 || len(m[0].Floats) != steps {
				b.Fatalf("ours: %v %v", len(m), err)
			}
			if err := st.Close(); err != nil {
				b.Fatal(err)
			}
		},
	}
	// Per iteration: each one's wall and CPU seconds, and the ratios.
	var wall, cpu [2][]float64
	var wallRatio, cpuRatio []float64
	iter := 0
	b.ResetTimer()
	for b.Loop() {
		order := [2]int{0, 1}
		if iter%2 == 1 {
			order = [2]int{1, 0}
		}
		iter++
		for _, i := range order {
			runtime.GC()
			t0, c0 := time.Now(), processCPU()
			run[i]()
			wall[i] = append(wall[i], time.Since(t0).Seconds())
			cpu[i] = append(cpu[i], (processCPU() - c0).Seconds())
		}
		n := len(wall[0]) - 1
		wallRatio = append(wallRatio, wall[1][n]/wall[0][n])
		if cpu[0][n] > 0 {
			cpuRatio = append(cpuRatio, cpu[1][n]/cpu[0][n])
		}
	}
	b.ReportMetric(median(wall[1]), "ours-s")
	b.ReportMetric(median(wall[0]), "prom-s")
	b.ReportMetric(median(cpu[1]), "ours-cpu-s")
	b.ReportMetric(median(cpu[0]), "prom-cpu-s")
	b.ReportMetric(median(wallRatio), "ours/prom")
	b.ReportMetric(median(cpuRatio), "cpu-ours/prom")
	b.ReportMetric(slices.Min(cpuRatio), "cpu-ours/prom-min")
	b.ReportMetric(slices.Max(cpuRatio), "cpu-ours/prom-max")
	b.ReportMetric(float64(series*int(d/(15*time.Second))), "histograms")
}

// median is the middle of xs (the mean of the two middle ones for an even
// count), 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
