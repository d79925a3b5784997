package tsdb

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
)

var errRefused = errors.New("refused by test")

// admitLog is an AdmitFunc that records its calls, checks the counts it is
// given against its own tally of admitted series, and refuses the metrics
// in refuse.
type admitLog struct {
	t      *testing.T
	mu     sync.Mutex
	calls  map[string]int // label set → calls
	total  int            // admitted series
	metric map[string]int // metric → admitted series
	refuse map[string]bool
}

func newAdmitLog(t *testing.T, refuse ...string) *admitLog {
	a := &admitLog{t: t, calls: map[string]int{}, metric: map[string]int{}, refuse: map[string]bool{}}
	for _, m := range refuse {
		a.refuse[m] = true
	}
	return a
}

func (a *admitLog) admit(lset model.Labels, hash uint64, c SeriesCounts) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls[lset.String()]++
	if hash != lset.Hash() {
		a.t.Errorf("hash of %v is %x, given %x", lset, lset.Hash(), hash)
	}
	name := lset.Name()
	if got := c.NumSeries(); got != a.total {
		a.t.Errorf("admitting %v: NumSeries %d, admitted so far %d", lset, got, a.total)
	}
	if got := c.MetricSeries(name); got != a.metric[name] {
		a.t.Errorf("admitting %v: MetricSeries %d, admitted so far %d", lset, got, a.metric[name])
	}
	if a.refuse[name] {
		return errRefused
	}
	a.total++
	a.metric[name]++
	return nil
}

// TestAdmitSeries: the hook is asked once per new series with exact counts,
// never for a sample of an existing series (by labels or by ref) nor by the
// WAL replay; a refused series leaves nothing in the head or the WAL.
func TestAdmitSeries(t *testing.T) {
	dir := t.TempDir()
	a := newAdmitLog(t, "blocked")
	db, err := Open(dir, Options{NoBackgroundCompaction: true, WALSync: wal.SyncNone, AdmitSeries: a.admit})
	if err != nil {
		t.Fatal(err)
	}
	var lsets []model.Labels
	for i := range 30 {
		lsets = append(lsets, model.MustFromStrings(model.MetricName, fmt.Sprint("m", i%3), "i", fmt.Sprint(i)))
	}
	blocked := model.MustFromStrings(model.MetricName, "blocked", "i", "0")
	refs := make([]uint64, len(lsets))
	for round := range 3 {
		app := db.Appender(nil)
		for i, l := range lsets {
			ref := refs[i]
			if round == 2 {
				ref = 0 // by labels again
			}
			r, err := app.Append(ref, l, int64(round+1)*1000, 1)
			if err != nil {
				t.Fatal(err)
			}
			refs[i] = r
		}
		if _, err := app.Append(0, blocked, int64(round+1)*1000, 1); !errors.Is(err, errRefused) {
			t.Fatalf("blocked series: err %v, want the hook's", err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range lsets {
		if n := a.calls[l.String()]; n != 1 {
			t.Errorf("%v: asked %d times, want 1", l, n)
		}
	}
	if n := a.calls[blocked.String()]; n != 3 {
		t.Errorf("refused series asked %d times, want 3 (once per Append)", n)
	}
	if got := db.Head().NumSeries(); got != len(lsets) {
		t.Fatalf("head has %d series, want %d", got, len(lsets))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Replay: the hook now refuses everything, and is not asked.
	b := newAdmitLog(t, "m0", "m1", "m2", "blocked")
	b.total, b.metric = a.total, a.metric // what the head has after the replay
	db, err = Open(dir, Options{NoBackgroundCompaction: true, WALSync: wal.SyncNone, AdmitSeries: b.admit})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if len(b.calls) != 0 {
		t.Fatalf("replay asked the hook about %d series", len(b.calls))
	}
	if got := db.Recovery().SeriesLoaded; got != len(lsets) {
		t.Fatalf("replay loaded %d series, want %d (the refused one must not be in the WAL)", got, len(lsets))
	}
	if got := db.Head().MetricSeries("m1"); got != 10 {
		t.Fatalf("MetricSeries(m1) = %d, want 10", got)
	}
	app := db.Appender(nil)
	for _, l := range lsets {
		if _, err := app.Append(0, l, 5000, 2); err != nil {
			t.Fatalf("existing series %v after restart: %v", l, err)
		}
	}
	if _, err := app.Append(0, model.MustFromStrings(model.MetricName, "m1", "i", "new"), 5000, 2); !errors.Is(err, errRefused) {
		t.Fatalf("new series after restart: err %v, want the hook's", err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(b.calls) != 1 {
		t.Fatalf("after restart the hook was asked about %v, want only the new series", b.calls)
	}
}

// TestAdmitSeriesConcurrent: appenders racing to create the same series
// ask the hook once per series: the one that loses the race finds the
// series created (run with -race).
func TestAdmitSeriesConcurrent(t *testing.T) {
	a := newAdmitLog(t)
	db, err := Open(t.TempDir(), Options{NoBackgroundCompaction: true, WALSync: wal.SyncNone, AdmitSeries: a.admit})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n, goroutines = 3000, 4
	lsets := make([]model.Labels, n)
	for i := range lsets {
		lsets[i] = model.MustFromStrings(model.MetricName, fmt.Sprint("m", i%7), "i", fmt.Sprint(i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			app := db.Appender(nil)
			for _, l := range lsets {
				if _, err := app.Append(0, l, int64(1000+g), 1); err != nil && !errors.Is(err, ErrOutOfOrder) && !errors.Is(err, ErrDuplicate) {
					errs <- err
					return
				}
			}
			err := app.Commit()
			var ce *CommitError
			if errors.As(err, &ce) {
				err = nil // samples another appender overtook: refused at commit, not this test's concern
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range lsets {
		if c := a.calls[l.String()]; c != 1 {
			t.Fatalf("%v: asked %d times, want 1", l, c)
		}
	}
	if got := db.Head().NumSeries(); got != n {
		t.Fatalf("head has %d series, want %d", got, n)
	}
}
