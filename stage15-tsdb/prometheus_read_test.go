package main

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// TestRealPrometheusRemoteRead points a real Prometheus's remote_read at
// the server's /api/v1/read: Prometheus stores nothing itself, so every
// answer it gives comes from series it read here, as streamed XOR chunks
// (its client asks for STREAMED_XOR_CHUNKS first). The same queries, at
// the same time, must answer the same from both.
//
// Native histograms are not among them: the Prometheus Debian packages
// (2.42) reads only floats by remote read. Prometheus 3's own client reads
// them from the same handler in compare/
// (TestRemoteReadHistogramsWithPrometheusClient).
func TestRealPrometheusRemoteRead(t *testing.T) {
	bin := prometheusBin(t)
	srv := startServer(t, t.TempDir())
	// 10 minutes of data, 15 s apart, ending a minute ago
	end := time.Now().Add(-time.Minute).UnixMilli()
	start := end - 10*60_000
	var series []remote.Series
	for i := range 3 {
		s := remote.Series{Labels: model.MustFromStrings("__name__", "rr_float", "host", fmt.Sprint("h", i))}
		for k := range 41 {
			s.Samples = append(s.Samples, model.Sample{T: start + int64(k)*15_000, V: float64(i*100) + float64(k)*1.5 + math.Sin(float64(k))})
		}
		series = append(series, s)
	}
	body := remote.Compress(nil, remote.AppendWriteRequest(nil, series))
	if code, msg := post(t, srv.url("/api/v1/write"), "application/x-protobuf", body); code/100 != 2 {
		t.Fatalf("remote write: %d %s", code, msg)
	}

	dir := t.TempDir()
	promAddr := freeAddr(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1h
remote_read:
  - url: http://%s/api/v1/read
    read_recent: true
`, srv.addr)
	promLog := startPrometheus(t, bin, dir, promAddr, cfg, "--enable-feature=native-histograms")
	waitFor(t, 30*time.Second, func() bool {
		resp, err := http.Get("http://" + promAddr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, func() string { return "Prometheus ready; its log:\n" + promLog() })

	// between two samples: Prometheus 2 and 3 differ on whether a range
	// includes a sample on its left edge
	ts := strconv.FormatFloat(float64(end-37_500)/1000, 'f', 3, 64)
	for _, q := range []string{
		`rr_float`,
		`rate(rr_float[2m])`,
		`rr_float offset 5m`,
		`sum by (host) (max_over_time(rr_float[5m]))`,
	} {
		var ours, theirs rawResult
		getJSON(t, srv.url("/api/v1/query", "query", q, "time", ts), &ours)
		getJSON(t, "http://"+promAddr+"/api/v1/query?"+queryValues("query", q, "time", ts), &theirs)
		if ours.Status != "success" || theirs.Status != "success" {
			t.Fatalf("%s: status %q (ours) vs %q (Prometheus); Prometheus log:\n%s", q, ours.Status, theirs.Status, promLog())
		}
		if len(ours.Data.Result) == 0 {
			t.Errorf("%s: no result here, the comparison proves nothing", q)
		}
		if o, p := ours.sorted(), theirs.sorted(); o != p {
			t.Errorf("%s at %s:\n ours       %s\n Prometheus %s", q, ts, o, p)
		}
	}
}
