package tsdb

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage04-wal/wal"
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

// Compact does whatever is due: cuts the head into blocks while it spans
// 1.5 block ranges, merges blocks (overlapping ones first, then leveled
// ranges, then blocks with tombstones), and applies retention. The
// background loop calls it; callers may too.
func (db *DB) Compact() error {
	_, err := db.compact(false)
	return err
}

// CompactReport is Compact returning what it wrote.
func (db *DB) CompactReport() ([]CompactStats, error) { return db.compact(false) }

// FlushHead writes everything in the head to blocks (one per block range)
// at once, whatever its span; the CLI's ingest and the tests use it.
func (db *DB) FlushHead() ([]CompactStats, error) { return db.compact(true) }

func (db *DB) compact(flush bool) ([]CompactStats, error) {
	db.compactMu.Lock()
	defer db.compactMu.Unlock()
	if db.closed.Load() {
		return nil, ErrClosed
	}
	var out []CompactStats
	h, r := db.head, db.opts.BlockRange
	for {
		mint, maxt := h.minT.Load(), h.maxT.Load()
		if mint == math.MaxInt64 || mint > maxt || (!flush && maxt-mint < r/2*3) {
			break
		}
		lo := model.FloorDiv(mint, r) * r
		st, err := db.compactHead(lo, lo+r)
		if err != nil {
			return out, err
		}
		if st != nil {
			out = append(out, *st)
		}
	}
	for range 1000 {
		group := db.plan()
		if len(group) == 0 {
			break
		}
		st, err := db.compactBlocks(group)
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

// compactHead writes the head's samples in [mint, maxt) as a block, then
// truncates the head and checkpoints the WAL.
func (db *DB) compactHead(mint, maxt int64) (*CompactStats, error) {
	start := time.Now()
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
	h.byID.each(func(s *memSeries) bool {
		srcs := s.snapshot(nil, &ss, h.hc, mint, maxt-1, nil)
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
			cs, err := buildChunks(e.srcs, mint, maxt)
			if err == nil {
				err = w.AddSeries(e.lset, cs)
			}
			if err != nil {
				w.Abort()
				return nil, err
			}
		}
		if w.NumSeries() == 0 {
			w.Abort()
		} else {
			meta, err := w.Finish(mint, maxt, 1, nil, nil)
			if err != nil {
				return nil, err
			}
			b, err := block.Open(filepath.Join(db.dir, meta.ULID.String()))
			if err != nil {
				return nil, err
			}
			db.mu.Lock()
			db.blocks = append(db.blocks, b)
			sortBlocks(db.blocks)
			db.mu.Unlock()
			st = &CompactStats{Meta: meta, Size: b.Size()}
		}
	}

	// Queriers opened before the block was visible may still read the range
	// from the head: wait for them (bounded), then drop it.
	g := db.readers.advance()
	db.readers.wait(g, db.opts.ReaderWait)
	h.truncateMemory(maxt)
	db.removeHeadFiles(db.readers.schedule(g, h.hc.FilesBefore(maxt)))

	seg, err := db.wal.NextSegment()
	if err != nil {
		return st, fmt.Errorf("tsdb: wal: %w", err)
	}
	if _, err := wal.Checkpoint(filepath.Join(db.dir, WALDirname), seg, func(ref uint64) bool { return h.byRef.get(ref) != nil }, maxt); err != nil {
		return st, fmt.Errorf("tsdb: wal checkpoint: %w", err)
	}
	if st != nil {
		st.Duration = time.Since(start)
	}
	return st, nil
}

// buildChunks turns a series' chunks into the chunks of a block covering
// [mint, maxt). Chunks that lie inside the range, overlap nothing and have
// no deleted samples are copied as they are (re-encoded with stage03's
// Integer encoding when all their values are integers and that is smaller);
// otherwise the samples are merged, filtered and encoded again.
func buildChunks(srcs []chunkSrc, mint, maxt int64) ([]block.ChunkData, error) {
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
			c, err := recode(b)
			if err != nil {
				return nil, err
			}
			c.MinT, c.MaxT = srcs[i].minT, srcs[i].maxT
			out = append(out, c)
		}
		return out, nil
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
// with the Integer encoding when that is smaller.
func recode(b []byte) (block.ChunkData, error) {
	c, err := gorilla.FromBytes(b)
	if err != nil {
		return block.ChunkData{}, err
	}
	if c.Encoding() == gorilla.Integer {
		return block.ChunkData{Data: b, Samples: c.NumSamples()}, nil
	}
	ts, vs, err := gorilla.DecodeAll(b, nil, nil)
	if err != nil {
		return block.ChunkData{}, err
	}
	out, err := encodeBest(ts, vs)
	if err != nil {
		return block.ChunkData{}, err
	}
	if len(out.Data) >= len(b) {
		out.Data = b
	}
	return out, nil
}

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
	return db.compactBlocks(group)
}

// compactBlocks merges blocks (sorted by MinTime) into one: series merged
// by labels, chunks copied or, where they overlap or have deleted samples,
// merged and re-encoded. The new block is made visible and the old ones
// dropped from the list in one step; they are deleted once their last
// reader is done. Called with compactMu.
func (db *DB) compactBlocks(group []*block.Block) (CompactStats, error) {
	start := time.Now()
	st := CompactStats{}
	mint, maxt := int64(math.MaxInt64), int64(math.MinInt64)
	level := 0
	var sources, parents []ulid.ULID
	for _, b := range group {
		m := b.Meta()
		st.Parents = append(st.Parents, m)
		st.InSize += b.Size()
		mint, maxt = min(mint, m.MinTime), max(maxt, m.MaxTime)
		level = max(level, m.Compaction.Level)
		sources = append(sources, m.Compaction.Sources...)
		parents = append(parents, m.ULID)
	}
	sort.Slice(sources, func(i, j int) bool { return sources[i].Compare(sources[j]) < 0 })
	w, err := block.NewWriter(db.dir, db.opts.ChunkSegmentSize)
	if err != nil {
		return st, err
	}
	type cursor struct {
		b      *block.Block
		ids    []uint32
		stones block.Tombstones
	}
	curs := make([]*cursor, len(group))
	for i, b := range group {
		curs[i] = &cursor{b: b, ids: b.Index().All().ToArray(), stones: b.Tombstones()}
	}
	labelsOf := func(c *cursor) model.Labels { l, _ := c.b.Labels(c.ids[0]); return l }
	var metas []chunks.Meta
	var ss sourceSet
	for {
		var best model.Labels
		found := false
		for _, c := range curs {
			if len(c.ids) > 0 {
				if l := labelsOf(c); !found || l.Compare(best) < 0 {
					best, found = l, true
				}
			}
		}
		if !found {
			break
		}
		var srcs []chunkSrc
		for _, c := range curs {
			if len(c.ids) == 0 || !labelsOf(c).Equal(best) {
				continue
			}
			id := c.ids[0]
			c.ids = c.ids[1:]
			if metas, err = c.b.Chunks(id, metas); err != nil {
				w.Abort()
				return st, err
			}
			s := c.stones[id]
			for _, m := range metas {
				if !s.Covers(m.MinT, m.MaxT) {
					srcs = append(srcs, chunkSrc{minT: m.MinT, maxT: m.MaxT, ref: m.Ref, src: ss.block(c.b, s)})
				}
			}
		}
		sort.SliceStable(srcs, func(i, j int) bool { return srcs[i].minT < srcs[j].minT })
		cs, err := buildChunks(srcs, mint, maxt)
		if err == nil {
			err = w.AddSeries(best, cs)
		}
		if err != nil {
			w.Abort()
			return st, err
		}
	}
	if slices.ContainsFunc(group, damaged) {
		// A chunk failed on read: the merge may have left it out, and
		// the parents must not go.
		w.Abort()
		return st, fmt.Errorf("tsdb: compact: %w", block.ErrCorrupt)
	}
	if w.NumSeries() == 0 {
		// Everything was deleted: the parents just go.
		w.Abort()
		db.retire(group)
		st.Duration = time.Since(start)
		return st, nil
	}
	if len(group) > 1 {
		level++ // a rewrite of one block (tombstones) stays at its level
	}
	meta, err := w.Finish(mint, maxt, level, sources, parents)
	if err != nil {
		return st, err
	}
	nb, err := block.Open(filepath.Join(db.dir, meta.ULID.String()))
	if err != nil {
		return st, err
	}
	st.Meta, st.Size = meta, nb.Size()
	db.mu.Lock()
	keep := db.blocks[:0:0]
	for _, b := range db.blocks {
		old := false
		for _, g := range group {
			old = old || g == b
		}
		if !old {
			keep = append(keep, b)
		}
	}
	db.blocks = append(keep, nb)
	sortBlocks(db.blocks)
	db.mu.Unlock()
	db.retire(group)
	st.Duration = time.Since(start)
	return st, nil
}

// retire removes blocks from the list (if still there) and deletes them
// once no reader holds them: renamed to <ulid>.tmp first, so a crash
// mid-delete leaves a name Open cleans up, never half a block.
func (db *DB) retire(bs []*block.Block) {
	db.mu.Lock()
	keep := db.blocks[:0:0]
	for _, b := range db.blocks {
		gone := false
		for _, x := range bs {
			gone = gone || x == b
		}
		if !gone {
			keep = append(keep, b)
		}
	}
	db.blocks = keep
	db.mu.Unlock()
	for _, b := range bs {
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

// applyRetention deletes whole blocks past the time or size limit.
func (db *DB) applyRetention() {
	db.mu.RLock()
	bs := append([]*block.Block(nil), db.blocks...)
	db.mu.RUnlock()
	var drop []*block.Block
	if rt := db.opts.RetentionTime; rt > 0 && len(bs) > 0 {
		newest := db.head.maxT.Load()
		for _, b := range bs {
			newest = max(newest, b.Meta().MaxTime)
		}
		for _, b := range bs {
			if b.Meta().MaxTime <= newest-rt {
				drop = append(drop, b)
			}
		}
	}
	if rs := db.opts.RetentionSize; rs > 0 {
		var total int64
		for _, b := range bs {
			total += b.Size()
		}
		for _, b := range bs { // oldest first
			if total <= rs {
				break
			}
			total -= b.Size()
			dup := false
			for _, d := range drop {
				dup = dup || d == b
			}
			if !dup {
				drop = append(drop, b)
			}
		}
	}
	if len(drop) > 0 {
		db.retire(drop)
	}
}
