package storage

import (
	"context"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
)

func openDB(t *testing.T) *tsdb.DB {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The engine adapter reads through the storage engine: the oracle is the
// same samples in stage10's MemStorage.
func TestQueryStorageMatchesMemStorage(t *testing.T) {
	db := openDB(t)
	mem := promql.NewMemStorage()
	app := db.Appender(context.Background())
	for s := range 20 {
		l := model.MustFromStrings("__name__", "m", "s", string(rune('a'+s%5)), "i", string(rune('a'+s)))
		for i := range 100 {
			ts, v := int64(i)*15_000, float64(i*s)
			if _, err := app.Append(0, l, ts, v); err != nil {
				t.Fatal(err)
			}
			if err := mem.Append(l, ts, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	eng := promql.NewEngine(promql.Opts{})
	for _, query := range []string{"sum by (s) (rate(m[5m]))", "m", "count(m > 100)", "missing", "max_over_time(m[10m])"} {
		st := NewQueryStorage(db)
		got, err := eng.QueryRange(context.Background(), st, query, unix(0), unix(1500), 60e9)
		if cerr := st.Close(); err != nil || cerr != nil {
			t.Fatalf("%s: %v %v", query, err, cerr)
		}
		want, err := eng.QueryRange(context.Background(), mem, query, unix(0), unix(1500), 60e9)
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%s:\n got %s\nwant %s", query, got, want)
		}
	}
}

func unix(s int64) time.Time { return time.Unix(s, 0) }
