package tsdb

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// coldIngest appends, one commit a scrape at 15 s from start, samples of
// shapes a cold chunk must keep bit for bit: a counter, a 3-decimal gauge
// with staleness markers, a series of special floats (NaN payloads, ±Inf,
// -0, huge and tiny), a negative one, and a series with a single sample
// in the range; into db and the oracle.
func coldIngest(t *testing.T, db *DB, o oracle, start int64, n int) {
	t.Helper()
	specials := []float64{math.Float64frombits(0x7ff0000000000002), math.NaN(), math.Float64frombits(0xfff8000000000003),
		math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.MaxFloat64, -math.SmallestNonzeroFloat64, 1<<53 + 2, 0.1 + 0.2}
	rng := rand.New(rand.NewPCG(uint64(start), 9))
	refs := make([]uint64, 6)
	for k := range n {
		ts := start + int64(k)*15_000
		app := db.Appender(nil)
		add := func(i int, l model.Labels, v float64) {
			var err error
			if refs[i], err = app.Append(refs[i], l, ts, v); err != nil {
				t.Fatalf("%s t=%d: %v", l, ts, err)
			}
			o.add(l, ts, v)
		}
		kk := ts / 15_000 // the same values whatever the start of the call
		for i := range 2 {
			add(i, lbls("ctr", "i", string(rune('a'+i))), float64(kk*kk%977+kk*50))
		}
		g := math.Round(math.Sin(float64(kk)/40)*1e3) / 1e3
		if kk%61 == 7 {
			g = math.Float64frombits(0x7ff0000000000002)
		}
		add(2, lbls("gauge"), g)
		add(3, lbls("special"), specials[int(kk)%len(specials)])
		add(4, lbls("neg"), -float64(rng.IntN(1e6))*1e9)
		if kk%(Hour/15_000) == 0 {
			add(5, lbls("rare"), float64(kk))
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// blockChunks returns, for every chunk of the block in dir, its bytes.
func blockChunks(t *testing.T, dir string) [][]byte {
	t.Helper()
	b, err := block.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var out [][]byte
	var metas []chunks.Meta
	it := b.Index().All().Iterator()
	for it.HasNext() {
		if metas, err = b.Chunks(it.Next(), metas); err != nil {
			t.Fatal(err)
		}
		for _, m := range metas {
			c, err := b.Chunk(m.Ref)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, append([]byte(nil), c...))
		}
	}
	return out
}

// checkQueries compares the DB with the oracle over the whole range and
// over ranges ending inside chunks (the decoder's edge paths and SeekTo).
func checkQueries(t *testing.T, db *DB, o oracle) {
	t.Helper()
	equalResults(t, collect(t, db, math.MinInt64, math.MaxInt64), o.expect(math.MinInt64, math.MaxInt64, nil))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		a := rng.Int64N(15 * Hour)
		b := a + rng.Int64N(4*Hour)
		equalResults(t, collect(t, db, a, b), o.expect(a, b, nil))
	}
	// SeekTo: every series, to times taken in order, each answering the
	// oracle's first sample at or after it.
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	want := o.expect(math.MinInt64, math.MaxInt64, nil)
	ss := q.Select(index.MustNewMatcher(index.MatchRegexp, model.MetricName, ".+"))
	for ss.Next() {
		w := want[ss.At().Labels().String()]
		it := ss.At().Iterator(nil)
		seek := int64(0)
		for {
			seek += rng.Int64N(Hour)
			i := 0
			for i < len(w) && w[i].T < seek {
				i++
			}
			ok := it.SeekTo(seek)
			if ok != (i < len(w)) {
				t.Fatalf("%s: SeekTo(%d) = %v", ss.At().Labels(), seek, ok)
			}
			if !ok {
				break
			}
			if gt, gv := it.At(); gt != w[i].T || math.Float64bits(gv) != math.Float64bits(w[i].V) {
				t.Fatalf("%s: SeekTo(%d) at (%d, %v), want %v", ss.At().Labels(), seek, gt, gv, w[i])
			}
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
}

// Blocks merged by compaction at ColdLevel and above hold cold chunks
// (histograms excepted) and answer every query with the very samples, bit
// for bit, that the same data answers from Gorilla blocks; the 2 h blocks
// cut from the head stay Gorilla.
func TestColdBlocks(t *testing.T) {
	coldDir := t.TempDir()
	build := func(opts Options, dir string) (*DB, oracle) {
		db := openDB(t, dir, opts)
		o := oracle{}
		coldIngest(t, db, o, 0, 7*240) // 7 h: head cuts at 0-2, 2-4 h
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
		coldIngest(t, db, o, 7*Hour, 2*240) // 4-6 h cut, window 0-6 h complete
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
		return db, o
	}
	cold, o := build(testOpts(), coldDir)
	gopts := testOpts()
	gopts.ColdLevel = -1
	gor, o2 := build(gopts, t.TempDir())
	defer gor.Close()
	if len(o) != len(o2) {
		t.Fatal("the two ingests differ")
	}

	var coldBlock, gorBlock BlockInfo
	for _, pair := range []struct {
		db   *DB
		into *BlockInfo
	}{{cold, &coldBlock}, {gor, &gorBlock}} {
		bs := pair.db.Blocks()
		if len(bs) != 1 || bs[0].Compaction.Level != 2 || bs[0].MaxTime != 6*Hour {
			t.Fatalf("blocks: %+v", bs)
		}
		*pair.into = bs[0]
	}
	nCold := 0
	for _, c := range blockChunks(t, coldBlock.Dir) {
		if chunks.IsCold(c) {
			nCold++
		}
	}
	// Six series, one cold chunk each but the rare series: its 6
	// samples are smaller as one Gorilla chunk.
	if nCold != 5 || coldBlock.Stats.NumChunks != 6 {
		t.Fatalf("cold block: %d cold chunks of %d", nCold, coldBlock.Stats.NumChunks)
	}
	for _, c := range blockChunks(t, gorBlock.Dir) {
		if chunks.IsCold(c) {
			t.Fatal("ColdLevel -1 wrote a cold chunk")
		}
	}
	if coldBlock.Stats.NumSamples != gorBlock.Stats.NumSamples {
		t.Fatalf("samples: cold %d, Gorilla %d", coldBlock.Stats.NumSamples, gorBlock.Stats.NumSamples)
	}
	if coldBlock.Size >= gorBlock.Size {
		t.Fatalf("cold block %d bytes, Gorilla %d", coldBlock.Size, gorBlock.Size)
	}
	checkQueries(t, cold, o)
	checkQueries(t, gor, o)
	equalResults(t, collect(t, cold, math.MinInt64, math.MaxInt64), collect(t, gor, math.MinInt64, math.MaxInt64))

	// A cold chunk is no stage03 chunk: AppendChunks declines, the
	// iterator answers.
	q, err := cold.Querier(0, 5*Hour)
	if err != nil {
		t.Fatal(err)
	}
	ss := q.Select(index.MustNewMatcher(index.MatchEqual, model.MetricName, "gauge"))
	if !ss.Next() {
		t.Fatal("no gauge")
	}
	if cs, ok, err := ss.At().(ChunkSeries).AppendChunks(nil); ok || err != nil || len(cs) != 0 {
		t.Fatalf("AppendChunks over a cold block: %d chunks, %v, %v", len(cs), ok, err)
	}
	q.Close()

	// Deleted samples leave a cold block when it is rewritten; it stays
	// cold.
	m := index.MustNewMatcher(index.MatchEqual, model.MetricName, "special")
	if err := cold.Delete(Hour, 2*Hour, m); err != nil {
		t.Fatal(err)
	}
	o.del(Hour, 2*Hour, func(k string) bool { return k == lbls("special").String() })
	if err := cold.Compact(); err != nil {
		t.Fatal(err)
	}
	if bs := cold.Blocks(); len(bs) != 1 || bs[0].Tombstones != 0 || bs[0].Stats.NumSamples != coldBlock.Stats.NumSamples-241 {
		t.Fatalf("after the rewrite: %+v", bs)
	}
	checkQueries(t, cold, o)

	// Cold blocks opened with cold chunks turned off: read, and a
	// rewrite keeps the chunks it copies as they are (cold) and writes
	// the series it re-encodes as Gorilla.
	if err := cold.Close(); err != nil {
		t.Fatal(err)
	}
	cold = openDB(t, coldDir, gopts)
	defer cold.Close()
	checkQueries(t, cold, o)
	if err := cold.Delete(3*Hour, 4*Hour, m); err != nil {
		t.Fatal(err)
	}
	o.del(3*Hour, 4*Hour, func(k string) bool { return k == lbls("special").String() })
	if err := cold.Compact(); err != nil {
		t.Fatal(err)
	}
	forms := map[bool]int{}
	for _, c := range blockChunks(t, cold.Blocks()[0].Dir) {
		forms[chunks.IsCold(c)]++
	}
	if forms[true] != 4 || forms[false] != 1+int(math.Ceil(float64(6*240-241-241)/SamplesPerChunk)) {
		t.Fatalf("after a Gorilla rewrite: %d cold chunks, %d Gorilla", forms[true], forms[false])
	}
	checkQueries(t, cold, o)
}

// A data directory holding both forms: Gorilla blocks merged before cold
// blocks existed (ColdLevel -1 writes exactly that format), then cold
// ones; queries read across both, before and after a restart, and merging
// the two forms gives a cold block with the same samples.
func TestColdAndGorillaBlocksTogether(t *testing.T) {
	dir := t.TempDir()
	gopts := testOpts()
	gopts.ColdLevel = -1
	db := openDB(t, dir, gopts)
	o := oracle{}
	coldIngest(t, db, o, 0, 7*240)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	coldIngest(t, db, o, 7*Hour, 2*240)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir, testOpts())
	coldIngest(t, db, o, 9*Hour, 6*240) // to 15 h: 6-12 h merged, cold
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	var forms []bool
	for _, b := range db.Blocks() {
		if b.Compaction.Level == 2 {
			cs := blockChunks(t, b.Dir)
			forms = append(forms, chunks.IsCold(cs[0]))
		}
	}
	if len(forms) != 2 || forms[0] || !forms[1] {
		t.Fatalf("level-2 blocks cold: %v, want [false true]", forms)
	}
	checkQueries(t, db, o)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir, testOpts())
	defer db.Close()
	checkQueries(t, db, o)
	all := db.Blocks()
	if _, err := db.CompactBlocks(all[0].ULID, all[1].ULID); err != nil {
		t.Fatal(err)
	}
	if bs := db.Blocks(); bs[0].Compaction.Level != 3 || !chunks.IsCold(blockChunks(t, bs[0].Dir)[0]) {
		t.Fatalf("merged: %+v", bs[0])
	}
	checkQueries(t, db, o)
}

// A series whose floats went cold and which later holds histograms is read
// by the histogram path (chunkIterator), which must decode both float forms.
func TestColdFloatsThenHistograms(t *testing.T) {
	db := openDB(t, t.TempDir(), testOpts())
	defer db.Close()
	o := oracle{}
	coldIngest(t, db, o, 0, 15*240)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	cold := false
	for _, b := range db.Blocks() {
		cold = cold || b.Compaction.Level >= 2 && chunks.IsCold(blockChunks(t, b.Dir)[0])
	}
	if !cold {
		t.Fatal("no cold block to read")
	}
	l := lbls("gauge")
	app := db.Appender(nil)
	if _, err := app.AppendHistogram(0, l, 15*Hour, testHist(0, 1), nil); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	m := index.MustNewMatcher(index.MatchEqual, model.MetricName, "gauge")
	got := collect(t, db, 0, 15*Hour, m)[l.String()] // the histogram in range: the histogram path
	if len(got) == 0 || got[len(got)-1].T != 15*Hour {
		t.Fatalf("the histogram at 15 h not read: %d samples", len(got))
	}
	want := o.expect(0, 15*Hour-1, nil)
	equalResults(t, map[string][]model.Sample{l.String(): got[:len(got)-1]}, map[string][]model.Sample{l.String(): want[l.String()]})
}
