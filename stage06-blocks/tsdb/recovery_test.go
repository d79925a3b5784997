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
