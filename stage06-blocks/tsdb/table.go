package tsdb

import (
	"sync/atomic"
)

// seriesTable maps a dense uint64 key (a head ref, an index ID) to its
// series. Lookups take no lock: the table is a directory of fixed-size
// pages behind atomic pointers, so appenders resolving refs on two cores do
// not contend on a shared lock word, as they would with a map under an
// RWMutex. Inserts and deletes are serialised by the caller: the head calls
// set and del with its createMu held (or during replay, alone), so the
// table takes no lock of its own on the path of every new series. A page
// whose entries are all deleted is freed.
type seriesTable struct {
	dir    atomic.Pointer[[]*seriesPage]
	counts []int // per page, under the caller's lock
	n      atomic.Int64
}

const (
	pageBits = 12
	pageSize = 1 << pageBits
)

type seriesPage [pageSize]atomic.Pointer[memSeries]

func (t *seriesTable) get(k uint64) *memSeries {
	d := t.dir.Load()
	p := k >> pageBits
	if d == nil || p >= uint64(len(*d)) {
		return nil
	}
	pg := (*d)[p]
	if pg == nil {
		return nil
	}
	return pg[k&(pageSize-1)].Load()
}

// set stores s under k. The caller serialises set and del.
func (t *seriesTable) set(k uint64, s *memSeries) {
	p := int(k >> pageBits)
	var d []*seriesPage
	if dp := t.dir.Load(); dp != nil {
		d = *dp
	}
	if p >= len(d) || d[p] == nil {
		nd := make([]*seriesPage, max(len(d), p+1))
		copy(nd, d)
		nd[p] = new(seriesPage)
		d = nd
		t.dir.Store(&nd)
		for len(t.counts) < len(nd) {
			t.counts = append(t.counts, 0)
		}
	}
	if d[p][k&(pageSize-1)].Swap(s) == nil {
		t.counts[p]++
		t.n.Add(1)
	}
}

// del removes k. The caller serialises set and del.
func (t *seriesTable) del(k uint64) {
	dp := t.dir.Load()
	p := int(k >> pageBits)
	if dp == nil || p >= len(*dp) || (*dp)[p] == nil {
		return
	}
	if (*dp)[p][k&(pageSize-1)].Swap(nil) != nil {
		t.counts[p]--
		t.n.Add(-1)
		if t.counts[p] == 0 {
			nd := append([]*seriesPage(nil), *dp...)
			nd[p] = nil
			t.dir.Store(&nd)
		}
	}
}

// len is the number of series.
func (t *seriesTable) len() int { return int(t.n.Load()) }

// each calls fn for every series, in key order, until it returns false.
func (t *seriesTable) each(fn func(*memSeries) bool) {
	dp := t.dir.Load()
	if dp == nil {
		return
	}
	for _, pg := range *dp {
		if pg == nil {
			continue
		}
		for i := range pg {
			if s := pg[i].Load(); s != nil && !fn(s) {
				return
			}
		}
	}
}
