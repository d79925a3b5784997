package ingest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// TestBlocksSink: writes through the pipeline land in stage06 (read back
// with its querier); a series written again goes by its cached ref; an
// out-of-order sample and a series without a name are refused and
// reported to their write, the rest stored.
func TestBlocksSink(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sink := NewBlocksSink(db)
	p := newPipeline(t, sink, Options{})
	write := func(key []byte, suffix string, ts ...int64) Result {
		w, err := p.Begin(context.Background(), Block)
		if err != nil {
			t.Fatal(err)
		}
		w.Series(Pairs, key)
		for _, x := range ts {
			w.Add([]byte(suffix), x, float64(x))
		}
		res, err := w.Commit(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	k := AppendPair(AppendPair(nil, "__name__", "m"), "host", "a")
	if res := write(k, "_x", 1000, 2000); res.Points != 2 || res.Refused != 0 {
		t.Fatalf("%+v", res)
	}
	if res := write(k, "_x", 3000, 1500, 4000); res.Refused != 1 || !errors.Is(res.First, tsdb.ErrOutOfOrder) || res.RefusedAt[0] != 1 {
		t.Fatalf("out of order: %+v", res)
	}
	if res := write(AppendPair(nil, "job", "x"), "", 1000); res.Refused != 1 || !errors.Is(res.First, ErrInvalidSeries) {
		t.Fatalf("nameless: %+v", res)
	}
	if n := sink.cache.Len(); n != 1 {
		t.Fatalf("%d keys cached, want 1", n)
	}
	q, err := db.Querier(0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select()
	var got []string
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		for it.Next() {
			ts, v := it.At()
			got = append(got, fmt.Sprintf("%s %v", s.Labels(), model.Sample{T: ts, V: v}))
		}
	}
	want := []string{`m_x{host="a"} {1000 1000}`, `m_x{host="a"} {2000 2000}`, `m_x{host="a"} {3000 3000}`, `m_x{host="a"} {4000 4000}`}
	if len(got) != len(want) {
		t.Fatalf("stored %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("stored %q, want %q", got, want)
		}
	}
}
