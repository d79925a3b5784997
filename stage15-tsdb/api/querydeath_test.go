package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
)

// The queries of death run in a child process of the test binary, under a
// hard memory cap: RLIMIT_AS (an address-space limit the kernel enforces,
// so a query that allocates past it kills the child) and GOMEMLIMIT.
// The parent checks that the child lived through every case and that its
// peak resident memory (VmHWM) stayed under qodPeakBound.
const (
	qodChildEnv  = "TSDB_QUERY_OF_DEATH_CHILD"
	qodAddrSpace = 3 << 30 // the Go runtime reserves address space beyond what it uses
	qodPeakBound = 600 << 20
	qodSeries    = 20_000
	qodMemory    = 64 << 20 // --query.max-memory of the child's API
	qodResponse  = 8 << 20  // --query.max-response-bytes
)

// qodCase is one hostile query and what the API must answer.
type qodCase struct {
	name    string
	params  url.Values // path is /api/v1/query, or query_range with start
	code    int
	errType ErrorType
	errHas  string
}

func qodCases() []qodCase {
	instant := func(q string, kv ...string) url.Values {
		v := url.Values{"query": {q}, "time": {"3600"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	rng := func(q, start, end, step string, kv ...string) url.Values {
		v := url.Values{"query": {q}, "start": {start}, "end": {end}, "step": {step}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	deep := strings.Repeat("abs(", 5_000) + "h_card" + strings.Repeat(")", 5_000)
	return []qodCase{
		{"subquery of a year at 1ms", instant(`count_over_time(vector(1)[1y:1ms])`), 422, ErrExecution, "memory limit"},
		{"subquery of a day at 1ms", instant(`count_over_time(vector(1)[1d:1ms])`), 422, ErrExecution, "query processing would"},
		{"subquery of a selector at 1ms", instant(`count_over_time(h_card{i="1"}[1h:1ms])`), 422, ErrExecution, "query processing would"},
		{"wide range query at 1s", rng(`h_card`, "3000", "3600", "1"), 422, ErrExecution, "query processing would"},
		{"count_values over 3000 steps", rng(`count_values("v", h_card)`, "600", "3600", "1"), 422, ErrExecution, "query processing would"},
		{"response over the limit", rng(`h_card`, "3500", "3600", "1"), 422, ErrExecution, "--query.max-response-bytes"},
		{"label_replace making big labels", instant(`label_replace(h_card, "big", "` + strings.Repeat("$1", 5_000) + `", "i", "(.*)")`), 422, ErrExecution, "--query.max-memory"},
		{"nested 5,000 deep, timeout 500ms", instant(deep, "timeout", "500ms"), 503, ErrTimeout, "timed out"},
		{"signs nested 200,000 deep", instant(strings.Repeat("-", 200_000) + "1"), 400, ErrBadData, "nests deeper"},
		{"an ordinary query still answers", instant(`sum(h_card)`), 200, "", ""},
	}
}

// qodAPI is the API the child serves: qodSeries series h_card{i} with a
// sample every 5 minutes over the first hour, and tight limits.
func qodAPI(t testing.TB) *httptest.Server {
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	app := db.Appender(context.Background())
	for i := range qodSeries {
		l := model.MustFromStrings("__name__", "h_card", "i", strconv.Itoa(i))
		var ref uint64
		for ts := int64(0); ts <= 3_600_000; ts += 300_000 {
			if ref, err = app.Append(ref, l, ts, float64(i)+float64(ts)/1e7); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	a := New(db, Options{
		Engine:           promql.NewEngine(promql.Opts{MaxMemory: qodMemory, Timeout: time.Minute}),
		MaxResponseBytes: qodResponse,
		Logger:           discardLogger(),
		Now:              func() time.Time { return time.Unix(3600, 0) },
	})
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestQueriesOfDeath runs every case in a child under the memory cap; each
// must be answered as qodCases says, and the child must survive them all
// with its peak memory bounded.
func TestQueriesOfDeath(t *testing.T) {
	if os.Getenv(qodChildEnv) == "1" {
		qodChild(t)
		return
	}
	if testing.Short() {
		t.Skip("a child process with 20,000 series: not in -short")
	}
	if raceEnabled {
		// The race detector's shadow memory triples the child's RSS, and
		// the child serves one request at a time: the plain run is the test.
		t.Skip("not under -race")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestQueriesOfDeath$", "-test.v")
	cmd.Env = append(os.Environ(), qodChildEnv+"=1", "GOMEMLIMIT="+strconv.Itoa(qodPeakBound))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the child died or failed (%v):\n%s", err, tail(string(out), 40))
	}
	var peak int64 = -1
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "qod peak rss: "); ok {
			peak, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if peak <= 0 {
		t.Fatalf("the child reported no peak:\n%s", tail(string(out), 40))
	}
	t.Logf("child's peak RSS: %d MB", peak>>20)
	if peak > qodPeakBound {
		t.Errorf("child's peak RSS %d MB, want under %d MB", peak>>20, qodPeakBound>>20)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// qodChild caps its own address space, serves the data set and runs every
// case against it, then prints its peak RSS for the parent.
func qodChild(t *testing.T) {
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: qodAddrSpace, Max: qodAddrSpace}); err != nil {
		t.Fatalf("RLIMIT_AS: %v", err)
	}
	srv := qodAPI(t)
	for _, c := range qodCases() {
		path := "/api/v1/query"
		if c.params.Has("step") {
			path = "/api/v1/query_range"
		}
		resp, err := http.PostForm(srv.URL+path, c.params)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var body struct {
			Status    string    `json:"status"`
			ErrorType ErrorType `json:"errorType"`
			Error     string    `json:"error"`
		}
		derr := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != c.code || derr != nil || body.ErrorType != c.errType || !strings.Contains(body.Error, c.errHas) {
			t.Errorf("%s: %d %s %q (decode: %v), want %d %s containing %q", c.name, resp.StatusCode, body.ErrorType, body.Error, derr, c.code, c.errType, c.errHas)
		}
		runtime.GC()
	}
	fmt.Printf("qod peak rss: %d\n", vmHWM(t))
}

// vmHWM is the process's peak resident set size in bytes.
func vmHWM(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// deepAPI serves 2,000 series x{i} and a query over them nested 10,000
// deep: minutes of work, unless something cancels it.
func deepAPI(t *testing.T, log *slog.Logger) (*API, *httptest.Server, string) {
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	app := db.Appender(context.Background())
	for i := range 2_000 {
		if _, err := app.Append(0, model.MustFromStrings("__name__", "x", "i", strconv.Itoa(i)), 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	a := New(db, Options{Logger: log, Now: func() time.Time { return time.Unix(60, 0) }})
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return a, srv, strings.Repeat("abs(", 10_000) + "x" + strings.Repeat(")", 10_000)
}

// lockedBuffer is a log destination the handler and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestClientGoneStopsQuery: a client that disconnects cancels its query
// wherever the evaluation is: the request is logged 499 (canceled), not
// 200 minutes later.
func TestClientGoneStopsQuery(t *testing.T) {
	var logs lockedBuffer
	a, srv, deep := deepAPI(t, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/api/v1/query",
		strings.NewReader(url.Values{"query": {deep}, "timeout": {"1h"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	for len(a.sem) == 0 { // the query holds a slot while it runs
		runtime.Gosched()
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("the request was answered before the client left")
	}
	for !strings.Contains(logs.String(), "handler=query") { // logged once the handler returns
		runtime.Gosched()
	}
	if l := logs.String(); !strings.Contains(l, "code=499") {
		t.Fatalf("the query's request was not logged 499:\n%s", l)
	}
}

// TestCancelQueriesOnShutdown: a query running when the server shuts down
// (CancelQueries) ends at once with 503 unavailable, not at its timeout.
func TestCancelQueriesOnShutdown(t *testing.T) {
	a, srv, deep := deepAPI(t, discardLogger())
	done := make(chan result, 1)
	go func() {
		resp, err := http.PostForm(srv.URL+"/api/v1/query", url.Values{"query": {deep}, "timeout": {"1h"}})
		if err != nil {
			done <- result{code: -1, body: err.Error()}
			return
		}
		defer resp.Body.Close()
		var body struct {
			ErrorType ErrorType `json:"errorType"`
			Error     string    `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		done <- result{resp.StatusCode, string(body.ErrorType) + ": " + body.Error}
	}()
	for len(a.sem) == 0 { // the query holds a slot while it runs
		runtime.Gosched()
	}
	a.CancelQueries()
	r := <-done
	if r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, "shutting down") {
		t.Fatalf("answer %d %s, want 503 shutting down", r.code, r.body)
	}
	// Later queries are refused the same way.
	if r := get(t, srv.URL+"/api/v1/query?query=x"); r.code != http.StatusServiceUnavailable {
		t.Errorf("after CancelQueries: %d %s", r.code, r.body)
	}
}
