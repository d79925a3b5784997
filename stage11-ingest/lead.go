package main

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsdb-course/stage11-ingest/loadgen"
)

// leadBound keeps the writers' data clocks together. A writer's timestamps
// advance with its own requests, and the bench packs hours of samples into
// each second, so in a closed loop a writer answered a little faster than
// another for a minute is hours ahead of it in data time. stage06 cuts the
// head to a block once it spans 1.5 block ranges (3 h), after which it
// refuses samples older than the cut (out of bounds): at least an hour
// behind the newest. Real agents write "now", together; so here a writer
// more than maxLead requests ahead of the slowest waits for it.
type leadBound struct {
	done    []atomic.Int64 // per writer: requests answered; MaxInt64 once it stopped
	maxLead int64
	waiting atomic.Int32
	stopped atomic.Bool
	mu      sync.Mutex
	cond    *sync.Cond
}

// maxDataLead is how far (data time) a writer may run ahead of the
// slowest: half of what stage06's head keeps below its newest sample.
const maxDataLead = 30 * time.Minute

func newLeadBound(ctx context.Context, writers, rounds int, deadline time.Time) (*leadBound, func()) {
	perRequest := time.Duration(int64(rounds)*loadgen.Step) * time.Millisecond
	l := &leadBound{done: make([]atomic.Int64, writers), maxLead: int64(maxDataLead / max(perRequest, 1))}
	l.cond = sync.NewCond(&l.mu)
	t := time.AfterFunc(time.Until(deadline), l.stop)
	stopCtx := context.AfterFunc(ctx, l.stop)
	return l, func() { t.Stop(); stopCtx(); l.stop() }
}

// answered records that writer w has had n requests answered.
func (l *leadBound) answered(w int, n int64) {
	l.done[w].Store(n)
	if l.waiting.Load() > 0 {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	}
}

// leave takes writer w out of the bound (it sends no more).
func (l *leadBound) leave(w int) { l.answered(w, math.MaxInt64) }

func (l *leadBound) stop() {
	l.stopped.Store(true)
	l.mu.Lock()
	l.cond.Broadcast()
	l.mu.Unlock()
}

func (l *leadBound) slowest() int64 {
	m := int64(math.MaxInt64)
	for i := range l.done {
		m = min(m, l.done[i].Load())
	}
	return m
}

// wait returns once a writer about to send its request n is at most
// maxLead requests ahead of the slowest writer, or the run is over. It
// reports whether it waited.
func (l *leadBound) wait(n int64) bool {
	if n-l.slowest() <= l.maxLead {
		return false
	}
	// Counted before the second look, so that an answered() after it
	// sees a waiter and wakes it.
	l.waiting.Add(1)
	defer l.waiting.Add(-1)
	l.mu.Lock()
	defer l.mu.Unlock()
	for n-l.slowest() > l.maxLead && !l.stopped.Load() {
		l.cond.Wait()
	}
	return true
}
