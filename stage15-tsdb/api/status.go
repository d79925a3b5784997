package api

import (
	"cmp"
	"math"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage15-tsdb/client"
	"github.com/tsdb-course/stage15-tsdb/config"
)

// BuildInfo is /api/v1/status/buildinfo's data.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// ReadBuildInfo fills BuildInfo from the binary's embedded build settings.
func ReadBuildInfo(version string) BuildInfo {
	bi := BuildInfo{Version: version, GoVersion: runtime.Version(), Branch: "HEAD", BuildUser: "unknown", BuildDate: "unknown", Revision: "unknown"}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				bi.Revision = s.Value
			case "vcs.time":
				bi.BuildDate = s.Value
			}
		}
	}
	return bi
}

func (a *API) buildInfo(*http.Request) (any, []string, *apiError) { return a.opts.BuildInfo, nil, nil }

// runtimeInfo serves /api/v1/status/runtimeinfo.
func (a *API) runtimeInfo(*http.Request) (any, []string, *apiError) {
	cwd, _ := os.Getwd()
	host, _ := os.Hostname()
	retention := "0s"
	if a.opts.Retention > 0 {
		retention = config.Duration(a.opts.Retention).String()
	}
	return client.RuntimeInfo{
		StartTime:           a.opts.StartTime.UTC(),
		CWD:                 cwd,
		Hostname:            host,
		ServerTime:          a.now().UTC(),
		ReloadConfigSuccess: true,
		LastConfigTime:      a.opts.StartTime.UTC(),
		CorruptionCount:     int64(len(a.db.Damage())),
		GoroutineCount:      runtime.NumGoroutine(),
		GOMAXPROCS:          runtime.GOMAXPROCS(0),
		GOMEMLIMIT:          debug.SetMemoryLimit(-1),
		GOGC:                os.Getenv("GOGC"),
		GODEBUG:             os.Getenv("GODEBUG"),
		StorageRetention:    retention,
	}, nil, nil
}

// configStatus serves /api/v1/status/config: {"yaml": the effective
// configuration, every key with its value, defaults included}.
func (a *API) configStatus(*http.Request) (any, []string, *apiError) {
	return map[string]string{"yaml": a.opts.ConfigYAML}, nil, nil
}

// flagsStatus serves /api/v1/status/flags: every command-line flag with
// its value (the default where not given), as strings.
func (a *API) flagsStatus(*http.Request) (any, []string, *apiError) {
	if a.opts.Flags == nil {
		return map[string]string{}, nil, nil
	}
	return a.opts.Flags, nil, nil
}

// WALReplayStatus is /api/v1/status/walreplay's data: the first and last
// WAL segments found at start-up and the segment being replayed (Current
// is Max once the replay is done).
type WALReplayStatus struct {
	Min     int `json:"min"`
	Max     int `json:"max"`
	Current int `json:"current"`
}

func (a *API) walReplayStatus(*http.Request) (any, []string, *apiError) {
	if a.opts.WALReplay == nil {
		return WALReplayStatus{}, nil, nil
	}
	return a.opts.WALReplay(), nil, nil
}

