package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"

	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage11-ingest/remote/prompbtest"
)

func TestRemoteWritePartialAcceptance(t *testing.T) {
	srv, _ := newTestAPI(t, Options{})
	// x{GET,a} ends at t=60m. One request: an out-of-order sample (t=30m),
	// a duplicate with another value (t=60m), a good one (t=61m), a new
	// series, and a series without a metric name.
	req := []prompbtest.Series{
		{Labels: [][2]string{{"__name__", "x"}, {"inst", "a"}, {"method", "GET"}}, Samples: [][2]float64{{1_800_000, 1}, {3_600_000, 7}, {3_660_000, 610}}},
		{Labels: [][2]string{{"__name__", "y"}}, Samples: [][2]float64{{5, 1}}},
		{Labels: [][2]string{{"job", "nameless"}}, Samples: [][2]float64{{5, 1}, {6, 2}}},
	}
	r := post(t, srv.URL+"/api/v1/write", "application/x-protobuf", remote.Compress(nil, prompbtest.Marshal(t, req, nil)))
	if r.code != 400 || !strings.Contains(r.body, "4 of 6 samples rejected (out of order: 1, duplicate: 1, out of bounds: 0, too old: 0, too new: 0, invalid series: 2)") {
		t.Fatalf("got %d %s", r.code, r.body)
	}
	// The two valid samples were kept.
	got := get(t, srv.URL+q("/api/v1/query", "query", `x{inst="a",method="GET"} or y`, "time", "3660"))
	want := `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"x","inst":"a","method":"GET"},"value":[3660,"610"]}]}}`
	if got.body != want {
		t.Fatalf("after partial write: %s", got.body)
	}
	got = get(t, srv.URL+q("/api/v1/query", "query", `y`, "time", "1"))
	if !strings.Contains(got.body, `"value":[1,"1"]`) {
		t.Fatalf("new series: %s", got.body)
	}
}

func TestRemoteWriteJSON(t *testing.T) {
	srv, _ := newTestAPI(t, Options{})
	body := `{"timeseries":[{"labels":[{"name":"__name__","value":"cpu_usage"},{"name":"host","value":"server1"}],
	  "samples":[{"timestamp":1640000000000,"value":0.75},{"timestamp":1640000060000,"value":0.82}]}]}`
	if r := post(t, srv.URL+"/api/v1/write", "application/json", []byte(body)); r.code != 204 {
		t.Fatalf("%d %s", r.code, r.body)
	}
	got := get(t, srv.URL+q("/api/v1/query_range", "query", "cpu_usage", "start", "1640000000", "end", "1640000060", "step", "60"))
	want := `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"cpu_usage","host":"server1"},"values":[[1640000000,"0.75"],[1640000060,"0.82"]]}]}}`
	if got.body != want {
		t.Fatalf("%s", got.body)
	}
}

func TestRemoteWriteBadInput(t *testing.T) {
	srv, _ := newTestAPI(t, Options{MaxBodyBytes: 4096})
	good := prompbtest.Marshal(t, []prompbtest.Series{{Labels: [][2]string{{"__name__", "z"}}, Samples: [][2]float64{{1, 1}}}}, nil)
	huge := make([]byte, 10_000) // compresses small, decompresses over the limit
	for _, c := range []struct {
		name, ct string
		body     []byte
		code     int
	}{
		{"not snappy", "application/x-protobuf", []byte("hello, world"), 400},
		{"snappy of garbage protobuf", "application/x-protobuf", remote.Compress(nil, []byte{0x0a, 0x7f, 0x01}), 400},
		{"uncompressed protobuf", "application/x-protobuf", good, 400},
		{"decompresses too large", "application/x-protobuf", remote.Compress(nil, huge), 413},
		{"body too large", "application/x-protobuf", bytes.Repeat([]byte{1}, 5000), 413},
		{"wrong content type", "text/plain", remote.Compress(nil, good), 415},
		{"remote write 2.0", "application/x-protobuf;proto=io.prometheus.write.v2.Request", remote.Compress(nil, good), 415},
		{"bad json", "application/json", []byte(`{"timeseries":[{`), 400},
	} {
		r := post(t, srv.URL+"/api/v1/write", c.ct, c.body)
		if r.code != c.code {
			t.Errorf("%s: got %d %s, want %d", c.name, r.code, r.body, c.code)
		}
	}
	// Nothing of the rejected requests was stored, and the server still works.
	got := get(t, srv.URL+q("/api/v1/series", "match[]", "z"))
	if got.body != `{"status":"success","data":[]}` {
		t.Fatalf("after bad writes: %s", got.body)
	}
	if r := post(t, srv.URL+"/api/v1/write", "application/x-protobuf", remote.Compress(nil, good)); r.code != 204 {
		t.Fatalf("good write after bad ones: %d %s", r.code, r.body)
	}
}

