package rules_test

import (
	"context"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage14-alerts/rules"
	"github.com/tsdb-course/stage14-alerts/store"
)

const restoreRules = `groups:
  - name: restore
    interval: 1m
    rules:
      - alert: Busy
        expr: load > 0
        for: 30m
      - alert: FiringBefore
        expr: load > 0
        for: 3m
      - alert: ShortPending
        expr: load > 0
        for: 8m
      - alert: NearlyDone
        expr: load > 0
        for: 12m
`

// A manager that evaluated from 0m to 5m stops; after an outage a new one
// (on the same stage06 directory, reopened) evaluates at 8m and 9m and then
// restores from ALERTS_FOR_STATE. Each rule lands in one of the cases of
// RestoreForState; the fire times were worked out by hand (grace period
// 10m, the default).
func TestRestoreForState(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, "rules.yml", restoreRules)
	open := func() *tsdb.DB {
		db, err := tsdb.Open(dir, tsdb.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	newMgr := func(db *tsdb.DB, markRestored bool) *rules.Manager {
		st := store.NewTSDB(db)
		m, err := rules.NewManager(rules.ManagerOptions{
			Query:      rules.EngineQueryFunc(promql.NewEngine(promql.Opts{}), st),
			Appendable: st,
			Queryable:  st,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Update(file); err != nil {
			t.Fatal(err)
		}
		if markRestored {
			for _, r := range m.AlertingRules() {
				r.SetRestored(true)
			}
		}
		return m
	}
	eval := func(m *rules.Manager, minute int) {
		for _, g := range m.Groups() {
			g.Eval(context.Background(), at(time.Duration(minute)*time.Minute))
		}
	}

	db := open()
	app := db.Appender(context.Background())
	load := model.MustFromStrings("__name__", "load")
	for _, minute := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 80, 81} {
		if _, err := app.Append(0, load, at(time.Duration(minute)*time.Minute).UnixMilli(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}

	a := newMgr(db, true) // the first manager ever: nothing to restore
	for m := 0; m <= 5; m++ {
		eval(a, m)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open()
	b := newMgr(db, false)
	eval(b, 8)
	eval(b, 9)
	for _, r := range b.AlertingRules() {
		if r.Restored() {
			t.Fatalf("%s restored before RestoreForState", r.Name())
		}
	}
	if err := b.Groups()[0].RestoreForState(context.Background(), at(9*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Expected ActiveAt after the restore (ts 9m, down at 5m, active since 0m):
	//   Busy         30m hold, 25m left >= grace: shifted by 9m-5m = 4m
	//   FiringBefore  3m hold, had fired: kept at 0m, fires at 10m
	//   ShortPending  8m hold < grace: starts over from 8m
	//   NearlyDone   12m hold, 7m left < grace: 9m + 10m - 12m = 7m
	wantActive := map[string]time.Duration{"Busy": 4 * time.Minute, "FiringBefore": 0, "ShortPending": 8 * time.Minute, "NearlyDone": 7 * time.Minute}
	wantFire := map[string]int{"Busy": 34, "FiringBefore": 10, "ShortPending": 16, "NearlyDone": 19}
	for _, r := range b.AlertingRules() {
		as := r.ActiveAlerts()
		if len(as) != 1 || !as[0].ActiveAt.Equal(at(wantActive[r.Name()])) {
			t.Errorf("%s: active %+v, want ActiveAt %v", r.Name(), as, wantActive[r.Name()])
		}
	}
	fired := map[string]int{}
	for m := 10; m <= 36; m++ {
		eval(b, m)
		for _, r := range b.AlertingRules() {
			if _, ok := fired[r.Name()]; !ok && r.State() == rules.StateFiring {
				fired[r.Name()] = m
			}
		}
	}
	for name, want := range wantFire {
		if fired[name] != want {
			t.Errorf("%s fired at %dm, want %dm", name, fired[name], want)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Beyond the outage tolerance nothing is found: the last manager's
	// ALERTS_FOR_STATE ended at 36m, 45m before 81m. The default tolerance
	// (1h) would reach it; 40m does not, so every countdown starts over at
	// 80m.
	db = open()
	defer db.Close()
	st := store.NewTSDB(db)
	c, err := rules.NewManager(rules.ManagerOptions{
		Query:           rules.EngineQueryFunc(promql.NewEngine(promql.Opts{}), st),
		Appendable:      st,
		Queryable:       st,
		OutageTolerance: 40 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Update(file); err != nil {
		t.Fatal(err)
	}
	eval(c, 80)
	eval(c, 81)
	if err := c.Groups()[0].RestoreForState(context.Background(), at(81*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, r := range c.AlertingRules() {
		as := r.ActiveAlerts()
		if len(as) != 1 || !as[0].ActiveAt.Equal(at(80*time.Minute)) || !r.Restored() {
			t.Errorf("%s after a 45m outage with 40m tolerance: %+v, want a fresh start at 80m", r.Name(), as)
		}
	}
}
