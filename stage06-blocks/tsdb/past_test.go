package tsdb

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
)

// pastValue is the value every write of series i at t carries: a rewrite
// of a timestamp is the same sample again, so the oracle's answer does not
// depend on which copy a merge keeps.
func pastValue(i int, t int64) float64 { return float64(i)*1e9 + float64(t)/1000 + 0.125 }

// checkClean fails if two blocks overlap: after a compaction, vertical
// compaction must have merged every overlap away.
func checkClean(t *testing.T, db *DB, when string) {
	t.Helper()
	bs := db.Blocks()
	for i := 1; i < len(bs); i++ {
		if bs[i].MinTime < bs[i-1].MaxTime {
			t.Fatalf("%s: blocks overlap: [%d,%d) and [%d,%d)", when, bs[i-1].MinTime, bs[i-1].MaxTime, bs[i].MinTime, bs[i].MaxTime)
		}
	}
}

// TestPastSamplesOracle writes a stream that moves forward in time with a
// fifth of its samples anywhere in the past (many of them before the
// head's lower bound once blocks are cut, some rewriting a timestamp
// already stored), compacting, flushing and restarting in between, and
// compares every query with the oracle of all acknowledged samples: before
// and after each compaction and restart.
func TestPastSamplesOracle(t *testing.T) {
	dir := t.TempDir()
	opts := testOpts()
	opts.OutOfOrderWindow = 1000 * Hour
	db := openDB(t, dir, opts)
	defer func() { db.Close() }()
	rng := rand.New(rand.NewPCG(12, 34))
	o := oracle{}
	const n = 6
	cur := int64(0)
	var past uint64 // past samples accepted (the counter restarts with Open)
	check := func(when string) {
		t.Helper()
		equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
		lo := rng.Int64N(cur + 1)
		hi := lo + rng.Int64N(6*Hour)
		equalResults(t, collect(t, db, lo, hi), o.expect(lo, hi, nil))
	}
	for step := range 600 {
		app := db.Appender(nil)
		var added []model.Sample
		var who []int
		for range 1 + rng.IntN(8) {
			i := rng.IntN(n)
			ts := cur
			if rng.IntN(5) == 0 {
				ts = rng.Int64N(cur+1) / (15 * 1000) * 15 * 1000 // 15 s grid: rewrites happen
			}
			if _, err := app.Append(0, seriesName(i), ts, pastValue(i, ts)); err != nil {
				t.Fatalf("step %d: series %d t=%d (head %d..%d): %v", step, i, ts, db.Head().MinTime(), db.Head().MaxTime(), err)
			}
			added, who = append(added, model.Sample{T: ts, V: pastValue(i, ts)}), append(who, i)
		}
		if err := app.Commit(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		for k, s := range added {
			o.add(seriesName(who[k]), s.T, s.V)
		}
		cur += Minute
		if step%40 != 39 {
			continue
		}
		check(fmt.Sprintf("step %d before", step))
		switch rng.IntN(3) {
		case 0:
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			checkClean(t, db, "compact")
		case 1:
			if _, err := db.FlushHead(); err != nil {
				t.Fatal(err)
			}
			checkClean(t, db, "flush")
		case 2:
			past += db.Head().Stats().PastAccepted
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openDB(t, dir, opts)
		}
		check(fmt.Sprintf("step %d after", step))
	}
	past += db.Head().Stats().PastAccepted
	if past == 0 || len(db.Blocks()) == 0 {
		t.Fatalf("%d past samples, %d blocks: the test must exercise samples older than the head's lower bound", past, len(db.Blocks()))
	}
	if _, err := db.FlushHead(); err != nil {
		t.Fatal(err)
	}
	checkClean(t, db, "final flush")
	check("final flush")
	if st := db.Head().Stats(); st.PastChunks != 0 {
		t.Fatalf("%d past chunks left after a flush", st.PastChunks)
	}
	db.Close()
	db = openDB(t, dir, opts)
	check("final restart")
	t.Logf("%d past samples; %d blocks; recovery %+v", past, len(db.Blocks()), db.Recovery())
}

// TestPastSampleBeforeBlocks is the situation of a server's README: a day
// of data cut to blocks, then a sample of long before (refused without a
// window, accepted with one), one inside an existing block's range, and one
// rewriting a sample a block holds. All are queried with the blocks at
// once, survive a restart before compaction, and compaction leaves a clean
// block list holding each sample once.
func TestPastSampleBeforeBlocks(t *testing.T) {
	const day = 24 * Hour
	base := 400 * day
	for _, window := range []int64{0, 1000 * day} {
		t.Run(fmt.Sprint("window=", window), func(t *testing.T) {
			dir := t.TempDir()
			opts := testOpts()
			opts.OutOfOrderWindow = window
			db := openDB(t, dir, opts)
			defer func() { db.Close() }()
			o := oracle{}
			ingest(t, db, o, 3, base, Minute, 8*60)
			if _, err := db.FlushHead(); err != nil {
				t.Fatal(err)
			}
			blocks := len(db.Blocks())
			writes := []struct {
				i  int
				ts int64
				v  float64
			}{
				{0, base - 300*day, 0.45},                    // long before every block
				{1, base + 90*Minute + 30*1000, 7},           // between two samples of a block
				{2, base + 3*Minute, float64(2*1000+3) + .5}, // a sample a block holds, again
				{7, base + Hour, 3},                          // a new series, in a block's range
			}
			for _, w := range writes {
				app := db.Appender(nil)
				_, err := app.Append(0, seriesName(w.i), w.ts, w.v)
				if window == 0 {
					if !errors.Is(err, ErrOutOfBounds) {
						t.Fatalf("t=%d without a window: %v, want ErrOutOfBounds", w.ts, err)
					}
					app.Rollback()
					continue
				}
				if err != nil {
					t.Fatalf("t=%d: %v", w.ts, err)
				}
				if err := app.Commit(); err != nil {
					t.Fatal(err)
				}
				o.add(seriesName(w.i), w.ts, w.v)
			}
			want := o.expect(math.MinInt64, math.MaxInt64, nil)
			equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), want)
			db.Close()
			db = openDB(t, dir, opts)
			equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), want)
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
			checkClean(t, db, "compact")
			equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), want)
			if window > 0 {
				// The old sample has a block of its own; the others were
				// merged into the blocks of their ranges.
				if got := len(db.Blocks()); got != blocks+1 {
					t.Fatalf("%d blocks after compaction, want %d", got, blocks+1)
				}
				if st := db.Head().Stats(); st.PastChunks != 0 {
					t.Fatalf("%d past chunks left after compaction", st.PastChunks)
				}
			}
			db.Close()
			db = openDB(t, dir, opts)
			equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), want)
			if db.Head().Stats().PastChunks != 0 {
				t.Fatal("the restart replayed samples already in blocks into the head")
			}
		})
	}
}

