// Package histogram holds the native (sparse, exponential-bucket) histogram
// sample: the second kind of value a series can carry, beside the float.
//
// The model is Prometheus's, field for field, so that a histogram decoded
// from a remote-write request, an OTLP exponential histogram or a
// Prometheus chunk round-trips without loss:
//
//   - Schema s fixes the bucket boundaries: for s in -4…8 the growth factor
//     between consecutive boundaries is 2^(2^-s), and bucket i holds the
//     observations in (base^(i-1), base^i]. Schema -53 is the custom-bucket
//     schema: the boundaries are listed in CustomValues, as a classic
//     histogram's le labels would be.
//   - Observations whose absolute value is at most ZeroThreshold count in
//     ZeroCount, in no bucket.
//   - Only populated buckets are stored. Spans say which bucket indexes the
//     stored values belong to: each span skips Offset indexes (relative to
//     the end of the previous span; the first span's offset is absolute),
//     then covers Length consecutive buckets.
//
// Histogram is the integer form a client library exports: its bucket
// counts are stored as deltas, each bucket minus the one before it, because
// neighbouring buckets hold similar counts and small deltas compress well.
// FloatHistogram is the form queries compute with (rate gives fractions):
// absolute float counts.
package histogram

import (
	"errors"
	"fmt"
	"math"
)

// CounterResetHint tells a reader whether the histogram is known to follow
// a counter reset, known not to, or is a gauge (its counts may go down).
// The chunk encoding stores it in the chunk header.
type CounterResetHint byte

const (
	UnknownCounterReset CounterResetHint = iota // not known: compare with the previous histogram
	CounterReset                                // the counts restarted at this histogram
	NotCounterReset                             // the counts continue the previous histogram's
	GaugeType                                   // a gauge histogram: no counter semantics
)

// CustomBucketsSchema is the schema of histograms with custom bucket
// boundaries (Prometheus's NHCB).
const CustomBucketsSchema = -53

// The exponential schemas: the largest is the finest resolution.
const (
	MinSchema = -4
	MaxSchema = 8
)

// Span is a run of Length consecutive buckets, starting Offset indexes
// after the end of the previous span (the first span: after index 0).
type Span struct {
	Offset int32
	Length uint32
}

// Histogram is an integer native histogram. Bucket counts are deltas: the
// first is absolute, each next one is its bucket's count minus the
// previous bucket's, across span gaps.
type Histogram struct {
	CounterResetHint CounterResetHint
	Schema           int32
	ZeroThreshold    float64
	ZeroCount        uint64
	Count            uint64 // every observation, zero bucket and NaNs included
	Sum              float64
	PositiveSpans    []Span
	NegativeSpans    []Span
	PositiveBuckets  []int64
	NegativeBuckets  []int64
	CustomValues     []float64 // upper bounds, schema -53 only
}

// FloatHistogram is a native histogram with float counts: absolute per
// bucket, not deltas.
type FloatHistogram struct {
	CounterResetHint CounterResetHint
	Schema           int32
	ZeroThreshold    float64
	ZeroCount        float64
	Count            float64
	Sum              float64
	PositiveSpans    []Span
	NegativeSpans    []Span
	PositiveBuckets  []float64
	NegativeBuckets  []float64
	CustomValues     []float64
}

// Errors of Validate. Each wraps ErrInvalid.
var (
	ErrInvalid            = errors.New("invalid histogram")
	ErrSpanBucketMismatch = fmt.Errorf("%w: spans cover a different number of buckets than are given", ErrInvalid)
	ErrNegativeSpanOffset = fmt.Errorf("%w: span after the first has a negative offset", ErrInvalid)
	ErrNegativeCount      = fmt.Errorf("%w: negative bucket count", ErrInvalid)
	ErrCountMismatch      = fmt.Errorf("%w: count is less than the buckets and the zero bucket hold", ErrInvalid)
	ErrBadSchema          = fmt.Errorf("%w: schema out of range", ErrInvalid)
	ErrCustomBuckets      = fmt.Errorf("%w: custom bucket bounds not strictly increasing, given for an exponential schema, or buckets outside them", ErrInvalid)
)

// IsCustom reports whether schema is the custom-bucket schema.
func IsCustom(schema int32) bool { return schema == CustomBucketsSchema }

// ValidSchema reports whether schema is one a histogram may have.
func ValidSchema(schema int32) bool {
	return IsCustom(schema) || (schema >= MinSchema && schema <= MaxSchema)
}

// ToFloat converts h to its float form, bucket deltas summed into counts.
func (h *Histogram) ToFloat() *FloatHistogram {
	return &FloatHistogram{
		CounterResetHint: h.CounterResetHint,
		Schema:           h.Schema,
		ZeroThreshold:    h.ZeroThreshold,
		ZeroCount:        float64(h.ZeroCount),
		Count:            float64(h.Count),
		Sum:              h.Sum,
		PositiveSpans:    clone(h.PositiveSpans),
		NegativeSpans:    clone(h.NegativeSpans),
		PositiveBuckets:  absolute(h.PositiveBuckets),
		NegativeBuckets:  absolute(h.NegativeBuckets),
		CustomValues:     clone(h.CustomValues),
	}
}

