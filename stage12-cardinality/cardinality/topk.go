package cardinality

import (
	"cmp"
	"slices"
)

// TopK is the Space-Saving summary (Metwally, Agrawal, El Abbadi 2005):
// k counters that follow the heaviest keys of a stream in O(k) memory.
// A key already counted gets its count raised; a new key, when all k
// counters are taken, replaces the key with the smallest count and
// inherits that count as its possible overestimate. Hence, per entry,
//
//	Count − Err ≤ true count ≤ Count
//
// and any key whose true count exceeds N/k (N: the stream's total) is in
// the summary. The counters sit in a min-heap on Count, so the smallest
// is found in O(1) and a raised count sinks in O(log k) — usually not at
// all, since heavy keys already sit at the bottom.
//
// A TopK is not safe for concurrent use.
type TopK[K comparable] struct {
	k     int
	total uint64
	heap  []*node[K]
	pos   map[K]*node[K] // stable pointers: moving a node in the heap touches no map
}

type node[K comparable] struct {
	Entry[K]
	idx int // in heap
}

// Entry is one counter of a TopK.
type Entry[K comparable] struct {
	Key   K
	Count uint64 // an upper bound of the key's true count
	Err   uint64 // how much of Count may belong to keys evicted before it
}

// Lower is the guaranteed part of the count: Count − Err ≤ true count.
func (e Entry[K]) Lower() uint64 { return e.Count - e.Err }

// NewTopK returns a summary of k counters (k ≥ 1).
func NewTopK[K comparable](k int) *TopK[K] {
	k = max(k, 1)
	return &TopK[K]{k: k, heap: make([]*node[K], 0, k), pos: make(map[K]*node[K], k)}
}

// K is the number of counters.
func (t *TopK[K]) K() int { return t.k }

// Total is the sum of every weight added (N).
func (t *TopK[K]) Total() uint64 { return t.total }

// Len is the number of keys counted, at most K.
func (t *TopK[K]) Len() int { return len(t.heap) }

// Add counts key n more times. It reports whether the key took a new
// counter and, if that evicted another key, which.
func (t *TopK[K]) Add(key K, n uint64) (inserted bool, evicted K, didEvict bool) {
	t.total += n
	if e, ok := t.pos[key]; ok {
		e.Count += n
		t.down(e.idx)
		return false, evicted, false
	}
	if len(t.heap) < t.k {
		e := &node[K]{Entry: Entry[K]{Key: key, Count: n}, idx: len(t.heap)}
		t.heap = append(t.heap, e)
		t.pos[key] = e
		t.up(e.idx)
		return true, evicted, false
	}
	e := t.heap[0]
	evicted = e.Key
	delete(t.pos, e.Key)
	e.Key, e.Err, e.Count = key, e.Count, e.Count+n
	t.pos[key] = e
	t.down(0)
	return true, evicted, true
}

// Get returns the key's entry, if it has a counter.
func (t *TopK[K]) Get(key K) (Entry[K], bool) {
	if e, ok := t.pos[key]; ok {
		return e.Entry, true
	}
	return Entry[K]{}, false
}

// Min is the smallest count, the most any key without a counter may have
// been seen (0 until all counters are taken).
func (t *TopK[K]) Min() uint64 {
	if len(t.heap) < t.k {
		return 0
	}
	return t.heap[0].Count
}

// Top returns the n entries with the highest counts, highest first (all
// of them if n ≤ 0). Ties sort by the guaranteed part, higher first.
func (t *TopK[K]) Top(n int) []Entry[K] {
	out := make([]Entry[K], len(t.heap))
	for i, e := range t.heap {
		out[i] = e.Entry
	}
	slices.SortFunc(out, func(a, b Entry[K]) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(b.Lower(), a.Lower())
	})
	if n > 0 && n < len(out) {
		out = out[:n]
	}
	return out
}

// Merge adds o's counts to t: the result summarises both streams, and the
// bound still holds per entry (Agarwal et al., "Mergeable summaries",
// 2012): a key missing from a full summary may have been seen up to that
// summary's minimum there, which is added to its count and its error.
func (t *TopK[K]) Merge(o *TopK[K]) {
	tMin, oMin := t.Min(), o.Min()
	merged := make(map[K]*Entry[K], len(t.heap)+len(o.heap))
	for _, e := range t.heap {
		c := e.Entry
		merged[e.Key] = &c
	}
	for _, e := range o.heap {
		if m, ok := merged[e.Key]; ok {
			m.Count += e.Count
			m.Err += e.Err
			continue
		}
		merged[e.Key] = &Entry[K]{Key: e.Key, Count: e.Count + tMin, Err: e.Err + tMin}
	}
	for _, e := range t.heap {
		if _, ok := o.pos[e.Key]; !ok {
			m := merged[e.Key]
			m.Count += oMin
			m.Err += oMin
		}
	}
	all := make([]Entry[K], 0, len(merged))
	for _, e := range merged {
		all = append(all, *e)
	}
	total := t.total + o.total
	t.Restore(total, all)
}

// Restore replaces the summary's contents with entries (as Top or a
// decoder returns them) and total: the k with the highest counts are kept.
func (t *TopK[K]) Restore(total uint64, entries []Entry[K]) {
	slices.SortFunc(entries, func(a, b Entry[K]) int { return cmp.Compare(b.Count, a.Count) })
	if len(entries) > t.k {
		entries = entries[:t.k]
	}
	t.total = total
	t.heap = t.heap[:0]
	clear(t.pos)
	for _, e := range entries {
		n := &node[K]{Entry: e, idx: len(t.heap)}
		t.heap = append(t.heap, n)
		t.pos[e.Key] = n
		t.up(n.idx)
	}
}

func (t *TopK[K]) less(i, j int) bool { return t.heap[i].Count < t.heap[j].Count }

func (t *TopK[K]) swap(i, j int) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.heap[i].idx = i
	t.heap[j].idx = j
}

func (t *TopK[K]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

func (t *TopK[K]) down(i int) {
	n := len(t.heap)
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
