// Package api serves the HTTP API: Prometheus's /api/v1 (queries, series
// and label lookups, metadata, status pages, admin), remote write, and the
// guide's /write and /admin/status. Answers use Prometheus's JSON shapes:
//
//	{"status":"success","data":…,"warnings":[…]}
//	{"status":"error","errorType":"bad_data","error":"…"}
//
// One file per concern: params.go (times, durations, selectors), query.go,
// meta.go (series, labels, metadata, exemplars), status.go, write.go,
// admin.go, json.go (the query result encoder), response.go (envelopes and
// error types).
package api

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage15-tsdb/selfmon"
	"github.com/tsdb-course/stage15-tsdb/storage"
)

// DB is what the API needs from the storage engine; stage06's *tsdb.DB is
// one.
type DB interface {
	storage.Queryable
	storage.Appendable
	Delete(mint, maxt int64, ms ...*index.Matcher) error
	Head() *tsdb.Head
	Blocks() []tsdb.BlockInfo
	Dir() string
	Recovery() tsdb.Recovery
}

var _ DB = (*tsdb.DB)(nil)

// Options configure an API. Zero values get the defaults noted.
type Options struct {
	// Engine evaluates PromQL. Defaults to promql.NewEngine(promql.Opts{}).
	Engine *promql.Engine
	// MaxConcurrency is how many queries run at once. Defaults to 20.
	MaxConcurrency int
	// MaxBodyBytes caps a write body (and a decompressed remote-write
	// message). Defaults to 32 MiB.
	MaxBodyBytes int64
	// Retention is reported by runtimeinfo.
	Retention time.Duration
	// Metrics, if set, count ingestion, queries and HTTP requests.
	Metrics *selfmon.Metrics
	// Logger logs requests. Defaults to slog.Default().
	Logger    *slog.Logger
	BuildInfo BuildInfo
	StartTime time.Time
	// Snapshot takes a snapshot (admin API); nil answers 503.
	Snapshot func(withHead bool) (string, error)
	// Compact runs due compactions (admin API); nil answers 503.
	Compact func() ([]tsdb.CompactStats, error)
	// HeadSamples estimates the samples in the head, for /admin/status.
	HeadSamples func() int64
	// Now is the clock (default time.Now): the default query time, the
	// timestamp of /write lines without one.
	Now func() time.Time
}

// API serves the endpoints over one DB.
type API struct {
	db     DB
	engine *promql.Engine
	opts   Options
	sem    chan struct{}
	refs   *storage.RefCache
	meta   metadataStore
	log    *slog.Logger

	// histSenders are the senders already told (in the log) that their
	// native histograms are dropped.
	histSenders     sync.Map
	histSendersSeen atomic.Int32

	queryStats            queryStats
	ingestRate, queryRate *selfmon.Rate
}

