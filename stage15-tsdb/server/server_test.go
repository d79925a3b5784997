package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage15-tsdb/config"
)

func startTest(t *testing.T, dir string) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.Web.EnableAdminAPI, cfg.Web.EnablePprof = true, true
	s, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

func call(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServerLifecycle(t *testing.T) {
	dir := t.TempDir()
	s := startTest(t, dir)
	base := "http://" + s.Addr()
	if code, _ := call(t, "GET", base+"/-/ready", ""); code != 200 {
		t.Fatalf("ready: %d", code)
	}
	if code, body := call(t, "POST", base+"/write", "m{a=\"1\"} 5 1000\nm{a=\"2\"} 6 1000\n"); code != 200 || !strings.Contains(body, `"samples_written":2`) {
		t.Fatalf("write: %d %s", code, body)
	}
	// Self-metrics count the samples and the request.
	_, metrics := call(t, "GET", base+"/metrics", "")
	for _, want := range []string{"tsdb_ingested_samples_total 2", "tsdb_head_series 2", `tsdb_http_requests_total{code="200",handler="write"} 1`, "tsdb_wal_size_bytes", "go_goroutines"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// A snapshot is a data directory holding the same data.
	code, body := call(t, "POST", base+"/api/v1/admin/tsdb/snapshot", "")
	if code != 200 || !strings.Contains(body, `"name":"`) {
		t.Fatalf("snapshot: %d %s", code, body)
	}
	name := body[strings.Index(body, `"name":"`)+8:]
	name = name[:strings.IndexByte(name, '"')]
	if code, _ := call(t, "GET", base+"/debug/pprof/", ""); code != 200 {
		t.Errorf("pprof: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "snapshots", name)
	if _, err := os.Stat(filepath.Join(snap, "wal")); err != nil {
		t.Fatal(err)
	}
	s2 := startTest(t, snap)
	defer s2.Shutdown(context.Background())
	code, body = call(t, "GET", "http://"+s2.Addr()+"/api/v1/query?query=sum(m)&time=1000", "")
	if code != 200 || !strings.Contains(body, `"value":[1000,"11"]`) {
		t.Fatalf("query on the snapshot: %d %s", code, body)
	}
}
