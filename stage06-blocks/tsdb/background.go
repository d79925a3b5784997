package tsdb

import (
	"runtime"
	"time"
)

// Background work and the writes' latency.
//
// A head cut, a block merge and the truncation after a cut are long loops
// over every series (tenths of a second to seconds of CPU for 10,000
// series), run by one goroutine beside the commits. Go's scheduler has no
// priorities: a running goroutine keeps its P until it blocks or is
// preempted (every 10 ms), and the goroutines it displaces (HTTP handlers,
// flushers, group-commit leaders woken by an fsync) wait in the run queue
// meanwhile. On two cores, with the writes using about one of them, a head
// cut that holds the other for half a second leaves no room for the bursts
// in which the writes arrive, and their latency climbs for as long as the
// cut runs.
//
// So the background loops yield (runtime.Gosched) between series: the
// yielding goroutine goes to the global run queue, which a P looks at only
// when its own queue is empty (or every 61st schedule, so it is never
// starved), and the goroutines the writes need run first. The background
// work then gets the CPU the writes leave, in slices of one series; its
// CPU is the same, its wall time longer when the writes are busy. Nothing
// holds a lock across a yield but compactMu, which only compactions take.

// yieldEvery is how many series a light loop (a head snapshot, the
// truncation: microseconds per series) handles between two yields; the
// heavy ones (a series' chunks written to a block) yield after each.
const yieldEvery = 32

// compactionWorkers is Options.CompactionWorkers, or coldWorkers' default.
func (o *Options) compactionWorkers() int {
	if o.CompactionWorkers > 0 {
		return o.CompactionWorkers
	}
	return coldWorkers()
}

// backgroundYield lets waiting goroutines run: runtime.Gosched unless a
// test counts or parks the calls (Options.yield).
func (o *Options) backgroundYield() {
	if o.yield != nil {
		o.yield()
		return
	}
	runtime.Gosched()
}

// Yielding decides who runs next, not how much of the machine the
// background work takes: with more Ps than cores (stage11 runs 4 on 2),
// the goroutine that yields is picked up again by an idle P at once, and
// the kernel shares the cores between the threads, the cut's among them.
// A cut or a merge then holds a core for as long as it runs, and the
// writes queue on the other. Options.BackgroundShare paces the background
// loop instead: each background goroutine (a cut, the WAL checkpoint after
// it, a merge) works a slice (paceSlice), then
// rests long enough that its work is that share of the wall time, so the
// writes never lose a core for more than a slice. It does not rest while
// the head is behind (it spans twice the span that starts a cut, 3 block
// ranges) or the DB is closing: the head's memory stays bounded whatever
// the share. The share is per goroutine: a merge's cold-encoding workers
// (CompactionWorkers) take it each. The chunk write queue's goroutine is
// paced too (chunkqueue.go), not the head's appends, and of compactions
// only the background loop's: Compact, FlushHead and CompactBlocks called
// by a program run at full
// speed, once a paced compaction in progress is done (compactMu). The
// head's truncation after a cut is not paced: a series it marks dead
// stays findable until the walk ends, and a write to it retries until
// then (lockSeries). Close ends a rest at once.

// paceSlice is how long a paced background goroutine works between rests.
const paceSlice = 2 * time.Millisecond

// pacer is one background goroutine's yield between series: a rest when
// its slice is worked (and no hurry), else backgroundYield.
type pacer struct {
	share float64
	hurry func() bool // the head is behind or the DB closing: no rest
	yield func()
	now   func() time.Time
	sleep func(time.Duration)
	since time.Time // start of the slice being worked
}

// idle forgets the slice being worked: a goroutine that waits for work
// between items (the chunk write queue) calls it before waiting, so the
// wait does not count as work.
func (p *pacer) idle() { p.since = time.Time{} }

func (p *pacer) step() {
	now := p.now()
	if p.since.IsZero() {
		p.since = now
	}
	work := now.Sub(p.since)
	if work < paceSlice || p.hurry() {
		if work >= paceSlice {
			p.since = now
		}
		p.yield()
		return
	}
	// Wall time, not CPU time: a slice stretched by the writes taking the
	// core earns a longer rest. Bounded, so a series that took long does
	// not park the loop for long.
	work = min(work, 10*paceSlice)
	p.sleep(time.Duration(float64(work) * (1 - p.share) / p.share))
	p.since = p.now()
}

// yields returns what makes each goroutine of a compaction its yield
// function: paced (Options.BackgroundShare) when the background loop runs
// it, backgroundYield otherwise.
func (db *DB) yields(background bool) func() func() {
	if !background || !db.opts.paced() {
		return func() func() { return db.opts.backgroundYield }
	}
	return func() func() { return db.newPacer(nil).step }
}

// paced says whether BackgroundShare paces anything: between 0 and 1.
func (o *Options) paced() bool {
	return o.BackgroundShare > 0 && o.BackgroundShare < 1 // false for NaN
}

// newPacer is a pacer for one background goroutine, hurried when the DB
// is (db.hurry) or, if not nil, when also says so; nil unless paced.
func (db *DB) newPacer(also func() bool) *pacer {
	if !db.opts.paced() {
		return nil
	}
	hurry := db.hurry
	if also != nil {
		hurry = func() bool { return db.hurry() || also() }
	}
	sleep := db.rest
	if db.opts.sleep != nil {
		sleep = db.opts.sleep
	}
	now := time.Now
	if db.opts.paceNow != nil {
		now = db.opts.paceNow
	}
	return &pacer{share: db.opts.BackgroundShare, hurry: hurry, yield: db.opts.backgroundYield, now: now, sleep: sleep}
}

// hurry says the background work must not rest: the DB is closing, or
// the head spans twice the span that starts a cut (maybeCompact).
func (db *DB) hurry() bool {
	if db.closed.Load() {
		return true
	}
	mint, maxt := db.head.minT.Load(), db.head.maxT.Load()
	return mint <= maxt && maxt-mint >= 2*db.opts.cutSpan()
}

// cutSpan is the span of the head that starts a cut: 1.5 block ranges.
func (o *Options) cutSpan() int64 { return o.BlockRange / 2 * 3 }

// rest sleeps for d, or until Close.
func (db *DB) rest(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-db.stopc:
	}
}
