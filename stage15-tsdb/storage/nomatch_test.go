package storage

import (
	"context"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// stage06's querier must answer "nothing" for a selection that matches no
// series, whether the DB is empty, has only a head, or has blocks too (the
// server once wrapped it in a guard that recovered an index-out-of-range
// panic here). This runs on the raw *tsdb.DB, with no recovery around it.
func TestQuerierNoMatch(t *testing.T) {
	none := index.MustNewMatcher(index.MatchEqual, "__name__", "missing")
	re := index.MustNewMatcher(index.MatchRegexp, "job", "nope.*")
	check := func(t *testing.T, db *tsdb.DB, mint, maxt int64) {
		t.Helper()
		q, err := db.Querier(mint, maxt)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		for _, ms := range [][]*index.Matcher{{none}, {re}, {none, re}} {
			ss := q.Select(ms...)
			if ss.Next() || ss.Err() != nil {
				t.Fatalf("Select(%v): a series or an error (%v)", ms, ss.Err())
			}
			if ns, err := q.LabelNames(ms...); len(ns) != 0 || err != nil {
				t.Fatalf("LabelNames(%v) = %v, %v", ms, ns, err)
			}
			if vs, err := q.LabelValues("__name__", ms...); len(vs) != 0 || err != nil {
				t.Fatalf("LabelValues(%v) = %v, %v", ms, vs, err)
			}
		}
	}
	t.Run("empty", func(t *testing.T) {
		db := openDB(t)
		check(t, db, 0, 10_000)
		if vs, err := mustQuerier(t, db).LabelValues("__name__"); len(vs) != 0 || err != nil {
			t.Fatalf("LabelValues of an empty DB = %v, %v", vs, err)
		}
	})
	t.Run("head", func(t *testing.T) {
		db := openDB(t)
		appendOne(t, db, "a", 1000)
		check(t, db, 0, 10_000)
		check(t, db, 50_000, 60_000) // a range with no samples at all
	})
	t.Run("blocks and head", func(t *testing.T) {
		db := openDB(t)
		for i := range int64(4) {
			appendOne(t, db, "a", i*tsdb.Hour)
		}
		if _, err := db.FlushHead(); err != nil {
			t.Fatal(err)
		}
		if len(db.Blocks()) == 0 {
			t.Fatal("FlushHead wrote no block")
		}
		appendOne(t, db, "b", 5*tsdb.Hour)
		check(t, db, 0, 6*tsdb.Hour)
		ss := mustQuerier(t, db).Select(index.MustNewMatcher(index.MatchEqual, "__name__", "a"))
		if !ss.Next() || ss.At().Labels().Name() != "a" {
			t.Fatal("the existing series is not found")
		}
	})
}

func appendOne(t *testing.T, db *tsdb.DB, name string, ts int64) {
	t.Helper()
	app := db.Appender(context.Background())
	if _, err := app.Append(0, model.MustFromStrings("__name__", name, "job", "x"), ts, 1); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

func mustQuerier(t *testing.T, db *tsdb.DB) tsdb.Querier {
	t.Helper()
	q, err := db.Querier(-1<<62, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}
