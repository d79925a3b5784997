package rollup

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage08-shards/shard"
)

var ctx = context.Background()

// checkTiers compares every window of every rollup tier, up to its
// watermark, with the oracle's aggregate of the raw samples in it: count,
// sum, min and max exactly (dyadic data), sketches' counts too. The 1 h
// tier is rolled up from the 1 m tier and the 1 d tier from the 1 h tier,
// so equality here is "rolling up the rollups = rolling up the raw data".
func checkAllTiers(t *testing.T, e *Engine, o *oracle, from int64) {
	t.Helper()
	for k := 1; k < len(e.tiers); k++ {
		wm, ok := e.watermark(k)
		if !ok {
			t.Fatalf("tier %s never ran", e.tiers[k].Name)
		}
		res := e.tiers[k].res()
		got, err := e.ReadTier(ctx, k, from, wm, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(o.lsets) {
			t.Fatalf("tier %s: %d series, want %d", e.tiers[k].Name, len(got), len(o.lsets))
		}
		windows := 0
		for _, s := range got {
			i := slices.IndexFunc(o.lsets, func(l model.Labels) bool { return l.Equal(s.Labels) })
			if i < 0 {
				t.Fatalf("tier %s: unexpected series %s", e.tiers[k].Name, s.Labels)
			}
			want := map[int64]Aggregate{}
			for _, sm := range o.samples[i] {
				if sm.T < from || sm.T >= wm {
					continue
				}
				w := floorTo(sm.T, res)
				a := want[w]
				a.Add(sm.V)
				want[w] = a
			}
			if len(s.Points) != len(want) {
				t.Fatalf("tier %s %s: %d windows, want %d", e.tiers[k].Name, s.Labels, len(s.Points), len(want))
			}
			for _, p := range s.Points {
				w, ok := want[p.T]
				if !ok || !sameAgg(p.Aggregate, w) {
					t.Fatalf("tier %s %s window %s: %s, want %s", e.tiers[k].Name, s.Labels,
						time.UnixMilli(p.T).UTC().Format(time.RFC3339), fmtAgg(p.Aggregate), fmtAgg(w))
				}
				if p.Sketch.Count() != uint64(w.Count) {
					t.Fatalf("tier %s window %d: sketch of %d values, want %d", e.tiers[k].Name, p.T, p.Sketch.Count(), w.Count)
				}
				windows++
			}
		}
		if windows == 0 {
			t.Fatalf("tier %s: nothing checked", e.tiers[k].Name)
		}
	}
}

// TestMilestone1_BasicAggregations: count, sum, min, max (and avg) per
// window in every tier equal the oracle's over the raw samples; the 1 d
// tier rolled up from 1 h equals a 1 d rollup straight from the raw data.
func TestMilestone1_BasicAggregations(t *testing.T) {
	t.Run("aggregate", func(t *testing.T) {
		whole, parts := NewAggregate(true), []Aggregate{NewAggregate(true), NewAggregate(true), NewAggregate(true)}
		for i := range 3000 {
			v := dyadic(i, int64(i))
			whole.Add(v)
			parts[i%3].Add(v)
		}
		m := NewAggregate(true)
		for _, p := range parts {
			if err := m.Merge(p); err != nil {
				t.Fatal(err)
			}
		}
		if !sameAgg(m, whole) || m.Sketch.Count() != 3000 || m.Avg() != whole.Sum/3000 {
			t.Fatalf("merged %s, whole %s", fmtAgg(m), fmtAgg(whole))
		}
		var empty Aggregate
		if !math.IsNaN(empty.Avg()) || !math.IsNaN(empty.Value(Func{Kind: FuncMin})) {
			t.Fatal("empty aggregate has values")
		}
	})
	t.Run("tiers", func(t *testing.T) {
		clk := newClock(t0)
		e := openEngine(t, t.TempDir(), clk, nil)
		defer e.Close()
		l := &loader{t: t, e: e, clk: clk, o: newOracle(3), step: 10 * time.Second, value: dyadic, batch: 6 * time.Hour, runEvery: 6 * time.Hour}
		l.until(t0.Add(3 * 24 * time.Hour))
		l.run()
		checkAllTiers(t, e, l.o, t0.UnixMilli())
		// The 1 d tier: 3 complete days, each 3 series × 8,640 samples.
		wm, _ := e.watermark(3)
		if wm != t0.Add(72*time.Hour).UnixMilli() {
			t.Fatalf("1d watermark %s", time.UnixMilli(wm).UTC())
		}
	})
	t.Run("direct-vs-chained", func(t *testing.T) {
		// A configuration with the 1 d tier straight above raw: its
		// windows equal those of the default chain raw → 1m → 1h → 1d.
		dir1, dir2 := t.TempDir(), t.TempDir()
		c1, c2 := newClock(t0), newClock(t0)
		chained := openEngine(t, dir1, c1, nil)
		defer chained.Close()
		direct := openEngine(t, dir2, c2, []Tier{{Name: "raw"}, {Name: "1d", Resolution: day}})
		defer direct.Close()
		for _, x := range []struct {
			e *Engine
			c *clock
		}{{chained, c1}, {direct, c2}} {
			l := &loader{t: t, e: x.e, clk: x.c, o: newOracle(2), step: 30 * time.Second, value: dyadic, batch: 12 * time.Hour, runEvery: 24 * time.Hour}
			l.until(t0.Add(2 * 24 * time.Hour))
			l.run()
		}
		a, err := chained.ReadTier(ctx, 3, t0.UnixMilli(), t0.Add(48*time.Hour).UnixMilli(), false)
		if err != nil {
			t.Fatal(err)
		}
		b, err := direct.ReadTier(ctx, 1, t0.UnixMilli(), t0.Add(48*time.Hour).UnixMilli(), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != 2 || len(b) != 2 {
			t.Fatalf("%d and %d series", len(a), len(b))
		}
		for i := range a {
			if len(a[i].Points) != 2 || len(b[i].Points) != 2 {
				t.Fatalf("%d and %d days", len(a[i].Points), len(b[i].Points))
			}
			for j := range a[i].Points {
				if !sameAgg(a[i].Points[j].Aggregate, b[i].Points[j].Aggregate) {
					t.Fatalf("day %d: chained %s, direct %s", j, fmtAgg(a[i].Points[j].Aggregate), fmtAgg(b[i].Points[j].Aggregate))
				}
			}
		}
	})
}

// windowLog checks the jobs' reports: per tier, the new windows of
// successive runs are contiguous ranges, none overlapping, whose union is
// every window from the first to the watermark.
func checkWindowLog(t *testing.T, e *Engine, reports []*Report) {
	t.Helper()
	for k := 1; k < len(e.tiers); k++ {
		res := e.tiers[k].res()
		var first, next int64
		started := false
		windows := 0
		for _, r := range reports {
			tr := r.Tiers[k-1]
			if tr.From == tr.To {
				continue
			}
			if !started {
				first, started = tr.From, true
			} else if tr.From != next {
				t.Fatalf("tier %s: run covers [%d, %d), previous ended at %d: a window skipped or repeated", tr.Tier, tr.From, tr.To, next)
			}
			if tr.Windows != int((tr.To-tr.From)/res) {
				t.Fatalf("tier %s: %d windows reported for [%d, %d)", tr.Tier, tr.Windows, tr.From, tr.To)
			}
			windows += tr.Windows
			next = tr.To
		}
		wm, _ := e.watermark(k)
		if !started || next != wm || windows != int((wm-first)/res) {
			t.Fatalf("tier %s: %d windows processed, [%d, %d), watermark %d", e.tiers[k].Name, windows, first, next, wm)
		}
	}
}

// TestMilestone2_IncrementalProcessing: jobs process only new complete
// windows; the watermark survives restarts (none skipped, none repeated);
// late samples dirty their windows, which are recomputed (replaced, not
// added to), in every tier.
func TestMilestone2_IncrementalProcessing(t *testing.T) {
	t.Run("only-new-windows", func(t *testing.T) {
		clk := newClock(t0)
		e := openEngine(t, t.TempDir(), clk, nil)
		defer e.Close()
		l := &loader{t: t, e: e, clk: clk, o: newOracle(2), step: 10 * time.Second, value: dyadic, batch: 90 * time.Minute, runEvery: 3 * time.Hour}
		l.until(t0.Add(50 * time.Hour))
		l.run()
		r := l.run() // nothing new since the last run: no window
		for _, tr := range r.Tiers {
			if tr.Windows != 0 || tr.Points != 0 || tr.Read != 0 {
				t.Fatalf("a run with nothing new did work: %+v", tr)
			}
		}
		checkWindowLog(t, e, l.reports)
		// Only complete windows: the 1 h tier stops at the last hour
		// that ended, the 1 d tier at the last midnight.
		if wm, _ := e.watermark(2); wm != t0.Add(50*time.Hour).UnixMilli() {
			t.Fatalf("1h watermark %s", time.UnixMilli(wm).UTC())
		}
		if wm, _ := e.watermark(3); wm != t0.Add(48*time.Hour).UnixMilli() {
			t.Fatalf("1d watermark %s", time.UnixMilli(wm).UTC())
		}
		checkAllTiers(t, e, l.o, t0.UnixMilli())
	})
	t.Run("restart", func(t *testing.T) {
		dir := t.TempDir()
		clk := newClock(t0)
		o := newOracle(2)
		var reports []*Report
		var e *Engine
		for i := range 8 {
			e = openEngine(t, dir, clk, nil)
			l := &loader{t: t, e: e, clk: clk, o: o, step: 20 * time.Second, value: dyadic, batch: 50 * time.Minute, runEvery: 4 * time.Hour}
			l.lastRun = clk.now()
			l.until(clk.now().Add(7 * time.Hour))
			if i%2 == 0 {
				l.run()
			}
			reports = append(reports, l.reports...)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
		}
		e = openEngine(t, dir, clk, nil)
		defer e.Close()
		r, err := e.Run(ctx)
		if err != nil {
			t.Fatal(err)
		}
		reports = append(reports, r)
		checkWindowLog(t, e, reports)
		checkAllTiers(t, e, o, t0.UnixMilli())
	})
	t.Run("late-sample", func(t *testing.T) {
		dir := t.TempDir()
		clk := newClock(t0)
		e := openEngine(t, dir, clk, nil)
		l := &loader{t: t, e: e, clk: clk, o: newOracle(2), step: 10 * time.Second, value: dyadic, batch: 2 * time.Hour, runEvery: 2 * time.Hour}
		l.until(t0.Add(50 * time.Hour))
		l.run()
		// A late sample (between two regular ones) into 2024-01-02
		// 23:10, rolled up in every tier, and a second one whose
		// window is dirtied twice.
		late := []model.Sample{{T: t0.Add(47*time.Hour + 10*time.Minute + 5*time.Second).UnixMilli(), V: 5000.25}}
		if err := e.Write([]shard.Series{{Labels: l.o.lsets[1], Samples: late}}); err != nil {
			t.Fatal(err)
		}
		l.o.samples[1] = append(l.o.samples[1], late...)
		st, _ := e.Status()
		if st[1].Dirty != 1 || st[2].Dirty != 0 {
			t.Fatalf("dirty after a late sample: 1m %d, 1h %d", st[1].Dirty, st[2].Dirty)
		}
		// The mark is durable: restart before the run.
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		e = openEngine(t, dir, clk, nil)
		defer e.Close()
		l.e = e
		r := l.run()
		if r.Tiers[0].Dirty != 1 || r.Tiers[1].Dirty != 1 || r.Tiers[2].Dirty != 1 {
			t.Fatalf("recomputed 1m %d, 1h %d, 1d %d: want 1 each", r.Tiers[0].Dirty, r.Tiers[1].Dirty, r.Tiers[2].Dirty)
		}
		if r.Tiers[0].Windows != 0 {
			t.Fatalf("new windows with the clock unchanged: %+v", r.Tiers[0])
		}
		st, _ = e.Status()
		for _, s := range st {
			if s.Dirty != 0 {
				t.Fatalf("tier %s still has %d dirty windows", s.Name, s.Dirty)
			}
		}
		// Replaced, not added to: every window equals the oracle,
		// which has the late sample once.
		checkAllTiers(t, e, l.o, t0.UnixMilli())
		// A sample too late for its raw shard (ended more than
		// AcceptLate ago, so compacted and read-only) is refused.
		old := []model.Sample{{T: t0.Add(5 * time.Second).UnixMilli(), V: 1}}
		if err := e.Write([]shard.Series{{Labels: l.o.lsets[0], Samples: old}}); err == nil {
			t.Fatal("a sample 2 days late was accepted")
		}
	})
}

// TestMilestone3_QueryRouting: with raw data older than 7 days deleted,
// each part of a range is served by the finest tier that still holds it,
// the segments tile the range, and every aggregate equals the oracle's
// over the raw data of the same range, reading far fewer points.
func TestMilestone3_QueryRouting(t *testing.T) {
	clk := newClock(t0)
	e := openEngine(t, t.TempDir(), clk, nil)
	defer e.Close()
	l := &loader{t: t, e: e, clk: clk, o: newOracle(3), step: 20 * time.Second, value: dyadic, batch: 24 * time.Hour, runEvery: 24 * time.Hour}
	end := t0.Add(45*24*time.Hour + 13*time.Hour + 27*time.Minute)
	l.until(end)
	l.run()
	if _, err := e.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	now := end.UnixMilli()
	// Raw data before the retention cutoff is gone: only rollups can
	// answer for it.
	old := e.PlanTier(0, t0.UnixMilli(), now-9*24*3600*1000)
	if r, err := e.Execute(ctx, mustQuery(t, "count(cpu_usage)"), old); err != nil || r.Aggregate.Count != 0 {
		t.Fatalf("raw data older than 9 days still there: %v %v", r.Aggregate.Count, err)
	}
	cases := []struct {
		rng   time.Duration
		tiers []string
	}{
		{time.Hour, []string{"raw"}},
		{7 * 24 * time.Hour, []string{"raw"}},
		{30 * 24 * time.Hour, []string{"raw", "1m"}},
		{44 * 24 * time.Hour, []string{"raw", "1m", "1h"}},
	}
	for _, c := range cases {
		p := e.Plan(now-c.rng.Milliseconds(), now)
		var tiers []string
		for i, s := range p.Segments {
			tiers = append(tiers, s.Tier)
			if s.From >= s.To || (i > 0 && s.To != p.Segments[i-1].From) {
				t.Fatalf("%s: segments do not tile: %+v", c.rng, p.Segments)
			}
			if r := e.tiers[s.Index].Retention; r > 0 && s.From < now-r.Milliseconds() {
				t.Fatalf("%s: segment %+v older than its tier keeps", c.rng, s)
			}
			if res := e.tiers[s.Index].res(); res > 0 && (s.From%res != 0 || s.To%res != 0) {
				t.Fatalf("%s: rollup segment %+v not whole windows", c.rng, s)
			}
		}
		if !slices.Equal(tiers, c.tiers) || p.To != now || p.From > now-c.rng.Milliseconds()+3600_000 {
			t.Fatalf("%s: plan %v [%d, %d), want tiers %v", c.rng, tiers, p.From, p.To, c.tiers)
		}
		for _, qs := range []string{"avg(cpu_usage)", "sum(cpu_usage) WHERE host='server2'", "min(cpu_usage) WHERE dc='eu'", "max(cpu_usage) WHERE dc!='eu'", "count(cpu_usage)"} {
			q := mustQuery(t, qs)
			r, err := e.Execute(ctx, q, p)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := l.o.aggregate(p.From, p.To, false, q.Matchers...)
			if !sameAgg(r.Aggregate, want) || (r.Value != want.Value(q.Func) && !math.IsNaN(want.Value(q.Func))) {
				t.Fatalf("%s %s: %s, oracle %s", c.rng, qs, fmtAgg(r.Aggregate), fmtAgg(want))
			}
			points, raw := r.Points()
			if raw != want.Count {
				t.Fatalf("%s %s: raw-only would read %d, oracle has %d", c.rng, qs, raw, want.Count)
			}
			// 3 raw samples a minute: the 1 m tier reads a third, the
			// 1 h tier 1/180.
			if len(p.Segments) > 1 && points*2 > raw {
				t.Fatalf("%s %s: read %d points for %d raw", c.rng, qs, points, raw)
			}
		}
	}
}

// TestMilestone4_PercentileRollups: percentiles answered from the merged
// sketches of any mix of tiers are within the sketch's relative accuracy
// of the exact percentiles of the raw data.
func TestMilestone4_PercentileRollups(t *testing.T) {
	clk := newClock(t0)
	e := openEngine(t, t.TempDir(), clk, nil)
	defer e.Close()
	l := &loader{t: t, e: e, clk: clk, o: newOracle(2), step: 10 * time.Second, value: lognormal, batch: 12 * time.Hour, runEvery: 24 * time.Hour}
	end := t0.Add(12*24*time.Hour + 5*time.Hour)
	l.until(end)
	l.run()
	now := end.UnixMilli()
	plans := map[string]Plan{
		"routed 2d":   e.Plan(now-2*24*3600_000, now),
		"routed 12d":  e.Plan(now-12*24*3600_000, now),
		"1m only 10d": e.PlanTier(1, now-10*24*3600_000, now-24*3600_000),
		"1h only":     e.PlanTier(2, t0.UnixMilli(), t0.Add(11*24*time.Hour).UnixMilli()),
		"1d only":     e.PlanTier(3, t0.UnixMilli(), t0.Add(12*24*time.Hour).UnixMilli()),
	}
	if len(plans["routed 12d"].Segments) < 2 {
		t.Fatalf("12 days served by one tier: %+v", plans["routed 12d"])
	}
	for name, p := range plans {
		for _, f := range []string{"p50", "p90", "p99", "p99.9"} {
			for _, where := range []string{"", " WHERE host='server1'"} {
				q := mustQuery(t, f+"(cpu_usage)"+where)
				r, err := e.Execute(ctx, q, p)
				if err != nil {
					t.Fatal(err)
				}
				want, vals := l.o.aggregate(p.From, p.To, false, q.Matchers...)
				slices.Sort(vals)
				if len(vals) == 0 || r.Aggregate.Count != want.Count {
					t.Fatalf("%s %s: %d values, oracle %d", name, q.Text, r.Aggregate.Count, len(vals))
				}
				exactQ := exact(vals, q.Func.Q)
				if e := relErr(r.Value, exactQ); e > DefaultAlpha {
					t.Errorf("%s %s: %v, exact %v: error %.3f%%", name, q.Text, r.Value, exactQ, e*100)
				}
			}
		}
	}
}

// TestRetentionPerTier: each tier deletes its own shards (and sketch
// files) by its own retention, with the injected clock; the coarser tiers
// still answer for what the finer ones dropped.
func TestRetentionPerTier(t *testing.T) {
	clk := newClock(t0)
	dir := t.TempDir()
	e := openEngine(t, dir, clk, nil)
	defer e.Close()
	l := &loader{t: t, e: e, clk: clk, o: newOracle(1), step: 5 * time.Minute, value: dyadic, batch: 24 * time.Hour, runEvery: 24 * time.Hour}
	end := t0.Add(50 * 24 * time.Hour)
	l.until(end)
	l.run()
	check := func(now time.Time, wantEmpty map[string]bool) {
		t.Helper()
		dels, err := e.EnforceRetention()
		if err != nil {
			t.Fatal(err)
		}
		if len(dels) != 4 {
			t.Fatalf("%d tiers in the retention report", len(dels))
		}
		for i, tier := range e.tiers {
			infos, err := e.mgrs[i].Shards()
			if err != nil {
				t.Fatal(err)
			}
			if wantEmpty[tier.Name] != (len(infos) == 0) {
				t.Fatalf("%s: %d shards left at %s", tier.Name, len(infos), now)
			}
			for _, s := range infos {
				if tier.Retention > 0 && !s.End.After(now.Add(-tier.Retention)) {
					t.Fatalf("%s: shard %s ended %s, before the cutoff %s", tier.Name, s.ID, s.End, now.Add(-tier.Retention))
				}
			}
			for _, d := range dels[i].Shards {
				if tier.Retention == 0 || d.End.After(now.Add(-tier.Retention)) {
					t.Fatalf("%s: deleted %s (end %s) within retention", tier.Name, d.ID, d.End)
				}
			}
			if i > 0 {
				files, _ := filepath.Glob(filepath.Join(dir, tier.Name, "sketches", "*.sk"))
				for _, f := range files {
					st, ok := e.sketches[i].windowOf(filepath.Base(f[:len(f)-3]))
					if !ok || (tier.Retention > 0 && st+e.sketches[i].dur.Milliseconds() <= now.Add(-tier.Retention).UnixMilli()) {
						t.Fatalf("%s: sketch file %s outlived its shard", tier.Name, filepath.Base(f))
					}
				}
			}
		}
	}
	check(end, nil)
	// The clock is at midnight: the raw tier kept exactly 7 daily shards.
	raw, _ := e.mgrs[0].Shards()
	if len(raw) != 7 {
		t.Fatalf("raw shards after retention: %d", len(raw))
	}
	// 400 days later, with no new data: only the 1 d tier is left.
	clk.set(end.Add(400 * 24 * time.Hour))
	if _, err := e.Run(ctx); err != nil {
		t.Fatal(err)
	}
	check(clk.now(), map[string]bool{"raw": true, "1m": true, "1h": true})
	p := e.Plan(t0.UnixMilli(), end.UnixMilli())
	if len(p.Segments) != 1 || p.Segments[0].Tier != "1d" {
		t.Fatalf("plan a year later: %+v", p.Segments)
	}
	r, err := e.Execute(ctx, mustQuery(t, "avg(cpu_usage)"), p)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := l.o.aggregate(p.From, p.To, false)
	if !sameAgg(r.Aggregate, want) || want.Count != 50*288 {
		t.Fatalf("from 1d rollups: %s, oracle %s", fmtAgg(r.Aggregate), fmtAgg(want))
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err != nil {
		t.Fatal(err)
	}
}
