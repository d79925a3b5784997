package tsdb

import (
	"math"
	"os"
	"testing"
)

// TestRetention: whole blocks go, never part of one. By time: blocks
// ending at least RetentionTime before the newest sample; by size: the
// oldest blocks while all of them take more than RetentionSize.
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
	reopen := func(t *testing.T, dir string, set func(*Options)) *DB {
		opts := testOpts()
		opts.CompactionRanges = []int64{opts.BlockRange}
		set(&opts)
		db := openDB(t, dir, opts)
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
		db.deleting.Wait()
		return db
	}
	// keptFrom checks the blocks left and that the directories of the
	// others are gone, then queries against the oracle from the first
	// kept block's start.
	keptFrom := func(t *testing.T, db *DB, o oracle, before []BlockInfo, first int) {
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
		for _, b := range before[:first] {
			if _, err := os.Stat(b.Dir); !os.IsNotExist(err) {
				t.Fatalf("dropped block %s still on disk: %v", b.ULID, err)
			}
		}
		equalResults(t, collect(t, db, math.MinInt64, all), o.expect(before[first].MinTime, all, nil))
	}
	t.Run("time", func(t *testing.T) {
		dir, o, bs := build(t)
		// Newest sample 11h−1m; 5h−1m back is 6h−1m: blocks ending at 2 h
		// and 4 h go, the one ending at 6 h does not (a minute short).
		db := reopen(t, dir, func(o *Options) { o.RetentionTime = 5 * Hour })
		defer db.Close()
		keptFrom(t, db, o, bs, 2)
	})
	t.Run("time-boundary", func(t *testing.T) {
		dir, o, bs := build(t)
		db := reopen(t, dir, func(o *Options) { o.RetentionTime = 5*Hour - Minute })
		defer db.Close()
		keptFrom(t, db, o, bs, 3)
	})
	t.Run("size", func(t *testing.T) {
		dir, o, bs := build(t)
		// One byte less than the newest three blocks: the two oldest go.
		limit := bs[1].Size + bs[2].Size + bs[3].Size - 1
		db := reopen(t, dir, func(o *Options) { o.RetentionSize = limit })
		defer db.Close()
		keptFrom(t, db, o, bs, 2)
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
		keptFrom(t, db, o, bs, 1)
	})
}
