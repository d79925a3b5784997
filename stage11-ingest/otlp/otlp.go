// Package otlp takes OpenTelemetry metrics (OTLP) into the ingest
// pipeline, translated as Prometheus translates them (its OTLP receiver,
// with the names of github.com/prometheus/otlptranslator):
//
//	Gauge                           → gauge            name (+ unit suffix)
//	Sum, monotonic, cumulative      → counter          name + unit + _total
//	Sum, not monotonic, cumulative  → gauge
//	Histogram, cumulative           → name_bucket{le="…"} (cumulative counts, +Inf last), name_sum, name_count
//	Summary                         → name{quantile="…"}, name_sum, name_count
//	any delta temporality           → refused (a Prometheus-style store keeps cumulative values)
//	ExponentialHistogram            → a native histogram (NativeHistogram), name (+ unit suffix),
//	                                  to Decoder.Histograms; counted and skipped without one
//
// Data-point attributes become labels (names escaped by otlptranslator's
// LabelNamer); the resource's service.name (prefixed by service.namespace
// and "/") becomes job and service.instance.id becomes instance, as in
// Prometheus. A data point flagged "no recorded value" becomes a staleness
// marker. Timestamps are cut from nanoseconds to milliseconds.
//
// Protobuf requests (over HTTP, or gRPC's MetricsService) are read by
// Decoder.DecodeProtobuf, a wire decoder that streams the data points into
// the write (decode.go). JSON requests are unmarshalled into the generated
// types of go.opentelemetry.io/proto/otlp (Unmarshal) and translated by
// Decoder.Decode, which is also the wire decoder's oracle in the tests.
package otlp

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/prometheus/otlptranslator"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage11-ingest/ingest"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	metrics "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Content types of OTLP over HTTP.
const (
	ContentTypeProtobuf = "application/x-protobuf"
	ContentTypeJSON     = "application/json"
)

// Errors of data points that are refused.
var (
	// ErrDelta: a Sum or Histogram with delta temporality.
	ErrDelta = errors.New("otlp: delta temporality is not supported: send cumulative values (the collector's deltatocumulative processor converts them)")
	// ErrInvalid wraps errors about a request that does not decode.
	ErrInvalid = errors.New("otlp: invalid request")
)

// staleNaN is Prometheus's staleness marker.
var staleNaN = math.Float64frombits(0x7ff0000000000002)

// Unmarshal decodes an ExportMetricsServiceRequest in protobuf or JSON
// (contentType ContentTypeJSON).
func Unmarshal(body []byte, contentType string) (*colmetrics.ExportMetricsServiceRequest, error) {
	req := &colmetrics.ExportMetricsServiceRequest{}
	var err error
	if contentType == ContentTypeJSON {
		err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, req)
	} else {
		err = proto.Unmarshal(body, req)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return req, nil
}

// Stats counts what Decode did with a request.
type Stats struct {
	DataPoints int // data points seen
	Samples    int // samples added to the write
	Rejected   int // data points refused (delta, limits, invalid)
	Histograms int // native histograms handed to Decoder.Histograms
	Skipped    int // exponential-histogram data points, without Decoder.Histograms
	// Errors are the first MaxErrors reasons data points were refused.
	Errors []error
}

// MaxErrors caps Stats.Errors.
const MaxErrors = 10

// Message is the partial-success message of a response: the reasons data
// points were refused, "" if none were.
func (s *Stats) Message() string {
	if s.Rejected == 0 {
		return ""
	}
	msg := fmt.Sprintf("%d data points rejected: %v", s.Rejected, s.Errors[0])
	if len(s.Errors) > 1 {
		msg += fmt.Sprintf(" (and %d more errors)", len(s.Errors)-1)
	}
	return msg
}

func (s *Stats) reject(n int, err error) {
	s.Rejected += n
	if len(s.Errors) < MaxErrors {
		s.Errors = append(s.Errors, err)
	}
}

// Decoder translates requests into pipeline writes. A Decoder is for one
// goroutine.
type Decoder struct {
	Limits ingest.Limits
	// Histograms, if set, takes each exponential histogram data point as
	// a native histogram (the pipeline carries float points only; a sink
	// that stores histograms, like the capstone's, sets this). The labels
	// and the histogram are the callee's to keep.
	Histograms func(lset model.Labels, t int64, h *histogram.Histogram)
	// Sets, if set (and made for the same Limits), is the cache of
	// attribute sets DecodeProtobuf shares with other decoders; without it
	// a decoder keeps its own.
	Sets   *SetCache
	metric otlptranslator.MetricNamer
	label  otlptranslator.LabelNamer
	base   []label // the resource's labels (job, instance)
	ls     []label
	key    []byte
	wireState
}

type label struct{ name, value string }

// NewDecoder returns a decoder using Prometheus's default translation
// (UnderscoreEscapingWithSuffixes: names escaped to [a-zA-Z0-9_:], unit
// and type suffixes added).
func NewDecoder(lim ingest.Limits) *Decoder {
	return &Decoder{
		Limits: lim.WithDefaults(),
		metric: otlptranslator.NewMetricNamer("", otlptranslator.UnderscoreEscapingWithSuffixes),
		label:  otlptranslator.LabelNamer{UTF8Allowed: false},
	}
}

