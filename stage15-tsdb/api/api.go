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
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage11-ingest/remote"
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
	Damage() []tsdb.BlockDamage
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
	// Compact runs due compactions and returns when they are done
	// (clean_tombstones); nil answers 503.
	Compact func() ([]tsdb.CompactStats, error)
	// CompactJobs starts compactions in the background and reports them
	// (POST /api/v1/admin/tsdb/compact, GET …/compact/<id>); nil answers
	// 503.
	CompactJobs CompactJobs
	// HeadSamples estimates the samples in the head, for /admin/status.
	HeadSamples func() int64
	// Now is the clock (default time.Now): the default query time, the
	// timestamp of /write lines without one.
	Now func() time.Time
	// EnableAdminAPI serves /api/v1/admin/…; off, they answer 503 "admin
	// APIs disabled", as Prometheus does without --web.enable-admin-api.
	EnableAdminAPI bool
	// ConfigYAML is the effective configuration, for /api/v1/status/config.
	ConfigYAML string
	// Flags are the command line's flags with their values (defaults
	// included), for /api/v1/status/flags.
	Flags map[string]string
	// WALReplay reports the WAL segments replayed at start-up, for
	// /api/v1/status/walreplay. Nil answers min = max = current = 0.
	WALReplay func() WALReplayStatus
	// ExternalLabels are added by /federate to series that lack them.
	ExternalLabels model.Labels
	// LookbackDelta is how far back /federate looks for a series' newest
	// sample. Defaults to 5m (the engine's default).
	LookbackDelta time.Duration
	// MaxResponseBytes caps the JSON answer of a query (/api/v1/query,
	// /api/v1/query_range); over it, a 422. Defaults to 256 MiB.
	MaxResponseBytes int64
	// MaxMetadata caps the metric families whose metadata is kept (default
	// 10,000); MaxMetadataPerMetric the entries per family (default 10).
	MaxMetadata, MaxMetadataPerMetric int
	// RemoteRead bounds POST /api/v1/read (zero fields: Prometheus's
	// defaults, 5e7 samples in a sampled answer, 10 reads at once, 1 MiB
	// frames).
	RemoteRead remote.ReadLimits
}

// API serves the endpoints over one DB.
type API struct {
	db     DB
	engine *promql.Engine
	opts   Options
	sem    chan struct{}
	refs   *storage.RefCache
	meta   *metadataStore
	log    *slog.Logger

	// stopQueries is canceled when the server shuts down (CancelQueries):
	// every query's context ends with it.
	stopQueries           context.Context
	cancelQueries         context.CancelFunc
	queryStats            queryStats
	ingestRate, queryRate *selfmon.Rate
	warned                sync.Map // query warnings logged once
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
	if opts.LookbackDelta <= 0 {
		opts.LookbackDelta = 5 * time.Minute
	}
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = 256 << 20
	}
	if opts.MaxMetadata <= 0 {
		opts.MaxMetadata = 10_000
	}
	if opts.MaxMetadataPerMetric <= 0 {
		opts.MaxMetadataPerMetric = 10
	}
	stop, cancel := context.WithCancel(context.Background())
	a := &API{
		stopQueries: stop, cancelQueries: cancel,
		db: db, engine: opts.Engine, opts: opts, log: opts.Logger,
		meta:       newMetadataStore(opts.MaxMetadata, opts.MaxMetadataPerMetric),
		sem:        make(chan struct{}, opts.MaxConcurrency),
		refs:       storage.NewRefCache(4 << 20),
		ingestRate: selfmon.NewRate(5 * time.Second),
		queryRate:  selfmon.NewRate(5 * time.Second),
	}
	if opts.Metrics != nil {
		_ = opts.Metrics.Registry.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tsdb_metadata_dropped_total",
			Help: "Remote-write metadata entries not kept: over write.max_metadata families or write.max_metadata_per_metric entries.",
		}, func() float64 { return float64(a.meta.Dropped()) }))
	}
	return a
}

func (a *API) now() time.Time { return a.opts.Now() }

// CancelQueries ends every running query, and any that starts later, with
// 503 unavailable: the server is shutting down, and a query must not hold
// the shutdown up for as long as its timeout.
func (a *API) CancelQueries() { a.cancelQueries() }

// Tick feeds the ingestion and query rates of /admin/status; the server
// calls it every second or so.
func (a *API) Tick(now time.Time, samplesIngested float64) {
	a.ingestRate.Observe(now, samplesIngested)
	a.queryRate.Observe(now, float64(a.queryStats.count.Load()))
}

