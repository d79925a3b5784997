package compare

import (
	"sync"
	"testing"

	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/tsdb-course/stage02-delta/delta"
	"github.com/tsdb-course/stage02-delta/tsbs"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
)

var cpuOnly struct {
	once sync.Once
	data Data
	err  error
}

// cpuData loads the TSBS cpu-only file once per test binary.
func cpuData(tb testing.TB) Data {
	tb.Helper()
	cpuOnly.once.Do(func() { cpuOnly.data, cpuOnly.err = LoadTSBS(tsbs.CPUOnly, ChunkSamples) })
	if cpuOnly.err != nil {
		tb.Fatal(cpuOnly.err)
	}
	return cpuOnly.data
}

// syntheticData is stage03's generated data, always available.
func syntheticData() Data {
	ts, vs := gorilla.Synthetic(20_000, 5)
	return Cut([]Chunk{{T: ts, V: vs}}, ChunkSamples)
}

// TestDecodersAgree: on the same chunks, Prometheus's decoder and ours both
// return exactly the input, and our Integer chunks do too where they apply.
// It also checks the size claim of the stage03 README: our XOR chunks are no
// larger than Prometheus's.
func TestDecodersAgree(t *testing.T) {
	check := func(t *testing.T, d Data) {
		var promBytes, gorBytes int
		for k, c := range d.Chunks {
			pb, err := EncodePrometheus(c)
			if err != nil {
				t.Fatal(err)
			}
			gb, err := EncodeGorilla(c, gorilla.XOR)
			if err != nil {
				t.Fatal(err)
			}
			promBytes += len(pb)
			gorBytes += len(gb)
			fromProm, err := DecodePrometheus(pb, Chunk{})
			if err != nil {
				t.Fatal(err)
			}
			fromGor, err := DecodeGorilla(gb, Chunk{})
			if err != nil {
				t.Fatal(err)
			}
			if err := Equal(fromProm, c); err != nil {
				t.Fatalf("chunk %d: Prometheus: %v", k, err)
			}
			if err := Equal(fromGor, c); err != nil {
				t.Fatalf("chunk %d: gorilla: %v", k, err)
			}
			if gorilla.AllIntegers(c.V) {
				ib, err := EncodeGorilla(c, gorilla.Integer)
				if err != nil {
					t.Fatal(err)
				}
				fromInt, err := DecodeGorilla(ib, Chunk{})
				if err != nil {
					t.Fatal(err)
				}
				if err := Equal(fromInt, c); err != nil {
					t.Fatalf("chunk %d: gorilla integer: %v", k, err)
				}
			}
		}
		t.Logf("%d samples: Prometheus %.4f B/sample, gorilla XOR %.4f B/sample", d.Samples,
			float64(promBytes)/float64(d.Samples), float64(gorBytes)/float64(d.Samples))
		if gorBytes > promBytes {
			t.Errorf("gorilla XOR chunks take %d bytes, Prometheus's %d", gorBytes, promBytes)
		}
	}
	t.Run("synthetic", func(t *testing.T) { check(t, syntheticData()) })
	t.Run("tsbs-cpu-only", func(t *testing.T) { check(t, cpuData(t)) })
}

// report adds the per-sample figures every benchmark prints.
func report(b *testing.B, samples, size int) {
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp/float64(samples), "ns/sample")
	b.ReportMetric(float64(samples)/perOp*1e9, "samples/s")
	if size > 0 {
		b.ReportMetric(float64(size)/float64(samples), "B/sample")
	}
}

