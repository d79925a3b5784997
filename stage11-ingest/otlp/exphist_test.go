package otlp

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage11-ingest/ingest"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	metrics "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// The conversion is checked from first principles: random observations
// are bucketed twice, once by OTLP's rule at the data point's scale (index
// ceil(log2|v|·2^scale) − 1) and once by the native rule at the schema the
// conversion must pick (index ceil(log2|v|·2^schema), schema = min(scale, 8)).
// The converted histogram must hold exactly the native counts.

func bucketIndex(v float64, scale int32) int32 {
	return int32(math.Ceil(math.Log2(v) * math.Exp2(float64(scale))))
}

// observe builds the OTLP data point of obs and the native counts per
// index (positive and negative sides) the conversion must produce.
func observe(obs []float64, scale int32, zt float64) (*metrics.ExponentialHistogramDataPoint, map[int32]int64, map[int32]int64) {
	schema := min(scale, histogram.MaxSchema)
	p := &metrics.ExponentialHistogramDataPoint{Scale: scale, ZeroThreshold: zt, Count: uint64(len(obs))}
	dense := func(idx []int32) *metrics.ExponentialHistogramDataPoint_Buckets {
		if len(idx) == 0 {
			return nil
		}
		lo, hi := idx[0], idx[0]
		for _, i := range idx {
			lo, hi = min(lo, i), max(hi, i)
		}
		b := &metrics.ExponentialHistogramDataPoint_Buckets{Offset: lo, BucketCounts: make([]uint64, hi-lo+1)}
		for _, i := range idx {
			b.BucketCounts[i-lo]++
		}
		return b
	}
	var pos, neg []int32
	wantPos, wantNeg := map[int32]int64{}, map[int32]int64{}
	sum := 0.0
	for _, v := range obs {
		sum += v
		a := math.Abs(v)
		switch {
		case a <= zt:
			p.ZeroCount++
		case v > 0:
			pos = append(pos, bucketIndex(a, scale)-1)
			wantPos[bucketIndex(a, schema)]++
		default:
			neg = append(neg, bucketIndex(a, scale)-1)
			wantNeg[bucketIndex(a, schema)]++
		}
	}
	p.Sum = proto.Float64(sum)
	p.Positive, p.Negative = dense(pos), dense(neg)
	return p, wantPos, wantNeg
}

// counts expands spans and deltas into counts per index, checking the
// layout is compact: no empty span, no run of more than two empty buckets
// stored, no empty bucket at either end of a span.
func counts(t *testing.T, spans []histogram.Span, deltas []int64) map[int32]int64 {
	t.Helper()
	out := map[int32]int64{}
	idx, k := int32(0), 0
	var c int64
	for si, s := range spans {
		if s.Length == 0 {
			t.Fatalf("empty span in %v", spans)
		}
		if si > 0 && s.Offset <= 2 {
			t.Fatalf("span %d starts after a gap of %d: two or fewer empty buckets are stored as zeros (%v)", si, s.Offset, spans)
		}
		idx += s.Offset
		zeros := 0
		for j := range s.Length {
			c += deltas[k]
			k++
			if c != 0 {
				out[idx] = c
				zeros = 0
			} else if zeros++; j == 0 || zeros > 2 {
				t.Fatalf("empty bucket stored at the start of a span or in a run of 3 (%v %v)", spans, deltas)
			}
			idx++
		}
		if zeros > 0 {
			t.Fatalf("span ends with an empty bucket (%v %v)", spans, deltas)
		}
	}
	if k != len(deltas) {
		t.Fatalf("%d deltas for spans covering %d", len(deltas), k)
	}
	return out
}

func sameCounts(t *testing.T, what string, got, want map[int32]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d buckets %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i, c := range want {
		if got[i] != c {
			t.Fatalf("%s: bucket %d = %d, want %d (got %v)", what, i, got[i], c, got)
		}
	}
}

