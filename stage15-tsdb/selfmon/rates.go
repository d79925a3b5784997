package selfmon

import (
	"sync"
	"time"
)

// Rate turns a monotonically growing count into a per-second rate over the
// last completed window: Observe is called with the count now and then (the
// server ticks it), PerSecond reads the rate between the last two
// observations at least a window apart. The clock is passed in, so tests
// need no sleeping.
type Rate struct {
	window time.Duration

	mu         sync.Mutex
	lastT      time.Time
	lastN      float64
	perSecond  float64
	firstValid bool
}

// NewRate returns a rate over windows of at least window.
func NewRate(window time.Duration) *Rate { return &Rate{window: window} }

// Observe records the count n at time now.
func (r *Rate) Observe(now time.Time, n float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.firstValid {
		r.lastT, r.lastN, r.firstValid = now, n, true
		return
	}
	el := now.Sub(r.lastT)
	if el < r.window {
		return
	}
	r.perSecond = (n - r.lastN) / el.Seconds()
	r.lastT, r.lastN = now, n
}

// PerSecond is the rate over the last complete window (0 before the first).
func (r *Rate) PerSecond() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.perSecond
}
