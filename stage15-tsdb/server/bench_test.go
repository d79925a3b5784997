package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage15-tsdb/config"
	"github.com/tsdb-course/stage15-tsdb/storage"
)

// The benchmarks behind the README's query and restart figures. Their data
// is generated once per `go test` process (fixed seed) into directories
// that TestMain removes, so -count N measures N times without building N
// times.

// benchSeries is the capstone's scale, 10,000 series; TSDB_BENCH_SERIES overrides it
// (a smaller run while developing).
func benchSeries() int {
	if n, err := strconv.Atoi(os.Getenv("TSDB_BENCH_SERIES")); err == nil && n > 0 {
		return n
	}
	return 10_000
}

var benchDirs struct {
	mu   sync.Mutex
	dirs []string
}

func benchTempDir(b *testing.B) string {
	dir, err := os.MkdirTemp("", "stage15-bench-")
	if err != nil {
		b.Fatal(err)
	}
	benchDirs.mu.Lock()
	benchDirs.dirs = append(benchDirs.dirs, dir)
	benchDirs.mu.Unlock()
	return dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchQuery.srv != nil {
		_ = benchQuery.srv.Shutdown(context.Background())
	}
	for _, d := range benchDirs.dirs {
		_ = os.RemoveAll(d)
	}
	os.Exit(code)
}

// counters are n http_requests_total series: 4 methods × 5 statuses ×
// n/20 instances, each with its own rate.
type counters struct {
	labels []model.Labels
	rate   []float64
	value  []float64
	refs   []uint64
	rng    *rand.Rand
}

