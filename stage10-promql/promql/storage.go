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

// Iterator walks one series' samples in increasing time order, stale
// markers (StaleNaN) included.
type Iterator interface {
	Next() bool
	At() (t int64, v float64)
	Err() error
}
