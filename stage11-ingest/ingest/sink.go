package ingest

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// Discard is a sink that stores nothing: the pipeline measured alone.
type Discard struct{}

func (Discard) Write(*Batch) error { return nil }

// BlocksSink writes batches into stage06's head through one appender per
// batch: Commit logs the batch to the WAL (with the DB's sync policy, by
// default fsynced, several flushers' commits sharing one fsync) before the
// pipeline acknowledges it.
type BlocksSink struct {
	db    *tsdb.DB
	cache *SeriesCache
}

// NewBlocksSink returns a sink over db.
func NewBlocksSink(db *tsdb.DB) *BlocksSink {
	return &BlocksSink{db: db, cache: NewSeriesCache(4 << 20)}
}

func (s *BlocksSink) Write(b *Batch) error {
	app := s.db.Appender(context.Background())
	from := len(b.refused) // this call's refusals start here
	// ns: the series the cache did not know, from the first such point
	// on, created together (create). A point of a series it could not
	// resolve (a ref gone since) goes the way of one Append by labels.
	var ns *newSeries
	lb := newLabeler()
	row := int32(-1)
	var ids *RowIDs
	var key []byte
	var f Format
	k := 0 // the point's position in its row
	for i := range b.Len() {
		p := b.At(i)
		if p.Row != row {
			row, k = p.Row, 0
			key, f = b.Key(row)
			ids = s.cache.Row(f, key)
		}
		suffix := b.Suffix(i)
		ref := ids.Get(suffix, k)
		k++
		if ref == 0 {
			if ns == nil {
				ns = s.create(app, b, i)
			}
			if j := ns.index(i); j >= 0 {
				if err := ns.errs[j]; err != nil {
					b.Refuse(i, err)
					continue
				}
				ref = ns.refs[j]
			}
		}
		var err error
		if ref != 0 {
			ref, err = app.Append(ref, model.Labels{}, p.T, p.V)
		}
		if ref == 0 || errors.Is(err, tsdb.ErrUnknownRef) {
			lset, lerr := lb.labels(b, i)
			if lerr != nil {
				b.Refuse(i, lerr)
				continue
			}
			ref, err = app.Append(0, lset, p.T, p.V)
			if ref != 0 {
				ids = s.cache.Set(f, key, suffix, ref)
			}
		}
		if err != nil {
			if errors.Is(err, tsdb.ErrClosed) {
				return err
			}
			b.Refuse(i, err)
		}
	}
	err := app.Commit()
	if ce := (*tsdb.CommitError)(nil); errors.As(err, &ce) {
		// The rest of the batch is stored: only the writes with a refused
		// sample are answered with it; the others are acknowledged.
		refuseAtCommit(b, from, ce.Samples)
		return nil
	}
	return err
}

// refuseAtCommit records the samples Commit refused. rs counts the points
// Append accepted, which are every point but those refused since
// b.refused[from].
func refuseAtCommit(b *Batch, from int, rs []tsdb.RefusedSample) {
	end := len(b.refused)
	r, seq := from, 0
	for i := 0; i < b.Len() && len(rs) > 0; i++ {
		if r < end && int(b.refused[r].i) == i {
			r++
			continue
		}
		if rs[0].Index == seq {
			b.Refuse(i, rs[0].Err)
			rs = rs[1:]
		}
		seq++
	}
}

// newSeries are the series of a batch's points from one on that the
// cache did not know: their label sets, built once each, and their refs or
// refusals from one SeriesRefs call.
type newSeries struct {
	from int
	at   []int32 // at[i-from]: point i's series in refs, -1 for none
	refs []uint64
	errs []error
}

// index is the position of point i's series in refs and errs, -1 if it is
// not one of them.
func (ns *newSeries) index(i int) int {
	if i < ns.from || i-ns.from >= len(ns.at) {
		return -1
	}
	return int(ns.at[i-ns.from])
}

// newRow is one key's new series in create: a chain through
// newSeries.next, from first.
type newRow struct {
	key         []byte
	f           Format
	first, last int32
}

// rowKey identifies a key of a format.
type rowKey struct {
	f   Format
	key string
}

