package tsdb

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// readAhead decodes the series after the one being read on the other
// cores, so a query reading many series decodes chunks in parallel while
// the SeriesSet API stays sequential.
//
// It starts when the reader asks for a series' iterator (a reader that
// only looks at labels decodes nothing). A fixed pool of GOMAXPROCS worker
// goroutines decodes jobs: runs of consecutive series of about
// jobChunks chunks, so that a query of 10,000 short series pays for 400
// hand-overs rather than 10,000, while a series of a 24 h query is a job of
// its own. The reader keeps depth jobs ahead of itself and gets, for each
// series, a slice iterator over the samples a worker decoded. A series
// asked for again, or behind the reader, gets the ordinary streaming
// iterator. The querier's Close stops the workers and waits for them,
// since they read chunk bytes that Close releases.
//
// Buffers are recycled: a job's buffer goes back to a free list once the
// reader has moved past the job and has handed back (passed to Iterator for
// reuse) every iterator it got from it, so a reader that reuses its
// iterator decodes a whole query into a few buffers.
type readAhead struct {
	q       *querier
	entries []entry
	depth   int
	queue   []*raJob // dispatched jobs the reader has not moved past, in order
	next    int      // first entry not in any job yet
	last    int      // highest entry the reader asked for; -1 before the first
	free    [][]model.Sample

	mu      sync.Mutex // orders stop against start's send
	jobs    chan *raJob
	stopped atomic.Bool
}

// raJob is the series entries[a:b], decoded into buf: series a+k is
// buf[off[k]:off[k+1]]. done is closed when ready.
type raJob struct {
	a, b   int
	done   chan struct{}
	buf    []model.Sample
	off    []int
	err    error
	handed int  // iterators over buf given out and not handed back
	passed bool // the reader asked for a series after b-1: buf gets no new readers
}

// jobChunks is about how many chunks a job decodes: a few hundred
// microseconds of work, large against the cost of handing it over.
const jobChunks = 32

// newReadAhead returns nil when it cannot help: one core, or a result of
// fewer than two series.
func newReadAhead(q *querier, entries []entry) *readAhead {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || len(entries) < 2 {
		return nil
	}
	depth := 2 * workers
	r := &readAhead{q: q, entries: entries, depth: depth, last: -1, jobs: make(chan *raJob, depth+1)}
	if !q.addReadAhead(r) {
		return nil
	}
	for range workers {
		q.workers.Add(1)
		go r.work()
	}
	return r
}

// stop makes the workers finish: jobs not started yet end with ErrClosed.
func (r *readAhead) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.stopped.Swap(true) {
		close(r.jobs)
	}
}

func (r *readAhead) work() {
	defer r.q.workers.Done()
	var sc decodeScratch
	for j := range r.jobs {
		if r.stopped.Load() {
			j.err = ErrClosed
		} else {
			r.decode(j, &sc)
		}
		// A job that failed or never ran still gives every series a
		// (short or empty) run of buf.
		for len(j.off) < j.b-j.a+1 {
			j.off = append(j.off, len(j.buf))
		}
		close(j.done)
	}
}

// iterator returns the iterator of entry i, reusing it if it is one of
// ours, and keeps the next jobs decoding.
func (r *readAhead) iterator(i int, it Iterator) Iterator {
	si, _ := it.(*sliceIterator)
	if si != nil && si.job != nil {
		j := si.job
		si.job = nil
		j.handed--
		r.recycle(j)
	}
	if hasHist(r.entries[i].chunks) {
		// Histograms are not decoded ahead: the workers' buffers hold
		// floats. Their series decode on the reader's goroutine.
		e := &r.entries[i]
		return newMixedIterator(e.chunks, r.q.mint, r.q.maxt, &r.q.samples)
	}
	if i <= r.last {
		// Asked again, or behind the reader: nothing decoded it for us.
		e := &r.entries[i]
		return newSeriesIterator(e.chunks, r.q.mint, r.q.maxt, &r.q.samples)
	}
	r.last = i
	for len(r.queue) > 0 && r.queue[0].b <= i {
		j := r.queue[0]
		r.queue = r.queue[1:]
		// A job the reader skipped (series it never asked for, or
		// histogram series, which it reads without the job) may still
		// be decoding: its buffer is the worker's until done.
		<-j.done
		j.passed = true
		r.recycle(j)
	}
	if len(r.queue) == 0 && r.next <= i {
		r.next = i // the series skipped before i are never decoded
	}
	for len(r.queue) < r.depth && r.next < len(r.entries) && r.start() {
	}
	if len(r.queue) == 0 || r.queue[0].a > i {
		// The workers are stopped (the querier is closed).
		e := &r.entries[i]
		return newSeriesIterator(e.chunks, r.q.mint, r.q.maxt, &r.q.samples)
	}
	j := r.queue[0]
	<-j.done
	if si == nil {
		si = &sliceIterator{}
	}
	k := i - j.a
	*si = sliceIterator{ss: j.buf[j.off[k]:j.off[k+1]:j.off[k+1]], i: -1, err: j.err, job: j}
	j.handed++
	return si
}

