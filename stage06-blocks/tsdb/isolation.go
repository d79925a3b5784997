package tsdb

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Isolation: a query sees every commit that finished before it started and
// nothing of the others, although appends go on while it reads.
//
// Each Commit takes an append ID (1, 2, …) and every series it appends to
// records (ID, timestamp) of the sample (series.go: txID, extra.txs). A
// reader's snapshot (isoState) is the last ID handed out when it started and
// the IDs still being applied then. Reading a series, it walks the series' recent entries:
// the first sample of an invisible commit, and everything after it, is
// hidden. In-order samples of a series only ever grow in time, so "hide from
// the first invisible sample on" is a cap on the timestamp.
//
// Entries are only needed while some reader might not see them: every ID
// below the low watermark (the smallest ID that is still open, or invisible
// to some live reader) is visible to every reader now and later, so series
// drop those entries on their next append. Without long readers a series
// holds just the entry of its last commit.
type isolation struct {
	mu      sync.Mutex
	lastID  uint64
	open    map[uint64]struct{}
	readers map[*isoState]struct{}
	low     atomic.Uint64
}

// isoState is a reader's snapshot.
type isoState struct {
	maxID  uint64
	open   []uint64 // IDs applying when the snapshot was taken
	lowest uint64   // smallest ID this reader does not see
}

func newIsolation() *isolation {
	i := &isolation{open: map[uint64]struct{}{}, readers: map[*isoState]struct{}{}}
	i.low.Store(1)
	return i
}

// begin hands out an append ID.
func (i *isolation) begin() uint64 {
	i.mu.Lock()
	i.lastID++
	id := i.lastID
	i.open[id] = struct{}{}
	i.mu.Unlock()
	return id
}

// end marks an append as applied.
func (i *isolation) end(id uint64) {
	i.mu.Lock()
	delete(i.open, id)
	i.recompute()
	i.mu.Unlock()
}

// snapshot starts a reader.
func (i *isolation) snapshot() *isoState {
	i.mu.Lock()
	defer i.mu.Unlock()
	st := &isoState{maxID: i.lastID, lowest: i.lastID + 1}
	for id := range i.open {
		st.open = append(st.open, id)
		st.lowest = min(st.lowest, id)
	}
	i.readers[st] = struct{}{}
	return st
}

// release ends a reader.
func (i *isolation) release(st *isoState) {
	i.mu.Lock()
	delete(i.readers, st)
	i.recompute()
	i.mu.Unlock()
}

func (i *isolation) recompute() {
	low := i.lastID + 1
	for id := range i.open {
		low = min(low, id)
	}
	for st := range i.readers {
		low = min(low, st.lowest)
	}
	i.low.Store(low)
}

func (st *isoState) visible(id uint64) bool {
	if id > st.maxID {
		return false
	}
	for _, o := range st.open {
		if o == id {
			return false
		}
	}
	return true
}

// tx is one sample's append ID and timestamp.
type tx struct {
	id uint64
	t  int64
}

// capFor returns the largest timestamp of the series' in-order samples
// visible to st (nil: everything is). Called with s.mu.
func (s *memSeries) capFor(st *isoState) int64 {
	if st == nil {
		return math.MaxInt64
	}
	if s.extra != nil {
		for _, e := range s.extra.txs {
			if !st.visible(e.id) {
				return e.t - 1
			}
		}
	}
	if !st.visible(s.txID) {
		return s.maxT - 1
	}
	return math.MaxInt64
}

// waitApplied returns once every append ID handed out so far has finished
// applying. A head cut calls it after raising the head's lower bound, so no
// commit is still writing into the range it is about to read.
func (i *isolation) waitApplied() {
	i.mu.Lock()
	upto := i.lastID
	i.mu.Unlock()
	for {
		i.mu.Lock()
		busy := false
		for id := range i.open {
			busy = busy || id <= upto
		}
		i.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(50 * time.Microsecond)
	}
}