// TestPastSamplesDeleted: a delete reaching past samples still in the head
// hides them, and compaction does not write them back.
func TestPastSamplesDeleted(t *testing.T) {
	dir := t.TempDir()
	opts := testOpts()
	opts.OutOfOrderWindow = 1000 * Hour
	db := openDB(t, dir, opts)
	defer db.Close()
	o := oracle{}
	ingest(t, db, o, 2, 100*Hour, Minute, 4*60)
	if _, err := db.FlushHead(); err != nil {
		t.Fatal(err)
	}
	ingest(t, db, o, 2, 10*Hour, Minute, 60) // an hour, long before the blocks
	if db.Head().Stats().PastChunks == 0 {
		t.Fatal("the old hour is not in the past stores")
	}
	if err := db.Delete(10*Hour+10*Minute, 10*Hour+20*Minute, index.MustNewMatcher(index.MatchEqual, "i", "0")); err != nil {
		t.Fatal(err)
	}
	o.del(10*Hour+10*Minute, 10*Hour+20*Minute, func(k string) bool { return k == seriesName(0).String() })
	want := o.expect(math.MinInt64, math.MaxInt64, nil)
	equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), want)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), want)
}

// TestPastSamplesConcurrent: writers append samples older than the head's
// lower bound while compaction writes them to blocks and queries run (for
// -race); every acknowledged sample is there at the end.
func TestPastSamplesConcurrent(t *testing.T) {
	dir := t.TempDir()
	opts := testOpts()
	opts.OutOfOrderWindow = 1000 * Hour
	db := openDB(t, dir, opts)
	defer db.Close()
	ingest(t, db, nil, 1, 50*Hour, Minute, 3*60)
	if _, err := db.FlushHead(); err != nil {
		t.Fatal(err)
	}
	const writers, commits = 2, 200
	done := make(chan error, writers+1)
	stop := make(chan struct{})
	for w := range writers {
		go func() {
			for k := range commits {
				app := db.Appender(nil)
				ts := int64(k) * Minute // hours before the blocks
				if _, err := app.Append(0, seriesName(10+w), ts, pastValue(w, ts)); err != nil {
					done <- err
					return
				}
				if err := app.Commit(); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := db.Compact(); err != nil {
				done <- err
				return
			}
			q, err := db.Querier(math.MinInt64, math.MaxInt64)
			if err != nil {
				done <- err
				return
			}
			var it Iterator
			ss := q.Select()
			for ss.Next() {
				for it = ss.At().Iterator(it); it.Next(); {
				}
				if err = it.Err(); err != nil {
					break
				}
			}
			q.Close()
			if err == nil {
				err = ss.Err()
			}
			if err != nil {
				done <- err
				return
			}
		}
	}()
	for range writers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	checkClean(t, db, "compact")
	got := collect(t, db, math.MinInt64, 49*Hour)
	for w := range writers {
		ss := got[seriesName(10+w).String()]
		if len(ss) != commits {
			t.Fatalf("writer %d: %d samples, want %d", w, len(ss), commits)
		}
		for k, s := range ss {
			if s.T != int64(k)*Minute || s.V != pastValue(w, s.T) {
				t.Fatalf("writer %d sample %d: %v", w, k, s)
			}
		}
	}
}

// TestPastWindowUnlimited: a window of math.MaxInt64 takes every storable
// timestamp, also into an empty head after a restart (no newest sample to
// measure the window from), with no overflow.
func TestPastWindowUnlimited(t *testing.T) {
	dir := t.TempDir()
	opts := testOpts()
	opts.OutOfOrderWindow = math.MaxInt64
	db := openDB(t, dir, opts)
	o := oracle{}
	ingest(t, db, o, 1, 10*Hour, Minute, 60)
	if _, err := db.FlushHead(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openDB(t, dir, opts) // the head is empty
	defer db.Close()
	for _, ts := range []int64{MinTimestamp, -5 * Hour, 0, 10*Hour + 30*1000} {
		app := db.Appender(nil)
		if _, err := app.Append(0, seriesName(0), ts, 1); err != nil {
			t.Fatalf("t=%d: %v", ts, err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		o.add(seriesName(0), ts, 1)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	checkClean(t, db, "compact")
	equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
}

// TestSeriesPinnedFromAppendToCommit: a series whose only sample in a
// batch is out of order must not be removed from the head between the
// Append and the Commit. Truncation removes series that hold nothing (a
// series whose past samples were just written to a block, or whose every
// sample a head cut took); an appender still holding one would apply its
// sample to a series no query reads and the next checkpoint forgets,
// after Commit acknowledged it.
func TestSeriesPinnedFromAppendToCommit(t *testing.T) {
	const day = 24 * Hour
	base := 400 * day
	commit := func(t *testing.T, db *DB, ls model.Labels, ts int64, v float64) {
		t.Helper()
		app := db.Appender(nil)
		if _, err := app.Append(0, ls, ts, v); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		// prepare writes what makes the series removable; it returns the
		// time of the sample the open batch appends.
		prepare func(t *testing.T, db *DB, o oracle, s model.Labels) int64
		// between runs while the batch is open: it truncates the series.
		between func(t *testing.T, db *DB, o oracle)
	}{
		{
			name: "past sample, series flushed to a block",
			prepare: func(t *testing.T, db *DB, o oracle, s model.Labels) int64 {
				commit(t, db, s, base-300*day, 1)
				o.add(s, base-300*day, 1)
				if err := db.Compact(); err != nil { // writes it, drops the series
					t.Fatal(err)
				}
				return base - 299*day
			},
			between: func(t *testing.T, db *DB, o oracle) {
				// Another series' past sample makes the next compaction
				// flush past stores and truncate.
				commit(t, db, seriesName(9), base-200*day, 2)
				o.add(seriesName(9), base-200*day, 2)
				if err := db.Compact(); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "out-of-order sample, every sample cut to a block",
			prepare: func(t *testing.T, db *DB, o oracle, s model.Labels) int64 {
				ts := base + 9*Hour
				commit(t, db, s, ts, 1)
				o.add(s, ts, 1)
				return ts - Minute
			},
			between: func(t *testing.T, db *DB, o oracle) {
				if _, err := db.FlushHead(); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, c := range cases {
		for _, hist := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/histogram=%v", c.name, hist), func(t *testing.T) {
				dir := t.TempDir()
				opts := testOpts()
				opts.OutOfOrderWindow = 1000 * day
				db := openDB(t, dir, opts)
				defer func() { db.Close() }()
				o := oracle{}
				ingest(t, db, o, 3, base, Minute, 8*60)
				if _, err := db.FlushHead(); err != nil {
					t.Fatal(err)
				}
				s := lbls("pinned")
				ts := c.prepare(t, db, o, s)
				app := db.Appender(nil)
				var err error
				if hist {
					_, err = app.AppendHistogram(0, s, ts, testHist(0, 1), nil)
				} else {
					_, err = app.Append(0, s, ts, 42)
				}
				if err != nil {
					t.Fatal(err)
				}
				c.between(t, db, o)
				if err := app.Commit(); err != nil {
					t.Fatal(err)
				}
				if !hist {
					o.add(s, ts, 42)
				}
				check := func(when string) {
					t.Helper()
					if !hist {
						equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
						return
					}
					found := false
					for _, x := range collectHist(t, db, math.MinInt64, math.MaxInt64)[s.String()] {
						found = found || x.t == ts && x.h != nil
					}
					if !found {
						t.Fatalf("%s: the histogram at %d is gone", when, ts)
					}
				}
				check("after Commit")
				// The checkpoint of the next compaction drops what the
				// head does not hold: the sample must survive it and a
				// restart.
				if err := db.Compact(); err != nil {
					t.Fatal(err)
				}
				db.Close()
				db = openDB(t, dir, opts)
				check("after a restart")
			})
		}
	}
}
