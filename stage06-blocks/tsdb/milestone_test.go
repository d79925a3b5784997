package tsdb

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/block"
)

const all = math.MaxInt64

var model0 = model.Labels{}

// Milestone 1: the head accepts writes: appends by labels and by ref,
// batches visible only after Commit, Rollback discarding, out-of-order and
// duplicate samples refused, every committed sample back after a restart
// (WAL replay).
func TestMilestone1_HeadAcceptsWrites(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	o := oracle{}
	ingest(t, db, o, 50, 1000, 15000, 300)

	t.Run("commit-visibility", func(t *testing.T) {
		app := db.Appender(nil)
		l := lbls("pending")
		if _, err := app.Append(0, l, 10_000_000, 1); err != nil {
			t.Fatal(err)
		}
		if got := collect(t, db, math.MinInt64, all, index.MustNewMatcher(index.MatchEqual, "__name__", "pending")); len(got) != 0 {
			t.Fatalf("uncommitted sample visible: %v", got)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		o.add(l, 10_000_000, 1)
		if got := collect(t, db, math.MinInt64, all, index.MustNewMatcher(index.MatchEqual, "__name__", "pending")); len(got[l.String()]) != 1 {
			t.Fatalf("committed sample not visible: %v", got)
		}
	})
	t.Run("rollback", func(t *testing.T) {
		app := db.Appender(nil)
		if _, err := app.Append(0, seriesName(1), 20_000_000, 7); err != nil {
			t.Fatal(err)
		}
		if err := app.Rollback(); err != nil {
			t.Fatal(err)
		}
		equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
	})
	t.Run("order-and-duplicates", func(t *testing.T) {
		app := db.Appender(nil)
		last := int64(1000 + 299*15000)
		ref, err := app.Append(0, seriesName(2), last, float64(2*1000+299)+0.5)
		if err != nil {
			t.Fatalf("same sample again: %v", err)
		}
		if _, err := app.Append(ref, seriesName(2), last, 1); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("same timestamp, other value: %v, want ErrDuplicate", err)
		}
		if _, err := app.Append(ref, seriesName(2), last-1, 1); !errors.Is(err, ErrOutOfOrder) {
			t.Fatalf("older sample: %v, want ErrOutOfOrder", err)
		}
		if _, err := app.Append(12345, model0, last+1, 1); !errors.Is(err, ErrUnknownRef) {
			t.Fatalf("unknown ref without labels: %v", err)
		}
		app.Commit()
		equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir, testOpts())
	defer db.Close()
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
	// Refs survive the restart: the ref Append returns names the same series.
	app := db.Appender(nil)
	ref, err := app.Append(0, seriesName(3), 1<<40, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Append(ref, seriesName(3), 1<<40+1, 2); err != nil {
		t.Fatal(err)
	}
	app.Commit()
}

// Milestone 2: blocks persist to disk: once the head spans 1.5 block ranges
// the oldest range is written as a block directory (meta.json, index,
// chunks/, tombstones), the head is truncated and the WAL checkpointed, and
// everything reads back the same after a restart.
func TestMilestone2_BlocksPersist(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	o := oracle{}
	ingest(t, db, o, 30, 0, 30000, 361) // 0 … 3 h: spans 1.5 × 2 h
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	bs := db.Blocks()
	if len(bs) != 1 {
		t.Fatalf("%d blocks, want 1", len(bs))
	}
	m := bs[0].Meta
	if m.MinTime != 0 || m.MaxTime != 2*Hour || m.Stats.NumSeries != 30 || m.Stats.NumSamples != 30*240 || m.Compaction.Level != 1 {
		t.Fatalf("meta %+v", m)
	}
	for _, f := range []string{"meta.json", "index", "chunks/000001", "tombstones"} {
		if _, err := os.Stat(filepath.Join(dir, m.ULID.String(), f)); err != nil {
			t.Fatal(err)
		}
	}
	if db.Head().MinTime() < 2*Hour {
		t.Fatalf("head not truncated: min %d", db.Head().MinTime())
	}
	ents, _ := os.ReadDir(filepath.Join(dir, WALDirname))
	cp := false
	for _, e := range ents {
		cp = cp || strings.HasPrefix(e.Name(), "checkpoint.")
	}
	if !cp {
		t.Fatal("no WAL checkpoint after the head cut")
	}
	b, err := block.Open(filepath.Join(dir, m.ULID.String()))
	if err != nil {
		t.Fatal(err)
	}
	if b.Meta().ULID != m.ULID {
		t.Fatal("meta mismatch")
	}
	b.Close()
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
	db.Close()
	db = openDB(t, dir, testOpts())
	defer db.Close()
	if len(db.Blocks()) != 1 {
		t.Fatal("block not loaded")
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
}

// Milestone 3: queries span head + blocks: a range that covers a block and
// the head returns merged, sorted series; matchers, label names and values
// answer over both.
func TestMilestone3_QueriesSpanHeadAndBlocks(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	defer db.Close()
	o := oracle{}
	ingest(t, db, o, 30, 0, 60000, 300) // 5 h
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no block")
	}
	job0 := func(k string) bool { return strings.Contains(k, `job="j0"`) }
	for _, r := range [][2]int64{{0, all}, {Hour, 3 * Hour}, {2*Hour - 60000, 2*Hour + 60000}, {4 * Hour, 4 * Hour}} {
		q, err := db.Querier(r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		// Closed on every path, before the deferred db.Close that waits
		// for it.
		defer q.Close()
		equalResults(t, collectQ(t, q, index.MustNewMatcher(index.MatchEqual, "job", "j0")), o.expect(r[0], r[1], job0))
		st := q.(StatsQuerier).Stats()
		if r[0] < 2*Hour && r[1] >= 2*Hour && (st.Blocks == 0 || !st.Head) {
			t.Fatalf("range %v: stats %+v, want block and head", r, st)
		}
		names, _ := q.LabelNames()
		if strings.Join(names, ",") != "__name__,i,job" {
			t.Fatalf("label names %v", names)
		}
		vals, _ := q.LabelValues("job")
		if strings.Join(vals, ",") != "j0,j1,j2" {
			t.Fatalf("values %v", vals)
		}
		q.Close()
	}
}

// Milestone 4: compaction merges blocks: adjacent level-1 blocks become one
// of the next level, overlapping blocks are merged vertically, deleted
// samples leave the disk, and the data reads the same throughout.
func TestMilestone4_CompactionMergesBlocks(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	defer db.Close()
	o := oracle{}
	ingest(t, db, o, 20, 0, 60000, 60*7) // 7 h: head cuts at 0-2, 2-4 h
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	ingest(t, db, o, 20, 7*Hour, 60000, 60*2) // 9 h: 4-6 h cut, window 0-6 h complete
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	bs := db.Blocks()
	if len(bs) != 1 || bs[0].MinTime != 0 || bs[0].MaxTime != 6*Hour || bs[0].Compaction.Level != 2 || len(bs[0].Compaction.Sources) != 3 {
		t.Fatalf("blocks after compaction: %+v", bs)
	}
	equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))

	t.Run("tombstones-applied", func(t *testing.T) {
		m := index.MustNewMatcher(index.MatchEqual, "i", "3")
		if err := db.Delete(Hour, 5*Hour, m); err != nil {
			t.Fatal(err)
		}
		o.del(Hour, 5*Hour, func(k string) bool { return strings.Contains(k, `i="3"`) })
		equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
		before := db.Blocks()[0].Stats.NumSamples
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
		bs := db.Blocks()
		if len(bs) != 1 || bs[0].Tombstones != 0 || bs[0].Stats.NumSamples != before-241 {
			t.Fatalf("after compaction: %+v (before %d samples)", bs, before)
		}
		equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
	})
	t.Run("vertical", func(t *testing.T) {
		// An out-of-order-capable DB writes an overlapping block.
		dir := t.TempDir()
		opts := testOpts()
		opts.OutOfOrderWindow = 3 * Hour
		db := openDB(t, dir, opts)
		defer db.Close()
		o := oracle{}
		ingest(t, db, o, 10, 0, 60000, 60*3)
		if _, err := db.FlushHead(); err != nil {
			t.Fatal(err)
		}
		// Old samples between the existing ones, now before the head's
		// lower bound: the head refuses them, so write them through a
		// fresh DB dir's block and move it in, as a backfill would.
		dir2 := t.TempDir()
		db2 := openDB(t, dir2, testOpts())
		app := db2.Appender(nil)
		for i := range 10 {
			for k := 0; k < 60*3; k += 7 {
				ts := int64(k)*60000 + 30000
				app.Append(0, seriesName(i), ts, -float64(k))
				o.add(seriesName(i), ts, -float64(k))
			}
		}
		app.Commit()
		db2.FlushHead()
		for _, b := range db2.Blocks() {
			if err := os.Rename(b.Dir, filepath.Join(dir, filepath.Base(b.Dir))); err != nil {
				t.Fatal(err)
			}
		}
		db2.Close()
		db.Close()
		db = openDB(t, dir, opts)
		defer db.Close()
		equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
		for i, b := range db.Blocks() {
			for _, c := range db.Blocks()[i+1:] {
				if b.MaxTime > c.MinTime {
					t.Fatalf("blocks still overlap: %v", db.Blocks())
				}
			}
		}
		equalResults(t, collect(t, db, math.MinInt64, all), o.expect(math.MinInt64, all, nil))
	})
}
