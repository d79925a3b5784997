package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// TestRealPrometheusFederatesNativeHistograms has a real Prometheus (with
// native histograms on, so that it asks for the protobuf exposition)
// scrape /federate for two native histogram series remote-written here,
// one integer and one float, and checks that it stored what it was given:
// the same queries at the same time answer the same from both, the raw
// histograms bucket by bucket and their histogram_count and
// histogram_sum. Were the histograms left out or flattened to floats,
// Prometheus would have no result (checked) or other values.
func TestRealPrometheusFederatesNativeHistograms(t *testing.T) {
	bin := prometheusBin(t)
	srv := startServer(t, t.TempDir())
	// Schema 1 with a gap between positive spans, negative buckets and a
	// zero bucket; the float one with fractional counts.
	ih := &histogram.Histogram{Schema: 1, ZeroThreshold: 0.001, ZeroCount: 2, Count: 19, Sum: 12.25,
		PositiveSpans: []histogram.Span{{Offset: -1, Length: 2}, {Offset: 3, Length: 1}}, PositiveBuckets: []int64{3, 2, -4},
		NegativeSpans: []histogram.Span{{Offset: 1, Length: 1}}, NegativeBuckets: []int64{5}}
	fh := &histogram.FloatHistogram{Schema: -1, ZeroThreshold: 0.01, ZeroCount: 0.5, Count: 4.75, Sum: 30.5,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 3}}, PositiveBuckets: []float64{1.25, 0, 3}}
	wrote := time.Now()
	body := remote.AppendWriteRequest(nil, []remote.Series{
		{Labels: model.MustFromStrings("__name__", "fed_hist", "job", "app", "instance", "x:1"),
			Histograms: []remote.HistogramSample{{T: wrote.UnixMilli(), H: ih}}},
		{Labels: model.MustFromStrings("__name__", "fed_fhist", "job", "app", "instance", "x:2"),
			Histograms: []remote.HistogramSample{{T: wrote.UnixMilli(), FH: fh}}},
	})
	req, _ := http.NewRequest(http.MethodPost, srv.url("/api/v1/write"), bytes.NewReader(remote.Compress(nil, body)))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("remote write: %d", resp.StatusCode)
	}

	dir := t.TempDir()
	promAddr := freeAddr(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': ['{__name__=~"fed_.*"}']
    static_configs:
      - targets: ['%s']
`, srv.addr)
	promLog := startPrometheus(t, bin, dir, promAddr, cfg, "--enable-feature=native-histograms")

	ts := strconv.FormatFloat(float64(wrote.Add(time.Second).UnixMilli())/1000, 'f', 3, 64)
	sel := `{__name__=~"fed_.*"}`
	waitFor(t, 30*time.Second, func() bool {
		resp, err := http.Get("http://" + promAddr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, func() string { return "Prometheus ready; log:\n" + promLog() })
	var have rawResult
	waitFor(t, 30*time.Second, func() bool {
		have = rawResult{}
		getJSON(t, "http://"+promAddr+"/api/v1/query?"+queryValues("query", sel, "time", ts), &have)
		return len(have.Data.Result) == 2
	}, func() string {
		return fmt.Sprintf("two federated histogram series in Prometheus, have %v; log:\n%s", have.Data.Result, promLog())
	})
	for _, q := range []string{sel, `histogram_count(` + sel + `)`, `histogram_sum(` + sel + `)`} {
		var ours, theirs rawResult
		getJSON(t, srv.url("/api/v1/query", "query", q, "time", ts), &ours)
		getJSON(t, "http://"+promAddr+"/api/v1/query?"+queryValues("query", q, "time", ts), &theirs)
		if ours.Status != "success" || theirs.Status != "success" {
			t.Fatalf("%s: status %q (ours) vs %q (Prometheus)", q, ours.Status, theirs.Status)
		}
		if len(theirs.Data.Result) != 2 {
			t.Errorf("%s: Prometheus has %d results, want 2", q, len(theirs.Data.Result))
		}
		if o, p := ours.sorted(), theirs.sorted(); o != p {
			t.Errorf("%s at %s:\n ours       %s\n Prometheus %s", q, ts, o, p)
		}
	}
}
