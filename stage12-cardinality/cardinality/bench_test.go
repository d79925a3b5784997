package cardinality

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
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

// rounds holds a benchmark's per-round costs, one series of rounds per
// configuration, each configuration timed once a round in turn. On a
// shared machine one round's load differs from the next's by tens of
// percent, but the configurations of a round see about the same load:
// the median of the paired differences (configuration − baseline, round
// by round) is steady where the difference of two separate medians is not.
type rounds [][]float64 // [configuration][round]

// order is the configurations' order in round r: rotated every round, so
// that each goes first (just after the GC) as often as the others.
func order(r, n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = (r + i) % n
	}
	return o
}

// quartiles are the 25th, 50th and 75th percentiles of xs (nearest rank).
func quartiles(xs []float64) (p25, med, p75 float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	at := func(q float64) float64 { return s[int(q*float64(len(s)-1)+0.5)] }
	return at(0.25), at(0.5), at(0.75)
}

// median is the middle of xs.
func median(xs []float64) float64 {
	_, m, _ := quartiles(xs)
	return m
}

// diff is the paired differences of configuration k to configuration
// base, round by round.
func (r rounds) diff(k, base int) []float64 {
	d := make([]float64, len(r[k]))
	for i := range d {
		d[i] = r[k][i] - r[base][i]
	}
	return d
}

// medianCI95 is a 95 % confidence interval of the median of xs, from
// order statistics (the ranks n/2 ± 0.98√n, the binomial's normal
// approximation): no assumption about the differences' distribution.
func medianCI95(xs []float64) (lo, hi float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := float64(len(s))
	half := 0.98 * math.Sqrt(n)
	l := max(int(math.Floor(n/2-half)), 0)
	h := min(int(math.Ceil(n/2+half)), len(s)-1)
	return s[l], s[h]
}

// reportDiff reports the median of the paired differences of k to base as
// unit, and their quartiles as unit-p25 and unit-p75: the spread.
func (r rounds) reportDiff(b *testing.B, k, base int, unit string) {
	p25, med, p75 := quartiles(r.diff(k, base))
	b.ReportMetric(med, unit)
	b.ReportMetric(p25, unit+"-p25")
	b.ReportMetric(p75, unit+"-p75")
	lo, hi := medianCI95(r.diff(k, base))
	b.ReportMetric(lo, unit+"-ci95lo")
	b.ReportMetric(hi, unit+"-ci95hi")
}

// noGC turns the garbage collector off for the benchmark (on again at its
// end): each round's segments start after a runtime.GC and run without
// one, so that no segment pays for another's garbage at a moment the
// pacer picks. B/op and allocs/op still report what each round allocates.
func noGC(b *testing.B) {
	old := debug.SetGCPercent(-1)
	b.Cleanup(func() { debug.SetGCPercent(old) })
}

