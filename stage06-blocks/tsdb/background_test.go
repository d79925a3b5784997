package tsdb

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsdb-course/stage06-blocks/block"
)

// TestBackgroundWorkYields: a head cut and a block merge, cold or not,
// yield at least once per series they write (background.go), so the
// goroutines the writes need run between two series rather than after the
// whole loop. Counted through the hook, not timed.
func TestBackgroundWorkYields(t *testing.T) {
	const series = 100
	for _, cold := range []int{2, 9} { // level-2 merge cold (parallel workers) or not
		t.Run(fmt.Sprint("coldLevel=", cold), func(t *testing.T) {
			opts := testOpts()
			opts.ColdLevel = cold
			var n atomic.Int64
			opts.yield = func() { n.Add(1) }
			db := openDB(t, t.TempDir(), opts)
			defer db.Close()
			ingest(t, db, nil, series, nowMs, Minute, 6*60) // 6 h: two cuts, 2 h left
			rep, err := db.CompactReport(context.Background())
			if err != nil || len(rep) != 2 {
				t.Fatalf("compaction wrote %d blocks (%v), want the two head cuts", len(rep), err)
			}
			if got := n.Load(); got < 2*series {
				t.Fatalf("two head cuts of %d series yielded %d times, want at least once per series written", series, got)
			}
			n.Store(0)
			if _, err := db.CompactBlocks(rep[0].Meta.ULID, rep[1].Meta.ULID); err != nil {
				t.Fatal(err)
			}
			if got := n.Load(); got < series {
				t.Fatalf("merging two blocks of %d series yielded %d times, want at least once per series", series, got)
			}
		})
	}
}

// TestCommitsRunWhileBackgroundWorkYields: at every point where a head cut,
// its truncation, the WAL checkpoint (before each record) or a block merge yields, the
// compaction is held there while a commit appends to an existing series
// and creates a new one. Each commit must return while compaction is
// parked (no lock of the head, the WAL or the series creation is held
// across a yield: this would deadlock), and every sample must be there
// afterwards.
func TestCommitsRunWhileBackgroundWorkYields(t *testing.T) {
	opts := testOpts()
	parked, release := make(chan struct{}), make(chan struct{})
	opts.yield = func() {
		parked <- struct{}{}
		<-release
	}
	db := openDB(t, t.TempDir(), opts)
	defer db.Close()
	o := oracle{}
	const series = 40
	ingest(t, db, o, series, nowMs, Minute, 6*60)
	done := make(chan error, 1)
	go func() {
		rep, err := db.CompactReport(context.Background())
		if err == nil && len(rep) < 2 {
			err = fmt.Errorf("compaction wrote %d blocks, want the two head cuts", len(rep))
		}
		if err == nil && len(rep) == 2 {
			_, err = db.CompactBlocks(rep[0].Meta.ULID, rep[1].Meta.ULID)
		}
		done <- err
	}()
	ts := nowMs + 6*Hour
	for k := 0; ; k++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if k < 2*series {
				t.Fatalf("compaction yielded %d times, want at least once per series cut", k)
			}
			equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
			return
		case <-parked:
		}
		// Compaction is parked at a yield: this commit must not wait for it.
		app := db.Appender(nil)
		l := lbls("during", "k", fmt.Sprint(k))
		if _, err := app.Append(0, seriesName(0), ts, float64(k)); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Append(0, l, ts, float64(k)); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		o.add(seriesName(0), ts, float64(k))
		o.add(l, ts, float64(k))
		ts++
		release <- struct{}{}
	}
}

