package api

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// TestFederateNativeHistograms: a scraper asking for the delimited
// protobuf exposition gets each series' newest sample, native histograms
// included, as Prometheus federates them. The answer is read back with
// client_model's messages and protodelim (not the server's encoder) and
// compared with messages written by hand from the histograms stored:
// float counts per bucket, spans, zero bucket, gauge histograms in their
// own family type, a name whose series differ in kind split into one
// family per kind, an empty histogram marked native by the no-op span, a
// custom-bucket histogram as cumulative classic buckets, a stale
// histogram and a sample older than the lookback left out. The text
// format, asked for by a client without Accept, leaves the exponential
// histograms out.
func TestFederateNativeHistograms(t *testing.T) {
	// Lookback 5 minutes from t=400 s: samples after t=100 s count.
	srv, db := newClockedAPI(t, 400_000)

	// hist(k): schema 0, zero threshold 0.001; k in the zero bucket, k and
	// 2k in the positive buckets 0 and 1 (deltas k, k), 3k in negative
	// bucket 0: count 7k.
	hist := func(k uint64) *histogram.Histogram {
		return &histogram.Histogram{Schema: 0, ZeroThreshold: 0.001, ZeroCount: k, Count: 7 * k, Sum: 4.5 * float64(k),
			PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{int64(k), int64(k)},
			NegativeSpans: []histogram.Span{{Offset: 0, Length: 1}}, NegativeBuckets: []int64{3 * int64(k)}}
	}
	gauge := &histogram.FloatHistogram{CounterResetHint: histogram.GaugeType, Schema: -1, Count: 2.5, Sum: -0.25,
		ZeroThreshold: 0.5, ZeroCount: 0.5, PositiveSpans: []histogram.Span{{Offset: -1, Length: 1}, {Offset: 1, Length: 1}},
		PositiveBuckets: []float64{0.5, 1.5}}
	custom := &histogram.Histogram{Schema: histogram.CustomBucketsSchema, Count: 9, Sum: 20, CustomValues: []float64{0.1, 1, 10},
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}, {Offset: 1, Length: 2}}, PositiveBuckets: []int64{3, 1, -2}}
	stale := hist(1).ToFloat()
	stale.Sum = math.Float64frombits(0x7ff0000000000002) // Prometheus's staleness marker
	type sample struct {
		t  int64
		v  float64
		h  *histogram.Histogram
		fh *histogram.FloatHistogram
	}
	input := []struct {
		lset    model.Labels
		samples []sample
	}{
		{model.MustFromStrings("__name__", "h", "job", "a"), []sample{{t: 200_000, h: hist(1)}, {t: 240_000, h: hist(2)}}},
		{model.MustFromStrings("__name__", "m"), []sample{{t: 200_000, v: 5}, {t: 240_000, fh: hist(1).ToFloat()}}},
		{model.MustFromStrings("__name__", "n"), []sample{{t: 200_000, h: hist(1)}, {t: 240_000, v: 7}}},
		{model.MustFromStrings("__name__", "g"), []sample{{t: 240_000, fh: gauge}}},
		{model.MustFromStrings("__name__", "e"), []sample{{t: 240_000, h: &histogram.Histogram{Schema: 3}}}},
		{model.MustFromStrings("__name__", "c"), []sample{{t: 240_000, h: custom}}},
		{model.MustFromStrings("__name__", "s"), []sample{{t: 200_000, h: hist(1)}, {t: 240_000, fh: stale}}},
		{model.MustFromStrings("__name__", "old"), []sample{{t: 50_000, h: hist(1)}}},
		{model.MustFromStrings("__name__", "x", "k", "1"), []sample{{t: 240_000, v: 1}}},
		{model.MustFromStrings("__name__", "x", "k", "2"), []sample{{t: 240_000, h: hist(1)}}},
	}
	app := db.Appender(context.Background())
	for _, s := range input {
		for _, smp := range s.samples {
			var err error
			if smp.h != nil || smp.fh != nil {
				_, err = app.AppendHistogram(0, s.lset, smp.t, smp.h, smp.fh)
			} else {
				_, err = app.Append(0, s.lset, smp.t, smp.v)
			}
			if err != nil {
				t.Fatalf("%s at %d: %v", s.lset, smp.t, err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}

	lp := func(kv ...string) []*dto.LabelPair {
		var out []*dto.LabelPair
		for i := 0; i < len(kv); i += 2 {
			out = append(out, &dto.LabelPair{Name: proto.String(kv[i]), Value: proto.String(kv[i+1])})
		}
		return out
	}
	span := func(off int32, n uint32) *dto.BucketSpan {
		return &dto.BucketSpan{Offset: proto.Int32(off), Length: proto.Uint32(n)}
	}
	// The exponential histograms in float form, as worked out above.
	native := func(k float64) *dto.Histogram {
		return &dto.Histogram{SampleCountFloat: proto.Float64(7 * k), SampleSum: proto.Float64(4.5 * k), Schema: proto.Int32(0),
			ZeroThreshold: proto.Float64(0.001), ZeroCountFloat: proto.Float64(k),
			PositiveSpan: []*dto.BucketSpan{span(0, 2)}, PositiveCount: []float64{k, 2 * k},
			NegativeSpan: []*dto.BucketSpan{span(0, 1)}, NegativeCount: []float64{3 * k}}
	}
	fam := func(name string, typ dto.MetricType, ms ...*dto.Metric) *dto.MetricFamily {
		return &dto.MetricFamily{Name: proto.String(name), Type: typ.Enum(), Metric: ms}
	}
	at := proto.Int64(240_000)
	want := []*dto.MetricFamily{
		// Custom buckets 0.1, 1, 10: 3, 0, 4 observations (+Inf: 2).
		fam("c", dto.MetricType_HISTOGRAM, &dto.Metric{Label: lp("instance", ""), TimestampMs: at, Histogram: &dto.Histogram{
			SampleCountFloat: proto.Float64(9), SampleSum: proto.Float64(20), Bucket: []*dto.Bucket{
				{UpperBound: proto.Float64(0.1), CumulativeCountFloat: proto.Float64(3)},
				{UpperBound: proto.Float64(1), CumulativeCountFloat: proto.Float64(3)},
				{UpperBound: proto.Float64(10), CumulativeCountFloat: proto.Float64(7)}}}}),
		fam("e", dto.MetricType_HISTOGRAM, &dto.Metric{Label: lp("instance", ""), TimestampMs: at, Histogram: &dto.Histogram{
			SampleCountFloat: proto.Float64(0), SampleSum: proto.Float64(0), Schema: proto.Int32(3), ZeroThreshold: proto.Float64(0),
			ZeroCountFloat: proto.Float64(0), PositiveSpan: []*dto.BucketSpan{span(0, 0)}}}),
		fam("g", dto.MetricType_GAUGE_HISTOGRAM, &dto.Metric{Label: lp("instance", ""), TimestampMs: at, Histogram: &dto.Histogram{
			SampleCountFloat: proto.Float64(2.5), SampleSum: proto.Float64(-0.25), Schema: proto.Int32(-1), ZeroThreshold: proto.Float64(0.5),
			ZeroCountFloat: proto.Float64(0.5), PositiveSpan: []*dto.BucketSpan{span(-1, 1), span(1, 1)}, PositiveCount: []float64{0.5, 1.5}}}),
		fam("h", dto.MetricType_HISTOGRAM, &dto.Metric{Label: lp("job", "a", "instance", ""), TimestampMs: at, Histogram: native(2)}),
		fam("m", dto.MetricType_HISTOGRAM, &dto.Metric{Label: lp("instance", ""), TimestampMs: at, Histogram: native(1)}),
		fam("n", dto.MetricType_UNTYPED, &dto.Metric{Label: lp("instance", ""), TimestampMs: at, Untyped: &dto.Untyped{Value: proto.Float64(7)}}),
		fam("x", dto.MetricType_UNTYPED, &dto.Metric{Label: lp("k", "1", "instance", ""), TimestampMs: at, Untyped: &dto.Untyped{Value: proto.Float64(1)}}),
		fam("x", dto.MetricType_HISTOGRAM, &dto.Metric{Label: lp("k", "2", "instance", ""), TimestampMs: at, Histogram: native(1)}),
	}

	req, _ := http.NewRequest(http.MethodGet, srv.URL+q("/federate", "match[]", `{__name__=~".+"}`), nil)
	req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "application/vnd.google.protobuf") || !strings.Contains(ct, "encoding=delimited") {
		t.Fatalf("federate: %d, Content-Type %q", resp.StatusCode, ct)
	}
	var got []*dto.MetricFamily
	br := bufio.NewReader(resp.Body)
	for {
		mf := &dto.MetricFamily{}
		if err := protodelim.UnmarshalFrom(br, mf); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding family %d: %v", len(got), err)
		}
		got = append(got, mf)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d families, want %d:\n%v", len(got), len(want), got)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("family %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}

	// The text format: floats, and the custom-bucket histogram as classic
	// buckets; the exponential histograms have no form there.
	text := get(t, srv.URL+q("/federate", "match[]", `{__name__=~".+"}`))
	wantText := `# TYPE c histogram
c_bucket{instance="",le="0.1"} 3 240000
c_bucket{instance="",le="1"} 3 240000
c_bucket{instance="",le="10"} 7 240000
c_bucket{instance="",le="+Inf"} 9 240000
c_sum{instance=""} 20 240000
c_count{instance=""} 9 240000
# TYPE n untyped
n{instance=""} 7 240000
# TYPE x untyped
x{k="1",instance=""} 1 240000`
	if text.code != 200 || text.body != wantText {
		t.Errorf("text format: %d\n%s\nwant\n%s", text.code, text.body, wantText)
	}
}

