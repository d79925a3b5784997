package histogram

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func fh(schema int32, zt, zc, count, sum float64, pos []Span, pb []float64) *FloatHistogram {
	return &FloatHistogram{Schema: schema, ZeroThreshold: zt, ZeroCount: zc, Count: count, Sum: sum, PositiveSpans: pos, PositiveBuckets: pb}
}

func TestBound(t *testing.T) {
	for _, c := range []struct {
		idx, schema int32
		want        float64
	}{
		{0, 0, 1}, {1, 0, 2}, {3, 0, 8}, {-1, 0, 0.5},
		{1, 1, math.Sqrt2}, {2, 1, 2}, {-1, 1, 1 / math.Sqrt2},
		{1, -1, 4}, {-2, -2, 1.0 / 256},
	} {
		if got := Bound(c.idx, c.schema, nil); math.Abs(got-c.want) > 1e-15*c.want {
			t.Errorf("Bound(%d, %d) = %g, want %g", c.idx, c.schema, got, c.want)
		}
	}
	cv := []float64{1, 5}
	if Bound(0, CustomBucketsSchema, cv) != 1 || Bound(1, CustomBucketsSchema, cv) != 5 ||
		!math.IsInf(Bound(2, CustomBucketsSchema, cv), 1) || !math.IsInf(Bound(-1, CustomBucketsSchema, cv), -1) {
		t.Error("custom bounds wrong")
	}
}

func TestAddSameSchema(t *testing.T) {
	// buckets 0..2 = 1 2 1 and buckets 1, 4 = 3 5.
	a := fh(0, 0, 1, 5, 10, []Span{{0, 3}}, []float64{1, 2, 1})
	b := fh(0, 0, 2, 10, 20, []Span{{1, 1}, {2, 1}}, []float64{3, 5})
	if _, _, err := a.Add(b); err != nil {
		t.Fatal(err)
	}
	if a.Count != 15 || a.Sum != 30 || a.ZeroCount != 3 {
		t.Fatalf("scalars %+v", a)
	}
	// Buckets 0 1 2 (4) = 1 5 1 _ 5.
	if !slices.Equal(a.PositiveSpans, []Span{{0, 3}, {1, 1}}) || !slices.Equal(a.PositiveBuckets, []float64{1, 5, 1, 5}) {
		t.Fatalf("buckets %v %v", a.PositiveSpans, a.PositiveBuckets)
	}
	if _, _, err := a.Sub(b); err != nil {
		t.Fatal(err)
	}
	if a.Count != 5 || a.ZeroCount != 1 || a.PositiveBuckets[3] != 0 || a.PositiveBuckets[1] != 2 {
		t.Fatalf("after Sub %+v", a)
	}
	a.Compact()
	if !slices.Equal(a.PositiveSpans, []Span{{0, 3}}) || !slices.Equal(a.PositiveBuckets, []float64{1, 2, 1}) {
		t.Fatalf("compacted %v %v", a.PositiveSpans, a.PositiveBuckets)
	}
}

func TestAddReducesToCoarserSchema(t *testing.T) {
	// Schema 1 buckets 1..4 are (1,√2] (√2,2] (2,2√2] (2√2,4]; at schema 0
	// they are buckets 1 (1,2] and 2 (2,4].
	fine := fh(1, 0, 0, 10, 0, []Span{{1, 4}}, []float64{1, 2, 3, 4})
	coarse := fh(0, 0, 0, 1, 0, []Span{{2, 1}}, []float64{1})
	if _, _, err := coarse.Add(fine); err != nil {
		t.Fatal(err)
	}
	if coarse.Schema != 0 || !slices.Equal(coarse.PositiveSpans, []Span{{1, 2}}) || !slices.Equal(coarse.PositiveBuckets, []float64{3, 8}) {
		t.Fatalf("got schema %d %v %v", coarse.Schema, coarse.PositiveSpans, coarse.PositiveBuckets)
	}
	if fine.Schema != 1 || len(fine.PositiveBuckets) != 4 {
		t.Fatal("Add changed its argument")
	}
}