// TestPacerRests: a paced goroutine rests once it has worked a slice, for
// as long as makes its work the share of the wall time (bounded), yields
// instead while hurried, and starts a new slice after each rest. On a
// clock the test moves.
func TestPacerRests(t *testing.T) {
	var clock time.Time
	clock = clock.Add(time.Hour)
	var rests []time.Duration
	yields, hurried := 0, false
	p := &pacer{
		share: 0.25,
		hurry: func() bool { return hurried },
		yield: func() { yields++ },
		now:   func() time.Time { return clock },
		sleep: func(d time.Duration) { rests = append(rests, d); clock = clock.Add(d) },
	}
	work := func(d time.Duration) { clock = clock.Add(d); p.step() }

	p.step() // the slice starts
	for range 3 {
		work(paceSlice / 4)
	}
	if len(rests) != 0 || yields != 4 {
		t.Fatalf("within the first slice: %d rests, %d yields; want 0 and 4", len(rests), yields)
	}
	work(paceSlice / 2) // 1.25 slices worked: rest 3× as long (share 1/4)
	if want := paceSlice * 5 / 4 * 3; len(rests) != 1 || rests[0] != want {
		t.Fatalf("after 1.25 slices at share 0.25: rests %v, want [%v]", rests, want)
	}
	work(paceSlice / 2) // a new slice began with the rest's end
	if len(rests) != 1 {
		t.Fatalf("half a slice after a rest: rests %v, want no new one", rests)
	}
	work(time.Minute) // a series that took long: the rest is bounded
	if want := 10 * paceSlice * 3; len(rests) != 2 || rests[1] != want {
		t.Fatalf("after a minute's work: rests %v, want the second %v", rests, want)
	}

	hurried, yields = true, 0
	work(paceSlice * 3)
	work(paceSlice * 3)
	if len(rests) != 2 || yields != 2 {
		t.Fatalf("hurried: %d rests, %d yields; want no new rest and 2 yields", len(rests), yields)
	}
	hurried = false
	work(paceSlice / 2) // the hurried slices do not count against the next
	if len(rests) != 2 {
		t.Fatalf("half a slice after hurrying: rests %v, want no new one", rests)
	}
}

