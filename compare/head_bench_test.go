package compare

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// The stage06 head side by side with Prometheus's (v0.316.0 tsdb, WAL on,
// no fsync per commit: Prometheus fsyncs a WAL segment when it is full,
// stage06 is opened with wal.SyncNone), on the same workload in the same
// run: 10,000 series, one sample per series per commit (a scrape), refs
// reused, one or two goroutines each scraping its half of the series; and
// series creation (the first scrape of 10,000 new series).

const headSeries = 10_000

// headEngine is what the benchmark needs from either head.
type headEngine interface {
	// scrape appends one sample at t to each series of g (refs updated)
	// and commits.
	scrape(g int, t int64) error
	samples() uint64
	close()
}

type stage06Head struct {
	db    *tsdb.DB
	lsets [][]model.Labels
	refs  [][]uint64
}

func openStage06(tb testing.TB, groups int) *stage06Head {
	db, err := tsdb.Open(tb.TempDir(), tsdb.Options{WALSync: wal.SyncNone, NoBackgroundCompaction: true})
	if err != nil {
		tb.Fatal(err)
	}
	h := &stage06Head{db: db, lsets: make([][]model.Labels, groups), refs: make([][]uint64, groups)}
	for g := range groups {
		for i := range headSeries / groups {
			h.lsets[g] = append(h.lsets[g], model.MustFromStrings(headLabels(g, i)...))
		}
		h.refs[g] = make([]uint64, len(h.lsets[g]))
	}
	return h
}

func (h *stage06Head) scrape(g int, t int64) error {
	app := h.db.Appender(context.Background())
	for i, l := range h.lsets[g] {
		r, err := app.Append(h.refs[g][i], l, t, float64(t+int64(i)))
		if err != nil {
			return err
		}
		h.refs[g][i] = r
	}
	return app.Commit()
}

func (h *stage06Head) samples() uint64 { return h.db.Head().Stats().SamplesAppended }
func (h *stage06Head) close()          { h.db.Close() }

type promHead struct {
	db    *promtsdb.DB
	lsets [][]labels.Labels
	refs  [][]storage.SeriesRef
	n     [2]uint64 // samples committed by goroutine 0 and 1
}

func openProm(tb testing.TB, groups int) *promHead {
	opts := promtsdb.DefaultOptions()
	db, err := promtsdb.Open(tb.TempDir(), slog.New(slog.DiscardHandler), nil, opts, nil)
	if err != nil {
		tb.Fatal(err)
	}
	db.DisableCompactions()
	h := &promHead{db: db, lsets: make([][]labels.Labels, groups), refs: make([][]storage.SeriesRef, groups)}
	for g := range groups {
		for i := range headSeries / groups {
			h.lsets[g] = append(h.lsets[g], labels.FromStrings(headLabels(g, i)...))
		}
		h.refs[g] = make([]storage.SeriesRef, len(h.lsets[g]))
	}
	return h
}

func (h *promHead) scrape(g int, t int64) error {
	app := h.db.Appender(context.Background())
	for i, l := range h.lsets[g] {
		r, err := app.Append(h.refs[g][i], l, t, float64(t+int64(i)))
		if err != nil {
			return err
		}
		h.refs[g][i] = r
	}
	if err := app.Commit(); err != nil {
		return err
	}
	h.n[g] += uint64(len(h.lsets[g]))
	return nil
}

func (h *promHead) samples() uint64 { return h.n[0] + h.n[1] }
func (h *promHead) close()          { h.db.Close() }

// headLabels is series i of goroutine g's half: the same label sets for
// both engines.
func headLabels(g, i int) []string {
	return []string{"__name__", "http_requests_total", "handler", fmt.Sprint("/api/v1/h", i%50), "instance", fmt.Sprint("10.0.", g, ".", i/50, ":9100"), "job", "api", "method", []string{"GET", "POST", "PUT", "DELETE"}[i%4]}
}

var engines = []struct {
	name string
	open func(testing.TB, int) headEngine
}{
	{"stage06", func(tb testing.TB, g int) headEngine { return openStage06(tb, g) }},
	{"prometheus", func(tb testing.TB, g int) headEngine { return openProm(tb, g) }},
}

// BenchmarkHeadAppend: b.N scrapes of all 10,000 series after a first
// (untimed) scrape that creates them.
func BenchmarkHeadAppend(b *testing.B) {
	for _, e := range engines {
		for _, groups := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/goroutines=%d", e.name, groups), func(b *testing.B) {
				h := e.open(b, groups)
				defer h.close()
				for g := range groups {
					if err := h.scrape(g, 0); err != nil {
						b.Fatal(err)
					}
				}
				before := h.samples()
				b.ReportAllocs()
				b.ResetTimer()
				var wg sync.WaitGroup
				errs := make([]error, groups)
				for g := range groups {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for k := 1; k <= b.N && errs[g] == nil; k++ {
							errs[g] = h.scrape(g, int64(k)*15000)
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				if got := h.samples() - before; got != uint64(headSeries*b.N) {
					b.Fatalf("%d samples appended, want %d", got, headSeries*b.N)
				}
				b.ReportMetric(float64(headSeries*b.N)/b.Elapsed().Seconds(), "samples/s")
			})
		}
	}
}

// BenchmarkHeadCreateSeries: the first scrape into an empty head, every
// series new.
func BenchmarkHeadCreateSeries(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				h := e.open(b, 1)
				b.StartTimer()
				if err := h.scrape(0, 1000); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if h.samples() != headSeries {
					b.Fatalf("%d samples, want %d", h.samples(), headSeries)
				}
				h.close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*headSeries), "ns/series")
		})
	}
}
