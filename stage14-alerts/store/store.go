// Package store connects the rule manager to storage: a stage06 DB (TSDB)
// or memory (Memory, for promtool-style unit tests). Both are
// rules.Queryable, to evaluate against and to restore alert state from, and
// rules.Appendable, to write rule results, ALERTS and ALERTS_FOR_STATE into.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage14-alerts/rules"
)

// TSDB is a stage06 DB as the rule manager's storage.
type TSDB struct{ db *tsdb.DB }

// NewTSDB wraps db; the caller keeps owning (and closing) it.
func NewTSDB(db *tsdb.DB) *TSDB { return &TSDB{db: db} }

var (
	_ rules.Queryable  = (*TSDB)(nil)
	_ rules.Appendable = (*TSDB)(nil)
)

// Querier opens a stage06 querier over [mint, maxt].
func (s *TSDB) Querier(mint, maxt int64) (rules.Querier, error) {
	q, err := s.db.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	return tsdbQuerier{q}, nil
}

type tsdbQuerier struct{ q tsdb.Querier }

func (q tsdbQuerier) Select(ctx context.Context, ms ...*index.Matcher) promql.SeriesSet {
	if err := ctx.Err(); err != nil {
		return errSet{err}
	}
	return &tsdbSet{ss: q.q.Select(ms...)}
}

func (q tsdbQuerier) Close() error { return q.q.Close() }

type tsdbSet struct{ ss tsdb.SeriesSet }

func (s *tsdbSet) Next() bool               { return s.ss.Next() }
func (s *tsdbSet) At() promql.StorageSeries { return tsdbSeries{s.ss.At()} }
func (s *tsdbSet) Err() error               { return s.ss.Err() }

type tsdbSeries struct{ s tsdb.Series }

func (s tsdbSeries) Labels() model.Labels      { return s.s.Labels() }
func (s tsdbSeries) Iterator() promql.Iterator { return s.s.Iterator(nil) }

// ReuseIterator lets the engine hand back the previous series' iterator, so
// stage06 recycles the buffers its read-ahead decoded into.
func (s tsdbSeries) ReuseIterator(old promql.Iterator) promql.Iterator {
	ti, _ := old.(tsdb.Iterator)
	return s.s.Iterator(ti)
}

// Appender returns a stage06 appender whose refusals wrap the rules
// package's sentinels.
func (s *TSDB) Appender(ctx context.Context) rules.Appender {
	return &tsdbAppender{app: s.db.Appender(ctx)}
}

type tsdbAppender struct{ app tsdb.Appender }

func (a *tsdbAppender) Append(l model.Labels, t int64, v float64) error {
	_, err := a.app.Append(0, l, t, v)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tsdb.ErrOutOfOrder):
		return fmt.Errorf("%w: %w", rules.ErrOutOfOrderSample, err)
	case errors.Is(err, tsdb.ErrDuplicate):
		return fmt.Errorf("%w: %w", rules.ErrDuplicateSampleForTimestamp, err)
	case errors.Is(err, tsdb.ErrOutOfBounds):
		return fmt.Errorf("%w: %w", rules.ErrTooOldSample, err)
	}
	return err
}

func (a *tsdbAppender) Commit() error   { return a.app.Commit() }
func (a *tsdbAppender) Rollback() error { return a.app.Rollback() }

type errSet struct{ err error }

func (errSet) Next() bool               { return false }
func (errSet) At() promql.StorageSeries { return nil }
func (e errSet) Err() error             { return e.err }
