package tsdb

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// BenchmarkCommitDuringSegmentStart: four goroutines commit batches of
// 100 samples (out-of-order window on, WAL fsynced, group commit) while
// compaction starts a new WAL segment and waits for the commits logged in
// the older ones (startSegment, persistPast's step 2) b.N times, 5 ms
// apart. It reports the commits' latency: what the step costs the writes.
func BenchmarkCommitDuringSegmentStart(b *testing.B) {
	db, err := Open(b.TempDir(), Options{OutOfOrderWindow: Hour, NoBackgroundCompaction: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const writers, series = 4, 100
	stop := make(chan struct{})
	var mu sync.Mutex
	var lats []time.Duration
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lsets := make([]model.Labels, series)
			refs := make([]uint64, series)
			for i := range lsets {
				lsets[i] = model.MustFromStrings(model.MetricName, "bench", "w", fmt.Sprint(w), "i", fmt.Sprint(i))
			}
			var mine []time.Duration
			for t := int64(1); ; t++ {
				select {
				case <-stop:
					mu.Lock()
					lats = append(lats, mine...)
					mu.Unlock()
					return
				default:
				}
				start := time.Now()
				app := db.Appender(nil)
				for i := range lsets {
					if refs[i], err = app.Append(refs[i], lsets[i], t*1000, float64(t)); err != nil {
						b.Error(err)
						return
					}
				}
				if err := app.Commit(); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(start))
			}
		}()
	}
	b.ResetTimer()
	for range b.N {
		if _, err := db.startSegment(); err != nil {
			b.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // pacing, as compactions are
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	slices.Sort(lats)
	if len(lats) == 0 {
		return
	}
	q := func(p float64) float64 { return float64(lats[min(len(lats)-1, int(p*float64(len(lats))))]) / 1e6 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(len(lats))/float64(b.N), "commits/op")
}
