package compare

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/util/compression"
	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// BenchmarkFootprintVsPrometheus: the disk stage06 and Prometheus's TSDB
// (v0.316.0 with the server's defaults: WAL on and Snappy-compressed) take for the same
// samples, in the same run: stage06's BenchmarkFootprint workload
// (TSDB_FOOTPRINT_SERIES counters, default 10,000, 15 s scrapes, integer
// increments in [0, 100), the same seed), one commit per scrape, refs
// reused, each engine's Compact called after every hour of data as its
// background loop would. Prometheus writes full head chunks to chunks_head
// not when they are cut but when its background loop calls mmapHeadChunks,
// once a minute: the run does that after every minute of data
// (ForceHeadMMap), as a server scraping in real time would; mmap=never
// leaves it to Close (what a backfill faster than the clock gets: a chunk
// that reaches a block before its minute comes is never written).
// hours=2.5 is the "before compaction" figure (no block yet: WAL and head
// chunks), hours=24 the state after the last compaction. Both are closed
// before du (allocated bytes) is taken: WAL and head-chunk buffers flushed.
func BenchmarkFootprintVsPrometheus(b *testing.B) {
	series := envInt("TSDB_FOOTPRINT_SERIES", 10_000)
	for _, hours := range []float64{2.5, 24} {
		for _, e := range []struct {
			name string
			open func(b *testing.B, dir string) footprintEngine
		}{
			{"stage06", openStage06Footprint},
			{"prometheus", func(b *testing.B, dir string) footprintEngine { return openPromFootprint(b, dir, true) }},
			{"prometheus-mmap=never", func(b *testing.B, dir string) footprintEngine { return openPromFootprint(b, dir, false) }},
		} {
			b.Run(fmt.Sprintf("hours=%g/%s", hours, e.name), func(b *testing.B) {
				if hours > 3 && testing.Short() {
					b.Skip("57.6M samples")
				}
				for b.Loop() {
					footprintVsProm(b, e.open, series, hours)
				}
			})
		}
	}
}

// footprintEngine is what the footprint run needs of either TSDB.
type footprintEngine interface {
	// scrape appends v[i] at t to series i (refs kept) and commits.
	scrape(t int64, v []float64) error
	// minute is called after every minute of data.
	minute()
	compact() error
	close() error
}

func footprintVsProm(b *testing.B, open func(*testing.B, string) footprintEngine, series int, hours float64) {
	const step = int64(15_000)
	dir := b.TempDir()
	e := open(b, dir)
	rng := rand.New(rand.NewPCG(20, 21))
	vals := make([]float64, series)
	scrapes := int(hours * float64(tsdb.Hour) / float64(step))
	for k := range scrapes {
		for i := range vals {
			vals[i] += float64(rng.IntN(100))
		}
		if err := e.scrape(int64(k)*step, vals); err != nil {
			b.Fatal(err)
		}
		if k%4 == 3 {
			e.minute()
		}
		if hours > 3 && k%240 == 239 {
			if err := e.compact(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := e.close(); err != nil {
		b.Fatal(err)
	}
	du := func(sub string) float64 {
		n, err := measure.DiskUsage(filepath.Join(dir, sub))
		if err != nil {
			b.Fatal(err)
		}
		return float64(n)
	}
	samples := float64(scrapes * series)
	all, head := du(""), du(tsdb.HeadChunksDirname)
	b.ReportMetric(all/(1<<20), "dir-MiB")
	b.ReportMetric(all/samples, "dir-B/sample")
	b.ReportMetric(du(tsdb.WALDirname)/samples, "wal-B/sample")
	b.ReportMetric(head/(1<<20), "chunks_head-MiB")
}

func footprintLabels(i int) []string {
	return []string{"__name__", "requests_total", "instance", fmt.Sprintf("host-%d:9100", i%100), "job", "node", "series", strconv.Itoa(i)}
}

type stage06Footprint struct {
	db    *tsdb.DB
	lsets []model.Labels
	refs  []uint64
}

func openStage06Footprint(b *testing.B, dir string) footprintEngine {
	db, err := tsdb.Open(dir, tsdb.Options{WALSync: wal.SyncNone, NoBackgroundCompaction: true})
	if err != nil {
		b.Fatal(err)
	}
	return &stage06Footprint{db: db}
}

func (f *stage06Footprint) scrape(t int64, v []float64) error {
	for len(f.lsets) < len(v) {
		f.lsets = append(f.lsets, model.MustFromStrings(footprintLabels(len(f.lsets))...))
		f.refs = append(f.refs, 0)
	}
	app := f.db.Appender(context.Background())
	for i, x := range v {
		r, err := app.Append(f.refs[i], f.lsets[i], t, x)
		if err != nil {
			return err
		}
		f.refs[i] = r
	}
	return app.Commit()
}

func (f *stage06Footprint) minute()        {}
func (f *stage06Footprint) compact() error { return f.db.Compact() }
func (f *stage06Footprint) close() error   { return f.db.Close() }

type promFootprint struct {
	db    *promtsdb.DB
	mmap  bool
	lsets []labels.Labels
	refs  []storage.SeriesRef
}

func openPromFootprint(b *testing.B, dir string, mmap bool) footprintEngine {
	opts := promtsdb.DefaultOptions()
	opts.WALCompression = compression.Snappy // the server's default (--storage.tsdb.wal-compression)
	db, err := promtsdb.Open(dir, slog.New(slog.DiscardHandler), nil, opts, nil)
	if err != nil {
		b.Fatal(err)
	}
	db.DisableCompactions() // compacted when the run says, as ours
	return &promFootprint{db: db, mmap: mmap}
}

func (f *promFootprint) scrape(t int64, v []float64) error {
	for len(f.lsets) < len(v) {
		f.lsets = append(f.lsets, labels.FromStrings(footprintLabels(len(f.lsets))...))
		f.refs = append(f.refs, 0)
	}
	app := f.db.Appender(context.Background())
	for i, x := range v {
		r, err := app.Append(f.refs[i], f.lsets[i], t, x)
		if err != nil {
			return err
		}
		f.refs[i] = r
	}
	return app.Commit()
}

func (f *promFootprint) minute() {
	if f.mmap {
		f.db.ForceHeadMMap()
	}
}

func (f *promFootprint) compact() error { return f.db.Compact(context.Background()) }
func (f *promFootprint) close() error   { return f.db.Close() }
