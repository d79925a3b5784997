package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestRealPrometheus points a real Prometheus at the server: it scrapes
// itself every second and remote-writes everything here. Then the same
// queries, at the same evaluation time, must give the same answers from
// Prometheus's own storage and from ours: the write path (snappy, protobuf,
// labels, timestamps, staleness markers) and the query path agree with the
// reference implementation, sample for sample.
//
// It needs the prometheus binary (Debian's package; .ci/run installs it) and
// skips without it.
func TestRealPrometheus(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("no prometheus binary on PATH (apt-get install prometheus)")
	}
	srv := startServer(t, t.TempDir())

	promAddr := freeAddr(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ['%s']
remote_write:
  - url: http://%s/api/v1/write
    queue_config:
      batch_send_deadline: 500ms
`, promAddr, srv.addr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--web.listen-address="+promAddr, "--storage.tsdb.path="+filepath.Join(dir, "data"))
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	prom.Stdout, prom.Stderr = logf, logf
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = prom.Process.Kill(); _, _ = prom.Process.Wait() }()

	// Wait until our server has received a few scrapes of Prometheus's own
	// metrics (bounded: 60 s).
	deadline := time.Now().Add(60 * time.Second)
	for {
		var r vectorResult
		getJSON(t, srv.url("/api/v1/query", "query", `count_over_time(up{job="self"}[1m])`), &r)
		if len(r.Data.Result) == 1 {
			if n, _ := strconv.Atoi(fmt.Sprint(r.Data.Result[0].Value[1])); n >= 5 {
				break
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Fatalf("no remote-written scrapes after 60 s; prometheus log:\n%s\nserver log:\n%s", b, srv.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Evaluate a few seconds in the past, so that every sample at or before
	// that time has been sent (the queue flushes every 500 ms).
	at := time.Now().Add(-3 * time.Second)
	time.Sleep(2 * time.Second)
	ts := strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)

	for _, q := range []string{
		`up{job="self"}`,
		`count({job="self"})`,
		`sum by (job) (scrape_samples_scraped)`,
		`prometheus_build_info`,
		`sum(rate(process_cpu_seconds_total[10s]))`,
		`scrape_duration_seconds`,
	} {
		var ours, theirs vectorResult
		getJSON(t, srv.url("/api/v1/query", "query", q, "time", ts), &ours)
		getJSON(t, "http://"+promAddr+"/api/v1/query?"+queryValues("query", q, "time", ts), &theirs)
		if ours.Status != "success" || theirs.Status != "success" {
			t.Fatalf("%s: status %q (ours) vs %q (Prometheus)", q, ours.Status, theirs.Status)
		}
		if fmt.Sprint(ours.Data.Result) != fmt.Sprint(theirs.Data.Result) {
			t.Errorf("%s at %s:\n ours       %v\n Prometheus %v", q, ts, ours.Data.Result, theirs.Data.Result)
		}
		if len(theirs.Data.Result) == 0 {
			t.Errorf("%s: Prometheus has no result, the comparison proves nothing", q)
		}
	}

	// The same over a range: every step of every series.
	start := strconv.FormatFloat(float64(at.Add(-8*time.Second).UnixMilli())/1000, 'f', 3, 64)
	q := `rate(process_cpu_seconds_total[5s])`
	var ours, theirs matrixResult
	getJSON(t, srv.url("/api/v1/query_range", "query", q, "start", start, "end", ts, "step", "1"), &ours)
	getJSON(t, "http://"+promAddr+"/api/v1/query_range?"+queryValues("query", q, "start", start, "end", ts, "step", "1"), &theirs)
	if len(theirs.Data.Result) == 0 || fmt.Sprint(ours.Data.Result) != fmt.Sprint(theirs.Data.Result) {
		t.Errorf("range %s:\n ours       %v\n Prometheus %v", q, ours.Data.Result, theirs.Data.Result)
	}
}

// vectorResult decodes an instant query answer whose result is a vector.
type vectorResult struct {
	Status string
	Data   struct {
		Result []struct {
			Metric map[string]string
			Value  [2]any
		}
	}
}

func queryValues(kv ...string) string {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

// freeAddr returns a free 127.0.0.1 port for a child process to listen on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
