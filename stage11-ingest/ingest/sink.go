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
	return app.Commit()
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
