package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
)

// rangeForm is the match[], start and end of a series or label lookup
// (zero times are left out: all time).
func rangeForm(start, end time.Time, matches []string) url.Values {
	form := url.Values{}
	for _, m := range matches {
		form.Add("match[]", m)
	}
	if !start.IsZero() {
		form.Set("start", formatTime(start))
	}
	if !end.IsZero() {
		form.Set("end", formatTime(end))
	}
	return form
}

// Series returns the label sets of the series matching any of the
// selectors (at least one) with samples between start and end.
func (c *Client) Series(ctx context.Context, start, end time.Time, matches ...string) ([]model.Labels, error) {
	var data []map[string]string
	if _, err := c.getJSON(ctx, request{method: http.MethodPost, path: "/api/v1/series", form: rangeForm(start, end, matches)}, &data); err != nil {
		return nil, err
	}
	out := make([]model.Labels, len(data))
	for i, m := range data {
		lset, err := labelsOf(m)
		if err != nil {
			return nil, err
		}
		out[i] = lset
	}
	return out, nil
}

// Labels returns the label names of the series matching the selectors
// (none: all series), sorted.
func (c *Client) Labels(ctx context.Context, start, end time.Time, matches ...string) ([]string, error) {
	var names []string
	_, err := c.getJSON(ctx, request{method: http.MethodPost, path: "/api/v1/labels", form: rangeForm(start, end, matches)}, &names)
	return names, err
}

// LabelValues returns the values of label name over the series matching
// the selectors (none: all series), sorted.
func (c *Client) LabelValues(ctx context.Context, name string, start, end time.Time, matches ...string) ([]string, error) {
	var values []string
	_, err := c.getJSON(ctx, request{method: http.MethodGet, path: "/api/v1/label/" + url.PathEscape(name) + "/values", query: rangeForm(start, end, matches)}, &values)
	return values, err
}

// RuntimeInfo is /api/v1/status/runtimeinfo's data, Prometheus's fields in
// Prometheus's order. A stage15 server reads its configuration once, at
// start-up, so lastConfigTime is the start time and reloadConfigSuccess is
// true; corruptionCount counts the damage found on opening the storage
// (corrupt blocks left out, a WAL repaired).
type RuntimeInfo struct {
	StartTime           time.Time `json:"startTime"`
	CWD                 string    `json:"CWD"`
	Hostname            string    `json:"hostname"`
	ServerTime          time.Time `json:"serverTime"`
	ReloadConfigSuccess bool      `json:"reloadConfigSuccess"`
	LastConfigTime      time.Time `json:"lastConfigTime"`
	CorruptionCount     int64     `json:"corruptionCount"`
	GoroutineCount      int       `json:"goroutineCount"`
	GOMAXPROCS          int       `json:"GOMAXPROCS"`
	GOMEMLIMIT          int64     `json:"GOMEMLIMIT"`
	GOGC                string    `json:"GOGC"`
	GODEBUG             string    `json:"GODEBUG"`
	StorageRetention    string    `json:"storageRetention"`
}

// RuntimeInfo fetches /api/v1/status/runtimeinfo.
func (c *Client) RuntimeInfo(ctx context.Context) (*RuntimeInfo, error) {
	var ri RuntimeInfo
	if _, err := c.getJSON(ctx, request{method: http.MethodGet, path: "/api/v1/status/runtimeinfo"}, &ri); err != nil {
		return nil, err
	}
	return &ri, nil
}

// Config fetches /api/v1/status/config: the server's configuration as YAML.
func (c *Client) Config(ctx context.Context) (string, error) {
	var out struct {
		YAML string `json:"yaml"`
	}
	_, err := c.getJSON(ctx, request{method: http.MethodGet, path: "/api/v1/status/config"}, &out)
	return out.YAML, err
}

// Status is the guide's /admin/status.
type Status struct {
	Status  string `json:"status"`
	Storage struct {
		TotalSeries      int64   `json:"total_series"`
		TotalSamples     int64   `json:"total_samples"`
		DiskUsageBytes   int64   `json:"disk_usage_bytes"`
		CompressionRatio float64 `json:"compression_ratio"`
	} `json:"storage"`
	Ingestion struct {
		SamplesPerSecond float64 `json:"samples_per_second"`
		ActiveSeries     int64   `json:"active_series"`
	} `json:"ingestion"`
	Query struct {
		QueriesPerSecond float64 `json:"queries_per_second"`
		AvgLatencyMs     float64 `json:"avg_latency_ms"`
	} `json:"query"`
}

