package index

import (
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/gen"
)

// The benchmarks share one index per size, built once per test binary.
var (
	benchMu      sync.Mutex
	benchIndexes = map[int]*Index{}
)

func benchIndex(b testing.TB, n int) *Index {
	benchMu.Lock()
	defer benchMu.Unlock()
	if ix := benchIndexes[n]; ix != nil {
		return ix
	}
	ix := New()
	for _, ls := range gen.New(n, gen.Seed).All() {
		if _, _, err := ix.Add(ls); err != nil {
			b.Fatal(err)
		}
	}
	benchIndexes[n] = ix
	return ix
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkBuild indexes 1M generated series per op. B/series is the live
// heap the index holds afterwards (after a GC), divided by the series.
func BenchmarkBuild(b *testing.B) {
	const n = 1_000_000
	g := gen.New(n, gen.Seed)
	b.ReportAllocs()
	var bytesPerSeries float64
	for b.Loop() {
		b.StopTimer()
		before := heapInUse()
		b.StartTimer()
		ix := New()
		for _, ls := range g.All() {
			if _, _, err := ix.Add(ls); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if ix.Len() != n {
			b.Fatalf("%d series, want %d", ix.Len(), n)
		}
		bytesPerSeries = float64(heapInUse()-before) / n
		runtime.KeepAlive(ix)
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "series/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/build")
	b.ReportMetric(bytesPerSeries, "B/series")
}

// BenchmarkGenerate is the cost of making the label sets alone, to subtract
// from BenchmarkBuild.
func BenchmarkGenerate(b *testing.B) {
	const n = 1_000_000
	g := gen.New(n, gen.Seed)
	for b.Loop() {
		c := 0
		for _, ls := range g.All() {
			c += ls.Len()
		}
		if c < 14*n {
			b.Fatal(c)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/build")
}

// BenchmarkBuildUniqueLabel indexes 1M series that each have a label of
// their own (instance, as a head of scrape targets has), with four shared
// ones. B/series is the live heap after GC: a pair of one series keeps a
// single ID instead of a roaring bitmap (see pair).
func BenchmarkBuildUniqueLabel(b *testing.B) {
	const n = 1_000_000
	lsets := make([]model.Labels, n)
	for i := range lsets {
		lsets[i] = model.MustFromStrings(model.MetricName, fmt.Sprint("metric_", i%100),
			"instance", fmt.Sprint("10.", i>>16, ".", (i>>8)&255, ".", i&255, ":9100"),
			"job", fmt.Sprint("job-", i%50), "pod", fmt.Sprint("pod-", i/100), "region", fmt.Sprint("region-", i%8))
	}
	var bytesPerSeries float64
	for b.Loop() {
		b.StopTimer()
		before := heapInUse()
		b.StartTimer()
		ix := New()
		for _, ls := range lsets {
			if _, _, err := ix.Add(ls); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if ix.Len() != n {
			b.Fatalf("%d series, want %d", ix.Len(), n)
		}
		bytesPerSeries = float64(heapInUse()-before) / n
		runtime.KeepAlive(ix)
		b.StartTimer()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/build")
	b.ReportMetric(bytesPerSeries, "B/series")
}

// benchQueries are the demo's queries and the regex target, on 1M series.
var benchQueries = []struct{ name, q string }{
	{"region", `region=us-east`},
	{"region_env", `region=us-east AND env=production`},
	{"region_env_service", `region=us-east AND env=production AND service=api`},
	{"regex_50K_values", `instance=~"host-.*7.*3"`},
	{"regex_prefix", `instance=~"host-01.*"`},
	{"negative", `region=us-east AND env!=production AND version!~"v1.1.*"`},
}

// BenchmarkSelect runs each query on the 1M-series index, the matching IDs
// materialised as a sorted []uint32 (what a caller iterates).
func BenchmarkSelect(b *testing.B) {
	ix := benchIndex(b, 1_000_000)
	for _, q := range benchQueries {
		ms, err := ParseQuery(q.q)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n = len(ix.Select(ms...).ToArray())
			}
			if n == 0 {
				b.Fatal("no match")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/query")
			b.ReportMetric(float64(n), "matches")
		})
	}
}

// BenchmarkOpen opens a written 1M-series index file.
func BenchmarkOpen(b *testing.B) {
	ix := benchIndex(b, 1_000_000)
	path := filepath.Join(b.TempDir(), "index")
	if err := ix.WriteFile(path, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if got.Len() != ix.Len() {
			b.Fatal("wrong size")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/open")
}

// BenchmarkWrite writes the 1M-series index file.
func BenchmarkWrite(b *testing.B) {
	ix := benchIndex(b, 1_000_000)
	path := filepath.Join(b.TempDir(), "index")
	b.ReportAllocs()
	for b.Loop() {
		if err := ix.WriteFile(path, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/write")
}
