package compare

import (
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

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

// histCodec is one codec on one data set of the side by side: encode
// builds every series' chunks, one append per sample, as a head does
// (recoding included), and returns their bytes; decode reads every chunk
// back through the codec's iterator into one reused histogram (the way a
// query reads) and returns the samples read and their counts' total, so
// the work is checked and cannot be skipped.
type histCodec struct {
	name   string
	encode func() (size int, err error)
	decode func() (n int, total float64, err error)
}

// histCodecs returns the four codecs (integer and float data, Prometheus
// and ours) with their chunks encoded once for decoding, and the counts'
// total decoding must find.
func histCodecs(tb testing.TB) (codecs []histCodec, wantInt, wantFloat float64) {
	ints, floats := histData()
	promInts := make([][]*promhist.Histogram, len(ints))
	for si, s := range ints {
		for _, h := range s.H {
			promInts[si] = append(promInts[si], ToPrometheus(h))
			wantInt += float64(h.Count)
		}
	}
	promFloats := make([][]*promhist.FloatHistogram, len(floats))
	for si, s := range floats {
		for _, h := range s.H {
			promFloats[si] = append(promFloats[si], FloatToPrometheus(h))
			wantFloat += h.Count
		}
	}
	// encodeAll runs enc on every series and returns the chunks.
	encodeAll := func(n int, enc func(i int) ([][]byte, error)) ([][]byte, error) {
		var all [][]byte
		for i := range n {
			cs, err := enc(i)
			if err != nil {
				return nil, err
			}
			all = append(all, cs...)
		}
		return all, nil
	}
	size := func(cs [][]byte, err error) (int, error) {
		n := 0
		for _, c := range cs {
			n += len(c)
		}
		return n, err
	}
	promIntEnc := func(i int) ([][]byte, error) { return EncodePrometheusHistograms(ints[i].T, promInts[i]) }
	ourIntEnc := func(i int) ([][]byte, error) { return EncodeGorillaHistograms(ints[i].T, ints[i].H) }
	promFloatEnc := func(i int) ([][]byte, error) {
		return EncodePrometheusFloatHistograms(floats[i].T, promFloats[i])
	}
	ourFloatEnc := func(i int) ([][]byte, error) { return EncodeGorillaFloatHistograms(floats[i].T, floats[i].H) }
	must := func(cs [][]byte, err error) [][]byte {
		if err != nil {
			tb.Fatal(err)
		}
		return cs
	}
	promInt := must(encodeAll(len(ints), promIntEnc))
	ourInt := must(encodeAll(len(ints), ourIntEnc))
	promFloat := must(encodeAll(len(floats), promFloatEnc))
	ourFloat := must(encodeAll(len(floats), ourFloatEnc))

	var pit, pfit chunkenc.Iterator
	ph, pfh := &promhist.Histogram{}, &promhist.FloatHistogram{}
	var oit gorilla.HistogramIterator
	var ofit gorilla.FloatHistogramIterator
	oh, ofh := &histogram.Histogram{}, &histogram.FloatHistogram{}
	return []histCodec{
		{"int/prometheus", func() (int, error) { return size(encodeAll(len(ints), promIntEnc)) },
			func() (n int, total float64, err error) {
				for _, cb := range promInt {
					c, err := chunkenc.FromData(chunkenc.EncHistogram, cb)
					if err != nil {
						return 0, 0, err
					}
					pit = c.Iterator(pit)
					for pit.Next() == chunkenc.ValHistogram {
						_, ph = pit.AtHistogram(ph)
						total += float64(ph.Count)
						n++
					}
					if pit.Err() != nil {
						return 0, 0, pit.Err()
					}
				}
				return n, total, nil
			}},
		{"int/gorilla", func() (int, error) { return size(encodeAll(len(ints), ourIntEnc)) },
			func() (n int, total float64, err error) {
				for _, cb := range ourInt {
					oit.Reset(cb)
					for oit.Next() {
						_, oh = oit.AtHistogram(oh)
						total += float64(oh.Count)
						n++
					}
					if oit.Err() != nil {
						return 0, 0, oit.Err()
					}
				}
				return n, total, nil
			}},
		{"float/prometheus", func() (int, error) { return size(encodeAll(len(floats), promFloatEnc)) },
			func() (n int, total float64, err error) {
				for _, cb := range promFloat {
					c, err := chunkenc.FromData(chunkenc.EncFloatHistogram, cb)
					if err != nil {
						return 0, 0, err
					}
					pfit = c.Iterator(pfit)
					for pfit.Next() == chunkenc.ValFloatHistogram {
						_, pfh = pfit.AtFloatHistogram(pfh)
						total += pfh.Count
						n++
					}
					if pfit.Err() != nil {
						return 0, 0, pfit.Err()
					}
				}
				return n, total, nil
			}},
		{"float/gorilla", func() (int, error) { return size(encodeAll(len(floats), ourFloatEnc)) },
			func() (n int, total float64, err error) {
				for _, cb := range ourFloat {
					ofit.Reset(cb)
					for ofit.Next() {
						_, ofh = ofit.AtFloatHistogram(ofh)
						total += ofh.Count
						n++
					}
					if ofit.Err() != nil {
						return 0, 0, ofit.Err()
					}
				}
				return n, total, nil
			}},
	}, wantInt, wantFloat
}

// checkDecoded fails the benchmark unless decoding found every sample.
func checkDecoded(b *testing.B, c histCodec, n int, total, wantInt, wantFloat float64, err error) {
	want := wantInt
	if strings.HasPrefix(c.name, "float/") {
		want = wantFloat
	}
	if err != nil || n != histSeries*histSamples || total != want {
		b.Fatalf("%s decoded %d samples with count total %v (%v), want %d and %v", c.name, n, total, err, histSeries*histSamples, want)
	}
}

// BenchmarkHistogramEncode: every series into 120-sample chunks, one
// append per sample; B/sample is the chunks' size.
func BenchmarkHistogramEncode(b *testing.B) {
	codecs, _, _ := histCodecs(b)
	for _, c := range codecs {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			size := 0
			for b.Loop() {
				var err error
				if size, err = c.encode(); err != nil {
					b.Fatal(err)
				}
			}
			report(b, histSeries*histSamples, size)
		})
	}
}

