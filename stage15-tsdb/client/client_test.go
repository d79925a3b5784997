package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage15-tsdb/client"
	"github.com/tsdb-course/stage15-tsdb/config"
	"github.com/tsdb-course/stage15-tsdb/server"
)

// startServer runs a real server (server.New) on 127.0.0.1 with a fresh
// data directory.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Retention = 0
	cfg.Web.EnableAdminAPI = true
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
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

func newClient(t *testing.T, addr string, o client.Options) *client.Client {
	t.Helper()
	c, err := client.New(addr, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const t0 = 1_700_000_000_000 // ms

// The data of the tests: http_requests_total{method, instance} counters,
// 3 methods × 4 instances, one sample every 15 s for 20 minutes; series
// (m, i) grows by m+1 per second, so its rate is exactly m+1.
func counters() []remote.Series {
	var out []remote.Series
	for m, method := range []string{"GET", "POST", "PUT"} {
		for i := range 4 {
			s := remote.Series{Labels: model.MustFromStrings("__name__", "http_requests_total", "method", method, "instance", fmt.Sprint("host", i))}
			for k := range int64(81) {
				s.Samples = append(s.Samples, model.Sample{T: t0 + k*15_000, V: float64(k*15) * float64(m+1)})
			}
			out = append(out, s)
		}
	}
	return out
}

func TestClientAgainstServer(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.Addr(), client.Options{BatchSamples: 100}) // 12 × 81 samples: 10 requests
	ctx := context.Background()
	if err := c.Write(ctx, counters()); err != nil {
		t.Fatal(err)
	}

	// Instant query: the rate of each method summed over 4 instances is
	// 4·(m+1) per second.
	at := time.UnixMilli(t0 + 15*60_000)
	res, err := c.Query(ctx, `sum by (method) (rate(http_requests_total[5m]))`, at)
	if err != nil {
		t.Fatal(err)
	}
	if res.Type != client.ValueVector || len(res.Vector) != 3 {
		t.Fatalf("result %s with %d elements: %s", res.Type, len(res.Vector), res.Raw)
	}
	for _, smp := range res.Vector {
		m := slices.Index([]string{"GET", "POST", "PUT"}, smp.Metric.Get("method"))
		if m < 0 || smp.Metric.Len() != 1 || smp.T != at.UnixMilli() || math.Abs(smp.V-float64(4*(m+1))) > 1e-9 {
			t.Errorf("sample %v @%d = %v, want 4·%d", smp.Metric, smp.T, smp.V, m+1)
		}
	}

	// Range query: the raw values of one series, every minute.
	res, err = c.QueryRange(ctx, `http_requests_total{method="POST",instance="host2"}`, time.UnixMilli(t0), time.UnixMilli(t0+10*60_000), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Type != client.ValueMatrix || len(res.Matrix) != 1 || len(res.Matrix[0].Samples) != 11 {
		t.Fatalf("range result: %s", res.Raw)
	}
	for k, p := range res.Matrix[0].Samples {
		if want := (model.Sample{T: t0 + int64(k)*60_000, V: float64(k*60) * 2}); p != want {
			t.Errorf("point %d = %+v, want %+v", k, p, want)
		}
	}
	if res.Matrix[0].Metric.Get("instance") != "host2" {
		t.Errorf("metric %v", res.Matrix[0].Metric)
	}

	// Scalars and strings.
	if res, err := c.Query(ctx, `scalar(count(http_requests_total))`, at); err != nil || res.Type != client.ValueScalar || res.Scalar.V != 12 || res.Scalar.T != at.UnixMilli() {
		t.Errorf("scalar: %+v %v", res, err)
	}
	if res, err := c.Query(ctx, `"hello"`, at); err != nil || res.Type != client.ValueString || res.String != "hello" {
		t.Errorf("string: %+v %v", res, err)
	}

	// Series, label names, label values.
	sets, err := c.Series(ctx, time.Time{}, time.Time{}, `http_requests_total{method="PUT"}`, `{instance="host0"}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 4+2 { // 4 PUT series, plus host0's GET and POST
		t.Errorf("series: %d, want 6: %v", len(sets), sets)
	}
	names, err := c.Labels(ctx, time.Time{}, time.Time{})
	if err != nil || !slices.Equal(names, []string{"__name__", "instance", "method"}) {
		t.Errorf("labels: %v %v", names, err)
	}
	vals, err := c.LabelValues(ctx, "method", time.Time{}, time.Time{}, `{instance="host3"}`)
	if err != nil || !slices.Equal(vals, []string{"GET", "POST", "PUT"}) {
		t.Errorf("label values: %v %v", vals, err)
	}
	// Outside the range of the data: nothing.
	if sets, err := c.Series(ctx, time.UnixMilli(0), time.UnixMilli(1000), `http_requests_total`); err != nil || len(sets) != 0 {
		t.Errorf("series before the data: %v %v", sets, err)
	}

	// Status pages.
	st, err := c.Status(ctx)
	if err != nil || st.Status != "healthy" || st.Storage.TotalSeries != 12 || st.Storage.TotalSamples != 12*81 || st.Ingestion.ActiveSeries != 12 {
		t.Errorf("status: %+v %v", st, err)
	}
	ts, err := c.TSDBStatus(ctx, 2)
	if err != nil || ts.HeadStats.NumSeries != 12 || len(ts.SeriesCountByLabelValuePair) != 2 ||
		ts.SeriesCountByLabelValuePair[0] != (client.NameCount{"__name__=http_requests_total", 12}) {
		t.Errorf("tsdb status: %+v %v", ts, err)
	}
	bl, err := c.Blocks(ctx)
	if err != nil || len(bl.Blocks) != 0 || bl.Head.NumSeries != 12 || bl.Head.MinTime != t0 || bl.Head.MaxTime != t0+80*15_000 {
		t.Errorf("blocks: %+v %v", bl, err)
	}
	if _, err := c.Compact(ctx); err != nil { // 20 minutes of data: nothing due
		t.Errorf("compact: %v", err)
	}
	if name, err := c.Snapshot(ctx, false); err != nil || name == "" {
		t.Errorf("snapshot: %q %v", name, err)
	}
	if ok, err := c.Ready(ctx); !ok || err != nil {
		t.Errorf("ready: %v %v", ok, err)
	}
}

func TestClientErrors(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.Addr(), client.Options{MinBackoff: time.Millisecond})
	ctx := context.Background()
	_, err := c.Query(ctx, `sum(`, time.Time{})
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 400 || e.Type != "bad_data" || e.Msg == "" || e.Retries != 0 {
		t.Fatalf("bad query: %#v", err)
	}
	if _, err := c.Series(ctx, time.Time{}, time.Time{}); !client.IsStatus(err, 400) {
		t.Errorf("series without match[]: %v", err)
	}
	// A write with a duplicate sample (a timestamp again, another value):
	// the server keeps the rest and answers 400; the client reports it,
	// does not retry it.
	lset := model.MustFromStrings("__name__", "x")
	err = c.Write(ctx, []remote.Series{{Labels: lset, Samples: []model.Sample{{T: 2000, V: 1}, {T: 2000, V: 2}, {T: 3000, V: 3}}}})
	var we *client.WriteError
	if !errors.As(err, &we) || !client.IsStatus(err, 400) || we.Acked != 0 {
		t.Fatalf("partial write: %v", err)
	}
	res, err := c.Query(ctx, `count_over_time(x[1h])`, time.UnixMilli(3000))
	if err != nil || len(res.Vector) != 1 || res.Vector[0].V != 2 {
		t.Fatalf("the valid samples of a refused request: %+v %v", res, err)
	}
	if _, err := client.New("ftp://x", client.Options{}); err == nil {
		t.Error("ftp address accepted")
	}
}

// The Writer spreads series over concurrent senders; every sample must
// arrive, and each series' samples in order (else the server would refuse
// them as out of order).
func TestWriterConcurrentInOrder(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.Addr(), client.Options{BatchSamples: 64})
	var acked atomic.Int64
	w := c.NewWriter(context.Background(), 4, func(n int) { acked.Add(int64(n)) })
	const series, points = 50, 40
	for k := range int64(points) {
		for i := range series {
			if err := w.Append(model.MustFromStrings("__name__", "w", "i", fmt.Sprint(i)), t0+k*1000, float64(k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if acked.Load() != series*points || w.Acked() != series*points {
		t.Fatalf("acked %d / %d, want %d", acked.Load(), w.Acked(), series*points)
	}
	if err := w.Append(model.MustFromStrings("__name__", "w"), 0, 0); !errors.Is(err, client.ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
	res, err := c.QueryRange(context.Background(), `w`, time.UnixMilli(t0), time.UnixMilli(t0+(points-1)*1000), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Matrix) != series {
		t.Fatalf("%d series, want %d", len(res.Matrix), series)
	}
	for _, sr := range res.Matrix {
		for k, p := range sr.Samples {
			if p.V != float64(k) || p.T != t0+int64(k)*1000 {
				t.Fatalf("%v point %d = %+v", sr.Metric, k, p)
			}
		}
		if len(sr.Samples) != points {
			t.Fatalf("%v: %d points", sr.Metric, len(sr.Samples))
		}
	}
}

// flaky answers the first n requests with status code (and Retry-After),
// then passes them to next.
func flaky(n int32, code int, retryAfter string, next http.Handler) (http.Handler, *atomic.Int32) {
	var calls atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			http.Error(w, "try later", code)
			return
		}
		next.ServeHTTP(w, r)
	}), &calls
}

func okQuery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"scalar","result":[1.5,"7"]}}`)
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	fast := client.Options{MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
	for _, tc := range []struct {
		name      string
		fails     int32
		code      int
		retries   int
		wantCalls int32
		wantErr   bool
	}{
		{"503 then ok", 2, 503, 3, 3, false},
		{"429 then ok", 1, 429, 3, 2, false},
		{"500 forever", 100, 500, 2, 3, true},
		{"400 is not retried", 100, 400, 3, 1, true},
		{"422 is not retried", 100, 422, 3, 1, true},
		{"retries off", 100, 503, -1, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, calls := flaky(tc.fails, tc.code, "", http.HandlerFunc(okQuery))
			srv := httptest.NewServer(h)
			defer srv.Close()
			o := fast
			o.MaxRetries = tc.retries
			res, err := newClient(t, srv.URL, o).Query(ctx, "x", time.Time{})
			if calls.Load() != tc.wantCalls || (err != nil) != tc.wantErr {
				t.Fatalf("%d calls, err %v; want %d calls, error %v", calls.Load(), err, tc.wantCalls, tc.wantErr)
			}
			if err == nil && (res.Scalar != model.Sample{T: 1500, V: 7}) {
				t.Errorf("result %+v", res.Scalar)
			}
			var e *client.Error
			if err != nil && (!errors.As(err, &e) || e.StatusCode != tc.code || e.Msg != "try later") {
				t.Errorf("error %#v", err)
			}
		})
	}
	t.Run("Retry-After is honoured", func(t *testing.T) {
		h, calls := flaky(1, 429, "1", http.HandlerFunc(okQuery))
		srv := httptest.NewServer(h)
		defer srv.Close()
		o := fast
		o.MaxBackoff = 2 * time.Second
		start := time.Now()
		if _, err := newClient(t, srv.URL, o).Query(ctx, "x", time.Time{}); err != nil || calls.Load() != 2 {
			t.Fatalf("%v after %d calls", err, calls.Load())
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("retried after %v, Retry-After said 1s", d)
		}
	})
	t.Run("a slow attempt times out and is retried", func(t *testing.T) {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				// Hang until the client gives up (the connection closes;
				// the server notices once the body has been read).
				_, _ = io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return
			}
			okQuery(w, r)
		}))
		defer srv.Close()
		o := fast
		o.Timeout = 50 * time.Millisecond
		if _, err := newClient(t, srv.URL, o).Query(ctx, "x", time.Time{}); err != nil || calls.Load() != 2 {
			t.Fatalf("%v after %d calls", err, calls.Load())
		}
	})
	t.Run("a cancelled context stops the retries", func(t *testing.T) {
		h, calls := flaky(100, 503, "", http.HandlerFunc(okQuery))
		srv := httptest.NewServer(h)
		defer srv.Close()
		cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		defer cancel()
		o := client.Options{MinBackoff: 20 * time.Millisecond, MaxRetries: 100}
		_, err := newClient(t, srv.URL, o).Query(cctx, "x", time.Time{})
		if !errors.Is(err, context.DeadlineExceeded) || calls.Load() > 5 {
			t.Fatalf("%v after %d calls", err, calls.Load())
		}
	})
	t.Run("writes are retried with the same body", func(t *testing.T) {
		s := startServer(t)
		target := "http://" + s.Addr()
		h, calls := flaky(2, 503, "", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, _ := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), r.Body)
			req.Header = r.Header.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				http.Error(w, err.Error(), 502)
				return
			}
			defer resp.Body.Close()
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, resp.Body)
		}))
		proxy := httptest.NewServer(h)
		defer proxy.Close()
		c := newClient(t, proxy.URL, fast)
		if err := c.Write(ctx, counters()[:1]); err != nil || calls.Load() != 3 {
			t.Fatalf("%v after %d calls", err, calls.Load())
		}
		res, err := newClient(t, s.Addr(), fast).Query(ctx, `count_over_time(http_requests_total[1h])`, time.UnixMilli(t0+30*60_000))
		if err != nil || len(res.Vector) != 1 || res.Vector[0].V != 81 {
			t.Fatalf("%+v %v", res, err)
		}
	})
}

func TestWriteSplitsBatches(t *testing.T) {
	var sizes []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		raw, err := remote.Decompress(nil, body, 1<<20)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		n := 0
		var dec remote.Decoder
		if _, err := dec.Decode(raw, func(ts *remote.TimeSeries) error { n += len(ts.Samples); return nil }, nil); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		sizes = append(sizes, n)
		w.WriteHeader(204)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, client.Options{BatchSamples: 300})
	if err := c.Write(context.Background(), counters()); err != nil { // 972 samples
		t.Fatal(err)
	}
	if !slices.Equal(sizes, []int{300, 300, 300, 72}) {
		t.Errorf("request sizes %v", sizes)
	}
}
