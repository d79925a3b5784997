// Package clock is the time source of the rule manager and the notifier. Both
// schedule their work as callbacks (the next evaluation of a group, a group's
// next flush, a retry) instead of sleeping, so the same code runs on the wall
// clock and on a simulated one: Sim runs every due callback, in time order, on
// the goroutine that advances it, which makes a test or a demo that spans
// hours of alerting finish in milliseconds and come out the same every time.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and runs functions later.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f once d has passed (at once for d <= 0). On the real
	// clock f runs on its own goroutine; on Sim, inside Advance.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc.
type Timer interface {
	// Stop cancels the call; it reports false if f already ran or started.
	Stop() bool
}

// Real is the wall clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Sim is a simulated clock. Time stands still until Advance or AdvanceTo moves
// it; then every callback that falls due runs, earliest first (ties in the
// order they were scheduled), with Now reading its due time while it runs. A
// callback may schedule more: those due before the target run in the same
// Advance. Sim is safe for concurrent use, but callbacks run on the advancing
// goroutine one at a time, so what they touch needs no other ordering.
type Sim struct {
	mu      sync.Mutex
	now     time.Time
	seq     uint64
	pending []*simTimer
	running sync.Mutex // one Advance at a time
}

type simTimer struct {
	s    *Sim
	at   time.Time
	seq  uint64
	f    func()
	done bool
}

// NewSim returns a simulated clock reading start.
func NewSim(start time.Time) *Sim { return &Sim{now: start} }

// Now is the simulated time.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// AfterFunc schedules f at Now()+d.
func (s *Sim) AfterFunc(d time.Duration, f func()) Timer {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	t := &simTimer{s: s, at: s.now.Add(max(d, 0)), seq: s.seq, f: f}
	s.pending = append(s.pending, t)
	return t
}

func (t *simTimer) Stop() bool {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	return true
}

// Advance moves the clock forward by d, running what falls due.
func (s *Sim) Advance(d time.Duration) { s.AdvanceTo(s.Now().Add(d)) }

// AdvanceTo moves the clock to t (never backwards), running every callback
// due at or before t.
func (s *Sim) AdvanceTo(t time.Time) {
	s.running.Lock()
	defer s.running.Unlock()
	for {
		s.mu.Lock()
		next := s.popDue(t)
		if next == nil {
			if t.After(s.now) {
				s.now = t
			}
			s.mu.Unlock()
			return
		}
		if next.at.After(s.now) {
			s.now = next.at
		}
		s.mu.Unlock()
		next.f()
	}
}

// popDue removes and returns the earliest live timer due at or before t.
func (s *Sim) popDue(t time.Time) *simTimer {
	live := s.pending[:0]
	for _, p := range s.pending {
		if !p.done {
			live = append(live, p)
		}
	}
	s.pending = live
	if len(live) == 0 {
		return nil
	}
	sort.Slice(live, func(i, j int) bool {
		if !live[i].at.Equal(live[j].at) {
			return live[i].at.Before(live[j].at)
		}
		return live[i].seq < live[j].seq
	})
	if live[0].at.After(t) {
		return nil
	}
	next := live[0]
	next.done = true
	s.pending = live[1:]
	return next
}

// Next is the due time of the earliest pending callback (false: none).
func (s *Sim) Next() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *simTimer
	for _, p := range s.pending {
		if !p.done && (best == nil || p.at.Before(best.at)) {
			best = p
		}
	}
	if best == nil {
		return time.Time{}, false
	}
	return best.at, true
}
