package tsdb

import (
	"sync"
	"sync/atomic"

	"github.com/tsdb-course/stage01-memstore/model"
)

// Series creation is serialised (createMu: the index, the series tables,
// the refs), and a burst of new series (a server starting, a fleet
// deployed) has every appender creating series at once. Taking createMu
// one series at a time, appenders queued on it for over ten times as long
// as it was held: with more goroutines than cores, the lock is handed to a
// waiter that must first be scheduled, and it stays idle meanwhile (a
// 100-writer ingestion bench creating 10,000 series: 1.2 s of waiting for
// 0.1 s held). So a creation joins a queue instead, and whoever holds the
// lock serves the whole queue before letting go (flat combining): the
// lock does the creations back to back, and the waiters wake in parallel.
type createQueue struct {
	mu      sync.Mutex // guards reqs; held only to add or take
	reqs    []*createReq
	pending atomic.Int64 // requests in reqs
}

// createReq is one series to find or create, or (many) a batch's.
type createReq struct {
	lset      model.Labels
	hash, gen uint64
	s         *memSeries
	created   bool
	err       error
	many      *createBatch
	done      chan struct{}
}

// createBatch is the series a batch's lookups missed (getOrCreateMany):
// lsets[i] for each i in miss, created under one hold of createMu, as one
// request of the queue, their results in out, created and errs.
type createBatch struct {
	lsets   []model.Labels
	hashes  []uint64
	miss    []int32
	gen     uint64
	out     []*memSeries
	created []bool
	errs    []error
}

// create finds or creates the series of lset (hash its hash, gen the
// nextRef seen before its lookup missed) through the queue.
func (h *Head) create(lset model.Labels, hash, gen uint64) (*memSeries, bool, error) {
	if h.createQ.pending.Load() == 0 && h.createMu.TryLock() {
		// Nobody waits: no queue (and nothing allocated for it).
		s, created, err := h.createOne(lset, hash, gen)
		h.unlockCreate()
		return s, created, err
	}
	r := &createReq{lset: lset, hash: hash, gen: gen}
	h.enqueue(r)
	return r.s, r.created, r.err
}

// createMany creates the missed series of b, all under one hold of
// createMu: one request through the queue for the whole batch, where one
// per series made a burst of new series (a server starting) queue, park and
// wake each of its goroutines once per series.
func (h *Head) createMany(b *createBatch) {
	if h.createQ.pending.Load() == 0 && h.createMu.TryLock() {
		h.createManyLocked(b)
		h.unlockCreate()
		return
	}
	h.enqueue(&createReq{many: b})
}

// createManyLocked is createMany under createMu. createOne takes b.gen,
// from before the lookups: with AdmitSeries, each series is looked up again
// once anything was created since (a duplicate within the batch too), so
// that AdmitSeries is asked only about series really new.
func (h *Head) createManyLocked(b *createBatch) {
	for _, i := range b.miss {
		b.out[i], b.created[i], b.errs[i] = h.createOne(b.lsets[i], b.hashes[i], b.gen)
	}
}

// enqueue queues r, serves the queue if createMu is free, and returns when
// r is served.
func (h *Head) enqueue(r *createReq) {
	r.done = make(chan struct{})
	q := &h.createQ
	q.mu.Lock()
	q.reqs = append(q.reqs, r)
	q.pending.Add(1)
	q.mu.Unlock()
	h.serveCreates()
	<-r.done
}

// serveCreates serves the queue while it holds requests and createMu is
// free. Whoever unlocks createMu calls it (unlockCreate): a request queued
// while the lock was held is served by the holder after it lets go, or by
// a later holder, who does the same. (The request was counted in pending
// before its own TryLock failed, so before the holder's Unlock, which comes
// before the holder's look at pending.)
func (h *Head) serveCreates() {
	for h.createQ.pending.Load() > 0 && h.createMu.TryLock() {
		h.serveLocked()
		h.createMu.Unlock()
	}
}

// serveLocked creates the queued series until the queue is empty. Called
// with createMu held.
func (h *Head) serveLocked() {
	q := &h.createQ
	var batch []*createReq
	for {
		q.mu.Lock()
		batch, q.reqs = q.reqs, batch[:0]
		q.pending.Add(-int64(len(batch)))
		q.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		for i, r := range batch {
			if r.many != nil {
				h.createManyLocked(r.many)
			} else {
				r.s, r.created, r.err = h.createOne(r.lset, r.hash, r.gen)
			}
			close(r.done)
			batch[i] = nil
		}
	}
}

// createOne is a creation under createMu: AdmitSeries is asked only about
// a series that is really new (another appender may have created it since
// the lookup that missed, when nextRef was gen).
func (h *Head) createOne(lset model.Labels, hash, gen uint64) (*memSeries, bool, error) {
	if admit := h.opts.AdmitSeries; admit != nil {
		if h.nextRef.Load() != gen {
			if id, ok := h.ix.LookupHash(hash, lset); ok {
				if s := h.byID.get(uint64(id)); s != nil {
					return s, false, nil
				}
			}
		}
		if err := admit(lset, hash, h); err != nil {
			return nil, false, err
		}
	}
	return h.createHashed(lset, hash, 0)
}

// unlockCreate releases createMu taken for something else than creating
// (truncation, Memory) and serves the creations queued meanwhile.
func (h *Head) unlockCreate() {
	h.createMu.Unlock()
	h.serveCreates()
}
