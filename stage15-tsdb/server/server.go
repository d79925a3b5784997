// Package server composes the capstone: the storage engine (stage06's
// tsdb.DB), the PromQL engine (stage10), the HTTP API (package api) and
// self-monitoring (package selfmon), with their lifecycle:
//
//	Start   listen at once (/-/healthy answers, /-/ready says 503), open the
//	        DB in the background (blocks loaded, WAL replayed), then serve
//	        the API and start the compaction loop
//	Run     Start, wait for the context (SIGINT/SIGTERM in `tsdb start`),
//	        Shutdown
//	Shutdown stop accepting, let in-flight requests finish, stop compaction,
//	        close the DB (WAL synced, head chunks and blocks closed)
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage15-tsdb/api"
	"github.com/tsdb-course/stage15-tsdb/config"
	"github.com/tsdb-course/stage15-tsdb/selfmon"
	"github.com/tsdb-course/stage15-tsdb/storage"
)

// Version is the server's version, printed at start-up and by buildinfo.
const Version = "0.15.0"

// Options are the settings that are not in the config file.
type Options struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// CompactInterval is how often the compaction loop looks for due work.
	// Defaults to one minute.
	CompactInterval time.Duration
	// Storage overrides the storage engine's options (tests); Retention
	// and the out-of-order window still come from the config.
	Storage tsdb.Options
	// Features are the PromQL features --enable-feature turned on.
	Features promql.Features
	// Flags are the command line's flags and values, for
	// /api/v1/status/flags.
	Flags map[string]string
	// Repair lets the start repair a damaged data directory instead of
	// refusing it (--storage.repair): damaged WAL bytes are cut out,
	// damaged blocks moved into <data-dir>/corrupted, and what was dropped
	// is logged and shown by /api/v1/status/blocks.
	Repair bool
}

// Server is one running TSDB server.
type Server struct {
	cfg  config.Config
	opts Options
	log  *slog.Logger

	ln      net.Listener
	http    *http.Server
	metrics *selfmon.Metrics

	db      atomic.Pointer[tsdb.DB]
	api     atomic.Pointer[api.API]
	handler atomic.Pointer[http.Handler]
	ready   chan struct{}
	openErr error // set before ready is closed

	compactMu    sync.Mutex // one compaction or snapshot at a time
	jobs         compactJobs
	headSamples  atomic.Int64 // estimate: replayed + ingested − cut into blocks
	walReplay    atomic.Pointer[api.WALReplayStatus]
	damageLogged sync.Map // block ULIDs whose damage was logged
	// ctx ends at Shutdown: a compaction stops between two blocks.
	ctx       context.Context
	cancel    context.CancelFunc
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	started   time.Time
}

