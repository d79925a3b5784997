// Package selfmon is the server's self-monitoring: the Prometheus metrics it
// exposes about itself on /metrics (client_golang), and the short-window
// rates that /admin/status prints.
package selfmon

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every metric of the server, registered on its own registry
// (so two servers in one test process do not collide).
type Metrics struct {
	Registry *prometheus.Registry

	SamplesIngested prometheus.Counter
	SamplesRejected *prometheus.CounterVec // by reason: out_of_order, duplicate, out_of_bounds, too_old, too_new, invalid
	CommitDuration  prometheus.Histogram   // appender commits: WAL write + fsync (group commit) + apply

	Compactions        prometheus.Counter
	CompactionFailures prometheus.Counter
	CompactionDuration prometheus.Histogram
	RetentionDeletions *prometheus.CounterVec // blocks deleted by retention, by reason: time, size

	Queries        *prometheus.CounterVec   // by type: instant, range
	QueryDuration  *prometheus.HistogramVec // by type
	QueriesRunning prometheus.Gauge

	HTTPRequests *prometheus.CounterVec   // by handler, code
	HTTPDuration *prometheus.HistogramVec // by handler
}

// Gauges are read when /metrics is scraped: what the storage engine knows.
type Gauges struct {
	HeadSeries func() float64
	HeadChunks func() float64
	WALBytes   func() float64
	Blocks     func() float64
}

// New builds the metrics and registers them, the gauges, and the Go runtime
// and process collectors.
func New(g Gauges) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		SamplesIngested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tsdb_ingested_samples_total", Help: "Samples appended and committed."}),
		SamplesRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tsdb_rejected_samples_total", Help: "Samples refused, by reason."}, []string{"reason"}),
		CommitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tsdb_commit_duration_seconds", Help: "Appender commits: WAL write and fsync (group commit), then applying to the head.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		Compactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tsdb_compactions_total", Help: "Blocks written by compaction (head cuts and merges)."}),
		CompactionFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tsdb_compactions_failed_total", Help: "Compaction runs that failed."}),
		CompactionDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tsdb_compaction_duration_seconds", Help: "Duration of each block written by compaction.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		RetentionDeletions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tsdb_retention_deleted_blocks_total", Help: "Blocks deleted by retention, by reason: time (older than the retention), size (over the size limit)."}, []string{"reason"}),
		Queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tsdb_queries_total", Help: "PromQL queries run, by type."}, []string{"type"}),
		QueryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tsdb_query_duration_seconds", Help: "PromQL query latency, by type.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"type"}),
		QueriesRunning: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tsdb_queries_running", Help: "Queries being evaluated now."}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tsdb_http_requests_total", Help: "HTTP requests, by handler and status code."}, []string{"handler", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tsdb_http_request_duration_seconds", Help: "HTTP request latency, by handler.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}, []string{"handler"}),
	}
	r.MustRegister(m.SamplesIngested, m.SamplesRejected, m.CommitDuration, m.Compactions, m.CompactionFailures,
		m.CompactionDuration, m.RetentionDeletions, m.Queries, m.QueryDuration, m.QueriesRunning, m.HTTPRequests, m.HTTPDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gauge := func(name, help string, f func() float64) {
		if f != nil {
			r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
		}
	}
	gauge("tsdb_head_series", "Series in the head.", g.HeadSeries)
	gauge("tsdb_head_chunks", "Chunks in the head (open, memory-mapped and out-of-order).", g.HeadChunks)
	gauge("tsdb_wal_size_bytes", "Bytes in the WAL directory.", g.WALBytes)
	gauge("tsdb_blocks_loaded", "Persistent blocks.", g.Blocks)
	return m
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// Instrument wraps h to count its requests by status code and time them,
// under the handler label name.
func (m *Metrics) Instrument(name string, h http.Handler) http.Handler {
	dur := m.HTTPDuration.WithLabelValues(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &StatusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		dur.Observe(time.Since(start).Seconds())
		m.HTTPRequests.WithLabelValues(name, strconv.Itoa(sw.Code())).Inc()
	})
}

// StatusWriter remembers the status code written through it.
type StatusWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
}

// WriteHeader records the code.
func (w *StatusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Code is the status written (200 if none was).
func (w *StatusWriter) Code() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Bytes is the body bytes written.
func (w *StatusWriter) Bytes() int64 { return w.bytes }

// Unwrap lets http.ResponseController reach the connection.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