// Copy returns a deep copy of h.
func (h *Histogram) Copy() *Histogram {
	c := *h
	c.PositiveSpans, c.NegativeSpans = clone(h.PositiveSpans), clone(h.NegativeSpans)
	c.PositiveBuckets, c.NegativeBuckets = clone(h.PositiveBuckets), clone(h.NegativeBuckets)
	c.CustomValues = clone(h.CustomValues)
	return &c
}

// Copy returns a deep copy of h.
func (h *FloatHistogram) Copy() *FloatHistogram {
	c := *h
	c.PositiveSpans, c.NegativeSpans = clone(h.PositiveSpans), clone(h.NegativeSpans)
	c.PositiveBuckets, c.NegativeBuckets = clone(h.PositiveBuckets), clone(h.NegativeBuckets)
	c.CustomValues = clone(h.CustomValues)
	return &c
}

// Validate checks what every reader relies on: spans and buckets agree,
// counts are not negative, the total covers the buckets. A histogram that
// fails is refused at write time, never stored.
func (h *Histogram) Validate() error {
	if err := validateLayout(h.Schema, h.CustomValues, h.NegativeSpans, len(h.NegativeBuckets), h.PositiveSpans, len(h.PositiveBuckets)); err != nil {
		return err
	}
	var total uint64
	for _, bs := range [][]int64{h.NegativeBuckets, h.PositiveBuckets} {
		var c int64
		for _, d := range bs {
			c += d
			if c < 0 {
				return ErrNegativeCount
			}
			total += uint64(c)
		}
	}
	// NaN observations count in Count but in no bucket, so only "less
	// than" is wrong, and only when Sum is not NaN (with a NaN sum the
	// count may hold NaNs too).
	if !math.IsNaN(h.Sum) && total+h.ZeroCount > h.Count {
		return fmt.Errorf("%w: %d observations in buckets, count %d", ErrCountMismatch, total+h.ZeroCount, h.Count)
	}
	return nil
}

// Validate checks a float histogram as Histogram.Validate does.
func (h *FloatHistogram) Validate() error {
	if err := validateLayout(h.Schema, h.CustomValues, h.NegativeSpans, len(h.NegativeBuckets), h.PositiveSpans, len(h.PositiveBuckets)); err != nil {
		return err
	}
	for _, bs := range [][]float64{h.NegativeBuckets, h.PositiveBuckets} {
		for _, c := range bs {
			if c < 0 {
				return ErrNegativeCount
			}
		}
	}
	if h.ZeroCount < 0 || h.Count < 0 {
		return ErrNegativeCount
	}
	return nil
}

func validateLayout(schema int32, custom []float64, negSpans []Span, nNeg int, posSpans []Span, nPos int) error {
	if !ValidSchema(schema) {
		return fmt.Errorf("%w: %d", ErrBadSchema, schema)
	}
	if IsCustom(schema) {
		if len(negSpans) > 0 || nNeg > 0 {
			return fmt.Errorf("%w: negative buckets with custom bounds", ErrInvalid)
		}
		for i := 1; i < len(custom); i++ {
			if !(custom[i] > custom[i-1]) {
				return ErrCustomBuckets
			}
		}
		// A bucket index is a bound's (the last one +Inf's): an index
		// below 0 or past it has no bucket to name, and readers that look
		// its bound up would index out of range. Prometheus refuses both.
		end := 0
		for _, s := range posSpans {
			if s.Offset < 0 {
				return fmt.Errorf("%w: a span offset of %d", ErrCustomBuckets, s.Offset)
			}
			end += int(s.Offset) + int(s.Length)
		}
		if end > len(custom)+1 {
			return fmt.Errorf("%w: buckets up to index %d, %d bounds", ErrCustomBuckets, end-1, len(custom))
		}
	} else if len(custom) > 0 {
		return ErrCustomBuckets
	}
	for _, side := range []struct {
		spans []Span
		n     int
	}{{negSpans, nNeg}, {posSpans, nPos}} {
		covered := 0
		for i, s := range side.spans {
			if i > 0 && s.Offset < 0 {
				return ErrNegativeSpanOffset
			}
			covered += int(s.Length)
		}
		if covered != side.n {
			return fmt.Errorf("%w: %d covered, %d given", ErrSpanBucketMismatch, covered, side.n)
		}
	}
	return nil
}

// absolute turns bucket deltas into counts.
func absolute(deltas []int64) []float64 {
	if deltas == nil {
		return nil
	}
	out := make([]float64, len(deltas))
	var c int64
	for i, d := range deltas {
		c += d
		out[i] = float64(c)
	}
	return out
}

func clone[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}
