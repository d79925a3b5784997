package storage

import (
	"runtime"

	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// Guard wraps a stage06 DB so that its queriers never take the server down.
//
// stage06's querier indexes the first of its per-source result lists
// without checking that there is one: a Select that matches no series in
// any block nor in the head (a query for a metric that does not exist)
// panics with an index-out-of-range runtime error (querier.go,
// mergeEntries). Until stage06 handles that case, the guard recovers that
// runtime error in Select, LabelNames and LabelValues and answers what the
// situation means: no series. Any other panic is re-raised.
type Guard struct {
	*tsdb.DB
}

// Querier opens a guarded querier.
func (g Guard) Querier(mint, maxt int64) (tsdb.Querier, error) {
	q, err := g.DB.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return guardedQuerier{q}, nil
}

type guardedQuerier struct{ tsdb.Querier }

// recoverEmpty turns the runtime error of an empty merge into "no result".
func recoverEmpty() {
	if r := recover(); r != nil {
		if _, ok := r.(runtime.Error); !ok {
			panic(r)
		}
	}
}

func (q guardedQuerier) Select(ms ...*index.Matcher) (ss tsdb.SeriesSet) {
	ss = emptySet{}
	defer recoverEmpty()
	return q.Querier.Select(ms...)
}

func (q guardedQuerier) LabelNames(ms ...*index.Matcher) (names []string, err error) {
	defer recoverEmpty()
	return q.Querier.LabelNames(ms...)
}

func (q guardedQuerier) LabelValues(name string, ms ...*index.Matcher) (vs []string, err error) {
	defer recoverEmpty()
	return q.Querier.LabelValues(name, ms...)
}

type emptySet struct{}

func (emptySet) Next() bool      { return false }
func (emptySet) At() tsdb.Series { return nil }
func (emptySet) Err() error      { return nil }
