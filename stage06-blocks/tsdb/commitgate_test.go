package tsdb

import (
	"runtime"
	"sync"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// A drain waits for the commit that entered before it, while a commit
// entering after it goes through at once.
func TestCommitGateDrainWaitsForOlderCommits(t *testing.T) {
	c := newCommitGate()
	blocked := make(chan struct{}, 1)
	c.blocked = func() {
		select {
		case blocked <- struct{}{}:
		default:
		}
	}
	a := c.enter()
	done := make(chan struct{})
	go func() { c.drain(); close(done) }()
	select {
	case <-done:
		t.Fatal("drain returned while a commit that entered before it was under way")
	case <-blocked:
	}
	// The drain waits: a new commit must neither wait for it nor be
	// counted in the generation it waits for.
	b := c.enter()
	if b == a {
		t.Fatalf("a commit entering during a drain got the drained generation %d", a)
	}
	c.exit(b)
	select {
	case <-done:
		t.Fatal("drain returned when a newer commit exited, the older one still under way")
	default:
	}
	c.exit(a)
	<-done
	// With nothing under way a drain returns without waiting.
	c.blocked = func() { t.Error("drain waited with no commit under way") }
	c.drain()
}

// Commits and drains run concurrently: when a drain returns, no commit of
// a generation before the one it opened is still under way.
func TestCommitGateConcurrent(t *testing.T) {
	c := newCommitGate()
	var mu sync.Mutex
	inflight := map[uint64]int{} // generation → commits under way
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				g := c.enter()
				mu.Lock()
				inflight[g]++
				mu.Unlock()
				mu.Lock()
				inflight[g]--
				mu.Unlock()
				c.exit(g)
			}
		}()
	}
	n := 200
	if testing.Short() {
		n = 50
	}
	for range n {
		c.drain()
		cur := c.gen.Load()
		mu.Lock()
		for g, k := range inflight {
			if g < cur && k > 0 {
				t.Errorf("after a drain opening generation %d, %d commits of generation %d are under way", cur, k, g)
			}
		}
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
}

// A drain that opens a new generation between a commit counting itself in
// and entering: the commit moves to the new generation, and the drain,
// which saw it counted, stops waiting for it.
func TestCommitGateEnterDuringDrain(t *testing.T) {
	c := newCommitGate()
	blocked := make(chan struct{}, 1)
	c.blocked = func() {
		select {
		case blocked <- struct{}{}:
		default:
		}
	}
	done := make(chan struct{})
	first := true
	c.counted = func(uint64) {
		if !first {
			return
		}
		first = false
		go func() { c.drain(); close(done) }()
		<-blocked // the drain waits for this commit, counted in generation 0
	}
	g := c.enter()
	if g != 1 {
		t.Fatalf("commit entered generation %d, want 1, the one the drain opened", g)
	}
	<-done // the drain returns with the commit still under way, in the new generation
	c.exit(g)
}

// A commit that logged a past sample (older than the newest block) before
// compaction started a WAL segment, and applies it only after: compaction
// waits for it, so the sample goes to a block before the checkpoint drops
// the segment that logged it, and is there after a restart. A commit
// starting meanwhile does not wait for compaction.
func TestPersistPastWaitsForLoggedCommit(t *testing.T) {
	dir := t.TempDir()
	opts := testOpts()
	opts.OutOfOrderWindow = 100 * Hour
	db := openDB(t, dir, opts)
	defer func() { db.Close() }()
	ingest(t, db, nil, 2, 0, 10*60_000, 19) // 0 to 3 h: a head cut at 2 h
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if db.head.minValid.Load() != 2*Hour {
		t.Fatalf("head's lower bound %d, want %d", db.head.minValid.Load(), 2*Hour)
	}
	past := lbls("past", "k", "v")
	h := db.head
	logged, release := make(chan struct{}), make(chan struct{})
	h.afterLog = func() {
		h.afterLog = nil // this commit only (the others run after it is set to nil)
		close(logged)
		<-release
	}
	committed := make(chan error)
	go func() {
		app := db.Appender(nil)
		if _, err := app.Append(0, past, Hour, 42); err != nil {
			committed <- err
			return
		}
		committed <- app.Commit()
	}()
	<-logged
	waiting := make(chan struct{}, 1)
	h.commits.blocked = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	compacted := make(chan error)
	go func() { _, err := db.persistPast(true, runtime.Gosched); compacted <- err }()
	select {
	case err := <-compacted:
		t.Fatalf("persistPast returned (%v) before a commit it had to wait for was applied", err)
	case <-waiting:
	}
	// Compaction waits: a new commit goes through meanwhile.
	app := db.Appender(nil)
	if _, err := app.Append(0, lbls("other"), 3*Hour, 1); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatalf("a commit during compaction's wait: %v", err)
	}
	close(release)
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	if err := <-compacted; err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openDB(t, dir, opts)
	got := collect(t, db, 0, 4*Hour, index.MustNewMatcher(index.MatchEqual, model.MetricName, "past"))
	if s := got[past.String()]; len(s) != 1 || s[0].T != Hour || s[0].V != 42 {
		t.Fatalf("after restart, the past sample: %v", got)
	}
}
