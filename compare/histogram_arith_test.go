package compare

import (
	"math"
	"math/rand/v2"
	"testing"

	prom "github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser/posrange"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// randomHistogram is a float histogram with random populated buckets on
// both sides (or custom buckets), from rng.
func randomHistogram(rng *rand.Rand, custom bool) *histogram.FloatHistogram {
	h := &histogram.FloatHistogram{Schema: int32(rng.IntN(5)) - 1, ZeroThreshold: []float64{0, 0.001, 0.5, 1}[rng.IntN(4)]}
	if custom {
		h.Schema, h.ZeroThreshold = histogram.CustomBucketsSchema, 0
		all := []float64{0.5, 1, 2, 5, 10, 20}
		for _, b := range all {
			if rng.IntN(3) > 0 {
				h.CustomValues = append(h.CustomValues, b)
			}
		}
	}
	sideOf := func(maxIdx int) ([]histogram.Span, []float64) {
		var spans []histogram.Span
		var counts []float64
		next := int32(-3)
		if custom {
			next = 0
		}
		for i := next; i <= int32(maxIdx); i++ {
			if rng.IntN(3) == 0 {
				continue
			}
			if n := len(spans); n > 0 && next == i {
				spans[n-1].Length++
			} else if n == 0 {
				spans = append(spans, histogram.Span{Offset: i, Length: 1})
			} else {
				spans = append(spans, histogram.Span{Offset: i - next, Length: 1})
			}
			next = i + 1
			counts = append(counts, float64(rng.IntN(20)))
		}
		return spans, counts
	}
	if custom {
		h.PositiveSpans, h.PositiveBuckets = sideOf(len(h.CustomValues))
	} else {
		h.PositiveSpans, h.PositiveBuckets = sideOf(6)
		h.NegativeSpans, h.NegativeBuckets = sideOf(6)
		h.ZeroCount = float64(rng.IntN(5))
	}
	h.Count = h.ZeroCount
	for _, c := range h.PositiveBuckets {
		h.Count += c
	}
	for _, c := range h.NegativeBuckets {
		h.Count += c
	}
	h.Sum = rng.Float64() * 100
	return h
}

func toProm(h *histogram.FloatHistogram) *prom.FloatHistogram {
	p := &prom.FloatHistogram{
		CounterResetHint: prom.CounterResetHint(h.CounterResetHint), Schema: h.Schema,
		ZeroThreshold: h.ZeroThreshold, ZeroCount: h.ZeroCount, Count: h.Count, Sum: h.Sum,
		PositiveBuckets: append([]float64(nil), h.PositiveBuckets...), NegativeBuckets: append([]float64(nil), h.NegativeBuckets...),
		CustomValues: append([]float64(nil), h.CustomValues...),
	}
	for _, s := range h.PositiveSpans {
		p.PositiveSpans = append(p.PositiveSpans, prom.Span{Offset: s.Offset, Length: s.Length})
	}
	for _, s := range h.NegativeSpans {
		p.NegativeSpans = append(p.NegativeSpans, prom.Span{Offset: s.Offset, Length: s.Length})
	}
	return p
}

func fromProm(p *prom.FloatHistogram) *histogram.FloatHistogram {
	h := &histogram.FloatHistogram{
		CounterResetHint: histogram.CounterResetHint(p.CounterResetHint), Schema: p.Schema,
		ZeroThreshold: p.ZeroThreshold, ZeroCount: p.ZeroCount, Count: p.Count, Sum: p.Sum,
		PositiveBuckets: p.PositiveBuckets, NegativeBuckets: p.NegativeBuckets, CustomValues: p.CustomValues,
	}
	for _, s := range p.PositiveSpans {
		h.PositiveSpans = append(h.PositiveSpans, histogram.Span{Offset: s.Offset, Length: s.Length})
	}
	for _, s := range p.NegativeSpans {
		h.NegativeSpans = append(h.NegativeSpans, histogram.Span{Offset: s.Offset, Length: s.Length})
	}
	return h
}

func closeFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

// TestHistogramArithmeticAgainstPrometheus checks stage01's histogram
// arithmetic and estimates against Prometheus's own model/histogram and
// promql on random histograms: Add, Sub, KahanAdd (mixed schemas, zero
// thresholds and custom bounds included), DetectReset, TrimBuckets, String,
// Quantile and Fraction.
func TestHistogramArithmeticAgainstPrometheus(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 19))
	pos := posrange.PositionRange{}
	for n := 0; n < 3000; n++ {
		custom := n%4 == 3
		a, b := randomHistogram(rng, custom), randomHistogram(rng, custom)
		for _, op := range []string{"add", "sub"} {
			ours, theirs := a.Copy(), toProm(a)
			var err, perr error
			if op == "add" {
				_, _, err = ours.Add(b)
				_, _, _, perr = theirs.Add(toProm(b))
			} else {
				_, _, err = ours.Sub(b)
				_, _, _, perr = theirs.Sub(toProm(b))
			}
			if (err != nil) != (perr != nil) {
				t.Fatalf("%s: error %v, Prometheus %v", op, err, perr)
			}
			if !ours.Equivalent(fromProm(theirs), 1e-9) {
				t.Fatalf("%s of\n%+v\n%+v\n= %+v\nPrometheus %+v", op, a, b, ours, theirs)
			}
		}
		// The same layout (consecutive samples of one series) takes the
		// fast paths: check them too.
		same := a.Copy().Mul(1.5)
		for _, o := range []*histogram.FloatHistogram{same, a} {
			ours, theirs := a.Copy(), toProm(a)
			ours.Sub(o)
			theirs.Sub(toProm(o))
			if !ours.Equivalent(fromProm(theirs), 1e-9) {
				t.Fatalf("Sub (same layout) = %+v, Prometheus %+v", ours, theirs)
			}
			if got, want := o.DetectReset(a), toProm(o).DetectReset(toProm(a)); got != want {
				t.Fatalf("DetectReset (same layout) = %v, Prometheus %v", got, want)
			}
			if got, want := a.DetectReset(o), toProm(a).DetectReset(toProm(o)); got != want {
				t.Fatalf("DetectReset (same layout) = %v, Prometheus %v", got, want)
			}
			c, _, _ := ours.KahanAdd(o, nil)
			pc, _, _, _ := theirs.KahanAdd(toProm(o), nil)
			ours.Add(c)
			theirs.Add(pc)
			if !ours.Equivalent(fromProm(theirs), 1e-9) {
				t.Fatalf("KahanAdd (same layout) = %+v, Prometheus %+v", ours, theirs)
			}
		}
		ours, theirs := a.Copy(), toProm(a)
		c, _, err := ours.KahanAdd(b, nil)
		pc, _, _, perr := theirs.KahanAdd(toProm(b), nil)
		if (err != nil) != (perr != nil) {
			t.Fatalf("KahanAdd: error %v, Prometheus %v", err, perr)
		}
		if err == nil {
			c, _, _ = ours.KahanAdd(a, c)
			pc, _, _, _ = theirs.KahanAdd(toProm(a), pc)
			ours.Add(c)
			theirs.Add(pc)
			if !ours.Equivalent(fromProm(theirs), 1e-9) {
				t.Fatalf("KahanAdd of\n%+v\n%+v\n= %+v\nPrometheus %+v", a, b, ours, theirs)
			}
		}
		if got, want := b.DetectReset(a), toProm(b).DetectReset(toProm(a)); got != want {
			t.Fatalf("DetectReset(%+v after %+v) = %v, Prometheus %v", b, a, got, want)
		}
		grown := a.Copy()
		if _, _, err := grown.Add(b); err == nil {
			if got, want := grown.DetectReset(a), toProm(grown).DetectReset(toProm(a)); got != want {
				t.Fatalf("DetectReset of a sum = %v, Prometheus %v", got, want)
			}
		}
		for _, rhs := range []float64{math.Inf(-1), -1.3, -0.2, 0, 0.3, 1, 1.13, 4, 7.5, math.Inf(1)} {
			for _, upper := range []bool{true, false} {
				ours := a.Copy().TrimBuckets(rhs, upper)
				theirs := toProm(a).TrimBuckets(rhs, upper)
				if !ours.Equivalent(fromProm(theirs), 1e-9) {
					t.Fatalf("TrimBuckets(%g, %v) of %+v = %+v, Prometheus %+v", rhs, upper, a, ours, theirs)
				}
			}
		}
		// Prometheus's bounds for schemas above 0 come from a table a unit
		// in the last place off the true powers of two for some buckets
		// (ours are correctly rounded): compare the printing where the
		// bounds are exact.
		if got, want := a.String(), toProm(a).String(); a.Schema <= 0 && got != want {
			t.Fatalf("String() = %s, Prometheus %s", got, want)
		}
		for _, q := range []float64{0, 0.1, 0.25, 0.5, 0.9, 0.99, 1} {
			got, _ := a.Quantile(q)
			want, _ := promql.HistogramQuantile(q, toProm(a), "x", pos)
			if !closeFloat(got, want) {
				t.Fatalf("Quantile(%g) of %+v = %g, Prometheus %g", q, a, got, want)
			}
		}
		for _, lu := range [][2]float64{{math.Inf(-1), 1}, {0, 3}, {-2, 2}, {0.7, 12}, {5, math.Inf(1)}} {
			got, _ := a.Fraction(lu[0], lu[1])
			want, _ := promql.HistogramFraction(lu[0], lu[1], toProm(a), "x", pos)
			if !closeFloat(got, want) {
				t.Fatalf("Fraction(%g, %g) of %+v = %g, Prometheus %g", lu[0], lu[1], a, got, want)
			}
		}
	}
}