// New returns an API over db.
func New(db DB, opts Options) *API {
	if opts.Engine == nil {
		opts.Engine = promql.NewEngine(promql.Opts{})
	}
	if opts.MaxConcurrency <= 0 {
		opts.MaxConcurrency = 20
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 32 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StartTime.IsZero() {
		opts.StartTime = opts.Now()
	}
	return &API{
		db: db, engine: opts.Engine, opts: opts, log: opts.Logger,
		sem:        make(chan struct{}, opts.MaxConcurrency),
		refs:       storage.NewRefCache(4 << 20),
		ingestRate: selfmon.NewRate(5 * time.Second),
		queryRate:  selfmon.NewRate(5 * time.Second),
	}
}

func (a *API) now() time.Time { return a.opts.Now() }

// Tick feeds the ingestion and query rates of /admin/status; the server
// calls it every second or so.
func (a *API) Tick(now time.Time, samplesIngested float64) {
	a.ingestRate.Observe(now, samplesIngested)
	a.queryRate.Observe(now, float64(a.queryStats.count.Load()))
}

// Register adds every endpoint to mux.
func (a *API) Register(mux *http.ServeMux) {
	known := map[string]bool{}
	handle := func(pattern string, h http.Handler) {
		mux.Handle(pattern, h)
		known[pattern[strings.IndexByte(pattern, ' ')+1:]] = true
	}
	get := func(pattern, name string, f func(*http.Request) (any, *apiError)) {
		handle("GET "+pattern, a.wrap(name, a.apiFunc(f)))
	}
	getPost := func(pattern, name string, f func(*http.Request) (any, *apiError)) {
		h := a.wrap(name, a.apiFunc(f))
		handle("GET "+pattern, h)
		handle("POST "+pattern, h)
	}
	getPost("/api/v1/query", "query", a.query)
	getPost("/api/v1/query_range", "query_range", a.queryRange)
	getPost("/api/v1/series", "series", a.series)
	getPost("/api/v1/labels", "labels", a.labels)
	get("/api/v1/label/{name}/values", "label_values", a.labelValues)
	get("/api/v1/metadata", "metadata", a.metadata)
	getPost("/api/v1/query_exemplars", "query_exemplars", a.exemplars)
	get("/api/v1/status/buildinfo", "buildinfo", a.buildInfo)
	get("/api/v1/status/runtimeinfo", "runtimeinfo", a.runtimeInfo)
	get("/api/v1/status/tsdb", "status_tsdb", a.tsdbStatus)
	get("/api/v1/status/blocks", "status_blocks", a.blocksStatus)
	handle("POST /api/v1/admin/tsdb/snapshot", a.wrap("snapshot", a.apiFunc(a.snapshot)))
	for _, m := range []string{"POST ", "PUT "} {
		handle(m+"/api/v1/admin/tsdb/delete_series", a.wrap("delete_series", http.HandlerFunc(a.deleteSeries)))
		handle(m+"/api/v1/admin/tsdb/clean_tombstones", a.wrap("clean_tombstones", http.HandlerFunc(a.cleanTombstones)))
	}
	handle("POST /api/v1/admin/tsdb/compact", a.wrap("compact", a.apiFunc(a.compact)))
	handle("POST /api/v1/write", a.wrap("remote_write", http.HandlerFunc(a.remoteWrite)))
	handle("POST /write", a.wrap("write", http.HandlerFunc(a.textWrite)))
	handle("GET /admin/status", a.wrap("admin_status", a.apiRaw(a.adminStatus)))
	mux.Handle("/api/", a.wrap("not_found", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if known[r.URL.Path] {
			respondError(w, &apiError{typ: ErrBadData, status: http.StatusMethodNotAllowed, err: errors.New("method " + r.Method + " not allowed on " + r.URL.Path)})
			return
		}
		RespondError(w, ErrNotFound, "unknown API endpoint "+r.URL.Path)
	})))
}

// maxFormBytes caps a form-encoded POST body of the query endpoints.
const maxFormBytes = 1 << 20

// apiFunc adapts a handler returning (data, error) to the envelope.
func (a *API) apiFunc(f func(*http.Request) (any, *apiError)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				respondError(w, &apiError{typ: ErrBadData, status: http.StatusRequestEntityTooLarge, err: err})
				return
			}
			respondError(w, newError(ErrBadData, errors.New("error parsing form values: "+err.Error())))
			return
		}
		data, aerr := f(r)
		if aerr != nil {
			respondError(w, aerr)
			return
		}
		if qr, ok := data.(queryResult); ok {
			b := append(make([]byte, 0, 4096), `{"status":"success","data":{`...)
			b = appendValue(b, qr.v)
			writeRaw(w, http.StatusOK, append(b, "}}\n"...))
			return
		}
		respond(w, data, nil)
	})
}

// apiRaw writes the data itself, without the envelope (/admin/status).
func (a *API) apiRaw(f func(*http.Request) (any, *apiError)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, aerr := f(r)
		if aerr != nil {
			respondError(w, aerr)
			return
		}
		writeJSON(w, http.StatusOK, data)
	})
}

// wrap counts and times a handler, and logs the request: successful
// remote writes at debug level (there are thousands a second), everything
// else at info, failures at warn.
func (a *API) wrap(name string, h http.Handler) http.Handler {
	if a.opts.Metrics != nil {
		h = a.opts.Metrics.Instrument(name, h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &selfmon.StatusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		code := sw.Code()
		level := slog.LevelInfo
		switch {
		case code >= 400:
			level = slog.LevelWarn
		case name == "remote_write":
			level = slog.LevelDebug
		}
		if a.log.Enabled(r.Context(), level) {
			a.log.Log(r.Context(), level, "request", "method", r.Method, "path", r.URL.Path, "handler", name,
				"code", code, "bytes", sw.Bytes(), "duration", time.Since(start), "remote", r.RemoteAddr)
		}
	})
}

func parseInt(s string) (int, error) { return strconv.Atoi(s) }

var errNotPositive = errors.New("must be a positive integer")
