package tsdb

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage01-memstore/model"
)

// BenchmarkHeadCut cuts one 2 h block from a head of 10,000 series (one
// sample a minute, integers, as counters are; 3 h in the head), the work a
// head cut does beside the writes: cpu-ms and allocated MB per cut (the
// allocations decide how many collections a cut adds under load).
func BenchmarkHeadCut(b *testing.B) {
	var cpu, allocs float64
	for b.Loop() {
		b.StopTimer()
		db := headCutDB(b, benchOpts())
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		cpu0 := measure.CPUTime()
		b.StartTimer()
		rep, err := db.CompactReport(b.Context())
		b.StopTimer()
		cpu += float64((measure.CPUTime() - cpu0).Microseconds()) / 1000
		runtime.ReadMemStats(&m1)
		allocs += float64(m1.TotalAlloc-m0.TotalAlloc) / 1e6
		if err != nil || len(rep) != 1 {
			b.Fatalf("%d blocks (%v)", len(rep), err)
		}
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(cpu/float64(b.N), "cpu-ms/op")
	b.ReportMetric(allocs/float64(b.N), "alloc-MB/op")
}

// headCutDB opens a DB holding 10,000 series of 3 h at one sample a minute
// in its head (not yet cut).
func headCutDB(b *testing.B, opts Options) *DB {
	const n, points = 10_000, 3*60 + 1
	db, err := Open(filepath.Join(b.TempDir(), "db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	refs := make([]uint64, n)
	lsets := make([]model.Labels, n)
	for i := range n {
		lsets[i] = model.MustFromStrings(model.MetricName, "cpu_usage_user", "host", fmt.Sprint("host_", i/10), "i", fmt.Sprint(i%10))
	}
	for k := range points {
		app := db.Appender(nil)
		for i := range n {
			if refs[i], err = app.Append(refs[i], lsets[i], int64(k)*Minute, float64(k*(i%17))); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	return db
}

// BenchmarkHeadCutBeside runs the head cut of BenchmarkHeadCut beside four
// goroutines that each wake every millisecond and then compute for 200 µs
// (0.8 of a core, as writes at half the maximum rate use on two cores),
// and reports how late they ran after their timer fired during the cut
// (p99, ms), with the background loops yielding (background.go) and, as
// before them, not yielding. Wall-clock figures: compare the two within
// one run, on a machine with little else running.
func BenchmarkHeadCutBeside(b *testing.B) {
	for _, yield := range []bool{true, false} {
		name := "yield"
		if !yield {
			name = "noyield"
		}
		b.Run(name, func(b *testing.B) {
			var late []time.Duration
			for b.Loop() {
				b.StopTimer()
				opts := benchOpts()
				if !yield {
					opts.yield = func() {}
				}
				db := headCutDB(b, opts)
				stop := make(chan struct{})
				var wg sync.WaitGroup
				lates := make([][]time.Duration, 4)
				for g := range lates {
					wg.Go(func() {
						t := time.NewTicker(time.Millisecond)
						defer t.Stop()
						for {
							select {
							case <-stop:
								return
							case fired := <-t.C:
								lates[g] = append(lates[g], time.Since(fired))
								for end := time.Now().Add(200 * time.Microsecond); time.Now().Before(end); {
								}
							}
						}
					})
				}
				b.StartTimer()
				rep, err := db.CompactReport(b.Context())
				b.StopTimer()
				close(stop)
				wg.Wait()
				if err != nil || len(rep) != 1 {
					b.Fatalf("%d blocks (%v)", len(rep), err)
				}
				for _, l := range lates {
					late = append(late, l...)
				}
				db.Close()
				b.StartTimer()
			}
			slices.Sort(late)
			if len(late) > 0 {
				b.ReportMetric(float64(late[len(late)*99/100].Microseconds())/1000, "ms-late-p99")
				b.ReportMetric(float64(late[len(late)/2].Microseconds())/1000, "ms-late-p50")
			}
		})
	}
}