// Status fetches /admin/status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	body, err := c.do(ctx, request{method: http.MethodGet, path: "/admin/status"})
	if err != nil {
		return nil, err
	}
	var st Status
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("client: decoding /admin/status: %w", err)
	}
	return &st, nil
}

// NameCount is one entry of a top-N list of TSDBStatus.
type NameCount struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
}

// TSDBStatus is /api/v1/status/tsdb: head statistics and top-N lists.
type TSDBStatus struct {
	HeadStats struct {
		NumSeries     int64 `json:"numSeries"`
		NumLabelPairs int64 `json:"numLabelPairs"`
		ChunkCount    int64 `json:"chunkCount"`
		MinTime       int64 `json:"minTime"`
		MaxTime       int64 `json:"maxTime"`
	} `json:"headStats"`
	SeriesCountByMetricName     []NameCount `json:"seriesCountByMetricName"`
	LabelValueCountByLabelName  []NameCount `json:"labelValueCountByLabelName"`
	MemoryInBytesByLabelName    []NameCount `json:"memoryInBytesByLabelName"`
	SeriesCountByLabelValuePair []NameCount `json:"seriesCountByLabelValuePair"`
}

// TSDBStatus fetches /api/v1/status/tsdb with top-limit lists (0: the
// server's default, 10).
func (c *Client) TSDBStatus(ctx context.Context, limit int) (*TSDBStatus, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var st TSDBStatus
	if _, err := c.getJSON(ctx, request{method: http.MethodGet, path: "/api/v1/status/tsdb", query: q}, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Block is one persisted block.
type Block struct {
	ULID       string `json:"ulid"`
	MinTime    int64  `json:"minTime"`
	MaxTime    int64  `json:"maxTime"`
	NumSamples uint64 `json:"numSamples"`
	NumSeries  uint64 `json:"numSeries"`
	NumChunks  uint64 `json:"numChunks"`
	Level      int    `json:"level"`
	Bytes      int64  `json:"bytes"`
	IndexBytes int64  `json:"indexBytes"`
	Tombstones int    `json:"tombstones"`
}

// Blocks is /api/v1/status/blocks: the blocks, oldest first, and the head.
type Blocks struct {
	Blocks []Block `json:"blocks"`
	Head   struct {
		NumSeries  int64 `json:"numSeries"`
		NumSamples int64 `json:"numSamples"`
		MinTime    int64 `json:"minTime"`
		MaxTime    int64 `json:"maxTime"`
		Chunks     int64 `json:"chunks"`
		ChunkBytes int64 `json:"chunkBytes"`
	} `json:"head"`
	// Damaged are the blocks that are not served whole: moved into
	// <data-dir>/corrupted (unreadable), or with chunks that failed their
	// checksum (left out of queries, the block out of compaction).
	Damaged []DamagedBlock `json:"damaged"`
	// WAL is what the last start found in the WAL and did about it.
	WAL WALRecovery `json:"wal"`
}

// DamagedBlock is a damaged block, named with why.
type DamagedBlock struct {
	ULID    string `json:"ulid"`
	Dir     string `json:"dir"`
	MinTime int64  `json:"minTime"` // 0 and 0: meta.json unreadable
	MaxTime int64  `json:"maxTime"`
	Reason  string `json:"reason"`
	Moved   bool   `json:"moved"`
	Chunks  int    `json:"chunks,omitempty"` // chunk reads that failed
	Found   string `json:"found,omitempty"`  // RFC 3339
}

// WALRecovery says what the start found in the WAL: a torn tail cut off
// (a crash's unacknowledged last write), and what a repair
// (--storage.repair) did.
type WALRecovery struct {
	Records       int   `json:"records"` // replayed
	TornTailBytes int64 `json:"tornTailBytes"`
	// Repair is nil unless the server started with --storage.repair.
	Repair *WALRepair `json:"repair,omitempty"`
}

// WALRepair is what a repair of the WAL did.
type WALRepair struct {
	Problems    []string `json:"problems"`
	KeptRecords int      `json:"keptRecords"`
	LostRecords int      `json:"lostRecords"` // at least
	CutBytes    int64    `json:"cutBytes"`
	Rewritten   []string `json:"rewritten"` // originals kept as NAME.damaged
	Created     []string `json:"created"`   // empty files standing for missing ones
}

// Blocks fetches /api/v1/status/blocks (a stage15 server's own endpoint).
func (c *Client) Blocks(ctx context.Context) (*Blocks, error) {
	var b Blocks
	if _, err := c.getJSON(ctx, request{method: http.MethodGet, path: "/api/v1/status/blocks"}, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// CompactedBlock is a block written by a compaction.
type CompactedBlock struct {
	ULID       string  `json:"ulid"`
	MinTime    int64   `json:"minTime"`
	MaxTime    int64   `json:"maxTime"`
	NumSamples uint64  `json:"numSamples"`
	NumSeries  uint64  `json:"numSeries"`
	Level      int     `json:"level"`
	Parents    int     `json:"parents"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"durationSeconds"`
}

// DeletedBlock is a block that retention deleted.
type DeletedBlock struct {
	ULID    string `json:"ulid"`
	MinTime int64  `json:"minTime"`
	MaxTime int64  `json:"maxTime"`
	Bytes   int64  `json:"bytes"`
	Reason  string `json:"reason"` // "time" or "size"
}

// States of a CompactJob.
const (
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// CompactJob is a compaction started through the admin API (a stage15
// server's own endpoint): what it has written and deleted so far.
type CompactJob struct {
	ID      int64            `json:"id"`
	State   string           `json:"state"` // JobRunning, JobDone or JobFailed
	Started string           `json:"started"`
	Seconds float64          `json:"durationSeconds"` // so far, while running
	Blocks  []CompactedBlock `json:"blocks"`
	Deleted []DeletedBlock   `json:"deleted"`
	Error   string           `json:"error,omitempty"`
}

// Compact asks the server to start compacting whatever is due, and
// returns the job: running, or already finished when there was little to
// do. If a job is running already, that one is returned. Follow it with
// CompactJob. Not retried.
func (c *Client) Compact(ctx context.Context) (CompactJob, error) {
	var out CompactJob
	_, err := c.noRetry().getJSON(ctx, request{method: http.MethodPost, path: "/api/v1/admin/tsdb/compact"}, &out)
	return out, err
}

// CompactJob fetches the state of the compaction job id. A job is kept
// until the next one starts; an older one answers 404.
func (c *Client) CompactJob(ctx context.Context, id int64) (CompactJob, error) {
	var out CompactJob
	_, err := c.getJSON(ctx, request{method: http.MethodGet, path: "/api/v1/admin/tsdb/compact/" + strconv.FormatInt(id, 10)}, &out)
	return out, err
}

// SnapshotName is the answer of POST /api/v1/admin/tsdb/snapshot.
type SnapshotName struct {
	Name string `json:"name"`
}

// Snapshot asks the server for a snapshot and returns its name, a
// directory under <data-dir>/snapshots. skipHead leaves out the head (the
// samples not yet in a block).
func (c *Client) Snapshot(ctx context.Context, skipHead bool) (string, error) {
	var out SnapshotName
	q := url.Values{"skip_head": {strconv.FormatBool(skipHead)}}
	_, err := c.noRetry().getJSON(ctx, request{method: http.MethodPost, path: "/api/v1/admin/tsdb/snapshot", query: q}, &out)
	return out.Name, err
}

// Snapshot is one entry of GET /api/v1/admin/tsdb/snapshots.
type Snapshot struct {
	Name     string `json:"name"`
	Time     string `json:"time"` // RFC 3339, UTC
	Blocks   int    `json:"blocks"`
	WithHead bool   `json:"withHead"` // it holds the WAL, so the head too
	Bytes    int64  `json:"bytes"`    // its files' sizes; hard links share them with the data directory
}

// Snapshots lists the server's snapshots, oldest first.
func (c *Client) Snapshots(ctx context.Context) ([]Snapshot, error) {
	var out []Snapshot
	_, err := c.getJSON(ctx, request{method: http.MethodGet, path: "/api/v1/admin/tsdb/snapshots"}, &out)
	return out, err
}

// DeleteSnapshot removes the snapshot name; a name that is not a snapshot
// is an *Error with status 404.
func (c *Client) DeleteSnapshot(ctx context.Context, name string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: "/api/v1/admin/tsdb/snapshots/" + url.PathEscape(name)})
	return err
}

// Ready reports whether the server answers /-/ready with 200 (it has
// replayed its WAL). One attempt, no retries.
func (c *Client) Ready(ctx context.Context) (bool, error) {
	_, err := c.noRetry().do(ctx, request{method: http.MethodGet, path: "/-/ready"})
	if err == nil {
		return true, nil
	}
	if IsStatus(err, http.StatusServiceUnavailable) {
		return false, nil
	}
	return false, err
}

// noRetry is a copy of c that makes one attempt per call.
func (c *Client) noRetry() *Client {
	cc := *c
	cc.opts.MaxRetries = -1
	return &cc
}
