package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql"
)

// TestRealPrometheus points a real Prometheus at the server: it scrapes
// itself every second and remote-writes everything here. Then the same
// queries, at the same evaluation time, must give the same answers from
// Prometheus's own storage and from ours: the write path (snappy, protobuf,
// labels, timestamps, staleness markers) and the query path agree with the
// reference implementation, sample for sample.
//
// The same Prometheus also federates from the server: it scrapes
// /federate (match[] on series written here, the server's external
// labels added) once with honor_labels: true, which keeps the series' own
// job and instance, and once without, which renames them exported_job and
// exported_instance; what it stores must be those series with those labels,
// values and timestamps.
//
// It needs the prometheus binary (Debian's package; .ci/run installs it) and
// skips without it (fails under CI=true).
func TestRealPrometheus(t *testing.T) {
	bin := prometheusBin(t)
	dir := t.TempDir()
	srvCfg := filepath.Join(dir, "tsdb.yml")
	if err := os.WriteFile(srvCfg, []byte("external_labels:\n  cluster: eu-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, t.TempDir(), "--config", srvCfg)
	// Series to federate, stamped now (the server's clock).
	wrote := time.Now()
	if code, body := post(t, srv.url("/write"), "text/plain", []byte("fed_metric{job=\"app\",instance=\"x:1\"} 42\nfed_other{job=\"app\"} 7\n")); code != 200 {
		t.Fatalf("write: %d %s", code, body)
	}

	promAddr := freeAddr(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ['%[1]s']
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    params:
      'match[]': ['{job="app"}']
    static_configs:
      - targets: ['%[2]s']
  - job_name: federate_nohonor
    metrics_path: /federate
    params:
      'match[]': ['fed_metric']
    static_configs:
      - targets: ['%[2]s']
remote_write:
  - url: http://%[2]s/api/v1/write
    queue_config:
      batch_send_deadline: 500ms
    write_relabel_configs:
      - source_labels: [job, exported_job]
        regex: 'app;|federate_nohonor;app'
        action: drop
`, promAddr, srv.addr)
	promLog := startPrometheus(t, bin, dir, promAddr, cfg)
	// Wait until our server has received a few scrapes of Prometheus's own
	// metrics.
	waitFor(t, 60*time.Second, func() bool {
		var r vectorResult
		getJSON(t, srv.url("/api/v1/query", "query", `count_over_time(up{job="self"}[1m])`), &r)
		if len(r.Data.Result) != 1 {
			return false
		}
		n, _ := strconv.Atoi(fmt.Sprint(r.Data.Result[0].Value[1]))
		return n >= 5
	}, func() string {
		return "remote-written scrapes; prometheus log:\n" + promLog() + "\nserver log:\n" + srv.logs()
	})
	// Evaluate in the past, once every series of the scrapes has a sample
	// after that time here: everything up to it has been sent (the queue
	// sends each series' samples in order).
	at := time.Now().Add(-2 * time.Second)
	ts := strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)
	var behind []string
	waitFor(t, 30*time.Second, func() bool {
		var all vectorResult
		var recent matrixResult
		getJSON(t, srv.url("/api/v1/query", "query", `{job="self"}`), &all)
		getJSON(t, srv.url("/api/v1/query", "query", `{job="self"}[30s]`), &recent)
		last := map[string]float64{}
		for _, r := range recent.Data.Result {
			if n := len(r.Values); n > 0 {
				last[fmt.Sprint(r.Metric)], _ = strconv.ParseFloat(fmt.Sprint(r.Values[n-1][0]), 64)
			}
		}
		behind = behind[:0]
		for _, r := range all.Data.Result {
			if last[fmt.Sprint(r.Metric)]*1000 <= float64(at.UnixMilli()) {
				behind = append(behind, fmt.Sprint(r.Metric))
			}
		}
		return len(all.Data.Result) > 0 && len(behind) == 0
	}, func() string { return fmt.Sprintf("every scraped series past %s; behind: %v", ts, behind) })

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
		// Prometheus leaves an aggregation's result unsorted: compare sets.
		if sortedResult(ours) != sortedResult(theirs) {
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

	// Federation: what Prometheus stored from /federate, at the time written.
	wts := strconv.FormatFloat(float64(wrote.Add(time.Second).UnixMilli())/1000, 'f', 3, 64)
	want := map[string]string{
		`fed_metric{cluster="eu-1", instance="x:1", job="app"}`: "42",
		`fed_other{cluster="eu-1", job="app"}`:                  "7",
		`fed_metric{cluster="eu-1", exported_instance="x:1", exported_job="app", instance="` + srv.addr + `", job="federate_nohonor"}`: "42",
	}
	var fed vectorResult
	waitFor(t, 30*time.Second, func() bool {
		fed = vectorResult{}
		getJSON(t, "http://"+promAddr+"/api/v1/query?"+queryValues("query", `{__name__=~"fed_.*"}`, "time", wts), &fed)
		return len(fed.Data.Result) >= len(want)
	}, func() string {
		return fmt.Sprintf("federated series in Prometheus, have %v; log:\n%s", fed.Data.Result, promLog())
	})
	got := map[string]string{}
	for _, r := range fed.Data.Result {
		got[promql.MetricString(mustLabels(t, r.Metric))] = fmt.Sprint(r.Value[1])
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("federated into Prometheus:\n got %v\nwant %v", got, want)
	}
}

// sortedResult prints a vector's samples in a fixed order.
func sortedResult(r vectorResult) string {
	var out []string
	for _, s := range r.Data.Result {
		out = append(out, fmt.Sprint(s))
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// waitFor polls cond every 100 ms until it holds, failing the test after
// timeout with what() said.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not reached after %v: %s", timeout, what())
		}
		<-tick.C
	}
}

func mustLabels(t *testing.T, m map[string]string) model.Labels {
	t.Helper()
	var kv []string
	for k, v := range m {
		kv = append(kv, k, v)
	}
	l, err := model.FromStrings(kv...)
	if err != nil {
		t.Fatal(err)
	}
	return l
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

// post sends body to u and returns the status and the answer.
func post(t *testing.T, u, ct string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(u, ct, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// prometheusBin is the prometheus binary on PATH; a test without one skips,
// or fails under CI=true (where .ci/run installs it).
func prometheusBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no prometheus binary on PATH (apt-get install prometheus)")
		}
		t.Skip("no prometheus binary on PATH (apt-get install prometheus)")
	}
	return bin
}

// startPrometheus runs a real Prometheus with cfg (its prometheus.yml) on
// addr, its data and log in dir, extra flags after the usual ones; it is
// killed, by its PID, when the test ends. It returns its log's reader.
func startPrometheus(t *testing.T, bin, dir, addr, cfg string, extra ...string) (log func() string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--config.file=" + filepath.Join(dir, "prometheus.yml"),
		"--web.listen-address=" + addr, "--storage.tsdb.path=" + filepath.Join(dir, "data")}, extra...)
	prom := exec.Command(bin, args...)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	prom.Stdout, prom.Stderr = logf, logf
	if err := prom.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prom.Process.Kill(); _, _ = prom.Process.Wait(); logf.Close() })
	return func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
		return string(b)
	}
}
