package shard

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/tsdb-course/stage05-index/index"
	"golang.org/x/sync/errgroup"
)

// Select plans and runs a query over [mint, maxt] (ms, inclusive): the
// series matching every matcher, sorted by labels, each with its samples
// from every shard merged in time order.
func (m *Manager) Select(ctx context.Context, mint, maxt int64, ms ...*index.Matcher) ([]Series, Plan, error) {
	p := m.Plan(mint, maxt)
	res, err := m.Run(ctx, p, ms...)
	return res, p, err
}

// Run executes a plan: at most p.Workers shards are read at once, each by
// its engine's Select clamped to the shard's window; the per-shard results
// are grouped by series (merge.go: groupSeries, labels only) and each
// series' runs merged on the same number of workers (mergeParallel). The
// first error, or ctx being cancelled, cancels the context every worker
// reads with, so all of them stop; Run returns only after every worker
// has returned.
func (m *Manager) Run(ctx context.Context, p Plan, ms ...*index.Matcher) ([]Series, error) {
	results := make([][]Series, len(p.shards))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(p.Workers, 1))
	for i, sh := range p.shards {
		if gctx.Err() != nil {
			break // don't queue more work once cancelled
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			r, err := sh.selectSeries(gctx, max(p.MinT, sh.start), min(p.MaxT, sh.end-1), ms)
			results[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return mergeParallel(ctx, groupSeries(results), p.Workers)
}

// mergeParallel merges the runs of every series (mergeSamples) on up to
// workers goroutines, each taking the next series from a shared counter.
// The series are independent, so this half of the merge, the one that
// copies samples, runs in parallel like the reads; left to one goroutine
// it would be the serial part that bounds the speed-up of the whole query.
func mergeParallel(ctx context.Context, groups []seriesRuns, workers int) ([]Series, error) {
	out := make([]Series, len(groups))
	var next atomic.Int64
	merge := func() error {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(groups) {
				return nil
			}
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			out[i] = Series{Labels: groups[i].labels, Samples: mergeSamples(groups[i].runs)}
		}
	}
	var g errgroup.Group
	for range min(max(workers, 1), len(groups)) - 1 {
		g.Go(merge)
	}
	err := merge()
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// selectSeries reads one shard. A shard deleted by retention after the
// plan was made reads as empty: its data is gone, as planned.
func (sh *shard) selectSeries(ctx context.Context, mint, maxt int64, ms []*index.Matcher) ([]Series, error) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if sh.eng == nil {
		return nil, nil
	}
	r, err := sh.eng.Select(ctx, mint, maxt, ms...)
	if err != nil {
		return nil, fmt.Errorf("shard: %s: %w", sh.id, err)
	}
	return r, nil
}
