package tsdb

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/block"
)

// Samples older than the head's lower bound.
//
// Once a range is cut to a block, the head refuses samples in it: the head
// cut would not see them. With an out-of-order window they are taken
// anyway, into each series' past store (memSeries.addPast), outside the
// head's time range: no head cut reads or truncates them. Queries read the
// past stores with the rest of the head (marked out of order, so a block's
// or the head's sample wins a tie). Compaction writes them to blocks of
// their own, one per block range that holds any (flushPast); these blocks
// overlap the blocks already there, and the planner's first rule merges
// overlapping blocks into one (vertical compaction), deduplicating equal
// timestamps, so the block list is clean again after the same compaction.
// Prometheus's out-of-order head, its WBL and its out-of-order compaction
// do the same job with a log of their own; here the WAL is the log:
//
//  1. every sample, past or not, is in the WAL before Commit returns;
//  2. compaction starts a new WAL segment, then waits for the commits
//     that were under way then (Head.commits), so every sample in the
//     older segments is in the head; commits that start meanwhile do not
//     wait;
//  3. flushPast writes the past samples the head holds to blocks, then
//     drops them from memory;
//  4. only then does the checkpoint drop the older segments' samples before
//     the head's lower bound.
//
// A crash before 4 replays the samples into the past stores again (replay
// puts there every sample older than the newest block): written twice,
// they are merged away by vertical compaction. Nothing acknowledged is
// lost at any point.

// persistPast runs steps 2 to 4 when a head cut happened (cut) or some
// series hold past samples: the new WAL segment, flushPast, the checkpoint.
// If flushPast fails the checkpoint is skipped: the WAL keeps the samples.
// The checkpoint calls yield between records: paced in the background loop
// like a cut (it copies every record of the segments it covers, a burst of
// a core for a quarter second at millions of samples a second).
func (db *DB) persistPast(cut bool, yield func()) ([]CompactStats, error) {
	h := db.head
	if !cut && !h.hasPast.Load() {
		return nil, nil
	}
	seg, err := db.startSegment()
	if err != nil {
		return nil, err
	}
	out, err := db.flushPast()
	if err != nil {
		return out, err
	}
	if _, err := db.wal.CheckpointYield(seg, func(ref uint64) bool { return h.byRef.get(ref) != nil }, h.minValid.Load(), yield); err != nil {
		return out, fmt.Errorf("tsdb: wal checkpoint: %w", err)
	}
	return out, nil
}

// startSegment is step 2: it starts a new WAL segment and returns the
// number of the last one once every commit that may have logged into it
// is applied.
func (db *DB) startSegment() (int, error) {
	seg, err := db.wal.NextSegment()
	if err != nil {
		return 0, fmt.Errorf("tsdb: wal: %w", err)
	}
	db.head.commits.drain()
	return seg, nil
}

// pastSeries is one series' past samples sealed by flushPast: the first n
// chunks of its past store, decoded and sorted.
type pastSeries struct {
	s    *memSeries
	n    int
	lset model.Labels
	ss   []model.Sample
	hs   []hsample // instead of ss, for a series with histograms
}

// flushPast writes the samples of the series' past stores to blocks, one
// per block range holding any, and drops them from the head once queriers
// that may not see the blocks are done (as a head cut does). Samples that
// arrive meanwhile stay for the next compaction. Called with compactMu.
func (db *DB) flushPast() (out []CompactStats, err error) {
	h := db.head
	if !h.hasPast.Swap(false) {
		return nil, nil
	}
	defer func() {
		if err != nil {
			h.hasPast.Store(true) // try again next time
		}
	}()
	list, err := db.sealPast()
	if err != nil || len(list) == 0 {
		return nil, err
	}
	r := db.opts.BlockRange
	ranges := map[int64]bool{}
	for _, e := range list {
		for _, s := range e.ss {
			ranges[model.FloorDiv(s.T, r)*r] = true
		}
		for _, s := range e.hs {
			ranges[model.FloorDiv(s.t, r)*r] = true
		}
	}
	los := make([]int64, 0, len(ranges))
	for lo := range ranges {
		los = append(los, lo)
	}
	sort.Slice(los, func(i, j int) bool { return los[i] < los[j] })
	for _, lo := range los {
		st, err := db.writePastBlock(list, lo, lo+r)
		if err != nil {
			return out, err
		}
		if st != nil {
			out = append(out, *st)
		}
	}
	g := db.readers.advance()
	db.readers.wait(g, db.opts.ReaderWait)
	for _, e := range list {
		e.s.mu.Lock()
		if p := e.s.past(); p != nil {
			// A new slice: a reader may still hold the old one.
			p.chunks = append([]memChunk(nil), p.chunks[e.n:]...)
			if p.empty() {
				e.s.extra.past = nil
				e.s.tidy()
			}
		}
		e.s.mu.Unlock()
	}
	// Series that held only past samples are empty now: remove them as a
	// head cut would (everything before minValid is in blocks).
	h.truncateMemory(h.minValid.Load(), db.opts.backgroundYield) // not paced: cutHeadRange says why
	return out, nil
}

