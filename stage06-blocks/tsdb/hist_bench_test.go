package tsdb

import (
	"fmt"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage04-wal/wal"
)

// BenchmarkAppendHistogram: 1,000 series of native histograms (stage03's
// synthetic request latencies, 25-40 populated buckets, new buckets now
// and then), one histogram per series per commit, WAL without fsync;
// b.N counts scrapes of all series. After the timed part the head is cut
// into blocks, whose size per histogram is reported.
func BenchmarkAppendHistogram(b *testing.B) {
	const n = 1000
	hs := make([][]*histogram.Histogram, n)
	lsets := make([]model.Labels, n)
	for i := range n {
		_, hs[i] = gorilla.SyntheticHistograms(b.N+1, uint64(i+1))
		lsets[i] = model.MustFromStrings(model.MetricName, "rpc_duration_seconds", "i", fmt.Sprint(i), "job", "api")
	}
	db, err := Open(b.TempDir(), Options{WALSync: wal.SyncNone, NoBackgroundCompaction: true, FutureGrace: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	refs := make([]uint64, n)
	scrape := func(k int) {
		app := db.Appender(nil)
		for i := range n {
			r, err := app.AppendHistogram(refs[i], lsets[i], int64(k)*15_000, hs[i][k], nil)
			if err != nil {
				b.Fatal(err)
			}
			refs[i] = r
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	scrape(0) // series creation, not timed
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for k := 1; k <= b.N; k++ {
		scrape(k)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/sample")
	if _, err := db.FlushHead(); err != nil {
		b.Fatal(err)
	}
	var size int64
	var samples uint64
	for _, bi := range db.Blocks() {
		size += bi.Size
		samples += bi.Stats.NumSamples
	}
	if samples != uint64(n*(b.N+1)) {
		b.Fatalf("blocks hold %d histograms, want %d", samples, n*(b.N+1))
	}
	b.ReportMetric(float64(size)/float64(samples), "block-B/sample")
}
