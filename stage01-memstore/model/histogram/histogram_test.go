package histogram

import (
	"errors"
	"slices"
	"testing"
)

// example is the histogram of the observations -1.5, 0, 1, 1.5, 3, 3, 9 at
// schema 0 (boundaries at powers of two) with zero threshold 0.001:
// 1 in (1,2] on the negative side, 1 in the zero bucket, and on the
// positive side 1 in (0.5,1] (index 0), 1 in (1,2] (index 1), 2 in (2,4]
// (index 2) and 1 in (8,16] (index 4).
func example() *Histogram {
	return &Histogram{
		Schema: 0, ZeroThreshold: 0.001, ZeroCount: 1, Count: 7, Sum: 16,
		PositiveSpans:   []Span{{Offset: 0, Length: 3}, {Offset: 1, Length: 1}},
		PositiveBuckets: []int64{1, 0, 1, -1}, // counts 1, 1, 2, 1
		NegativeSpans:   []Span{{Offset: 1, Length: 1}},
		NegativeBuckets: []int64{1},
	}
}

func TestToFloatSumsDeltas(t *testing.T) {
	f := example().ToFloat()
	if want := []float64{1, 1, 2, 1}; !slices.Equal(f.PositiveBuckets, want) {
		t.Fatalf("positive buckets %v, want %v", f.PositiveBuckets, want)
	}
	if f.Count != 7 || f.ZeroCount != 1 || f.Sum != 16 || f.NegativeBuckets[0] != 1 {
		t.Fatalf("scalars %+v", f)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCopyIsDeep(t *testing.T) {
	h := example()
	c := h.Copy()
	c.PositiveBuckets[0] = 9
	c.PositiveSpans[0].Length = 9
	if h.PositiveBuckets[0] != 1 || h.PositiveSpans[0].Length != 3 {
		t.Fatal("Copy shares slices with the original")
	}
	f := h.ToFloat()
	fc := f.Copy()
	fc.PositiveBuckets[0] = 9
	if f.PositiveBuckets[0] != 1 {
		t.Fatal("FloatHistogram.Copy shares slices")
	}
}

func TestValidate(t *testing.T) {
	if err := example().Validate(); err != nil {
		t.Fatalf("valid histogram refused: %v", err)
	}
	cases := []struct {
		name string
		edit func(*Histogram)
		want error
	}{
		{"spans cover more than given", func(h *Histogram) { h.PositiveSpans[1].Length = 2 }, ErrSpanBucketMismatch},
		{"negative offset after the first span", func(h *Histogram) { h.PositiveSpans[1].Offset = -1 }, ErrNegativeSpanOffset},
		{"delta drives a count below zero", func(h *Histogram) { h.PositiveBuckets[3] = -3 }, ErrNegativeCount},
		{"count below the buckets' total", func(h *Histogram) { h.Count = 6 }, ErrCountMismatch},
		{"schema 9", func(h *Histogram) { h.Schema = 9 }, ErrBadSchema},
		{"custom bounds with an exponential schema", func(h *Histogram) { h.CustomValues = []float64{1} }, ErrCustomBuckets},
		{"custom schema with negative buckets", func(h *Histogram) { h.Schema = CustomBucketsSchema }, ErrInvalid},
	}
	for _, c := range cases {
		h := example()
		c.edit(h)
		if err := h.Validate(); !errors.Is(err, c.want) {
			t.Errorf("%s: Validate = %v, want %v", c.name, err, c.want)
		}
	}
	nhcb := &Histogram{Schema: CustomBucketsSchema, Count: 3, CustomValues: []float64{1, 1},
		PositiveSpans: []Span{{0, 2}}, PositiveBuckets: []int64{1, 1}}
	if err := nhcb.Validate(); !errors.Is(err, ErrCustomBuckets) {
		t.Errorf("custom bounds 1, 1: Validate = %v", err)
	}
	nhcb.CustomValues[1] = 2
	if err := nhcb.Validate(); err != nil {
		t.Errorf("custom bounds 1, 2: %v", err)
	}
	// With custom bounds a bucket index is a bound's: none below 0, none
	// past the implicit +Inf bucket (Prometheus refuses both).
	nhcb.PositiveSpans[0].Offset = -1
	if err := nhcb.Validate(); !errors.Is(err, ErrCustomBuckets) {
		t.Errorf("custom buckets from index -1: Validate = %v", err)
	}
	nhcb.PositiveSpans[0].Offset = 2
	if err := nhcb.Validate(); !errors.Is(err, ErrCustomBuckets) {
		t.Errorf("custom buckets 2 and 3 of bounds 1, 2: Validate = %v", err)
	}
	nhcb.PositiveSpans[0].Offset = 1
	if err := nhcb.Validate(); err != nil {
		t.Errorf("custom buckets 1 and +Inf of bounds 1, 2: %v", err)
	}
	// A NaN sum means NaN observations, counted in Count but in no bucket:
	// fine. Fewer in Count than in the buckets is never fine, so only the
	// non-NaN case can be checked.
	f := example().ToFloat()
	f.PositiveBuckets[0] = -1
	if err := f.Validate(); !errors.Is(err, ErrNegativeCount) {
		t.Errorf("float negative bucket: %v", err)
	}
}
