package otlp

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/ingest"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	metrics "go.opentelemetry.io/proto/otlp/metrics/v1"
	resource "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func str(k, v string) *common.KeyValue {
	return &common.KeyValue{Key: k, Value: &common.AnyValue{Value: &common.AnyValue_StringValue{StringValue: v}}}
}

const ns = uint64(1_700_000_000_000_000_000)

// request builds, with the OTLP Go types, one metric of each kind.
func request() *colmetrics.ExportMetricsServiceRequest {
	cum := metrics.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	attrs := []*common.KeyValue{str("http.method", "GET")}
	return &colmetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metrics.ResourceMetrics{{
		Resource: &resource.Resource{Attributes: []*common.KeyValue{str("service.name", "api"), str("service.namespace", "shop"), str("service.instance.id", "pod-1"), str("host.name", "h")}},
		ScopeMetrics: []*metrics.ScopeMetrics{{Metrics: []*metrics.Metric{
			{Name: "memory.usage", Unit: "By", Data: &metrics.Metric_Gauge{Gauge: &metrics.Gauge{DataPoints: []*metrics.NumberDataPoint{
				{TimeUnixNano: ns, Value: &metrics.NumberDataPoint_AsInt{AsInt: 2048}},
				{TimeUnixNano: ns + 15e9, Flags: uint32(metrics.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)},
			}}}},
			{Name: "http.requests", Unit: "1", Data: &metrics.Metric_Sum{Sum: &metrics.Sum{IsMonotonic: true, AggregationTemporality: cum, DataPoints: []*metrics.NumberDataPoint{
				{Attributes: attrs, TimeUnixNano: ns, Value: &metrics.NumberDataPoint_AsDouble{AsDouble: 7}},
			}}}},
			{Name: "queue.depth", Data: &metrics.Metric_Sum{Sum: &metrics.Sum{IsMonotonic: false, AggregationTemporality: cum, DataPoints: []*metrics.NumberDataPoint{
				{TimeUnixNano: ns, Value: &metrics.NumberDataPoint_AsInt{AsInt: -3}},
			}}}},
			{Name: "http.server.duration", Unit: "s", Data: &metrics.Metric_Histogram{Histogram: &metrics.Histogram{AggregationTemporality: cum, DataPoints: []*metrics.HistogramDataPoint{
				{Attributes: attrs, TimeUnixNano: ns, Count: 10, Sum: proto.Float64(2.5), ExplicitBounds: []float64{0.1, 1}, BucketCounts: []uint64{4, 5, 1}},
			}}}},
			{Name: "rpc.latency", Unit: "ms", Data: &metrics.Metric_Summary{Summary: &metrics.Summary{DataPoints: []*metrics.SummaryDataPoint{
				{TimeUnixNano: ns, Count: 3, Sum: 30, QuantileValues: []*metrics.SummaryDataPoint_ValueAtQuantile{{Quantile: 0.5, Value: 9}, {Quantile: 0.99, Value: 12}}},
			}}}},
			{Name: "bytes.sent", Unit: "By", Data: &metrics.Metric_Sum{Sum: &metrics.Sum{IsMonotonic: true, AggregationTemporality: metrics.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA, DataPoints: []*metrics.NumberDataPoint{
				{TimeUnixNano: ns, Value: &metrics.NumberDataPoint_AsInt{AsInt: 100}}, {TimeUnixNano: ns + 1, Value: &metrics.NumberDataPoint_AsInt{AsInt: 5}},
			}}}},
			{Name: "latency.exp", Data: &metrics.Metric_ExponentialHistogram{ExponentialHistogram: &metrics.ExponentialHistogram{DataPoints: []*metrics.ExponentialHistogramDataPoint{{TimeUnixNano: ns, Count: 1}}}}},
		}}},
	}}}
}

