package tsdb

import (
	"sync"
	"sync/atomic"
)

// commitGate lets persistPast wait for the commits that may have logged
// into the WAL segments it is about to checkpoint, without stopping the
// commits that start meanwhile.
//
// A Commit enters the gate before it logs its batch and exits once the
// batch is applied. drain, called after the WAL has started a new segment,
// opens a new generation and returns once every commit of the older one
// has exited. A commit that logged into an older segment entered before
// the segment change, so before the new generation: drain waits for it.
// Commits entering after that go on at once; some of them may be waited
// for (those that entered just before the generation changed), which costs
// drain a little time and nobody else anything.
//
// The read-write lock this replaces made every commit wait, from the
// moment compaction asked for it, for the slowest commit in flight, that
// is for its WAL fsync, and then for the segment change: a pause of all
// writes at every head cut and every compaction of out-of-order samples.
//
// Generations alternate between two counters (their parity): drains are
// serialised (mu), and each returns only once the counter of the older
// generation is zero, so the next generation with that parity starts
// from zero.
type commitGate struct {
	gen     atomic.Uint64
	n       [2]atomic.Int64
	mu      sync.Mutex    // serialises drains
	waiting atomic.Bool   // a drain waits: exit must wake it
	wake    chan struct{} // one token: a counter reached zero while a drain waited

	// counted runs (tests) in enter between counting the commit in and
	// reading the generation again.
	counted func(g uint64)
	// blocked runs (tests) each time drain is about to wait for a commit
	// of the older generation.
	blocked func()
}

func newCommitGate() *commitGate { return &commitGate{wake: make(chan struct{}, 1)} }

// enter counts a commit in the current generation and returns it. The
// generation is read again after counting: a drain that opened a new one
// in between may have looked at the counter before the commit was in it,
// so the commit counts itself out and enters the new generation.
func (c *commitGate) enter() uint64 {
	for {
		g := c.gen.Load()
		c.n[g&1].Add(1)
		if c.counted != nil {
			c.counted(g)
		}
		if c.gen.Load() == g {
			return g
		}
		c.exit(g)
	}
}

// exit ends a commit that entered generation g.
func (c *commitGate) exit(g uint64) {
	// Sequentially consistent atomics: either the drain sees the counter
	// at zero, or this sees the drain waiting and wakes it.
	if c.n[g&1].Add(-1) == 0 && c.waiting.Load() {
		select {
		case c.wake <- struct{}{}:
		default: // a token is there already
		}
	}
}

// drain opens a new generation and waits until every commit that entered
// an older one has exited.
func (c *commitGate) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.gen.Add(1) - 1
	c.waiting.Store(true)
	defer c.waiting.Store(false)
	for c.n[old&1].Load() != 0 {
		if c.blocked != nil {
			c.blocked()
		}
		<-c.wake // a stale token only costs a loop
	}
}