// Register adds every endpoint to mux. The guide's paths (/query,
// /query_range, /write, /admin/status, and the roadmap's
// /api/v1/admin/snapshot) are served beside Prometheus's.
func (a *API) Register(mux *http.ServeMux) {
	known := map[string]bool{}
	handle := func(pattern string, h http.Handler) {
		mux.Handle(pattern, h)
		known[pattern[strings.IndexByte(pattern, ' ')+1:]] = true
	}
	get := func(pattern, name string, f apiHandler) {
		handle("GET "+pattern, a.wrap(name, a.apiFunc(f)))
	}
	getPost := func(pattern, name string, f apiHandler) {
		h := a.wrap(name, a.apiFunc(f))
		handle("GET "+pattern, h)
		handle("POST "+pattern, h)
	}
	// admin endpoints change or copy the stored data: off unless enabled,
	// and never on a cross-origin browser request (see security.go).
	admin := func(methods, pattern, name string, h http.Handler) {
		h = a.wrap(name, a.adminOnly(h))
		for m := range strings.SplitSeq(methods, ",") {
			handle(m+" "+pattern, h)
		}
	}
	for _, prefix := range []string{"/api/v1", ""} { // "": the guide's paths
		getPost(prefix+"/query", "query", a.query)
		getPost(prefix+"/query_range", "query_range", a.queryRange)
	}
	getPost("/api/v1/format_query", "format_query", a.formatQuery)
	getPost("/api/v1/parse_query", "parse_query", a.parseQuery)
	getPost("/api/v1/series", "series", a.series)
	getPost("/api/v1/labels", "labels", a.labels)
	get("/api/v1/label/{name}/values", "label_values", a.labelValues)
	get("/api/v1/metadata", "metadata", a.metadata)
	getPost("/api/v1/query_exemplars", "query_exemplars", a.exemplars)
	get("/api/v1/status/buildinfo", "buildinfo", a.buildInfo)
	get("/api/v1/status/runtimeinfo", "runtimeinfo", a.runtimeInfo)
	get("/api/v1/status/config", "status_config", a.configStatus)
	get("/api/v1/status/flags", "status_flags", a.flagsStatus)
	get("/api/v1/status/walreplay", "status_walreplay", a.walReplayStatus)
	get("/api/v1/status/tsdb", "status_tsdb", a.tsdbStatus)
	get("/api/v1/status/blocks", "status_blocks", a.blocksStatus)
	handle("GET /federate", a.wrap("federate", http.HandlerFunc(a.federate)))
	admin("POST", "/api/v1/admin/tsdb/snapshot", "snapshot", a.apiFunc(a.snapshot))
	admin("POST", "/api/v1/admin/snapshot", "snapshot", a.apiFunc(a.snapshot)) // the roadmap's path
	admin("GET", "/api/v1/admin/tsdb/snapshots", "snapshots", a.apiFunc(a.listSnapshots))
	admin("DELETE", "/api/v1/admin/tsdb/snapshots/{name}", "delete_snapshot", http.HandlerFunc(a.deleteSnapshot))
	admin("POST,PUT", "/api/v1/admin/tsdb/delete_series", "delete_series", http.HandlerFunc(a.deleteSeries))
	admin("POST,PUT", "/api/v1/admin/tsdb/clean_tombstones", "clean_tombstones", http.HandlerFunc(a.cleanTombstones))
	admin("POST", "/api/v1/admin/tsdb/compact", "compact", a.apiFunc(a.compact))
	admin("GET", "/api/v1/admin/tsdb/compact/{id}", "compact_job", a.apiFunc(a.compactJob))
	handle("POST /api/v1/write", a.wrap("remote_write", sameOrigin(http.HandlerFunc(a.remoteWrite))))
	// Prometheus remote read (stage11's handler): sampled or streamed
	// answers, native histograms included
	handle("POST /api/v1/read", a.wrap("remote_read", remote.ReadHandler(remote.TSDBStorage{DB: a.db}, a.opts.RemoteRead)))
	handle("POST /write", a.wrap("write", sameOrigin(http.HandlerFunc(a.textWrite))))
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

// apiHandler is an endpoint that returns its data (or an error) and any
// warnings; apiFunc writes the envelope.
type apiHandler func(*http.Request) (any, []string, *apiError)

// apiFunc adapts a handler returning (data, warnings, error) to the
// envelope.
func (a *API) apiFunc(f apiHandler) http.Handler {
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
		data, warnings, aerr := f(r)
		if aerr != nil {
			respondError(w, aerr)
			return
		}
		if qr, ok := data.(queryResult); ok {
			a.writeQueryResult(w, qr, warnings)
			return
		}
		respond(w, data, warnings)
	})
}

// writeQueryResult writes a query's answer unless its JSON would be over
// MaxResponseBytes: refused at once if a lower bound of its size is over
// (minJSONBytes), else once the encoding passes the limit. Either way the
// answer is a 422 naming the limit, and at most the limit (and a series)
// is ever allocated for it.
func (a *API) writeQueryResult(w http.ResponseWriter, qr queryResult, warnings []string) {
	limit := a.opts.MaxResponseBytes
	tooLarge := func() {
		respondError(w, newError(ErrExecution, fmt.Errorf("%w: the answer would be more than %d bytes of JSON (--query.max-response-bytes); ask for fewer series, a shorter range or a larger step", ErrResponseTooLarge, limit)))
	}
	if minJSONBytes(qr.v) > limit {
		tooLarge()
		return
	}
	b, ok := qr.appendJSONLimit(make([]byte, 0, 4096), warnings, int(min(limit, math.MaxInt)))
	if !ok {
		tooLarge()
		return
	}
	writeRaw(w, http.StatusOK, b)
}

// ErrResponseTooLarge: a query's answer would be over MaxResponseBytes.
var ErrResponseTooLarge = errors.New("response too large")

// apiRaw writes the data itself, without the envelope (/admin/status).
func (a *API) apiRaw(f apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _, aerr := f(r)
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
