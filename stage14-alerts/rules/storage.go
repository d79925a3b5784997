package rules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/parser"
	"github.com/tsdb-course/stage14-alerts/template"
)

// QueryFunc runs an instant query (see template.QueryFunc): the rule
// manager's only way to read data, so that the same rules run on the local
// engine (EngineQueryFunc) or on any server with Prometheus's query API
// (package promapi).
type QueryFunc = template.QueryFunc

// Queryable opens queriers over a time range: what EngineQueryFunc evaluates
// against, and where a restarting manager reads ALERTS_FOR_STATE back.
// package store implements it over a stage06 DB and over memory.
type Queryable interface {
	Querier(mint, maxt int64) (Querier, error)
}

// Querier reads the series of a time range, [mint, maxt] in ms, inclusive.
// It must be closed once the series read are done with.
type Querier interface {
	Select(ctx context.Context, ms ...*index.Matcher) promql.SeriesSet
	Close() error
}

// Appendable gives appenders. Rule results, ALERTS and ALERTS_FOR_STATE are
// written through one appender per rule evaluation, committed before the
// next rule runs, so a recording rule's output is visible to the rules after
// it in the group.
type Appendable interface {
	Appender(ctx context.Context) Appender
}

// Appender adds samples in a batch that becomes visible on Commit.
type Appender interface {
	Append(l model.Labels, t int64, v float64) error
	Commit() error
	Rollback() error
}

// Errors an Appender wraps for samples a rule may legitimately produce and
// that storage refuses: they are counted, not treated as failures of the
// rule, when they are stale markers for a series another rule now writes.
var (
	ErrOutOfOrderSample            = errors.New("out of order sample")
	ErrDuplicateSampleForTimestamp = errors.New("duplicate sample for timestamp")
	ErrTooOldSample                = errors.New("too old sample")
)

// ErrNotVector: a rule's expression evaluated to a range vector or string.
var ErrNotVector = errors.New("rule result is not a vector or scalar")

// EngineQueryFunc evaluates queries with stage10's engine against q. Each
// query gets its own queriers, opened per selector over exactly the range it
// needs and closed once the result is built (a stage06 querier pins blocks
// while open). A scalar result is returned as one sample without labels.
func EngineQueryFunc(eng *promql.Engine, q Queryable) QueryFunc {
	return func(ctx context.Context, qs string, t time.Time) (promql.Vector, error) {
		expr, err := parser.ParseExpr(qs)
		if err != nil {
			return nil, err
		}
		st := &queryStorage{q: q}
		v, err := eng.Eval(ctx, st, expr, t)
		if cerr := st.close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		switch v := v.(type) {
		case promql.Vector:
			return v, nil
		case promql.Scalar:
			return promql.Vector{{T: v.T, F: v.V}}, nil
		}
		return nil, ErrNotVector
	}
}

// queryStorage is promql.Storage for one query over a Queryable.
type queryStorage struct {
	q        Queryable
	mu       sync.Mutex
	queriers []Querier
}

func (s *queryStorage) Select(ctx context.Context, mint, maxt int64, ms ...*index.Matcher) promql.SeriesSet {
	qr, err := s.q.Querier(mint, maxt)
	if err != nil {
		return errSet{fmt.Errorf("rules: open querier: %w", err)}
	}
	s.mu.Lock()
	s.queriers = append(s.queriers, qr)
	s.mu.Unlock()
	return qr.Select(ctx, ms...)
}

func (s *queryStorage) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for _, q := range s.queriers {
		if err := q.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.queriers = nil
	return first
}

type errSet struct{ err error }

func (errSet) Next() bool               { return false }
func (errSet) At() promql.StorageSeries { return nil }
func (e errSet) Err() error             { return e.err }

// FromMaps merges maps, later ones winning, into a label set (a rule's
// labels: its group's, then its own); an empty value removes the label.
func FromMaps(maps ...map[string]string) (model.Labels, error) {
	merged := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			merged[k] = v
		}
	}
	return labelsFromMap(merged)
}

func labelsFromMap(m map[string]string) (model.Labels, error) {
	pairs := make([]model.Label, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, model.Label{Name: k, Value: v})
	}
	return model.New(pairs...)
}

// builder edits a label set: Set with "" deletes, as in Prometheus.
type builder struct {
	pairs []model.Label
}

func (b *builder) reset(l model.Labels) {
	b.pairs = b.pairs[:0]
	for x := range l.All() {
		b.pairs = append(b.pairs, x)
	}
}

func (b *builder) set(name, value string) {
	for i := range b.pairs {
		if b.pairs[i].Name == name {
			b.pairs[i].Value = value
			return
		}
	}
	b.pairs = append(b.pairs, model.Label{Name: name, Value: value})
}

func (b *builder) del(name string) {
	b.pairs = slices.DeleteFunc(b.pairs, func(l model.Label) bool { return l.Name == name })
}

func (b *builder) labels() model.Labels {
	// Names are unique by construction, so New cannot fail.
	l, _ := model.New(b.pairs...)
	return l
}
