package tsdb

import (
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/tsdb-course/stage03-gorilla/gorilla"
)

// readAhead decodes the series after the one being read on the other
// cores, so a query reading many series decodes chunks in parallel while
// the SeriesSet API stays sequential.
//
// It starts when the reader asks for a series' iterator (a reader that
// only looks at labels decodes nothing) and keeps up to GOMAXPROCS of the
// following series decoding. A reader that asks for series i gets a
// slice iterator over the samples a worker decoded, or, if nobody decoded
// them, the ordinary streaming iterator. The querier's Close waits for
// the workers, since they read chunk bytes that Close releases.
type readAhead struct {
	q     *querier
	depth int
	slots []*decoded // by entry index; nil: not started
	free  [][2]any   // recycled ts/vs buffers (only the reader touches it)
}

// decoded is one series decoded by a worker; done is closed when ready.
type decoded struct {
	done chan struct{}
	ts   []int64
	vs   []float64
	err  error
}

// taken marks a slot the reader has had its iterator for: asked again,
// it gets a streaming iterator.
var taken = &decoded{}

// newReadAhead returns nil when it cannot help: one core, or a result of
// fewer than two series.
func newReadAhead(q *querier, n int) *readAhead {
	depth := runtime.GOMAXPROCS(0)
	if depth < 2 || n < 2 {
		return nil
	}
	return &readAhead{q: q, depth: depth, slots: make([]*decoded, n)}
}

// iterator returns the iterator of entry i of entries, reusing it if it
// is one of ours, and starts decoding the next entries.
func (r *readAhead) iterator(entries []entry, i int, it Iterator) Iterator {
	si, _ := it.(*sliceIterator)
	if si != nil && si.pooled {
		r.free = append(r.free, [2]any{si.ts[:0], si.vs[:0]})
	}
	for j := i + 1; j < len(entries) && j <= i+r.depth; j++ {
		if r.slots[j] == nil {
			r.start(&entries[j], j)
		}
	}
	d := r.slots[i]
	if d == nil || d == taken {
		r.slots[i] = taken // never start it behind the reader
		return newSeriesIterator(entries[i].chunks, r.q.mint, r.q.maxt, &r.q.samples)
	}
	<-d.done
	r.slots[i] = taken
	if si == nil {
		si = &sliceIterator{}
	}
	*si = sliceIterator{ts: d.ts, vs: d.vs, i: -1, err: d.err, pooled: true}
	return si
}

func (r *readAhead) start(e *entry, j int) {
	d := &decoded{done: make(chan struct{})}
	if n := len(r.free); n > 0 {
		d.ts, d.vs = r.free[n-1][0].([]int64), r.free[n-1][1].([]float64)
		r.free = r.free[:n-1]
	}
	r.slots[j] = d
	q := r.q
	q.workers.Add(1)
	go func() {
		defer q.workers.Done()
		d.ts, d.vs, d.err = decodeSeries(e.chunks, q.mint, q.maxt, &q.samples, d.ts, d.vs)
		close(d.done)
	}()
}

// decodeSeries appends all samples of a series to ts and vs. Chunks side
// by side (the common case) are decoded whole with gorilla.DecodeAll, the
// fast loop, and then filtered in place; overlapping ones go through the
// merging iterator.
func decodeSeries(srcs []chunkSrc, mint, maxt int64, count *atomic.Int64, ts []int64, vs []float64) ([]int64, []float64, error) {
	if hasOverlap(srcs) {
		it := newSeriesIterator(srcs, mint, maxt, count)
		for it.Next() {
			t, v := it.At()
			ts = append(ts, t)
			vs = append(vs, v)
		}
		return ts, vs, it.Err()
	}
	n0 := len(ts)
	defer func() { count.Add(int64(len(ts) - n0)) }()
	for i := range srcs {
		c := &srcs[i]
		b, err := c.bytes()
		if err != nil {
			return ts, vs, err
		}
		// Grow by doubling here: DecodeAll grows by one chunk at a time.
		ts, vs = slices.Grow(ts, 2*SamplesPerChunk), slices.Grow(vs, 2*SamplesPerChunk)
		start := len(ts)
		if ts, vs, err = gorilla.DecodeAll(b, ts, vs); err != nil {
			return ts[:start], vs[:start], err
		}
		hi := min(maxt, c.capT)
		if c.minT >= mint && c.maxT <= hi && len(c.stones) == 0 {
			continue
		}
		k := start
		for j := start; j < len(ts); j++ {
			t := ts[j]
			if t < mint || t > hi || (len(c.stones) > 0 && c.stones.Contains(t)) {
				continue
			}
			ts[k], vs[k] = t, vs[j]
			k++
		}
		ts, vs = ts[:k], vs[:k]
	}
	return ts, vs, nil
}
