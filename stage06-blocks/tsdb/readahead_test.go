package tsdb

import (
	"math"
	"runtime"
	"sort"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/block"
)

// TestReadAhead: a reader that skips series, asks for an iterator twice,
// or closes the querier halfway still gets exactly the oracle's samples
// for the series it reads, with the read-ahead decoding on other cores.
func TestReadAhead(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("read-ahead needs GOMAXPROCS ≥ 2")
	}
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	defer db.Close()
	o := oracle{}
	ingest(t, db, o, 60, 0, Minute, 5*60) // blocks [0,2h), [2h,4h) after Compact, head after
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no block")
	}
	if err := db.Delete(30*Minute, 3*Hour, index.MustNewMatcher(index.MatchEqual, "job", "j2")); err != nil {
		t.Fatal(err)
	}
	o.del(30*Minute, 3*Hour, func(k string) bool { return len(k) > 0 && k[len(k)-4:] == `j2"}` })
	mint, maxt := int64(10*Minute), int64(4*Hour+7*Minute)
	want := o.expect(mint, maxt, nil)
	for _, skip := range []int{1, 2, 3, 7} {
		q, err := db.Querier(mint, maxt)
		if err != nil {
			t.Fatal(err)
		}
		// A failed check must still close the querier (deferred after
		// db.Close, so run before it): db.Close waits for it, and would
		// hang the test instead of reporting the failure.
		defer q.Close()
		ss := q.Select()
		var it Iterator
		n := 0
		for i := 0; ss.Next(); i++ {
			if i%skip != 0 {
				continue // never asks for this series' iterator
			}
			s := ss.At()
			it = s.Iterator(it)
			got := readAll(t, it)
			if i%5 == 0 {
				// A second iterator for the same series.
				if again := readAll(t, s.Iterator(nil)); len(again) != len(got) {
					t.Fatalf("second iterator: %d samples, first %d", len(again), len(got))
				}
			}
			w := want[s.Labels().String()]
			if len(got) != len(w) {
				t.Fatalf("skip %d, %s: %d samples, want %d", skip, s.Labels(), len(got), len(w))
			}
			for k := range w {
				if got[k].T != w[k].T || math.Float64bits(got[k].V) != math.Float64bits(w[k].V) {
					t.Fatalf("skip %d, %s sample %d: %v, want %v", skip, s.Labels(), k, got[k], w[k])
				}
			}
			n++
			if skip == 7 && n == 3 {
				break // close with decoders still running
			}
		}
		q.Close()
	}
}