func TestNativeHistogramFromObservations(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 17))
	for round := range 500 {
		scale := int32(r.IntN(17)) - 4 // -4 … 12: the scales above 8 are scaled down
		zt := []float64{0, 1e-3, 0.5}[r.IntN(3)]
		var obs []float64
		for range r.IntN(60) {
			// Spread over many powers of two, so that gaps of every length
			// appear; some exact zeros and some negatives.
			v := math.Exp2(r.NormFloat64()*4) * (1 + r.Float64())
			switch r.IntN(10) {
			case 0:
				v = 0
			case 1, 2:
				v = -v
			}
			obs = append(obs, v)
		}
		p, wantPos, wantNeg := observe(obs, scale, zt)
		h, err := NativeHistogram(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Validate(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if want := min(scale, 8); h.Schema != want {
			t.Fatalf("scale %d: schema %d, want %d", scale, h.Schema, want)
		}
		if h.Count != uint64(len(obs)) || h.ZeroCount != p.ZeroCount || h.Sum != p.GetSum() {
			t.Fatalf("round %d: count %d zero %d sum %v, want %d %d %v", round, h.Count, h.ZeroCount, h.Sum, len(obs), p.ZeroCount, p.GetSum())
		}
		wantZT := zt
		if zt == 0 {
			wantZT = 1e-128
		}
		if h.ZeroThreshold != wantZT {
			t.Fatalf("zero threshold %v, want %v", h.ZeroThreshold, wantZT)
		}
		sameCounts(t, "positive", counts(t, h.PositiveSpans, h.PositiveBuckets), wantPos)
		sameCounts(t, "negative", counts(t, h.NegativeSpans, h.NegativeBuckets), wantNeg)
	}
}

func TestNativeHistogramEdges(t *testing.T) {
	if _, err := NativeHistogram(&metrics.ExponentialHistogramDataPoint{Scale: -5}); err == nil {
		t.Fatal("scale -5 converted")
	}
	// A "no recorded value" point is the staleness marker.
	h, err := NativeHistogram(&metrics.ExponentialHistogramDataPoint{Scale: 0, Count: 4, Sum: proto.Float64(2),
		Flags: uint32(metrics.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)})
	if err != nil || math.Float64bits(h.Sum) != math.Float64bits(staleNaN) {
		t.Fatalf("stale point: %v, sum bits %x", err, math.Float64bits(h.Sum))
	}
	// All-zero dense counts store nothing.
	h, _ = NativeHistogram(&metrics.ExponentialHistogramDataPoint{Scale: 2, Positive: &metrics.ExponentialHistogramDataPoint_Buckets{Offset: 3, BucketCounts: []uint64{0, 0, 0}}})
	if len(h.PositiveSpans) != 0 || len(h.PositiveBuckets) != 0 {
		t.Fatalf("zero counts stored: %v %v", h.PositiveSpans, h.PositiveBuckets)
	}
}

// TestDecoderHandsOutHistograms: with Decoder.Histograms set, an
// exponential histogram reaches it with its series' labels; a delta one is
// refused like delta sums.
func TestDecoderHandsOutHistograms(t *testing.T) {
	p, wantPos, _ := observe([]float64{1.5, 3, 3, 100}, 3, 0)
	p.TimeUnixNano = ns
	p.Attributes = []*common.KeyValue{str("route", "/a")}
	cum := metrics.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	req := &colmetrics.ExportMetricsServiceRequest{ResourceMetrics: []*metrics.ResourceMetrics{{
		ScopeMetrics: []*metrics.ScopeMetrics{{Metrics: []*metrics.Metric{
			{Name: "http.latency", Unit: "s", Data: &metrics.Metric_ExponentialHistogram{ExponentialHistogram: &metrics.ExponentialHistogram{AggregationTemporality: cum, DataPoints: []*metrics.ExponentialHistogramDataPoint{p}}}},
			{Name: "delta.latency", Data: &metrics.Metric_ExponentialHistogram{ExponentialHistogram: &metrics.ExponentialHistogram{
				AggregationTemporality: metrics.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA, DataPoints: []*metrics.ExponentialHistogramDataPoint{p}}}},
		}}},
	}}}
	type got struct {
		lset model.Labels
		t    int64
		h    *histogram.Histogram
	}
	var gots []got
	d := NewDecoder(ingest.Limits{})
	d.Histograms = func(lset model.Labels, ts int64, h *histogram.Histogram) { gots = append(gots, got{lset, ts, h}) }
	sink := ingest.NewMemorySink()
	pl, err := ingest.New(sink, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	w, err := pl.Begin(context.Background(), ingest.Block)
	if err != nil {
		t.Fatal(err)
	}
	st := d.Decode(w, req)
	if _, err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.Histograms != 1 || st.Rejected != 1 || st.Skipped != 0 || len(gots) != 1 {
		t.Fatalf("stats %+v, %d handed out; want 1 histogram, 1 rejected (delta)", st, len(gots))
	}
	want := model.MustFromStrings("__name__", "http_latency_seconds", "route", "/a")
	if !gots[0].lset.Equal(want) || gots[0].t != int64(ns/1e6) {
		t.Fatalf("labels %v t %d, want %v t %d", gots[0].lset, gots[0].t, want, ns/1e6)
	}
	sameCounts(t, "positive", counts(t, gots[0].h.PositiveSpans, gots[0].h.PositiveBuckets), wantPos)
}
