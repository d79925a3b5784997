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
	// Stats counts what the queries of this querier read so far.
	Stats() QueryStats
	Close() error
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
	if db.closed.Load() {
		return nil, ErrClosed
	}
	q := &querier{db: db, mint: mint, maxt: maxt, blocksHit: map[*block.Block]bool{}}
	db.mu.RLock()
	for _, b := range db.blocks {
		if b.Meta().Overlaps(mint, maxt) && b.Acquire() {
			q.blocks = append(q.blocks, b)
		}
	}
	q.gen = db.readers.acquire()
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

func (q *querier) Stats() QueryStats {
	return QueryStats{Blocks: len(q.blocksHit), Head: q.headHit, Series: q.series, Chunks: q.chunks, Samples: q.samples.Load()}
}

// entry is a series of one source (a block or the head) with its chunks.
type entry struct {
	lset   model.Labels
	chunks []chunkSrc
}

func (q *querier) Select(ms ...*index.Matcher) SeriesSet {
	var lists [][]entry
	var err error
	for _, b := range q.blocks {
		l, e := q.selectBlock(b, ms)
		if e != nil && err == nil {
			err = e
		}
		if len(l) > 0 {
			lists = append(lists, l)
		}
	}
	if l := q.selectHead(ms); len(l) > 0 {
		lists = append(lists, l)
	}
	merged := mergeEntries(lists)
	q.series += len(merged)
	for _, e := range merged {
		q.chunks += len(e.chunks)
	}
	return &seriesSet{q: q, entries: merged, i: -1, err: err}
}

// selectBlock lists the matching series of a block. Series IDs of a block
// are in label order, so the list comes out sorted.
func (q *querier) selectBlock(b *block.Block, ms []*index.Matcher) ([]entry, error) {
	var metas []chunks.Meta
	var err error
	stones := b.Tombstones()
	ids := b.Index().Select(ms...).ToArray()
	out := make([]entry, 0, len(ids))
	// The chunk lists of all series share one backing array, grown in
	// large steps: one allocation per block rather than one per series.
	var all []chunkSrc
	for _, id := range ids {
		if metas, err = b.Chunks(id, metas); err != nil {
			return out, err
		}
		if cap(all)-len(all) < len(metas) {
			all = make([]chunkSrc, 0, max(len(metas), 64*len(metas), 1024))
		}
		start := len(all)
		st := stones[id]
		for _, m := range metas {
			if m.Overlaps(q.mint, q.maxt) && !st.Covers(m.MinT, m.MaxT) {
				all = append(all, chunkSrc{minT: m.MinT, maxT: m.MaxT, ref: m.Ref, blk: b, stones: st, capT: math.MaxInt64})
			}
		}
		if len(all) == start {
			continue
		}
		lset, _ := b.Labels(id)
		out = append(out, entry{lset: lset, chunks: all[start:len(all):len(all)]})
		q.blocksHit[b] = true
	}
	return out, nil
}

// selectHead lists the matching series of the head. Their index IDs are
// in order of arrival, so the list is sorted here (sortHead: by the order
// an earlier query found where it can, else sortByLabels). The chunk
// lists of all series share one backing array and the open chunks' copies
// a few buffers (snapshot's arena): a query of 10,000 series allocates
// little more than their label sets.
func (q *querier) selectHead(ms []*index.Matcher) []entry {
	h := q.db.head
	ids := h.ix.Select(ms...).ToArray()
	out := make([]entry, 0, len(ids))
	outIDs := make([]uint32, 0, len(ids))
	var all []chunkSrc
	var arena []byte
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
		all = s.snapshot(all, &arena, h.hc, q.mint, q.maxt, q.iso)
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
	return q.db.sortHead(out, outIDs)
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

// mergeEntries merges sorted lists; equal label sets become one entry with
// the chunks of all, sorted by time.
func mergeEntries(lists [][]entry) []entry {
	switch len(lists) {
	case 0:
		return nil
	case 1:
		return lists[0]
	}
	if len(lists) > 64 {
		// The merge marks lists in a 64-bit set; more than 64 sources
		// (blocks + head) are merged in two rounds.
		return mergeEntries([][]entry{mergeEntries(lists[:len(lists)/2]), mergeEntries(lists[len(lists)/2:])})
	}
	out := make([]entry, 0, len(lists[0]))
	pos := make([]int, len(lists))
	// The merged chunk lists are cut from arrays of a few thousand chunks:
	// a 24 h query over 10,000 series merges 50 chunks each from five
	// sources, about 120 allocations instead of 10,000.
	var slab []chunkSrc
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
		e := lists[best][pos[best]]
		pos[best]++
		// Every list holding the same series: count first, so that the
		// merged chunk list is allocated once.
		n, same := len(e.chunks), uint64(0)
		for i, l := range lists {
			if pos[i] < len(l) && l[pos[i]].lset.Equal(e.lset) {
				n += len(l[pos[i]].chunks)
				same |= 1 << i
			}
		}
		if same != 0 {
			if cap(slab)-len(slab) < n {
				slab = make([]chunkSrc, 0, max(n, 4096))
			}
			cs := slab[len(slab) : len(slab) : len(slab)+n]
			slab = slab[:len(slab)+n]
			cs = append(cs, e.chunks...)
			for i, l := range lists {
				if same&(1<<i) != 0 {
					cs = append(cs, l[pos[i]].chunks...)
					pos[i]++
				}
			}
			// Blocks come sorted by time and the head last, so the list
			// is usually in order already.
			if !slices.IsSortedFunc(cs, func(a, b chunkSrc) int { return cmp.Compare(a.minT, b.minT) }) {
				sort.SliceStable(cs, func(i, j int) bool { return cs[i].minT < cs[j].minT })
			}
			e.chunks = cs
		}
		out = append(out, e)
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
	if l, ok := it.(*listIterator); ok && !hasOverlap(s.e.chunks) {
		*l = listIterator{srcs: s.e.chunks, mint: s.q.mint, maxt: s.q.maxt, count: &s.q.samples}
		return l
	}
	return newSeriesIterator(s.e.chunks, s.q.mint, s.q.maxt, &s.q.samples)
}

func hasOverlap(srcs []chunkSrc) bool {
	hi := int64(math.MinInt64)
	for _, c := range srcs {
		if c.ooo || c.minT <= hi {
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
