package tsdb

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage02-delta/tsbs"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage05-index/index"
)

// The benchmarks behind the README's performance table. Each builds its
// data once (in the parent benchmark) and measures in sub-benchmarks.

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func benchOpts() Options {
	return Options{WALSync: wal.SyncNone, NoBackgroundCompaction: true}
}

// BenchmarkTSBSBlock writes the TSBS devops file (1,010 series × 720
// samples, 2 h at 10 s) into the head and cuts it into a block: B/sample
// is the block's size on disk, index and meta.json included, per sample.
func BenchmarkTSBSBlock(b *testing.B) {
	path, err := tsbs.Path(tsbs.DevOps)
	if err != nil {
		b.Fatal(err)
	}
	series, err := tsbs.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	total := 0
	for _, s := range series {
		total += len(s.T)
	}
	b.ReportAllocs()
	var size, indexSize int64
	for b.Loop() {
		b.StopTimer()
		db, err := Open(b.TempDir(), benchOpts())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		// Scrape order: every series at each tick.
		refs := make([]uint64, len(series))
		for k := 0; ; k++ {
			app := db.Appender(nil)
			n := 0
			for i, s := range series {
				if k < len(s.T) {
					if refs[i], err = app.Append(refs[i], s.Labels, s.T[k], s.V[k]); err != nil {
						b.Fatal(err)
					}
					n++
				}
			}
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		if _, err := db.FlushHead(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		size, indexSize = 0, 0
		var samples uint64
		for _, bi := range db.Blocks() {
			size += bi.Size
			indexSize += bi.IndexSize
			samples += bi.Stats.NumSamples
		}
		if samples != uint64(total) {
			b.Fatalf("blocks hold %d samples, the file %d", samples, total)
		}
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(size)/float64(total), "B/sample")
	b.ReportMetric(float64(indexSize)/float64(total), "index-B/sample")
	b.ReportMetric(float64(total), "samples")
}

// millionLabels is series i of the 1M-series benchmarks: 10 labels, one
// of them (instance) unique, the rest shared the way scrape targets share
// them.
func millionLabels(i int) model.Labels {
	return model.MustFromStrings(
		model.MetricName, fmt.Sprint("metric_", i%100),
		"az", fmt.Sprint("az-", i%3),
		"env", []string{"prod", "staging", "dev"}[i%3],
		"instance", fmt.Sprint("10.", i>>16, ".", (i>>8)&255, ".", i&255, ":9100"),
		"job", fmt.Sprint("job-", i%50),
		"pod", fmt.Sprint("pod-", i/100),
		"region", fmt.Sprint("region-", i%8),
		"service", fmt.Sprint("svc-", i%200),
		"team", fmt.Sprint("team-", i%20),
		"version", fmt.Sprint("v1.", i%5),
	)
}

const million = 1_000_000

// fillMillion creates the 1M series, one sample each (one open chunk per
// series), in commits of 10,000.
func fillMillion(b *testing.B, db *DB, lsets []model.Labels) {
	if err := fillSeries(db, lsets, 1); err != nil {
		b.Fatal(err)
	}
}

// fillSeries appends samples samples (15 s apart) to each series of lsets,
// a round of all series at a time, in commits of 10,000.
func fillSeries(db *DB, lsets []model.Labels, samples int) error {
	for r := range samples {
		for lo := 0; lo < len(lsets); lo += 10_000 {
			app := db.Appender(nil)
			for i, l := range lsets[lo:min(lo+10_000, len(lsets))] {
				if _, err := app.Append(0, l, 1000+int64(r)*15_000, float64(lo+i+r)); err != nil {
					return err
				}
			}
			if err := app.Commit(); err != nil {
				return err
			}
		}
	}
	if db.Head().NumSeries() != len(lsets) {
		return fmt.Errorf("head has %d series, want %d", db.Head().NumSeries(), len(lsets))
	}
	return nil
}

// headBreakdown is the heap a head of series holds, measured (Measured:
// the live heap after building it, less before) and by part (Parts:
// computed from the structures, HeadMemory).
type headBreakdown struct {
	Measured uint64
	Parts    HeadMemory
}

// measureHead opens a DB in dir, appends samples to each series of lsets
// and measures its heap; the DB is closed.
func measureHead(dir string, lsets []model.Labels, samples int) (headBreakdown, error) {
	var hb headBreakdown
	db, err := Open(dir, benchOpts())
	if err != nil {
		return hb, err
	}
	defer db.Close()
	before := liveHeap()
	if err := fillSeries(db, lsets, samples); err != nil {
		return hb, err
	}
	hb.Measured = liveHeap() - before
	hb.Parts = db.Head().Memory()
	runtime.KeepAlive(db)
	runtime.KeepAlive(lsets) // the caller's: not part of the head
	return hb, nil
}

// BenchmarkHeadMemory: the live heap a head of 1M series × 10 labels
// holds (measured after GC, the label sets passed in excluded), with one
// sample in each series' open chunk and with three (an idle scrape target
// after its first minute), and where it goes: B/series is the measured
// total, the other metrics its parts per series (headBreakdown;
// unaccounted-B is the measured total less the parts). Use -benchtime 1x:
// one op builds the whole head.
func BenchmarkHeadMemory(b *testing.B) {
	lsets := make([]model.Labels, million)
	for i := range lsets {
		lsets[i] = millionLabels(i)
	}
	for _, samples := range []int{1, 3} {
		b.Run(fmt.Sprintf("samples=%d", samples), func(b *testing.B) {
			var hb headBreakdown
			for b.Loop() {
				var err error
				if hb, err = measureHead(b.TempDir(), lsets, samples); err != nil {
					b.Fatal(err)
				}
			}
			per := func(v uint64) float64 { return float64(v) / million }
			p, ix := hb.Parts, hb.Parts.Index
			b.ReportMetric(per(hb.Measured), "B/series")
			b.ReportMetric(float64(hb.Measured)/(1<<20), "MiB")
			b.ReportMetric(float64(unsafe.Sizeof(memSeries{})), "B/memSeries")
			b.ReportMetric(per(p.MemSeries), "memseries-B")
			b.ReportMetric(per(p.OpenChunks), "openchunk-B")
			b.ReportMetric(per(p.SeriesTables), "reftables-B")
			b.ReportMetric(per(p.Other), "other-B")
			b.ReportMetric(per(ix.SeriesRefs), "ix-refs-B")
			b.ReportMetric(per(ix.Pairs), "ix-pairs-B")
			b.ReportMetric(per(ix.Postings), "ix-postings-B")
			b.ReportMetric(per(ix.ValueTables), "ix-values-B")
			b.ReportMetric(per(ix.Strings), "ix-strings-B")
			b.ReportMetric(per(ix.Hashes), "ix-hashes-B")
			b.ReportMetric(float64(int64(hb.Measured)-int64(p.Total()))/million, "unaccounted-B")
		})
	}
}

// BenchmarkSelectOneOfMillion: a querier over a 1M-series head selects
// one series by its unique instance label and reads its sample.
func BenchmarkSelectOneOfMillion(b *testing.B) {
	lsets := make([]model.Labels, million)
	for i := range lsets {
		lsets[i] = millionLabels(i)
	}
	db, err := Open(b.TempDir(), benchOpts())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	fillMillion(b, db, lsets)
	lsets = nil
	b.Run("instance", func(b *testing.B) {
		b.ReportAllocs()
		k := 0
		for b.Loop() {
			i := (k * 7919) % million
			k++
			want := millionLabels(i)
			m := index.MustNewMatcher(index.MatchEqual, "instance", want.Get("instance"))
			q, err := db.Querier(math.MinInt64, math.MaxInt64)
			if err != nil {
				b.Fatal(err)
			}
			ss := q.Select(m)
			n := 0
			for ss.Next() {
				it := ss.At().Iterator(nil)
				for it.Next() {
					if _, v := it.At(); v != float64(i) {
						b.Fatalf("series %d: value %g", i, v)
					}
					n++
				}
			}
			q.Close()
			if n != 1 {
				b.Fatalf("series %d: %d samples, want 1", i, n)
			}
		}
	})
}

// The week benchmark's data: 1,000 series × 1 week at 60 s (10.08M
// samples).
const (
	weekSeries  = 1000
	weekStep    = Minute
	weekPoints  = 7 * 24 * 60
	weekSamples = weekSeries * weekPoints
)

func weekValue(i, k int) float64 { return float64(i*7+k%60) + float64(k/60) }

// buildWeek writes the week into blocks (compacting as it goes, as the
// background loop would) and returns the directory.
func buildWeek(b *testing.B, opts Options) string {
	dir := b.TempDir()
	db, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	lsets := make([]model.Labels, weekSeries)
	refs := make([]uint64, weekSeries)
	for i := range lsets {
		lsets[i] = model.MustFromStrings(model.MetricName, "node_cpu_seconds_total", "cpu", fmt.Sprint(i%8), "instance", fmt.Sprint("host-", i/8), "job", "node")
	}
	for k := range weekPoints {
		app := db.Appender(nil)
		for i, l := range lsets {
			if refs[i], err = app.Append(refs[i], l, int64(k)*weekStep, weekValue(i, k)); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
		if k%(6*60) == 0 {
			if err := db.Compact(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := db.FlushHead(); err != nil {
		b.Fatal(err)
	}
	if err := db.Compact(); err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkQueryWeek reads every sample of 1,000 series × 1 week at 60 s
// (10.08M samples, in blocks) through the querier: "all-series" over the
// blocks compaction writes by default (cold from level 2), "all-series-
// gorilla" over the same data compacted with ColdLevel -1. cpu-ms/query is
// the process's CPU time (every thread: the read-ahead decodes on all
// cores).
func BenchmarkQueryWeek(b *testing.B) {
	for _, cold := range []bool{true, false} {
		opts := benchOpts()
		name := "all-series"
		if !cold {
			opts.ColdLevel = -1
			name = "all-series-gorilla"
		}
		dir := buildWeek(b, opts)
		db, err := Open(dir, opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: %d blocks", name, len(db.Blocks()))
		b.Run(name, func(b *testing.B) { benchQueryWeek(b, db) })
		db.Close()
	}
}

func benchQueryWeek(b *testing.B, db *DB) {
	b.ReportAllocs()
	cpu := measure.CPUTime()
	for b.Loop() {
		q, err := db.Querier(math.MinInt64, math.MaxInt64)
		if err != nil {
			b.Fatal(err)
		}
		ss := q.Select(index.MustNewMatcher(index.MatchEqual, "job", "node"))
		var it Iterator
		n, sum := 0, 0.0
		for ss.Next() {
			it = ss.At().Iterator(it)
			for it.Next() {
				_, v := it.At()
				sum += v
				n++
			}
			if err := it.Err(); err != nil {
				b.Fatal(err)
			}
		}
		q.Close()
		if n != weekSamples {
			b.Fatalf("%d samples, want %d", n, weekSamples)
		}
	}
	b.ReportMetric(float64(weekSamples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/query")
	b.ReportMetric(float64((measure.CPUTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/query")
}

// BenchmarkCompaction merges three 2 h blocks of 2,000 series at 15 s
// (2.88M samples) into one; MB/s is the input blocks' size per second.
func BenchmarkCompaction(b *testing.B) {
	src := b.TempDir()
	opts := benchOpts()
	opts.CompactionRanges = []int64{DefaultBlockRange} // FlushHead must not merge them itself
	db, err := Open(src, opts)
	if err != nil {
		b.Fatal(err)
	}
	const n = 2000
	refs := make([]uint64, n)
	for k := range 3 * 2 * 240 {
		app := db.Appender(nil)
		for i := range n {
			l := model.MustFromStrings(model.MetricName, "http_requests_total", "i", fmt.Sprint(i), "job", "api")
			if refs[i], err = app.Append(refs[i], l, int64(k)*15000, float64(k*(i%17))); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.FlushHead(); err != nil {
		b.Fatal(err)
	}
	if len(db.Blocks()) != 3 {
		b.Fatalf("%d blocks", len(db.Blocks()))
	}
	db.Close()
	for _, cold := range []bool{true, false} {
		name := "3x2h" // the merged block cold (ColdLevel's default)
		if !cold {
			name = "3x2h-gorilla" // ColdLevel -1: Gorilla chunks copied or recoded
		}
		b.Run(name, func(b *testing.B) { benchCompaction(b, src, opts, cold) })
	}
}

func benchCompaction(b *testing.B, src string, opts Options, cold bool) {
	const n = 2000
	if !cold {
		opts.ColdLevel = -1
	}
	{
		var in int64
		var took, cpu time.Duration
		for b.Loop() {
			b.StopTimer()
			dir := filepath.Join(b.TempDir(), "db")
			if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
				b.Fatal(err)
			}
			db, err := Open(dir, opts)
			if err != nil {
				b.Fatal(err)
			}
			bs := db.Blocks()
			b.StartTimer()
			cpu0 := measure.CPUTime()
			st, err := db.CompactBlocks(bs[0].ULID, bs[1].ULID, bs[2].ULID)
			if err != nil {
				b.Fatal(err)
			}
			cpu += measure.CPUTime() - cpu0
			b.StopTimer()
			if st.Meta.Stats.NumSamples != 3*2*240*n {
				b.Fatalf("merged block has %d samples", st.Meta.Stats.NumSamples)
			}
			in += st.InSize
			took += st.Duration
			db.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(in)/1e6/b.Elapsed().Seconds(), "MB/s")
		// The process's CPU time during the merges (every thread), which
		// a loaded machine stretches less than the wall clock.
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
}

// The head-select benchmark's data: 10,000 series of 3 h at 15 s (720
// samples, 6 chunks each, all in the head), created in a shuffled order so
// that index IDs are not in label order, as with real scrape targets.
const (
	headSelSeries = 10_000
	headSelStep   = Minute / 4
	headSelPoints = 3 * 60 * 4
)

// BenchmarkHeadSelect is the storage side of an instant query such as
// sum(rate(http_requests_total[5m])) over 10,000 head series: a querier
// over the last 5 minutes selects them all. "select" walks the result and
// each series' labels; "read" also reads each series' samples (21 each).
// "read-3h" reads the whole head instead, 720 samples a series, most of
// them from full chunks in chunks_head (a head range query).
func BenchmarkHeadSelect(b *testing.B) {
	db, err := Open(b.TempDir(), benchOpts())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	lsets := make([]model.Labels, headSelSeries)
	for i := range lsets {
		lsets[i] = model.MustFromStrings(model.MetricName, "http_requests_total",
			"instance", fmt.Sprintf("host-%04d:9100", i/10), "job", "api",
			"method", []string{"GET", "POST", "PUT", "DELETE", "PATCH"}[i%5], "status", fmt.Sprint(200+i%2*300))
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(lsets), func(i, j int) { lsets[i], lsets[j] = lsets[j], lsets[i] })
	refs := make([]uint64, headSelSeries)
	for k := range headSelPoints {
		app := db.Appender(nil)
		for i, l := range lsets {
			if refs[i], err = app.Append(refs[i], l, int64(k)*headSelStep, float64(k*(1+i%7))); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	if len(db.Blocks()) != 0 {
		b.Fatalf("%d blocks: the data must stay in the head", len(db.Blocks()))
	}
	maxt := int64(headSelPoints-1) * headSelStep
	mint := maxt - 5*Minute
	m := index.MustNewMatcher(index.MatchEqual, model.MetricName, "http_requests_total")
	for _, c := range []struct {
		name       string
		read       bool
		mint, want int
	}{{"select", false, int(mint), 0}, {"read", true, int(mint), 21}, {"read-3h", true, 0, headSelPoints}} {
		read := c.read
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := measure.CPUTime()
			for b.Loop() {
				q, err := db.Querier(int64(c.mint), maxt)
				if err != nil {
					b.Fatal(err)
				}
				ss := q.Select(m)
				var it Iterator
				var prev model.Labels
				n, samples := 0, 0
				for ss.Next() {
					s := ss.At()
					l := s.Labels()
					if n > 0 && prev.Compare(l) >= 0 {
						b.Fatalf("series %d: %v after %v", n, l, prev)
					}
					prev = l
					n++
					if !read {
						continue
					}
					it = s.Iterator(it)
					for it.Next() {
						samples++
					}
					if err := it.Err(); err != nil {
						b.Fatal(err)
					}
				}
				q.Close()
				if n != headSelSeries || samples != headSelSeries*c.want {
					b.Fatalf("%d series, %d samples; want %d, %d", n, samples, headSelSeries, headSelSeries*c.want)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/query")
			b.ReportMetric((measure.CPUTime()-cpu).Seconds()*1000/float64(b.N), "cpu-ms/query")
		})
	}
}
