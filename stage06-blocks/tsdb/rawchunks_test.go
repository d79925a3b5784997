package tsdb

import (
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage05-index/index"
)

// rawSamples reads every series of q through AppendChunks, decoding the
// chunks and clipping them to [mint, maxt]; ok counts the series that
// handed out their chunks, the others are read with their iterator.
func rawSamples(t *testing.T, q Querier, mint, maxt int64) (out map[string][]model.Sample, ok, fallback int) {
	t.Helper()
	out = map[string][]model.Sample{}
	ss := q.Select()
	var it Iterator
	for ss.Next() {
		s := ss.At()
		cs, yes, err := s.(ChunkSeries).AppendChunks(nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []model.Sample
		if yes {
			ok++
			for _, c := range cs {
				ch, err := gorilla.FromBytes(c.Data)
				if err != nil {
					t.Fatal(err)
				}
				ci := ch.Iterator(nil)
				for ci.Next() {
					ts, v := ci.At()
					if ts < c.MinT || ts > c.MaxT {
						t.Fatalf("%s: sample at %d outside its chunk's range [%d, %d]", s.Labels(), ts, c.MinT, c.MaxT)
					}
					if ts >= mint && ts <= maxt {
						got = append(got, model.Sample{T: ts, V: v})
					}
				}
			}
		} else {
			if len(cs) != 0 {
				t.Fatalf("%s: false with %d chunks appended", s.Labels(), len(cs))
			}
			fallback++
			it = s.Iterator(it)
			for it.Next() {
				ts, v := it.At()
				got = append(got, model.Sample{T: ts, V: v})
			}
		}
		if len(got) > 0 {
			out[s.Labels().String()] = got
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out, ok, fallback
}

// TestAppendChunks: chunks handed out as stored, decoded and clipped to
// the range, are the samples the oracle holds, from blocks and head
// alike; a series with a deletion inside a chunk, or with out-of-order
// chunks, is refused (and read by its iterator instead).
func TestAppendChunks(t *testing.T) {
	opts := testOpts()
	opts.OutOfOrderWindow = Hour
	db := openDB(t, t.TempDir(), opts)
	defer db.Close()
	o := oracle{}
	ingest(t, db, o, 6, 0, Minute, 300) // 5 h: blocks after Compact, and the head
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no block cut: the test must read blocks too")
	}
	ingest(t, db, o, 6, 300*Minute, Minute, 30)

	check := func(name string, mint, maxt int64, wantFallback int) {
		t.Helper()
		q, err := db.Querier(mint, maxt)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		got, ok, fb := rawSamples(t, q, mint, maxt)
		equalResults(t, got, o.expect(mint, maxt, nil))
		if fb != wantFallback || ok+fb != 6 {
			t.Fatalf("%s: %d series as chunks, %d by iterator; want %d by iterator", name, ok, fb, wantFallback)
		}
	}
	check("everything", 0, 400*Minute, 0)
	check("a range inside chunks", 37*Minute, 251*Minute, 0)

	// A deletion in the middle of series 1's chunks.
	if err := db.Delete(100*Minute, 110*Minute, index.MustNewMatcher(index.MatchEqual, "i", "1")); err != nil {
		t.Fatal(err)
	}
	o.del(100*Minute, 110*Minute, func(k string) bool { return k == seriesName(1).String() })
	check("after a deletion", 0, 400*Minute, 1)

	// Out-of-order samples for series 2: its chunks overlap.
	app := db.Appender(nil)
	for m := int64(301); m < 329; m += 2 {
		if _, err := app.Append(0, seriesName(2), m*Minute+30_000, -float64(m)); err != nil {
			t.Fatal(err)
		}
		o.add(seriesName(2), m*Minute+30_000, -float64(m))
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	check("with out-of-order chunks", 0, 400*Minute, 2)

	// A histogram series hands out no chunks: a reader of stage03 chunks
	// could not read them.
	app = db.Appender(nil)
	hl := lbls("hist")
	for k := range 5 {
		if _, err := app.AppendHistogram(0, hl, 320*Minute+int64(k)*Minute, testHist(0, k), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	q, err := db.Querier(0, 400*Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(index.MustNewMatcher(index.MatchEqual, model.MetricName, "hist"))
	if !ss.Next() {
		t.Fatal("histogram series not selected")
	}
	if cs, ok, err := ss.At().(ChunkSeries).AppendChunks(nil); ok || len(cs) != 0 || err != nil {
		t.Fatalf("histogram series: AppendChunks = %d chunks, %v, %v; want none, false", len(cs), ok, err)
	}
}
