package store

import (
	"context"
	"errors"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage14-alerts/rules"
)

// Storage's refusals reach the rule manager as its sentinels, from both
// stores; what is appended is read back through Querier.
func TestAppendAndRefusals(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := model.MustFromStrings("__name__", "x")
	for name, st := range map[string]interface {
		rules.Appendable
		rules.Queryable
	}{"tsdb": NewTSDB(db), "memory": NewMemory()} {
		app := st.Appender(context.Background())
		if err := app.Append(l, 2000, 1); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := app.Commit(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		app = st.Appender(context.Background())
		if err := app.Append(l, 1000, 1); !errors.Is(err, rules.ErrOutOfOrderSample) {
			t.Errorf("%s: an older sample: %v, want ErrOutOfOrderSample", name, err)
		}
		_ = app.Rollback()
		q, err := st.Querier(0, 3000)
		if err != nil {
			t.Fatal(err)
		}
		ss := q.Select(context.Background())
		n := 0
		for ss.Next() {
			it := ss.At().Iterator()
			for it.Next() {
				if ts, v := it.At(); ts != 2000 || v != 1 {
					t.Errorf("%s: read %d %v", name, ts, v)
				}
				n++
			}
		}
		if err := ss.Err(); err != nil || n != 1 {
			t.Errorf("%s: %d samples, %v", name, n, err)
		}
		_ = q.Close()
	}
	app := NewTSDB(db).Appender(context.Background())
	if err := app.Append(l, 2000, 2); !errors.Is(err, rules.ErrDuplicateSampleForTimestamp) {
		t.Errorf("tsdb: another value at the same time: %v, want ErrDuplicateSampleForTimestamp", err)
	}
	_ = app.Rollback()
}