// New returns a server for cfg; Start runs it.
func New(cfg config.Config, opts Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CompactInterval <= 0 {
		opts.CompactInterval = time.Minute
	}
	s := &Server{cfg: cfg, opts: opts, log: opts.Logger, ready: make(chan struct{}), stop: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.jobs.s = s
	s.metrics = selfmon.New(selfmon.Gauges{
		HeadSeries: s.gauge(func(db *tsdb.DB) float64 { return float64(db.Head().NumSeries()) }),
		HeadChunks: s.gauge(func(db *tsdb.DB) float64 {
			st := db.Head().Stats()
			return float64(st.OpenChunks + st.MappedChunks + st.OOOChunks + st.PastChunks)
		}),
		WALBytes: s.gauge(func(db *tsdb.DB) float64 { return float64(db.WALSize()) }),
		Blocks:   s.gauge(func(db *tsdb.DB) float64 { return float64(len(db.Blocks())) }),
	})
	return s, nil
}

func (s *Server) gauge(f func(*tsdb.DB) float64) func() float64 {
	return func() float64 {
		if db := s.db.Load(); db != nil {
			return f(db)
		}
		return 0
	}
}

// Metrics returns the server's self-metrics.
func (s *Server) Metrics() *selfmon.Metrics { return s.metrics }

// Addr is the address the server listens on (after Start).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Ready is closed once the DB is open (or failed to open: see Err).
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Err is the error that kept the DB from opening, once Ready is closed.
func (s *Server) Err() error {
	<-s.ready
	return s.openErr
}

// DB is the storage engine, nil until ready.
func (s *Server) DB() *tsdb.DB { return s.db.Load() }

// Start listens and serves, and opens the DB in the background. With a
// web configuration file (web.config_file) it serves TLS and asks for
// basic auth as the file says; the file is checked here, so a bad one is
// an error before anything is served.
func (s *Server) Start() error {
	if err := web.Validate(s.cfg.Web.ConfigFile); err != nil {
		return fmt.Errorf("server: web config %s: %w", s.cfg.Web.ConfigFile, err)
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.ln = ln
	s.started = time.Now()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("Healthy.\n"))
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if s.handler.Load() == nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("Service Unavailable: replaying the WAL.\n"))
			return
		}
		_, _ = w.Write([]byte("Ready.\n"))
	})
	mux.Handle("GET /metrics", s.metrics.Instrument("metrics", s.metrics.Handler()))
	if s.cfg.Web.EnablePprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	// The WAL replay's progress is answered while the API is not up yet.
	s.walReplay.Store(walSegments(s.cfg.DataDir))
	mux.HandleFunc("GET /api/v1/status/walreplay", func(w http.ResponseWriter, r *http.Request) {
		if h := s.handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		api.Respond(w, *s.walReplay.Load())
	})
	// Answers are gzip-compressed for clients that accept it (Grafana,
	// Prometheus, browsers); /metrics compresses by itself.
	gz, err := gzhttp.NewWrapper()
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	mux.Handle("/", gz(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := s.handler.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		api.RespondError(w, api.ErrUnavailable, "the server is starting: replaying the WAL")
	})))
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		cfgFile := s.cfg.Web.ConfigFile
		err := web.Serve(ln, s.http, &web.FlagConfig{WebConfigFile: &cfgFile}, s.log)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server", "err", err)
		}
	}()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.open()
	}()
	return nil
}