// TestReadAheadReuse: the read-ahead's buffers are recycled only once
// nobody reads them. A reader that passes one iterator back for every
// series (so buffers go round), while also keeping the iterators of some
// series it never hands back and reading them only at the end, gets exactly
// the oracle's samples for every series, through Next/At and through
// Samples alike. Ranges cover the short-series case (many series per
// read-ahead job, chunks cut by the range's edges) and the long one (a
// job per series, buffers recycled).
func TestReadAheadReuse(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("read-ahead needs GOMAXPROCS ≥ 2")
	}
	dir := t.TempDir()
	db := openDB(t, dir, testOpts())
	defer db.Close()
	o := oracle{}
	ingest(t, db, o, 100, 0, Minute, 5*60)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	type slicer interface{ Samples() []model.Sample }
	for _, r := range [][2]int64{{5*Hour - 7*Minute, 5 * Hour}, {10 * Minute, 4*Hour + 7*Minute}, {0, 5 * Hour}} {
		want := o.expect(r[0], r[1], nil)
		q, err := db.Querier(r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		// A failed check must still close the querier: db.Close waits for it.
		defer q.Close()
		ss := q.Select()
		var it Iterator
		kept := map[string]Iterator{}
		n := 0
		for i := 0; ss.Next(); i++ {
			s := ss.At()
			name := s.Labels().String()
			if i%7 == 3 {
				kept[name] = s.Iterator(nil) // never handed back
				continue
			}
			it = s.Iterator(it)
			var got []model.Sample
			if i%2 == 0 {
				sl, ok := it.(slicer)
				if !ok {
					t.Fatalf("%s: iterator %T has no Samples", name, it)
				}
				got = append(got, sl.Samples()...)
			} else {
				got = readAll(t, it)
			}
			checkSamples(t, name, got, want[name])
			n++
		}
		for name, it := range kept {
			checkSamples(t, name+" (kept)", readAll(t, it), want[name])
			n++
		}
		if n != len(want) {
			t.Fatalf("range %v: %d series read, want %d", r, n, len(want))
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func readAll(t *testing.T, it Iterator) []model.Sample {
	t.Helper()
	var out []model.Sample
	for it.Next() {
		ts, v := it.At()
		out = append(out, model.Sample{T: ts, V: v})
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkSamples(t *testing.T, name string, got, want []model.Sample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d samples, want %d", name, len(got), len(want))
	}
	for k := range want {
		if got[k].T != want[k].T || math.Float64bits(got[k].V) != math.Float64bits(want[k].V) {
			t.Fatalf("%s sample %d: %v, want %v", name, k, got[k], want[k])
		}
	}
}

// TestChunkEstimate: the read-ahead's buffer guess is exact for a chunk
// inside the range, 0 for one outside, and for one cut by the range at
// least the samples inside when they are evenly spaced.
func TestChunkEstimate(t *testing.T) {
	c := chunkSrc{minT: 1000, maxT: 120 * 1000, src: &source{capT: math.MaxInt64}} // 120 samples, 1 s apart
	for _, tc := range []struct {
		mint, maxt int64
		atLeast    int
		exact      bool
	}{
		{0, 200000, 120, true},
		{1000, 120000, 120, true},
		{121000, 200000, 0, true},
		{0, 999, 0, true},
		{60500, 200000, 60, false},
		{0, 30000, 30, false},
		{50000, 50000, 1, false},
	} {
		got := c.estimate(120, tc.mint, tc.maxt)
		if got < tc.atLeast || (tc.exact && got != tc.atLeast) || got > 120+2 {
			t.Errorf("estimate in [%d, %d] = %d, want %d (exact %v)", tc.mint, tc.maxt, got, tc.atLeast, tc.exact)
		}
	}
	c.src.capT = 60000 // isolation hides the samples after 60 s
	if got := c.estimate(120, 0, 200000); got < 60 || got > 62 {
		t.Errorf("estimate under isolation = %d, want about 60", got)
	}
}

// TestDecodeSeries: the read-ahead's bulk decoding (gorilla.AppendSamples
// into the buffer, or into scratch for a chunk with samples to leave out)
// against the streaming iterator, the
// straightforward path: three chunks side by side (XOR, Integer, an open
// chunk's copy in a shared arena), cut by the range at either end, with
// deleted ranges, under an isolation cap, and appended after samples
// already in the buffer; and overlapping chunks, which take the merge.
func TestDecodeSeries(t *testing.T) {
	var ss sourceSet
	var srcs []chunkSrc
	for k, enc := range []gorilla.Encoding{gorilla.XOR, gorilla.Integer, gorilla.XOR} {
		var ts []int64
		var vs []float64
		for i := range 100 {
			ts = append(ts, int64(k*100_000+i*1000))
			vs = append(vs, float64(k*1000+i*i%37))
		}
		c, err := gorilla.Encode(ts, vs, enc)
		if err != nil {
			t.Fatal(err)
		}
		cs := ss.copyOpen(c.Bytes(), nil, math.MaxInt64)
		cs.minT, cs.maxT = ts[0], ts[len(ts)-1]
		srcs = append(srcs, cs)
	}
	if srcs[0].src != srcs[2].src {
		t.Fatal("copies in one arena buffer do not share their source")
	}
	withSource := func(cs []chunkSrc, i int, s source) []chunkSrc {
		out := append([]chunkSrc(nil), cs...)
		data := *out[i].src
		s.data = data.data
		out[i].src = &s
		return out
	}
	stoned := withSource(srcs, 1, source{stones: block.Intervals{{Mint: 110_000, Maxt: 150_000}, {Mint: 170_500, Maxt: 171_000}}, capT: math.MaxInt64})
	capped := withSource(srcs, 2, source{capT: 250_000})
	overlap := append(append([]chunkSrc(nil), srcs...), chunkSrc{minT: 150_000, maxT: 249_000, ref: srcs[2].ref, src: &source{data: srcs[2].src.data, capT: math.MaxInt64, ooo: true}})
	sort.SliceStable(overlap, func(i, j int) bool { return overlap[i].minT < overlap[j].minT })
	prefix := []model.Sample{{T: -5, V: 1}}
	sc := &decodeScratch{} // shared by the cases, as a worker's is
	for _, tc := range []struct {
		name       string
		srcs       []chunkSrc
		mint, maxt int64
	}{
		{"whole", srcs, math.MinInt64, math.MaxInt64},
		{"cut both ends", srcs, 50_500, 230_000},
		{"inside one chunk", srcs, 120_000, 130_000},
		{"nothing in range", srcs, 100_000_000, 100_000_001},
		{"deleted ranges", stoned, 0, 300_000},
		{"isolation cap", capped, 0, 300_000},
		{"overlapping chunks", overlap, 0, 300_000},
	} {
		var bs [][]byte
		for i := range tc.srcs {
			b, err := tc.srcs[i].bytes()
			if err != nil {
				t.Fatal(err)
			}
			bs = append(bs, b)
		}
		want := readAll(t, newSeriesIterator(tc.srcs, tc.mint, tc.maxt, nil))
		got, err := decodeSeries(tc.srcs, bs, tc.mint, tc.maxt, append([]model.Sample(nil), prefix...), sc)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got[0] != prefix[0] {
			t.Fatalf("%s: the samples already in the buffer changed: %v", tc.name, got[0])
		}
		checkSamples(t, tc.name, got[1:], want)
		if tc.name == "whole" && len(want) != 300 || tc.name == "deleted ranges" && len(want) != 300-41-1 {
			t.Fatalf("%s: the oracle read %d samples", tc.name, len(want))
		}
	}
	// A corrupt chunk: the samples of the series before it, and the error.
	bad := append([]chunkSrc(nil), srcs...)
	got, err := decodeSeries(bad, [][]byte{mustBytes(t, bad[0]), {0xff}, mustBytes(t, bad[2])}, math.MinInt64, math.MaxInt64, nil, nil)
	if err == nil || len(got) != 100 {
		t.Fatalf("corrupt second chunk: %d samples, err %v; want the first chunk's 100 and an error", len(got), err)
	}
}

func mustBytes(t *testing.T, c chunkSrc) []byte {
	t.Helper()
	b, err := c.bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