func TestAddWidensZeroBucket(t *testing.T) {
	// a's zero bucket is [-1,1]; b's bucket 0, (0.5,1], lies inside it.
	a := fh(0, 1, 1, 1, 0, nil, nil)
	b := fh(0, 0.001, 2, 9, 0, []Span{{0, 2}}, []float64{3, 4})
	if _, _, err := a.Add(b); err != nil {
		t.Fatal(err)
	}
	if a.ZeroThreshold != 1 || a.ZeroCount != 6 || !slices.Equal(a.PositiveBuckets, []float64{4}) || a.PositiveSpans[0].Offset != 1 {
		t.Fatalf("got %+v", a)
	}
}

func TestAddCustomBuckets(t *testing.T) {
	a := &FloatHistogram{Schema: CustomBucketsSchema, Count: 6, CustomValues: []float64{1, 2, 5}, PositiveSpans: []Span{{0, 4}}, PositiveBuckets: []float64{1, 2, 2, 1}}
	b := &FloatHistogram{Schema: CustomBucketsSchema, Count: 3, CustomValues: []float64{2, 3}, PositiveSpans: []Span{{0, 3}}, PositiveBuckets: []float64{1, 1, 1}}
	_, c, err := a.Add(b)
	if err != nil {
		t.Fatal(err)
	}
	// Shared bound 2: (-Inf,2] holds 1+2 from a and 1 from b, (2,+Inf] 2+1 and 1+1.
	if !c.BoundsReconciled || !slices.Equal(a.CustomValues, []float64{2}) || !slices.Equal(a.PositiveBuckets, []float64{4, 5}) {
		t.Fatalf("got %v %v %+v", a.CustomValues, a.PositiveBuckets, c)
	}
	e := fh(0, 0, 0, 0, 0, nil, nil)
	if _, _, err := a.Add(e); !errors.Is(err, ErrMixedSchemas) {
		t.Fatalf("custom + exponential: %v", err)
	}
}

func TestCounterResetHints(t *testing.T) {
	a := fh(0, 0, 0, 1, 0, nil, nil)
	b := fh(0, 0, 0, 1, 0, nil, nil)
	a.CounterResetHint, b.CounterResetHint = CounterReset, NotCounterReset
	if _, c, _ := a.Add(b); !c.CounterResetCollision || a.CounterResetHint != UnknownCounterReset {
		t.Fatal("no collision reported")
	}
	b.CounterResetHint = GaugeType
	if a.Add(b); a.CounterResetHint != GaugeType {
		t.Fatal("gauge + unknown is not a gauge")
	}
	if a.Mul(-1); a.CounterResetHint != GaugeType {
		t.Fatal("negative factor must make a gauge")
	}
}

func TestDetectReset(t *testing.T) {
	prev := fh(0, 0, 1, 4, 10, []Span{{0, 2}}, []float64{1, 2})
	for _, c := range []struct {
		name string
		cur  *FloatHistogram
		want bool
	}{
		{"same", fh(0, 0, 1, 4, 10, []Span{{0, 2}}, []float64{1, 2}), false},
		{"grown, new bucket", fh(0, 0, 1, 6, 10, []Span{{0, 3}}, []float64{1, 2, 2}), false},
		{"count down", fh(0, 0, 1, 3, 10, []Span{{0, 2}}, []float64{1, 2}), true},
		{"bucket down, count up", fh(0, 0, 4, 5, 10, []Span{{0, 2}}, []float64{0, 1}), true},
		{"bucket gone", fh(0, 0, 1, 9, 10, []Span{{0, 1}}, []float64{1}), true},
		{"zero bucket down", fh(0, 0, 0, 9, 10, []Span{{0, 2}}, []float64{5, 4}), true},
		{"finer schema", fh(1, 0, 1, 4, 10, []Span{{0, 3}}, []float64{1, 1, 1}), true},
		{"coarser schema, same counts", fh(-1, 0, 1, 4, 10, []Span{{0, 2}}, []float64{1, 2}), false},
	} {
		if got := c.cur.DetectReset(prev); got != c.want {
			t.Errorf("%s: DetectReset = %v, want %v", c.name, got, c.want)
		}
	}
	cur := prev.Copy()
	cur.CounterResetHint = CounterReset
	if !cur.DetectReset(prev) {
		t.Error("the reset hint is not believed")
	}
}

