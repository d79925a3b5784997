package tsdb

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
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
// its truncation, the WAL checkpoint's caller or a block merge yields, the
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
