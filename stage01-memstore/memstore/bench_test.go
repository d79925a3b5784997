package memstore

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

func reportRate(b *testing.B, points int) {
	b.ReportMetric(float64(points)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkAppendHandle: in-order appends through a kept *Series handle.
func BenchmarkAppendHandle(b *testing.B) {
	b.ReportAllocs()
	st := New()
	h := st.Series(model.MustFromStrings(model.MetricName, "cpu.usage", "host", "server1"))
	ts := int64(0)
	for b.Loop() {
		ts += 10
		h.Append(ts, 0.5)
	}
	reportRate(b, b.N)
	if h.Len() != b.N {
		b.Fatalf("stored %d points, appended %d", h.Len(), b.N)
	}
}

// BenchmarkInsertLabels: every point arrives with its label set, as from a
// client, round-robin over 1,000 series: hash, look up, append.
func BenchmarkInsertLabels(b *testing.B) {
	b.ReportAllocs()
	const nseries = 1000
	sets := make([]model.Labels, nseries)
	for i := range sets {
		sets[i] = model.MustFromStrings(model.MetricName, "cpu.usage", "host", fmt.Sprintf("server%d", i), "region", "us-east")
	}
	st := New()
	i := 0
	for b.Loop() {
		st.Insert(sets[i%nseries], int64(i/nseries)*10, 0.5)
		i++
	}
	reportRate(b, b.N)
	if got := st.Stats().Points; got != b.N {
		b.Fatalf("stored %d points, inserted %d", got, b.N)
	}
}

// BenchmarkInsertOutOfOrder: 10% of points arrive up to 100 steps late.
func BenchmarkInsertOutOfOrder(b *testing.B) {
	b.ReportAllocs()
	h := New().Series(model.MustFromStrings(model.MetricName, "m"))
	i := 0
	for b.Loop() {
		ts := int64(i) * 10
		if i%10 == 9 {
			ts -= 1000 - 5
		}
		h.Append(ts, 1)
		i++
	}
	reportRate(b, b.N)
}

// BenchmarkRangeQuery100: 100 points out of a 1M-point series.
func BenchmarkRangeQuery100(b *testing.B) {
	b.ReportAllocs()
	const n = 1_000_000
	h := New().Series(model.MustFromStrings(model.MetricName, "m"))
	for i := range n {
		h.Append(int64(i)*10, float64(i))
	}
	dst := make([]model.Sample, 0, 100)
	q := 0
	for b.Loop() {
		mint := int64((q*7919)%(n-100)) * 10
		dst = h.Range(mint, mint+990, dst[:0])
		q++
	}
	if len(dst) != 100 {
		b.Fatalf("returned %d points, want 100", len(dst))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/query")
}

// BenchmarkMemory1M measures heap bytes per point for 1M points in one
// series, from the runtime's own accounting rather than from Stats.
func BenchmarkMemory1M(b *testing.B) {
	const n = 1_000_000
	var ms runtime.MemStats
	var heap, cols float64
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		st := New()
		h := st.Series(model.MustFromStrings(model.MetricName, "m"))
		for i := range n {
			h.Append(int64(i)*10, float64(i))
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap = float64(ms.HeapAlloc-before) / n
		cols = float64(st.Stats().ColumnBytes) / n
		runtime.KeepAlive(st)
	}
	b.ReportMetric(heap, "heap-B/point")
	b.ReportMetric(cols, "column-B/point")
}
