package tsdb

import (
	"math"
	"runtime"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
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
	read := func(it Iterator) []model.Sample {
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
	for _, skip := range []int{1, 2, 3, 7} {
		q, err := db.Querier(mint, maxt)
		if err != nil {
			t.Fatal(err)
		}
		ss := q.Select()
		var it Iterator
		n := 0
		for i := 0; ss.Next(); i++ {
			if i%skip != 0 {
				continue // never asks for this series' iterator
			}
			s := ss.At()
			it = s.Iterator(it)
			got := read(it)
			if i%5 == 0 {
				// A second iterator for the same series.
				if again := read(s.Iterator(nil)); len(again) != len(got) {
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
