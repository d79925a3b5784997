package tsdb

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
)

// refsTestSets are n label sets, the last quarter repeating the first
// (a batch naming a series twice).
func refsTestSets(n int) []model.Labels {
	lsets := make([]model.Labels, n)
	for i := range lsets {
		if i >= n*3/4 {
			lsets[i] = lsets[i-n*3/4]
			continue
		}
		lsets[i] = lbls("cpu_usage", "host", fmt.Sprint("h", i), "region", fmt.Sprint("r", i%3))
	}
	return lsets
}

// headLabels is the label set the head holds under ref.
func headLabels(t *testing.T, db *DB, ref uint64) model.Labels {
	t.Helper()
	s := db.head.byRef.get(ref)
	if s == nil {
		t.Fatalf("ref %d: no series", ref)
	}
	l, ok := db.head.ix.Labels(s.id)
	if !ok {
		t.Fatalf("ref %d: no labels", ref)
	}
	return l
}

// SeriesRefs gives the refs one Append per series would, the head holds
// the same label sets under them, and the WAL replays to the same series
// and samples.
func TestSeriesRefsMatchesAppend(t *testing.T) {
	const n = 200
	lsets := refsTestSets(n)
	opts := Options{NoBackgroundCompaction: true, WALSync: wal.SyncNone}
	dirA, dirB := t.TempDir(), t.TempDir()
	one, batch := openDB(t, dirA, opts), openDB(t, dirB, opts)
	// Some series exist before: found, not created.
	for _, db := range []*DB{one, batch} {
		app := db.Appender(nil)
		for i := 0; i < n; i += 7 {
			if _, err := app.Append(0, lsets[i], 1000, 1); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	want := make([]uint64, n)
	app := one.Appender(nil)
	for i, l := range lsets {
		var err error
		if want[i], err = app.Append(0, l, 2000, float64(i)); err != nil && i < n*3/4 {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	sa := batch.Appender(nil).(SeriesAppender)
	got, errs := make([]uint64, n), make([]error, n)
	if err := sa.SeriesRefs(lsets, got, errs); err != nil {
		t.Fatal(err)
	}
	for i, ref := range got {
		if errs[i] != nil || ref != want[i] {
			t.Fatalf("series %d %v: ref %d, %v; one Append each: %d", i, lsets[i], ref, errs[i], want[i])
		}
		if l := headLabels(t, batch, ref); !l.Equal(lsets[i]) {
			t.Fatalf("ref %d: head holds %v, want %v", ref, l, lsets[i])
		}
		if i < n*3/4 {
			if _, err := sa.Append(ref, model.Labels{}, 2000, float64(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := sa.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := sa.SeriesRefs(lsets, got, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("SeriesRefs after Commit: %v, want ErrClosed", err)
	}
	wantRes := collect(t, one, math.MinInt64, math.MaxInt64)
	equalResults(t, collect(t, batch, math.MinInt64, math.MaxInt64), wantRes)
	// Replayed from the WAL alone (no clean shutdown: the head is not
	// written to a block).
	batch.Close()
	re := openDB(t, dirB, opts)
	defer re.Close()
	equalResults(t, collect(t, re, math.MinInt64, math.MaxInt64), wantRes)
	for i, ref := range want {
		if l := headLabels(t, re, ref); !l.Equal(lsets[i]) {
			t.Fatalf("after replay, ref %d: %v, want %v", ref, l, lsets[i])
		}
	}
	one.Close()
}

// A refused series (AdmitSeries, an empty label set) gets ref 0 and its
// error; the others are created; AdmitSeries is asked once per new series,
// a series named twice in the batch included.
func TestSeriesRefsRefusals(t *testing.T) {
	a := newAdmitLog(t, "no")
	db := openDB(t, t.TempDir(), Options{NoBackgroundCompaction: true, WALSync: wal.SyncNone, AdmitSeries: a.admit})
	defer db.Close()
	yes1, yes2, no := lbls("yes", "i", "1"), lbls("yes", "i", "2"), lbls("no", "i", "1")
	lsets := []model.Labels{yes1, no, {}, yes2, yes1, no}
	refs, errs := make([]uint64, len(lsets)), make([]error, len(lsets))
	sa := db.Appender(nil).(SeriesAppender)
	if err := sa.SeriesRefs(lsets, refs, errs); !errors.Is(err, errRefused) {
		t.Fatalf("SeriesRefs returned %v, want the first refusal", err)
	}
	for i, wantErr := range []error{nil, errRefused, ErrUnknownRef, nil, nil, errRefused} {
		if !errors.Is(errs[i], wantErr) || (wantErr != nil) != (refs[i] == 0) {
			t.Errorf("series %d %v: ref %d, error %v; want error %v", i, lsets[i], refs[i], errs[i], wantErr)
		}
	}
	if refs[0] != refs[4] || refs[0] == refs[3] {
		t.Errorf("refs %v: want the two yes1 the same, yes2 another", refs)
	}
	for _, l := range []model.Labels{yes1, yes2} {
		if c := a.calls[l.String()]; c != 1 {
			t.Errorf("AdmitSeries asked %d times about %v, want once", c, l)
		}
	}
	if db.Head().NumSeries() != 2 {
		t.Errorf("%d series in the head, want 2", db.Head().NumSeries())
	}
	if err := sa.SeriesRefs(lsets, refs[:1], nil); err == nil || errors.Is(err, errRefused) {
		t.Errorf("SeriesRefs with too few refs: %v", err)
	}
	if err := sa.Rollback(); err != nil {
		t.Fatal(err)
	}
}

// Appenders creating the same series at once, some through SeriesRefs in
// batches of their own order, some one Append each, all get one series per
// label set.
func TestSeriesRefsConcurrent(t *testing.T) {
	db := openDB(t, t.TempDir(), Options{NoBackgroundCompaction: true, WALSync: wal.SyncNone})
	defer db.Close()
	const n, goroutines, per = 400, 6, 50
	lsets := make([]model.Labels, n)
	for i := range lsets {
		lsets[i] = lbls("m", "i", fmt.Sprint(i))
	}
	got := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		got[g] = make([]uint64, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			order := make([]int, n)
			for k := range order {
				order[k] = (k*7 + g*31) % n // each goroutine in its own order
			}
			for k0 := 0; k0 < n; k0 += per {
				app := db.Appender(nil)
				if g%2 == 0 {
					batch := make([]model.Labels, per)
					refs := make([]uint64, per)
					for j := range batch {
						batch[j] = lsets[order[k0+j]]
					}
					if err := app.(SeriesAppender).SeriesRefs(batch, refs, nil); err != nil {
						t.Error(err)
						return
					}
					for j, ref := range refs {
						got[g][order[k0+j]] = ref
					}
				} else {
					for j := range per {
						i := order[k0+j]
						ref, err := app.Append(0, lsets[i], 1000, 1)
						if err != nil && !errors.Is(err, ErrDuplicate) {
							t.Error(err)
							return
						}
						got[g][i] = ref
					}
				}
				if err := app.Rollback(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if db.Head().NumSeries() != n {
		t.Fatalf("%d series in the head, want %d", db.Head().NumSeries(), n)
	}
	for i := range n {
		for g := range goroutines {
			if got[g][i] == 0 || got[g][i] != got[0][i] {
				t.Fatalf("series %d: goroutine %d got ref %d, goroutine 0 %d", i, g, got[g][i], got[0][i])
			}
		}
	}
}