func decode(t *testing.T, req *colmetrics.ExportMetricsServiceRequest, lim ingest.Limits) (map[string][]model.Sample, Stats) {
	t.Helper()
	sink := ingest.NewMemorySink()
	p, err := ingest.New(sink, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w, err := p.Begin(context.Background(), ingest.Block)
	if err != nil {
		t.Fatal(err)
	}
	st := NewDecoder(lim).Decode(w, req)
	if res, err := w.Commit(context.Background()); err != nil || res.Refused != 0 {
		t.Fatalf("commit: %+v %v", res, err)
	}
	return sink.Series(), st
}

// TestTranslation: the series Prometheus's OTLP receiver would make, by
// hand from its rules, for each kind of metric, over protobuf and JSON.
func TestTranslation(t *testing.T) {
	ms := int64(ns / 1e6)
	job := `instance="pod-1",job="shop/api"`
	get := `http_method="GET",` + job
	want := map[string][]model.Sample{
		`memory_usage_bytes{` + job + `}`:                            {{T: ms, V: 2048}, {T: ms + 15000, V: staleNaN}},
		`http_requests_total{` + get + `}`:                           {{T: ms, V: 7}},
		`queue_depth{` + job + `}`:                                   {{T: ms, V: -3}},
		`http_server_duration_seconds_bucket{` + get + `,le="0.1"}`:  {{T: ms, V: 4}},
		`http_server_duration_seconds_bucket{` + get + `,le="1"}`:    {{T: ms, V: 9}},
		`http_server_duration_seconds_bucket{` + get + `,le="+Inf"}`: {{T: ms, V: 10}},
		`http_server_duration_seconds_sum{` + get + `}`:              {{T: ms, V: 2.5}},
		`http_server_duration_seconds_count{` + get + `}`:            {{T: ms, V: 10}},
		`rpc_latency_milliseconds{` + job + `,quantile="0.5"}`:       {{T: ms, V: 9}},
		`rpc_latency_milliseconds{` + job + `,quantile="0.99"}`:      {{T: ms, V: 12}},
		`rpc_latency_milliseconds_sum{` + job + `}`:                  {{T: ms, V: 30}},
		`rpc_latency_milliseconds_count{` + job + `}`:                {{T: ms, V: 3}},
	}
	pb, err := proto.Marshal(request())
	if err != nil {
		t.Fatal(err)
	}
	js, err := protojson.Marshal(request())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ct   string
		body []byte
	}{{ContentTypeProtobuf, pb}, {ContentTypeJSON, js}} {
		req, err := Unmarshal(c.body, c.ct)
		if err != nil {
			t.Fatal(err)
		}
		got, st := decode(t, req, ingest.Limits{})
		if len(got) != len(want) {
			t.Errorf("%s: %d series, want %d: %v", c.ct, len(got), len(want), got)
		}
		for k, w := range want {
			g := got[k]
			if len(g) != len(w) {
				t.Errorf("%s: %s = %v, want %v", c.ct, k, g, w)
				continue
			}
			for i := range w {
				if g[i].T != w[i].T || math.Float64bits(g[i].V) != math.Float64bits(w[i].V) {
					t.Errorf("%s: %s = %v, want %v", c.ct, k, g, w)
				}
			}
		}
		if st.DataPoints != 9 || st.Samples != 13 || st.Rejected != 2 || st.Skipped != 1 || !errors.Is(st.Errors[0], ErrDelta) {
			t.Errorf("%s: stats %+v", c.ct, st)
		}
		if msg := st.Message(); !strings.Contains(msg, "2 data points rejected") || !strings.Contains(msg, `"bytes.sent": otlp: delta temporality`) {
			t.Errorf("message %q", msg)
		}
	}
}

// TestLimits: a data point over a limit is refused whole and named.
func TestLimits(t *testing.T) {
	got, st := decode(t, request(), ingest.Limits{MaxLabels: 3})
	// job, instance, name: 3. Refused: the counter (http.method), the
	// histogram (http.method, le), the summary (quantile), and the two
	// delta points.
	if st.Rejected != 3+2 || !errors.Is(st.Errors[0], ingest.ErrLimit) || !strings.Contains(st.Errors[0].Error(), ingest.LimitLabels) {
		t.Fatalf("stats %+v", st)
	}
	for k := range got {
		if strings.Contains(k, "http_") || strings.Contains(k, "rpc_") {
			t.Errorf("series %s of a refused data point stored", k)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	pb, _ := proto.Marshal(request())
	js, _ := protojson.Marshal(request())
	f.Add(pb, false)
	f.Add(js, true)
	// Writes are aborted, and the flushers sleep (MaxAge): no goroutine
	// runs beside the target, whose coverage must not vary by chance.
	p, _ := ingest.New(ingest.Discard{}, ingest.Options{MaxAge: time.Hour})
	f.Fuzz(func(t *testing.T, b []byte, json bool) {
		ct := ContentTypeProtobuf
		if json {
			ct = ContentTypeJSON
		}
		req, err := Unmarshal(b, ct)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatal(err)
			}
			return
		}
		w, err := p.Begin(context.Background(), ingest.Block)
		if err != nil {
			t.Fatal(err)
		}
		st := NewDecoder(ingest.Limits{}).Decode(w, req)
		if st.Samples > 0 && w.Points() != st.Samples {
			t.Fatalf("%d samples counted, %d added", st.Samples, w.Points())
		}
		w.Abort()
	})
}
