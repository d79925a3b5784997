package tsdb

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// testHist is the k-th histogram of a counter series: counts growing with
// k, a bucket added at k = 40 (the layout widens: the chunk takes it), the
// schema lowered at k = 70 and the counts restarted at k = 100 (either
// cuts the chunk).
func testHist(i, k int) *histogram.Histogram {
	c := uint64(k%100 + 1)
	h := &histogram.Histogram{
		Schema:        1,
		ZeroThreshold: 0.001,
		ZeroCount:     c,
		Sum:           float64(k%100)*1.5 + float64(i),
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}},
		// absolute counts c, 2c: deltas c, c
		PositiveBuckets: []int64{int64(c), int64(c)},
		NegativeSpans:   []histogram.Span{{Offset: 1, Length: 1}},
		NegativeBuckets: []int64{int64(i + 1)},
	}
	if k%100 >= 40 {
		h.PositiveSpans = []histogram.Span{{Offset: 0, Length: 2}, {Offset: 3, Length: 1}}
		h.PositiveBuckets = []int64{int64(c), int64(c), -int64(c)} // c, 2c, c
	}
	if k >= 70 {
		h.Schema = 0
	}
	var n uint64
	for _, side := range [][]int64{h.PositiveBuckets, h.NegativeBuckets} {
		var v int64
		for _, d := range side {
			v += d
			n += uint64(v)
		}
	}
	h.Count = n + h.ZeroCount
	return h
}

// histOracle is what the DB should hold: samples of any kind, by series.
type histOracle map[string][]hsample

func (o histOracle) add(l model.Labels, s hsample) { o[l.String()] = append(o[l.String()], s) }