func newCounters(n int, seed uint64) *counters {
	c := &counters{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	statuses := []string{"200", "201", "404", "500", "503"}
	for i := 0; len(c.labels) < n; i++ {
		for _, m := range methods {
			for _, s := range statuses {
				if len(c.labels) < n {
					c.labels = append(c.labels, model.MustFromStrings(model.MetricName, "http_requests_total",
						"instance", "host-"+strconv.Itoa(i), "job", "api", "method", m, "status", s))
					c.rate = append(c.rate, 0.1+10*c.rng.Float64())
				}
			}
		}
	}
	c.value = make([]float64, n)
	c.refs = make([]uint64, n)
	return c
}

// scrape appends one sample of every series at t (ms), as one commit.
func (c *counters) scrape(db *tsdb.DB, t int64, interval time.Duration) error {
	app := db.Appender(context.Background())
	for i := range c.labels {
		c.value[i] += float64(int(c.rate[i] * interval.Seconds() * (0.5 + c.rng.Float64())))
		ref, err := app.Append(c.refs[i], c.labels[i], t, c.value[i])
		if err != nil {
			_ = app.Rollback()
			return err
		}
		c.refs[i] = ref
	}
	return app.Commit()
}

func setupOpts() tsdb.Options {
	// No fsync while generating: the data's durability is not measured.
	return tsdb.Options{WALSync: wal.SyncNone, NoBackgroundCompaction: true}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// benchConfig is the default config (query.max_samples included: stage10
// counts the samples held at the peak, a window per series, as Prometheus
// does, so the 24 h query fits the default 50M).
func benchConfig(dir string) config.Config {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = dir
	return cfg
}

func startBench(b *testing.B, dir string) *Server {
	b.Helper()
	cfg := benchConfig(dir)
	s, err := New(cfg, Options{Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	if err := s.Err(); err != nil {
		b.Fatal(err)
	}
	return s
}

// The query data: 10,000 counters × 24 h 5 min at 15 s (57.8M samples),
// written in scrape order and compacted every 2 h of data as the server's
// loop would: leveled blocks (18 h, 6 h, 2 h…) plus a head holding the
// last hours, replayed from the WAL when the server opens the directory.
var (
	benchStart = time.Unix(1_700_000_000, 0)
	benchSpan  = 24*time.Hour + 5*time.Minute
	benchEnd   = benchStart.Add(benchSpan)
	benchQuery struct {
		once    sync.Once
		srv     *Server
		samples int
		err     error
	}
)

const benchScrape = 15 * time.Second

func queryServer(b *testing.B) *Server {
	benchQuery.once.Do(func() {
		start := time.Now()
		dir := benchTempDir(b)
		db, err := tsdb.Open(dir, setupOpts())
		if err != nil {
			benchQuery.err = err
			return
		}
		c := newCounters(benchSeries(), 1)
		steps := int(benchSpan / benchScrape)
		compactEvery := int(2 * time.Hour / benchScrape)
		for k := 0; k <= steps; k++ {
			if err = c.scrape(db, benchStart.Add(time.Duration(k)*benchScrape).UnixMilli(), benchScrape); err != nil {
				break
			}
			if k%compactEvery == compactEvery-1 {
				if err = db.Compact(); err != nil {
					break
				}
			}
		}
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			benchQuery.err = err
			return
		}
		benchQuery.samples = len(c.labels) * (steps + 1)
		benchQuery.srv = startBench(b, dir)
		b.Logf("query data: %d series, %d samples, %d blocks, head %d series; built and opened in %s",
			len(c.labels), benchQuery.samples, len(benchQuery.srv.DB().Blocks()), benchQuery.srv.DB().Head().NumSeries(),
			time.Since(start).Round(time.Millisecond))
	})
	if benchQuery.err != nil {
		b.Fatal(benchQuery.err)
	}
	return benchQuery.srv
}

const benchSumRate = `sum by (method) (rate(http_requests_total[5m]))`

// BenchmarkQuery runs the capstone's target queries over 10,000 series × 24 h
// through what the API runs: the server's engine (newEngine with
// benchConfig) over storage.QueryStorage on the open DB (blocks +
// head). The http_* variants add the HTTP API on loopback (parameters,
// concurrency limit, JSON encoding).
func BenchmarkQuery(b *testing.B) {
	s := queryServer(b)
	eng := newEngine(benchConfig(""), promql.Features{})
	ctx := context.Background()
	run := func(b *testing.B, q string, wantSeries int, eval func(promql.Storage) (promql.Value, error)) {
		b.ReportAllocs()
		var read int64
		// Process CPU (every goroutine: stage06's decoders, the
		// engine's workers, GC), against the wall time both cores give.
		cpu0 := measure.CPUTime()
		for b.Loop() {
			st := storage.NewQueryStorage(s.DB())
			v, err := eval(st)
			if cerr := st.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				b.Fatalf("%s: %v", q, err)
			}
			if n := resultSeries(v); n != wantSeries {
				b.Fatalf("%s: %d series in the result, want %d", q, n, wantSeries)
			}
			read = st.Stats().Samples
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/query")
		b.ReportMetric((measure.CPUTime()-cpu0).Seconds()/float64(b.N), "cpu-s/query")
		b.ReportMetric(float64(read), "samples-read/query")
		b.ReportMetric(float64(read)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	}
	b.Run("range_24h_sum_rate", func(b *testing.B) {
		run(b, benchSumRate, 4, func(st promql.Storage) (promql.Value, error) {
			return eng.QueryRange(ctx, st, benchSumRate, benchEnd.Add(-24*time.Hour), benchEnd, time.Minute)
		})
	})
	b.Run("instant_sum_rate", func(b *testing.B) {
		run(b, benchSumRate, 4, func(st promql.Storage) (promql.Value, error) {
			return eng.Query(ctx, st, benchSumRate, benchEnd)
		})
	})
	b.Run("instant_selector", func(b *testing.B) {
		q := `http_requests_total`
		run(b, q, len(newCounters(benchSeries(), 1).labels), func(st promql.Storage) (promql.Value, error) {
			return eng.Query(ctx, st, q, benchEnd)
		})
	})
	httpRun := func(b *testing.B, path string, form url.Values) {
		b.ReportAllocs()
		u := "http://" + s.Addr() + path + "?" + form.Encode()
		var size int
		for b.Loop() {
			resp, err := http.Get(u)
			if err != nil {
				b.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("%d %v: %.200s", resp.StatusCode, err, body)
			}
			size = len(body)
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/query")
		b.ReportMetric(float64(size), "B/response")
	}
	b.Run("http_range_24h_sum_rate", func(b *testing.B) {
		httpRun(b, "/api/v1/query_range", url.Values{"query": {benchSumRate},
			"start": {fmt.Sprint(benchEnd.Add(-24 * time.Hour).Unix())}, "end": {fmt.Sprint(benchEnd.Unix())}, "step": {"60"}})
	})
	b.Run("http_instant_sum_rate", func(b *testing.B) {
		httpRun(b, "/api/v1/query", url.Values{"query": {benchSumRate}, "time": {fmt.Sprint(benchEnd.Unix())}})
	})
}

func resultSeries(v promql.Value) int {
	switch v := v.(type) {
	case promql.Matrix:
		return len(v)
	case promql.Vector:
		return len(v)
	}
	return -1
}

// The restart data: 10,000 counters × 1,000 scrapes at 10 s (10M samples,
// 2 h 46 min: less than the 3 h after which the head is cut, so all of it
// is in the WAL), copied while the DB is still open, i.e. as a SIGKILL
// leaves it: whatever was written to the OS, nothing that Close would do.
var benchCrash struct {
	once    sync.Once
	dir     string
	samples int
	walMB   float64
	err     error
}

func crashedDir(b *testing.B) string {
	benchCrash.once.Do(func() {
		start := time.Now()
		live := benchTempDir(b)
		db, err := tsdb.Open(live, setupOpts())
		if err != nil {
			benchCrash.err = err
			return
		}
		const scrapes, interval = 1000, 10 * time.Second
		c := newCounters(benchSeries(), 2)
		for k := range scrapes {
			if err = c.scrape(db, benchStart.Add(time.Duration(k)*interval).UnixMilli(), interval); err != nil {
				break
			}
		}
		if err == nil {
			benchCrash.dir = benchTempDir(b)
			err = os.CopyFS(benchCrash.dir, os.DirFS(live))
		}
		benchCrash.walMB = float64(db.WALSize()) / 1e6
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		_ = os.RemoveAll(live)
		benchCrash.samples = scrapes * len(c.labels)
		benchCrash.err = err
		b.Logf("crashed data dir: %d samples, WAL %.0f MB; built in %s", benchCrash.samples, benchCrash.walMB, time.Since(start).Round(time.Millisecond))
	})
	if benchCrash.err != nil {
		b.Fatal(benchCrash.err)
	}
	return benchCrash.dir
}

// BenchmarkRestartAfterKill times a server start on a data directory left
// by SIGKILL with 10M samples in the WAL, until it is ready (DB open, WAL
// replayed, API on: what /-/ready reports). Each iteration starts from a
// fresh copy of that directory (copied outside the timer; page cache warm,
// as after a process crash rather than a reboot).
func BenchmarkRestartAfterKill(b *testing.B) {
	src := crashedDir(b)
	b.ReportAllocs()
	var rec tsdb.Recovery
	for b.Loop() {
		b.StopTimer()
		dir := benchTempDir(b)
		if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		s := startBench(b, dir)
		b.StopTimer()
		rec = s.DB().Recovery()
		if got := s.DB().Head().NumSeries(); got != benchSeries() {
			b.Fatalf("%d series after the restart, want %d", got, benchSeries())
		}
		if err := s.Shutdown(context.Background()); err != nil {
			b.Fatal(err)
		}
		_ = os.RemoveAll(dir)
		b.StartTimer()
	}
	if n := rec.SamplesLoaded + rec.SamplesSkipped; n != benchCrash.samples {
		b.Fatalf("the WAL gave %d samples (%d loaded, %d already in head chunks), want %d", n, rec.SamplesLoaded, rec.SamplesSkipped, benchCrash.samples)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/ready")
	b.ReportMetric(float64(benchCrash.samples), "wal-samples")
	b.ReportMetric(benchCrash.walMB, "wal-MB")
	b.ReportMetric(float64(rec.SamplesLoaded), "samples-replayed")
	b.ReportMetric(float64(rec.HeadChunks), "head-chunks-mapped")
	b.ReportMetric(float64(benchCrash.samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}
