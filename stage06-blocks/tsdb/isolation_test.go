package tsdb

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIsolationEntries drives one series' isolation entries (txID and
// extra.txs) through random interleavings of commits beginning and ending,
// readers starting and stopping, and appends; after every step each live
// reader's cap must be what the whole history says: the timestamp before the
// first sample of a commit it does not see. Entries forgotten early would
// show samples of invisible commits; an entry kept wrongly, or out of
// order, would hide visible ones.
func TestIsolationEntries(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 1))
	oracle := func(st *isoState, hist []tx) int64 {
		for _, e := range hist {
			if !st.visible(e.id) {
				return e.t - 1
			}
		}
		return math.MaxInt64
	}
	for round := range 300 {
		iso := newIsolation()
		s := newMemSeries(1, 0)
		var hist []tx
		var open []uint64
		var readers []*isoState
		ts := int64(0)
		for step := range 80 {
			switch k := r.IntN(10); {
			case k < 2:
				open = append(open, iso.begin())
			case k < 4 && len(open) > 0:
				i := r.IntN(len(open))
				iso.end(open[i])
				open = slices.Delete(open, i, i+1)
			case k < 5:
				readers = append(readers, iso.snapshot())
			case k < 6 && len(readers) > 0:
				i := r.IntN(len(readers))
				iso.release(readers[i])
				readers = slices.Delete(readers, i, i+1)
			case len(open) > 0:
				id := open[r.IntN(len(open))]
				ts += 1 + r.Int64N(3)
				s.appendInOrder(ts, float64(ts), 1<<40, id, iso.low.Load(), new(chunkSlab))
				hist = append(hist, tx{id: id, t: ts})
			}
			for _, st := range readers {
				if got, want := s.capFor(st), oracle(st, hist); got != want {
					t.Fatalf("round %d step %d: cap %d, want %d (history %v, reader %+v)", round, step, got, want, hist, *st)
				}
			}
		}
		// With every commit ended and every reader gone, the next append
		// forgets the older entries.
		for _, id := range open {
			iso.end(id)
		}
		for _, st := range readers {
			iso.release(st)
		}
		id := iso.begin()
		s.appendInOrder(ts+1, 0, 1<<40, id, iso.low.Load(), new(chunkSlab))
		iso.end(id)
		if s.extra != nil && len(s.extra.txs) > 0 {
			t.Fatalf("round %d: %d isolation entries kept with no reader and no open commit", round, len(s.extra.txs))
		}
	}
}