// collectHist reads every series in [mint, maxt] through the
// HistogramIterator interface.
func collectHist(t testing.TB, db *DB, mint, maxt int64, ms ...*index.Matcher) histOracle {
	t.Helper()
	q, err := db.Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if len(ms) == 0 {
		ms = []*index.Matcher{index.MustNewMatcher(index.MatchRegexp, model.MetricName, ".+")}
	}
	out := histOracle{}
	ss := q.Select(ms...)
	var it Iterator
	for ss.Next() {
		s := ss.At()
		it = s.Iterator(it)
		hi, ok := it.(HistogramIterator)
		if !ok {
			t.Fatalf("%T is not a HistogramIterator", it)
		}
		var got []hsample
		for hi.Next() {
			switch hi.Type() {
			case ValFloat:
				ts, v := hi.At()
				got = append(got, hsample{t: ts, v: v})
			case ValHistogram:
				ts, h := hi.AtHistogram(nil)
				ts2, fh := hi.AtFloatHistogram(nil)
				if ts2 != ts || !sameSample(&hsample{fh: fh}, &hsample{fh: h.ToFloat()}) {
					t.Fatalf("AtFloatHistogram of an integer histogram: %v, want %v", fh, h.ToFloat())
				}
				got = append(got, hsample{t: ts, h: h})
			case ValFloatHistogram:
				ts, fh := hi.AtFloatHistogram(nil)
				if _, h := hi.AtHistogram(nil); h != nil {
					t.Fatal("AtHistogram of a float histogram is not nil")
				}
				got = append(got, hsample{t: ts, fh: fh})
			default:
				t.Fatalf("Type %v after Next", hi.Type())
			}
		}
		if err := hi.Err(); err != nil {
			t.Fatal(err)
		}
		out[s.Labels().String()] = got
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func equalHist(t testing.TB, what string, got, want histOracle) {
	t.Helper()
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Fatalf("%s: %s: %d samples, want %d", what, k, len(g), len(w))
		}
		for i := range w {
			if g[i].t != w[i].t || !sameSample(&g[i], &w[i]) {
				t.Fatalf("%s: %s sample %d: got t=%d %s %v %v %v, want t=%d %s %v %v %v", what, k, i,
					g[i].t, g[i].typ(), g[i].v, g[i].h, g[i].fh, w[i].t, w[i].typ(), w[i].v, w[i].h, w[i].fh)
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Fatalf("%s: unexpected series %s", what, k)
		}
	}
}

// ingestHist writes, one commit per 15 s scrape, four series: floats only,
// integer histograms, float histograms, and one that changes kind (floats,
// then integer histograms, then float histograms, then floats again).
func ingestHist(t testing.TB, db *DB, o histOracle, from, n int) {
	t.Helper()
	const step = 15_000
	refs := make([]uint64, 4)
	for k := from; k < from+n; k++ {
		ts := int64(k) * step
		app := db.Appender(nil)
		add := func(i int, l model.Labels, s hsample) {
			var err error
			if s.h == nil && s.fh == nil {
				refs[i], err = app.Append(refs[i], l, ts, s.v)
			} else {
				refs[i], err = app.AppendHistogram(refs[i], l, ts, s.h, s.fh)
			}
			if err != nil {
				t.Fatalf("series %d t=%d: %v", i, ts, err)
			}
			o.add(l, s)
		}
		add(0, lbls("floats"), hsample{t: ts, v: float64(k) + 0.5})
		add(1, lbls("hist"), hsample{t: ts, h: testHist(1, k)})
		add(2, lbls("fhist"), hsample{t: ts, fh: testHist(2, k).ToFloat()})
		switch m := lbls("mixed"); {
		case k%300 < 90:
			add(3, m, hsample{t: ts, v: float64(-k)})
		case k%300 < 170:
			add(3, m, hsample{t: ts, h: testHist(3, k)})
		case k%300 < 250:
			add(3, m, hsample{t: ts, fh: testHist(3, k).ToFloat()})
		default:
			add(3, m, hsample{t: ts, v: float64(k)})
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// Histogram samples round-trip through every layer, with float and
// histogram series side by side and a series changing kinds: the head
// (open and full chunks), a restart (WAL replay with its histogram
// records, head chunks re-mapped), blocks cut from the head, compaction of
// blocks, and the querier over all of it.
func TestHistogramRoundTrip(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	want := histOracle{}
	// 4 h 50 min: the series changing kinds ends with floats after float
	// histograms, so its histogram chunks are all in the head-chunks file
	// (whose records must say they hold histograms).
	ingestHist(t, db, want, 0, 1160)
	all := func(what string) {
		t.Helper()
		equalHist(t, what, collectHist(t, db, math.MinInt64, math.MaxInt64), want)
	}
	all("head")
	if st := db.Head().Stats(); st.MappedChunks == 0 || st.OpenHistogramChunks != 2 {
		t.Fatalf("head stats %+v: want mapped chunks and 2 open histogram chunks", st)
	}
	db.Close()

	db = openDB(t, dir, testOpts())
	if r := db.Recovery(); r.HeadChunks == 0 || r.SamplesLoaded == 0 {
		t.Fatalf("recovery %+v: want head chunks re-mapped and WAL samples loaded", r)
	}
	all("after restart")
	ingestHist(t, db, want, 1160, 500) // appends go on after the replay
	all("appended after restart")

	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no block cut")
	}
	all("blocks and head")
	if _, err := db.FlushHead(); err != nil {
		t.Fatal(err)
	}
	all("blocks only")
	// A range inside the data, through the querier's range limits.
	sub := histOracle{}
	for k, ss := range want {
		for _, s := range ss {
			if s.t >= 3_000_000 && s.t <= 9_000_000 {
				sub[k] = append(sub[k], s)
			}
		}
	}
	equalHist(t, "sub-range", collectHist(t, db, 3_000_000, 9_000_000), sub)

	bs := db.Blocks()
	if len(bs) < 2 {
		t.Fatalf("%d blocks, want several to merge", len(bs))
	}
	if _, err := db.CompactBlocks(bs[0].ULID, bs[1].ULID); err != nil {
		t.Fatal(err)
	}
	all("after merging blocks")

	// Deleting a range of the series that changes kinds, across its
	// kind changes, makes compaction decode and re-encode its chunks.
	const dmin, dmax = 80 * 15_000, 260 * 15_000
	if err := db.Delete(dmin, dmax, index.MustNewMatcher(index.MatchEqual, model.MetricName, "mixed")); err != nil {
		t.Fatal(err)
	}
	m := lbls("mixed").String()
	want[m] = slices.DeleteFunc(want[m], func(s hsample) bool { return s.t >= dmin && s.t <= dmax })
	all("deleted")
	for len(db.plan()) > 0 {
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	all("deleted, compacted")
	db.Close()
	db = openDB(t, dir, testOpts())
	defer db.Close()
	all("blocks reopened")
}

// Prometheus's rule: a series holds one sample per timestamp. A histogram
// and a float at the same time, or two different histograms, are
// ErrDuplicate, in the batch, against the head, and at Commit when another
// appender got there first; the same histogram again is stored once.
func TestHistogramDuplicates(t *testing.T) {
	db := openDB(t, t.TempDir(), testOpts())
	defer db.Close()
	l := lbls("d")
	h1, h2 := testHist(0, 1), testHist(0, 2)

	app := db.Appender(nil)
	if _, err := app.AppendHistogram(0, l, 1000, h1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Append(0, l, 1000, 1); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("float after a histogram in the batch: %v", err)
	}
	if _, err := app.AppendHistogram(0, l, 1000, h2, nil); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("another histogram in the batch: %v", err)
	}
	if _, err := app.AppendHistogram(0, l, 1000, nil, h1.ToFloat()); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("float histogram after an integer one in the batch: %v", err)
	}
	if _, err := app.AppendHistogram(0, l, 1000, h1.Copy(), nil); err != nil {
		t.Fatalf("the same histogram in the batch: %v", err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}

	app = db.Appender(nil)
	if _, err := app.Append(0, l, 1000, 1); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("float on a stored histogram: %v", err)
	}
	if _, err := app.AppendHistogram(0, l, 1000, h2, nil); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("another histogram on a stored one: %v", err)
	}
	if _, err := app.AppendHistogram(0, l, 1000, h1.Copy(), nil); err != nil {
		t.Fatalf("the stored histogram again: %v", err)
	}
	if _, err := app.AppendHistogram(0, l, 999, h1, nil); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("older histogram: %v", err)
	}
	if _, err := app.Append(0, l, 2000, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := app.AppendHistogram(0, l, 2000, h2, nil); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("histogram after a float in the batch: %v", err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	app = db.Appender(nil)
	if _, err := app.AppendHistogram(0, l, 2000, h2, nil); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("histogram on a stored float: %v", err)
	}
	if _, err := app.Append(0, l, 2000, 5); err != nil {
		t.Fatalf("the stored float again: %v", err)
	}
	app.Rollback()

	// Two appenders claim t=3000: the first to commit wins, the other's
	// sample of another kind is refused at Commit.
	a1, a2 := db.Appender(nil), db.Appender(nil)
	if _, err := a1.AppendHistogram(0, l, 3000, h2, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a2.Append(0, l, 3000, 7); err != nil {
		t.Fatal(err)
	}
	if err := a1.Commit(); err != nil {
		t.Fatal(err)
	}
	var ce *CommitError
	if err := a2.Commit(); !errors.As(err, &ce) || ce.Duplicate != 1 || !errors.Is(err, ErrDuplicate) {
		t.Fatalf("float committed after a histogram at the same time: %v", err)
	}

	// Invalid input.
	app = db.Appender(nil)
	defer app.Rollback()
	bad := &histogram.Histogram{Count: 1, PositiveSpans: []histogram.Span{{Length: 2}}, PositiveBuckets: []int64{1}}
	for _, c := range []struct {
		h  *histogram.Histogram
		fh *histogram.FloatHistogram
	}{{nil, nil}, {h1, h1.ToFloat()}, {bad, nil}} {
		if _, err := app.AppendHistogram(0, l, 5000, c.h, c.fh); !errors.Is(err, histogram.ErrInvalid) {
			t.Fatalf("AppendHistogram(%v, %v): %v, want ErrInvalid", c.h, c.fh, err)
		}
	}
	want := histOracle{}
	want.add(l, hsample{t: 1000, h: h1})
	want.add(l, hsample{t: 2000, v: 5})
	want.add(l, hsample{t: 3000, h: h2})
	equalHist(t, "stored", collectHist(t, db, math.MinInt64, math.MaxInt64), want)
}

// headChunkStarts lists the first timestamps of a head series' chunks
// (in the head-chunks files and the open one).
func headChunkStarts(t *testing.T, db *DB, l model.Labels) (starts []int64, encs []chunks.Encoding) {
	t.Helper()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ms := []*index.Matcher{index.MustNewMatcher(index.MatchEqual, model.MetricName, l.Get(model.MetricName))}
	ss := q.Select(ms...)
	for ss.Next() {
		for _, c := range ss.At().(*series).e.chunks {
			starts = append(starts, c.minT)
			encs = append(encs, c.ref.Encoding())
		}
	}
	return starts, encs
}

// A histogram whose schema differs from its chunk's, or whose counts went
// down (a counter reset), starts a new chunk; one that only adds a bucket
// does not (the chunk is recoded to the wider layout, as Prometheus does).
// A chunk cut by a counter reset starts with the CounterReset hint. A
// change of kind (float, integer or float histogram) cuts too.
func TestHistogramLayoutCutsChunk(t *testing.T) {
	db := openDB(t, t.TempDir(), testOpts())
	defer db.Close()
	l := lbls("layout")
	const step = 1000
	var ref uint64
	var want []hsample
	for k := range 130 { // testHist: bucket added at 40, schema change at 70, reset at 100
		app := db.Appender(nil)
		var err error
		if k >= 120 {
			ref, err = app.AppendHistogram(ref, l, int64(k)*step, nil, testHist(0, k).ToFloat())
			want = append(want, hsample{t: int64(k) * step, fh: testHist(0, k).ToFloat()})
		} else {
			ref, err = app.AppendHistogram(ref, l, int64(k)*step, testHist(0, k), nil)
			want = append(want, hsample{t: int64(k) * step, h: testHist(0, k)})
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	app := db.Appender(nil)
	if _, err := app.Append(ref, model.Labels{}, 130*step, 1); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	want = append(want, hsample{t: 130 * step, v: 1})

	starts, encs := headChunkStarts(t, db, l)
	wantStarts := []int64{0, 70 * step, 100 * step, 120 * step, 130 * step}
	wantEncs := []chunks.Encoding{chunks.EncHistogram, chunks.EncHistogram, chunks.EncHistogram, chunks.EncFloatHistogram, chunks.EncFloat}
	if !slices.Equal(starts, wantStarts) || !slices.Equal(encs, wantEncs) {
		t.Fatalf("chunks start at %v %v, want %v %v", starts, encs, wantStarts, wantEncs)
	}
	got := collectHist(t, db, math.MinInt64, math.MaxInt64)[l.String()]
	if h := got[100].h; h == nil || h.CounterResetHint != histogram.CounterReset {
		t.Fatalf("sample after the reset: %+v, want the CounterReset hint", got[100])
	}
	want[100].h.CounterResetHint = histogram.CounterReset // sameSample ignores it; checked above
	equalHist(t, "layout", histOracle{l.String(): got}, histOracle{l.String(): want})

	// Compaction re-encoding the series (a deleted sample makes it decode
	// and encode its chunks) cuts at the same places and keeps the hint.
	if _, err := db.FlushHead(); err != nil {
		t.Fatal(err)
	}
	if err := db.Delete(5*step, 5*step, index.MustNewMatcher(index.MatchEqual, model.MetricName, "layout")); err != nil {
		t.Fatal(err)
	}
	for len(db.plan()) > 0 {
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	want = slices.Delete(want, 5, 6)
	got = collectHist(t, db, math.MinInt64, math.MaxInt64)[l.String()]
	equalHist(t, "layout, re-encoded", histOracle{l.String(): got}, histOracle{l.String(): want})
	if h := got[99].h; h == nil || h.CounterResetHint != histogram.CounterReset {
		t.Fatalf("sample after the reset, re-encoded: %+v, want the CounterReset hint", got[99])
	}
}

// Out-of-order histograms within the window are kept apart and merged on
// read, survive a restart, and are written to blocks, including those
// older than the head's lower bound (the past store).
func TestHistogramOutOfOrder(t *testing.T) {
	dir := t.TempDir()
	opts := testOpts()
	opts.OutOfOrderWindow = 10 * Hour
	db := openDB(t, dir, opts)
	want := histOracle{}
	l := lbls("ooo")
	app1 := func(ts int64, k int) {
		t.Helper()
		app := db.Appender(nil)
		h := testHist(5, k)
		if _, err := app.AppendHistogram(0, l, ts, h, nil); err != nil {
			t.Fatalf("t=%d: %v", ts, err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		want.add(l, hsample{t: ts, h: h})
	}
	// In order at even minutes, then the odd minutes backwards.
	for k := 0; k < 300; k += 2 {
		app1(int64(k)*Minute, k)
	}
	for k := 299; k >= 1; k -= 2 {
		app1(int64(k)*Minute, k)
	}
	sortOracle(want)
	check := func(what string) {
		t.Helper()
		equalHist(t, what, collectHist(t, db, math.MinInt64, math.MaxInt64), want)
	}
	check("head")
	if db.Head().Stats().OOOAccepted != 149 { // 299 was in order
		t.Fatalf("head stats %+v", db.Head().Stats())
	}
	db.Close()
	db = openDB(t, dir, opts)
	check("after restart")
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	check("after compaction")
	// Older than the newest block's end: the past store, then a block.
	minValid := db.head.minValid.Load()
	if minValid <= 0 {
		t.Fatal("no block cut")
	}
	for ts := int64(30_000); ts < minValid; ts += Hour {
		app1(ts, int(ts/Minute))
	}
	sortOracle(want)
	check("past samples in the head")
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	check("past samples in blocks")
	if _, err := db.FlushHead(); err != nil {
		t.Fatal(err)
	}
	for len(db.plan()) > 0 {
		if err := db.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	check("all in blocks")
	db.Close()
}

func sortOracle(o histOracle) {
	for k, ss := range o {
		slices.SortStableFunc(ss, func(a, b hsample) int { return cmp.Compare(a.t, b.t) })
		o[k] = ss
	}
}

// The stored form of each encoding: the marker byte, found again from
// the bytes and from the ref the files give back.
func TestHistogramChunkMarker(t *testing.T) {
	for _, c := range []struct {
		s   hsample
		enc chunks.Encoding
	}{{hsample{h: testHist(0, 0)}, chunks.EncHistogram}, {hsample{fh: testHist(0, 0).ToFloat()}, chunks.EncFloatHistogram}} {
		w := newHistWriter(c.enc)
		if err := w.append(c.s); err != nil {
			t.Fatal(err)
		}
		b := w.bytes()
		if b[0] != byte(c.enc)<<6 || chunks.EncodingOf(b) != c.enc {
			t.Fatalf("%s chunk starts % x", c.enc, b[:2])
		}
		got, err := decodeAny(b, nil, nil)
		if err != nil || len(got) != 1 || !sameSample(&got[0], &c.s) {
			t.Fatalf("%s: decoded %v, %v", c.enc, got, err)
		}
	}
}

func ExampleHistogramIterator() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	db, _ := Open(dir, Options{NoBackgroundCompaction: true, FutureGrace: -1})
	defer db.Close()
	app := db.Appender(nil)
	l := model.MustFromStrings(model.MetricName, "rpc_seconds")
	h := &histogram.Histogram{Schema: 0, Count: 3, Sum: 2.5, PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{1, 1}}
	app.AppendHistogram(0, l, 1000, h, nil)
	app.Commit()
	q, _ := db.Querier(0, 2000)
	defer q.Close()
	ss := q.Select(index.MustNewMatcher(index.MatchEqual, model.MetricName, "rpc_seconds"))
	for ss.Next() {
		it := ss.At().Iterator(nil).(HistogramIterator)
		for it.Next() {
			if it.Type() == ValHistogram {
				ts, h := it.AtHistogram(nil)
				fmt.Println(ts, h.Count, h.Sum, h.PositiveBuckets)
			}
		}
	}
	// Output: 1000 3 2.5 [1 1]
}

// sameSample: histograms are the same when they count the same, whatever
// empty buckets their layouts list; a count at another index, another
// count, sum or schema differs. The hint does not count.
func TestSameSample(t *testing.T) {
	sp := func(o int32, l uint32) histogram.Span { return histogram.Span{Offset: o, Length: l} }
	base := &histogram.Histogram{Schema: 0, Count: 5, Sum: 1, PositiveSpans: []histogram.Span{sp(-1, 2), sp(2, 1)}, PositiveBuckets: []int64{2, -1, 1}} // idx -1:2, 0:1, 3:2
	for _, c := range []struct {
		name string
		h    *histogram.Histogram
		same bool
	}{
		{"itself", base.Copy(), true},
		{"hint", &histogram.Histogram{CounterResetHint: histogram.CounterReset, Schema: 0, Count: 5, Sum: 1, PositiveSpans: base.PositiveSpans, PositiveBuckets: base.PositiveBuckets}, true},
		// one span -1…3 with zeros at 1 and 2: deltas 2,-1,-1,0,2
		{"empty buckets listed", &histogram.Histogram{Schema: 0, Count: 5, Sum: 1, PositiveSpans: []histogram.Span{sp(-1, 5)}, PositiveBuckets: []int64{2, -1, -1, 0, 2}}, true},
		{"count at index 4", &histogram.Histogram{Schema: 0, Count: 5, Sum: 1, PositiveSpans: []histogram.Span{sp(-1, 2), sp(3, 1)}, PositiveBuckets: []int64{2, -1, 1}}, false},
		{"other count", &histogram.Histogram{Schema: 0, Count: 5, Sum: 1, PositiveSpans: base.PositiveSpans, PositiveBuckets: []int64{2, -1, 2}}, false},
		{"negative side", &histogram.Histogram{Schema: 0, Count: 5, Sum: 1, NegativeSpans: base.PositiveSpans, NegativeBuckets: base.PositiveBuckets}, false},
		{"schema", &histogram.Histogram{Schema: 1, Count: 5, Sum: 1, PositiveSpans: base.PositiveSpans, PositiveBuckets: base.PositiveBuckets}, false},
		{"sum", &histogram.Histogram{Schema: 0, Count: 5, Sum: 2, PositiveSpans: base.PositiveSpans, PositiveBuckets: base.PositiveBuckets}, false},
	} {
		a, b := hsample{h: base}, hsample{h: c.h}
		if got := sameSample(&a, &b); got != c.same {
			t.Errorf("%s: sameSample = %v", c.name, got)
		}
		fa, fb := hsample{fh: base.ToFloat()}, hsample{fh: c.h.ToFloat()}
		if got := sameSample(&fa, &fb); got != c.same {
			t.Errorf("%s (float): sameSample = %v", c.name, got)
		}
	}
	f, h := hsample{v: 0}, hsample{h: &histogram.Histogram{}}
	if sameSample(&f, &h) {
		t.Error("a float and a histogram are the same")
	}
}

// A writer of histograms and floats, queriers and compaction at once (run
// with -race): every query sees, for each series, a prefix of what was
// committed, in order, of the right kinds. One writer, so that no sample
// lands in a range compaction has already cut.
func TestHistogramConcurrent(t *testing.T) {
	opts := testOpts()
	opts.BlockRange = 100 * 15_000
	db := openDB(t, t.TempDir(), opts)
	defer db.Close()
	const steps = 400
	done := make(chan error, 2)
	go func() {
		refs := make([]uint64, 2)
		for k := range steps {
			app := db.Appender(nil)
			var err error
			for g := range 2 {
				l := lbls("conc", "g", fmt.Sprint(g))
				switch {
				case err != nil:
				case g == 0:
					refs[g], err = app.AppendHistogram(refs[g], l, int64(k)*15_000, testHist(g, k), nil)
				case k%50 < 25:
					refs[g], err = app.Append(refs[g], l, int64(k)*15_000, float64(k))
				default:
					refs[g], err = app.AppendHistogram(refs[g], l, int64(k)*15_000, nil, testHist(g, k).ToFloat())
				}
			}
			if err == nil {
				err = app.Commit()
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	go func() {
		for range 20 {
			if err := db.Compact(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	check := func() int {
		n := 0
		for k, ss := range collectHist(t, db, math.MinInt64, math.MaxInt64) {
			n += len(ss)
			for j, s := range ss {
				want := hsample{t: int64(j) * 15_000, h: testHist(0, j)}
				switch {
				case k == lbls("conc", "g", "1").String() && j%50 < 25:
					want = hsample{t: want.t, v: float64(j)}
				case k == lbls("conc", "g", "1").String():
					want = hsample{t: want.t, fh: testHist(1, j).ToFloat()}
				}
				if s.t != want.t || !sameSample(&s, &want) {
					t.Fatalf("%s sample %d: %+v, want %+v", k, j, s, want)
				}
			}
		}
		return n
	}
	for n := 0; n < 2; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			n++
		default:
			check()
		}
	}
	if n := check(); n != 2*steps {
		t.Fatalf("%d samples stored, want %d", n, 2*steps)
	}
}

// Prometheus marks a histogram series stale with a histogram whose sum is
// the staleness NaN. It goes into the open chunk like any histogram and is
// read back with those NaN bits; a histogram after it starts another chunk
// (after a marker the codec takes only markers), as in Prometheus.
func TestHistogramStaleMarker(t *testing.T) {
	db := openDB(t, t.TempDir(), testOpts())
	defer db.Close()
	l := lbls("stale")
	stale := &histogram.Histogram{Sum: math.Float64frombits(0x7ff0000000000002)} // Prometheus's value.StaleNaN
	var want []hsample
	for k := range 6 {
		h := testHist(0, k)
		if k == 3 {
			h = stale
		}
		app := db.Appender(nil)
		if _, err := app.AppendHistogram(0, l, int64(k)*1000, h, nil); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		want = append(want, hsample{t: int64(k) * 1000, h: h})
	}
	got := collectHist(t, db, math.MinInt64, math.MaxInt64)
	equalHist(t, "stale", got, histOracle{l.String(): want})
	if b := math.Float64bits(got[l.String()][3].h.Sum); b != 0x7ff0000000000002 {
		t.Fatalf("marker's sum bits %x", b)
	}
	if starts, _ := headChunkStarts(t, db, l); !slices.Equal(starts, []int64{0, 4000}) {
		t.Fatalf("chunks start at %v, want 0 and 4000 (after the marker)", starts)
	}
}

// A memSeries is 184 bytes (series.go), 22 to a 4 KiB slab: the
// histogram side lives in seriesExtra, allocated for series that need it.
func TestMemSeriesSize(t *testing.T) {
	if n := unsafe.Sizeof(memSeries{}); n != 184 {
		t.Fatalf("memSeries is %d bytes, want 184", n)
	}
}

// One batch changing a series' kind back and forth (a histogram, then a
// float, a float histogram, a float, an integer histogram) stores all of
// it, as Prometheus's appender does by cutting the batch where a series
// gets a float after a histogram; so does the replay of its WAL records.
func TestHistogramBatchOrder(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	l, other := lbls("order"), lbls("other")
	want := histOracle{}
	app := db.Appender(nil)
	for k := range 10 {
		ts := int64(k) * 1000
		var s hsample
		switch k % 5 {
		case 0:
			s = hsample{t: ts, h: testHist(0, k)}
		case 2:
			s = hsample{t: ts, fh: testHist(0, k).ToFloat()}
		case 4:
			s = hsample{t: ts, h: testHist(0, k)}
		default:
			s = hsample{t: ts, v: float64(k)}
		}
		var err error
		if s.typ() == ValFloat {
			_, err = app.Append(0, l, ts, s.v)
		} else {
			_, err = app.AppendHistogram(0, l, ts, s.h, s.fh)
		}
		if err != nil {
			t.Fatal(err)
		}
		want.add(l, s)
		if _, err := app.Append(0, other, ts, float64(-k)); err != nil {
			t.Fatal(err)
		}
		want.add(other, hsample{t: ts, v: float64(-k)})
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	equalHist(t, "committed", collectHist(t, db, math.MinInt64, math.MaxInt64), want)
	db.Close()
	// Without the head-chunks files (as after damage to them), the WAL
	// alone rebuilds the head: its records must be in commit order.
	if err := os.RemoveAll(filepath.Join(dir, HeadChunksDirname)); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, dir, testOpts())
	defer db.Close()
	equalHist(t, "replayed", collectHist(t, db, math.MinInt64, math.MaxInt64), want)
}

// encodeMixed (compaction, out-of-order chunks) cuts where the kind
// changes and where a histogram does not fit, and a chunk cut by a counter
// reset starts with the CounterReset hint, as the head's chunks do.
func TestEncodeMixed(t *testing.T) {
	ss := []hsample{
		{t: 1, v: 1}, {t: 2, v: 2},
		{t: 3, h: testHist(0, 10)}, {t: 4, h: testHist(0, 20)},
		{t: 5, h: testHist(0, 5)}, // counts went down, hint unknown
		{t: 6, fh: testHist(0, 6).ToFloat()},
		{t: 7, v: 7},
	}
	cs, err := encodeMixed(slices.Clone(ss))
	if err != nil {
		t.Fatal(err)
	}
	var mins []int64
	var got []hsample
	for _, c := range cs {
		mins = append(mins, c.MinT)
		if got, err = decodeAny(c.Data, got, nil); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(mins, []int64{1, 3, 5, 6, 7}) {
		t.Fatalf("chunks start at %v", mins)
	}
	equalHist(t, "encodeMixed", histOracle{"s": got}, histOracle{"s": ss})
	if h := got[4].h; h.CounterResetHint != histogram.CounterReset {
		t.Fatalf("hint after the reset: %v", h.CounterResetHint)
	}
}

// TestHistogramSeekAndStats: on series with histograms, in blocks and the
// head, with a deleted range, SeekTo (from a new iterator or one on its
// first sample) lands on the first sample at or
// after its target (checked against the samples written), stays put for
// an earlier target, and reading on from there gives the rest; a querier
// whose series are read to the end counts each sample once.
func TestHistogramSeekAndStats(t *testing.T) {
	db := openDB(t, t.TempDir(), testOpts())
	defer db.Close()
	want := histOracle{}
	ingestHist(t, db, want, 0, 1000)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no block cut")
	}
	const dmin, dmax = 400 * 15_000, 430 * 15_000
	if err := db.Delete(dmin, dmax, index.MustNewMatcher(index.MatchRegexp, model.MetricName, ".+")); err != nil {
		t.Fatal(err)
	}
	for k := range want {
		want[k] = slices.DeleteFunc(want[k], func(s hsample) bool { return s.t >= dmin && s.t <= dmax })
	}
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(index.MustNewMatcher(index.MatchRegexp, model.MetricName, ".+"))
	for ss.Next() {
		s := ss.At()
		w := want[s.Labels().String()]
		for n, target := range []int64{-5, 0, 1, 7 * 15_000, 119*15_000 + 1, 121 * 15_000, dmin, dmin + 1, dmax, 700*15_000 - 1, 999 * 15_000, 1000 * 15_000} {
			it := s.Iterator(nil).(HistogramIterator)
			if n%2 == 1 {
				// From the first sample, forward (within its chunk or
				// beyond), not from a fresh iterator.
				if !it.Next() {
					t.Fatal("no sample")
				}
			}
			k, _ := slices.BinarySearchFunc(w, target, func(x hsample, t int64) int { return cmp.Compare(x.t, t) })
			if ok := it.SeekTo(target); ok != (k < len(w)) {
				t.Fatalf("%s SeekTo(%d) = %v, want %v", s.Labels(), target, ok, k < len(w))
			}
			if k == len(w) {
				continue
			}
			// An earlier target stays on the sample.
			if !it.SeekTo(target - 15_000) {
				t.Fatalf("%s SeekTo(%d) after SeekTo(%d) = false", s.Labels(), target-15_000, target)
			}
			for i := k; ; i++ {
				var got hsample
				switch it.Type() {
				case ValFloat:
					got.t, got.v = it.At()
				case ValHistogram:
					got.t, got.h = it.AtHistogram(nil)
				case ValFloatHistogram:
					got.t, got.fh = it.AtFloatHistogram(nil)
				}
				if got.t != w[i].t || !sameSample(&got, &w[i]) {
					t.Fatalf("%s after SeekTo(%d), sample %d: got t=%d %s, want t=%d %s", s.Labels(), target, i, got.t, got.typ(), w[i].t, w[i].typ())
				}
				if !it.Next() {
					if i != len(w)-1 {
						t.Fatalf("%s after SeekTo(%d): ended at sample %d of %d", s.Labels(), target, i, len(w))
					}
					break
				}
			}
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	// Every sample read once, by a querier of its own.
	q2, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	total := 0
	for _, w := range want {
		total += len(w)
	}
	read := 0
	for ss := q2.Select(index.MustNewMatcher(index.MatchRegexp, model.MetricName, ".+")); ss.Next(); {
		for it := ss.At().Iterator(nil); it.Next(); {
			read++
		}
	}
	if got := q2.(StatsQuerier).Stats().Samples; read != total || got != int64(total) {
		t.Errorf("stats: %d samples read of %d, counted %d", read, total, got)
	}
}
