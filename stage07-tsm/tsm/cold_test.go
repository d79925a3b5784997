package tsm

import (
	"sync/atomic"
	"testing"
	"time"
)

// coldClock is the injected clock and ticker of the background cold check:
// the test moves time by hand and delivers ticks itself.
type coldClock struct {
	now      atomic.Int64 // unix ns
	ticks    chan time.Time
	interval atomic.Int64 // what the engine asked the ticker for
	stopped  atomic.Bool
	started  atomic.Int32
}

func newColdClock() *coldClock {
	c := &coldClock{ticks: make(chan time.Time)} // unbuffered: see check
	c.now.Store(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *coldClock) Now() time.Time { return time.Unix(0, c.now.Load()) }

func (c *coldClock) advance(d time.Duration) { c.now.Add(int64(d)) }

func (c *coldClock) ticker(d time.Duration) (<-chan time.Time, func()) {
	c.interval.Store(int64(d))
	c.started.Add(1)
	return c.ticks, func() { c.stopped.Store(true) }
}

// check delivers one tick and returns once the check it started is over:
// the loop handles a tick at a time and the channel is unbuffered, so the
// second send completes only when the loop is back waiting, after the
// first check. (The second tick starts another check at the same clock,
// which decides the same and finds nothing left to do.)
func (c *coldClock) check() {
	c.ticks <- c.Now()
	c.ticks <- c.Now()
}

// TestColdCompactionInBackground: with AutoCompact, an engine whose writes
// stop is flushed and fully compacted by its own background check, once the
// quiet period has passed on its clock and not before; a write starts the
// quiet period again; Close stops the check.
func TestColdCompactionInBackground(t *testing.T) {
	clock := newColdClock()
	opts := testOptions()
	opts.AutoCompact = true
	opts.ColdDuration = time.Hour
	opts.ColdCheckInterval = 10 * time.Minute
	opts.Now = clock.Now
	opts.ticker = clock.ticker
	e, err := Open(t.TempDir(), opts)
	mustNoErr(t, err)
	if clock.started.Load() != 1 || time.Duration(clock.interval.Load()) != 10*time.Minute {
		t.Fatalf("ticker started %d times with %v, want once with 10m", clock.started.Load(), time.Duration(clock.interval.Load()))
	}
	o := newOracle()
	state := make([]int64, 50)
	step := 0
	write := func(steps int) {
		b := NewBatch()
		for range steps {
			cpuBatch(b, o, 5, step, state)
			step++
		}
		mustNoErr(t, e.WriteBatch(b))
	}
	for range 2 {
		write(100)
		_, err := e.Flush()
		mustNoErr(t, err)
	}
	write(50) // left in the cache: the cold check flushes it
	if s := e.Stats(); len(s.Files) != 2 || s.CacheValues != 2500 {
		t.Fatalf("%d files, %d cached values before the quiet period, want 2 and 2500", len(s.Files), s.CacheValues)
	}

	clock.advance(59 * time.Minute)
	clock.check()
	if s := e.Stats(); len(s.Files) != 2 || s.Compactions != 0 || s.CacheValues != 2500 {
		t.Fatalf("59 min quiet (of 60): %d files, %d compactions, %d cached values: want nothing done",
			len(s.Files), s.Compactions, s.CacheValues)
	}

	clock.advance(2 * time.Minute)
	clock.check()
	s := e.Stats()
	if len(s.Files) != 1 || s.Files[0].Level != maxLevel || s.Compactions != 1 || s.CacheValues != 0 || s.CompactErr != nil {
		t.Fatalf("61 min quiet: files %+v, %d compactions, %d cached values, error %v: want one level-%d file from one full compaction, empty cache",
			s.Files, s.Compactions, s.CacheValues, s.CompactErr, maxLevel)
	}
	if s.Flushes != 3 {
		t.Fatalf("%d flushes, want 3 (two by the test, one by the cold check)", s.Flushes)
	}
	checkAll(t, e, o, "after the cold compaction")

	// Still cold, nothing left to merge: the checks leave the file alone.
	clock.advance(time.Hour)
	clock.check()
	if s := e.Stats(); s.Compactions != 1 || s.Flushes != 3 {
		t.Fatalf("cold and compacted: %d compactions, %d flushes after another check, want 1 and 3", s.Compactions, s.Flushes)
	}

	// A write starts the quiet period again.
	write(30)
	clock.advance(59 * time.Minute)
	clock.check()
	if s := e.Stats(); len(s.Files) != 1 || s.CacheValues != 1500 || s.Compactions != 1 {
		t.Fatalf("59 min after a write: %d files, %d cached values, %d compactions: want the write left alone",
			len(s.Files), s.CacheValues, s.Compactions)
	}
	clock.advance(2 * time.Minute)
	clock.check()
	if s := e.Stats(); len(s.Files) != 1 || s.CacheValues != 0 || s.Compactions != 2 || s.Files[0].Level != maxLevel+1 {
		t.Fatalf("61 min after a write: files %+v, %d cached values, %d compactions: want one file of level %d",
			s.Files, s.CacheValues, s.Compactions, maxLevel+1)
	}
	checkAll(t, e, o, "after the second cold compaction")

	mustNoErr(t, e.Close()) // returns: the loop ended
	if !clock.stopped.Load() {
		t.Error("Close left the ticker running")
	}
}

// TestColdCheckNeedsAutoCompact: without AutoCompact no ticker is started
// (CompactIfCold is the caller's to call).
func TestColdCheckNeedsAutoCompact(t *testing.T) {
	clock := newColdClock()
	opts := testOptions()
	opts.Now = clock.Now
	opts.ticker = clock.ticker
	e, err := Open(t.TempDir(), opts)
	mustNoErr(t, err)
	defer e.Close()
	if n := clock.started.Load(); n != 0 {
		t.Fatalf("ticker started %d times without AutoCompact", n)
	}
}
