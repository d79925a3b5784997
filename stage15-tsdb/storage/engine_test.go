package storage

import (
	"context"
	"fmt"
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

// TestQueryStorageBlocksAndHead: the same comparison over data spread over
// blocks and the head, with counter resets and stale markers, for range and
// instant queries. With 120 series the read-ahead decodes several series per
// job for the short windows and one per job for the long ones, and hands its
// buffers round through the engine's ReuseIterator calls.
func TestQueryStorageBlocksAndHead(t *testing.T) {
	db := openDB(t)
	mem := promql.NewMemStorage()
	const n, step = 120, int64(30_000)
	labels := make([]model.Labels, n)
	vals := make([]float64, n)
	for s := range labels {
		labels[s] = model.MustFromStrings("__name__", "c", "g", string(rune('a'+s%4)), "i", fmt.Sprint(s))
	}
	end := int64(7 * time.Hour / time.Millisecond)
	for ts := int64(0); ts <= end; ts += step {
		app := db.Appender(context.Background())
		for s, l := range labels {
			k := ts / step
			v := vals[s] + float64((int64(s)+k)%7)
			switch {
			case s%5 == 0 && k%97 == 13:
				v = 0 // a reset
			case s%6 == 1 && k%50 == 25:
				v = promql.StaleNaN
			}
			if !promql.IsStaleNaN(v) {
				vals[s] = v
			}
			if _, err := app.Append(0, l, ts, v); err != nil {
				t.Fatal(err)
			}
			if err := mem.Append(l, ts, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		if ts%int64(2*time.Hour/time.Millisecond) == 0 {
			if err := db.Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no blocks: the test needs data in blocks and head")
	}
	eng := promql.NewEngine(promql.Opts{})
	ctx := context.Background()
	queries := []string{"sum by (g) (rate(c[5m]))", "rate(c[5m])", "increase(c[17m])", "resets(c[1h])", "c",
		"last_over_time(c[2m])", "topk(3, c)", "sum(delta(c[10m]))", "count_over_time(c[30m])"}
	for _, query := range queries {
		for _, r := range [][3]int64{{0, end, 60_000}, {end - 3_600_000, end, 15_000}, {3_000_000, 9_000_000, 600_000}} {
			st := NewQueryStorage(db)
			got, err := eng.QueryRange(ctx, st, query, time.UnixMilli(r[0]), time.UnixMilli(r[1]), time.Duration(r[2])*time.Millisecond)
			if cerr := st.Close(); err != nil || cerr != nil {
				t.Fatalf("%s: %v %v", query, err, cerr)
			}
			want, err := eng.QueryRange(ctx, mem, query, time.UnixMilli(r[0]), time.UnixMilli(r[1]), time.Duration(r[2])*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("%s over %v: storage and MemStorage differ", query, r)
			}
		}
		for _, at := range []int64{end, end - 7*step, 5_400_000} {
			st := NewQueryStorage(db)
			got, err := eng.Query(ctx, st, query, time.UnixMilli(at))
			if cerr := st.Close(); err != nil || cerr != nil {
				t.Fatalf("%s: %v %v", query, err, cerr)
			}
			want, err := eng.Query(ctx, mem, query, time.UnixMilli(at))
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("%s at %d: storage and MemStorage differ:\n got %.300s\nwant %.300s", query, at, got, want)
			}
		}
	}
}