// BenchmarkHistogramDecode: every chunk through each codec's iterator.
func BenchmarkHistogramDecode(b *testing.B) {
	codecs, wantInt, wantFloat := histCodecs(b)
	for _, c := range codecs {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				n, total, err := c.decode()
				checkDecoded(b, c, n, total, wantInt, wantFloat, err)
			}
			report(b, histSeries*histSamples, 0)
		})
	}
}

// BenchmarkHistogramAlternated runs Prometheus's codec and ours in turn
// inside every iteration, so both figures come from the same seconds of a
// shared machine: both encode, then both decode, the one going first
// changing every iteration (decoding right after encoding was measured up
// to 3x slower, for either codec: the encoder's garbage is being swept and
// returned meanwhile). It reports each one's wall ns/sample and the ratios
// ours / Prometheus's (below 1: ours is faster), in wall time and in the
// CPU time of the benchmark's thread, which depends less on what else the
// machine runs (Linux only; 0 elsewhere).
func BenchmarkHistogramAlternated(b *testing.B) {
	codecs, wantInt, wantFloat := histCodecs(b)
	samples := float64(histSeries * histSamples)
	for k := 0; k < len(codecs); k += 2 {
		pair := [2]histCodec{codecs[k], codecs[k+1]} // Prometheus's, ours
		b.Run(strings.TrimSuffix(pair[0].name, "/prometheus"), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var enc, dec, encCPU, decCPU [2]time.Duration
			iter := 0
			for b.Loop() {
				order := [2]int{0, 1}
				if iter%2 == 1 {
					order = [2]int{1, 0}
				}
				iter++
				for _, i := range order {
					// A collection before each timed phase, so that one
					// codec's garbage is not collected on the other's time.
					runtime.GC()
					start, cpu := time.Now(), threadCPU()
					if _, err := pair[i].encode(); err != nil {
						b.Fatal(err)
					}
					enc[i] += time.Since(start)
					encCPU[i] += threadCPU() - cpu
				}
				runtime.GC()
				for _, i := range order {
					start, cpu := time.Now(), threadCPU()
					n, total, err := pair[i].decode()
					dec[i] += time.Since(start)
					decCPU[i] += threadCPU() - cpu
					checkDecoded(b, pair[i], n, total, wantInt, wantFloat, err)
				}
			}
			per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / samples }
			ratio := func(a, b time.Duration) float64 {
				if b == 0 {
					return 0
				}
				return float64(a) / float64(b)
			}
			b.ReportMetric(per(enc[0]), "prom-encode-ns/sample")
			b.ReportMetric(per(enc[1]), "ours-encode-ns/sample")
			b.ReportMetric(per(dec[0]), "prom-decode-ns/sample")
			b.ReportMetric(per(dec[1]), "ours-decode-ns/sample")
			b.ReportMetric(ratio(enc[1], enc[0]), "encode-ours/prom")
			b.ReportMetric(ratio(dec[1], dec[0]), "decode-ours/prom")
			b.ReportMetric(ratio(encCPU[1], encCPU[0]), "encode-cpu-ours/prom")
			b.ReportMetric(ratio(decCPU[1], decCPU[0]), "decode-cpu-ours/prom")
		})
	}
}
