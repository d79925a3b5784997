package promql

import (
	"context"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// Storage is all the engine needs from a database: find the series that
// match every matcher and have samples in [mint, maxt] (milliseconds,
// inclusive), and read their samples in time order. MemStorage implements
// it here; stage06's querier (head + blocks) implements it later.
//
// The engine calls Select once per selector in a query, with the widest
// time range any evaluation step needs, and slides its windows over what it
// read: a range query does not go back to storage for each step.
type Storage interface {
	// Select returns the matching series sorted by label set. An iterator
	// may yield samples outside [mint, maxt]; the engine skips them.
	Select(ctx context.Context, mint, maxt int64, matchers ...*index.Matcher) SeriesSet
}

// SeriesSet iterates the series a Select found. Before the first Next, At
// is undefined; after Next returns false, Err says whether the set ended or
// failed.
type SeriesSet interface {
	Next() bool
	At() StorageSeries
	Err() error
}

// StorageSeries is one stored series.
type StorageSeries interface {
	Labels() model.Labels
	Iterator() Iterator
}

// reusingSeries is an optional StorageSeries method, as Prometheus's
// Series.Iterator(chunkenc.Iterator): the engine passes in an iterator of
// an earlier series of the same Select that it has finished reading
// (usually the previous series'; an older one, or nil, when it reads
// several series at once), so that the storage can reuse it and its
// buffers instead of allocating per series. A storage that decodes whole series
// ahead of the reader (stage06's read-ahead) then decodes a query into a
// few buffers.
type reusingSeries interface {
	ReuseIterator(old Iterator) Iterator
}

// iterators hands out the iterators of one Select's series, passing each
// series an iterator the caller has finished reading, for reuse where the
// storage takes it. By default the caller is done with a series' iterator
// (and any slice it got from it) when it asks for the next one; a caller
// that reads several series at once (rangePipe) sets explicit and hands
// each iterator back with done.
type iterators struct {
	explicit bool
	free     []Iterator
}

func (r *iterators) of(s StorageSeries) Iterator {
	rs, ok := s.(reusingSeries)
	if !ok {
		return s.Iterator()
	}
	// First in, first out: a storage that recycles a buffer once every
	// iterator over it is back (stage06's read-ahead) gets the oldest
	// ones back first, instead of a few staying at the bottom for good.
	var old Iterator
	if len(r.free) > 0 {
		old, r.free = r.free[0], r.free[1:]
	}
	it := rs.ReuseIterator(old)
	if !r.explicit {
		r.free = append(r.free, it)
	}
	return it
}

// done hands back an iterator (explicit mode; a no-op otherwise).
func (r *iterators) done(it Iterator) {
	if r.explicit {
		r.free = append(r.free, it)
	}
}

// samplesOf is the sample slice of s where the series or its iterator
// offers one (sampleSlicer; ok true), else the iterator to read. it is
// non-nil whenever one was opened: its Err is the caller's to check.
func (r *iterators) samplesOf(s StorageSeries) (samples []Point, it Iterator, ok bool) {
	if sl, ok := s.(sampleSlicer); ok {
		return sl.Samples(), nil, true
	}
	it = r.of(s)
	if sl, ok := it.(sampleSlicer); ok {
		return sl.Samples(), it, true
	}
	return nil, it, false
}

// startTimestamper is an optional method of a StorageSeries that offers
// its samples as a slice (sampleSlicer): each sample's start time in ms, 0
// where unknown, in step with Samples(); nil if it has none. The engine
// reads it for rate, increase, irate and resets when the
// use-start-timestamps feature is on.
type startTimestamper interface{ StartTimestamps() []int64 }

// Iterator walks one series' samples in increasing time order, stale
// markers (StaleNaN) included.
type Iterator interface {
	Next() bool
	At() (t int64, v float64)
	Err() error
}

// HistogramSeries is an optional StorageSeries method for a series that
// holds native histogram samples: them, in time order (a storage may
// return more than the Select's range; the engine skips the rest). A
// series without any returns nil, or does not implement it: the float
// paths then run as before. The engine may read the histograms but not
// modify them.
type HistogramSeries interface {
	HistogramSamples() []HPoint
}

// histogramStartTimestamper is an optional method of a HistogramSeries:
// its histograms' start times in ms (0 unknown), in step with
// HistogramSamples(); nil if it has none. Read as StartTimestamps is, with
// the use-start-timestamps feature.
type histogramStartTimestamper interface{ HistogramStartTimestamps() []int64 }

// histogramSTsOf is s's histograms' start times, nil if unknown.
func histogramSTsOf(s StorageSeries) []int64 {
	if h, ok := s.(histogramStartTimestamper); ok {
		return h.HistogramStartTimestamps()
	}
	return nil
}

// histogramsOf is s's histogram samples, nil if it has none.
func histogramsOf(s StorageSeries) []HPoint {
	if hs, ok := s.(HistogramSeries); ok {
		return hs.HistogramSamples()
	}
	return nil
}