// topN returns the n largest counts, largest first (ties by name).
func topN(m map[string]uint64, n int) []client.NameCount {
	out := make([]client.NameCount, 0, len(m))
	for k, v := range m {
		out = append(out, client.NameCount{Name: k, Value: v})
	}
	slices.SortFunc(out, func(a, b client.NameCount) int {
		if c := cmp.Compare(b.Value, a.Value); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out[:min(n, len(out))]
}

// tsdbStatus serves /api/v1/status/tsdb: head statistics and the top ten
// of series count by metric name and by label pair, label values by label
// name, and label bytes by label name, over the head's series (as
// Prometheus computes them). limit (default 10) changes the ten.
func (a *API) tsdbStatus(r *http.Request) (any, []string, *apiError) {
	limit := 10
	if s := r.FormValue("limit"); s != "" {
		n, err := parseInt(s)
		if err != nil || n < 1 {
			return nil, nil, badParam("limit", errNotPositive)
		}
		limit = n
	}
	head := a.db.Head()
	st := head.Stats()
	byName, byPair, bytesByLabel := map[string]uint64{}, map[string]uint64{}, map[string]uint64{}
	values := map[string]map[string]struct{}{}
	if st.Series > 0 {
		q, err := a.db.Querier(st.MinT, st.MaxT)
		if err != nil {
			return nil, nil, newError(ErrInternal, err)
		}
		defer q.Close()
		ss := q.Select()
		for ss.Next() {
			for l := range ss.At().Labels().All() {
				if l.Name == "__name__" {
					byName[l.Value]++
				}
				pair := l.Name + "=" + l.Value
				if byPair[pair] == 0 {
					bytesByLabel[l.Name] += uint64(len(l.Value))
				}
				byPair[pair]++
				if values[l.Name] == nil {
					values[l.Name] = map[string]struct{}{}
				}
				values[l.Name][l.Value] = struct{}{}
			}
		}
		if err := ss.Err(); err != nil {
			return nil, nil, newError(ErrInternal, err)
		}
	}
	valueCount := map[string]uint64{}
	for name, vs := range values {
		valueCount[name] = uint64(len(vs))
	}
	minT, maxT := st.MinT, st.MaxT
	if st.Series == 0 || minT == math.MaxInt64 {
		minT, maxT = 0, 0
	}
	var out client.TSDBStatus
	out.HeadStats.NumSeries, out.HeadStats.NumLabelPairs = int64(st.Series), int64(len(byPair))
	out.HeadStats.ChunkCount = int64(st.OpenChunks + st.MappedChunks + st.OOOChunks + st.PastChunks)
	out.HeadStats.MinTime, out.HeadStats.MaxTime = minT, maxT
	out.SeriesCountByMetricName = topN(byName, limit)
	out.LabelValueCountByLabelName = topN(valueCount, limit)
	out.MemoryInBytesByLabelName = topN(bytesByLabel, limit)
	out.SeriesCountByLabelValuePair = topN(byPair, limit)
	return out, nil, nil
}

// queryStats sums query count and latency for /admin/status.
type queryStats struct {
	count atomic.Int64
	nanos atomic.Int64
}

func (s *queryStats) observe(d time.Duration) {
	s.count.Add(1)
	s.nanos.Add(int64(d))
}

// rawSampleBytes is what one sample takes uncompressed: an int64 timestamp
// and a float64 value. The compression ratio compares against it.
const rawSampleBytes = 16

// adminStatus serves the guide's GET /admin/status.
func (a *API) adminStatus(*http.Request) (any, []string, *apiError) {
	head := a.db.Head()
	st := head.Stats()
	var blockSamples, blockBytes int64
	for _, b := range a.db.Blocks() {
		blockSamples += int64(b.Stats.NumSamples)
		blockBytes += b.Size
	}
	headSamples := int64(0)
	if a.opts.HeadSamples != nil {
		headSamples = a.opts.HeadSamples()
	}
	samples := blockSamples + headSamples
	stored := blockBytes + st.HeadChunkBytes + st.OpenChunkBytes
	ratio := 0.0
	if stored > 0 {
		ratio = math.Round(float64(samples*rawSampleBytes)/float64(stored)*10) / 10
	}
	totalSeries, err := a.countSeries()
	if err != nil {
		return nil, nil, newError(ErrInternal, err)
	}
	// What the files take on disk (allocated blocks, as du counts), not
	// their length: the head-chunks file is created 128 MiB long and
	// sparse. Snapshots count too, their hard links to blocks once.
	diskUsage, _ := measure.DiskUsage(a.db.Dir())
	n, sum := a.queryStats.count.Load(), a.queryStats.nanos.Load()
	avg := 0.0
	if n > 0 {
		avg = math.Round(float64(sum)/float64(n)/1e4) / 100
	}
	var out client.Status
	out.Status = "healthy"
	out.Storage.TotalSeries, out.Storage.TotalSamples = int64(totalSeries), samples
	out.Storage.DiskUsageBytes, out.Storage.CompressionRatio = diskUsage, ratio
	out.Ingestion.SamplesPerSecond, out.Ingestion.ActiveSeries = math.Round(a.ingestRate.PerSecond()), int64(st.Series)
	out.Query.QueriesPerSecond, out.Query.AvgLatencyMs = math.Round(a.queryRate.PerSecond()*100)/100, avg
	return out, nil, nil
}

// countSeries counts the distinct series of the whole DB (head and blocks).
func (a *API) countSeries() (int, error) {
	q, err := a.db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		return 0, err
	}
	defer q.Close()
	ss := q.Select()
	n := 0
	for ss.Next() {
		n++
	}
	return n, ss.Err()
}

// blocksStatus serves /api/v1/status/blocks (this server's own, for `tsdb
// inspect`): the persisted blocks, oldest first, and the head's range and
// size.
func (a *API) blocksStatus(*http.Request) (any, []string, *apiError) {
	// The response is the client package's type: one definition of the
	// wire format for both ends.
	out := client.Blocks{Blocks: []client.Block{}}
	for _, b := range a.db.Blocks() {
		out.Blocks = append(out.Blocks, client.Block{
			ULID: b.ULID.String(), MinTime: b.MinTime, MaxTime: b.MaxTime,
			NumSamples: b.Stats.NumSamples, NumSeries: b.Stats.NumSeries, NumChunks: b.Stats.NumChunks,
			Level: b.Compaction.Level, Bytes: b.Size, IndexBytes: b.IndexSize, Tombstones: b.Tombstones,
		})
	}
	st := a.db.Head().Stats()
	h := &out.Head
	h.NumSeries, h.MinTime, h.MaxTime = int64(st.Series), st.MinT, st.MaxT
	if st.Series == 0 || st.MinT == math.MaxInt64 {
		h.MinTime, h.MaxTime = 0, 0
	}
	h.NumSamples = int64(st.SamplesAppended)
	if a.opts.HeadSamples != nil {
		h.NumSamples = a.opts.HeadSamples()
	}
	h.Chunks = int64(st.OpenChunks + st.MappedChunks + st.OOOChunks + st.PastChunks)
	h.ChunkBytes = int64(st.OpenChunkBytes + st.HeadChunkBytes)
	out.Damaged = []client.DamagedBlock{}
	for _, d := range a.db.Damage() {
		db := client.DamagedBlock{ULID: d.ULID, Dir: d.Dir, MinTime: d.MinTime, MaxTime: d.MaxTime, Reason: d.Reason, Moved: d.Moved, Chunks: d.Chunks}
		if !d.Found.IsZero() {
			db.Found = d.Found.UTC().Format(time.RFC3339)
		}
		out.Damaged = append(out.Damaged, db)
	}
	rec := a.db.Recovery()
	out.WAL.Records = rec.WALRecords
	if rec.WALTruncated != nil {
		out.WAL.TornTailBytes = rec.WALTruncated.Bytes
	}
	if rec.Repaired != nil {
		w := rec.Repaired.WAL
		r := &client.WALRepair{KeptRecords: w.Records, LostRecords: w.LostRecords, CutBytes: w.CutBytes, Problems: []string{}, Rewritten: w.Rewritten, Created: w.Created}
		for _, p := range w.Problems {
			r.Problems = append(r.Problems, p.String())
		}
		out.WAL.Repair = r
	}
	return out, nil, nil
}
