package gorilla

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// SyntheticHistogramInterval is the scrape interval of SyntheticHistograms.
const SyntheticHistogramInterval = 15_000

// SyntheticHistograms returns n scrapes, 15 s apart from SyntheticStart,
// of a request-latency native histogram as a Prometheus client library
// exports it, from a fixed seed:
//
//   - schema 3 (8 buckets per power of two), the default zero threshold
//     2^-128;
//   - about 300 requests per scrape (give or take 6 %), latencies
//     log-normal around a median that drifts between 40 and 90 ms, so
//     40-66 buckets are stored and new ones appear now and then at the
//     edges (which recodes a chunk);
//   - one request in 200 takes no time at all (the zero bucket);
//   - a counter: every count only grows;
//   - spans as client_golang builds them: gaps of one or two empty buckets
//     are stored as zeros rather than starting a new span;
//   - scrape timestamps a few milliseconds off the grid one time in ten.
func SyntheticHistograms(n int, seed uint64) ([]int64, []*histogram.Histogram) {
	rng := rand.New(rand.NewPCG(seed, seed^0x51ed27a3c9b1f4d7))
	const schema = 3
	counts := map[int64]int64{}
	var zero, count uint64
	var sum float64
	ts := make([]int64, n)
	hs := make([]*histogram.Histogram, n)
	for i := range n {
		ts[i] = SyntheticStart + int64(i)*SyntheticHistogramInterval
		if rng.IntN(10) == 0 {
			ts[i] += int64(rng.IntN(7)) - 3
		}
		median := 0.065 + 0.025*math.Sin(float64(i)/200)
		k := 300 + int(rng.NormFloat64()*18)
		for range k {
			count++
			if rng.IntN(200) == 0 {
				zero++
				continue
			}
			// log2 of the latency, from which the bucket index follows
			// without a logarithm per observation.
			l2 := math.Log2(median) + rng.NormFloat64()*0.6/math.Ln2
			sum += math.Exp2(l2)
			counts[int64(math.Ceil(l2*(1<<schema)))]++
		}
		hs[i] = counterHistogram(schema, counts, zero, count, sum)
	}
	return ts, hs
}

// counterHistogram builds the integer histogram of the absolute counts per
// bucket index.
func counterHistogram(schema int32, counts map[int64]int64, zero, count uint64, sum float64) *histogram.Histogram {
	idx := make([]int64, 0, len(counts))
	for k := range counts {
		idx = append(idx, k)
	}
	slices.Sort(idx)
	// Fill gaps of up to two buckets, as client_golang does: two zero
	// buckets cost less than a new span.
	var filled []int64
	for i, k := range idx {
		if i > 0 && k-idx[i-1] <= 3 {
			for g := idx[i-1] + 1; g < k; g++ {
				filled = append(filled, g)
			}
		}
		filled = append(filled, k)
	}
	h := &histogram.Histogram{
		Schema: schema, ZeroThreshold: math.Exp2(-128), ZeroCount: zero, Count: count, Sum: sum,
		PositiveSpans: spansOf(filled),
	}
	var prev int64
	for _, k := range filled {
		h.PositiveBuckets = append(h.PositiveBuckets, counts[k]-prev)
		prev = counts[k]
	}
	return h
}

// SyntheticFloatHistograms returns n samples of what a recording rule
// stores for rate(latency[1m]) over SyntheticHistograms(n+4, seed): gauge
// float histograms of requests per second, with fractional counts, in the
// layout of the newer scrape.
func SyntheticFloatHistograms(n int, seed uint64) ([]int64, []*histogram.FloatHistogram) {
	ts, hs := SyntheticHistograms(n+4, seed)
	out := make([]*histogram.FloatHistogram, n)
	const window = 4 * SyntheticHistogramInterval / 1000.0
	for i := range n {
		newer, older := hs[i+4].ToFloat(), hs[i].ToFloat()
		oldIdx := appendIndexes(nil, older.PositiveSpans)
		newIdx := appendIndexes(nil, newer.PositiveSpans)
		prev := make([]float64, len(newIdx))
		expandFloat(prev, newIdx, older.PositiveBuckets, oldIdx)
		r := newer.Copy()
		r.CounterResetHint = histogram.GaugeType
		for j := range r.PositiveBuckets {
			r.PositiveBuckets[j] = (r.PositiveBuckets[j] - prev[j]) / window
		}
		r.Count = (newer.Count - older.Count) / window
		r.ZeroCount = (newer.ZeroCount - older.ZeroCount) / window
		r.Sum = (newer.Sum - older.Sum) / window
		out[i] = r
	}
	return ts[4:], out
}