// open opens the DB (the slow part of a restart: WAL replay) and then
// switches the API on.
func (s *Server) open() {
	defer close(s.ready)
	so := s.opts.Storage
	so.NoBackgroundCompaction = true // the server's loop compacts, to time it
	so.RetentionTime = time.Duration(s.cfg.Retention).Milliseconds()
	so.RetentionSize = s.cfg.RetentionSize
	so.OutOfOrderWindow = time.Duration(s.cfg.Write.OutOfOrderWindow).Milliseconds()
	so.FutureGrace = time.Duration(s.cfg.Write.FutureGrace).Milliseconds()
	so.WALSync = s.walSync()
	so.WALCompression = s.walCompression()
	so.OnBlockWritten = s.blockWritten
	so.OnRetention = s.retentionDeleted
	so.Repair = so.Repair || s.opts.Repair
	db, err := tsdb.Open(s.cfg.DataDir, so)
	if errors.Is(err, tsdb.ErrDamaged) {
		err = fmt.Errorf("%w\nTo see what a repair drops: stage15-tsdb repair --data-dir %s\nTo repair and start: stage15-tsdb start --storage.repair (with the same flags)", err, s.cfg.DataDir)
	}
	if err != nil {
		s.openErr = err
		s.log.Error("opening storage failed", "dir", s.cfg.DataDir, "err", err)
		return
	}
	select {
	case <-s.stop: // shut down while opening
		s.openErr = errors.New("server: shut down while opening")
		_ = db.Close()
		return
	default:
	}
	rec := db.Recovery()
	s.headSamples.Store(int64(rec.SamplesLoaded))
	s.db.Store(db)
	done := *s.walReplay.Load()
	done.Current = done.Max
	s.walReplay.Store(&done)
	ext := make([]string, 0, 2*len(s.cfg.ExternalLabels))
	for k, v := range s.cfg.ExternalLabels {
		ext = append(ext, k, v)
	}
	extLabels, _ := model.FromStrings(ext...) // names checked by cfg.Validate
	a := api.New(db, api.Options{
		Engine:           newEngine(s.cfg, s.opts.Features),
		MaxConcurrency:   s.cfg.Query.MaxConcurrency,
		MaxBodyBytes:     s.cfg.Write.MaxBodyBytes,
		Retention:        time.Duration(s.cfg.Retention),
		Metrics:          s.metrics,
		Logger:           s.log,
		BuildInfo:        api.ReadBuildInfo(Version),
		StartTime:        s.started,
		Snapshot:         s.snapshot,
		Compact:          func() ([]tsdb.CompactStats, error) { return s.compact(nil) },
		CompactJobs:      &s.jobs,
		HeadSamples:      func() int64 { return s.headSamples.Load() + int64(db.Head().Stats().SamplesAppended) },
		EnableAdminAPI:   s.cfg.Web.EnableAdminAPI,
		ConfigYAML:       s.cfg.YAML(),
		Flags:            s.opts.Flags,
		WALReplay:        func() api.WALReplayStatus { return *s.walReplay.Load() },
		ExternalLabels:   extLabels,
		LookbackDelta:    time.Duration(s.cfg.Query.LookbackDelta),
		MaxMetadata:      s.cfg.Write.MaxMetadata,
		MaxResponseBytes: s.cfg.Query.MaxResponseBytes,

		MaxMetadataPerMetric: s.cfg.Write.MaxMetadataPerMetric,
		RemoteRead:           remoteReadLimits(s.cfg.RemoteRead),
	})
	s.api.Store(a)
	mux := http.NewServeMux()
	a.Register(mux)
	var h http.Handler = mux
	s.handler.Store(&h)
	s.log.Info("storage ready",
		"blocks", rec.Blocks, "series", rec.SeriesLoaded, "wal_samples", rec.SamplesLoaded,
		"head_chunks", rec.HeadChunks, "replay", rec.Duration.Round(time.Millisecond))
	s.logRecovery(db)
	s.wg.Add(2)
	go s.compactLoop()
	go s.tickLoop()
}

// logRecovery logs what the start found on disk and did about it: each
// damaged block by name and reason, a torn WAL tail, a repair's every cut.
func (s *Server) logRecovery(db *tsdb.DB) {
	rec := db.Recovery()
	if tr := rec.WALTruncated; tr != nil {
		s.log.Info("wal: torn tail cut (a write the crash interrupted, never acknowledged)",
			"segment", tr.Segment, "offset", tr.Offset, "bytes", tr.Bytes, "reason", tr.Reason)
	}
	if r := rec.Repaired; r != nil {
		for _, p := range r.WAL.Problems {
			s.log.Warn("storage repair: wal", "problem", p.String())
		}
		s.log.Warn("storage repair: wal done", "kept_records", r.WAL.Records, "lost_records", r.WAL.LostRecords,
			"cut_bytes", r.WAL.CutBytes, "rewritten", r.WAL.Rewritten, "created", r.WAL.Created)
	}
	s.logDamage(db)
	if rec.HeadChunksErr != nil {
		s.log.Warn("head chunks damaged: rebuilt from the WAL", "err", rec.HeadChunksErr)
	}
}

// logDamage logs each damaged block once: those found at start-up, and
// those whose chunks failed their checksum later, when a query or a
// compaction read them.
func (s *Server) logDamage(db *tsdb.DB) {
	for _, d := range db.Damage() {
		if _, seen := s.damageLogged.LoadOrStore(d.ULID, true); seen {
			continue
		}
		if d.Moved {
			s.log.Warn("damaged block not served; queries over its range answer with a warning", "block", d.ULID, "mint", d.MinTime, "maxt", d.MaxTime,
				"reason", d.Reason, "moved_to", d.Dir)
		} else {
			s.log.Warn("damaged chunks left out of queries (with a warning), the block out of compaction", "block", d.ULID, "mint", d.MinTime, "maxt", d.MaxTime,
				"reason", d.Reason, "dir", d.Dir)
		}
	}
}