// BenchmarkLimitedAppend: stage06's append path (10,000 series, refs
// reused, one commit per scrape) without the limiter and with it. Each
// iteration is a round: a GC, then 4 scrapes of one DB, a GC, 4 of the
// other (in alternating order), each timed in process CPU (getrusage),
// the scraping thread's CPU and wall time, with the GC off (noGC). Samples of existing series never reach the
// limiter, so the paired difference should be 0 within its spread.
// Run it with -benchtime=100x (100 rounds).
func BenchmarkLimitedAppend(b *testing.B) {
	const n, scrapes = 10_000, 4
	lsets := make([]model.Labels, n)
	for i := range lsets {
		lsets[i] = lbls("__name__", "bench", "i", fmt.Sprint(i), "job", "api")
	}
	var dbs [2]*tsdb.DB
	var refs [2][]uint64
	var ts [2]int64
	scrape := func(k int) {
		ts[k] += 15000
		app := dbs[k].Appender(nil)
		for i, l := range lsets {
			r, err := app.Append(refs[k][i], l, ts[k], float64(i))
			if err != nil {
				b.Fatal(err)
			}
			refs[k][i] = r
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	for k := range dbs {
		var flush func()
		dbs[k], flush = benchDB(b, k == 1, true)
		defer dbs[k].Close()
		refs[k] = make([]uint64, n)
		scrape(k)
		flush()
	}
	// The thread's CPU time is the scrapes' alone only if they stay on it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	noGC(b)
	proc, thread, wall := make(rounds, 2), make(rounds, 2), make(rounds, 2)
	per := float64(n * scrapes)
	b.ReportAllocs()
	for r := 0; b.Loop(); r++ {
		for _, k := range order(r, 2) {
			runtime.GC()
			w, p, t := time.Now(), cpuTime(), threadCPU()
			for range scrapes {
				scrape(k)
			}
			thread[k] = append(thread[k], float64(threadCPU()-t)/per)
			proc[k] = append(proc[k], float64(cpuTime()-p)/per)
			wall[k] = append(wall[k], float64(time.Since(w))/per)
		}
	}
	off := median(proc[0])
	b.ReportMetric(off, "cpu-ns/sample-without")
	b.ReportMetric(median(proc[1]), "cpu-ns/sample-with")
	proc.reportDiff(b, 1, 0, "cpu-ns/sample-diff")
	b.ReportMetric(100*median(proc.diff(1, 0))/off, "cpu-overhead-%")
	thread.reportDiff(b, 1, 0, "thread-cpu-ns/sample-diff")
	b.ReportMetric(100*median(wall.diff(1, 0))/median(wall[0]), "wall-overhead-%")
}

// BenchmarkLimitedCreateSeries: the first scrape of 10,000 new series
// (stage06's BenchmarkCreateSeries) in a fresh DB without the limiter,
// with the limiter alone (counts from the index) and with the limiter and
// a tracker (each new series offered to it). Each iteration is a round:
// each configuration once, in rotated order, after a GC. Timed: the
// creating thread's CPU (the work done inline, which series creation
// waits for), the process's CPU up to the tracker's Flush (the tracker's
// worker goroutine included) and wall time, with the GC off (noGC); and
// the limiter's hook alone (Admit called directly, n times, on the thread).
// Run it with -benchtime=100x.
func BenchmarkLimitedCreateSeries(b *testing.B) {
	const n = 10_000
	const off, limiter, tracked = 0, 1, 2
	lsets := make([]model.Labels, n)
	for i := range lsets {
		lsets[i] = lbls("__name__", "bench", "instance", fmt.Sprint("host-", i), "job", "api", "region", "eu")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	noGC(b)
	proc, thread, wall := make(rounds, 3), make(rounds, 3), make(rounds, 3)
	// The hook's own cost, timed directly: Admit of each of the n series
	// against a head that holds them (the per-metric count at 10,000).
	lim := NewLimiter(Limits{Default: 1 << 30, Global: 1 << 30}, LimiterOptions{})
	hashes := make([]uint64, n)
	for i, l := range lsets {
		hashes[i] = l.Hash()
	}
	var hook []float64
	b.ReportAllocs()
	for r := 0; b.Loop(); r++ {
		for _, k := range order(r, 3) {
			db, flush := benchDB(b, k >= limiter, k == tracked)
			runtime.GC()
			w, p, t := time.Now(), cpuTime(), threadCPU()
			app := db.Appender(nil)
			for i, l := range lsets {
				if _, err := app.Append(0, l, 1000, float64(i)); err != nil {
					b.Fatal(err)
				}
			}
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
			thread[k] = append(thread[k], float64(threadCPU()-t)/n)
			wall[k] = append(wall[k], float64(time.Since(w))/n)
			flush()
			proc[k] = append(proc[k], float64(cpuTime()-p)/n)
			if k == off {
				t := threadCPU()
				for i, l := range lsets {
					if err := lim.Admit(l, hashes[i], db.Head()); err != nil {
						b.Fatal(err)
					}
				}
				hook = append(hook, float64(threadCPU()-t)/n)
			}
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(median(thread[off]), "thread-cpu-ns/series-without")
	b.ReportMetric(median(proc[off]), "cpu-ns/series-without")
	// The target's figure: what the limiter adds to series creation,
	// end to end (paired rounds) and its hook alone.
	b.ReportMetric(median(hook), "limiter-hook-cpu-ns/series")
	thread.reportDiff(b, limiter, off, "limiter-thread-cpu-ns/series")
	proc.reportDiff(b, limiter, off, "limiter-cpu-ns/series")
	b.ReportMetric(median(wall.diff(limiter, off)), "limiter-wall-ns/series")
	// The tracker's share, beside the limiter's: inline (Offer, on the
	// creating thread) and in all (its worker's adds included).
	thread.reportDiff(b, tracked, limiter, "tracker-inline-cpu-ns/series")
	proc.reportDiff(b, tracked, limiter, "tracker-cpu-ns/series")
	b.ReportMetric(median(wall.diff(tracked, limiter)), "tracker-wall-ns/series")
}
