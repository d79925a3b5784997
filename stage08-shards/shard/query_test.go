package shard

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// blockingEngine's Select waits until its context is cancelled, counting
// the workers inside it.
type blockingEngine struct {
	running, peak *atomic.Int64
	entered       chan struct{}
	failWith      error
}

func (b *blockingEngine) Append([]Series) error { return nil }
func (b *blockingEngine) Select(ctx context.Context, _, _ int64, _ ...*index.Matcher) ([]Series, error) {
	n := b.running.Add(1)
	defer b.running.Add(-1)
	for {
		p := b.peak.Load()
		if n <= p || b.peak.CompareAndSwap(p, n) {
			break
		}
	}
	b.entered <- struct{}{}
	if b.failWith != nil {
		return nil, b.failWith
	}
	<-ctx.Done()
	return nil, ctx.Err()
}
func (b *blockingEngine) Compact(bool) error          { return nil }
func (b *blockingEngine) Stats() (EngineStats, error) { return EngineStats{}, nil }
func (b *blockingEngine) Close() error                { return nil }

// TestQueryCancellation: cancelling the context stops every worker, Run
// returns only once they have all returned, and no more than Workers run
// at once; a failing shard cancels the others the same way.
func TestQueryCancellation(t *testing.T) {
	for _, fail := range []bool{false, true} {
		var running, peak atomic.Int64
		entered := make(chan struct{}, 64)
		var failed atomic.Bool
		open := func(string, EngineOptions) (Engine, error) {
			e := &blockingEngine{running: &running, peak: &peak, entered: entered}
			if fail && failed.CompareAndSwap(false, true) {
				e.failWith = errors.New("disk on fire")
			}
			return e, nil
		}
		c := &clock{day("2024-01-15")}
		m := openManager(t, t.TempDir(), EngineTSM, c, Options{Opener: open, QueryWorkers: 3, Policy: &Policy{}})
		for d := range 7 {
			if err := m.Write([]Series{{Labels: gen{}.labels(0, 0), Samples: []model.Sample{{T: ms(day("2024-01-08").AddDate(0, 0, d)), V: 1}}}}); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(bg)
		var wg sync.WaitGroup
		var err error
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err = m.Select(ctx, -1<<62, 1<<62)
		}()
		if !fail {
			for range 3 {
				<-entered
			}
			cancel()
		}
		wg.Wait()
		cancel()
		if fail && (err == nil || err.Error() == context.Canceled.Error()) {
			t.Fatalf("failing shard: %v, want its error", err)
		}
		if !fail && !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v, want context.Canceled", err)
		}
		if n := running.Load(); n != 0 {
			t.Fatalf("%d workers still running after Select returned", n)
		}
		if p := peak.Load(); p > 3 {
			t.Fatalf("%d workers at once, limit 3", p)
		}
		m.Close()
	}
}
