package tsdb

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// CompactStats reports one block written by a compaction.
type CompactStats struct {
	Meta     block.Meta
	Parents  []block.Meta // blocks merged (none for a head cut)
	Size     int64        // new block's bytes on disk
	InSize   int64        // parents' bytes on disk
	Duration time.Duration
}

// RetentionDeletion reports a block that retention deleted.
type RetentionDeletion struct {
	Meta   block.Meta
	Size   int64
	Reason string // RetentionTimeReason or RetentionSizeReason
}

// Why retention deleted a block.
const (
	// RetentionTimeReason: all its data is older than the clock's now
	// minus RetentionTime.
	RetentionTimeReason = "time"
	// RetentionSizeReason: the blocks took more than RetentionSize and it
	// was the oldest.
	RetentionSizeReason = "size"
)

// Compact does whatever is due: cuts the head into blocks while it spans
// 1.5 block ranges, writes the samples older than the head's lower bound
// to blocks of their own (persistPast), applies retention, merges blocks
// (overlapping ones first, then leveled ranges, then blocks with
// tombstones). The background loop calls it; callers may too.
func (db *DB) Compact() error {
	_, err := db.compact(context.Background(), false, false)
	return err
}

// CompactReport is Compact returning the blocks it wrote. It stops between
// two blocks when ctx is done (returning ctx's error) or the DB is closed
// (ErrClosed); what it wrote until then stays.
func (db *DB) CompactReport(ctx context.Context) ([]CompactStats, error) {
	return db.compact(ctx, false, false)
}

// FlushHead writes everything in the head to blocks (one per block range
// that holds samples, past samples included) at once, whatever its span;
// the CLI's ingest and the tests use it.
func (db *DB) FlushHead() ([]CompactStats, error) {
	return db.compact(context.Background(), true, false)
}

// compact: background says the background loop runs it (paced, yields).
func (db *DB) compact(ctx context.Context, flush, background bool) ([]CompactStats, error) {
	db.compactMu.Lock()
	defer db.compactMu.Unlock()
	if db.closed.Load() {
		return nil, ErrClosed
	}
	newYield := db.yields(background)
	out, cut, err := db.cutHead(ctx, flush, newYield)
	past, perr := db.persistPast(cut, newYield())
	out = append(out, past...)
	if err == nil {
		err = perr
	}
	if err != nil {
		return out, err
	}
	db.applyRetention()
	for range 1000 {
		if err := db.interrupted(ctx); err != nil {
			return out, err
		}
		group := db.plan()
		if len(group) == 0 {
			break
		}
		st, err := db.compactBlocks(group, newYield)
		if err != nil && slices.ContainsFunc(group, damaged) {
			continue // the next plan leaves the damaged block out
		}
		if err != nil {
			return out, err
		}
		out = append(out, st)
	}
	db.applyRetention()
	return out, nil
}