// Decode adds the samples of every data point it can take to w.
func (d *Decoder) Decode(w Writer, req *colmetrics.ExportMetricsServiceRequest) Stats {
	var st Stats
	for _, rm := range req.GetResourceMetrics() {
		d.base = d.base[:0]
		var name, namespace, instance string
		for _, kv := range rm.GetResource().GetAttributes() {
			switch kv.GetKey() {
			case "service.name":
				name = attrString(kv.GetValue())
			case "service.namespace":
				namespace = attrString(kv.GetValue())
			case "service.instance.id":
				instance = attrString(kv.GetValue())
			}
		}
		if name != "" {
			if namespace != "" {
				name = namespace + "/" + name
			}
			d.base = append(d.base, label{"job", name})
		}
		if instance != "" {
			d.base = append(d.base, label{"instance", instance})
		}
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				d.metricPoints(w, m, &st)
			}
		}
	}
	return st
}

func (d *Decoder) metricPoints(w Writer, m *metrics.Metric, st *Stats) {
	typ, n := metricType(m)
	st.DataPoints += n
	if typ == otlptranslator.MetricTypeExponentialHistogram && d.Histograms == nil {
		st.Skipped += n
		return
	}
	if typ == otlptranslator.MetricTypeUnknown {
		st.reject(n, fmt.Errorf("metric %q: no data of a known type", m.GetName()))
		return
	}
	if (m.GetSum() != nil && m.GetSum().GetAggregationTemporality() == metrics.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA) ||
		(m.GetHistogram() != nil && m.GetHistogram().GetAggregationTemporality() == metrics.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA) ||
		(m.GetExponentialHistogram() != nil && m.GetExponentialHistogram().GetAggregationTemporality() == metrics.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA) {
		st.reject(n, fmt.Errorf("metric %q: %w", m.GetName(), ErrDelta))
		return
	}
	name, err := d.metric.Build(otlptranslator.Metric{Name: m.GetName(), Unit: m.GetUnit(), Type: typ})
	if err != nil {
		st.reject(n, fmt.Errorf("metric %q: %v", m.GetName(), err))
		return
	}
	switch data := m.GetData().(type) {
	case *metrics.Metric_Gauge:
		for _, p := range data.Gauge.GetDataPoints() {
			d.number(w, name, p, st)
		}
	case *metrics.Metric_Sum:
		for _, p := range data.Sum.GetDataPoints() {
			d.number(w, name, p, st)
		}
	case *metrics.Metric_Histogram:
		for _, p := range data.Histogram.GetDataPoints() {
			d.histogram(w, name, p, st)
		}
	case *metrics.Metric_Summary:
		for _, p := range data.Summary.GetDataPoints() {
			d.summary(w, name, p, st)
		}
	case *metrics.Metric_ExponentialHistogram:
		for _, p := range data.ExponentialHistogram.GetDataPoints() {
			d.nativeHistogram(name, p, st)
		}
	}
}

func (d *Decoder) nativeHistogram(name string, p *metrics.ExponentialHistogramDataPoint, st *Stats) {
	if err := d.prepare(p.GetAttributes(), name, false); err != nil {
		st.reject(1, err)
		return
	}
	h, err := NativeHistogram(p)
	if err == nil {
		err = h.Validate()
	}
	if err != nil {
		st.reject(1, fmt.Errorf("exponential histogram %s: %w", name, err))
		return
	}
	pairs := make([]model.Label, 0, len(d.ls)+1)
	pairs = append(pairs, model.Label{Name: model.MetricName, Value: name})
	for _, l := range d.ls {
		pairs = append(pairs, model.Label{Name: l.name, Value: l.value})
	}
	lset, err := model.New(pairs...)
	if err != nil {
		st.reject(1, fmt.Errorf("exponential histogram %s: %w", name, err))
		return
	}
	d.Histograms(lset, millis(p.GetTimeUnixNano()), h)
	st.Histograms++
}

func metricType(m *metrics.Metric) (otlptranslator.MetricType, int) {
	switch data := m.GetData().(type) {
	case *metrics.Metric_Gauge:
		return otlptranslator.MetricTypeGauge, len(data.Gauge.GetDataPoints())
	case *metrics.Metric_Sum:
		if data.Sum.GetIsMonotonic() {
			return otlptranslator.MetricTypeMonotonicCounter, len(data.Sum.GetDataPoints())
		}
		return otlptranslator.MetricTypeNonMonotonicCounter, len(data.Sum.GetDataPoints())
	case *metrics.Metric_Histogram:
		return otlptranslator.MetricTypeHistogram, len(data.Histogram.GetDataPoints())
	case *metrics.Metric_ExponentialHistogram:
		return otlptranslator.MetricTypeExponentialHistogram, len(data.ExponentialHistogram.GetDataPoints())
	case *metrics.Metric_Summary:
		return otlptranslator.MetricTypeSummary, len(data.Summary.GetDataPoints())
	}
	return otlptranslator.MetricTypeUnknown, 0
}