// newEngine is the PromQL engine the API runs queries on, set up from the
// config's query section.
func newEngine(cfg config.Config, features promql.Features) *promql.Engine {
	return promql.NewEngine(promql.Opts{
		Features:      features,
		LookbackDelta: time.Duration(cfg.Query.LookbackDelta),
		MaxSamples:    cfg.Query.MaxSamples,
		MaxMemory:     cfg.Query.MaxMemory,
		Timeout:       time.Duration(cfg.Query.Timeout),
	})
}

// walSegments is the WAL replay status before the replay: the first and
// last segment on disk, current at the first.
func walSegments(dataDir string) *api.WALReplayStatus {
	first, last, _, _ := wal.Segments(filepath.Join(dataDir, tsdb.WALDirname))
	return &api.WALReplayStatus{Min: first, Max: last, Current: first}
}

// snapshot takes a snapshot while no compaction runs (compaction
// checkpoints the WAL and deletes segments and blocks the snapshot links).
func (s *Server) snapshot(withHead bool) (string, error) {
	db := s.db.Load()
	if db == nil {
		return "", errors.New("server: storage not open")
	}
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	name, err := storage.Snapshot(db, withHead)
	if err == nil {
		s.log.Info("snapshot", "name", name, "dir", filepath.Join(s.cfg.DataDir, storage.SnapshotDirname, name), "with_head", withHead)
	}
	return name, err
}

func (s *Server) compactLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.CompactInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_, _ = s.compact(nil)
		}
	}
}

// tickLoop feeds /admin/status's rates.
func (s *Server) tickLoop() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			if a := s.api.Load(); a != nil {
				a.Tick(now, counterValue(s.metrics))
			}
		}
	}
}

// Shutdown stops accepting connections, waits for in-flight requests
// (until ctx ends), stops the background loops and closes the DB.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		close(s.stop)
		s.cancel() // a compaction stops after the block it is writing
		if a := s.api.Load(); a != nil {
			a.CancelQueries() // in-flight queries end now, not at their timeout
		}
		herr := s.http.Shutdown(ctx)
		if herr != nil {
			// The grace ran out: a handler may be blocked writing to a
			// client that stopped reading, holding a querier that
			// db.Close would wait for. Closing the connections fails
			// those writes, and the handlers return.
			_ = s.http.Close()
		}
		<-s.ready
		s.compactMu.Lock()
		s.compactMu.Unlock()
		s.wg.Wait()
		if db := s.db.Load(); db != nil {
			s.closeErr = db.Close()
		}
		if herr != nil && s.closeErr == nil {
			s.closeErr = herr
		}
	})
	return s.closeErr
}

// Run starts the server and serves until ctx is done, then shuts down
// (giving in-flight requests up to grace).
func (s *Server) Run(ctx context.Context, grace time.Duration) error {
	if err := s.Start(); err != nil {
		return err
	}
	s.logSummary()
	select {
	case <-ctx.Done():
	case <-s.ready:
		if s.openErr != nil {
			_ = s.Shutdown(context.Background())
			return s.openErr
		}
		<-ctx.Done()
	}
	s.log.Info("shutting down: no new connections, finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := s.Shutdown(sctx)
	if err == nil {
		s.log.Info("shutdown complete: head closed cleanly")
	}
	return err
}

// remoteReadLimits maps the configuration (Prometheus's meaning: 0 is no
// limit) onto the handler's limits (0 is the default, negative no limit).
func remoteReadLimits(c config.RemoteReadConfig) remote.ReadLimits {
	noLimit := func(n int) int {
		if n == 0 {
			return -1
		}
		return n
	}
	return remote.ReadLimits{SampleLimit: noLimit(c.SampleLimit), Concurrency: noLimit(c.ConcurrentLimit), FrameBytes: c.MaxBytesInFrame}
}
