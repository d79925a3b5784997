package tsdb

import (
	"bytes"
	"math"
	"path/filepath"
	"testing"

	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// checkChunkMetas checks every float chunk of the block in dir against its
// index entry: a series' chunks in order and not overlapping, each inside
// the block, its first and last timestamps and sample count the entry's.
// Queries would not notice a wrong entry (they merge overlapping chunks
// and read the samples themselves); compaction and remote read trust it.
func checkChunkMetas(t *testing.T, dir string) {
	t.Helper()
	b, err := block.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	meta := b.Meta()
	var metas []chunks.Meta
	var ts []int64
	var vs []float64
	it := b.Index().All().Iterator()
	for it.HasNext() {
		id := it.Next()
		if metas, err = b.Chunks(id, metas); err != nil {
			t.Fatal(err)
		}
		for i, m := range metas {
			if i > 0 && m.MinT <= metas[i-1].MaxT {
				t.Fatalf("series %d: chunk %d [%d, %d] overlaps the one before [%d, %d]", id, i, m.MinT, m.MaxT, metas[i-1].MinT, metas[i-1].MaxT)
			}
			if m.MinT < meta.MinTime || m.MaxT >= meta.MaxTime {
				t.Fatalf("series %d: chunk [%d, %d] outside the block [%d, %d)", id, m.MinT, m.MaxT, meta.MinTime, meta.MaxTime)
			}
			c, err := b.Chunk(m.Ref)
			if err != nil {
				t.Fatal(err)
			}
			if chunks.EncodingOf(c) != chunks.EncFloat {
				continue
			}
			if ts, vs, err = decodeFloatAll(c, ts[:0], vs[:0], nil); err != nil {
				t.Fatal(err)
			}
			if len(ts) == 0 || ts[0] != m.MinT || ts[len(ts)-1] != m.MaxT || numFloatSamples(c) != len(ts) {
				t.Fatalf("series %d: chunk [%d, %d] holds %d samples from %v", id, m.MinT, m.MaxT, len(ts), ts[:min(len(ts), 1)])
			}
		}
	}
}

// coldLevels ingests 20 h at 15 s (coldIngest's series) with a compaction
// every hour of data, so that the 6 h windows are merged into cold blocks
// (level 2) and then 0-18 h into one (level 3). It returns the DB, the
// oracle, and the chunks of every level-2 block compaction wrote.
func coldLevels(t *testing.T, opts Options) (*DB, oracle, [][]byte) {
	t.Helper()
	dir := t.TempDir()
	var parents [][]byte // every level-2 block's chunks, read when written
	opts.OnBlockWritten = func(st CompactStats) {
		if st.Meta.Compaction.Level == 2 {
			parents = append(parents, blockChunks(t, filepath.Join(dir, st.Meta.ULID.String()))...)
		}
	}
	db := openDB(t, dir, opts)
	o := oracle{}
	for h := range int64(20) {
		coldIngest(t, db, o, h*Hour, 240)
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	return db, o, parents
}

// A merge of cold blocks that do not overlap copies each series' cold
// chunks as they are (no sample is encoded again), joins the chunks too
// small to keep (coldJoinSmall) and the Gorilla ones into cold runs, and
// answers every query bit for bit as the Gorilla blocks of the same data.
func TestColdCopy(t *testing.T) {
	db, o, parents := coldLevels(t, testOpts())
	defer db.Close()
	bs := db.Blocks()
	if bs[0].Compaction.Level != 3 || bs[0].MinTime != 0 || bs[0].MaxTime != 18*Hour {
		t.Fatalf("first block: %+v", bs[0])
	}
	got := blockChunks(t, bs[0].Dir)
	copied, coldParents := 0, 0
	for _, p := range parents {
		if chunks.IsCold(p) {
			coldParents++
		}
	}
	for _, c := range got {
		if !chunks.IsCold(c) {
			continue
		}
		n, err := chunks.ColdNumSamples(c)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range parents {
			if bytes.Equal(p, c) {
				found = true
				break
			}
		}
		switch {
		case found:
			copied++
		case n < 3*coldJoinSmall:
			t.Fatalf("a cold chunk of %d samples that no parent holds", n)
		}
	}
	// Five series of 1,440 samples per 6 h block: 15 cold chunks copied;
	// the rare series' three 6-sample Gorilla chunks are joined.
	if copied != 15 || coldParents != 15 || len(got) != 16 {
		t.Fatalf("level-3 block: %d chunks, %d copied of the parents' %d cold ones", len(got), copied, coldParents)
	}
	checkChunkMetas(t, bs[0].Dir)
	checkQueries(t, db, o)

	// One goroutine writes the same chunks (copied, joined, encoded).
	oldW := coldWorkers
	coldWorkers = func() int { return 1 }
	seq, _, _ := coldLevels(t, testOpts())
	coldWorkers = oldW
	defer seq.Close()
	one := blockChunks(t, seq.Blocks()[0].Dir)
	if len(one) != len(got) {
		t.Fatalf("one goroutine: %d chunks, %d", len(one), len(got))
	}
	for i := range one {
		if !bytes.Equal(one[i], got[i]) {
			t.Fatalf("chunk %d differs with one goroutine", i)
		}
	}

	gopts := testOpts()
	gopts.ColdLevel = -1
	gor, o2, _ := coldLevels(t, gopts)
	defer gor.Close()
	if len(o) != len(o2) {
		t.Fatal("the two ingests differ")
	}
	equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), collect(t, gor, math.MinInt64, math.MaxInt64))
}

