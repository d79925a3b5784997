package server

import (
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage15-tsdb/selfmon"
)

// logSummary prints the guide's start-up summary, one slog line per part.
func (s *Server) logSummary() {
	dir, _ := filepath.Abs(s.cfg.DataDir)
	l := s.log
	l.Info("TSDB v" + Version + " starting...")
	l.Info("storage", "path", dir, "retention", s.cfg.Retention.String(), "block_range", "2h")
	l.Info("WAL", "dir", filepath.Join(dir, tsdb.WALDirname), "sync", walSyncSummary[s.walSync()], "segment", "16MiB", "compression", s.walCompression().String())
	l.Info("compaction", "mode", "background", "interval", s.opts.CompactInterval.String(), "levels", "2h,6h,18h,54h")
	l.Info("query engine", "language", "PromQL compatible", "timeout", s.cfg.Query.Timeout.String(),
		"max_concurrency", s.cfg.Query.MaxConcurrency, "max_samples", s.cfg.Query.MaxSamples)
	l.Info("HTTP API", "listening", "http://"+s.Addr(), "remote_write", "http://"+s.Addr()+"/api/v1/write")
}

// walSyncSummary says in the start-up summary what each --wal.sync means
// for an acknowledged write.
var walSyncSummary = map[wal.SyncPolicy]string{
	wal.SyncInterval: "fsync every 100ms in the background (acknowledged writes survive kill -9)",
	wal.SyncBatch:    "group commit (acknowledged writes are fsynced)",
	wal.SyncAlways:   "fsync per write",
	wal.SyncNone:     "no fsync (acknowledged writes survive kill -9, not a power cut)",
}

// walSync is the configured policy (Validate has checked it parses).
func (s *Server) walSync() wal.SyncPolicy {
	p, _ := wal.ParseSyncPolicy(s.cfg.Write.WALSync)
	return p
}

// walCompression is the configured WAL compression (validated by Config).
func (s *Server) walCompression() wal.Compression {
	c, _ := wal.ParseCompression(s.cfg.Write.WALCompression)
	return c
}

// counterValue reads the ingested-samples counter.
func counterValue(m *selfmon.Metrics) float64 {
	var d dto.Metric
	if err := m.SamplesIngested.(prometheus.Metric).Write(&d); err != nil {
		return 0
	}
	return d.GetCounter().GetValue()
}