// TestBackgroundLoopPaced: with BackgroundShare, the background loop's head
// cut rests between slices of work, each rest the slice's share, and so
// does the WAL checkpoint after it; a compaction a program asks for does
// not rest; every sample is there.
func TestBackgroundLoopPaced(t *testing.T) {
	opts := testOpts()
	opts.NoBackgroundCompaction = false
	opts.BackgroundShare = 0.5
	var mu sync.Mutex
	var rests []time.Duration
	written, restsAfter := false, 0 // rests once the cut's block is written
	opts.sleep = func(d time.Duration) {
		mu.Lock()
		rests = append(rests, d)
		if written {
			restsAfter++
		}
		mu.Unlock()
	}
	// Each series costs the loop 100µs more, so a cut works many slices
	// whatever the machine's speed.
	opts.yield = func() {
		for t0 := time.Now(); time.Since(t0) < 100*time.Microsecond; {
		}
	}
	cut := make(chan CompactStats, 16)
	opts.OnBlockWritten = func(st CompactStats) {
		mu.Lock()
		written = true
		mu.Unlock()
		cut <- st
	}
	db := openDB(t, t.TempDir(), opts)
	defer db.Close()
	o := oracle{}
	const series = 500
	// 4 h in 240 commits: the loop cuts the first 2 h, then checkpoints
	// the WAL's 240 records; the truncation after the cut is not paced and
	// there is no block to merge, so the rests after the block are the
	// checkpoint's.
	ingest(t, db, o, series, nowMs, Minute, 4*60)
	select {
	case <-cut:
	case <-time.After(time.Minute):
		t.Fatal("the background loop wrote no block within a minute")
	}
	db.compactMu.Lock() // the loop's compaction is over
	db.compactMu.Unlock()
	mu.Lock()
	got, after := slices.Clone(rests), restsAfter
	mu.Unlock()
	if len(got) == after {
		t.Fatalf("a background cut of %d series yielding for 100µs each never rested", series)
	}
	if after == 0 {
		t.Fatal("the background loop's WAL checkpoint of 240 records yielding for 100µs each never rested")
	}
	for _, d := range got {
		if d < paceSlice || d > 10*paceSlice {
			t.Fatalf("rests %v: at share 0.5 each must be the slice just worked, %v to %v", got, paceSlice, 10*paceSlice)
		}
	}

	// Half an hour more leaves the head under the span that wakes the
	// loop; compactMu is held for as long as the loop compacts.
	ingest(t, db, o, series, nowMs+4*Hour, Minute, 30)
	db.compactMu.Lock()
	mu.Lock()
	before := len(rests)
	mu.Unlock()
	db.compactMu.Unlock()
	rep, err := db.FlushHead()
	if err != nil || len(rep) == 0 {
		t.Fatalf("FlushHead wrote %d blocks (%v), want the head's 2.5 h", len(rep), err)
	}
	mu.Lock()
	n := len(rests) - before
	mu.Unlock()
	if n != 0 {
		t.Fatalf("FlushHead rested %d times, want none (only the background loop is paced)", n)
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
}

// TestHurry: the background loop does not rest while the head spans 3
// block ranges or more, or once the DB is closing.
func TestHurry(t *testing.T) {
	db := openDB(t, t.TempDir(), testOpts())
	t.Cleanup(func() { db.Close() }) // if it fails before the Close below
	ingest(t, db, nil, 3, nowMs, Minute, 5*60)
	if db.hurry() {
		t.Fatal("hurry with the head spanning 5 h of a 2 h block range, want not before 6 h")
	}
	ingest(t, db, nil, 3, nowMs+5*Hour, Minute, 61)
	if !db.hurry() {
		t.Fatal("no hurry with the head spanning 6 h, 3 block ranges")
	}
	db.Close()
	if !db.hurry() {
		t.Fatal("no hurry once closed")
	}
}

// TestCutHeadCutsWhatWasDue: a compaction's head cut stops at what was due
// when it began, however fast writes extend the head meanwhile, so the WAL
// checkpoint and the merges after it run; the next compaction cuts the
// rest. The writes come while the cut is parked at its first yield.
func TestCutHeadCutsWhatWasDue(t *testing.T) {
	opts := testOpts()
	parked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	opts.yield = func() {
		once.Do(func() {
			parked <- struct{}{}
			<-release
		})
	}
	db := openDB(t, t.TempDir(), opts)
	defer db.Close()
	o := oracle{}
	const series = 10
	ingest(t, db, o, series, nowMs, Minute, 4*60) // 4 h: one 2 h range due
	type result struct {
		rep []CompactStats
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := db.CompactReport(context.Background())
		done <- result{rep, err}
	}()
	<-parked
	ingest(t, db, o, series, nowMs+4*Hour, Minute, 4*60) // 4 h more while it cuts
	close(release)
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	if n := headCuts(res.rep); n != 1 {
		t.Fatalf("the compaction begun with one range due cut %d, want 1", n)
	}
	rep, err := db.CompactReport(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := headCuts(rep); n != 2 {
		t.Fatalf("the next compaction cut %d ranges, want the 2 due since", n)
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
}

// headCuts counts the head cuts among a compaction's blocks.
func headCuts(rep []CompactStats) (n int) {
	for _, st := range rep {
		if len(st.Parents) == 0 {
			n++
		}
	}
	return n
}

// TestMergeGoroutinesOnePacerEach: a merge makes one yield function for its
// own goroutine, which a batch encoded on that goroutine shares (a second
// pacer there would count the first one's rests as its work and rest
// again), and one for each worker goroutine of each batch.
func TestMergeGoroutinesOnePacerEach(t *testing.T) {
	const series = 300 // two batches of coldBatchSeries
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			db := openDB(t, t.TempDir(), testOpts())
			defer db.Close()
			ingest(t, db, nil, series, nowMs, Minute, 6*60)
			if _, err := db.CompactReport(context.Background()); err != nil {
				t.Fatal(err)
			}
			db.mu.RLock()
			group := slices.Clone(db.blocks)
			db.mu.RUnlock()
			if len(group) != 2 {
				t.Fatalf("%d blocks, want the two head cuts", len(group))
			}
			_, mint, maxt, _, _, _ := describeParents(group)
			w, err := block.NewWriter(t.TempDir(), 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Abort()
			var made atomic.Int64 // workers make theirs on their goroutines
			newYield := func() func() { made.Add(1); return func() {} }
			if err := mergeSeries(w, group, mint, maxt, coldJoinSmall, workers, newYield); err != nil {
				t.Fatal(err)
			}
			want := 1 // the merge's own
			if workers > 1 {
				batches := (series + coldBatchSeries - 1) / coldBatchSeries
				want += batches * workers
			}
			if got := made.Load(); got != int64(want) {
				t.Fatalf("%d yield functions made, want %d (one per goroutine)", got, want)
			}
		})
	}
}