// recycle takes back the buffer of a job nobody reads any more.
func (r *readAhead) recycle(j *raJob) {
	if j.passed && j.handed == 0 && j.buf != nil {
		r.free = append(r.free, j.buf[:0])
		j.buf = nil
	}
}

// start dispatches the next job; false when the workers are stopped.
func (r *readAhead) start() bool {
	a, b, n := r.next, r.next, 0
	for b < len(r.entries) && (b == a || n+len(r.entries[b].chunks) <= jobChunks) {
		n += len(r.entries[b].chunks)
		b++
	}
	j := &raJob{a: a, b: b, done: make(chan struct{})}
	if k := len(r.free); k > 0 {
		j.buf, r.free = r.free[k-1], r.free[:k-1]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped.Load() {
		return false
	}
	r.next = b
	r.queue = append(r.queue, j)
	r.jobs <- j // never blocks: at most depth jobs are out, the channel holds depth+1
	return true
}

// decodeScratch is a worker's: a job's chunk bytes, and the samples of a
// chunk that straddles an edge of the range (decodeSeries).
type decodeScratch struct {
	bs   [][]byte
	ss   []model.Sample
	cold chunks.ColdScratch
}

func (r *readAhead) decode(j *raJob, sc *decodeScratch) {
	q := r.q
	entries := r.entries[j.a:j.b]
	j.off = make([]int, 1, len(entries)+1)
	j.buf = j.buf[:0]
	// Size the buffer once from the chunk headers: the samples each chunk
	// has in the range (a guess for a chunk that straddles an edge).
	sc.bs = sc.bs[:0]
	need := 0
	for k := range entries {
		for c := range entries[k].chunks {
			src := &entries[k].chunks[c]
			b, err := src.queryBytes()
			if err != nil {
				j.err = err
				return
			}
			sc.bs = append(sc.bs, b)
			if src.ref.Encoding() == chunks.EncFloat { // histograms are not decoded here
				need += src.estimate(numFloatSamples(b), q.mint, q.maxt)
			}
		}
	}
	buf := slices.Grow(j.buf, need)
	bi := 0
	for k := range entries {
		srcs := entries[k].chunks
		var err error
		buf, err = decodeSeries(srcs, sc.bs[bi:bi+len(srcs)], q.mint, q.maxt, buf, sc)
		bi += len(srcs)
		if err != nil && j.err == nil {
			j.err = err
		}
		j.off = append(j.off, len(buf))
	}
	j.buf = buf
	q.samples.Add(int64(len(buf)))
}

// estimate is how many of the chunk's n samples fall in [mint, maxt]:
// exact for a chunk wholly inside, proportional to the overlap otherwise.
func (c *chunkSrc) estimate(n int, mint, maxt int64) int {
	lo, hi := max(c.minT, mint), min(c.maxT, maxt, c.capT())
	switch {
	case hi < lo:
		return 0
	case lo == c.minT && hi == c.maxT, c.maxT == c.minT:
		return n
	}
	return int(float64(n)*float64(hi-lo)/float64(c.maxT-c.minT)) + 2
}

// decodeSeries appends the samples of a series in [mint, maxt] to dst; bs
// are its chunks' bytes; sc (nil: allocate) is scratch for chunks with
// samples to leave out. Chunks side by side (the common case) are decoded
// whole with gorilla.AppendSamples, the fast loop writing model.Samples
// straight into dst. A chunk with samples to leave out (out of the range,
// deleted, hidden by isolation) is decoded into the scratch instead and
// its samples kept are copied: a chunk at the edge of a short range, most
// of it outside, would otherwise be written whole into dst to be cut back.
// Overlapping chunks go through the merging iterator.
func decodeSeries(srcs []chunkSrc, bs [][]byte, mint, maxt int64, dst []model.Sample, sc *decodeScratch) ([]model.Sample, error) {
	if hasHist(srcs) {
		return dst, nil // read by a mixedIterator instead (readAhead.iterator)
	}
	if hasOverlap(srcs) {
		it := newSeriesIterator(srcs, mint, maxt, nil)
		for it.Next() {
			t, v := it.At()
			dst = append(dst, model.Sample{T: t, V: v})
		}
		return dst, it.Err()
	}
	if sc == nil {
		sc = &decodeScratch{}
	}
	for i := range srcs {
		c := &srcs[i]
		hi, stones := min(maxt, c.capT()), c.stones()
		if c.minT >= mint && c.maxT <= hi && len(stones) == 0 {
			var err error
			if dst, err = appendFloatSamples(bs[i], dst, &sc.cold); err != nil {
				return dst, err
			}
			continue
		}
		var err error
		if sc.ss, err = appendFloatSamples(bs[i], sc.ss[:0], &sc.cold); err != nil {
			return dst, err
		}
		for _, s := range sc.ss {
			if s.T < mint || s.T > hi || (len(stones) > 0 && stones.Contains(s.T)) {
				continue
			}
			dst = append(dst, s)
		}
	}
	return dst, nil
}