// prepare sets d.ls to the resource's labels and attrs, named, and checks
// the limits for the longest series the data point makes (name+suffix,
// and an le or quantile label if extra), so that a refused data point
// adds nothing.
func (d *Decoder) prepare(attrs []*common.KeyValue, name string, extra bool) error {
	d.ls = append(d.ls[:0], d.base...)
	for _, kv := range attrs {
		ln, err := d.label.Build(kv.GetKey())
		if err != nil {
			return fmt.Errorf("attribute %q: %v", kv.GetKey(), err)
		}
		d.ls = append(d.ls, label{ln, attrString(kv.GetValue())})
	}
	n := len(d.ls) + 1
	if extra {
		n++
	}
	if err := d.Limits.CheckLabels(n); err != nil {
		return err
	}
	if err := d.Limits.CheckLabel([]byte("__name__"), []byte(name)); err != nil {
		return err
	}
	for _, l := range d.ls {
		if err := d.Limits.CheckLabel([]byte(l.name), []byte(l.value)); err != nil {
			return err
		}
	}
	return nil
}

// add writes one series (the name, d.ls and an optional extra label) and
// its sample.
func (d *Decoder) add(w Writer, name string, extra *label, t int64, v float64, st *Stats) {
	d.key = ingest.AppendPair(d.key[:0], "__name__", name)
	for _, l := range d.ls {
		d.key = ingest.AppendPair(d.key, l.name, l.value)
	}
	if extra != nil {
		d.key = ingest.AppendPair(d.key, extra.name, extra.value)
	}
	w.Series(ingest.Pairs, d.key)
	w.Add(nil, t, v)
	st.Samples++
}

func millis(ns uint64) int64 { return int64(ns / 1e6) }

func (d *Decoder) number(w Writer, name string, p *metrics.NumberDataPoint, st *Stats) {
	if err := d.prepare(p.GetAttributes(), name, false); err != nil {
		st.reject(1, err)
		return
	}
	var v float64
	switch x := p.GetValue().(type) {
	case *metrics.NumberDataPoint_AsDouble:
		v = x.AsDouble
	case *metrics.NumberDataPoint_AsInt:
		v = float64(x.AsInt)
	}
	d.add(w, name, nil, millis(p.GetTimeUnixNano()), value(v, p.GetFlags()), st)
}

// value is v, or the staleness marker for a point without a value.
func value(v float64, flags uint32) float64 {
	if flags&uint32(metrics.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK) != 0 {
		return staleNaN
	}
	return v
}

func (d *Decoder) histogram(w Writer, name string, p *metrics.HistogramDataPoint, st *Stats) {
	bounds, counts := p.GetExplicitBounds(), p.GetBucketCounts()
	if len(counts) != 0 && len(counts) != len(bounds)+1 {
		st.reject(1, fmt.Errorf("histogram %s: %d bucket counts for %d bounds, want bounds+1", name, len(counts), len(bounds)))
		return
	}
	if err := d.prepare(p.GetAttributes(), name+"_bucket", true); err != nil {
		st.reject(1, err)
		return
	}
	t, f := millis(p.GetTimeUnixNano()), p.GetFlags()
	var cum uint64
	for i, b := range bounds {
		if i < len(counts) {
			cum += counts[i]
		}
		le := label{"le", strconv.FormatFloat(b, 'f', -1, 64)}
		d.add(w, name+"_bucket", &le, t, value(float64(cum), f), st)
	}
	inf := label{"le", "+Inf"}
	d.add(w, name+"_bucket", &inf, t, value(float64(p.GetCount()), f), st)
	d.add(w, name+"_sum", nil, t, value(p.GetSum(), f), st)
	d.add(w, name+"_count", nil, t, value(float64(p.GetCount()), f), st)
}

func (d *Decoder) summary(w Writer, name string, p *metrics.SummaryDataPoint, st *Stats) {
	if err := d.prepare(p.GetAttributes(), name+"_count", true); err != nil {
		st.reject(1, err)
		return
	}
	t, f := millis(p.GetTimeUnixNano()), p.GetFlags()
	for _, q := range p.GetQuantileValues() {
		ql := label{"quantile", strconv.FormatFloat(q.GetQuantile(), 'f', -1, 64)}
		d.add(w, name, &ql, t, value(q.GetValue(), f), st)
	}
	d.add(w, name+"_sum", nil, t, value(p.GetSum(), f), st)
	d.add(w, name+"_count", nil, t, value(float64(p.GetCount()), f), st)
}

// attrString renders an attribute value as a label value.
func attrString(v *common.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *common.AnyValue_StringValue:
		return x.StringValue
	case *common.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *common.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *common.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case nil:
		return ""
	}
	b, _ := protojson.Marshal(v)
	return string(b)
}
