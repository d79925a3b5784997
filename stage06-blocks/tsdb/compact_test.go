package tsdb

import (
	"context"
	"errors"
	"math"
	"testing"
)

// TestCompactSparseHead: a head holding hours of data and one sample a year
// later (an import of old data, then a write "now") is cut into blocks
// only where it has samples: one block per 2 h range of the old data, one
// WAL checkpoint for the whole run, and the head's MinTime is then the
// sample left, not the end of the last range cut. Flushing writes one more
// block for that sample, not one per empty range in between.
func TestCompactSparseHead(t *testing.T) {
	opts := testOpts()
	opts.FutureGrace = -1
	opts.CompactionRanges = []int64{opts.BlockRange} // no merges: the blocks are the cuts
	dir := t.TempDir()
	db := openDB(t, dir, opts)
	defer db.Close()
	o := oracle{}
	ingest(t, db, o, 3, nowMs, Minute, 5*60) // [now, now+5h): three 2 h ranges
	late := nowMs + 365*24*Hour
	if err := appendOne(db, lbls("late"), late, 1); err != nil {
		t.Fatal(err)
	}
	o.add(lbls("late"), late, 1)
	seg := db.wal.CurrentSegment()
	var written []CompactStats
	db.opts.OnBlockWritten = func(st CompactStats) { written = append(written, st) }
	rep, err := db.CompactReport(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep) != 3 {
		t.Fatalf("%d blocks written, want 3 (one per range with samples)", len(rep))
	}
	for i, st := range rep {
		lo := nowMs + int64(i)*opts.BlockRange
		if st.Meta.MinTime != lo || st.Meta.MaxTime != lo+opts.BlockRange || st.Meta.Stats.NumSamples == 0 {
			t.Fatalf("block %d: [%d, %d) with %d samples, want [%d, %d)", i, st.Meta.MinTime, st.Meta.MaxTime, st.Meta.Stats.NumSamples, lo, lo+opts.BlockRange)
		}
		if len(written) != len(rep) || written[i].Meta.ULID != st.Meta.ULID {
			t.Fatalf("OnBlockWritten reported %d blocks, CompactReport %d", len(written), len(rep))
		}
	}
	if got := db.wal.CurrentSegment() - seg; got != 1 {
		t.Fatalf("the run started %d WAL segments, want 1 (one checkpoint)", got)
	}
	if got := db.Head().MinTime(); got != late {
		t.Fatalf("head MinTime %d after the cut, want %d (the sample left)", got, late)
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))

	rep, err = db.FlushHead()
	if err != nil || len(rep) != 1 || rep[0].Meta.MinTime > late || rep[0].Meta.MaxTime <= late {
		t.Fatalf("flush: %d blocks (%v), want the one holding the late sample", len(rep), err)
	}
	if !db.Head().Empty() {
		t.Fatalf("head not empty after a flush: [%d, %d]", db.Head().MinTime(), db.Head().MaxTime())
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
}

// TestCompactInterrupted: a compaction whose context ends stops before its
// next block, returns the context's error and keeps what it wrote (the
// WAL checkpointed up to it); the next run does the rest. Nothing is lost,
// before or after a restart.
func TestCompactInterrupted(t *testing.T) {
	opts := testOpts()
	opts.CompactionRanges = []int64{opts.BlockRange}
	dir := t.TempDir()
	db := openDB(t, dir, opts)
	o := oracle{}
	ingest(t, db, o, 4, 0, Minute, 11*60) // four ranges due
	ctx, cancel := context.WithCancel(context.Background())
	db.opts.OnBlockWritten = func(CompactStats) { cancel() }
	rep, err := db.CompactReport(ctx)
	if !errors.Is(err, context.Canceled) || len(rep) != 1 {
		t.Fatalf("cancelled after the first block: %d blocks, %v", len(rep), err)
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
	db.opts.OnBlockWritten = nil
	if rep, err = db.CompactReport(context.Background()); err != nil || len(rep) != 3 {
		t.Fatalf("second run: %d blocks, %v; want the other 3", len(rep), err)
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir, opts)
	defer db.Close()
	if len(db.Blocks()) != 4 {
		t.Fatalf("%d blocks after restart, want 4", len(db.Blocks()))
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
}
