package tsdb

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// Querier reads a time range of the DB: the blocks and the head as they
// were when it was opened. It must be closed: until then it pins the
// blocks it reads (compaction deletes them only afterwards) and holds back
// head truncation of its range.
type Querier interface {
	// Select returns the series matching every matcher (no matcher: all
	// series), sorted by labels, each with the samples in the querier's
	// range merged over head and blocks, duplicates dropped, deleted
	// samples left out.
	Select(ms ...*index.Matcher) SeriesSet
	// LabelNames returns the sorted label names of the series matching ms
	// (all series without ms).
	LabelNames(ms ...*index.Matcher) ([]string, error)
	// LabelValues returns the sorted values of a label, over the series
	// matching ms.
	LabelValues(name string, ms ...*index.Matcher) ([]string, error)
	// Warnings say why a result may be incomplete: one for each damaged
	// block that may hide data in the querier's range (moved aside, or
	// with chunks that failed their checksum, which are left out). Valid
	// once the series read are done with.
	Warnings() []string
	Close() error
}

// StatsQuerier is a Querier that counts what it read: the DB's queriers
// are, for the demo and a server's query log.
type StatsQuerier interface {
	Querier
	// Stats counts what the queries of this querier read so far.
	Stats() QueryStats
}

// SeriesSet iterates series.
type SeriesSet interface {
	Next() bool
	At() Series
	Err() error
}

// Series is one series of a query result.
type Series interface {
	Labels() model.Labels
	// Iterator returns an iterator over the series' samples; it may reuse
	// the iterator passed in (nil: allocate).
	Iterator(Iterator) Iterator
}

// QueryStats are the figures the demo prints for a query.
type QueryStats struct {
	Blocks  int   // blocks with at least one selected chunk
	Head    bool  // whether the head had selected chunks
	Series  int   // series returned
	Chunks  int   // chunks selected
	Samples int64 // samples returned by the iterators
}

type querier struct {
	db         *DB
	mint, maxt int64
	blocks     []*block.Block
	iso        *isoState
	gen        uint64
	closed     bool

	workers   sync.WaitGroup // read-ahead decoders (readahead.go)
	raMu      sync.Mutex
	ras       []*readAhead // to stop at Close
	raClosed  bool         // Close began: no new read-ahead
	blocksHit map[*block.Block]bool
	headHit   bool
	series    int
	chunks    int
	samples   atomic.Int64
}

// Querier opens a querier over [mint, maxt] (inclusive, ms).
func (db *DB) Querier(mint, maxt int64) (Querier, error) {
	// Counted as a reader before the closed check: Close sets closed and
	// then drains the readers, so either it waits for this one or this
	// one sees closed.
	gen := db.readers.acquire()
	if db.closed.Load() {
		db.readers.release(gen)
		return nil, ErrClosed
	}
	q := &querier{db: db, mint: mint, maxt: maxt, blocksHit: map[*block.Block]bool{}, gen: gen}
	db.mu.RLock()
	for _, b := range db.blocks {
		if b.Meta().Overlaps(mint, maxt) && b.Acquire() {
			q.blocks = append(q.blocks, b)
		}
	}
	q.iso = db.head.iso.snapshot()
	db.mu.RUnlock()
	return q, nil
}

func (q *querier) Close() error {
	if q.closed {
		return nil
	}
	q.closed = true
	q.raMu.Lock()
	q.raClosed = true
	for _, r := range q.ras {
		r.stop()
	}
	q.raMu.Unlock()
	q.workers.Wait()
	for _, b := range q.blocks {
		b.Release()
	}
	q.db.head.iso.release(q.iso)
	q.db.removeHeadFiles(q.db.readers.release(q.gen))
	return nil
}

// addReadAhead registers a read-ahead for Close to stop; false once the
// querier is closing.
func (q *querier) addReadAhead(r *readAhead) bool {
	q.raMu.Lock()
	defer q.raMu.Unlock()
	if q.raClosed {
		return false
	}
	q.ras = append(q.ras, r)
	return true
}

func (q *querier) Warnings() []string { return q.db.damageWarnings(q.mint, q.maxt) }

func (q *querier) Stats() QueryStats {
	return QueryStats{Blocks: len(q.blocksHit), Head: q.headHit, Series: q.series, Chunks: q.chunks, Samples: q.samples.Load()}
}

// entry is a series of a Select with its chunks. In a block's list
// (selectBlock) the chunks are not listed yet: id says where they are.
type entry struct {
	lset   model.Labels
	chunks []chunkSrc
	id     uint32 // a block's series ID
}

