package tsm

import (
	"compress/gzip"
	"fmt"
	"math"
	"os"
	"testing"
	"time"

	"github.com/tsdb-course/stage02-delta/tsbs"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage07-tsm/lineprotocol"
)

// tsbsBatches parses a file of testdata/tsbs once into write batches of
// `lines` lines (the benchmarks time the engine, not the parser).
func tsbsBatches(tb testing.TB, name string, lines int) []*Batch {
	tb.Helper()
	path, err := tsbs.Path(name)
	mustNoErr(tb, err)
	fh, err := os.Open(path)
	mustNoErr(tb, err)
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	mustNoErr(tb, err)
	d := lineprotocol.NewDecoder(zr)
	var out []*Batch
	b := NewBatch()
	var p lineprotocol.Point
	n := 0
	for d.Next(&p) {
		mustNoErr(tb, b.AddPoint(&p, 0))
		if n++; n%lines == 0 {
			out = append(out, b)
			b = NewBatch()
		}
	}
	mustNoErr(tb, d.Err())
	if b.Len() > 0 {
		out = append(out, b)
	}
	return out
}

func countValues(bs []*Batch) int {
	n := 0
	for _, b := range bs {
		n += b.Len()
	}
	return n
}

// BenchmarkIngestTSBS writes the cpu-only file (2.16M values, parsed
// beforehand) through WAL (sync=batch: every write acknowledged after an
// fsync covering it) and cache, default 256 MiB cache (no flush).
func BenchmarkIngestTSBS(b *testing.B) {
	batches := tsbsBatches(b, tsbs.CPUOnly, 5000)
	n := countValues(batches)
	b.ReportAllocs()
	b.ResetTimer()
	var walBytes uint64
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		e, err := Open(dir, Options{WAL: wal.Options{Sync: wal.SyncBatch}})
		mustNoErr(b, err)
		b.StartTimer()
		for _, bt := range batches {
			if err := e.WriteBatch(bt); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		walBytes = e.Stats().WAL.Bytes
		if got := e.Stats().CacheValues; got != int64(n) {
			b.Fatalf("cache holds %d values, wrote %d", got, n)
		}
		e.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
	b.ReportMetric(float64(walBytes)/float64(n), "WAL-B/value")
}

// BenchmarkFullCompactionTSBS loads cpu-only as ten flushed files, then
// times a full compaction and reports the size of the result per value.
// integer: the file's values as written (integer fields); float: the same
// numbers stored as floats, for the float blocks (timestamp column + XOR).
func BenchmarkFullCompactionTSBS(b *testing.B) {
	batches := tsbsBatches(b, tsbs.CPUOnly, 5000)
	n := countValues(batches)
	run := func(b *testing.B, batches []*Batch) {
		b.ReportAllocs()
		b.ResetTimer()
		var size int64
		for range b.N {
			b.StopTimer()
			e := loadFiles(b, batches, 10)
			b.StartTimer()
			st, err := e.Compact(true)
			mustNoErr(b, err)
			b.StopTimer()
			if st.Output.Values != n {
				b.Fatalf("compacted %d values, want %d", st.Output.Values, n)
			}
			size = st.Output.Size
			e.Close()
			b.StartTimer()
		}
		b.ReportMetric(float64(size)/float64(n), "B/value")
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
	}
	b.Run("integer", func(b *testing.B) { run(b, batches) })
	b.Run("float", func(b *testing.B) { run(b, asFloats(batches)) })
}

// asFloats copies batches with every integer value turned into a float.
func asFloats(bs []*Batch) []*Batch {
	out := make([]*Batch, len(bs))
	for i, bt := range bs {
		out[i] = NewBatch()
		for j, k := range bt.keys {
			v := &bt.vals[j]
			for x := range v.T {
				f := v.V[x]
				if v.Type == IntegerType {
					f = math.Float64bits(float64(int64(f)))
				}
				out[i].Add([]byte(k), FloatType, v.T[x], f, "")
			}
		}
	}
	return out
}

// loadFiles writes batches into a new engine flushing into `files` files.
func loadFiles(tb testing.TB, batches []*Batch, files int) *Engine {
	e, err := Open(tb.TempDir(), Options{WAL: wal.Options{Sync: wal.SyncNone}})
	mustNoErr(tb, err)
	for i, bt := range batches {
		mustNoErr(tb, e.WriteBatch(bt))
		if (i+1)*files/len(batches) > i*files/len(batches) {
			_, err := e.Flush()
			mustNoErr(tb, err)
		}
	}
	if got := len(e.Stats().Files); got != files {
		tb.Fatalf("%d files, want %d", got, files)
	}
	return e
}

// BenchmarkQueryOneKeyHour reads one key × 1 h (360 values) with 10 TSM
// files present.
//
//   - by-time: cpu-only flushed in time order, every key in every file (the
//     hour spans one or two files; the other files' index entries say
//     their blocks are out of range);
//   - by-host: each file holds 10 of the 100 hosts, so for a key 9 files of
//     10 are rejected by the bloom filter without their index being touched
//     (reported as bloom-rejects/query).
func BenchmarkQueryOneKeyHour(b *testing.B) {
	batches := tsbsBatches(b, tsbs.CPUOnly, 5000)
	const key = "cpu,arch=x64,datacenter=us-west-1b,hostname=host_5,os=Ubuntu16.10,rack=18,region=us-west-1,service=14,service_environment=staging,service_version=0,team=CHI#!~#usage_user"
	start := time.Date(2024, 1, 1, 2, 0, 0, 0, time.UTC).UnixNano()
	run := func(b *testing.B, e *Engine) {
		defer e.Close()
		b.ReportAllocs()
		b.ResetTimer()
		var st ReadStats
		for range b.N {
			v, s, err := e.Read(key, start, start+int64(time.Hour)-1)
			if err != nil || v.Len() != 360 {
				b.Fatalf("%d values, %v", v.Len(), err)
			}
			st.BloomRejects += s.BloomRejects
			st.IndexSearches += s.IndexSearches
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/query")
		b.ReportMetric(float64(st.BloomRejects)/float64(b.N), "bloom-rejects/query")
		b.ReportMetric(float64(st.IndexSearches)/float64(b.N), "index-searches/query")
	}
	b.Run("by-time", func(b *testing.B) { run(b, loadFiles(b, batches, 10)) })
	b.Run("by-host", func(b *testing.B) {
		// regroup the values: file g holds hosts with number % 10 == g
		groups := make([]*Batch, 10)
		for g := range groups {
			groups[g] = NewBatch()
		}
		for _, bt := range batches {
			for i, k := range bt.keys {
				var h int
				fmt.Sscanf(k[hostIndex(k):], "hostname=host_%d", &h)
				v := &bt.vals[i]
				for j := range v.T {
					groups[h%10].Add([]byte(k), v.Type, v.T[j], v.V[j], "")
				}
			}
		}
		run(b, loadFiles(b, groups, 10))
	})
}

func hostIndex(k string) int {
	for i := 0; i+9 <= len(k); i++ {
		if k[i:i+9] == "hostname=" {
			return i
		}
	}
	return 0
}
