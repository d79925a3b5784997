package compare

import (
	"math"
	"sync"
	"testing"

	promhist "github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
)

// The side by side's data: 20 series × 720 scrapes (3 h at 15 s) of
// stage03's synthetic latency histogram, and the 1-minute rate of each as
// a recording rule stores it (gauge float histograms).
const (
	histSeries  = 20
	histSamples = 720
)

var histData = sync.OnceValues(func() ([]HistogramSeries, []FloatHistogramSeries) {
	ints, _ := HistogramData(histSeries, histSamples)
	floats, _ := FloatHistogramData(histSeries, histSamples)
	return ints, floats
})

// bucketsByIndex returns what a histogram means whatever spans spell it:
// the non-zero absolute count of every bucket index.
func bucketsByIndex(spans []histogram.Span, counts []float64) map[int64]float64 {
	m := map[int64]float64{}
	var idx int64
	k := 0
	for _, s := range spans {
		idx += int64(s.Offset)
		for range s.Length {
			if counts[k] != 0 {
				m[idx] = counts[k]
			}
			idx++
			k++
		}
	}
	return m
}

// sameFloatHistogram compares two float histograms by meaning: scalars bit
// for bit, bucket counts by index.
func sameFloatHistogram(a, b *histogram.FloatHistogram) bool {
	if a.Schema != b.Schema || a.ZeroThreshold != b.ZeroThreshold ||
		math.Float64bits(a.ZeroCount) != math.Float64bits(b.ZeroCount) ||
		math.Float64bits(a.Count) != math.Float64bits(b.Count) ||
		math.Float64bits(a.Sum) != math.Float64bits(b.Sum) {
		return false
	}
	for _, side := range [2][2]map[int64]float64{
		{bucketsByIndex(a.PositiveSpans, a.PositiveBuckets), bucketsByIndex(b.PositiveSpans, b.PositiveBuckets)},
		{bucketsByIndex(a.NegativeSpans, a.NegativeBuckets), bucketsByIndex(b.NegativeSpans, b.NegativeBuckets)},
	} {
		if len(side[0]) != len(side[1]) {
			return false
		}
		for k, v := range side[0] {
			if w, ok := side[1][k]; !ok || math.Float64bits(v) != math.Float64bits(w) {
				return false
			}
		}
	}
	return true
}

