package tsdb

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/block"
)

// TestColdParallelDeterministic: a merge into a cold block encodes its
// series on several goroutines in batches (coldBatches); the block's
// chunk segments and index are byte for byte those that one goroutine
// writes, whatever the number of workers, and hold every sample.
func TestColdParallelDeterministic(t *testing.T) {
	const series, steps = 700, 3 * 120 // more than two batches; three 2 h blocks at 60 s
	src := t.TempDir()
	opts := testOpts()
	opts.CompactionRanges = []int64{DefaultBlockRange}
	db := openDB(t, src, opts)
	refs := make([]uint64, series)
	for k := range steps {
		app := db.Appender(nil)
		for i := range series {
			l := model.MustFromStrings(model.MetricName, "m", "i", fmt.Sprint(i))
			v := float64(k * (i % 13))
			if i%5 == 0 {
				v = float64(k) / 7 // not decimal: exceptions
			}
			var err error
			if i%97 == 0 && k%3 == 0 {
				continue // a sparse series
			}
			if refs[i], err = app.Append(refs[i], l, int64(k)*Minute, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.FlushHead(); err != nil {
		t.Fatal(err)
	}
	if n := len(db.Blocks()); n != 3 {
		t.Fatalf("%d blocks", n)
	}
	db.Close()

	merge := func(workers int) (map[string][]byte, uint64) {
		t.Helper()
		old := coldWorkers
		coldWorkers = func() int { return workers }
		defer func() { coldWorkers = old }()
		dir := filepath.Join(t.TempDir(), "db")
		if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
		db := openDB(t, dir, opts)
		defer db.Close()
		bs := db.Blocks()
		st, err := db.CompactBlocks(bs[0].ULID, bs[1].ULID, bs[2].ULID)
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		bdir := filepath.Join(dir, st.Meta.ULID.String())
		err = filepath.WalkDir(bdir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() == block.MetaFilename {
				return err
			}
			b, err := os.ReadFile(p)
			files[p[len(bdir):]] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return files, st.Meta.Stats.NumSamples
	}
	want, n := merge(1)
	if wantN := uint64(series*steps - (steps/3)*len([]int{0, 97, 194, 291, 388, 485, 582, 679})); n != wantN {
		t.Fatalf("merged block holds %d samples, want %d", n, wantN)
	}
	for _, workers := range []int{2, 3, 8} {
		got, _ := merge(workers)
		if len(got) != len(want) || len(want) < 2 {
			t.Fatalf("%d workers: %d files, sequential %d", workers, len(got), len(want))
		}
		for name, b := range want {
			if !bytes.Equal(got[name], b) {
				t.Fatalf("%d workers: %s differs from the sequential merge's", workers, name)
			}
		}
	}
}

// TestCompactionWorkersOption: Options.CompactionWorkers sets how many
// goroutines encode a merge (the default, coldWorkers, is not asked), and
// the default is bounded by the cores even when a program runs more Ps
// than that.
func TestCompactionWorkersOption(t *testing.T) {
	if got, max := coldWorkers(), runtime.NumCPU(); got < 1 || got > max {
		t.Fatalf("default workers %d, want 1…%d (the cores)", got, max)
	}
	old := coldWorkers
	defer func() { coldWorkers = old }()
	for _, set := range []int{0, 1, 3} {
		asked := 0
		coldWorkers = func() int { asked++; return 2 }
		opts := testOpts()
		opts.CompactionRanges = []int64{DefaultBlockRange}
		opts.CompactionWorkers = set
		db := openDB(t, t.TempDir(), opts)
		for b := range 3 { // three 2 h blocks, merged into one cold block
			app := db.Appender(nil)
			for i := range 20 {
				l := model.MustFromStrings(model.MetricName, "m", "i", fmt.Sprint(i))
				if _, err := app.Append(0, l, int64(b)*DefaultBlockRange+int64(i)*Minute, float64(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			if _, err := db.FlushHead(); err != nil {
				t.Fatal(err)
			}
		}
		bs := db.Blocks()
		if _, err := db.CompactBlocks(bs[0].ULID, bs[1].ULID, bs[2].ULID); err != nil {
			t.Fatal(err)
		}
		if got := db.opts.compactionWorkers(); set > 0 && got != set {
			t.Errorf("CompactionWorkers %d: the DB uses %d", set, got)
		}
		if want := set == 0; (asked > 0) != want {
			t.Errorf("CompactionWorkers %d: the default was asked %d times", set, asked)
		}
		db.Close()
	}
}
