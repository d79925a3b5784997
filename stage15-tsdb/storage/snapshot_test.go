package storage

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// TestSnapshotLinks: a snapshot hard-links every block file, the
// checkpoint and the closed WAL segments (the same inode: no new space),
// copies only the segment being written, and opens as a data directory
// with every sample.
func TestSnapshotLinks(t *testing.T) {
	dir := t.TempDir()
	db, err := tsdb.Open(dir, tsdb.Options{NoBackgroundCompaction: true, WALSegmentSize: 4 << 10}) // dense samples records: ~40 bytes a commit
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// 20 series every 15 s for 5 h (a block of the first 2 h, a checkpoint),
	// then 1 h 40 m more (segments after the checkpoint).
	total := 0
	write := func(from, to int) {
		for i := from; i < to; i++ {
			app := db.Appender(context.Background())
			for s := range 20 {
				if _, err := app.Append(0, model.MustFromStrings("__name__", "m", "s", string(rune('a'+s))), int64(i)*15_000, float64(i)); err != nil {
					t.Fatal(err)
				}
				total++
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, 1200)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	write(1200, 1600) // after the checkpoint: more closed segments
	if len(db.Blocks()) == 0 {
		t.Fatal("no block to link")
	}
	name, err := Snapshot(db, true)
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, SnapshotDirname, name)
	// Block files: the same files.
	for _, b := range db.Blocks() {
		err := filepath.WalkDir(b.Dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			if !sameFile(t, p, filepath.Join(snap, rel)) {
				t.Errorf("%s is not hard-linked", rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// WAL: closed segments and checkpoints linked, the last segment copied.
	walDir := filepath.Join(dir, tsdb.WALDirname)
	_, last, ok, err := wal.Segments(walDir)
	if err != nil || !ok {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(walDir)
	linked := 0
	for _, e := range entries {
		src, dst := filepath.Join(walDir, e.Name()), filepath.Join(snap, tsdb.WALDirname, e.Name())
		if e.Name() == wal.SegmentName(last) {
			a, _ := os.ReadFile(src)
			b, _ := os.ReadFile(dst)
			if sameFile(t, src, dst) || !bytes.Equal(a, b) {
				t.Errorf("the open segment %s must be a copy with the same bytes", e.Name())
			}
			continue
		}
		if !sameFile(t, src, dst) {
			t.Errorf("WAL file %s is not hard-linked", e.Name())
		}
		linked++
	}
	if linked < 2 {
		t.Fatalf("only %d WAL files to link: the test needs closed segments", linked)
	}
	// The snapshot is a data directory with all the samples.
	sdb, err := tsdb.Open(snap, tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	if n := countSamples(t, sdb); n != total {
		t.Errorf("snapshot holds %d samples, want %d", n, total)
	}
	// Listed, then deleted; the data directory keeps its files.
	list, err := ListSnapshots(dir)
	if err != nil || len(list) != 1 || list[0].Name != name || !list[0].WithWAL || list[0].Blocks != len(db.Blocks()) {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := DeleteSnapshot(dir, name); err != nil {
		t.Fatal(err)
	}
	if n := countSamples(t, db); n != total {
		t.Errorf("after deleting the snapshot the DB holds %d samples, want %d", n, total)
	}
	for _, bad := range []string{name, "..", "../wal", "x", "20240101T000000Z-zzzzzzzzzzzzzzzz"} {
		if err := DeleteSnapshot(dir, bad); !errors.Is(err, ErrNoSnapshot) {
			t.Errorf("delete %q: %v, want ErrNoSnapshot", bad, err)
		}
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(fa, fb)
}

func countSamples(t *testing.T, db *tsdb.DB) int {
	t.Helper()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	n := 0
	ss := q.Select()
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() {
			n++
		}
	}
	return n
}
