package tsdb

import "runtime"

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
// holds a lock across a yield.

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
