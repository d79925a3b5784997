package server

import (
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage15-tsdb/selfmon"
)

// logSummary prints the guide's start-up summary, one slog line per part.
func (s *Server) logSummary() {
	dir, _ := filepath.Abs(s.cfg.DataDir)
	l := s.log
	l.Info("TSDB v" + Version + " starting...")
	l.Info("storage", "path", dir, "retention", s.cfg.Retention.String(), "block_range", "2h")
	l.Info("WAL", "dir", filepath.Join(dir, tsdb.WALDirname), "sync", "group commit (fsync per batch)", "segment", "16MiB")
	l.Info("compaction", "mode", "background", "interval", s.opts.CompactInterval.String(), "levels", "2h,6h,18h,54h")
	l.Info("query engine", "language", "PromQL compatible", "timeout", s.cfg.Query.Timeout.String(),
		"max_concurrency", s.cfg.Query.MaxConcurrency, "max_samples", s.cfg.Query.MaxSamples)
	l.Info("HTTP API", "listening", "http://"+s.Addr(), "remote_write", "http://"+s.Addr()+"/api/v1/write")
}

// counterValue reads the ingested-samples counter.
func counterValue(m *selfmon.Metrics) float64 {
	var d dto.Metric
	if err := m.SamplesIngested.(prometheus.Metric).Write(&d); err != nil {
		return 0
	}
	return d.GetCounter().GetValue()
}