// Select lists the matching series of every source by labels first, then
// merges the lists and lists each series' chunks from all its sources
// into one list (mergeEntries): one chunk list per series, written once.
func (q *querier) Select(ms ...*index.Matcher) SeriesSet {
	var lists [][]entry
	var from []func(*entry, []chunkSrc) []chunkSrc // lists[i]'s chunks
	var err error
	var ss sourceSet
	for _, b := range q.blocks {
		l, list := q.selectBlock(b, ms, &ss, &err)
		if len(l) > 0 {
			lists, from = append(lists, l), append(from, list)
		}
	}
	hl, list := q.selectHead(ms, &ss)
	var merged []entry
	if len(lists) == 0 {
		merged = hl // only the head: its entries are the result
	} else {
		if len(hl) > 0 {
			lists, from = append(lists, hl), append(from, list)
		}
		merged = mergeEntries(lists, func(i int, e *entry, dst []chunkSrc) []chunkSrc { return from[i](e, dst) })
	}
	q.series += len(merged)
	for _, e := range merged {
		q.chunks += len(e.chunks)
	}
	return &seriesSet{q: q, entries: merged, i: -1, err: err}
}

// selectBlock lists the matching series of a block, and returns the
// function that lists a series' chunks (the first error goes to *err).
// Series IDs of a block are in label order, so the list comes out sorted.
func (q *querier) selectBlock(b *block.Block, ms []*index.Matcher, ss *sourceSet, err *error) ([]entry, func(*entry, []chunkSrc) []chunkSrc) {
	ids := b.Index().Select(ms...).ToArray()
	out := make([]entry, 0, len(ids))
	for _, id := range ids {
		lset, _ := b.Labels(id)
		out = append(out, entry{lset: lset, id: id})
	}
	stones := b.Tombstones()
	var metas []chunks.Meta
	return out, func(e *entry, dst []chunkSrc) []chunkSrc {
		var e2 error
		if metas, e2 = b.Chunks(e.id, metas); e2 != nil {
			if *err == nil {
				*err = e2
			}
			return dst
		}
		st := stones[e.id]
		var src *source
		for _, m := range metas {
			if m.Overlaps(q.mint, q.maxt) && !st.Covers(m.MinT, m.MaxT) {
				if src == nil {
					src = ss.block(b, st)
					q.blocksHit[b] = true
				}
				dst = append(dst, chunkSrc{minT: m.MinT, maxT: m.MaxT, ref: m.Ref, src: src})
			}
		}
		return dst
	}
}

// selectHead lists the matching series of the head with their chunks,
// and returns the function that appends a series' chunks to a merged list.
// The series are snapshotted here, in order of index ID (about the order
// they sit in memory: in label order the snapshots cost a third more), and
// the result is sorted after (sortHead: by the order an earlier query
// found where it can, else sortByLabels). The chunk lists of all series
// share a few large arrays and the open chunks' copies a few buffers
// (ss's arena): a query of 10,000 series allocates little more than their
// label sets.
func (q *querier) selectHead(ms []*index.Matcher, ss *sourceSet) ([]entry, func(*entry, []chunkSrc) []chunkSrc) {
	h := q.db.head
	ids := h.ix.Select(ms...).ToArray()
	out := make([]entry, 0, len(ids))
	outIDs := make([]uint32, 0, len(ids))
	var all []chunkSrc
	for k, id := range ids {
		s := h.byID.get(uint64(id))
		if s == nil {
			continue
		}
		if cap(all)-len(all) < 8 {
			// A new array for the next series' lists: a few chunks each
			// for a short range. The earlier lists stay in the old one,
			// as they do if snapshot has to grow this one.
			all = make([]chunkSrc, 0, min(max(2*(len(ids)-k), 16), 4096))
		}
		start := len(all)
		all = s.snapshot(all, ss, h.hc, q.mint, q.maxt, q.iso, true)
		if len(all) == start {
			continue
		}
		lset, ok := h.ix.Labels(id)
		if !ok {
			all = all[:start]
			continue
		}
		out = append(out, entry{lset: lset, chunks: all[start:len(all):len(all)]})
		outIDs = append(outIDs, id)
	}
	if len(out) > 0 {
		q.headHit = true
	}
	return q.db.sortHead(out, outIDs), func(e *entry, dst []chunkSrc) []chunkSrc { return append(dst, e.chunks...) }
}

