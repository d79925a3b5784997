package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TestRealPrometheusNativeHistograms has a real Prometheus scrape a native
// histogram (client_golang's, served in the protobuf exposition format
// that carries its sparse buckets) and remote-write it here with
// send_native_histograms. Then the same queries over it, at the same
// evaluation time, must answer the same from both: the raw histograms
// (every bucket), a rate of them, their count, sum and a fraction.
//
// Two things are left out because the Prometheus that Debian packages
// (2.42) is not Prometheus 3: histogram_quantile (3.x interpolates inside
// exponential buckets differently; quantiles are held against Prometheus
// 3's own engine and test corpus in compare/), and the last digit of some
// bucket bounds (Prometheus's table of bounds is one unit in the last
// place off 2^(k/2^schema) for a few of them; stage01 computes them
// correctly rounded): bounds are compared to 13 significant digits.
func TestRealPrometheusNativeHistograms(t *testing.T) {
	bin := prometheusBin(t)
	// The scrape target: one native histogram, observed on every scrape
	// (so that rates move), with values spread over both signs and the
	// zero bucket. Only Prometheus reads it, so what it sends here and
	// what it keeps are the same observations.
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "test_latency_seconds", Help: "test",
		NativeHistogramBucketFactor: 1.1, NativeHistogramZeroThreshold: 0.001})
	reg.MustRegister(h)
	var mu sync.Mutex
	n := 0
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		for _, v := range []float64{0.0005, 0.02, 0.3, 1.7, -0.4} {
			h.Observe(v * float64(1+n%3))
		}
		n++
		mu.Unlock()
		metrics.ServeHTTP(w, r)
	}))
	defer target.Close()

	dir := t.TempDir()
	srv := startServer(t, t.TempDir())
	promAddr := freeAddr(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: hist
    static_configs:
      - targets: ['%s']
remote_write:
  - url: http://%s/api/v1/write
    send_native_histograms: true
    queue_config:
      batch_send_deadline: 500ms
`, strings.TrimPrefix(target.URL, "http://"), srv.addr)
	promLog := startPrometheus(t, bin, dir, promAddr, cfg, "--enable-feature=native-histograms")

	// Wait for five histograms here, then evaluate two seconds in the
	// past once a histogram newer than that has arrived (the queue sends a
	// series' samples in order).
	scalar := func(q string) float64 {
		var r rawResult
		getJSON(t, srv.url("/api/v1/query", "query", q), &r)
		if len(r.Data.Result) != 1 {
			return 0
		}
		var v [2]any
		_ = json.Unmarshal(r.Data.Result[0]["value"], &v)
		f, _ := strconv.ParseFloat(fmt.Sprint(v[1]), 64)
		return f
	}
	waitFor(t, 60*time.Second, func() bool { return scalar(`count_over_time(test_latency_seconds[1m])`) >= 5 },
		func() string {
			return "five remote-written histograms; prometheus log:\n" + promLog() + "\nserver log:\n" + srv.logs()
		})
	at := time.Now().Add(-2 * time.Second)
	ts := strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)
	waitFor(t, 30*time.Second, func() bool { return scalar(`timestamp(test_latency_seconds)`) > float64(at.UnixMilli())/1000 },
		func() string { return "a histogram newer than " + ts })

	for _, q := range []string{
		`test_latency_seconds`,
		`rate(test_latency_seconds[5s])`,
		`histogram_count(test_latency_seconds)`,
		`histogram_sum(test_latency_seconds)`,
		`histogram_count(rate(test_latency_seconds[5s]))`,
		`histogram_fraction(0, 0.5, test_latency_seconds)`,
	} {
		var ours, theirs rawResult
		getJSON(t, srv.url("/api/v1/query", "query", q, "time", ts), &ours)
		getJSON(t, "http://"+promAddr+"/api/v1/query?"+queryValues("query", q, "time", ts), &theirs)
		if ours.Status != "success" || theirs.Status != "success" {
			t.Fatalf("%s: status %q (ours) vs %q (Prometheus)", q, ours.Status, theirs.Status)
		}
		if len(theirs.Data.Result) == 0 {
			t.Errorf("%s: Prometheus has no result, the comparison proves nothing", q)
		}
		if o, p := ours.sorted(), theirs.sorted(); o != p {
			t.Errorf("%s at %s:\n ours       %s\n Prometheus %s", q, ts, o, p)
		}
	}
}

// rawResult keeps each result element's JSON as written, so that every
// member (value, histogram, its buckets) is compared.
type rawResult struct {
	Status string
	Data   struct {
		Result []map[string]json.RawMessage
	}
}

// sorted prints the elements in a fixed order, each re-encoded with sorted
// keys and its histograms' bucket bounds to 13 significant digits.
func (r rawResult) sorted() string {
	var out []string
	for _, e := range r.Data.Result {
		if h, ok := e["histogram"]; ok {
			var p [2]struct {
				T float64
				H map[string]any
			}
			var pair []json.RawMessage
			_ = json.Unmarshal(h, &pair)
			if len(pair) == 2 {
				_ = json.Unmarshal(pair[0], &p[0].T)
				_ = json.Unmarshal(pair[1], &p[1].H)
				if bs, ok := p[1].H["buckets"].([]any); ok {
					for _, b := range bs {
						if b, ok := b.([]any); ok && len(b) == 4 {
							for i := 1; i <= 2; i++ {
								f, _ := strconv.ParseFloat(fmt.Sprint(b[i]), 64)
								b[i] = strconv.FormatFloat(f, 'g', 13, 64)
							}
						}
					}
				}
				e["histogram"], _ = json.Marshal([]any{p[0].T, p[1].H})
			}
		}
		var v any
		b, _ := json.Marshal(e)
		_ = json.Unmarshal(b, &v)
		b, _ = json.Marshal(v)
		out = append(out, string(b))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