func TestQuantileAndFraction(t *testing.T) {
	// Schema 0: 2 in (1,2], 2 in (2,4]. The median is the top of (1,2];
	// the 0.75 quantile is halfway into (2,4] on a log scale: 2√2.
	h := fh(0, 0, 0, 4, 10, []Span{{1, 2}}, []float64{2, 2})
	for _, c := range []struct{ q, want float64 }{{0.5, 2}, {0.75, 2 * math.Sqrt2}, {0.25, math.Sqrt2}, {1, 4}, {-1, math.Inf(-1)}, {2, math.Inf(1)}} {
		if got, _ := h.Quantile(c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%g) = %g, want %g", c.q, got, c.want)
		}
	}
	for _, c := range []struct{ lo, up, want float64 }{{math.Inf(-1), 2, 0.5}, {math.Inf(-1), math.Inf(1), 1}, {2 * math.Sqrt2, 4, 0.25}, {3, 1, 0}} {
		if got, _ := h.Fraction(c.lo, c.up); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Fraction(%g, %g) = %g, want %g", c.lo, c.up, got, c.want)
		}
	}
	// Custom buckets interpolate linearly: (-Inf,10] 2, (10,20] 2. The first
	// bucket is taken to start at 0.
	cb := &FloatHistogram{Schema: CustomBucketsSchema, Count: 4, Sum: 40, CustomValues: []float64{10, 20}, PositiveSpans: []Span{{0, 2}}, PositiveBuckets: []float64{2, 2}}
	if got, _ := cb.Quantile(0.25); got != 5 {
		t.Errorf("custom Quantile(0.25) = %g, want 5", got)
	}
	if got, _ := cb.Fraction(0, 15); got != 0.75 {
		t.Errorf("custom Fraction(0,15) = %g, want 0.75", got)
	}
	if got, _ := fh(0, 0, 0, 0, 0, nil, nil).Quantile(0.5); !math.IsNaN(got) {
		t.Errorf("empty histogram quantile %g, want NaN", got)
	}
}

func TestStdVar(t *testing.T) {
	// Custom buckets (0,10] 2 and (10,20] 2: middles 5 and 15, mean 10 → variance 25.
	cb := &FloatHistogram{Schema: CustomBucketsSchema, Count: 4, Sum: 40, CustomValues: []float64{10, 20}, PositiveSpans: []Span{{0, 2}}, PositiveBuckets: []float64{2, 2}}
	// The first bucket's lower bound is -Inf: its middle is -Inf too, as in Prometheus.
	if v := cb.StdVar(); !math.IsInf(v, 1) {
		t.Errorf("StdVar with an infinite bucket = %g, want +Inf", v)
	}
	cb.PositiveSpans, cb.PositiveBuckets = []Span{{1, 1}}, []float64{4}
	cb.Sum = 60 // all four in (10,20]: middle 15, mean 15
	if v := cb.StdVar(); v != 0 {
		t.Errorf("StdVar = %g, want 0", v)
	}
	// Schema 0: 1 in (1,2], 1 in (4,8]: middles √2 and √32, mean 3.
	h := fh(0, 0, 0, 2, 6, []Span{{1, 1}, {1, 1}}, []float64{1, 1})
	m1, m2 := math.Sqrt2, math.Sqrt(32)
	want := ((m1-3)*(m1-3) + (m2-3)*(m2-3)) / 2
	if v := h.StdVar(); math.Abs(v-want) > 1e-12 {
		t.Errorf("StdVar = %g, want %g", v, want)
	}
	if d := h.StdDev(); math.Abs(d-math.Sqrt(want)) > 1e-12 {
		t.Errorf("StdDev = %g", d)
	}
}

func TestEquivalentIgnoresEmptyBuckets(t *testing.T) {
	a := fh(0, 0, 0, 3, 1, []Span{{0, 3}}, []float64{1, 0, 2})
	b := fh(0, 0, 0, 3, 1, []Span{{0, 1}, {1, 1}}, []float64{1, 2})
	if !a.Equivalent(b, 1e-9) || !b.Equivalent(a, 1e-9) {
		t.Fatal("same counts, other spans: not equivalent")
	}
	b.PositiveBuckets[1] = 2.1
	if a.Equivalent(b, 1e-9) {
		t.Fatal("different counts equivalent")
	}
}

