package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage15-tsdb/config"
	"github.com/tsdb-course/stage15-tsdb/server"
)

// cmdStart runs the server until SIGINT or SIGTERM. Settings: defaults,
// then the --config file, then the flags given on the command line.
func cmdStart(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "start", "[--listen ADDR] [--data-dir DIR] [--retention 0] [--write.future-grace 10m] [--write.out-of-order-window 100y] [--config FILE] [--web.enable-admin-api] [--web.config.file FILE]", stderr)
	def := config.Default()
	listen := fs.String("listen", def.Listen, "HTTP listen address")
	dataDir := fs.String("data-dir", def.DataDir, "data directory (blocks, WAL, snapshots)")
	retention := def.Retention
	fs.Var(&retention, "retention", "delete blocks older than this, measured from the clock, and refuse samples older than that (0, the default: keep everything)")
	grace := def.Write.FutureGrace
	fs.Var(&grace, "write.future-grace", "refuse samples further ahead of the clock than this")
	oooWindow := def.Write.OutOfOrderWindow
	fs.Var(&oooWindow, "write.out-of-order-window", "accept samples up to this much older than the newest stored, also older than the newest block (0: refuse them, Prometheus's default)")
	cfgFile := fs.String("config", "", "YAML config file (see README); flags override it")
	qTimeout := def.Query.Timeout
	fs.Var(&qTimeout, "query.timeout", "per-query timeout")
	qConc := fs.Int("query.max-concurrency", def.Query.MaxConcurrency, "queries evaluated at once")
	qSamples := fs.Int("query.max-samples", def.Query.MaxSamples, "samples one query may hold in memory at once (as Prometheus counts them); over it, 422")
	qMemory := fs.Int64("query.max-memory", def.Query.MaxMemory, "bytes one query may hold in memory at once (samples at 16 bytes, the labels and per-step arrays it makes); over it, 422")
	qResponse := fs.Int64("query.max-response-bytes", def.Query.MaxResponseBytes, "bytes of JSON one query answer may have; over it, 422")
	walSync := fs.String("wal.sync", def.Write.WALSync, "when the WAL is fsynced: interval (a write is answered once written to the OS, fsynced every 100ms: survives kill -9), batch (answered once on disk: survives a power cut), always, none")
	walComp := fs.Bool("storage.tsdb.wal-compression", def.Write.WALCompression != "none", "compress WAL records (Prometheus's flag and default); false writes them as they are")
	walCompType := fs.String("storage.tsdb.wal-compression-type", compressionType(def.Write.WALCompression), "snappy (a third smaller, replays about as fast) or zstd (two thirds smaller, dearer to write and replay)")
	adminAPI := fs.Bool("web.enable-admin-api", def.Web.EnableAdminAPI, "serve /api/v1/admin/... (delete_series, clean_tombstones, snapshot, snapshots, compact)")
	pprofOn := fs.Bool("web.enable-pprof", def.Web.EnablePprof, "serve Go's profiler under /debug/pprof/")
	webCfg := fs.String("web.config.file", def.Web.ConfigFile, "Prometheus web configuration file: TLS and basic-auth users (exporter-toolkit format)")
	compactEvery := fs.Duration("compact-interval", time.Minute, "how often background compaction looks for work")
	logLevel := fs.String("log.level", "info", "debug, info, warn or error")
	var features promql.FeatureFlag
	fs.Var(&features, "enable-feature", "PromQL features to enable, comma-separated, repeatable, as in Prometheus: "+
		"promql-experimental-functions, promql-delayed-name-removal, promql-binop-fill-modifiers, "+
		"promql-unquoted-utf8-names, use-start-timestamps")
	gogc := fs.Int("runtime.gogc", def.Runtime.GOGC, "the Go garbage collector's target (GOGC): heap growth in percent past the live heap before the next collection; lower keeps less memory and spends more CPU (the GOGC environment variable, when set, wins)")
	memLimit := fs.Int64("runtime.memory-limit", def.Runtime.MemoryLimit, "soft limit on the Go runtime's memory in bytes (GOMEMLIMIT), 0 for none (the GOMEMLIMIT environment variable, when set, wins)")
	repair := fs.Bool("storage.repair", false, "repair a damaged data directory instead of refusing to start: cut damaged WAL bytes out (every intact record is kept), move damaged blocks into <data-dir>/corrupted; what is dropped is logged (see the repair command)")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	cfg := def
	if *cfgFile != "" {
		c, err := config.Load(*cfgFile)
		if err != nil {
			return err
		}
		cfg = c
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			cfg.Listen = *listen
		case "data-dir":
			cfg.DataDir = *dataDir
		case "retention":
			cfg.Retention = retention
		case "write.future-grace":
			cfg.Write.FutureGrace = grace
		case "write.out-of-order-window":
			cfg.Write.OutOfOrderWindow = oooWindow
		case "query.timeout":
			cfg.Query.Timeout = qTimeout
		case "query.max-concurrency":
			cfg.Query.MaxConcurrency = *qConc
		case "query.max-samples":
			cfg.Query.MaxSamples = *qSamples
		case "query.max-memory":
			cfg.Query.MaxMemory = *qMemory
		case "query.max-response-bytes":
			cfg.Query.MaxResponseBytes = *qResponse
		case "wal.sync":
			cfg.Write.WALSync = *walSync
		case "web.enable-admin-api":
			cfg.Web.EnableAdminAPI = *adminAPI
		case "web.enable-pprof":
			cfg.Web.EnablePprof = *pprofOn
		case "web.config.file":
			cfg.Web.ConfigFile = *webCfg
		case "runtime.gogc":
			cfg.Runtime.GOGC = *gogc
		case "runtime.memory-limit":
			cfg.Runtime.MemoryLimit = *memLimit
		}
	})
	// Prometheus's pair: the bool turns compression on or off, the type
	// picks the algorithm; together they set write.wal_compression.
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	switch {
	case given["storage.tsdb.wal-compression"] && !*walComp:
		cfg.Write.WALCompression = "none"
	case given["storage.tsdb.wal-compression-type"]:
		cfg.Write.WALCompression = *walCompType
	case given["storage.tsdb.wal-compression"] && cfg.Write.WALCompression == "none":
		cfg.Write.WALCompression = config.DefaultWALCompression
	}
	flags := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { flags[f.Name] = f.Value.String() })
	if err := cfg.Validate(); err != nil {
		return cli.Usagef("%v", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return cli.Usagef("--log.level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	applyRuntime(cfg.Runtime, logger)
	promqlFeatures, unknown := promql.ParseFeatures(features)
	for _, f := range unknown {
		logger.Warn("Unknown option for --enable-feature", "option", f)
	}
	srv, err := server.New(cfg, server.Options{Logger: logger, CompactInterval: *compactEvery, Features: promqlFeatures, Repair: *repair, Flags: flags})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return srv.Run(ctx, 30*time.Second)
}

// compressionType is the --storage.tsdb.wal-compression-type shown for a
// configured compression: the algorithm, snappy when compression is off.
func compressionType(c string) string {
	if c == "none" {
		return "snappy"
	}
	return c
}

// applyRuntime sets the garbage collector's target and soft memory limit
// from the configuration, unless the GOGC or GOMEMLIMIT environment
// variable is set (the Go runtime has applied it), as Prometheus does.
func applyRuntime(rc config.RuntimeConfig, logger *slog.Logger) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(rc.GOGC)
	}
	if os.Getenv("GOMEMLIMIT") == "" && rc.MemoryLimit > 0 {
		debug.SetMemoryLimit(rc.MemoryLimit)
	}
	gc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gc)
	logger.Debug("Go runtime", "gogc", gc, "memory_limit", debug.SetMemoryLimit(-1))
}
