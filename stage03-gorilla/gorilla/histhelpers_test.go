package gorilla

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// bucketCounts returns the non-zero absolute counts of spans/deltas by
// bucket index: what a histogram means, whatever spans spell it.
func bucketCounts(spans []histogram.Span, deltas []int64) map[int64]int64 {
	m := map[int64]int64{}
	var c int64
	for i, idx := range appendIndexes(nil, spans) {
		c += deltas[i]
		if c != 0 {
			m[idx] = c
		}
	}
	return m
}

func floatCounts(spans []histogram.Span, counts []float64) map[int64]uint64 {
	m := map[int64]uint64{}
	for i, idx := range appendIndexes(nil, spans) {
		if counts[i] != 0 {
			m[idx] = math.Float64bits(counts[i])
		}
	}
	return m
}

func sameMap[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// sameHistogram reports whether a and b are the same histogram: equal
// scalars (sum bit for bit) and equal counts per bucket index, however the
// spans are spelled. The counter-reset hint is not compared.
func sameHistogram(a, b *histogram.Histogram) bool {
	return a.Schema == b.Schema && math.Float64bits(a.ZeroThreshold) == math.Float64bits(b.ZeroThreshold) &&
		a.ZeroCount == b.ZeroCount && a.Count == b.Count && math.Float64bits(a.Sum) == math.Float64bits(b.Sum) &&
		sameMap(bucketCounts(a.PositiveSpans, a.PositiveBuckets), bucketCounts(b.PositiveSpans, b.PositiveBuckets)) &&
		sameMap(bucketCounts(a.NegativeSpans, a.NegativeBuckets), bucketCounts(b.NegativeSpans, b.NegativeBuckets)) &&
		sameFloatBits(a.CustomValues, b.CustomValues)
}

func sameFloatHistogram(a, b *histogram.FloatHistogram) bool {
	return a.Schema == b.Schema && math.Float64bits(a.ZeroThreshold) == math.Float64bits(b.ZeroThreshold) &&
		math.Float64bits(a.ZeroCount) == math.Float64bits(b.ZeroCount) &&
		math.Float64bits(a.Count) == math.Float64bits(b.Count) && math.Float64bits(a.Sum) == math.Float64bits(b.Sum) &&
		sameMap(floatCounts(a.PositiveSpans, a.PositiveBuckets), floatCounts(b.PositiveSpans, b.PositiveBuckets)) &&
		sameMap(floatCounts(a.NegativeSpans, a.NegativeBuckets), floatCounts(b.NegativeSpans, b.NegativeBuckets)) &&
		sameFloatBits(a.CustomValues, b.CustomValues)
}

func sameFloatBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

// cutHint is the hint a store gives the first sample of a chunk it starts
// because Append refused h with err.
func cutHint(h histogram.CounterResetHint, err error) histogram.CounterResetHint {
	switch {
	case h == histogram.GaugeType:
		return h
	case errors.Is(err, ErrCounterReset):
		return histogram.CounterReset
	case errors.Is(err, ErrLayoutChange):
		return histogram.UnknownCounterReset
	}
	return histogram.NotCounterReset
}

// encodeHistograms appends hs to chunks of at most per samples, starting a
// new chunk when Append says the histogram does not fit, as a store does.
func encodeHistograms(t testing.TB, ts []int64, hs []*histogram.Histogram, per int) []*HistogramChunk {
	t.Helper()
	var chunks []*HistogramChunk
	var app *HistogramAppender
	for i, h := range hs {
		var err error
		if app != nil && app.c.NumSamples() < per {
			err = app.Append(ts[i], h)
			if err == nil {
				continue
			}
			if !errors.Is(err, ErrNotAppendable) {
				t.Fatalf("sample %d: %v", i, err)
			}
		}
		c := NewHistogramChunk()
		if app, err = c.Appender(); err != nil {
			t.Fatal(err)
		}
		first := *h
		if i > 0 && first.CounterResetHint != histogram.GaugeType {
			first.CounterResetHint = cutHint(h.CounterResetHint, err)
		}
		if err := app.Append(ts[i], &first); err != nil {
			t.Fatalf("sample %d in a new chunk: %v", i, err)
		}
		chunks = append(chunks, c)
	}
	return chunks
}

func encodeFloatHistograms(t testing.TB, ts []int64, hs []*histogram.FloatHistogram, per int) []*FloatHistogramChunk {
	t.Helper()
	var chunks []*FloatHistogramChunk
	var app *FloatHistogramAppender
	for i, h := range hs {
		var err error
		if app != nil && app.c.NumSamples() < per {
			err = app.Append(ts[i], h)
			if err == nil {
				continue
			}
			if !errors.Is(err, ErrNotAppendable) {
				t.Fatalf("sample %d: %v", i, err)
			}
		}
		c := NewFloatHistogramChunk()
		if app, err = c.Appender(); err != nil {
			t.Fatal(err)
		}
		first := *h
		if i > 0 && first.CounterResetHint != histogram.GaugeType {
			first.CounterResetHint = cutHint(h.CounterResetHint, err)
		}
		if err := app.Append(ts[i], &first); err != nil {
			t.Fatalf("sample %d in a new chunk: %v", i, err)
		}
		chunks = append(chunks, c)
	}
	return chunks
}

func decodeHistograms(t testing.TB, b []byte) ([]int64, []*histogram.Histogram) {
	t.Helper()
	var ts []int64
	var hs []*histogram.Histogram
	it := NewHistogramIterator(b)
	for it.Next() {
		tt, h := it.AtHistogram(nil)
		ts = append(ts, tt)
		hs = append(hs, h)
	}
	if err := it.Err(); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return ts, hs
}

func decodeFloatHistograms(t testing.TB, b []byte) ([]int64, []*histogram.FloatHistogram) {
	t.Helper()
	var ts []int64
	var hs []*histogram.FloatHistogram
	it := NewFloatHistogramIterator(b)
	for it.Next() {
		tt, h := it.AtFloatHistogram(nil)
		ts = append(ts, tt)
		hs = append(hs, h)
	}
	if err := it.Err(); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return ts, hs
}

// randomHistograms returns a counter histogram series with everything a
// chunk must carry: negative and positive buckets whose set grows at both
// ends and in the middle, a zero bucket, NaN observations (count above the
// buckets' total), sums of any sign, irregular timestamps; custom bounds
// when custom is set.
func randomHistograms(rng *rand.Rand, n int, custom bool) ([]int64, []*histogram.Histogram) {
	schema := int32(rng.IntN(histogram.MaxSchema-histogram.MinSchema+1) + histogram.MinSchema)
	var bounds []float64
	if custom {
		schema = histogram.CustomBucketsSchema
		for i := range 1 + rng.IntN(12) {
			bounds = append(bounds, float64(i)*0.25+rng.Float64()*0.1)
		}
	}
	zt := []float64{0, math.Exp2(-128), 0.001, 1e-9}[rng.IntN(4)]
	pos, neg := map[int64]int64{}, map[int64]int64{}
	var zero, nan uint64
	var sum float64
	ts := make([]int64, n)
	hs := make([]*histogram.Histogram, n)
	t := int64(rng.Uint64() >> 20)
	for i := range n {
		t += int64(rng.IntN(3)) * int64(1+rng.IntN(30000))
		ts[i] = t
		for range rng.IntN(50) {
			switch r := rng.IntN(40); {
			case r == 0:
				nan++
			case r == 1:
				zero++
			case r < 8 && !custom:
				neg[int64(rng.IntN(20)-10)] += int64(1 + rng.IntN(1000))
			default:
				k := int64(rng.IntN(30) - 15)
				if custom {
					k = int64(rng.IntN(len(bounds) + 1))
				}
				pos[k] += int64(1 + rng.IntN(3))
			}
			sum += rng.NormFloat64() * 100
		}
		h := &histogram.Histogram{Schema: schema, ZeroThreshold: zt, ZeroCount: zero, Sum: sum, CustomValues: bounds}
		var total uint64
		h.PositiveSpans, h.PositiveBuckets, total = sparse(pos, rng)
		var totalNeg uint64
		h.NegativeSpans, h.NegativeBuckets, totalNeg = sparse(neg, rng)
		h.Count = total + totalNeg + zero + nan
		hs[i] = h
	}
	return ts, hs
}

// sparse returns the delta-coded buckets of counts by index, spelled with
// spans that sometimes include zero buckets or split a run.
func sparse(counts map[int64]int64, rng *rand.Rand) ([]histogram.Span, []int64, uint64) {
	var idx []int64
	for k := range counts {
		idx = append(idx, k)
	}
	for i := 1; i < len(idx); i++ { // insertion sort: tiny maps
		for j := i; j > 0 && idx[j] < idx[j-1]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	var filled []int64
	for i, k := range idx {
		if i > 0 && k-idx[i-1] == 2 && rng.IntN(2) == 0 {
			filled = append(filled, k-1)
		}
		filled = append(filled, k)
	}
	spans := spansOf(filled)
	if len(spans) > 0 && spans[0].Length > 1 && rng.IntN(4) == 0 {
		// The same buckets in two spans, the second at offset 0.
		s0 := spans[0]
		spans = append([]histogram.Span{{Offset: s0.Offset, Length: 1}, {Offset: 0, Length: s0.Length - 1}}, spans[1:]...)
	}
	var deltas []int64
	var prev int64
	var total uint64
	for _, k := range filled {
		deltas = append(deltas, counts[k]-prev)
		prev = counts[k]
		total += uint64(counts[k])
	}
	return spans, deltas, total
}
