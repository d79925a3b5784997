// Package storage is the seam between the server and the storage engine
// (stage06's tsdb.DB): the small interfaces the API needs (Appendable,
// Queryable), the adapter that lets stage10's PromQL engine read through a
// Queryable (engine.go), and snapshots of a data directory (snapshot.go).
//
// Later stages plug in here: an ingestion pipeline, a cardinality limiter or
// a clustered store is another Appendable or Queryable.
package storage

import (
	"context"

	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// Appendable hands out appenders; stage06's *tsdb.DB is one.
type Appendable interface {
	Appender(ctx context.Context) tsdb.Appender
}

// Queryable opens queriers over a time range [mint, maxt] (ms, inclusive);
// stage06's *tsdb.DB is one.
type Queryable interface {
	Querier(mint, maxt int64) (tsdb.Querier, error)
}

var (
	_ Appendable = (*tsdb.DB)(nil)
	_ Queryable  = (*tsdb.DB)(nil)
)