// TestHistogramChunksAgree: the same series go into Prometheus's histogram
// chunks and ours; Prometheus's decoder (the independent oracle) and ours
// both return the input histograms, and ours take no more bytes.
func TestHistogramChunksAgree(t *testing.T) {
	// Fewer series than the benchmarks: the test checks agreement, and
	// every sample of 5 series is plenty.
	ints, _ := HistogramData(5, histSamples)
	floats, _ := FloatHistogramData(5, histSamples)
	var promBytes, ourBytes, samples int
	for si, s := range ints {
		ph := make([]*promhist.Histogram, len(s.H))
		for i, h := range s.H {
			ph[i] = ToPrometheus(h)
		}
		pcs, err := EncodePrometheusHistograms(s.T, ph)
		if err != nil {
			t.Fatal(err)
		}
		ocs, err := EncodeGorillaHistograms(s.T, s.H)
		if err != nil {
			t.Fatal(err)
		}
		// Prometheus's decoding of its chunks.
		var promT []int64
		var promH []*histogram.FloatHistogram
		for _, b := range pcs {
			c, err := chunkenc.FromData(chunkenc.EncHistogram, b)
			if err != nil {
				t.Fatal(err)
			}
			it := c.Iterator(nil)
			for it.Next() == chunkenc.ValHistogram {
				ts, h := it.AtHistogram(nil)
				promT = append(promT, ts)
				promH = append(promH, FromPrometheus(h).ToFloat())
			}
			if it.Err() != nil {
				t.Fatal(it.Err())
			}
			promBytes += len(b)
		}
		// Ours, both views of the integer chunk.
		var ourT []int64
		var ourH, ourF []*histogram.FloatHistogram
		for _, b := range ocs {
			it := gorilla.NewHistogramIterator(b)
			for it.Next() {
				ts, h := it.AtHistogram(nil)
				_, fh := it.AtFloatHistogram(nil)
				ourT = append(ourT, ts)
				ourH = append(ourH, h.ToFloat())
				ourF = append(ourF, fh)
			}
			if it.Err() != nil {
				t.Fatal(it.Err())
			}
			ourBytes += len(b)
		}
		if len(promT) != len(s.T) || len(ourT) != len(s.T) {
			t.Fatalf("series %d: %d samples in, Prometheus decodes %d, we decode %d", si, len(s.T), len(promT), len(ourT))
		}
		for i := range s.T {
			in := s.H[i].ToFloat()
			if promT[i] != s.T[i] || ourT[i] != s.T[i] {
				t.Fatalf("series %d sample %d: t %d, Prometheus %d, ours %d", si, i, s.T[i], promT[i], ourT[i])
			}
			if !sameFloatHistogram(promH[i], in) {
				t.Fatalf("series %d sample %d: Prometheus decodes %+v, input %+v", si, i, promH[i], in)
			}
			if !sameFloatHistogram(ourH[i], promH[i]) || !sameFloatHistogram(ourF[i], promH[i]) {
				t.Fatalf("series %d sample %d: ours %+v / %+v, Prometheus %+v", si, i, ourH[i], ourF[i], promH[i])
			}
		}
		samples += len(s.T)
	}
	t.Logf("integer histograms, %d samples: Prometheus %.2f B/sample, ours %.2f B/sample",
		samples, float64(promBytes)/float64(samples), float64(ourBytes)/float64(samples))
	if ourBytes > promBytes {
		t.Errorf("our histogram chunks take %d bytes, Prometheus's %d", ourBytes, promBytes)
	}

	promBytes, ourBytes, samples = 0, 0, 0
	for si, s := range floats {
		ph := make([]*promhist.FloatHistogram, len(s.H))
		for i, h := range s.H {
			ph[i] = FloatToPrometheus(h)
		}
		pcs, err := EncodePrometheusFloatHistograms(s.T, ph)
		if err != nil {
			t.Fatal(err)
		}
		ocs, err := EncodeGorillaFloatHistograms(s.T, s.H)
		if err != nil {
			t.Fatal(err)
		}
		var promH, ourH []*histogram.FloatHistogram
		var promT, ourT []int64
		for _, b := range pcs {
			c, err := chunkenc.FromData(chunkenc.EncFloatHistogram, b)
			if err != nil {
				t.Fatal(err)
			}
			it := c.Iterator(nil)
			for it.Next() == chunkenc.ValFloatHistogram {
				ts, h := it.AtFloatHistogram(nil)
				promT = append(promT, ts)
				promH = append(promH, FloatFromPrometheus(h))
			}
			if it.Err() != nil {
				t.Fatal(it.Err())
			}
			promBytes += len(b)
		}
		for _, b := range ocs {
			it := gorilla.NewFloatHistogramIterator(b)
			for it.Next() {
				ts, h := it.AtFloatHistogram(nil)
				ourT = append(ourT, ts)
				ourH = append(ourH, h)
			}
			if it.Err() != nil {
				t.Fatal(it.Err())
			}
			ourBytes += len(b)
		}
		if len(promT) != len(s.T) || len(ourT) != len(s.T) {
			t.Fatalf("float series %d: %d samples in, Prometheus decodes %d, we decode %d", si, len(s.T), len(promT), len(ourT))
		}
		for i := range s.T {
			if promT[i] != s.T[i] || ourT[i] != s.T[i] {
				t.Fatalf("float series %d sample %d: timestamps differ", si, i)
			}
			if !sameFloatHistogram(promH[i], s.H[i]) {
				t.Fatalf("float series %d sample %d: Prometheus decodes %+v, input %+v", si, i, promH[i], s.H[i])
			}
			if !sameFloatHistogram(ourH[i], promH[i]) {
				t.Fatalf("float series %d sample %d: ours %+v, Prometheus %+v", si, i, ourH[i], promH[i])
			}
		}
		samples += len(s.T)
	}
	t.Logf("float histograms, %d samples: Prometheus %.2f B/sample, ours %.2f B/sample",
		samples, float64(promBytes)/float64(samples), float64(ourBytes)/float64(samples))
	if ourBytes > promBytes {
		t.Errorf("our float histogram chunks take %d bytes, Prometheus's %d", ourBytes, promBytes)
	}
}

// BenchmarkHistogramEncode: every series into 120-sample chunks, one
// append per sample, as a head does (recoding included).
func BenchmarkHistogramEncode(b *testing.B) {
	ints, floats := histData()
	samples := histSeries * histSamples
	promInts := make([][]*promhist.Histogram, len(ints))
	for si, s := range ints {
		for _, h := range s.H {
			promInts[si] = append(promInts[si], ToPrometheus(h))
		}
	}
	promFloats := make([][]*promhist.FloatHistogram, len(floats))
	for si, s := range floats {
		for _, h := range s.H {
			promFloats[si] = append(promFloats[si], FloatToPrometheus(h))
		}
	}
	sizeOf := func(cs [][]byte) int {
		n := 0
		for _, c := range cs {
			n += len(c)
		}
		return n
	}
	b.Run("int/prometheus", func(b *testing.B) {
		b.ReportAllocs()
		size := 0
		for b.Loop() {
			size = 0
			for si, s := range ints {
				cs, err := EncodePrometheusHistograms(s.T, promInts[si])
				if err != nil {
					b.Fatal(err)
				}
				size += sizeOf(cs)
			}
		}
		report(b, samples, size)
	})
	b.Run("int/gorilla", func(b *testing.B) {
		b.ReportAllocs()
		size := 0
		for b.Loop() {
			size = 0
			for _, s := range ints {
				cs, err := EncodeGorillaHistograms(s.T, s.H)
				if err != nil {
					b.Fatal(err)
				}
				size += sizeOf(cs)
			}
		}
		report(b, samples, size)
	})
	b.Run("float/prometheus", func(b *testing.B) {
		b.ReportAllocs()
		size := 0
		for b.Loop() {
			size = 0
			for si, s := range floats {
				cs, err := EncodePrometheusFloatHistograms(s.T, promFloats[si])
				if err != nil {
					b.Fatal(err)
				}
				size += sizeOf(cs)
			}
		}
		report(b, samples, size)
	})
	b.Run("float/gorilla", func(b *testing.B) {
		b.ReportAllocs()
		size := 0
		for b.Loop() {
			size = 0
			for _, s := range floats {
				cs, err := EncodeGorillaFloatHistograms(s.T, s.H)
				if err != nil {
					b.Fatal(err)
				}
				size += sizeOf(cs)
			}
		}
		report(b, samples, size)
	})
}

