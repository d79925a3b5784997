package gorilla

import (
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Benchmarks report domain units: ns/sample and samples/s for speed,
// B/sample for size. Each checks its result, so a broken codec cannot post
// a good number.

// chunked cuts series into chunks of n samples (the last may be shorter).
type chunkedData struct {
	ts      [][]int64
	vs      [][]float64
	samples int
}

func chunked(tsAll [][]int64, vsAll [][]float64, n int) chunkedData {
	var d chunkedData
	for k := range tsAll {
		for i := 0; i < len(tsAll[k]); i += n {
			j := min(i+n, len(tsAll[k]))
			d.ts = append(d.ts, tsAll[k][i:j])
			d.vs = append(d.vs, vsAll[k][i:j])
			d.samples += j - i
		}
	}
	return d
}

func tsbsChunked(b *testing.B, n int) chunkedData {
	series := loadCPUOnly(b)
	var ts [][]int64
	var vs [][]float64
	for _, s := range series {
		ts = append(ts, s.T)
		vs = append(vs, s.V)
	}
	return chunked(ts, vs, n)
}

func syntheticChunked(n int) chunkedData {
	ts, vs := Synthetic(1_000_000, 1)
	return chunked([][]int64{ts}, [][]float64{vs}, n)
}

// countersChunked is 1,000 counters scraped every 15 s, each growing at
// its own rate of 0.1-10 per second with ±50 % noise: increments of 0-227,
// the shape of http_requests_total that stage15's query benchmark reads.
func countersChunked(n int) chunkedData {
	rng := rand.New(rand.NewPCG(1, 2))
	var ts [][]int64
	var vs [][]float64
	for range 1000 {
		rate := 0.1 + 10*rng.Float64()
		t, v := make([]int64, 720), make([]float64, 720)
		for i := range t {
			t[i] = int64(i) * 15_000
			if i > 0 {
				v[i] = v[i-1] + float64(int(rate*15*(0.5+rng.Float64())))
			}
		}
		ts, vs = append(ts, t), append(vs, v)
	}
	return chunked(ts, vs, n)
}

func benchEncode(b *testing.B, d chunkedData, enc Encoding) {
	b.ReportAllocs()
	var size int
	for b.Loop() {
		size = 0
		for k := range d.ts {
			c, _ := NewChunk(enc)
			a, _ := c.Appender()
			for i, t := range d.ts[k] {
				if err := a.Append(t, d.vs[k][i]); err != nil {
					b.Fatal(err)
				}
			}
			size += len(c.Bytes())
		}
	}
	report(b, d.samples)
	b.ReportMetric(float64(size)/float64(d.samples), "B/sample")
}

func encodeAll(b *testing.B, d chunkedData, enc Encoding) [][]byte {
	out := make([][]byte, len(d.ts))
	for k := range d.ts {
		c, err := Encode(d.ts[k], d.vs[k], enc)
		if err != nil {
			b.Fatal(err)
		}
		out[k] = c.Bytes()
	}
	return out
}

func benchIterate(b *testing.B, d chunkedData, enc Encoding) {
	chunks := encodeAll(b, d, enc)
	b.ReportAllocs()
	var it Iterator
	for b.Loop() {
		n := 0
		var sum float64
		for _, c := range chunks {
			it.Reset(c)
			for it.Next() {
				_, v := it.At()
				sum += v
				n++
			}
			if it.Err() != nil {
				b.Fatal(it.Err())
			}
		}
		if n != d.samples {
			b.Fatalf("decoded %d samples, want %d", n, d.samples)
		}
	}
	report(b, d.samples)
}

func benchDecodeAll(b *testing.B, d chunkedData, enc Encoding) {
	chunks := encodeAll(b, d, enc)
	b.ReportAllocs()
	ts := make([]int64, 0, MaxSamples)
	vs := make([]float64, 0, MaxSamples)
	for b.Loop() {
		n := 0
		for _, c := range chunks {
			var err error
			ts, vs, err = DecodeAll(c, ts[:0], vs[:0])
			if err != nil {
				b.Fatal(err)
			}
			n += len(ts)
		}
		if n != d.samples {
			b.Fatalf("decoded %d samples, want %d", n, d.samples)
		}
	}
	report(b, d.samples)
}

// benchAppendSamples is benchDecodeAll writing rows (AppendSamples), as
// stage06's query path does.
func benchAppendSamples(b *testing.B, d chunkedData, enc Encoding) {
	chunks := encodeAll(b, d, enc)
	b.ReportAllocs()
	ss := make([]model.Sample, 0, MaxSamples)
	for b.Loop() {
		n := 0
		for _, c := range chunks {
			var err error
			ss, err = AppendSamples(c, ss[:0])
			if err != nil {
				b.Fatal(err)
			}
			n += len(ss)
		}
		if n != d.samples {
			b.Fatalf("decoded %d samples, want %d", n, d.samples)
		}
	}
	report(b, d.samples)
}

func report(b *testing.B, samples int) {
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp/float64(samples), "ns/sample")
	b.ReportMetric(float64(samples)/perOp*1e9, "samples/s")
}

