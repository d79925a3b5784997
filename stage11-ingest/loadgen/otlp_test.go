package loadgen

import (
	"bytes"
	"testing"

	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	metrics "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// otlpGenerated builds g's next request with the OTLP Go types, as the
// hand-written encoder's oracle.
func otlpGenerated(g *Generator) *colmetrics.ExportMetricsServiceRequest {
	ms := make([]*metrics.Metric, len(Fields))
	for f := range Fields {
		ms[f] = &metrics.Metric{Name: "cpu." + Fields[f], Data: &metrics.Metric_Gauge{Gauge: &metrics.Gauge{}}}
	}
	for range g.Rounds {
		g.step()
		t := uint64(Start+g.next*Step) * 1e6
		for hi, h := range g.Hosts {
			var attrs []*common.KeyValue
			for _, tg := range Tags(h) {
				attrs = append(attrs, &common.KeyValue{Key: tg[0], Value: &common.AnyValue{Value: &common.AnyValue_StringValue{StringValue: tg[1]}}})
			}
			for f := range Fields {
				gauge := ms[f].GetGauge()
				gauge.DataPoints = append(gauge.DataPoints, &metrics.NumberDataPoint{Attributes: attrs, TimeUnixNano: t, Value: &metrics.NumberDataPoint_AsInt{AsInt: g.vals[hi*len(Fields)+f]}})
			}
		}
		g.next++
	}
	return &colmetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metrics.ResourceMetrics{{ScopeMetrics: []*metrics.ScopeMetrics{{Metrics: ms}}}}}
}

// TestOTLP: the hand-written requests are, byte for byte, what the OTLP
// Go types' encoder makes of the same request, request after request
// (values walking, timestamps advancing), and the Go types read them back.
func TestOTLP(t *testing.T) {
	for _, c := range []struct{ hosts, rounds int }{{1, 1}, {3, 2}, {20, 5}} {
		g, want := New(1, 4, c.hosts, c.rounds), New(1, 4, c.hosts, c.rounds)
		var buf []byte
		for i := range 3 {
			buf = g.OTLP(buf[:0])
			req := otlpGenerated(want)
			wb, err := proto.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, wb) {
				t.Fatalf("%+v request %d: %d bytes differ from the Go types' %d", c, i, len(buf), len(wb))
			}
			var back colmetrics.ExportMetricsServiceRequest
			if err := proto.Unmarshal(buf, &back); err != nil || !proto.Equal(&back, req) {
				t.Fatalf("%+v request %d: read back %v", c, i, err)
			}
		}
	}
}

func BenchmarkOTLP(b *testing.B) {
	g := New(0, 100, 10, 10)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = g.OTLP(buf[:0])
	}
	b.ReportMetric(float64(g.PointsPerRequest())*float64(b.N)/b.Elapsed().Seconds(), "points/s")
}
