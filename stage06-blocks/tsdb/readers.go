package tsdb

import (
	"sync"
	"time"
)

// readerGens tracks open queriers by generation. A head truncation first
// makes the new block visible and advances the generation; queriers opened
// before that may still read the truncated range from the head, so the
// truncation waits (bounded by Options.ReaderWait) until they are closed,
// and the head-chunks files it frees are unmapped only once no querier of
// an older generation is left.
type readerGens struct {
	mu      sync.Mutex
	cond    *sync.Cond
	gen     uint64
	counts  map[uint64]int
	pending []pendingFiles
	// draining is called (under mu) when drain is about to wait for an
	// open reader; tests use it to know Close is waiting.
	draining func()
}

type pendingFiles struct {
	gen   uint64
	files []int
}

func newReaderGens() *readerGens {
	r := &readerGens{counts: map[uint64]int{}}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *readerGens) acquire() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[r.gen]++
	return r.gen
}

// release ends a reader and returns the files that may now be removed.
func (r *readerGens) release(g uint64) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts[g]--; r.counts[g] <= 0 {
		delete(r.counts, g)
	}
	r.cond.Broadcast()
	return r.freeLocked()
}

func (r *readerGens) olderThan(g uint64) bool {
	for k := range r.counts {
		if k < g {
			return true
		}
	}
	return false
}

// advance starts a new generation and returns it.
func (r *readerGens) advance() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	return r.gen
}

// wait blocks until no reader older than g is open, or the timeout; it
// reports whether they all closed.
func (r *readerGens) wait(g uint64, timeout time.Duration) bool {
	timer := time.AfterFunc(timeout, func() {
		r.mu.Lock()
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.olderThan(g) {
		if time.Now().After(deadline) {
			return false
		}
		r.cond.Wait()
	}
	return true
}

// drain blocks until every reader is closed. DB.Close calls it before it
// unmaps the head-chunks files: a querier still iterating would otherwise
// read unmapped memory, a fault no recover() catches. Like Block.Close it
// waits without bound: a querier must be closed.
func (r *readerGens) drain() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.counts) > 0 {
		if r.draining != nil {
			r.draining()
		}
		r.cond.Wait()
	}
}

// schedule queues files for removal once no reader older than g is open,
// and returns those (from earlier calls too) that may be removed now.
func (r *readerGens) schedule(g uint64, files []int) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(files) > 0 {
		r.pending = append(r.pending, pendingFiles{g, files})
	}
	return r.freeLocked()
}

func (r *readerGens) freeLocked() []int {
	var out []int
	keep := r.pending[:0]
	for _, p := range r.pending {
		if r.olderThan(p.gen) {
			keep = append(keep, p)
		} else {
			out = append(out, p.files...)
		}
	}
	r.pending = keep
	return out
}