// BenchmarkHistogramDecode: every chunk read back through each codec's
// iterator into a reused histogram (the way a query reads), summing counts
// so the work is checked and not skipped.
func BenchmarkHistogramDecode(b *testing.B) {
	ints, floats := histData()
	samples := histSeries * histSamples
	var promInt, ourInt, promFloat, ourFloat [][]byte
	var wantCount, wantFloatCount float64
	for _, s := range ints {
		ph := make([]*promhist.Histogram, len(s.H))
		for i, h := range s.H {
			ph[i] = ToPrometheus(h)
			wantCount += float64(h.Count)
		}
		pcs, err := EncodePrometheusHistograms(s.T, ph)
		if err != nil {
			b.Fatal(err)
		}
		ocs, err := EncodeGorillaHistograms(s.T, s.H)
		if err != nil {
			b.Fatal(err)
		}
		promInt, ourInt = append(promInt, pcs...), append(ourInt, ocs...)
	}
	for _, s := range floats {
		ph := make([]*promhist.FloatHistogram, len(s.H))
		for i, h := range s.H {
			ph[i] = FloatToPrometheus(h)
			wantFloatCount += h.Count
		}
		pcs, err := EncodePrometheusFloatHistograms(s.T, ph)
		if err != nil {
			b.Fatal(err)
		}
		ocs, err := EncodeGorillaFloatHistograms(s.T, s.H)
		if err != nil {
			b.Fatal(err)
		}
		promFloat, ourFloat = append(promFloat, pcs...), append(ourFloat, ocs...)
	}
	check := func(b *testing.B, n int, got, want float64) {
		if n != samples || got != want {
			b.Fatalf("decoded %d samples with count total %v, want %d and %v", n, got, samples, want)
		}
	}
	b.Run("int/prometheus", func(b *testing.B) {
		b.ReportAllocs()
		var it chunkenc.Iterator
		h := &promhist.Histogram{}
		for b.Loop() {
			n, total := 0, 0.0
			for _, cb := range promInt {
				c, err := chunkenc.FromData(chunkenc.EncHistogram, cb)
				if err != nil {
					b.Fatal(err)
				}
				it = c.Iterator(it)
				for it.Next() == chunkenc.ValHistogram {
					_, h = it.AtHistogram(h)
					total += float64(h.Count)
					n++
				}
				if it.Err() != nil {
					b.Fatal(it.Err())
				}
			}
			check(b, n, total, wantCount)
		}
		report(b, samples, 0)
	})
	b.Run("int/gorilla", func(b *testing.B) {
		b.ReportAllocs()
		var it gorilla.HistogramIterator
		h := &histogram.Histogram{}
		for b.Loop() {
			n, total := 0, 0.0
			for _, cb := range ourInt {
				it.Reset(cb)
				for it.Next() {
					_, h = it.AtHistogram(h)
					total += float64(h.Count)
					n++
				}
				if it.Err() != nil {
					b.Fatal(it.Err())
				}
			}
			check(b, n, total, wantCount)
		}
		report(b, samples, 0)
	})
	b.Run("float/prometheus", func(b *testing.B) {
		b.ReportAllocs()
		var it chunkenc.Iterator
		h := &promhist.FloatHistogram{}
		for b.Loop() {
			n, total := 0, 0.0
			for _, cb := range promFloat {
				c, err := chunkenc.FromData(chunkenc.EncFloatHistogram, cb)
				if err != nil {
					b.Fatal(err)
				}
				it = c.Iterator(it)
				for it.Next() == chunkenc.ValFloatHistogram {
					_, h = it.AtFloatHistogram(h)
					total += h.Count
					n++
				}
				if it.Err() != nil {
					b.Fatal(it.Err())
				}
			}
			check(b, n, total, wantFloatCount)
		}
		report(b, samples, 0)
	})
	b.Run("float/gorilla", func(b *testing.B) {
		b.ReportAllocs()
		var it gorilla.FloatHistogramIterator
		h := &histogram.FloatHistogram{}
		for b.Loop() {
			n, total := 0, 0.0
			for _, cb := range ourFloat {
				it.Reset(cb)
				for it.Next() {
					_, h = it.AtFloatHistogram(h)
					total += h.Count
					n++
				}
				if it.Err() != nil {
					b.Fatal(it.Err())
				}
			}
			check(b, n, total, wantFloatCount)
		}
		report(b, samples, 0)
	})
}
