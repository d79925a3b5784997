package tsdb

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
)

// BenchmarkAppend: 10,000 series, one sample per series per commit (a
// scrape), refs reused, WAL on, one or two appending goroutines each with
// half the series. b.N counts scrapes of all 10,000 series.
func BenchmarkAppend(b *testing.B) {
	for _, g := range []int{1, 2} {
		for _, sync := range []wal.SyncPolicy{wal.SyncNone, wal.SyncBatch} {
			b.Run(fmt.Sprintf("goroutines=%d/sync=%s", g, sync), func(b *testing.B) { benchAppend(b, g, sync, 0) })
		}
	}
}

// BenchmarkWindowCommit is BenchmarkAppend's in-order scrape (no fsync)
// with the out-of-order window on, window=0 beside it: what a commit pays
// for the barrier that keeps past samples safe (Head.commits).
func BenchmarkWindowCommit(b *testing.B) {
	for _, g := range []int{1, 2} {
		for _, w := range []int64{0, 100 * 365 * 24 * Hour} {
			b.Run(fmt.Sprintf("goroutines=%d/window=%v", g, w > 0), func(b *testing.B) { benchAppend(b, g, wal.SyncNone, w) })
		}
	}
}

func benchAppend(b *testing.B, goroutines int, policy wal.SyncPolicy, window int64) {
	const n = 10_000
	opts := Options{WALSync: policy, NoBackgroundCompaction: true, OutOfOrderWindow: window}
	db, err := Open(b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	per := n / goroutines
	lsets := make([][]model.Labels, goroutines)
	refs := make([][]uint64, goroutines)
	for g := range goroutines {
		for i := range per {
			lsets[g] = append(lsets[g], model.MustFromStrings(model.MetricName, "bench", "g", fmt.Sprint(g), "i", fmt.Sprint(i), "job", "api"))
		}
		refs[g] = make([]uint64, per)
	}
	scrape := func(g int, t int64) error {
		app := db.Appender(nil)
		for i, l := range lsets[g] {
			r, err := app.Append(refs[g][i], l, t, float64(t+int64(i)))
			if err != nil {
				return err
			}
			refs[g][i] = r
		}
		return app.Commit()
	}
	for g := range goroutines {
		if err := scrape(g, 0); err != nil { // series creation, not timed
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 1; k <= b.N; k++ {
				if err := scrape(g, int64(k)*15000); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime() - cpu0
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	if got := db.Head().samples.Load(); got != uint64(n*(b.N+1)) {
		b.Fatalf("head has %d samples, want %d", got, n*(b.N+1))
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
	// CPU time (user + system, every thread: the garbage collector and
	// the WAL too) per sample: on a shared machine, where other jobs stretch
	// the wall clock, the figure that compares across runs.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/sample")
}

// cpuTime is the process's CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCreateSeries: the first scrape, every series new.
func BenchmarkCreateSeries(b *testing.B) {
	b.Run("append", func(b *testing.B) { benchCreateSeries(b, false) })
	// All 10,000 series resolved by one SeriesRefs, then appended by ref.
	b.Run("seriesrefs", func(b *testing.B) { benchCreateSeries(b, true) })
}

func benchCreateSeries(b *testing.B, batch bool) {
	const n = 10_000
	lsets := make([]model.Labels, n)
	for i := range lsets {
		lsets[i] = model.MustFromStrings(model.MetricName, "bench", "instance", fmt.Sprint("host-", i), "job", "api", "region", "eu")
	}
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		db, err := Open(b.TempDir(), Options{WALSync: wal.SyncNone, NoBackgroundCompaction: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0 := cpuTime()
		app := db.Appender(nil)
		if batch {
			refs := make([]uint64, n)
			if err := app.(SeriesAppender).SeriesRefs(lsets, refs, nil); err != nil {
				b.Fatal(err)
			}
			for i, ref := range refs {
				if _, err := app.Append(ref, model.Labels{}, 1000, float64(i)); err != nil {
					b.Fatal(err)
				}
			}
		} else {
			for i, l := range lsets {
				if _, err := app.Append(0, l, 1000, float64(i)); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - cpu0
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/series")
	// CPU time (every thread) per series: what compares across runs on a
	// shared machine.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/series")
}

// BenchmarkCreateSeriesConcurrent is the cold start of an ingestion
// server: 8 appenders (a pipeline's flushers) at once, each creating 1,250
// series of its own (10,000 in all), one Append each or one SeriesRefs
// each. One at a time, creations meet on the creation lock and queue, each
// parked and woken; a batch is one request.
func BenchmarkCreateSeriesConcurrent(b *testing.B) {
	b.Run("append", func(b *testing.B) { benchCreateConcurrent(b, false) })
	b.Run("seriesrefs", func(b *testing.B) { benchCreateConcurrent(b, true) })
}

func benchCreateConcurrent(b *testing.B, batch bool) {
	const goroutines, per = 8, 1250
	lsets := make([][]model.Labels, goroutines)
	for g := range lsets {
		lsets[g] = make([]model.Labels, per)
		for i := range per {
			lsets[g][i] = model.MustFromStrings(model.MetricName, "bench", "instance", fmt.Sprint("host-", g, "-", i), "job", "api", "region", "eu")
		}
	}
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		db, err := Open(b.TempDir(), Options{WALSync: wal.SyncNone, NoBackgroundCompaction: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		cpu0 := cpuTime()
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				app := db.Appender(nil)
				if batch {
					refs := make([]uint64, per)
					if err := app.(SeriesAppender).SeriesRefs(lsets[g], refs, nil); err != nil {
						b.Error(err)
						return
					}
					for i, ref := range refs {
						if _, err := app.Append(ref, model.Labels{}, 1000, float64(i)); err != nil {
							b.Error(err)
							return
						}
					}
				} else {
					for i, l := range lsets[g] {
						if _, err := app.Append(0, l, 1000, float64(i)); err != nil {
							b.Error(err)
							return
						}
					}
				}
				if err := app.Commit(); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		cpu += cpuTime() - cpu0
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*goroutines*per), "ns/series")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*goroutines*per), "cpu-ns/series")
}
