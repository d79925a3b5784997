package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage15-tsdb/client"
	"github.com/tsdb-course/stage15-tsdb/config"
	"github.com/tsdb-course/stage15-tsdb/loadgen"
	"github.com/tsdb-course/stage15-tsdb/server"
)

// inProcess runs server.New on 127.0.0.1 over dir until the test ends.
func inProcess(t testing.TB, dir string, sync string) (*server.Server, *client.Client) {
	t.Helper()
	cfg := config.Default()
	cfg.Listen, cfg.DataDir, cfg.Retention = "127.0.0.1:0", dir, 0
	cfg.Web.EnableAdminAPI = true
	if sync != "" {
		cfg.Write.WALSync = sync
	}
	s, err := server.New(cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	c, err := client.New(s.Addr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return cli.Capture(run, args...)
}

// Milestone 1: all components integrate. Data goes in through every
// front end (remote write by the client package, the CLI's write, text
// /write, an InfluxDB line-protocol import), is cut into blocks by
// compaction, and PromQL over blocks + head answers what a hand
// computation says; a snapshot served by a second server answers the same.
func TestMilestone1_ComponentsIntegrate(t *testing.T) {
	dir := t.TempDir()
	s, c := inProcess(t, dir, "")
	ctx := context.Background()
	addr := "--addr=" + s.Addr()
	const t0 = 1_704_067_200_000 // 2024-01-01T00:00Z
	// Remote write: 4 counters over 5 h, 1 sample a minute; series j
	// grows by j+1 per second.
	var series []remote.Series
	for j := range 4 {
		sr := remote.Series{Labels: model.MustFromStrings("__name__", "http_requests_total", "method", []string{"GET", "POST"}[j%2], "pod", fmt.Sprint(j))}
		for k := range int64(300) {
			sr.Samples = append(sr.Samples, model.Sample{T: t0 + k*60_000, V: float64(k*60) * float64(j+1)})
		}
		series = append(series, sr)
	}
	if err := c.Write(ctx, series); err != nil {
		t.Fatal(err)
	}
	// The CLI's write and the guide's text endpoint.
	if out, errs, code := runCLI(t, "write", addr, `cpu_usage{host="server1",region="us-east"} 0.75 1704067200`, `cpu_usage{host="server1",region="us-east"} 0.82 1704067210`); code != 0 {
		t.Fatalf("write: %s %s", out, errs)
	}
	resp, err := http.Post("http://"+s.Addr()+"/write", "text/plain", strings.NewReader(`memory_usage{host="server1"} 0.45 1704067200`+"\n"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/write: %v %v", resp, err)
	}
	resp.Body.Close()
	// An InfluxDB line-protocol import, gzipped.
	var lp bytes.Buffer
	zw := gzip.NewWriter(&lp)
	for k := range 100 {
		fmt.Fprintf(zw, "disk,host=h%d used=%di,free=%d %d\n", k%2, k, 100-k, (t0+int64(k)*10_000)*1e6)
	}
	zw.Close()
	file := filepath.Join(t.TempDir(), "disk.influx.gz")
	if err := os.WriteFile(file, lp.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := runCLI(t, "import", addr, "--file", file); code != 0 || !strings.Contains(out, "imported 200 samples from 100 lines") {
		t.Fatalf("import: %d %s %s", code, out, errs)
	}
	// Compaction cuts the head: 5 h of data, blocks of 2 h. The CLI
	// follows the job to its end and lists every block written.
	out, errs, code := runCLI(t, "compact", addr, "--poll=20ms")
	if code != 0 || strings.Count(out, "head → block") == 0 {
		t.Fatalf("compact: %d %s %s", code, out, errs)
	}
	bl, err := c.Blocks(ctx)
	if err != nil || len(bl.Blocks) != strings.Count(out, "head → block") {
		t.Fatalf("blocks: %+v %v; the CLI said:\n%s", bl, err, out)
	}
	for _, b := range bl.Blocks {
		if !strings.Contains(out, b.ULID) {
			t.Fatalf("block %s not listed by compact:\n%s", b.ULID, out)
		}
	}
	check := func(c *client.Client) {
		t.Helper()
		// rate over a window that spans the first block and the head.
		at := time.UnixMilli(t0 + 4*3600_000)
		res, err := c.Query(ctx, `sum by (method) (rate(http_requests_total[10m]))`, at)
		if err != nil || len(res.Vector) != 2 {
			t.Fatalf("rate: %+v %v", res, err)
		}
		for _, smp := range res.Vector { // GET: pods 0, 2 → 1+3; POST: 2+4
			want := map[string]float64{"GET": 4, "POST": 6}[smp.Metric.Get("method")]
			if math.Abs(smp.V-want) > 1e-9 {
				t.Errorf("rate %v = %v, want %v", smp.Metric, smp.V, want)
			}
		}
		// Every sample of 5 h is there, across blocks and head.
		res, err = c.Query(ctx, `count_over_time(http_requests_total[6h])`, time.UnixMilli(t0+5*3600_000))
		if err != nil || len(res.Vector) != 4 || res.Vector[0].V != 300 {
			t.Fatalf("count_over_time: %+v %v", res, err)
		}
		res, err = c.Query(ctx, `sum(disk_used) + sum(disk_free)`, time.UnixMilli(t0+990_000))
		if err != nil || len(res.Vector) != 1 || res.Vector[0].V != 200 { // the newest line of each host: k=98 (h0) and 99 (h1); used+free = 100 each
			t.Fatalf("influx data: %+v %v", res, err)
		}
		res, err = c.Query(ctx, `cpu_usage + on(host) group_left memory_usage`, time.UnixMilli(t0+10_000))
		if err != nil || len(res.Vector) != 1 || math.Abs(res.Vector[0].V-1.27) > 1e-9 {
			t.Fatalf("text-written data: %+v %v", res, err)
		}
	}
	check(c)
	// A snapshot is a data directory: a second server on it answers alike.
	name, err := c.Snapshot(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	_, c2 := inProcess(t, filepath.Join(dir, "snapshots", name), "")
	check(c2)
}

// ingestCPU is the CPU time per sample of ingesting n samples over the
// given series count through remote write, in this process (server and
// senders both).
func ingestCPU(t *testing.T, series, n int) time.Duration {
	_, c := inProcess(t, t.TempDir(), "none")
	load := loadgen.Build(loadgen.Spec{Series: series, Batch: 1000, Senders: 2, Samples: n, Seed: 3})
	c0 := measure.CPUTime()
	res := loadgen.Run(context.Background(), c, load, nil)
	cpu := measure.CPUTime() - c0
	if res.Failed > 0 || res.Samples != load.Samples {
		t.Fatalf("%d failed requests (%v), %d of %d samples", res.Failed, res.FirstErr, res.Samples, load.Samples)
	}
	return cpu / time.Duration(res.Samples)
}

// Milestone 2: performance. The figures (samples/s, latency, CPU per
// sample, query times) are in the benchmarks; what any machine must show
// is that ingestion does not slow down as the series count grows: the CPU
// per sample with 10× the series stays within 2.5× (CPU time, not wall
// time, so other jobs on the machine do not move it).
func TestMilestone2_IngestionCostFlatInSeries(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests 1.2M samples")
	}
	small := ingestCPU(t, 1_000, 400_000)
	large := ingestCPU(t, 10_000, 400_000)
	t.Logf("CPU per sample: %v with 1,000 series, %v with 10,000", small, large)
	if large > small*5/2 {
		t.Errorf("CPU per sample grew from %v to %v with 10× the series", small, large)
	}
}

// Milestone 3: failure scenarios are handled: a SIGKILL loses no
// acknowledged sample, SIGTERM shuts down cleanly, bad input on every
// endpoint is refused without harm (the e2e tests, with real processes);
// a client facing a server that is down fails promptly with a clear
// error, and one facing a server still replaying its WAL (503) retries
// until it is ready.
func TestMilestone3_FailureScenarios(t *testing.T) {
	t.Run("Kill9", TestKill9)
	t.Run("GracefulShutdown", TestGracefulShutdown)
	t.Run("BadInputEveryEndpoint", TestBadInputEveryEndpoint)
	t.Run("ServerDown", func(t *testing.T) {
		_, c := inProcess(t, t.TempDir(), "")
		addr := c.Addr()
		// A port that was just free: nothing listens there.
		down, err := client.New(strings.Replace(addr, "127.0.0.1", "127.0.0.2", 1), client.Options{MaxRetries: 2, MinBackoff: time.Millisecond, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = down.Query(context.Background(), "up", time.Time{})
		if err == nil || time.Since(start) > 5*time.Second {
			t.Fatalf("query to a server that is down: %v after %v", err, time.Since(start))
		}
		if _, errs, code := runCLI(t, "query", "up", "--addr", down.Addr(), "--timeout", "2s"); code != 1 || !strings.HasPrefix(errs, "error: ") || strings.Count(errs, "\n") != 1 {
			t.Errorf("CLI against a server that is down: exit %d, stderr %q", code, errs)
		}
	})
	t.Run("RetryUntilReady", func(t *testing.T) {
		dir := t.TempDir()
		s, c := inProcess(t, dir, "")
		var big []remote.Series
		for j := range 2000 {
			sr := remote.Series{Labels: model.MustFromStrings("__name__", "m", "j", fmt.Sprint(j))}
			for k := range int64(100) {
				sr.Samples = append(sr.Samples, model.Sample{T: k * 1000, V: float64(k)})
			}
			big = append(big, sr)
		}
		if err := c.Write(context.Background(), big); err != nil {
			t.Fatal(err)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Restart: the client may arrive during the WAL replay (503) and
		// must retry until the data is served.
		cfg := config.Default()
		cfg.Listen, cfg.DataDir = "127.0.0.1:0", dir
		s2, err := server.New(cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := s2.Start(); err != nil {
			t.Fatal(err)
		}
		defer s2.Shutdown(context.Background())
		c2, _ := client.New(s2.Addr(), client.Options{MaxRetries: 600, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}) // up to ~30 s: a loaded machine under -race replays slowly
		res, err := c2.Query(context.Background(), "count(m)", time.UnixMilli(99_000))
		if err != nil || len(res.Vector) != 1 || res.Vector[0].V != 2000 {
			t.Fatalf("after restart: %+v %v", res, err)
		}
	})
}

// metricValue reads one sample line of the /metrics text.
func metricValue(t *testing.T, text, series string) float64 {
	t.Helper()
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", series)
	return 0
}

// Milestone 4: self-monitoring. /metrics and /admin/status count exactly
// what was done: samples ingested and rejected, queries, head series,
// HTTP requests by handler and code; the server can scrape itself (its
// own metrics, written back, are queryable).
func TestMilestone4_SelfMonitoring(t *testing.T) {
	s, c := inProcess(t, t.TempDir(), "")
	ctx := context.Background()
	var ss []remote.Series
	for j := range 30 {
		sr := remote.Series{Labels: model.MustFromStrings("__name__", "g", "j", fmt.Sprint(j))}
		for k := range int64(10) {
			sr.Samples = append(sr.Samples, model.Sample{T: 1000 + k*1000, V: 1})
		}
		ss = append(ss, sr)
	}
	if err := c.Write(ctx, ss); err != nil { // 300 samples, one request
		t.Fatal(err)
	}
	// 2 duplicates (the series' newest timestamp, other values): refused,
	// counted. (Out-of-order samples are accepted on the default
	// configuration: its window is a century.)
	err := c.Write(ctx, []remote.Series{{Labels: model.MustFromStrings("__name__", "g", "j", "0"), Samples: []model.Sample{{T: 10000, V: 2}, {T: 10000, V: 3}}}})
	if !client.IsStatus(err, 400) {
		t.Fatalf("duplicate write: %v", err)
	}
	for range 3 {
		if _, err := c.Query(ctx, "sum(g)", time.UnixMilli(5000)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.QueryRange(ctx, "sum(g)", time.UnixMilli(1000), time.UnixMilli(9000), time.Second); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for series, want := range map[string]float64{
		"tsdb_ingested_samples_total":                                     300,
		`tsdb_rejected_samples_total{reason="duplicate"}`:                 2,
		`tsdb_queries_total{type="instant"}`:                              3,
		`tsdb_queries_total{type="range"}`:                                1,
		"tsdb_head_series":                                                30,
		`tsdb_http_requests_total{code="204",handler="remote_write"}`:     1,
		`tsdb_http_requests_total{code="400",handler="remote_write"}`:     1,
		`tsdb_http_requests_total{code="200",handler="query"}`:            3,
		`tsdb_http_requests_total{code="200",handler="query_range"}`:      1,
		`tsdb_query_duration_seconds_count{type="instant"}`:               3,
		`tsdb_http_request_duration_seconds_count{handler="query"}`:       3,
		`tsdb_http_request_duration_seconds_count{handler="query_range"}`: 1,
	} {
		if got := metricValue(t, text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	st, err := c.Status(ctx)
	if err != nil || st.Storage.TotalSeries != 30 || st.Storage.TotalSamples != 300 || st.Ingestion.ActiveSeries != 30 {
		t.Fatalf("/admin/status: %+v %v", st, err)
	}
	// Scrape itself: parse /metrics as text lines and write them back.
	var lines []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(line, "tsdb_ingested_samples_total ") {
			lines = append(lines, line+" 100")
		}
	}
	if out, errs, code := runCLI(t, "write", "--addr", s.Addr(), strings.Join(lines, "\n")); code != 0 {
		t.Fatalf("self-scrape: %s %s", out, errs)
	}
	res, err := c.Query(ctx, "tsdb_ingested_samples_total", time.Unix(100, 0))
	if err != nil || len(res.Vector) != 1 || res.Vector[0].V != 300 {
		t.Fatalf("self-scraped metric: %+v %v", res, err)
	}
}

// Milestone 5: documentation. The README documents every subcommand of
// the usage text and every endpoint the API registers, and says how to
// point Prometheus (remote_write) and Grafana at the server; every
// subcommand answers -h.
func TestMilestone5_Documentation(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(readme)
	for _, cmd := range []string{"start", "write", "query", "inspect", "import", "compact", "snapshot", "bench-write", "repair"} {
		if !strings.Contains(usageText, "stage15-tsdb "+cmd) {
			t.Errorf("usage lacks %s", cmd)
		}
		if !strings.Contains(doc, "stage15-tsdb "+cmd) {
			t.Errorf("README shows no `stage15-tsdb %s` command", cmd)
		}
		if out, errs, code := runCLI(t, cmd, "-h"); code != 0 || !strings.Contains(out+errs, "usage: stage15-tsdb "+cmd) {
			t.Errorf("%s -h: exit %d, %q", cmd, code, out+errs)
		}
	}
	for _, ep := range []string{"/api/v1/query", "/api/v1/query_range", "/query", "/query_range", "/api/v1/format_query", "/api/v1/parse_query",
		"/api/v1/series", "/api/v1/labels", "/api/v1/label/<name>/values", "/api/v1/metadata", "/api/v1/query_exemplars",
		"/api/v1/status/buildinfo", "/api/v1/status/runtimeinfo", "/api/v1/status/config", "/api/v1/status/flags", "/api/v1/status/walreplay",
		"/api/v1/status/tsdb", "/api/v1/status/blocks", "/federate", "/api/v1/admin/tsdb/snapshot", "/api/v1/admin/snapshot",
		"/api/v1/admin/tsdb/snapshots", "/api/v1/admin/tsdb/snapshots/<name>", "/api/v1/admin/tsdb/delete_series",
		"/api/v1/admin/tsdb/clean_tombstones", "/api/v1/admin/tsdb/compact",
		"/api/v1/write", "/write", "/admin/status", "/metrics", "/-/healthy", "/-/ready", "/debug/pprof/"} {
		if !strings.Contains(doc, "`"+ep+"`") && !strings.Contains(doc, ep+"`") {
			t.Errorf("README does not document %s", ep)
		}
	}
	// Every flag the usage text advertises exists: its subcommand's -h
	// lists it.
	for _, line := range regexp.MustCompile(`(?m)^  stage15-tsdb (\S+)(.*)$`).FindAllStringSubmatch(usageText, -1) {
		_, sub, _ := runCLI(t, line[1], "-h")
		for _, f := range regexp.MustCompile(`--([a-z][a-z.-]*)`).FindAllStringSubmatch(line[2], -1) {
			if !strings.Contains(sub, "-"+f[1]+" ") && !strings.Contains(sub, "-"+f[1]+"\n") {
				t.Errorf("usage advertises %s --%s, which %s -h does not list", line[1], f[1], line[1])
			}
		}
	}
	// Every flag of start, with its default, is in the flags table.
	_, help, _ := runCLI(t, "start", "-h")
	flagRE := regexp.MustCompile(`(?m)^\s+-(\S+)`)
	flags := flagRE.FindAllStringSubmatch(help, -1)
	if len(flags) < 10 {
		t.Fatalf("start -h lists %d flags:\n%s", len(flags), help)
	}
	for _, f := range flags {
		if !strings.Contains(doc, "| `--"+f[1]+"` |") {
			t.Errorf("README's flags table lacks --%s", f[1])
		}
	}
	for _, want := range []string{"remote_write:", "url: http://127.0.0.1:9090/api/v1/write", "Grafana", "Prometheus server URL", "| figure |",
		"--web.enable-admin-api", "Who may do what", "Open by default"} {
		if !strings.Contains(doc, want) {
			t.Errorf("README lacks %q", want)
		}
	}
}
