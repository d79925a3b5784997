// Package memstore is the course's first storage engine: every series in
// memory, found by the hash of its label set, its points kept sorted by time in
// two columns. Later stages replace the columns with compressed chunks, the
// scan in Select with an inverted index, and add durability; the shape of the
// API (series handles, label-set selection, inclusive time ranges) stays.
package memstore

import (
	"slices"
	"sync"
	"unsafe"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Store holds series in memory. It is safe for concurrent use.
type Store struct {
	mu sync.RWMutex
	// byHash maps a label-set hash to the series with that hash. Almost always
	// one; a slice because two label sets may collide in 64 bits.
	byHash map[uint64][]*Series
	// byName groups series by metric name, so a selector naming a metric only
	// looks at that metric's series. (Stage 05 generalises this to every label.)
	byName map[string][]*Series
	count  int
}

// New returns an empty store.
func New() *Store {
	return &Store{byHash: map[uint64][]*Series{}, byName: map[string][]*Series{}}
}

// Series returns the handle of the series with exactly these labels, creating
// it if it does not exist yet.
func (s *Store) Series(ls model.Labels) *Series {
	h := ls.Hash()
	s.mu.RLock()
	sr := find(s.byHash[h], ls)
	s.mu.RUnlock()
	if sr != nil {
		return sr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sr := find(s.byHash[h], ls); sr != nil { // created while we waited for the lock
		return sr
	}
	sr = &Series{labels: ls}
	s.byHash[h] = append(s.byHash[h], sr)
	s.byName[ls.Name()] = append(s.byName[ls.Name()], sr)
	s.count++
	return sr
}

// Lookup returns the series with exactly these labels, or nil.
func (s *Store) Lookup(ls model.Labels) *Series {
	h := ls.Hash()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return find(s.byHash[h], ls)
}

func find(candidates []*Series, ls model.Labels) *Series {
	for _, c := range candidates {
		if c.labels.Equal(ls) {
			return c
		}
	}
	return nil
}

// Insert appends one point to the series with these labels.
func (s *Store) Insert(ls model.Labels, t int64, v float64) {
	s.Series(ls).Append(t, v)
}

// Select returns every series whose label set contains all labels of sel,
// sorted by label set. sel = {__name__="cpu.usage", host="server1"} matches
// cpu.usage{host="server1",region="us-east"}; an empty sel matches everything.
func (s *Store) Select(sel model.Labels) []*Series {
	s.mu.RLock()
	var out []*Series
	if name := sel.Name(); name != "" {
		for _, sr := range s.byName[name] {
			if sr.labels.Contains(sel) {
				out = append(out, sr)
			}
		}
	} else {
		for _, group := range s.byName {
			for _, sr := range group {
				if sr.labels.Contains(sel) {
					out = append(out, sr)
				}
			}
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Series) int { return a.labels.Compare(b.labels) })
	return out
}

// Result is one series' points from a Query.
type Result struct {
	Labels  model.Labels
	Samples []model.Sample
}

// Query returns, for every series Select(sel) finds, its points with
// mint <= t <= maxt. Series with no point in the range are left out.
func (s *Store) Query(sel model.Labels, mint, maxt int64) []Result {
	var out []Result
	for _, sr := range s.Select(sel) {
		if pts := sr.Range(mint, maxt, nil); len(pts) > 0 {
			out = append(out, Result{Labels: sr.labels, Samples: pts})
		}
	}
	return out
}

// Stats describes the store's size.
type Stats struct {
	Series int
	Points int
	// ColumnBytes is the memory reserved for timestamps and values
	// (including unused capacity): the cost of the data itself.
	ColumnBytes int
	// Bytes adds an estimate of per-series overhead: the Series struct, its
	// page table, label strings and index entries.
	Bytes int
}

// Stats measures the store.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	all := make([]*Series, 0, s.count)
	for _, group := range s.byHash {
		all = append(all, group...)
	}
	s.mu.RUnlock()
	st := Stats{Series: len(all)}
	for _, sr := range all {
		st.Points += sr.Len()
		cb, slots := sr.columnBytes()
		st.ColumnBytes += cb
		st.Bytes += cb + overhead(sr, slots)
	}
	return st
}

// overhead estimates the bytes a series costs besides its columns, with
// pageSlots the capacity of its page table.
func overhead(sr *Series, pageSlots int) int {
	const ptr = int(unsafe.Sizeof(uintptr(0)))
	b := int(unsafe.Sizeof(*sr))
	b += pageSlots * int(unsafe.Sizeof(page{}))
	b += sr.labels.Len() * int(unsafe.Sizeof(model.Label{}))
	for l := range sr.labels.All() {
		b += len(l.Name) + len(l.Value)
	}
	b += 2 * (8 + ptr) // one slot in byHash and one in byName, ignoring map load factor
	return b
}
