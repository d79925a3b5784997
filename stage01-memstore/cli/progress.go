package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Progress reports long work on w (stderr, so that stdout stays the
// result). Work that ends within the first interval prints nothing, so
// quick runs stay quiet; after that a line every interval shows what is
// done. Create with NewProgress, call Add as work completes (from any
// goroutine), and Done at the end.
type Progress struct {
	w        io.Writer
	what     string
	total    int64
	start    time.Time
	mu       sync.Mutex
	done     int64
	stop     chan struct{}
	finished chan struct{}
	stopOnce sync.Once
}

// DefaultInterval is how long work runs before its first progress line.
const DefaultInterval = 2 * time.Second

// NewProgress starts reporting "what: done/total (pct%), rate/s" (or just the
// count and elapsed time when total is 0) every interval.
func NewProgress(w io.Writer, what string, total int64, interval time.Duration) *Progress {
	p := &Progress{w: w, what: what, total: total, start: time.Now(),
		stop: make(chan struct{}), finished: make(chan struct{})}
	go p.loop(interval)
	return p
}

func (p *Progress) loop(interval time.Duration) {
	defer close(p.finished)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
			fmt.Fprintln(p.w, p.line())
		}
	}
}

func (p *Progress) line() string {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	elapsed := time.Since(p.start)
	rate := float64(done) / elapsed.Seconds()
	if p.total > 0 {
		return fmt.Sprintf("%s: %s/%s (%.0f%%), %s/s, %s elapsed", p.what, Thousands(int(done)),
			Thousands(int(p.total)), 100*float64(done)/float64(p.total), Rate(rate), elapsed.Round(time.Second))
	}
	if done > 0 {
		return fmt.Sprintf("%s: %s, %s/s, %s elapsed", p.what, Thousands(int(done)), Rate(rate), elapsed.Round(time.Second))
	}
	return fmt.Sprintf("%s… %s elapsed", p.what, elapsed.Round(time.Second))
}

// Add records n more units of work done.
func (p *Progress) Add(n int64) {
	p.mu.Lock()
	p.done += n
	p.mu.Unlock()
}

// Done stops reporting. It returns once no further line can be printed.
// Later calls do nothing, so a deferred Done may follow an explicit one.
func (p *Progress) Done() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.finished
}
