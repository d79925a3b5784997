package wal

import (
	"fmt"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// scrape fills a 1000-sample batch: one timestamp, 1000 series from base.
func scrape(dst []RefSample, base uint64, t int64) {
	for i := range dst {
		dst[i] = RefSample{Ref: base + uint64(i), T: t, V: float64(i) + float64(t%97)}
	}
}

// BenchmarkLog: appenders goroutines each encode and log 1000-sample
// batches; one op is one batch. samples/s counts acknowledged samples (for
// batch/always: durable ones).
func BenchmarkLog(b *testing.B) {
	for _, tc := range []struct {
		policy    SyncPolicy
		appenders int
	}{
		{SyncBatch, 8}, {SyncBatch, 1}, {SyncAlways, 8}, {SyncAlways, 1}, {SyncInterval, 8}, {SyncNone, 8}, {SyncNone, 1},
	} {
		b.Run(fmt.Sprintf("sync=%v/appenders=%d", tc.policy, tc.appenders), func(b *testing.B) {
			w, err := Open(b.TempDir(), Options{Sync: tc.policy})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			b.ReportAllocs()
			b.SetParallelism((tc.appenders + 1) / 2) // RunParallel starts GOMAXPROCS × this goroutines
			var id atomic.Uint64
			b.ResetTimer()
			start := time.Now()
			if tc.appenders == 1 {
				batch := make([]RefSample, 1000)
				var rec []byte
				for i := 0; i < b.N; i++ {
					scrape(batch, 0, int64(i))
					rec = AppendSamples(rec[:0], batch)
					if err := w.Log(rec); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					base := id.Add(1) * 1000
					batch := make([]RefSample, 1000)
					var rec []byte
					for t := int64(0); pb.Next(); t++ {
						scrape(batch, base, t)
						rec = AppendSamples(rec[:0], batch)
						if err := w.Log(rec); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			el := time.Since(start)
			b.StopTimer()
			st := w.Stats()
			b.ReportMetric(float64(b.N)*1000/el.Seconds(), "samples/s")
			b.ReportMetric(float64(st.Bytes)/float64(b.N)/1000, "B/sample")
			if st.Fsyncs > 0 {
				b.ReportMetric(float64(st.Records)/float64(max(st.Fsyncs, 1)), "batches/fsync")
			}
		})
	}
}

// BenchmarkReplay reads and decodes a log of 2M samples (2000 records of
// 1000); one op is the whole replay. values=scrape is the synthetic batch
// above (small integers, very compressible); values=counters is 10,000
// counters growing by random increments (fixed seed), the realistic shape.
// compression=none is the log's format before compression (and still what
// CompressionNone writes), so the rows compare replay before and after.
func BenchmarkReplay(b *testing.B) {
	for _, shape := range []string{"scrape", "counters"} {
		for _, c := range []Compression{CompressionNone, CompressionSnappy, CompressionZstd} {
			b.Run(fmt.Sprintf("values=%s/compression=%v", shape, c), func(b *testing.B) {
				benchReplay(b, shape, c)
			})
		}
	}
}

// BenchmarkReplayDense is BenchmarkReplay with the dense samples record
// (dense.go) in place of the samples record.
func BenchmarkReplayDense(b *testing.B) {
	for _, shape := range []string{"scrape", "counters"} {
		for _, c := range []Compression{CompressionNone, CompressionSnappy, CompressionZstd} {
			b.Run(fmt.Sprintf("values=%s/compression=%v", shape, c), func(b *testing.B) {
				benchReplayRecord(b, shape, c, AppendDenseSamples)
			})
		}
	}
}

func benchReplay(b *testing.B, shape string, c Compression) {
	benchReplayRecord(b, shape, c, AppendSamples)
}

func benchReplayRecord(b *testing.B, shape string, c Compression, encode func([]byte, []RefSample) []byte) {
	dir := b.TempDir()
	w, err := Open(dir, Options{Sync: SyncNone, Compression: c})
	if err != nil {
		b.Fatal(err)
	}
	const records = 2000
	batch := make([]RefSample, 1000)
	rng := rand.New(rand.NewPCG(7, 8))
	vals := make([]float64, 10_000)
	var rec []byte
	for i := range records {
		if shape == "scrape" {
			scrape(batch, uint64(i%10)*1000, int64(i/10))
		} else {
			base := (i % 10) * 1000
			batch = counterBatch(batch[:0], vals[base:base+1000], rng, int64(i/10)*15_000)
			for j := range batch {
				batch[j].Ref += uint64(base)
			}
		}
		rec = encode(rec[:0], batch)
		if err := w.Log(rec); err != nil {
			b.Fatal(err)
		}
	}
	onDisk := w.Stats().Bytes
	w.Close()
	b.ReportAllocs()
	b.ResetTimer()
	var samples []RefSample
	for i := 0; i < b.N; i++ {
		r, err := NewReader(dir)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for r.Next() {
			if samples, err = DecodeSamples(r.Record(), samples); err != nil {
				b.Fatal(err)
			}
			n += len(samples)
		}
		if r.Err() != nil || n != records*1000 {
			b.Fatalf("replayed %d samples: %v", n, r.Err())
		}
		r.Close()
	}
	b.ReportMetric(float64(b.N)*records*1000/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(onDisk)/(records*1000), "B/sample")
}

// BenchmarkLogCompression: what compressing costs the write path. One
// appender (or 8), sync=none so that the disk does not hide the CPU, 1000
// counters per batch; one op is one batch.
func BenchmarkLogCompression(b *testing.B) {
	for _, appenders := range []int{1, 8} {
		for _, c := range []Compression{CompressionNone, CompressionSnappy, CompressionZstd} {
			b.Run(fmt.Sprintf("appenders=%d/compression=%v", appenders, c), func(b *testing.B) {
				w, err := Open(b.TempDir(), Options{Sync: SyncNone, Compression: c})
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				b.ReportAllocs()
				b.SetParallelism((appenders + 1) / 2)
				var seed atomic.Uint64
				b.ResetTimer()
				start := time.Now()
				body := func(next func() bool) {
					rng := rand.New(rand.NewPCG(seed.Add(1), 9))
					vals := make([]float64, 1000)
					var batch []RefSample
					var rec []byte
					for t := int64(0); next(); t++ {
						batch = counterBatch(batch, vals, rng, t*15_000)
						rec = AppendSamples(rec[:0], batch)
						if err := w.Log(rec); err != nil {
							b.Error(err)
							return
						}
					}
				}
				if appenders == 1 {
					i := 0
					body(func() bool { i++; return i <= b.N })
				} else {
					b.RunParallel(func(pb *testing.PB) { body(pb.Next) })
				}
				el := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)*1000/el.Seconds(), "samples/s")
				b.ReportMetric(float64(w.Stats().Bytes)/float64(b.N)/1000, "B/sample")
			})
		}
	}
}

// BenchmarkFsync is the number that explains the others: append 4 KiB to a
// file and fsync it.
func BenchmarkFsync(b *testing.B) {
	f, err := os.CreateTemp(b.TempDir(), "fsync")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/fsync")
}

func BenchmarkEncodeSamples(b *testing.B) {
	batch := make([]RefSample, 1000)
	scrape(batch, 0, 1_700_000_000_000)
	var rec []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rec = AppendSamples(rec[:0], batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/sample")
}

func BenchmarkDecodeSamples(b *testing.B) {
	batch := make([]RefSample, 1000)
	scrape(batch, 0, 1_700_000_000_000)
	rec := AppendSamples(nil, batch)
	out := make([]RefSample, 0, 1000)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var err error
		if out, err = DecodeSamples(rec, out); err != nil || len(out) != 1000 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/sample")
}

// The dense record on the same scrape as BenchmarkEncodeSamples, and on a
// scrape of counters (integers: the decimal value column).
func BenchmarkEncodeDenseSamples(b *testing.B) {
	for _, shape := range []string{"scrape", "counters"} {
		b.Run("values="+shape, func(b *testing.B) {
			batch := denseBenchBatch(shape)
			var rec []byte
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rec = AppendDenseSamples(rec[:0], batch)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/sample")
			b.ReportMetric(float64(len(rec))/1000, "B/sample")
		})
	}
}

func BenchmarkDecodeDenseSamples(b *testing.B) {
	for _, shape := range []string{"scrape", "counters"} {
		b.Run("values="+shape, func(b *testing.B) {
			rec := AppendDenseSamples(nil, denseBenchBatch(shape))
			out := make([]RefSample, 0, 1000)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var err error
				if out, err = DecodeSamples(rec, out); err != nil || len(out) != 1000 {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/sample")
		})
	}
}

func denseBenchBatch(shape string) []RefSample {
	batch := make([]RefSample, 1000)
	if shape == "scrape" {
		scrape(batch, 0, 1_700_000_000_000)
		return batch
	}
	rng := rand.New(rand.NewPCG(7, 8))
	vals := make([]float64, 1000)
	for range 100 {
		batch = counterBatch(batch, vals, rng, 1_700_000_000_000)
	}
	return batch
}

// BenchmarkDecodeHistograms: a record of 1,000 histograms of 20 buckets,
// integer and float, decoded (each histogram allocated, and validated).
func BenchmarkDecodeHistograms(b *testing.B) {
	hs := make([]RefHistogram, 1000)
	fhs := make([]RefFloatHistogram, 1000)
	for i := range hs {
		h := &histogram.Histogram{Schema: 3, ZeroThreshold: 0.001, ZeroCount: 2, Sum: 1.5,
			PositiveSpans: []histogram.Span{{Offset: -4, Length: 20}}, PositiveBuckets: make([]int64, 20)}
		h.Count = h.ZeroCount
		for j := range h.PositiveBuckets {
			h.PositiveBuckets[j] = int64(j%3) - 1 + int64(i%2)
			if j == 0 {
				h.PositiveBuckets[j] = 5
			}
		}
		c := int64(0)
		for _, d := range h.PositiveBuckets {
			c += d
			h.Count += uint64(c)
		}
		hs[i] = RefHistogram{Ref: uint64(i + 1), T: 1_700_000_000_000, H: h}
		fhs[i] = RefFloatHistogram{Ref: uint64(i + 1), T: 1_700_000_000_000, FH: h.ToFloat()}
	}
	b.Run("int", func(b *testing.B) {
		rec := AppendHistograms(nil, hs)
		out := make([]RefHistogram, 0, 1000)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if out, err = DecodeHistograms(rec, out); err != nil || len(out) != 1000 {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/histogram")
	})
	b.Run("float", func(b *testing.B) {
		rec := AppendFloatHistograms(nil, fhs)
		out := make([]RefFloatHistogram, 0, 1000)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if out, err = DecodeFloatHistograms(rec, out); err != nil || len(out) != 1000 {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/histogram")
	})
}