// sortByLabels returns entries sorted by label set (model.Labels.Compare),
// in a new slice. Each label set is first encoded into a key whose byte
// order is the label order (appendSortKey), all keys in one buffer; the
// sort then compares the 8 bytes of the keys after the prefix all keys
// share, as one integer, and the rest of the keys only where those are
// equal. Moved around are small pointer-free triples, not the entries.
func sortByLabels(es []entry) []entry {
	out, _ := sortByLabelsOrder(es)
	return out
}

// sortByLabelsOrder is sortByLabels that also returns the permutation:
// order[r] is the position in es of the entry at r in the result.
func sortByLabelsOrder(es []entry) ([]entry, []uint32) {
	if len(es) < 2 {
		return es, make([]uint32, len(es))
	}
	type keyed struct {
		head          uint64 // 8 bytes after the common prefix, big-endian, zero-padded
		off, end, idx uint32
	}
	n := 0
	for i := range es {
		for l := range es[i].lset.All() {
			n += len(l.Name) + len(l.Value) + 4 // exact without 0s inside
		}
	}
	buf := make([]byte, 0, n)
	ks := make([]keyed, len(es))
	for i := range es {
		off := len(buf)
		buf = appendSortKey(buf, es[i].lset)
		ks[i] = keyed{off: uint32(off), end: uint32(len(buf)), idx: uint32(i)}
	}
	first := buf[ks[0].off:ks[0].end]
	common := len(first)
	for _, k := range ks[1:] {
		key := buf[k.off:k.end]
		c := 0
		for c < common && c < len(key) && key[c] == first[c] {
			c++
		}
		common = c
	}
	for i := range ks {
		var w [8]byte
		copy(w[:], buf[int(ks[i].off)+common:ks[i].end])
		ks[i].head = binary.BigEndian.Uint64(w[:])
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if c := cmp.Compare(a.head, b.head); c != 0 {
			return c
		}
		return bytes.Compare(buf[a.off:a.end], buf[b.off:b.end])
	})
	out := make([]entry, len(es))
	order := make([]uint32, len(es))
	for i, k := range ks {
		out[i], order[i] = es[k.idx], k.idx
	}
	return out, order
}

// appendSortKey appends the key of ls: every name and value in label order,
// each followed by the bytes 0 0, with a 0 inside a string written as 0 255.
// Comparing two keys byte by byte then compares the label sets as
// model.Labels.Compare does: name, then value, label by label, a string
// before its extensions ("a" < "a\x00" < "a\x01" < "ab"), a label set
// before its extensions.
func appendSortKey(b []byte, ls model.Labels) []byte {
	put := func(s string) {
		for {
			i := strings.IndexByte(s, 0)
			if i < 0 {
				break
			}
			b = append(append(b, s[:i]...), 0, 255)
			s = s[i+1:]
		}
		b = append(append(b, s...), 0, 0)
	}
	for l := range ls.All() {
		put(l.Name)
		put(l.Value)
	}
	return b
}

// mergeEntries merges lists sorted by label set, one per source in
// source order (blocks by time, then the head), into one sorted list of
// the series that have chunks. For each series, list appends its chunks
// from source i to dst; those of all its sources go into one list, sorted
// by time, cut from arrays of thousands of chunks: a 24 h query over
// 10,000 series lists 50 chunks each from five sources in about 60
// allocations, and each chunk is written once more (from the scratch list
// into its array), not once per source and again merged. A series found
// in one source whose entry has its chunks already (the head's) keeps
// them as they are.
func mergeEntries(lists [][]entry, list func(i int, e *entry, dst []chunkSrc) []chunkSrc) []entry {
	n := 0
	for _, l := range lists {
		n = max(n, len(l))
	}
	out := make([]entry, 0, n)
	pos := make([]int, len(lists))
	var cur, slab []chunkSrc
	var in []int // the lists holding the series
	for {
		best := -1
		for i, l := range lists {
			if pos[i] < len(l) && (best < 0 || l[pos[i]].lset.Compare(lists[best][pos[best]].lset) < 0) {
				best = i
			}
		}
		if best < 0 {
			return out
		}
		lset := lists[best][pos[best]].lset
		// Lists before best cannot hold lset: best is the first list
		// with the smallest label set.
		in = append(in[:0], best)
		for i := best + 1; i < len(lists); i++ {
			if l := lists[i]; pos[i] < len(l) && l[pos[i]].lset.Equal(lset) {
				in = append(in, i)
			}
		}
		if e := &lists[best][pos[best]]; len(in) == 1 && e.chunks != nil {
			out = append(out, entry{lset: lset, chunks: e.chunks})
			pos[best]++
			continue
		}
		cur = cur[:0]
		for _, i := range in {
			cur = list(i, &lists[i][pos[i]], cur)
			pos[i]++
		}
		if len(cur) == 0 {
			continue // no chunk in the range (or all deleted)
		}
		// Blocks come sorted by time and the head last, so the list is
		// usually in order already.
		if !slices.IsSortedFunc(cur, func(a, b chunkSrc) int { return cmp.Compare(a.minT, b.minT) }) {
			sort.SliceStable(cur, func(i, j int) bool { return cur[i].minT < cur[j].minT })
		}
		if cap(slab)-len(slab) < len(cur) {
			// Room for the series left at this one's length (at least
			// as many as the longest list has left), up to 8192 chunks.
			left := 0
			for i, l := range lists {
				left = max(left, len(l)-pos[i])
			}
			slab = make([]chunkSrc, 0, max(len(cur), min(len(cur)*(left+1), 8192)))
		}
		k := len(slab)
		slab = append(slab, cur...)
		out = append(out, entry{lset: lset, chunks: slab[k:len(slab):len(slab)]})
	}
}