// Encode: build every 120-sample chunk of the data set, one Append per sample.
func BenchmarkEncode(b *testing.B) {
	d := cpuData(b)
	b.Run("prometheus-xor", func(b *testing.B) {
		b.ReportAllocs()
		size := 0
		for b.Loop() {
			size = 0
			for _, c := range d.Chunks {
				pb, err := EncodePrometheus(c)
				if err != nil {
					b.Fatal(err)
				}
				size += len(pb)
			}
		}
		report(b, d.Samples, size)
	})
	for _, enc := range []gorilla.Encoding{gorilla.XOR, gorilla.Integer} {
		b.Run("gorilla-"+enc.String(), func(b *testing.B) {
			b.ReportAllocs()
			size := 0
			for b.Loop() {
				size = 0
				for _, c := range d.Chunks {
					gb, err := EncodeGorilla(c, enc)
					if err != nil {
						b.Fatal(err)
					}
					size += len(gb)
				}
			}
			report(b, d.Samples, size)
		})
	}
	// stage02's unit is a whole series (2,160 samples here), not a chunk.
	b.Run("stage02-delta-per-series", func(b *testing.B) {
		b.ReportAllocs()
		size := 0
		for b.Loop() {
			size = 0
			for _, s := range d.Series {
				out, _ := delta.Compress(s.T, s.V)
				size += len(out)
			}
		}
		report(b, d.Samples, size)
	})
}

// Decode: read every sample of every chunk back through each codec's
// iterator (and our bulk path), summing values so the work is not skipped.
func BenchmarkDecode(b *testing.B) {
	d := cpuData(b)
	prom := make([][]byte, len(d.Chunks))
	xor := make([][]byte, len(d.Chunks))
	integer := make([][]byte, len(d.Chunks))
	for k, c := range d.Chunks {
		var err error
		if prom[k], err = EncodePrometheus(c); err != nil {
			b.Fatal(err)
		}
		if xor[k], err = EncodeGorilla(c, gorilla.XOR); err != nil {
			b.Fatal(err)
		}
		if integer[k], err = EncodeGorilla(c, gorilla.Integer); err != nil {
			b.Fatal(err)
		}
	}
	check := func(b *testing.B, n int) {
		if n != d.Samples {
			b.Fatalf("decoded %d samples, want %d", n, d.Samples)
		}
	}
	b.Run("prometheus-xor-iterator", func(b *testing.B) {
		b.ReportAllocs()
		var it chunkenc.Iterator
		for b.Loop() {
			n, sum := 0, 0.0
			for _, cb := range prom {
				pc, err := chunkenc.FromData(chunkenc.EncXOR, cb)
				if err != nil {
					b.Fatal(err)
				}
				it = pc.Iterator(it)
				for it.Next() == chunkenc.ValFloat {
					_, v := it.At()
					sum += v
					n++
				}
				if it.Err() != nil {
					b.Fatal(it.Err())
				}
			}
			check(b, n)
		}
		report(b, d.Samples, 0)
	})
	for name, chunks := range map[string][][]byte{"gorilla-xor": xor, "gorilla-integer": integer} {
		b.Run(name+"-iterator", func(b *testing.B) {
			b.ReportAllocs()
			var it gorilla.Iterator
			for b.Loop() {
				n, sum := 0, 0.0
				for _, cb := range chunks {
					it.Reset(cb)
					for it.Next() {
						_, v := it.At()
						sum += v
						n++
					}
					if it.Err() != nil {
						b.Fatal(it.Err())
					}
				}
				check(b, n)
			}
			report(b, d.Samples, 0)
		})
		b.Run(name+"-decodeall", func(b *testing.B) {
			b.ReportAllocs()
			ts := make([]int64, 0, ChunkSamples)
			vs := make([]float64, 0, ChunkSamples)
			for b.Loop() {
				n := 0
				for _, cb := range chunks {
					var err error
					ts, vs, err = gorilla.DecodeAll(cb, ts[:0], vs[:0])
					if err != nil {
						b.Fatal(err)
					}
					n += len(ts)
				}
				check(b, n)
			}
			report(b, d.Samples, 0)
		})
	}
	b.Run("stage02-delta-per-series", func(b *testing.B) {
		files := make([][]byte, len(d.Series))
		for k, s := range d.Series {
			files[k], _ = delta.Compress(s.T, s.V)
		}
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for _, f := range files {
				ts, _, err := delta.Decompress(f)
				if err != nil {
					b.Fatal(err)
				}
				n += len(ts)
			}
			check(b, n)
		}
		report(b, d.Samples, 0)
	})
}
