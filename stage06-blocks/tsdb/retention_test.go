package tsdb

import (
	"math"
	"os"
	"testing"
	"time"
)

// TestRetention: whole blocks go, never part of one, and each is reported
// with its range and reason. By time: blocks ending at least RetentionTime
// before the clock's now; by size: the oldest blocks while all of them
// take more than RetentionSize.
func TestRetention(t *testing.T) {
	build := func(t *testing.T) (string, oracle, []BlockInfo) {
		dir := t.TempDir()
		opts := testOpts()
		opts.CompactionRanges = []int64{opts.BlockRange} // no leveled merges: one block per 2 h
		db := openDB(t, dir, opts)
		o := oracle{}
		ingest(t, db, o, 10, 0, Minute, 11*60) // blocks 0-2, 2-4, 4-6, 6-8 h; head 8-11 h
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
		bs := db.Blocks()
		if len(bs) != 4 {
			t.Fatalf("%d blocks, want 4", len(bs))
		}
		db.Close()
		return dir, o, bs
	}
	var deleted []RetentionDeletion
	reopen := func(t *testing.T, dir string, set func(*Options)) *DB {
		deleted = nil
		opts := testOpts()
		opts.CompactionRanges = []int64{opts.BlockRange}
		opts.Now = func() time.Time { return time.UnixMilli(11*Hour - Minute) } // the newest sample's time
		opts.OnRetention = func(d RetentionDeletion) { deleted = append(deleted, d) }
		set(&opts)
		db := openDB(t, dir, opts)
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
		db.deleting.Wait()
		return db
	}
	// keptFrom checks the blocks left, that the directories of the others
	// are gone and that each was reported, then queries against the oracle
	// from the first kept block's start.
	keptFrom := func(t *testing.T, db *DB, o oracle, before []BlockInfo, first int, reason string) {
		t.Helper()
		got := db.Blocks()
		if len(got) != len(before)-first {
			t.Fatalf("%d blocks kept, want %d", len(got), len(before)-first)
		}
		for i, b := range got {
			if b.ULID != before[first+i].ULID {
				t.Fatalf("block %d is %s, want %s", i, b.ULID, before[first+i].ULID)
			}
		}
		if len(deleted) != first {
			t.Fatalf("%d deletions reported, want %d: %+v", len(deleted), first, deleted)
		}
		for i, b := range before[:first] {
			if _, err := os.Stat(b.Dir); !os.IsNotExist(err) {
				t.Fatalf("dropped block %s still on disk: %v", b.ULID, err)
			}
			d := deleted[i]
			if d.Meta.ULID != b.ULID || d.Meta.MinTime != b.MinTime || d.Meta.MaxTime != b.MaxTime || d.Size != b.Size || d.Reason != reason {
				t.Fatalf("deletion %d reported as %s [%d, %d) %d bytes (%s), want %s [%d, %d) %d bytes (%s)", i,
					d.Meta.ULID, d.Meta.MinTime, d.Meta.MaxTime, d.Size, d.Reason, b.ULID, b.MinTime, b.MaxTime, b.Size, reason)
			}
		}
		equalResults(t, collect(t, db, math.MinInt64, all), o.expect(before[first].MinTime, all, nil))
	}
	t.Run("time", func(t *testing.T) {
		dir, o, bs := build(t)
		// Now is 11h−1m; 5h back is 6h−1m: blocks ending at 2 h and 4 h
		// go, the one ending at 6 h does not (a minute short).
		db := reopen(t, dir, func(o *Options) { o.RetentionTime = 5 * Hour })
		defer db.Close()
		keptFrom(t, db, o, bs, 2, RetentionTimeReason)
	})
	t.Run("time-boundary", func(t *testing.T) {
		dir, o, bs := build(t)
		db := reopen(t, dir, func(o *Options) { o.RetentionTime = 5*Hour - Minute })
		defer db.Close()
		keptFrom(t, db, o, bs, 3, RetentionTimeReason)
	})
	t.Run("size", func(t *testing.T) {
		dir, o, bs := build(t)
		// One byte less than the newest three blocks: the two oldest go.
		limit := bs[1].Size + bs[2].Size + bs[3].Size - 1
		db := reopen(t, dir, func(o *Options) { o.RetentionSize = limit })
		defer db.Close()
		keptFrom(t, db, o, bs, 2, RetentionSizeReason)
		var total int64
		for _, b := range db.Blocks() {
			total += b.Size
		}
		if total > limit {
			t.Fatalf("%d bytes left, limit %d", total, limit)
		}
	})
	t.Run("size-exact", func(t *testing.T) {
		dir, o, bs := build(t)
		db := reopen(t, dir, func(o *Options) { o.RetentionSize = bs[1].Size + bs[2].Size + bs[3].Size })
		defer db.Close()
		keptFrom(t, db, o, bs, 1, RetentionSizeReason)
	})
}

// TestRetentionAnchoredOnClock: retention is measured from the clock. A
// sample written now, or one far in the future (with no future limit),
// deletes nothing that the clock still keeps; when the clock moves past a
// block's end plus the retention, that block goes and is reported.
func TestRetentionAnchoredOnClock(t *testing.T) {
	c := &clock{ms: nowMs}
	opts := testOpts()
	opts.Now = c.now
	opts.RetentionTime = 15 * 24 * Hour
	opts.FutureGrace = -1 // no future limit: the sample at now+30d is stored
	opts.CompactionRanges = []int64{opts.BlockRange}
	var deleted []RetentionDeletion
	opts.OnRetention = func(d RetentionDeletion) { deleted = append(deleted, d) }
	db := openDB(t, t.TempDir(), opts)
	defer db.Close()
	o := oracle{}
	start := nowMs - 10*24*Hour // history: 5 h, ten days ago
	ingest(t, db, o, 3, start, Minute, 5*60)
	for _, ts := range []int64{nowMs, nowMs + 30*24*Hour} {
		if err := appendOne(db, lbls("late"), ts, 1); err != nil {
			t.Fatal(err)
		}
		o.add(lbls("late"), ts, 1)
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
		db.deleting.Wait()
		if len(deleted) != 0 || len(db.Blocks()) == 0 {
			t.Fatalf("after a sample at %s: %d blocks deleted, %d left", fmtMillis(ts), len(deleted), len(db.Blocks()))
		}
		equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
	}
	history := db.Blocks()
	// Six days later the history is 16 days old: its blocks go.
	c.ms += 6 * 24 * Hour
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	db.deleting.Wait()
	if len(deleted) == 0 {
		t.Fatal("no block deleted once the clock passed the retention")
	}
	for i, d := range deleted {
		if d.Reason != RetentionTimeReason || d.Meta.MaxTime > c.ms-opts.RetentionTime || d.Meta.ULID != history[i].ULID {
			t.Fatalf("deletion %d: %s [%d, %d) %s", i, d.Meta.ULID, d.Meta.MinTime, d.Meta.MaxTime, d.Reason)
		}
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(deleted[len(deleted)-1].Meta.MaxTime, all, nil))
}