type seriesSet struct {
	q       *querier
	entries []entry
	series  []series // what At returns, one allocation for all
	i       int
	err     error
	ra      *readAhead // started by the first Iterator call
	raInit  bool
}

func (s *seriesSet) Next() bool {
	if s.i+1 >= len(s.entries) {
		s.i = len(s.entries)
		return false
	}
	s.i++
	return true
}

func (s *seriesSet) At() Series {
	if s.series == nil {
		s.series = make([]series, len(s.entries))
	}
	p := &s.series[s.i]
	*p = series{e: &s.entries[s.i], q: s.q, set: s, i: s.i}
	return p
}
func (s *seriesSet) Err() error { return s.err }

type series struct {
	e   *entry
	q   *querier
	set *seriesSet
	i   int
}

func (s *series) Labels() model.Labels { return s.e.lset }

func (s *series) Iterator(it Iterator) Iterator {
	if set := s.set; set != nil {
		if !set.raInit {
			set.raInit = true
			set.ra = newReadAhead(s.q, set.entries)
		}
		if set.ra != nil {
			return set.ra.iterator(s.i, it)
		}
	}
	if l, ok := it.(*listIterator); ok && !hasOverlap(s.e.chunks) && !hasHist(s.e.chunks) {
		*l = listIterator{srcs: s.e.chunks, mint: s.q.mint, maxt: s.q.maxt, count: &s.q.samples}
		return l
	}
	return newSeriesIterator(s.e.chunks, s.q.mint, s.q.maxt, &s.q.samples)
}

// HasHistograms reports whether the series holds any native histogram
// chunk in the querier's range, from the chunks' refs alone (nothing is
// read): a reader that keeps floats and histograms apart (stage10's
// engine) asks before paying for the histogram path.
func (s *series) HasHistograms() bool { return hasHist(s.e.chunks) }

func hasOverlap(srcs []chunkSrc) bool {
	hi := int64(math.MinInt64)
	for _, c := range srcs {
		if c.ooo() || c.minT <= hi {
			return true
		}
		hi = c.maxT
	}
	return false
}

func (q *querier) LabelNames(ms ...*index.Matcher) ([]string, error) {
	seen := map[string]struct{}{}
	if len(ms) == 0 {
		for _, n := range q.db.head.ix.LabelNames() {
			seen[n] = struct{}{}
		}
		for _, b := range q.blocks {
			for _, n := range b.Index().LabelNames() {
				seen[n] = struct{}{}
			}
		}
	} else {
		ss := q.Select(ms...)
		for ss.Next() {
			for l := range ss.At().Labels().All() {
				seen[l.Name] = struct{}{}
			}
		}
		if err := ss.Err(); err != nil {
			return nil, err
		}
	}
	return sortedKeys(seen), nil
}

func (q *querier) LabelValues(name string, ms ...*index.Matcher) ([]string, error) {
	seen := map[string]struct{}{}
	if len(ms) == 0 {
		for _, v := range q.db.head.ix.LabelValues(name) {
			seen[v] = struct{}{}
		}
		for _, b := range q.blocks {
			for _, v := range b.Index().LabelValues(name) {
				seen[v] = struct{}{}
			}
		}
	} else {
		ss := q.Select(ms...)
		for ss.Next() {
			if v := ss.At().Labels().Get(name); v != "" {
				seen[v] = struct{}{}
			}
		}
		if err := ss.Err(); err != nil {
			return nil, err
		}
	}
	return sortedKeys(seen), nil
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