// A merge into a block of the top level (one that no plan merges again)
// joins the cold chunks under coldJoinTop: with 18 h the top, one chunk
// per series (4,320 samples), the same samples.
func TestColdCopyJoinsAtTheTop(t *testing.T) {
	opts := testOpts()
	opts.CompactionRanges = []int64{2 * Hour, 6 * Hour, 18 * Hour}
	db, o, _ := coldLevels(t, opts)
	defer db.Close()
	bs := db.Blocks()
	if bs[0].Compaction.Level != 3 || bs[0].MaxTime != 18*Hour {
		t.Fatalf("first block: %+v", bs[0])
	}
	cs := blockChunks(t, bs[0].Dir)
	checkChunkMetas(t, bs[0].Dir)
	if len(cs) != 6 {
		t.Fatalf("level-3 block: %d chunks, want one a series", len(cs))
	}
	for i, c := range cs { // label order: ctr a, ctr b, gauge, neg, rare, special
		n, err := chunks.ColdNumSamples(c)
		if want := 18 * 240; i != 4 && (err != nil || n != want) {
			t.Fatalf("chunk %d: %d samples (%v), want %d", i, n, err, want)
		}
	}
	checkQueries(t, db, o)
}

// Cold parents that overlap (samples older than the head's lower bound
// land in a block of their own over a cold block) are merged sample by
// sample, not copied: every sample once, in order, bit for bit.
func TestColdCopyOverlapMerged(t *testing.T) {
	opts := testOpts()
	opts.OutOfOrderWindow = 1000 * Hour
	db, o, _ := coldLevels(t, opts)
	defer db.Close()
	// Past samples between the scrapes of 2-3 h (in the cold block's
	// range) and 19 h (the head's).
	app := db.Appender(nil)
	for _, ts := range []int64{2*Hour + 7_500, 2*Hour + 600_000 + 7_500, 3*Hour - 7_500, 19*Hour + 7_500} {
		l := lbls("gauge")
		if _, err := app.Append(0, l, ts, float64(ts)/1000); err != nil {
			t.Fatal(err)
		}
		o.add(l, ts, float64(ts)/1000)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	for i, b := range db.Blocks() {
		if i > 0 && b.MinTime < db.Blocks()[i-1].MaxTime {
			t.Fatalf("blocks still overlap: %+v", db.Blocks())
		}
	}
	first := db.Blocks()[0]
	if first.MinTime != 0 || first.Compaction.Level < 4 {
		t.Fatalf("the overlap was not merged: %+v", first)
	}
	checkChunkMetas(t, first.Dir)
	for _, c := range blockChunks(t, first.Dir) {
		if chunks.IsCold(c) {
			if n, _ := chunks.ColdNumSamples(c); n > chunks.ColdChunkSamples {
				t.Fatalf("a cold chunk of %d samples", n)
			}
		}
	}
	checkQueries(t, db, o)
}
