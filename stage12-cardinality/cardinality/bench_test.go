package cardinality

import (
	"fmt"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// BenchmarkTrackerSample: the per-sample cost of tracking a sample of an
// existing series (the heavy hitters' shard lock and counter), over
// 10,000 series of which 100 take half the samples.
func BenchmarkTrackerSample(b *testing.B) {
	tr := NewTracker(TrackerOptions{})
	const n = 10_000
	lsets := make([]model.Labels, n)
	hashes := make([]uint64, n)
	for i := range lsets {
		lsets[i] = lbls("__name__", "m", "i", fmt.Sprint(i))
		hashes[i] = lsets[i].Hash()
		tr.SeriesCreated(lsets[i], hashes[i])
	}
	// The sequence of series is drawn beforehand, so that the loop
	// measures the tracker alone.
	seq := make([]int32, 1<<16)
	for i := range seq {
		seq[i] = int32(i % n)
		if i&1 == 0 {
			seq[i] = int32(i % 100)
		}
	}
	b.ReportAllocs()
	cpu := startCPU(b)
	for i := 0; b.Loop(); i++ {
		j := seq[i&(len(seq)-1)]
		tr.Sample(hashes[j], lsets[j])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/sample")
	cpu.report("cpu-ns/sample")
}

// BenchmarkTrackerAddSeries: recording a new series (global, metric and
// three label HLLs, value samples, label-value counters).
func BenchmarkTrackerAddSeries(b *testing.B) {
	lsets := make([]model.Labels, 1<<16)
	for i := range lsets {
		lsets[i] = lbls("__name__", fmt.Sprint("m", i%50), "instance", fmt.Sprint("host-", i%300), "job", "api", "id", fmt.Sprint(i))
	}
	tr := NewTracker(TrackerOptions{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ls := lsets[i&(len(lsets)-1)]
		tr.SeriesCreated(ls, ls.Hash())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/series")
}

// million builds the tracker of 1M series the analysis benchmark reads:
// 200 metrics, the largest with a user_id label.
func million(b *testing.B) *Tracker {
	tr := NewTracker(TrackerOptions{})
	for i := range 1_000_000 {
		var ls model.Labels
		switch {
		case i%2 == 0:
			ls = lbls("__name__", "api_latency", "method", "GET", "user_id", fmt.Sprint(i))
		default:
			ls = lbls("__name__", fmt.Sprint("metric_", i%199), "instance", fmt.Sprint("host-", i%500), "cpu", fmt.Sprint(i%64), "k", fmt.Sprint(i%7))
		}
		tr.SeriesCreated(ls, ls.Hash())
	}
	return tr
}

// BenchmarkAnalyze1M: the report over a tracker that has seen 1M series
// (building the tracker is not timed; BenchmarkTrackerAddSeries is its
// per-series cost).
func BenchmarkAnalyze1M(b *testing.B) {
	tr := million(b)
	var r Report
	for b.Loop() {
		r = Analyze(tr, AnalyzerOptions{})
	}
	if relErr(r.Total, 1_000_000) > 3*StdError || len(r.Findings) == 0 || r.Findings[0].Label != "user_id" {
		b.Fatalf("total %d, findings %+v", r.Total, r.Findings)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/report")
}

// BenchmarkTrackerFile: the persisted tracker of 1,000 metrics of 100
// series each (10 instances × 10 values of a second label), with 720
// hourly snapshots: its bytes, and the time to save and load it.
func BenchmarkTrackerFile(b *testing.B) {
	tr := NewTracker(TrackerOptions{})
	for m := range 1000 {
		for i := range 100 {
			ls := lbls("__name__", fmt.Sprint("metric_", m), "instance", fmt.Sprint("host-", i%10), "code", fmt.Sprint(i/10))
			h := ls.Hash()
			tr.SeriesCreated(ls, h)
			tr.Sample(h, ls)
		}
	}
	for range 720 {
		tr.history = append(tr.history, tr.Snapshot())
	}
	tr.history = tr.history[len(tr.history)-720:]
	dir := b.TempDir()
	var size int
	for b.Loop() {
		enc, err := tr.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		size = len(enc)
		if err := tr.Save(dir); err != nil {
			b.Fatal(err)
		}
		if _, err := LoadTracker(dir, TrackerOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB")
}

// benchDB opens a stage06 DB, with the limiter (limits far above the
// load, so it refuses nothing, and a tracker) or without. flush waits for
// the tracker's worker (nil without a limiter).
func benchDB(b *testing.B, limited, tracked bool) (db *tsdb.DB, flush func()) {
	opts := tsdb.Options{WALSync: wal.SyncNone, NoBackgroundCompaction: true}
	flush = func() {}
	if limited {
		var tr *Tracker
		if tracked {
			tr = NewTracker(TrackerOptions{})
			flush = tr.Flush
		}
		lim := NewLimiter(Limits{Default: 1 << 30, Global: 1 << 30}, LimiterOptions{Tracker: tr})
		opts.AdmitSeries = lim.Admit
	}
	db, err := tsdb.Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	return db, flush
}

// pairMetrics reports the per-unit cost without and with the limiter and
// the overhead. The two are timed alternately, in the same iterations, so
// a shared machine's load hits both alike.
func pairMetrics(b *testing.B, off, on time.Duration, units int, unit string) {
	per := float64(b.N * units)
	b.ReportMetric(float64(off.Nanoseconds())/per, unit+"-without")
	b.ReportMetric(float64(on.Nanoseconds())/per, unit+"-with")
	b.ReportMetric(100*(float64(on)-float64(off))/float64(off), "overhead-%")
}

// BenchmarkLimitedAppend: stage06's append path (10,000 series, refs
// reused, one commit per scrape) without and with the limiter, a scrape
// of each per iteration. Samples of existing series never reach the
// limiter, so the two should match.
func BenchmarkLimitedAppend(b *testing.B) {
	const n = 10_000
	lsets := make([]model.Labels, n)
	for i := range lsets {
		lsets[i] = lbls("__name__", "bench", "i", fmt.Sprint(i), "job", "api")
	}
	var dbs [2]*tsdb.DB
	var refs [2][]uint64
	scrape := func(k int, t int64) time.Duration {
		start := time.Now()
		app := dbs[k].Appender(nil)
		for i, l := range lsets {
			r, err := app.Append(refs[k][i], l, t, float64(i))
			if err != nil {
				b.Fatal(err)
			}
			refs[k][i] = r
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for k := range dbs {
		var flush func()
		dbs[k], flush = benchDB(b, k == 1, true)
		defer dbs[k].Close()
		refs[k] = make([]uint64, n)
		scrape(k, 0)
		flush()
	}
	var took [2]time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		for k := range dbs {
			took[k] += scrape(k, int64(i)*15000)
		}
	}
	pairMetrics(b, took[0], took[1], n, "ns/sample")
}

// BenchmarkLimitedCreateSeries: the first scrape of 10,000 new series
// (stage06's BenchmarkCreateSeries) without the limiter, with it alone
// (counts from the index) and with a tracker too (each series offered),
// in turn. The tracker's worker adds the offered series on another
// goroutine; its own cost is BenchmarkTrackerAddSeries.
func BenchmarkLimitedCreateSeries(b *testing.B) {
	const n = 10_000
	lsets := make([]model.Labels, n)
	for i := range lsets {
		lsets[i] = lbls("__name__", "bench", "instance", fmt.Sprint("host-", i), "job", "api", "region", "eu")
	}
	var took [3]time.Duration
	b.ReportAllocs()
	for b.Loop() {
		for k := range 3 {
			b.StopTimer()
			db, flush := benchDB(b, k >= 1, k == 2)
			b.StartTimer()
			start := time.Now()
			app := db.Appender(nil)
			for i, l := range lsets {
				if _, err := app.Append(0, l, 1000, float64(i)); err != nil {
					b.Fatal(err)
				}
			}
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
			took[k] += time.Since(start)
			b.StopTimer()
			flush()
			db.Close()
			b.StartTimer()
		}
	}
	pairMetrics(b, took[0], took[2], n, "ns/series")
	b.ReportMetric(float64(took[1].Nanoseconds())/float64(b.N*n), "ns/series-limiter-only")
}
