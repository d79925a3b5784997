package shard

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/oklog/ulid/v2"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// BlocksEngine adapts stage06's Prometheus-style tsdb.DB: label sets and
// millisecond samples are its own data model, so the adapter only batches
// appends and drains iterators.
type BlocksEngine struct {
	db      *tsdb.DB
	scratch sync.Pool // *[]model.Sample, Select's drain buffers
}

// OpenBlocks opens a block engine in dir.
func OpenBlocks(dir string, _ EngineOptions) (Engine, error) {
	db, err := tsdb.Open(dir, tsdb.Options{})
	if err != nil {
		return nil, err
	}
	return &BlocksEngine{db: db}, nil
}

// DB is the engine underneath.
func (b *BlocksEngine) DB() *tsdb.DB { return b.db }

// Append implements Engine: one appender, committed once; any refused
// sample rolls the whole batch back.
func (b *BlocksEngine) Append(batch []Series) error {
	app := b.db.Appender(context.Background())
	for i := range batch {
		var ref uint64
		for _, sm := range batch[i].Samples {
			var err error
			if ref, err = app.Append(ref, batch[i].Labels, sm.T, sm.V); err != nil {
				return errors.Join(err, app.Rollback())
			}
		}
	}
	return app.Commit()
}

// Select implements Engine with a tsdb.Querier over [mint, maxt].
func (b *BlocksEngine) Select(ctx context.Context, mint, maxt int64, ms ...*index.Matcher) ([]Series, error) {
	q, err := b.db.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	var out []Series
	var it tsdb.Iterator
	// The iterator does not say how many samples a series has: drain it
	// into a scratch buffer reused across series (and queries), then copy
	// out exactly that many, rather than growing each series by doubling
	// (≈ 3× the bytes allocated, half of them garbage at once).
	sp, _ := b.scratch.Get().(*[]model.Sample)
	if sp == nil {
		sp = new([]model.Sample)
	}
	defer b.scratch.Put(sp)
	ss := q.Select(ms...)
	for ss.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := ss.At()
		it = s.Iterator(it)
		buf := (*sp)[:0]
		for it.Next() {
			t, v := it.At()
			buf = append(buf, model.Sample{T: t, V: v})
		}
		*sp = buf
		if err := it.Err(); err != nil {
			return nil, err
		}
		if len(buf) > 0 {
			out = append(out, Series{Labels: s.Labels(), Samples: slices.Clone(buf)})
		}
	}
	return out, ss.Err()
}

// Compact implements Engine: the head is written out as blocks and the due
// compactions run (warm), or then every block is merged into one (cold).
func (b *BlocksEngine) Compact(full bool) error {
	if _, err := b.db.FlushHead(); err != nil {
		return err
	}
	if err := b.db.Compact(); err != nil {
		return err
	}
	if !full {
		return nil
	}
	blocks := b.db.Blocks()
	if len(blocks) < 2 {
		return nil
	}
	ids := make([]ulid.ULID, len(blocks))
	for i, bl := range blocks {
		ids[i] = bl.ULID
	}
	_, err := b.db.CompactBlocks(ids...)
	return err
}

// Stats implements Engine.
func (b *BlocksEngine) Stats() (EngineStats, error) {
	q, err := b.db.Querier(-1<<63, 1<<63-1)
	if err != nil {
		return EngineStats{}, err
	}
	defer q.Close()
	n := 0
	for ss := q.Select(); ss.Next(); {
		n++
	}
	return EngineStats{Series: n, Files: len(b.db.Blocks())}, nil
}

// Close implements Engine.
func (b *BlocksEngine) Close() error { return b.db.Close() }