func TestString(t *testing.T) {
	h := &FloatHistogram{Schema: 0, ZeroThreshold: 0.001, ZeroCount: 2, Count: 20, Sum: 10,
		PositiveSpans: []Span{{0, 2}}, PositiveBuckets: []float64{1, 2},
		NegativeSpans: []Span{{0, 2}}, NegativeBuckets: []float64{1, 2}}
	// Negative bucket 0 is [-1,-0.5), bucket 1 [-2,-1); positive 0 (0.5,1], 1 (1,2].
	want := "{count:20, sum:10, [-2,-1):2, [-1,-0.5):1, [-0.001,0.001]:2, (0.5,1]:1, (1,2]:2}"
	if got := h.String(); got != want {
		t.Errorf("String() = %s\nwant       %s", got, want)
	}
}

func TestKahanAddKeepsSmallTerms(t *testing.T) {
	// 1e100 + 3.1 - 1e100: a plain sum loses the 3.1, a compensated one not.
	mk := func(sum, b float64) *FloatHistogram {
		return fh(0, 0, 0, 1, sum, []Span{{0, 1}}, []float64{b})
	}
	plain := mk(1e100, 1e100)
	plain.Add(mk(3.1, 3))
	plain.Add(mk(-1e100, -1e100))
	if plain.Sum == 3.1 {
		t.Fatal("the plain sum kept the small term: the test shows nothing")
	}
	sum := mk(1e100, 1e100)
	c, _, err := sum.KahanAdd(mk(3.1, 3), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _, _ = sum.KahanAdd(mk(-1e100, -1e100), c)
	sum.Add(c)
	if sum.Sum != 3.1 || sum.Count != 3 || sum.PositiveBuckets[0] != 3 {
		t.Fatalf("compensated sum %+v", sum)
	}
}

// TestCompactCases: what Compact leaves, worked out by hand from the span
// rules: a side already compact stays as it is (the fast path), and each
// thing Compact removes is removed: an empty bucket, an empty span,
// a span touching the previous one, span lengths covering more buckets
// than are given.
func TestCompactCases(t *testing.T) {
	for _, c := range []struct {
		name       string
		spans      []Span
		counts     []float64
		wantSpans  []Span
		wantCounts []float64
	}{
		{"compact", []Span{{-2, 2}, {3, 1}}, []float64{1, 2, 3}, []Span{{-2, 2}, {3, 1}}, []float64{1, 2, 3}},
		{"empty bucket", []Span{{0, 3}}, []float64{1, 0, 3}, []Span{{0, 1}, {1, 1}}, []float64{1, 3}},
		// Buckets 1 2, an empty span, then 7: 7 is 4 after the end of 2.
		{"empty span", []Span{{1, 2}, {3, 0}, {1, 1}}, []float64{1, 2, 3}, []Span{{1, 2}, {4, 1}}, []float64{1, 2, 3}},
		{"touching spans", []Span{{1, 1}, {0, 2}}, []float64{1, 2, 3}, []Span{{1, 3}}, []float64{1, 2, 3}},
		{"spans longer than counts", []Span{{0, 3}}, []float64{1, 2}, []Span{{0, 2}}, []float64{1, 2}},
	} {
		h := &FloatHistogram{Count: 10, PositiveSpans: c.spans, PositiveBuckets: c.counts,
			NegativeSpans: slices.Clone(c.spans), NegativeBuckets: slices.Clone(c.counts)}
		h.Compact()
		if !slices.Equal(h.PositiveSpans, c.wantSpans) || !slices.Equal(h.PositiveBuckets, c.wantCounts) ||
			!slices.Equal(h.NegativeSpans, c.wantSpans) || !slices.Equal(h.NegativeBuckets, c.wantCounts) {
			t.Errorf("%s: got %v %v / %v %v, want %v %v", c.name, h.PositiveSpans, h.PositiveBuckets,
				h.NegativeSpans, h.NegativeBuckets, c.wantSpans, c.wantCounts)
		}
	}
}
