package storage

import (
	"context"
	"slices"
	"sync"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
)

// QueryStorage adapts a Queryable to the PromQL engine's promql.Storage for
// one query: each Select opens a querier over exactly the range asked for,
// and Close closes them all once the query's result has been built (a
// querier pins blocks and holds back head truncation while it is open, so
// it must not outlive the query).
type QueryStorage struct {
	q Queryable

	mu       sync.Mutex
	queriers []tsdb.Querier
	stats    tsdb.QueryStats
	warnings []string
}

// NewQueryStorage returns a storage for one query over q.
func NewQueryStorage(q Queryable) *QueryStorage { return &QueryStorage{q: q} }

var _ promql.Storage = (*QueryStorage)(nil)

// Select implements promql.Storage.
func (s *QueryStorage) Select(ctx context.Context, mint, maxt int64, ms ...*index.Matcher) promql.SeriesSet {
	if err := ctx.Err(); err != nil {
		return errSet{err}
	}
	q, err := s.q.Querier(mint, maxt)
	if err != nil {
		return errSet{err}
	}
	s.mu.Lock()
	s.queriers = append(s.queriers, q)
	s.mu.Unlock()
	return &seriesSet{ss: q.Select(ms...)}
}

// Stats sums what the queriers of this query read (those that count:
// tsdb.StatsQuerier); valid after Close.
func (s *QueryStorage) Stats() tsdb.QueryStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Warnings are the queriers' warnings (a result left incomplete by damaged
// blocks), each once; valid after Close.
func (s *QueryStorage) Warnings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.warnings
}

// Close closes every querier the query opened and returns the first error.
func (s *QueryStorage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for _, q := range s.queriers {
		if sq, ok := q.(tsdb.StatsQuerier); ok {
			st := sq.Stats()
			s.stats.Blocks += st.Blocks
			s.stats.Head = s.stats.Head || st.Head
			s.stats.Series += st.Series
			s.stats.Chunks += st.Chunks
			s.stats.Samples += st.Samples
		}
		for _, w := range q.Warnings() {
			if !slices.Contains(s.warnings, w) {
				s.warnings = append(s.warnings, w)
			}
		}
		if err := q.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.queriers = nil
	return first
}

type seriesSet struct{ ss tsdb.SeriesSet }

func (s *seriesSet) Next() bool { return s.ss.Next() }
func (s *seriesSet) At() promql.StorageSeries {
	ts := s.ss.At()
	if hs, ok := ts.(interface{ HasHistograms() bool }); ok && hs.HasHistograms() {
		return splitSeries(ts)
	}
	return series{ts}
}
func (s *seriesSet) Err() error { return s.ss.Err() }

type series struct{ s tsdb.Series }

func (s series) Labels() model.Labels      { return s.s.Labels() }
func (s series) Iterator() promql.Iterator { return s.s.Iterator(nil) }

// ReuseIterator is Iterator reusing old, the iterator of a series the
// engine has finished reading: stage06 then recycles the buffer its
// read-ahead decoded that series into. Its iterators also hand the engine
// their decoded samples as a slice (Samples), which the engine reads
// directly.
func (s series) ReuseIterator(old promql.Iterator) promql.Iterator {
	ti, _ := old.(tsdb.Iterator)
	return s.s.Iterator(ti)
}

type errSet struct{ err error }

func (errSet) Next() bool               { return false }
func (errSet) At() promql.StorageSeries { return nil }
func (e errSet) Err() error             { return e.err }

// mixedSeries is a series that holds native histograms: the engine reads
// its floats through Iterator and its histograms through HistogramSamples
// (promql.HistogramSeries), two lists where stage06 keeps one run in time
// order. It is read once, when the engine reaches it, and split.
type mixedSeries struct {
	lset   model.Labels
	floats []model.Sample
	hists  []promql.HPoint
	err    error
}

func splitSeries(ts tsdb.Series) *mixedSeries {
	m := &mixedSeries{lset: ts.Labels()}
	it := ts.Iterator(nil)
	hi, _ := it.(tsdb.HistogramIterator)
	for it.Next() {
		if hi != nil && hi.Type() != tsdb.ValFloat {
			t, fh := hi.AtFloatHistogram(nil)
			m.hists = append(m.hists, promql.HPoint{T: t, H: fh})
			continue
		}
		t, v := it.At()
		m.floats = append(m.floats, model.Sample{T: t, V: v})
	}
	m.err = it.Err()
	return m
}

func (m *mixedSeries) Labels() model.Labels { return m.lset }
func (m *mixedSeries) Iterator() promql.Iterator {
	return &sliceIterator{s: m.floats, i: -1, err: m.err}
}
func (m *mixedSeries) HistogramSamples() []promql.HPoint { return m.hists }

// sliceIterator reads a series' float samples from a slice.
type sliceIterator struct {
	s   []model.Sample
	i   int
	err error
}

func (it *sliceIterator) Next() bool {
	if it.err != nil || it.i+1 >= len(it.s) {
		it.i = len(it.s)
		return false
	}
	it.i++
	return true
}

func (it *sliceIterator) At() (int64, float64) { return it.s[it.i].T, it.s[it.i].V }
func (it *sliceIterator) Err() error           { return it.err }