// interrupted says whether a compaction should stop before its next block.
func (db *DB) interrupted(ctx context.Context) error {
	if db.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// written makes a new block visible and reports it.
func (db *DB) written(st *CompactStats, start time.Time) {
	st.Duration = time.Since(start)
	if f := db.opts.OnBlockWritten; f != nil {
		f(*st)
	}
}

// cutHead writes the head's oldest block ranges to blocks while the head
// spans 1.5 block ranges (everything with flush); cut says whether it cut
// any (the WAL is then checkpointed once, by persistPast). Each range it
// cuts holds samples: after a cut the head's MinTime is its oldest sample
// left (truncateMemory), so a head holding last year's data and one sample
// of today costs a block per range of last year's data, not one per two
// hours in between. Without flush it cuts only what was due when it
// began: writes that outpace the cuts would otherwise keep it cutting, and
// the WAL checkpoint and the merges that follow it in a compaction would
// never run (the background loop comes back for the rest).
func (db *DB) cutHead(ctx context.Context, flush bool, newYield func() func()) (out []CompactStats, cut bool, err error) {
	h, r := db.head, db.opts.BlockRange
	cutTo := int64(math.MinInt64)
	due := h.maxT.Load()
	for {
		if err = db.interrupted(ctx); err != nil {
			break
		}
		mint, maxt := h.minT.Load(), h.maxT.Load()
		if !flush {
			maxt = min(maxt, due)
		}
		if mint > maxt || (!flush && maxt-mint < db.opts.cutSpan()) {
			break
		}
		// Never a range already cut: a chunk spanning ranges (head chunks
		// written with another BlockRange) keeps MinTime below the cut.
		lo := model.FloorDiv(mint, r) * r
		if cut {
			lo = max(lo, cutTo)
		}
		var st *CompactStats
		if st, err = db.cutHeadRange(lo, lo+r, newYield); err != nil {
			break
		}
		if st != nil {
			out = append(out, *st)
		}
		cutTo, cut = lo+r, true
	}
	return out, cut, err
}

// cutHeadRange writes the head's samples in [mint, maxt) as a block (none
// if it has no sample there) and drops them from the head's memory.
func (db *DB) cutHeadRange(mint, maxt int64, newYield func() func()) (*CompactStats, error) {
	start := time.Now()
	yield := newYield()
	h := db.head
	// No new sample may enter the range from now on, and commits already
	// applying finish before the range is read.
	for {
		cur := h.minValid.Load()
		if cur >= maxt || h.minValid.CompareAndSwap(cur, maxt) {
			break
		}
	}
	h.iso.waitApplied()

	type hs struct {
		lset model.Labels
		srcs []chunkSrc
	}
	var list []hs
	var ss sourceSet
	n := 0
	h.byID.each(func(s *memSeries) bool {
		if n++; n%yieldEvery == 0 {
			yield()
		}
		srcs := s.snapshot(nil, &ss, h.hc, mint, maxt-1, nil, false)
		if len(srcs) == 0 {
			return true
		}
		if lset, ok := h.ix.Labels(s.id); ok {
			list = append(list, hs{lset, srcs})
		}
		return true
	})
	sort.Slice(list, func(i, j int) bool { return list[i].lset.Compare(list[j].lset) < 0 })

	var st *CompactStats
	if len(list) > 0 {
		w, err := block.NewWriter(db.dir, db.opts.ChunkSegmentSize)
		if err != nil {
			return nil, err
		}
		for _, e := range list {
			yield()
			cs, err := buildChunks(e.srcs, mint, maxt, db.opts.HeadCutKeepsEncoding)
			if err == nil {
				err = w.AddSeries(e.lset, cs)
			}
			if err != nil {
				w.Abort()
				return nil, err
			}
		}
		nb, err := db.finishBlock(w, mint, maxt, 1, nil, nil)
		if err != nil {
			return nil, err
		}
		if nb != nil {
			db.mu.Lock()
			db.blocks = append(db.blocks, nb)
			sortBlocks(db.blocks)
			db.mu.Unlock()
			st = &CompactStats{Meta: nb.Meta(), Size: nb.Size()}
			db.written(st, start)
		}
	}

	// Queriers opened before the block was visible may still read the range
	// from the head: wait for them (bounded), then drop it.
	g := db.readers.advance()
	db.readers.wait(g, db.opts.ReaderWait)
	// Not paced: a series the walk marks dead stays findable until the
	// walk ends, and a write to it retries until then (lockSeries).
	h.truncateMemory(maxt, db.opts.backgroundYield)
	// The head-chunks files of the dropped range go once no reader opened
	// before the truncation is left: one opened between advance and
	// truncateMemory may still hold refs into them. A generation started
	// now covers it (readers opened from here on no longer see the range).
	db.removeHeadFiles(db.readers.schedule(db.readers.advance(), h.hc.Truncate(maxt)))
	return st, nil
}

// finishBlock finishes a block being written and opens it; nil, nil when
// it got no series (its files are removed).
func (db *DB) finishBlock(w *block.Writer, mint, maxt int64, level int, sources []ulid.ULID, parents []block.BlockDesc) (*block.Block, error) {
	if w.NumSeries() == 0 {
		w.Abort()
		return nil, nil
	}
	meta, err := w.Finish(mint, maxt, level, sources, parents)
	if err != nil {
		return nil, err
	}
	return block.Open(filepath.Join(db.dir, meta.ULID.String()))
}

// buildChunks turns a series' chunks into the chunks of a block covering
// [mint, maxt). Chunks that lie inside the range, overlap nothing and have
// no deleted samples are copied as they are (re-encoded with stage03's
// Integer encoding when all their values are integers and that is smaller);
// otherwise the samples are merged, filtered and encoded again.
//
// keep copies them as they are in any case (Options.HeadCutKeepsEncoding).
func buildChunks(srcs []chunkSrc, mint, maxt int64, keep bool) ([]block.ChunkData, error) {
	direct := !hasOverlap(srcs)
	for _, c := range srcs {
		if c.minT < mint || c.maxT >= maxt || c.stones().Overlaps(c.minT, c.maxT) {
			direct = false
		}
	}
	if direct {
		out := make([]block.ChunkData, 0, len(srcs))
		for i := range srcs {
			b, err := srcs[i].bytes()
			if err != nil {
				return nil, err
			}
			c, err := recode(b, !keep)
			if err != nil {
				return nil, err
			}
			c.MinT, c.MaxT = srcs[i].minT, srcs[i].maxT
			out = append(out, c)
		}
		return out, nil
	}
	if hasHist(srcs) {
		ss, err := mergeMixed(srcs, mint, maxt-1)
		if err != nil {
			return nil, err
		}
		return encodeMixed(ss)
	}
	it := newSeriesIterator(srcs, mint, maxt-1, nil)
	var ts []int64
	var vs []float64
	for it.Next() {
		t, v := it.At()
		ts, vs = append(ts, t), append(vs, v)
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	var out []block.ChunkData
	for len(ts) > 0 {
		n := min(len(ts), SamplesPerChunk)
		c, err := encodeBest(ts[:n], vs[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		ts, vs = ts[n:], vs[n:]
	}
	return out, nil
}

// recode returns a chunk's bytes for a block: as they are, or re-encoded
// with the Integer encoding when all its values are integers and that is
// smaller. An XOR chunk is not encoded as XOR again: stage03's encoder is
// deterministic, so the samples of a chunk it wrote give the same bytes,
// never fewer (TestRecodeSameAsEncodeBest). The head cut calls this for
// every head chunk, so the columns are decoded into pooled scratch and the
// Integer form is only built for chunks it can store.
//
// With toInteger false it only counts the samples: the chunk as it is.
func recode(b []byte, toInteger bool) (block.ChunkData, error) {
	if chunks.EncodingOf(b) != chunks.EncFloat {
		return block.ChunkData{Data: b, Samples: numHist(b)}, nil
	}
	if chunks.IsCold(b) { // already the densest form this DB writes
		n, err := chunks.ColdNumSamples(b)
		return block.ChunkData{Data: b, Samples: n}, err
	}
	c, err := gorilla.FromBytes(b)
	if err != nil {
		return block.ChunkData{}, err
	}
	if c.Encoding() == gorilla.Integer || !toInteger {
		return block.ChunkData{Data: b, Samples: c.NumSamples()}, nil
	}
	sc := recodePool.Get().(*recodeScratch)
	defer recodePool.Put(sc)
	sc.ts, sc.vs, err = gorilla.DecodeAll(b, sc.ts[:0], sc.vs[:0])
	if err != nil {
		return block.ChunkData{}, err
	}
	ts, vs := sc.ts, sc.vs
	out := block.ChunkData{Data: b, Samples: len(ts)}
	if len(ts) > 0 {
		out.MinT, out.MaxT = ts[0], ts[len(ts)-1]
	}
	if len(ts) > 0 && gorilla.AllIntegers(vs) {
		if ci, err := gorilla.Encode(ts, vs, gorilla.Integer); err == nil && len(ci.Bytes()) < len(b) {
			out.Data = ci.Bytes()
		}
	}
	return out, nil
}

// recodeScratch holds the decoded columns of one chunk being recoded.
type recodeScratch struct {
	ts []int64
	vs []float64
}

// recodePool: recode runs on the head cut's goroutine and on the cold
// encoders' workers (a histogram series' chunks), so the scratch is pooled
// rather than owned by one caller.
var recodePool = sync.Pool{New: func() any { return new(recodeScratch) }}

// encodeBest encodes samples as XOR, or Integer when every value is an
// integer and the result is smaller.
func encodeBest(ts []int64, vs []float64) (block.ChunkData, error) {
	c, err := gorilla.Encode(ts, vs, gorilla.XOR)
	if err != nil {
		return block.ChunkData{}, err
	}
	best := c.Bytes()
	if gorilla.AllIntegers(vs) {
		if ci, err := gorilla.Encode(ts, vs, gorilla.Integer); err == nil && len(ci.Bytes()) < len(best) {
			best = ci.Bytes()
		}
	}
	return block.ChunkData{MinT: ts[0], MaxT: ts[len(ts)-1], Data: best, Samples: len(ts)}, nil
}

// plan picks the next blocks to merge, or none:
//  1. blocks whose time ranges overlap (out-of-order data, a crash between
//     writing a block and truncating the head): vertical compaction;
//  2. for each level range R after the first, the blocks inside one aligned
//     window [kR, (k+1)R) once the window is complete or no longer the
//     newest;
//  3. a block with tombstones, rewritten alone so deleted data leaves the
//     disk.
func (db *DB) plan() []*block.Block {
	db.mu.RLock()
	bs := slices.DeleteFunc(append([]*block.Block(nil), db.blocks...), damaged)
	db.mu.RUnlock()
	if len(bs) == 0 {
		return nil
	}
	for i := 0; i < len(bs); i++ {
		j, hi := i, bs[i].Meta().MaxTime
		for j+1 < len(bs) && bs[j+1].Meta().MinTime < hi {
			j++
			hi = max(hi, bs[j].Meta().MaxTime)
		}
		if j > i {
			return bs[i : j+1]
		}
	}
	newest := bs[len(bs)-1].Meta().MaxTime
	for _, r := range db.opts.CompactionRanges[1:] {
		for i := 0; i < len(bs); {
			k := model.FloorDiv(bs[i].Meta().MinTime, r)
			lo, hi := k*r, (k+1)*r
			j := i
			for j < len(bs) && bs[j].Meta().MinTime >= lo && bs[j].Meta().MaxTime <= hi {
				j++
			}
			if j == i {
				i++
				continue
			}
			group := bs[i:j]
			full := group[0].Meta().MinTime == lo && group[len(group)-1].Meta().MaxTime == hi
			if len(group) > 1 && (full || newest > hi) {
				return group
			}
			i = j
		}
	}
	for _, b := range bs {
		if len(b.Tombstones()) > 0 {
			return []*block.Block{b}
		}
	}
	return nil
}

// CompactBlocks merges the named blocks into one, whatever the plan says.
func (db *DB) CompactBlocks(ids ...ulid.ULID) (CompactStats, error) {
	db.compactMu.Lock()
	defer db.compactMu.Unlock()
	var group []*block.Block
	db.mu.RLock()
	for _, id := range ids {
		for _, b := range db.blocks {
			if b.Meta().ULID == id {
				group = append(group, b)
			}
		}
	}
	db.mu.RUnlock()
	if len(group) != len(ids) || len(ids) == 0 {
		return CompactStats{}, fmt.Errorf("tsdb: compact: unknown block among %v", ids)
	}
	return db.compactBlocks(group, db.yields(false))
}

// compactBlocks merges blocks (sorted by MinTime) into one: series merged
// by labels, chunks copied or, where they overlap or have deleted samples,
// merged and re-encoded. The new block replaces the old ones in the list in
// one step; they are deleted once their last reader is done. Called with
// compactMu.
func (db *DB) compactBlocks(group []*block.Block, newYield func() func()) (CompactStats, error) {
	start := time.Now()
	st, mint, maxt, level, sources, parents := describeParents(group)
	w, err := block.NewWriter(db.dir, db.opts.ChunkSegmentSize)
	if err != nil {
		return st, err
	}
	if len(group) > 1 {
		level++ // a rewrite of one block (tombstones) stays at its level
	}
	join := -1 // not cold
	if db.opts.ColdLevel > 0 && level >= db.opts.ColdLevel {
		join = coldJoinSmall
		if level >= len(db.opts.CompactionRanges) { // no plan merges it again
			join = coldJoinTop
		}
	}
	if err := mergeSeries(w, group, mint, maxt, join, db.opts.compactionWorkers(), newYield); err != nil {
		w.Abort()
		return st, err
	}
	if slices.ContainsFunc(group, damaged) {
		// A chunk failed on read: the merge may have left it out, and
		// the parents must not go.
		w.Abort()
		return st, fmt.Errorf("tsdb: compact: %w", block.ErrCorrupt)
	}
	nb, err := db.finishBlock(w, mint, maxt, level, sources, parents)
	if err != nil {
		return st, err
	}
	if nb == nil {
		// Everything was deleted: the parents just go.
		db.replace(group, nil)
		st.Duration = time.Since(start)
		return st, nil
	}
	st.Meta, st.Size = nb.Meta(), nb.Size()
	db.replace(group, nb)
	db.written(&st, start)
	return st, nil
}

// describeParents sums up the blocks to merge: the stats listing them,
// their overall range, highest level, sources (sorted) and descriptions.
func describeParents(group []*block.Block) (st CompactStats, mint, maxt int64, level int, sources []ulid.ULID, parents []block.BlockDesc) {
	mint, maxt = math.MaxInt64, math.MinInt64
	for _, b := range group {
		m := b.Meta()
		st.Parents = append(st.Parents, m)
		st.InSize += b.Size()
		mint, maxt = min(mint, m.MinTime), max(maxt, m.MaxTime)
		level = max(level, m.Compaction.Level)
		sources = append(sources, m.Compaction.Sources...)
		parents = append(parents, block.BlockDesc{ULID: m.ULID, MinTime: m.MinTime, MaxTime: m.MaxTime})
	}
	sort.Slice(sources, func(i, j int) bool { return sources[i].Compare(sources[j]) < 0 })
	return st, mint, maxt, level, sources, parents
}

// blockCursor walks one parent's series in label order (a block's series
// IDs are in label order), with the labels of the current one decoded once.
type blockCursor struct {
	b      *block.Block
	ids    []uint32
	lset   model.Labels
	stones block.Tombstones
}

func (c *blockCursor) valid() bool { return len(c.ids) > 0 }

// advance moves to the next series (the first one on the first call).
func (c *blockCursor) advance(first bool) {
	if !first {
		c.ids = c.ids[1:]
	}
	if len(c.ids) > 0 {
		c.lset, _ = c.b.Labels(c.ids[0])
	}
}

// mergeSeries writes the union of the blocks' series to w in label order,
// each with its chunks from every block that has it; as cold chunks when
// join ≥ 0 (the bound of coldEncoder.join), encoded by workers goroutines
// (coldBatches). Each goroutine calls a yield function of newYield's
// between series (background.go).
func mergeSeries(w *block.Writer, group []*block.Block, mint, maxt int64, join, workers int, newYield func() func()) error {
	yield := newYield()
	curs := make([]*blockCursor, len(group))
	for i, b := range group {
		curs[i] = &blockCursor{b: b, ids: b.Index().All().ToArray(), stones: b.Tombstones()}
		curs[i].advance(true)
	}
	var cb *coldBatches
	if join >= 0 {
		cb = newColdBatches(w, workers, mint, maxt, join, yield, newYield)
	}
	var metas []chunks.Meta
	var ss sourceSet
	var srcs []chunkSrc
	for {
		var next *blockCursor
		for _, c := range curs {
			if c.valid() && (next == nil || c.lset.Compare(next.lset) < 0) {
				next = c
			}
		}
		if next == nil {
			if cb != nil {
				return cb.flush()
			}
			return nil
		}
		yield()
		lset := next.lset
		srcs = srcs[:0]
		if cb != nil {
			srcs = cb.srcs() // owned by the batch until it is written
		}
		for _, c := range curs {
			if !c.valid() || !c.lset.Equal(lset) {
				continue
			}
			id := c.ids[0]
			var err error
			if metas, err = c.b.Chunks(id, metas); err != nil {
				return err
			}
			s := c.stones[id]
			for _, m := range metas {
				if !s.Covers(m.MinT, m.MaxT) {
					srcs = append(srcs, chunkSrc{minT: m.MinT, maxT: m.MaxT, ref: m.Ref, src: ss.block(c.b, s)})
				}
			}
			c.advance(false)
		}
		sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].minT < srcs[j].minT })
		if cb != nil {
			if err := cb.add(lset, srcs); err != nil {
				return err
			}
			continue
		}
		cs, err := buildChunks(srcs, mint, maxt, false)
		if err == nil {
			err = w.AddSeries(lset, cs)
		}
		if err != nil {
			return err
		}
	}
}

// replace swaps blocks for their replacement (nb, nil for none) in the
// list, in one step, and deletes them once no reader holds them: renamed
// to <ulid>.tmp first, so a crash mid-delete leaves a name Open cleans up,
// never half a block.
func (db *DB) replace(old []*block.Block, nb *block.Block) {
	db.mu.Lock()
	keep := db.blocks[:0:0]
	for _, b := range db.blocks {
		if !slices.Contains(old, b) {
			keep = append(keep, b)
		}
	}
	if nb != nil {
		keep = append(keep, nb)
		sortBlocks(keep)
	}
	db.blocks = keep
	db.mu.Unlock()
	for _, b := range old {
		db.deleting.Add(1)
		go func() {
			defer db.deleting.Done()
			b.Close() // waits for readers
			tmp := b.Dir() + block.TmpSuffix
			if err := os.Rename(b.Dir(), tmp); err == nil {
				os.RemoveAll(tmp)
			}
		}()
	}
}

// applyRetention deletes whole blocks past the time or size limit and
// reports each. The time limit is measured from the clock, not from the
// newest sample: a sample dated in the future must not make the past look
// expired.
func (db *DB) applyRetention() {
	db.mu.RLock()
	bs := append([]*block.Block(nil), db.blocks...)
	db.mu.RUnlock()
	var drop []*block.Block
	var why []string
	if rt := db.opts.RetentionTime; rt > 0 {
		cutoff := db.opts.Now().UnixMilli() - rt
		for _, b := range bs {
			if b.Meta().MaxTime <= cutoff {
				drop, why = append(drop, b), append(why, RetentionTimeReason)
			}
		}
	}
	if rs := db.opts.RetentionSize; rs > 0 {
		var total int64
		for _, b := range bs {
			if !slices.Contains(drop, b) {
				total += b.Size()
			}
		}
		for _, b := range bs { // oldest first
			if total <= rs {
				break
			}
			if !slices.Contains(drop, b) {
				total -= b.Size()
				drop, why = append(drop, b), append(why, RetentionSizeReason)
			}
		}
	}
	if len(drop) == 0 {
		return
	}
	db.replace(drop, nil)
	if f := db.opts.OnRetention; f != nil {
		for i, b := range drop {
			f(RetentionDeletion{Meta: b.Meta(), Size: b.Size(), Reason: why[i]})
		}
	}
}
