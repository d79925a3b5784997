package tsdb

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/tsdb-course/stage06-blocks/block"
)

// TestCorruptBlockLeftOut: a block whose index is damaged is reported in
// Recovery().CorruptBlocks (wrapping block.ErrCorrupt), left out of
// queries and compaction, and left on disk for inspection; the other
// block and the head answer as before.
func TestCorruptBlockLeftOut(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	o := oracle{}
	ingest(t, db, o, 20, 0, Minute, 7*60) // 7 h: blocks [0,2h) and [2h,4h)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	bs := db.Blocks()
	if len(bs) != 2 || bs[0].MinTime != 0 || bs[1].MinTime != 2*Hour {
		t.Fatalf("blocks %v", bs)
	}
	bad := bs[0].Dir
	db.Close()
	path := filepath.Join(bad, block.IndexFilename)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x10
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir, testOpts())
	defer db.Close()
	rec := db.Recovery()
	if len(rec.CorruptBlocks) != 1 || !errors.Is(rec.CorruptBlocks[0], block.ErrCorrupt) || !strings.Contains(rec.CorruptBlocks[0].Error(), filepath.Base(bad)) {
		t.Fatalf("CorruptBlocks = %v", rec.CorruptBlocks)
	}
	if got := db.Blocks(); len(got) != 1 || got[0].MinTime != 2*Hour {
		t.Fatalf("blocks after reopen: %v", got)
	}
	if _, err := os.Stat(bad); err != nil {
		t.Fatalf("corrupt block removed: %v", err)
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(2*Hour, all, nil))
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(2*Hour, all, nil))
}

// TestWALMidLogCorruption: damage in the middle of the WAL (not a torn
// tail) makes Open repair the log: the records before the damage are
// replayed, everything after it is cut, and Recovery().WALRepaired says
// so. The head then holds exactly the first k commits for some k, which
// the test finds from the data and checks against the oracle.
func TestWALMidLogCorruption(t *testing.T) {
	dir := t.TempDir()
	opts := testOpts()
	opts.WALSegmentSize = 32 << 10
	db := openDB(t, dir, opts)
	// Fewer than 120 commits: no chunk is full, so the WAL alone holds the
	// samples (a full chunk in chunks_head would keep its samples even
	// where the WAL was cut).
	const n, commits = 200, 100
	o := oracle{}
	ingest(t, db, o, n, 0, 15000, commits)
	db.Close()
	walDir := filepath.Join(dir, WALDirname)
	ents, _ := os.ReadDir(walDir)
	var segs []string
	for _, e := range ents {
		if !e.IsDir() {
			segs = append(segs, e.Name())
		}
	}
	sort.Strings(segs)
	if len(segs) < 3 {
		t.Fatalf("only %d WAL segments", len(segs))
	}
	// Damage the middle of the second segment.
	path := filepath.Join(walDir, segs[1])
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0xff
	os.WriteFile(path, b, 0o644)

	db = openDB(t, dir, opts)
	rep := db.Recovery().WALRepaired
	if rep == nil || rep.Torn || rep.Damage == nil || len(rep.RemovedSegments) == 0 {
		t.Fatalf("WALRepaired = %+v, want a mid-log repair that removed the later segments", rep)
	}
	got := collect(t, db, math.MinInt64, all)
	k := len(got[seriesName(0).String()])
	if k == 0 || k >= commits {
		t.Fatalf("%d commits survived of %d", k, commits)
	}
	// Every series has the same first k samples (a commit is one record:
	// all or nothing).
	equalResults(t, got, o.expect(math.MinInt64, int64(k-1)*15000, nil))
	// The repaired log takes new commits and replays cleanly.
	ingest(t, db, nil, n, int64(commits)*15000, 15000, 3)
	db.Close()
	db = openDB(t, dir, opts)
	defer db.Close()
	if r := db.Recovery(); r.WALRepaired != nil || r.WALTruncated != nil {
		t.Fatalf("second open repaired again: %+v %+v", r.WALRepaired, r.WALTruncated)
	}
	if got := collect(t, db, math.MinInt64, all); len(got[seriesName(0).String()]) != k+3 {
		t.Fatalf("after the repair and 3 more commits: %d samples, want %d", len(got[seriesName(0).String()]), k+3)
	}
}

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