// newClockedAPI serves the API over an empty database, its clock standing
// at now (ms).
func newClockedAPI(t *testing.T, now int64) (*httptest.Server, *tsdb.DB) {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a := New(db, Options{Logger: discardLogger(), Now: func() time.Time { return time.UnixMilli(now) }})
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, db
}

// TestClassicHistogramOddSpans: a custom-bucket histogram whose spans
// reach below the first bound or past the last (a first span's offset
// may be negative for the layout check) is written without the buckets
// that have no bound, not a panic.
func TestClassicHistogramOddSpans(t *testing.T) {
	h := &histogram.FloatHistogram{Schema: histogram.CustomBucketsSchema, CustomValues: []float64{1, 2},
		PositiveSpans: []histogram.Span{{Offset: -1, Length: 2}, {Offset: 3, Length: 1}}, PositiveBuckets: []float64{5, 1, 7}, Count: 13, Sum: 4}
	got := classicHistogram(h)
	// Index -1 and 5 have no bound; index 0 (le 1) holds 1, index 1 (le 2) nothing.
	if len(got.Bucket) != 2 || got.Bucket[0].GetCumulativeCountFloat() != 1 || got.Bucket[1].GetCumulativeCountFloat() != 1 {
		t.Fatalf("%v", got.Bucket)
	}
}
