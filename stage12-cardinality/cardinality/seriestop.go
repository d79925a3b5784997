package cardinality

import "github.com/tsdb-course/stage01-memstore/model"

// seriesTop is TopK's Space-Saving summary specialised to the tracker's
// per-sample path, where keys are series hashes: every sample of every
// series passes through it, so it must cost a few nanoseconds, not the
// four map operations a generic eviction takes (delete and insert of the
// key, delete and insert of its labels). The counters live in a fixed
// slice of slots, each holding its key's labels; a slot's key is found
// through a small open-addressing table indexed by the hash's own low bits
// (the keys are uniform hashes already); the min-heap orders slot numbers
// by count. An eviction rewrites one slot in place and moves one table
// entry. Same algorithm, same guarantee (Count − Err ≤ true ≤ Count) as
// TopK, which the tests check against each other.
type seriesTop struct {
	k     int
	total uint64
	slots []seriesSlot // stable: a key keeps its slot until evicted
	heap  []heapItem   // min-heap on count
	index []indexItem  // by hash, linear probing; slot 0 is empty
	mask  uint64
}

// The heap and the table carry copies of what their comparisons read
// (count, key), so that sifting and probing touch one array each.
type heapItem struct {
	count uint64
	slot  int32
}

type indexItem struct {
	key  uint64
	slot int32 // slot number + 1; 0: empty
}

type seriesSlot struct {
	key  uint64
	err  uint64
	pos  int32 // in heap
	lset model.Labels
}

func newSeriesTop(k int) *seriesTop {
	k = max(k, 1)
	size := 16
	for size < 4*k { // a quarter full: probe runs stay short
		size *= 2
	}
	return &seriesTop{
		k:     k,
		slots: make([]seriesSlot, 0, k),
		heap:  make([]heapItem, 0, k),
		index: make([]indexItem, size),
		mask:  uint64(size - 1),
	}
}

// Total is the number of samples counted.
func (t *seriesTop) Total() uint64 { return t.total }

// find returns the slot of key, or -1.
func (t *seriesTop) find(key uint64) int32 {
	for i := key & t.mask; ; i = (i + 1) & t.mask {
		e := t.index[i]
		if e.slot == 0 {
			return -1
		}
		if e.key == key {
			return e.slot - 1
		}
	}
}

func (t *seriesTop) insertIndex(key uint64, slot int32) {
	i := key & t.mask
	for t.index[i].slot != 0 {
		i = (i + 1) & t.mask
	}
	t.index[i] = indexItem{key, slot + 1}
}

// deleteIndex removes key, which must be present, shifting back the
// entries of its probe run so that no lookup meets a hole before its key
// (linear probing's deletion without tombstones).
func (t *seriesTop) deleteIndex(key uint64) {
	i := key & t.mask
	for t.index[i].key != key {
		i = (i + 1) & t.mask
	}
	for j := (i + 1) & t.mask; t.index[j].slot != 0; j = (j + 1) & t.mask {
		home := t.index[j].key & t.mask
		// The entry at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if (j-home)&t.mask >= (j-i)&t.mask {
			t.index[i] = t.index[j]
			i = j
		}
	}
	t.index[i] = indexItem{}
}

// Add counts one sample of the series key with labels lset.
func (t *seriesTop) Add(key uint64, lset model.Labels) {
	t.total++
	if s := t.find(key); s >= 0 {
		p := t.slots[s].pos
		t.heap[p].count++
		t.down(p)
		return
	}
	if len(t.slots) < t.k {
		s := int32(len(t.slots))
		t.slots = append(t.slots, seriesSlot{key: key, pos: int32(len(t.heap)), lset: lset})
		t.heap = append(t.heap, heapItem{1, s})
		t.insertIndex(key, s)
		t.up(int32(len(t.heap) - 1))
		return
	}
	h := &t.heap[0]
	sl := &t.slots[h.slot]
	t.deleteIndex(sl.key)
	sl.key, sl.lset, sl.err = key, lset, h.count
	h.count++
	t.insertIndex(key, h.slot)
	t.down(0)
}

// Get returns key's entry, if it has a counter.
func (t *seriesTop) Get(key uint64) (Entry[uint64], bool) {
	if s := t.find(key); s >= 0 {
		sl := &t.slots[s]
		return Entry[uint64]{Key: key, Count: t.heap[sl.pos].count, Err: sl.err}, true
	}
	return Entry[uint64]{}, false
}

// Labels returns the labels of a counted key.
func (t *seriesTop) Labels(key uint64) model.Labels {
	if s := t.find(key); s >= 0 {
		return t.slots[s].lset
	}
	return model.Labels{}
}

// Top returns every entry, highest count first (as TopK.Top(0)).
func (t *seriesTop) Top() []Entry[uint64] {
	g := t.generic()
	return g.Top(0)
}

func (t *seriesTop) generic() *TopK[uint64] {
	g := NewTopK[uint64](t.k)
	entries := make([]Entry[uint64], len(t.slots))
	for i, sl := range t.slots {
		entries[i] = Entry[uint64]{Key: sl.key, Count: t.heap[sl.pos].count, Err: sl.err}
	}
	g.Restore(t.total, entries)
	return g
}

// Restore replaces the contents with entries and total, keeping the k
// highest counts; labels gives each key's labels.
func (t *seriesTop) Restore(total uint64, entries []Entry[uint64], labels func(uint64) model.Labels) {
	g := NewTopK[uint64](t.k)
	g.Restore(total, entries) // sorts and cuts to k
	t.total = total
	t.slots, t.heap = t.slots[:0], t.heap[:0]
	clear(t.index)
	for _, e := range g.Top(0) {
		s := int32(len(t.slots))
		t.slots = append(t.slots, seriesSlot{key: e.Key, err: e.Err, pos: s, lset: labels(e.Key)})
		t.heap = append(t.heap, heapItem{e.Count, s})
		t.insertIndex(e.Key, s)
		t.up(s)
	}
}

// Merge adds o's counts by TopK.Merge (the mergeable-summaries rule).
func (t *seriesTop) Merge(o *seriesTop) {
	g := t.generic()
	g.Merge(o.generic())
	labels := map[uint64]model.Labels{}
	for _, sl := range o.slots {
		labels[sl.key] = sl.lset
	}
	for _, sl := range t.slots {
		labels[sl.key] = sl.lset
	}
	t.Restore(g.Total(), g.Top(0), func(k uint64) model.Labels { return labels[k] })
}

func (t *seriesTop) less(i, j int32) bool {
	return t.heap[i].count < t.heap[j].count
}

func (t *seriesTop) swap(i, j int32) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.slots[t.heap[i].slot].pos = i
	t.slots[t.heap[j].slot].pos = j
}

func (t *seriesTop) up(i int32) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

func (t *seriesTop) down(i int32) {
	n := int32(len(t.heap))
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && t.less(r, l) {
			c = r
		}
		if !t.less(c, i) {
			return
		}
		t.swap(i, c)
		i = c
	}
}
