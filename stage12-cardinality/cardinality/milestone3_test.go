package cardinality

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// store is the test's oracle: every sample the DB accepted, by series.
type store map[string]map[int64]float64

func (s store) add(ls model.Labels, t int64, v float64) {
	k := ls.String()
	if s[k] == nil {
		s[k] = map[int64]float64{}
	}
	s[k][t] = v
}

// readAll reads every sample of the DB back.
func readAll(t *testing.T, db *tsdb.DB) store {
	t.Helper()
	q, err := db.Querier(math.MinInt64/4, math.MaxInt64/4)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	got := store{}
	ss := q.Select(index.MustNewMatcher(index.MatchRegexp, model.MetricName, ".+"))
	var it tsdb.Iterator
	for ss.Next() {
		s := ss.At()
		it = s.Iterator(it)
		for it.Next() {
			ts, v := it.At()
			got.add(s.Labels(), ts, v)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func equalStores(a, b store) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d series vs %d", len(a), len(b))
	}
	for k, sa := range a {
		sb := b[k]
		if len(sa) != len(sb) {
			return fmt.Errorf("%s: %d samples vs %d", k, len(sa), len(sb))
		}
		for ts, v := range sa {
			if w, ok := sb[ts]; !ok || w != v {
				return fmt.Errorf("%s at %d: %v vs %v", k, ts, v, w)
			}
		}
	}
	return nil
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func openLimited(t *testing.T, dir string, lim *Limiter, clk *fakeClock) *tsdb.DB {
	t.Helper()
	db, err := tsdb.Open(dir, tsdb.Options{
		NoBackgroundCompaction: true, WALSync: wal.SyncNone,
		Now: clk.Now, AdmitSeries: lim.Admit,
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestMilestone3_CardinalityLimiting: at its limit a metric's new series
// are refused with ErrSeriesLimit naming metric, limit and count, while
// its existing series keep being written; the dropped counter equals the
// refused writes exactly; other metrics are unaffected; nothing stored is
// touched (every accepted sample reads back); after a restart — limits
// and counters reloaded, the head's counts replayed from the WAL — the
// limits still hold. The oracle is the test's own record of what it
// wrote and what was refused.
func TestMilestone3_CardinalityLimiting(t *testing.T) {
	dir := t.TempDir()
	clk := newClock()
	clk.t = t0
	tr := NewTracker(TrackerOptions{Now: clk.Now})
	limits := Limits{Default: 1000, PerMetric: map[string]int{"http_requests": 100}}
	lim := NewLimiter(limits, LimiterOptions{Tracker: tr, Now: clk.Now})
	db := openLimited(t, dir, lim, clk)

	want := store{}
	refused := map[string]int{}
	ts := t0.UnixMilli()
	series := func(metric string, i int) model.Labels {
		return lbls("__name__", metric, "path", fmt.Sprintf("/user/%d", i))
	}
	write := func(ls model.Labels, v float64) error {
		app := db.Appender(nil)
		_, err := app.Append(0, ls, ts, v)
		if err != nil {
			_ = app.Rollback()
			if errors.Is(err, ErrSeriesLimit) {
				refused[ls.Name()]++
			}
			return err
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		want.add(ls, ts, v)
		return nil
	}

	// 150 distinct paths offered, 3 rounds: the first 100 are admitted,
	// the other 50 refused each time; up (no own limit) is unaffected.
	for round := range 3 {
		ts += 15000
		clk.Advance(15 * time.Second)
		for i := range 150 {
			err := write(series("http_requests", i), float64(round*1000+i))
			if i < 100 && err != nil {
				t.Fatalf("round %d: existing series %d refused: %v", round, i, err)
			}
			if i >= 100 {
				var le *LimitError
				if !errors.As(err, &le) || !errors.Is(err, ErrSeriesLimit) {
					t.Fatalf("round %d: series %d: err %v, want a *LimitError", round, i, err)
				}
				if le.Metric != "http_requests" || le.Limit != 100 || le.Count != 100 || le.Global {
					t.Fatalf("limit error %+v", le)
				}
				for _, part := range []string{`"http_requests"`, "100"} {
					if !strings.Contains(err.Error(), part) {
						t.Fatalf("message %q does not name %s", err, part)
					}
				}
			}
		}
		for i := range 300 {
			if err := write(series("up", i), 1); err != nil {
				t.Fatalf("up series %d refused: %v", i, err)
			}
		}
	}
	if refused["http_requests"] != 150 || len(refused) != 1 {
		t.Fatalf("refused %v, want 150 writes of http_requests", refused)
	}
	d := lim.DroppedFor("http_requests")
	if d.Total != 150 || d.LastHour != 150 {
		t.Fatalf("dropped %+v, want 150 (all in the last hour)", d)
	}
	if got := lim.DroppedFor("up"); got.Total != 0 {
		t.Fatalf("up dropped %+v", got)
	}
	if n := db.Head().MetricSeries("http_requests"); n != 100 {
		t.Fatalf("http_requests has %d series, want 100", n)
	}
	// The tracker saw the demand: 150 distinct http_requests series.
	if m, _ := tr.Metric("http_requests"); m.Series != 150 {
		t.Fatalf("tracker: http_requests %d series, want 150 (offered)", m.Series)
	}
	if err := equalStores(readAll(t, db), want); err != nil {
		t.Fatalf("stored data differs from what was accepted: %v", err)
	}

	// An hour and a minute later the rolling figure is empty, the total kept.
	clk.Advance(61 * time.Minute)
	if d := lim.DroppedFor("http_requests"); d.Total != 150 || d.LastHour != 0 {
		t.Fatalf("an hour later: %+v", d)
	}
	ts += 61 * 60 * 1000
	if err := write(series("http_requests", 120), 5); !errors.Is(err, ErrSeriesLimit) {
		t.Fatalf("still refused: %v", err)
	}

	// Restart: state saved, DB closed, both reopened.
	if err := lim.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	lim2, ok, err := LoadLimiter(dir, Limits{}, LimiterOptions{Now: clk.Now})
	if err != nil || !ok {
		t.Fatalf("reload limiter: %v %v", ok, err)
	}
	if lim2.Limits().For("http_requests") != 100 || lim2.DroppedFor("http_requests").Total != 151 {
		t.Fatalf("reloaded limits %+v dropped %+v", lim2.Limits(), lim2.DroppedFor("http_requests"))
	}
	db = openLimited(t, dir, lim2, clk)
	defer db.Close()
	if err := equalStores(readAll(t, db), want); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	ts += 15000
	if err := write(series("http_requests", 130), 1); !errors.Is(err, ErrSeriesLimit) {
		t.Fatalf("after restart a new series over the limit: %v", err)
	}
	if err := write(series("http_requests", 5), 1); err != nil {
		t.Fatalf("after restart an existing series: %v", err)
	}
	if err := write(series("up", 1000), 1); err != nil {
		t.Fatalf("after restart another metric: %v", err)
	}
	if got := lim2.DroppedFor("http_requests").Total; got != 152 {
		t.Fatalf("dropped after restart %d, want 152", got)
	}
}

// TestGlobalLimit: the global limit refuses any metric's new series once
// the head holds that many, and says so.
func TestGlobalLimit(t *testing.T) {
	clk := newClock()
	lim := NewLimiter(Limits{Global: 50}, LimiterOptions{Now: clk.Now})
	db := openLimited(t, t.TempDir(), lim, clk)
	defer db.Close()
	app := db.Appender(nil)
	var refused int
	for i := range 80 {
		_, err := app.Append(0, lbls("__name__", fmt.Sprint("m", i%4), "i", fmt.Sprint(i)), t0.UnixMilli(), 1)
		var le *LimitError
		switch {
		case err == nil:
		case errors.As(err, &le) && le.Global && le.Limit == 50 && le.Count == 50:
			refused++
		default:
			t.Fatalf("series %d: %v", i, err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if refused != 30 || db.Head().NumSeries() != 50 {
		t.Fatalf("refused %d, head %d series; want 30 and 50", refused, db.Head().NumSeries())
	}
	var total uint64
	for _, d := range lim.Dropped() {
		total += d.Total
	}
	if total != 30 {
		t.Fatalf("dropped %d, want 30", total)
	}
}

// TestLimiterStatus: the status lists limits, exact counts and drops.
func TestLimiterStatus(t *testing.T) {
	clk := newClock()
	lim := NewLimiter(Limits{Default: 10, PerMetric: map[string]int{"b": 0}}, LimiterOptions{Now: clk.Now})
	db := openLimited(t, t.TempDir(), lim, clk)
	defer db.Close()
	app := db.Appender(nil)
	for i := range 15 {
		_, _ = app.Append(0, lbls("__name__", "a", "i", fmt.Sprint(i)), t0.UnixMilli(), 1)
		_, _ = app.Append(0, lbls("__name__", "b", "i", fmt.Sprint(i)), t0.UnixMilli(), 1)
	}
	_ = app.Commit()
	st := lim.Status(db.Head(), []string{"a", "b"})
	if len(st) != 2 {
		t.Fatalf("status %+v", st)
	}
	if st[0].Metric != "b" || st[0].Current != 15 || st[0].Limit != 0 || st[0].Exceeded {
		t.Fatalf("b: %+v (no limit: all 15 admitted)", st[0])
	}
	if st[1].Metric != "a" || st[1].Current != 10 || !st[1].Exceeded || st[1].Dropped.Total != 5 {
		t.Fatalf("a: %+v", st[1])
	}
}