// sealPast collects every series' past samples (the pending batch sorted
// into a chunk first), without deleted ones, sorted by labels.
func (db *DB) sealPast() ([]pastSeries, error) {
	h := db.head
	var list []pastSeries
	var ss sourceSet
	var err error
	h.byID.each(func(s *memSeries) bool {
		s.mu.Lock()
		p := s.past()
		if p == nil {
			s.mu.Unlock()
			return true
		}
		p.flush()
		srcs := p.snapshot(nil, &ss, math.MinInt64, math.MaxInt64, s.stones())
		list = append(list, pastSeries{s: s, n: len(p.chunks)})
		s.mu.Unlock()
		e := &list[len(list)-1]
		sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].minT < srcs[j].minT })
		e.lset, _ = h.ix.Labels(s.id)
		if hasHist(srcs) {
			e.hs, err = mergeMixed(srcs, math.MinInt64, math.MaxInt64)
			return err == nil
		}
		it := newSeriesIterator(srcs, math.MinInt64, math.MaxInt64, nil)
		for it.Next() {
			t, v := it.At()
			e.ss = append(e.ss, model.Sample{T: t, V: v})
		}
		err = it.Err()
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range list {
		if e.lset.Len() == 0 {
			return nil, fmt.Errorf("tsdb: past samples of series %d: no labels", e.s.ref)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].lset.Compare(list[j].lset) < 0 })
	return list, nil
}

// writePastBlock writes the sealed samples in [mint, maxt) as a level-1
// block and makes it visible; nil if none is there.
func (db *DB) writePastBlock(list []pastSeries, mint, maxt int64) (*CompactStats, error) {
	start := time.Now()
	w, err := block.NewWriter(db.dir, db.opts.ChunkSegmentSize)
	if err != nil {
		return nil, err
	}
	for _, e := range list {
		if e.hs != nil {
			i := sort.Search(len(e.hs), func(k int) bool { return e.hs[k].t >= mint })
			j := sort.Search(len(e.hs), func(k int) bool { return e.hs[k].t >= maxt })
			if i == j {
				continue
			}
			cs, err := encodeMixed(e.hs[i:j])
			if err == nil {
				err = w.AddSeries(e.lset, cs)
			}
			if err != nil {
				w.Abort()
				return nil, err
			}
			continue
		}
		i := sort.Search(len(e.ss), func(k int) bool { return e.ss[k].T >= mint })
		j := sort.Search(len(e.ss), func(k int) bool { return e.ss[k].T >= maxt })
		if i == j {
			continue
		}
		var cs []block.ChunkData
		for ss := e.ss[i:j]; len(ss) > 0; {
			n := min(len(ss), SamplesPerChunk)
			ts, vs := make([]int64, n), make([]float64, n)
			for k, s := range ss[:n] {
				ts[k], vs[k] = s.T, s.V
			}
			c, err := encodeBest(ts, vs)
			if err != nil {
				w.Abort()
				return nil, err
			}
			cs = append(cs, c)
			ss = ss[n:]
		}
		if err := w.AddSeries(e.lset, cs); err != nil {
			w.Abort()
			return nil, err
		}
	}
	nb, err := db.finishBlock(w, mint, maxt, 1, nil, nil)
	if err != nil || nb == nil {
		return nil, err
	}
	db.mu.Lock()
	db.blocks = append(db.blocks, nb)
	sortBlocks(db.blocks)
	db.mu.Unlock()
	st := &CompactStats{Meta: nb.Meta(), Size: nb.Size()}
	db.written(st, start)
	return st, nil
}