func TestTextWrite(t *testing.T) {
	srv, _ := newTestAPI(t, Options{})
	body := "cpu_usage{host=\"server1\",region=\"us-east\"} 0.75 1703001600\n" +
		"cpu_usage{host=\"server1\",region=\"us-east\"} 0.82 1703001610\n" +
		"memory_usage{host=\"server1\"} 0.45 1703001600\n"
	r := post(t, srv.URL+"/write", "text/plain", []byte(body))
	if r.code != 200 || r.body != `{"status":"success","samples_written":3}` {
		t.Fatalf("%d %s", r.code, r.body)
	}
	// Line 2 is bad, line 4 is out of order: lines 1 and 3 are written.
	body = "disk{d=\"a\"} 1 1703001700\nnot a sample\n\ndisk{d=\"a\"} 2 1703001800\ncpu_usage{host=\"server1\",region=\"us-east\"} 0.5 1703001605\n"
	r = post(t, srv.URL+"/write", "text/plain", []byte(body))
	var resp textWriteResponse
	if err := json.Unmarshal([]byte(r.body), &resp); err != nil {
		t.Fatal(err)
	}
	if r.code != 400 || resp.SamplesWritten != 2 || !strings.HasPrefix(resp.Error, "line 2: column 5:") ||
		len(resp.Errors) != 2 || resp.Errors[1] != "line 5: out of order sample" {
		t.Fatalf("%d %s", r.code, r.body)
	}
	got := get(t, srv.URL+q("/api/v1/query_range", "query", "disk", "start", "1703001700", "end", "1703001800", "step", "100"))
	if !strings.Contains(got.body, `"values":[[1703001700,"1"],[1703001800,"2"]]`) {
		t.Fatalf("%s", got.body)
	}
	// Text lines without a timestamp get "now" (3600 on the test clock).
	if r := post(t, srv.URL+"/write", "text/plain", []byte("now_metric 42\n")); r.code != 200 {
		t.Fatal(r.body)
	}
	if got := get(t, srv.URL+q("/api/v1/query", "query", "now_metric", "time", "3600")); !strings.Contains(got.body, `"value":[3600,"42"]`) {
		t.Fatalf("%s", got.body)
	}
}

