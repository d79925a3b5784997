package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

var errNoSeries = errors.New("test: series refused")

// A batch of new series (a key in two rows, a series twice, a nameless
// key, a series AdmitSeries refuses, one the head has and the cache not,
// one cached) lands in stage06 as one Append by labels per point would
// land it: the same samples stored, the same points refused for the same
// reasons; and the new series are cached.
func TestBlocksSinkNewSeriesAsOneByOne(t *testing.T) {
	opts := tsdb.Options{NoBackgroundCompaction: true, AdmitSeries: func(lset model.Labels, _ uint64, _ tsdb.SeriesCounts) error {
		if lset.Name() == "no" {
			return errNoSeries
		}
		return nil
	}}
	key := func(name, host string) []byte { return AppendPair(AppendPair(nil, "__name__", name), "host", host) }
	type pt struct {
		suffix string
		t      int64
	}
	rows := []struct {
		key []byte
		pts []pt
	}{
		{key("cpu", "cached"), []pt{{"_x", 2000}}},
		{key("cpu", "a"), []pt{{"_x", 2000}, {"_y", 2000}, {"_y", 2500}}},
		{AppendPair(nil, "host", "nameless"), []pt{{"_x", 2000}}},
		{key("cpu", "a"), []pt{{"_y", 3000}, {"_z", 3000}}},
		{key("no", "a"), []pt{{"", 2000}}},
		{key("cpu", "inhead"), []pt{{"_x", 2000}}},
		{key("cpu", "d"), []pt{{"_x", 2000}, {"_y", 2000}, {"_y", 2500}, {"_x", 1000}}}, // the last out of order
		{key("cpu", "cached"), []pt{{"_x", 3000}}},
	}
	fill := func() *Batch {
		b := &Batch{}
		for _, r := range rows {
			b.addRow(Pairs, r.key)
			for _, p := range r.pts {
				b.addPoint([]byte(p.suffix), p.t, float64(p.t)+0.5)
			}
		}
		return b
	}
	// Both heads know cpu_x{host="cached"} and cpu_x{host="inhead"}; the
	// sink's cache knows the first.
	prepare := func(db *tsdb.DB) {
		app := db.Appender(context.Background())
		for _, h := range []string{"cached", "inhead"} {
			l, _ := Pairs.Labels(key("cpu", h), []byte("_x"))
			if _, err := app.Append(0, l, 1000, 1); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}

	want, err := tsdb.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	prepare(want)
	wb := fill()
	app := want.Appender(context.Background())
	for i := range wb.Len() {
		p := wb.At(i)
		l, err := wb.Labels(i)
		if err == nil {
			_, err = app.Append(0, l, p.T, p.V)
		}
		if err != nil {
			wb.Refuse(i, err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}

	db, err := tsdb.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prepare(db)
	sink := NewBlocksSink(db)
	warm := &Batch{}
	warm.addRow(Pairs, key("cpu", "cached"))
	warm.addPoint([]byte("_x"), 1000, 1)
	if err := sink.Write(warm); err != nil || len(warm.refused) > 0 {
		t.Fatal(err, warm.refused)
	}
	gb := fill()
	if err := sink.Write(gb); err != nil {
		t.Fatal(err)
	}

	if len(gb.refused) != len(wb.refused) {
		t.Fatalf("refused %v, one Append each refused %v", gb.refused, wb.refused)
	}
	for k, r := range gb.refused {
		w := wb.refused[k]
		if r.i != w.i || errors.Is(w.err, errNoSeries) != errors.Is(r.err, errNoSeries) || errors.Is(w.err, ErrInvalidSeries) != errors.Is(r.err, ErrInvalidSeries) || errors.Is(w.err, tsdb.ErrOutOfOrder) != errors.Is(r.err, tsdb.ErrOutOfOrder) {
			t.Errorf("refusal %d: point %d %v; one Append each: point %d %v", k, r.i, r.err, w.i, w.err)
		}
	}
	if len(wb.refused) != 3 {
		t.Errorf("one Append each refused %v: want the nameless, the refused and the out-of-order point", wb.refused)
	}
	if g, w := stored(t, db), stored(t, want); fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("stored\n%v\none Append each\n%v", g, w)
	}
	// Cached: cpu,host=cached (before), cpu,host=a, cpu,host=inhead,
	// cpu,host=d; the three series of a in one entry.
	if n := sink.cache.Len(); n != 4 {
		t.Errorf("%d keys cached, want 4", n)
	}
	if r := sink.cache.Row(Pairs, key("cpu", "a")); r == nil || len(r.suffixes) != 3 {
		t.Errorf("cpu,host=a cached as %+v, want three suffixes", r)
	}
}

// stored lists every sample in db, by series.
func stored(t *testing.T, db *tsdb.DB) []string {
	t.Helper()
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
	return got
}

// TestRefuseAtCommit: the samples stage06 refused at Commit are named by
// their position among the points Append accepted; the sink turns that
// back into the batch's points, skipping the ones it refused itself, so
// only the writes that sent them are answered with the refusal.
func TestRefuseAtCommit(t *testing.T) {
	b := &Batch{}
	b.addRow(Pairs, AppendPair(nil, "host", "a"))
	for i := range 7 {
		b.addPoint([]byte("_x"), int64(i), 0)
	}
	early := errors.New("refused before this Write")
	errA, errB := errors.New("refused at Append"), errors.New("refused at Append too")
	b.Refuse(6, early) // not this Write's: point 6 was offered to Append
	from := len(b.refused)
	b.Refuse(1, errA)
	b.Refuse(3, errB)
	// Append accepted points 0, 2, 4, 5, 6: accepted samples 0…4.
	refuseAtCommit(b, from, []tsdb.RefusedSample{{Index: 0, Err: tsdb.ErrOutOfBounds}, {Index: 2, Err: tsdb.ErrDuplicate}, {Index: 4, Err: tsdb.ErrOutOfOrder}})
	want := []refusal{{6, early}, {1, errA}, {3, errB}, {0, tsdb.ErrOutOfBounds}, {4, tsdb.ErrDuplicate}, {6, tsdb.ErrOutOfOrder}}
	if !slices.Equal(b.refused, want) {
		t.Fatalf("refused %v, want %v", b.refused, want)
	}
}
