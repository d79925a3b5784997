package store

import (
	"context"
	"fmt"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage14-alerts/rules"
)

// Memory is stage10's in-memory store as the rule manager's storage: what
// unit tests of rule files run on.
type Memory struct{ St *promql.MemStorage }

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{St: promql.NewMemStorage()} }

var (
	_ rules.Queryable  = (*Memory)(nil)
	_ rules.Appendable = (*Memory)(nil)
)

// Querier reads [mint, maxt]; it holds nothing, so Close does nothing.
func (m *Memory) Querier(mint, maxt int64) (rules.Querier, error) {
	return memQuerier{st: m.St, mint: mint, maxt: maxt}, nil
}

type memQuerier struct {
	st         *promql.MemStorage
	mint, maxt int64
}

func (q memQuerier) Select(ctx context.Context, ms ...*index.Matcher) promql.SeriesSet {
	return q.st.Select(ctx, q.mint, q.maxt, ms...)
}

func (memQuerier) Close() error { return nil }

// Appender writes through: each sample is in the store once Append returns
// (a sample not newer than its series' last one is refused as out of order,
// the in-memory store keeps series strictly increasing), so Commit has
// nothing left to do and Rollback cannot undo. Enough for unit tests, which
// evaluate one rule at a time.
func (m *Memory) Appender(context.Context) rules.Appender { return memAppender{st: m.St} }

type memAppender struct{ st *promql.MemStorage }

func (a memAppender) Append(l model.Labels, t int64, v float64) error {
	if err := a.st.Append(l, t, v); err != nil {
		return fmt.Errorf("%w: %w", rules.ErrOutOfOrderSample, err)
	}
	return nil
}

func (memAppender) Commit() error   { return nil }
func (memAppender) Rollback() error { return nil }