func TestAdminEndpoints(t *testing.T) {
	srv, db := newTestAPI(t, Options{EnableAdminAPI: true})
	// Delete x{inst="b"} in [0, 30m]: queries stop returning those samples.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+q("/api/v1/admin/tsdb/delete_series", "match[]", `x{inst="b"}`, "start", "0", "end", "1800"), nil)
	if r := do(t, req); r.code != 204 {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	got := get(t, srv.URL+q("/api/v1/query_range", "query", `x{inst="b"}`, "start", "1740", "end", "1860", "step", "60"))
	if !strings.Contains(got.body, `"values":[[1860,"155"]]`) {
		t.Fatalf("after delete: %s", got.body)
	}
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/api/v1/admin/tsdb/delete_series", nil)
	if r := do(t, req); r.code != 400 {
		t.Fatalf("delete without match[]: %d", r.code)
	}
	// Without Snapshot/Compact hooks the admin endpoints say so.
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/api/v1/admin/tsdb/snapshot", nil)
	if r := do(t, req); r.code != 503 {
		t.Fatalf("snapshot: %d", r.code)
	}
	_ = db
}

// TestRemoteWriteNativeHistograms: native histograms sent by remote write
// are stored and answered in Prometheus's JSON: an instant vector's
// "histogram", a matrix's "histograms" beside "values" for a series that
// changed kind, the buckets with their boundary rules worked out by hand
// from the format's definition.
func TestRemoteWriteNativeHistograms(t *testing.T) {
	// The clock stands at t=150 s, so that federation's look-back window
	// holds the samples.
	srv, _ := newClockedAPI(t, 150_000)

	// Schema 0 (boundaries at powers of two), zero threshold 0.001:
	// 3 observations in [-1,-0.5), 1 in the zero bucket, 1 in (0.5,1],
	// 2 in (1,2]; the counts double at each later sample.
	hist := func(k uint64) *histogram.Histogram {
		return &histogram.Histogram{Schema: 0, ZeroThreshold: 0.001, ZeroCount: k, Count: 7 * k, Sum: 4.5 * float64(k),
			PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{int64(k), int64(k)},
			NegativeSpans: []histogram.Span{{Offset: 0, Length: 1}}, NegativeBuckets: []int64{3 * int64(k)}}
	}
	body := remote.AppendWriteRequest(nil, []remote.Series{
		{Labels: model.MustFromStrings("__name__", "h", "job", "a"), Histograms: []remote.HistogramSample{
			{T: 1000, H: hist(1)}, {T: 61_000, H: hist(2)}, {T: 121_000, H: hist(4)}}},
		{Labels: model.MustFromStrings("__name__", "m"), Samples: []model.Sample{{T: 1000, V: 5}},
			Histograms: []remote.HistogramSample{{T: 61_000, FH: hist(1).ToFloat()}}},
	})
	if r := post(t, srv.URL+"/api/v1/write", "application/x-protobuf", remote.Compress(nil, body)); r.code != 204 {
		t.Fatalf("write: %d %s", r.code, r.body)
	}
	h1 := `{"count":"7","sum":"4.5","buckets":[[1,"-1","-0.5","3"],[3,"-0.001","0.001","1"],[0,"0.5","1","1"],[0,"1","2","2"]]}`
	h4 := `{"count":"28","sum":"18","buckets":[[1,"-1","-0.5","12"],[3,"-0.001","0.001","4"],[0,"0.5","1","4"],[0,"1","2","8"]]}`
	cases := []struct{ query, time, want string }{
		{`h`, "121", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"h","job":"a"},"histogram":[121,` + h4 + `]}]}}`},
		{`histogram_count(h)`, "121", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[121,"28"]}]}}`},
		{`m[2m]`, "61", `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"m"},"values":[[1,"5"]],"histograms":[[61,` + h1 + `]]}]}}`},
	}
	for _, c := range cases {
		if got := get(t, srv.URL+q("/api/v1/query", "query", c.query, "time", c.time)); got.body != c.want {
			t.Errorf("%s at %s:\n got %s\nwant %s", c.query, c.time, got.body, c.want)
		}
	}
	// Federation in the text format (no Accept header) has no form for
	// native histograms:
	// the series whose newest sample is one is left out, not written as 0.
	// A float sample within the window is there, as a control.
	body = remote.AppendWriteRequest(nil, []remote.Series{{Labels: model.MustFromStrings("__name__", "f"), Samples: []model.Sample{{T: 140_000, V: 3}}}})
	if r := post(t, srv.URL+"/api/v1/write", "application/x-protobuf", remote.Compress(nil, body)); r.code != 204 {
		t.Fatalf("write: %d %s", r.code, r.body)
	}
	if got := get(t, srv.URL+q("/federate", "match[]", `{__name__=~"h|m|f"}`)); got.code != 200 || !strings.Contains(got.body, `f{instance=""} 3 140000`) || strings.Contains(got.body, "h{") || strings.Contains(got.body, "m{") {
		t.Fatalf("federate: %d %q", got.code, got.body)
	}
	// A histogram the storage refuses (its spans cover 2 buckets, 1 given)
	// is counted like a refused sample.
	bad := hist(1)
	bad.PositiveBuckets = bad.PositiveBuckets[:1]
	body = remote.AppendWriteRequest(nil, []remote.Series{{Labels: model.MustFromStrings("__name__", "h", "job", "b"), Histograms: []remote.HistogramSample{{T: 1000, H: bad}}}})
	if r := post(t, srv.URL+"/api/v1/write", "application/x-protobuf", remote.Compress(nil, body)); r.code != 400 || !strings.Contains(r.body, "1 of 1 samples rejected") {
		t.Fatalf("invalid histogram: %d %s", r.code, r.body)
	}
}
