package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage15-tsdb/client"
	"github.com/tsdb-course/stage15-tsdb/config"
)

// syncBuffer is a log sink that tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testClock is the storage engine's clock in these tests.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// startClocked starts a server on cfg, its admin API on, with the storage
// clock clk (nil: the real clock), logging to log.
func startClocked(t *testing.T, cfg config.Config, clk *testClock, log *syncBuffer) (*Server, *client.Client) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.Web.EnableAdminAPI = true
	cfg.DataDir = t.TempDir()
	opts := Options{Logger: slog.New(slog.NewTextHandler(log, nil)), CompactInterval: time.Hour}
	if clk != nil {
		opts.Storage.Now = clk.now
	}
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(s.Addr(), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// compactAndWait starts a compaction job and polls it (on a deadline) to
// its end.
func compactAndWait(t *testing.T, c *client.Client) client.CompactJob {
	t.Helper()
	ctx := context.Background()
	job, err := c.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for job.State == client.JobRunning {
		if time.Now().After(deadline) {
			t.Fatalf("compaction job %d still running: %+v", job.ID, job)
		}
		time.Sleep(10 * time.Millisecond) // between two polls, not a wait for an event
		if job, err = c.CompactJob(ctx, job.ID); err != nil {
			t.Fatal(err)
		}
	}
	if job.State != client.JobDone {
		t.Fatalf("compaction job: %+v", job)
	}
	return job
}

func metric(t *testing.T, base, name string) string {
	t.Helper()
	_, body := call(t, "GET", base+"/metrics", "")
	for line := range strings.SplitSeq(body, "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return ""
}

// TestRetentionAndGraceThroughTheServer: with a retention set, samples
// older than it and samples further ahead of the clock than the grace are
// answered 400 naming the problem and counted, on remote write and on
// /write alike, including the extreme timestamps; a sample far in the
// future cannot be stored to make history look old. When the clock passes
// the retention, each block deleted is logged with its time range and
// counted, and the compaction job lists it.
func TestRetentionAndGraceThroughTheServer(t *testing.T) {
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	clk := &testClock{t: now}
	cfg := config.Default()
	cfg.Retention = config.Duration(15 * 24 * time.Hour)
	log := &syncBuffer{}
	s, c := startClocked(t, cfg, clk, log)
	base := "http://" + s.Addr()
	sec := func(d time.Duration) int64 { return now.Add(d).Unix() }
	ms := func(d time.Duration) int64 { return now.Add(d).UnixMilli() }

	for _, tc := range []struct {
		name, path, body, want string
	}{
		{"text, 16 days old", "/write", fmt.Sprintf("m 1 %d\n", sec(-16*24*time.Hour)), "older than the retention"},
		{"text, an hour ahead", "/write", fmt.Sprintf("m 1 %d\n", sec(time.Hour)), "too far in the future"},
		{"remote write, 16 days old", "/api/v1/write", rwJSON("m", ms(-16*24*time.Hour), 1), "too old: 1"},
		{"remote write, an hour ahead", "/api/v1/write", rwJSON("m", ms(time.Hour), 1), "too new: 1"},
		{"remote write, math.MinInt64 value 0", "/api/v1/write", rwJSON("m", -1<<63, 0), "too old: 1"},
		{"remote write, math.MaxInt64", "/api/v1/write", rwJSON("m", 1<<63-1, 1), "too new: 1"},
	} {
		ct := "text/plain"
		if tc.path == "/api/v1/write" {
			ct = "application/json"
		}
		req, _ := http.NewRequest("POST", base+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(b.String(), tc.want) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.name, resp.StatusCode, b.String(), tc.want)
		}
	}
	if got := metric(t, base, `tsdb_rejected_samples_total{reason="too_old"}`); got != "3" {
		t.Errorf("too_old counter %q, want 3", got)
	}
	if got := metric(t, base, `tsdb_rejected_samples_total{reason="too_new"}`); got != "3" {
		t.Errorf("too_new counter %q, want 3", got)
	}

	// History ten days back, then a sample now and one within the grace.
	var lines strings.Builder
	for k := range 5 * 60 {
		fmt.Fprintf(&lines, "h{i=\"1\"} %d %d\n", k, sec(-10*24*time.Hour+time.Duration(k)*time.Minute))
	}
	fmt.Fprintf(&lines, "h{i=\"2\"} 1 %d\nh{i=\"2\"} 2 %d\n", sec(0), sec(5*time.Minute))
	if code, body := call(t, "POST", base+"/write", lines.String()); code != 200 {
		t.Fatalf("history: %d %s", code, body)
	}
	job := compactAndWait(t, c)
	if len(job.Blocks) == 0 || len(job.Deleted) != 0 {
		t.Fatalf("first compaction: %d blocks written, %d deleted; want some written, none deleted", len(job.Blocks), len(job.Deleted))
	}
	bl, err := c.Blocks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	history := bl.Blocks

	// Six days later the history is older than the retention.
	clk.add(6 * 24 * time.Hour)
	job = compactAndWait(t, c)
	if len(job.Deleted) != len(history) {
		t.Fatalf("after 6 days: %d blocks deleted, want the %d of the history: %+v", len(job.Deleted), len(history), job)
	}
	logs := log.String()
	for i, d := range job.Deleted {
		if d.ULID != history[i].ULID || d.Reason != "time" || d.MinTime != history[i].MinTime || d.MaxTime != history[i].MaxTime {
			t.Errorf("deleted %+v, want %+v", d, history[i])
		}
		logged := false
		for line := range strings.SplitSeq(logs, "\n") {
			logged = logged || strings.Contains(line, `msg="retention deleted a block"`) && strings.Contains(line, "block="+d.ULID) &&
				strings.Contains(line, "mint="+time.UnixMilli(d.MinTime).UTC().Format(time.RFC3339)) &&
				strings.Contains(line, "maxt="+time.UnixMilli(d.MaxTime).UTC().Format(time.RFC3339)) && strings.Contains(line, "reason=time")
		}
		if !logged {
			t.Errorf("deletion of %s not logged with its range and reason:\n%s", d.ULID, logs)
		}
	}
	if got := metric(t, base, `tsdb_retention_deleted_blocks_total{reason="time"}`); got != fmt.Sprint(len(history)) {
		t.Errorf("retention counter %q, want %d", got, len(history))
	}
	if _, err := c.CompactJob(context.Background(), job.ID-1); !client.IsStatus(err, http.StatusNotFound) {
		t.Errorf("an older job: %v, want 404", err)
	}
}

// rwJSON is a remote-write request in JSON with one sample.
func rwJSON(name string, ts int64, v float64) string {
	return fmt.Sprintf(`{"timeseries":[{"labels":[{"name":"__name__","value":%q}],"samples":[{"timestamp":%d,"value":%v}]}]}`, name, ts, v)
}

// TestDefaultsKeepTheExamples: on the default configuration (no
// retention) the README's examples keep each other's data: the guide's
// December 2023 lines, a January 2024 import and a write "now", then a
// compaction, delete nothing, and every sample still answers.
func TestDefaultsKeepTheExamples(t *testing.T) {
	s, c := startClocked(t, config.Default(), nil, &syncBuffer{})
	base := "http://" + s.Addr()
	now := time.Now().Unix()
	var lines strings.Builder
	lines.WriteString("cpu_usage{host=\"server1\",region=\"us-east\"} 0.75 1703001600\nmemory_usage{host=\"server1\"} 0.45 1703001600\n")
	for k := range 100 * 6 { // 100 h of 10-minute samples from 2024-01-01
		fmt.Fprintf(&lines, "tsbs_usage_user{hostname=\"host_0\"} %d %d\n", k, 1704067200+int64(k)*600)
	}
	fmt.Fprintf(&lines, "disk_usage{host=\"server1\"} 0.45 %d\n", now)
	if code, body := call(t, "POST", base+"/write", lines.String()); code != 200 {
		t.Fatalf("write: %d %s", code, body)
	}
	job := compactAndWait(t, c)
	if len(job.Blocks) == 0 || len(job.Deleted) != 0 {
		t.Fatalf("compaction: %d blocks, %d deleted", len(job.Blocks), len(job.Deleted))
	}
	for _, q := range []struct {
		query string
		at    int64
		want  string
	}{
		{"cpu_usage", 1703001600, `"0.75"`},
		{"count_over_time(tsbs_usage_user[101h])", 1704067200 + 100*3600, `"600"`},
		{"disk_usage", now, `"0.45"`},
	} {
		code, body := call(t, "GET", fmt.Sprintf("%s/api/v1/query?query=%s&time=%d", base, q.query, q.at), "")
		if code != 200 || !strings.Contains(body, q.want) {
			t.Errorf("%s at %d: %d %s", q.query, q.at, code, body)
		}
	}
}

// TestStatusCountsAllocatedBytes: /admin/status reports what the data
// directory takes on disk (allocated blocks, what du says): a few samples
// take kilobytes, the head-chunks file included.
func TestStatusCountsAllocatedBytes(t *testing.T) {
	cfg := config.Default()
	s, _ := startClocked(t, cfg, nil, &syncBuffer{})
	base := "http://" + s.Addr()
	// Enough samples for full chunks: the head-chunks file exists.
	var lines strings.Builder
	for k := range 500 {
		fmt.Fprintf(&lines, "m{i=\"1\"} %d %d\n", k, 1704067200+int64(k)*15)
	}
	if code, body := call(t, "POST", base+"/write", lines.String()); code != 200 {
		t.Fatalf("write: %d %s", code, body)
	}
	if st := s.DB().Head().Stats(); st.MappedChunks == 0 {
		t.Fatalf("no head chunk written: %+v", st)
	}
	_, body := call(t, "GET", base+"/admin/status", "")
	var got int64
	if i := strings.Index(body, `"disk_usage_bytes":`); i < 0 {
		t.Fatalf("status: %s", body)
	} else {
		fmt.Sscan(body[i+len(`"disk_usage_bytes":`):], &got)
	}
	want, err := measure.DiskUsage(s.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if got != want || got >= 16<<20 {
		t.Fatalf("disk_usage_bytes %d, du says %d", got, want)
	}
}