func BenchmarkEncode(b *testing.B) {
	b.Run("tsbs-cpu/120/xor", func(b *testing.B) { benchEncode(b, tsbsChunked(b, 120), XOR) })
	b.Run("tsbs-cpu/120/integer", func(b *testing.B) { benchEncode(b, tsbsChunked(b, 120), Integer) })
	b.Run("tsbs-cpu/2h/xor", func(b *testing.B) { benchEncode(b, tsbsChunked(b, 720), XOR) })
	b.Run("tsbs-cpu/2h/integer", func(b *testing.B) { benchEncode(b, tsbsChunked(b, 720), Integer) })
	b.Run("synthetic/120/xor", func(b *testing.B) { benchEncode(b, syntheticChunked(120), XOR) })
	b.Run("synthetic/2h/xor", func(b *testing.B) { benchEncode(b, syntheticChunked(7200), XOR) })
}

func BenchmarkIterate(b *testing.B) {
	b.Run("tsbs-cpu/120/xor", func(b *testing.B) { benchIterate(b, tsbsChunked(b, 120), XOR) })
	b.Run("tsbs-cpu/120/integer", func(b *testing.B) { benchIterate(b, tsbsChunked(b, 120), Integer) })
	b.Run("synthetic/120/xor", func(b *testing.B) { benchIterate(b, syntheticChunked(120), XOR) })
}

func BenchmarkDecodeAll(b *testing.B) {
	b.Run("tsbs-cpu/120/xor", func(b *testing.B) { benchDecodeAll(b, tsbsChunked(b, 120), XOR) })
	b.Run("tsbs-cpu/120/integer", func(b *testing.B) { benchDecodeAll(b, tsbsChunked(b, 120), Integer) })
	b.Run("counters/120/integer", func(b *testing.B) { benchDecodeAll(b, countersChunked(120), Integer) })
	b.Run("tsbs-cpu/2h/xor", func(b *testing.B) { benchDecodeAll(b, tsbsChunked(b, 720), XOR) })
	b.Run("synthetic/120/xor", func(b *testing.B) { benchDecodeAll(b, syntheticChunked(120), XOR) })
}

func BenchmarkAppendSamples(b *testing.B) {
	b.Run("tsbs-cpu/120/xor", func(b *testing.B) { benchAppendSamples(b, tsbsChunked(b, 120), XOR) })
	b.Run("tsbs-cpu/120/integer", func(b *testing.B) { benchAppendSamples(b, tsbsChunked(b, 120), Integer) })
	b.Run("counters/120/integer", func(b *testing.B) { benchAppendSamples(b, countersChunked(120), Integer) })
	b.Run("counters/120/xor", func(b *testing.B) { benchAppendSamples(b, countersChunked(120), XOR) })
	b.Run("synthetic/120/xor", func(b *testing.B) { benchAppendSamples(b, syntheticChunked(120), XOR) })
}