// create resolves the series of points from, from+1, … that the cache
// does not know, all at once: each one's label set built once (a key named
// by several rows of the batch, a series by several points, counted once),
// then one SeriesRefs (stage06 creates the new ones under one hold of its
// creation lock, their WAL records in the commit's one series record), then
// one cache entry per key. This is the cold start's path: when a server
// starts, every point of its first batches is of a new series. Its lists
// are flat, one element per new series, so that it allocates per batch
// rather than per key or series.
func (s *BlocksSink) create(app tsdb.Appender, b *Batch, from int) *newSeries {
	ns := &newSeries{from: from}
	sa, ok := app.(tsdb.SeriesAppender)
	if !ok {
		return ns
	}
	ns.at = make([]int32, b.Len()-from)
	lb := newLabeler()
	var (
		lsets    []model.Labels
		lerrs    []error
		suffixes [][]byte // of each new series
		next     []int32  // the next new series of its key, -1 for none
		rows     []newRow
		// Sized for the keys of a cold start's batch (a thousand rows
		// reach it in a few doublings), not for every row: a batch of
		// known series with one new among them stays cheap.
		byKey = make(map[rowKey]int32, min(b.Rows()-int(b.At(from).Row), 256))
		row   = int32(-1)
		ids   *RowIDs
		key   []byte
		f     Format
		cur   = int32(-1) // the point's key in rows
		hint  int
	)
	for i := from; i < b.Len(); i++ {
		p := b.At(i)
		if p.Row != row {
			row, hint, cur = p.Row, 0, -1
			key, f = b.Key(row)
			ids = s.cache.Row(f, key)
		}
		suffix := b.Suffix(i)
		hint++
		if ids.Get(suffix, hint-1) != 0 {
			ns.at[i-from] = -1
			continue
		}
		if cur < 0 {
			var seen bool
			if cur, seen = byKey[rowKey{f, string(key)}]; !seen {
				cur = int32(len(rows))
				byKey[rowKey{f, string(key)}] = cur
				rows = append(rows, newRow{key: key, f: f, first: -1, last: -1})
			}
		}
		r := &rows[cur]
		j := r.first
		for j >= 0 && string(suffixes[j]) != string(suffix) {
			j = next[j]
		}
		if j < 0 {
			j = int32(len(lsets))
			lset, err := lb.labels(b, i)
			lsets, lerrs = append(lsets, lset), append(lerrs, err)
			suffixes, next = append(suffixes, suffix), append(next, -1)
			if r.last >= 0 {
				next[r.last] = j
			} else {
				r.first = j
			}
			r.last = j
		}
		ns.at[i-from] = j
	}
	ns.refs, ns.errs = make([]uint64, len(lsets)), make([]error, len(lsets))
	if len(lsets) == 0 {
		return ns
	}
	// A label set that could not be built goes in empty (refused), and
	// keeps its own error.
	if err := sa.SeriesRefs(lsets, ns.refs, ns.errs); errors.Is(err, tsdb.ErrClosed) {
		ns.at = nil // Append says it again
		return ns
	}
	for j, err := range lerrs {
		if err != nil {
			ns.refs[j], ns.errs[j] = 0, err
		}
	}
	var sfs [][]byte
	var rids []uint64
	for _, r := range rows {
		sfs, rids = sfs[:0], rids[:0]
		for j := r.first; j >= 0; j = next[j] {
			if ref := ns.refs[j]; ref != 0 {
				sfs, rids = append(sfs, suffixes[j]), append(rids, ref)
			}
		}
		if len(sfs) > 0 {
			s.cache.SetRow(r.f, r.key, sfs, rids)
		}
	}
	return ns
}

// MemorySink keeps every sample in memory, by series: the bench's
// `--sink memory` and the tests' record of what was stored.
type MemorySink struct {
	cache *SeriesCache
	mu    sync.Mutex
	ids   map[string]uint64
	sets  []model.Labels
	data  [][]model.Sample
}

// NewMemorySink returns an empty sink.
func NewMemorySink() *MemorySink {
	return &MemorySink{cache: NewSeriesCache(1 << 20), ids: map[string]uint64{}, sets: []model.Labels{{}}, data: [][]model.Sample{nil}}
}

func (s *MemorySink) Write(b *Batch) error {
	row := int32(-1)
	var ids *RowIDs
	var key []byte
	var f Format
	k := 0
	lb := newLabeler()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range b.Len() {
		p := b.At(i)
		if p.Row != row {
			row, k = p.Row, 0
			key, f = b.Key(row)
			ids = s.cache.Row(f, key)
		}
		suffix := b.Suffix(i)
		id := ids.Get(suffix, k)
		k++
		if id == 0 {
			lset, err := lb.labels(b, i)
			if err != nil {
				b.Refuse(i, err)
				continue
			}
			k := lset.String()
			if id = s.ids[k]; id == 0 {
				id = uint64(len(s.sets))
				s.ids[k] = id
				s.sets = append(s.sets, lset)
				s.data = append(s.data, nil)
			}
			ids = s.cache.Set(f, key, suffix, id)
		}
		s.data[id] = append(s.data[id], model.Sample{T: p.T, V: p.V})
	}
	return nil
}

// Series returns the samples stored, by label set (String form), in the
// order they were written.
func (s *MemorySink) Series() map[string][]model.Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]model.Sample, len(s.sets))
	for i := 1; i < len(s.sets); i++ {
		out[s.sets[i].String()] = append([]model.Sample(nil), s.data[i]...)
	}
	return out
}

// Len is the number of samples stored.
func (s *MemorySink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, d := range s.data {
		n += len(d)
	}
	return n
}

// Names lists the series stored, sorted.
func (s *MemorySink) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.sets)-1)
	for _, l := range s.sets[1:] {
		out = append(out, l.String())
	}
	sort.Strings(out)
	return out
}
