package index

import (
	"math"

	"github.com/RoaringBitmap/roaring/v2"
)

// pageBits sets the page size of the series store: 4096 series per page.
const (
	pageBits = 12
	pageSize = 1 << pageBits
)

// seriesStore keeps, for every series ID, the references of its label pairs
// (indexes into Index.pairs) in label-name order. That is 4 bytes a label
// instead of the 32 of a model.Label (two string headers): the strings
// themselves are stored once, in the pair table, however many series share
// them. Fifteen labels cost 60 bytes plus a 4-byte offset.
//
// IDs are dense and never reused, so the store is an array indexed by ID, cut
// into pages so that deleting series gives memory back: a page whose series
// are all gone is dropped, and a page where deleted series hold more than half
// of the references is compacted.
type seriesStore struct {
	pages []*seriesPage // page p holds IDs [p·4096, (p+1)·4096); nil once emptied
	next  uint64        // the next ID to allocate; uint64 so that 2^32 ("full") fits
}

type seriesPage struct {
	off  []uint32 // slot s's refs are refs[off[s]:off[s+1]]; len(off) = slots used + 1
	refs []uint32
	live int // series of this page not deleted
	dead int // references still in refs that belong to deleted series
}

// full reports whether no ID is left.
func (s *seriesStore) full() bool { return s.next > math.MaxUint32 }

// put stores the refs of series id, which must be ≥ s.next; the IDs skipped
// over (deleted before the index was written to a file) get empty slots.
func (s *seriesStore) put(id SeriesID, refs []uint32) {
	s.skipTo(uint64(id))
	pg := s.page()
	pg.refs = append(pg.refs, refs...)
	pg.live++
	s.endSlot(pg)
}

// skipTo moves s.next to next, leaving the IDs in between empty. Whole
// pages of them are not allocated at all.
func (s *seriesStore) skipTo(next uint64) {
	for s.next < next {
		if s.next&(pageSize-1) == 0 && next-s.next >= pageSize {
			s.next += pageSize
			continue
		}
		s.endSlot(s.page())
	}
}

// page returns the page of s.next, creating it (and the pages list up to it).
func (s *seriesStore) page() *seriesPage {
	p, slot := int(s.next>>pageBits), int(s.next&(pageSize-1))
	for len(s.pages) <= p {
		s.pages = append(s.pages, nil)
	}
	pg := s.pages[p]
	if pg == nil {
		// Slots before this one in the page are gaps. Pages fill alike, so
		// the previous one's size is a good guess for the refs.
		pg = &seriesPage{off: make([]uint32, slot+1, pageSize+1)}
		if p > 0 && s.pages[p-1] != nil {
			pg.refs = make([]uint32, 0, len(s.pages[p-1].refs))
		}
		s.pages[p] = pg
	}
	return pg
}

// endSlot closes the slot of s.next (its refs, if any, are appended) and
// advances s.next.
func (s *seriesStore) endSlot(pg *seriesPage) {
	pg.off = append(pg.off, uint32(len(pg.refs)))
	s.next++
	if len(pg.off) == pageSize+1 && cap(pg.refs)-len(pg.refs) > len(pg.refs)/16 {
		// A full page never grows again: give back append's slack.
		pg.refs = append([]uint32(nil), pg.refs...)
	}
}

// get returns the refs of series id (empty if it never existed or was
// compacted away). The slice aliases the store: read it, do not keep it past
// the lock it was read under.
func (s *seriesStore) get(id SeriesID) []uint32 {
	p := int(id >> pageBits)
	if p >= len(s.pages) || s.pages[p] == nil {
		return nil
	}
	pg := s.pages[p]
	slot := int(id & (pageSize - 1))
	if slot+1 >= len(pg.off) {
		return nil
	}
	return pg.refs[pg.off[slot]:pg.off[slot+1]]
}

// del forgets series id, which live no longer contains, and reclaims memory
// as described on seriesStore.
func (s *seriesStore) del(id SeriesID, live *roaring.Bitmap) {
	p := int(id >> pageBits)
	pg := s.pages[p]
	slot := int(id & (pageSize - 1))
	pg.dead += int(pg.off[slot+1] - pg.off[slot])
	pg.live--
	switch {
	case pg.live == 0 && len(pg.off) == pageSize+1:
		s.pages[p] = nil
	case pg.dead > len(pg.refs)/2:
		base := SeriesID(p) << pageBits
		refs := make([]uint32, 0, len(pg.refs)-pg.dead)
		start := uint32(0)
		for i := 0; i+1 < len(pg.off); i++ {
			lo, hi := pg.off[i], pg.off[i+1]
			if live.Contains(base + SeriesID(i)) {
				refs = append(refs, pg.refs[lo:hi]...)
			}
			pg.off[i] = start
			start = uint32(len(refs))
		}
		pg.off[len(pg.off)-1] = start
		pg.refs, pg.dead = refs, 0
	}
}

// bytes is the memory held by the store, for Stats.
func (s *seriesStore) bytes() uint64 {
	n := uint64(cap(s.pages)) * 8
	for _, pg := range s.pages {
		if pg != nil {
			n += 64 + uint64(cap(pg.off)+cap(pg.refs))*4
		}
	}
	return n
}
