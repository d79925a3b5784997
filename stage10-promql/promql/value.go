// Package promql evaluates PromQL expressions (parsed by package
// promql/parser) against a Storage, with Prometheus's semantics: 5-minute
// lookback, staleness markers, left-open windows, counter-reset handling and
// extrapolation in rate, vector matching, and the full set of aggregations.
package promql

import (
	"math"
	"strconv"
	"strings"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage10-promql/promql/parser"
)

// StaleNaN is the staleness marker: a NaN with a payload no arithmetic ever
// produces, written by a scraper when a series disappears. A selector that
// meets it as the latest sample treats the series as gone at once instead of
// for the rest of the lookback window.
var StaleNaN = math.Float64frombits(staleNaNBits)

const staleNaNBits = 0x7ff0000000000002

// IsStaleNaN reports whether v is the staleness marker (an ordinary NaN is
// not: it is a value like any other).
func IsStaleNaN(v float64) bool { return math.Float64bits(v) == staleNaNBits }

// Value is a query result: Scalar, String, Vector or Matrix.
type Value interface {
	Type() parser.ValueType
	String() string
}

// Scalar is a number at a time.
type Scalar struct {
	T int64
	V float64
}

// String is a string at a time.
type String struct {
	T int64
	V string
}

// Sample is one element of an instant vector: a float F, or a native
// histogram H when H is not nil.
type Sample struct {
	Metric model.Labels
	T      int64
	F      float64
	H      *histogram.FloatHistogram
}

// HPoint is one native histogram sample of a series. Queries compute
// with the float form (rate gives fractional counts).
type HPoint struct {
	T int64
	H *histogram.FloatHistogram
}

// Vector is an instant vector: at most one sample per series, all at the
// same time.
type Vector []Sample

// Series is one series of a range vector or of a range query's result.
type Series struct {
	Metric model.Labels
	Floats []model.Sample
	// Histograms are the series' native histogram samples, in time
	// order, at times other than those of Floats (a series may change
	// from one kind to the other).
	Histograms []HPoint
	// DropName marks a series whose metric name goes when the query is
	// done (delayed name removal, names.go); never set in a result.
	DropName bool
}

// Matrix is a range vector or a range query's result.
type Matrix []Series

func (Scalar) Type() parser.ValueType { return parser.ValueTypeScalar }
func (String) Type() parser.ValueType { return parser.ValueTypeString }
func (Vector) Type() parser.ValueType { return parser.ValueTypeVector }
func (Matrix) Type() parser.ValueType { return parser.ValueTypeMatrix }

// FormatValue prints a sample value the way Prometheus's API does: the
// shortest decimal that reads back as the same float64, and +Inf/-Inf/NaN.
func FormatValue(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// MetricString prints a label set as Prometheus does: the metric name, then
// the other labels in braces, `up{instance="a", job="api"}`; a set without
// a name prints as just the braces, a name alone without them.
func MetricString(l model.Labels) string {
	var b strings.Builder
	b.WriteString(l.Name())
	if l.Len() == 1 && l.Has(model.MetricName) {
		return b.String()
	}
	b.WriteByte('{')
	first := true
	for x := range l.All() {
		if x.Name == model.MetricName {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(x.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(x.Value))
	}
	b.WriteByte('}')
	return b.String()
}

func (s Scalar) String() string {
	return "scalar: " + FormatValue(s.V) + " @" + strconv.FormatInt(s.T, 10)
}
func (s String) String() string {
	return "string: " + strconv.Quote(s.V) + " @" + strconv.FormatInt(s.T, 10)
}

func (v Vector) String() string {
	var b strings.Builder
	for _, s := range v {
		val := FormatValue(s.F)
		if s.H != nil {
			val = FormatHistogram(s.H)
		}
		b.WriteString(MetricString(s.Metric) + " => " + val + " @" + strconv.FormatInt(s.T, 10) + "\n")
	}
	return b.String()
}

func (m Matrix) String() string {
	var b strings.Builder
	for _, s := range m {
		b.WriteString(MetricString(s.Metric) + " =>")
		for _, p := range s.Floats {
			b.WriteString(" " + FormatValue(p.V) + " @" + strconv.FormatInt(p.T, 10))
		}
		for _, p := range s.Histograms {
			b.WriteString(" " + FormatHistogram(p.H) + " @" + strconv.FormatInt(p.T, 10))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Point is one (timestamp, value) pair of a series; the course's shared
// sample type.
type Point = model.Sample
