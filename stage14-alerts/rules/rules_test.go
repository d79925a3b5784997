package rules_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage14-alerts/clock"
	"github.com/tsdb-course/stage14-alerts/rules"
	"github.com/tsdb-course/stage14-alerts/store"
)

const recordingRules = `groups:
  - name: rec
    interval: 1m
    rules:
      - record: job:req:sum
        expr: sum by (job) (req)
        labels:
          source: rule
      - record: job:req:double
        expr: job:req:sum * 2
      - alert: ManyReq
        expr: job:req:double > 10
`

// Rules run in order at one timestamp: the second rule reads what the first
// wrote in the same evaluation, the alert what the second wrote. A series a
// rule stops returning gets a stale marker and vanishes from queries at once.
func TestRecordingRulesInOrder(t *testing.T) {
	e := newEnv(t, recordingRules, rules.ManagerOptions{})
	e.series(`req{job="a",i="1"}`, base, time.Minute, 2, 2, 2)
	e.series(`req{job="a",i="2"}`, base, time.Minute, 3, 3, 3)
	e.series(`req{job="b",i="1"}`, base, time.Minute, 7)
	e.evalAll(base)
	if got, want := e.query(`{__name__=~"job:.*"}`, base), strings.Join([]string{
		`job:req:double{job="a", source="rule"} 10`,
		`job:req:double{job="b", source="rule"} 14`,
		`job:req:sum{job="a", source="rule"} 5`,
		`job:req:sum{job="b", source="rule"} 7`,
	}, "\n"); got != want {
		t.Errorf("recorded at 0m:\n%s\nwant:\n%s", got, want)
	}
	if got := states(alertingRule(t, e.mgr, "ManyReq")); got != "=firing" {
		t.Errorf("ManyReq %s, want one firing alert (job b, 14 > 10) in the same evaluation", got)
	}
	// b's input ends with a stale marker at 1m: its sums end with one too.
	l, _ := parseLabels(`req{job="b",i="1"}`)
	if err := e.mem.St.Append(l, at(time.Minute).UnixMilli(), promql.StaleNaN); err != nil {
		t.Fatal(err)
	}
	e.evalAll(at(time.Minute))
	if got, want := e.query(`{__name__=~"job:.*"}`, at(time.Minute)), strings.Join([]string{
		`job:req:double{job="a", source="rule"} 10`,
		`job:req:sum{job="a", source="rule"} 5`,
	}, "\n"); got != want {
		t.Errorf("recorded at 1m:\n%s\nwant:\n%s", got, want)
	}
	// Without the stale marker the old value would linger for 5 minutes.
	if got := e.query(`count_over_time(job:req:sum{job="b"}[10m])`, at(2*time.Minute)); got != `{job="b", source="rule"} 1` {
		t.Errorf("job b samples: %q, want 1 (the stale marker is not a sample)", got)
	}
	rs := e.mgr.Rules()[0].Status()
	if rs.Health != rules.HealthGood || rs.Samples != 1 || rs.Evaluations != 2 {
		t.Errorf("job:req:sum status %+v", rs)
	}
}

func TestRuleErrorsAndLimits(t *testing.T) {
	e := newEnv(t, `groups:
  - name: errs
    interval: 1m
    rules:
      - record: manyToMany
        expr: req + on() req
      - alert: Dup
        expr: req > 0
        labels:
          i: x
      - alert: NotVector
        expr: req[5m]
      - record: fine
        expr: sum(req)
  - name: limited
    interval: 1m
    limit: 1
    rules:
      - alert: TooMany
        expr: req > 0
      - record: tooManySeries
        expr: req
`, rules.ManagerOptions{})
	e.series(`req{job="a",i="1"}`, base, time.Minute, 2)
	e.series(`req{job="a",i="2"}`, base, time.Minute, 3)
	e.evalAll(base)
	want := map[string]string{
		"Dup":           rules.ErrDuplicateAlertLabelSet.Error(),
		"NotVector":     rules.ErrNotVector.Error(),
		"TooMany":       "exceeded limit of 1 with 2 alerts",
		"tooManySeries": "exceeded limit of 1 with 2 series",
		"fine":          "",
	}
	for _, r := range e.mgr.Rules() {
		st := r.Status()
		if r.Name() == "manyToMany" {
			if st.Health != rules.HealthBad || st.LastError == nil || !strings.Contains(st.LastError.Error(), "many-to-many") {
				t.Errorf("manyToMany: %+v", st)
			}
			continue
		}
		w, ok := want[r.Name()]
		if !ok {
			t.Fatalf("unexpected rule %s", r.Name())
		}
		got := ""
		if st.LastError != nil {
			got = st.LastError.Error()
		}
		if got != w || (w == "") != (st.Health == rules.HealthGood) || (w != "" && st.Failures != 1) {
			t.Errorf("%s: error %q health %s failures %d; want %q", r.Name(), got, st.Health, st.Failures, w)
		}
	}
	gs := e.mgr.Groups()
	if gs[0].Status().RuleFailures != 3 || gs[1].Status().RuleFailures != 2 {
		t.Errorf("group failures %d, %d; want 3, 2", gs[0].Status().RuleFailures, gs[1].Status().RuleFailures)
	}
	if got := e.query("fine", base); got != "fine 5" {
		t.Errorf("a failing rule stopped the group: fine = %q", got)
	}
}

// query_offset evaluates a group's queries (and timestamps its results) that
// far in the past, for data that arrives late.
func TestQueryOffset(t *testing.T) {
	e := newEnv(t, `groups:
  - name: late
    interval: 1m
    query_offset: 2m
    rules:
      - record: seen
        expr: req
`, rules.ManagerOptions{})
	e.series(`req`, base, time.Minute, 0, 1, 2, 3, 4, 5)
	e.evalAll(at(5 * time.Minute))
	if got := e.query(`timestamp(seen)`, at(5*time.Minute)); got != `{} `+promql.FormatValue(float64(at(3*time.Minute).Unix())) {
		t.Errorf("timestamp(seen) %q, want 3m", got)
	}
	if got := e.query(`seen`, at(5*time.Minute)); got != "seen 3" {
		t.Errorf("seen %q, want the value at 3m", got)
	}
}

// recordingQuery wraps a QueryFunc and notes the evaluation times.
type recordingQuery struct {
	mu    sync.Mutex
	inner rules.QueryFunc
	times map[string][]time.Time
}

func (r *recordingQuery) query(ctx context.Context, q string, ts time.Time) (promql.Vector, error) {
	r.mu.Lock()
	r.times[q] = append(r.times[q], ts)
	r.mu.Unlock()
	return r.inner(ctx, q, ts)
}

// Started on a simulated clock, each group evaluates at its own interval,
// at slots that are exactly interval apart and offset within it by the
// group's hash, the same for a manager started at another time; alerting
// rules start writing ALERTS once the state is restored after the second
// evaluation.
func TestScheduleOnSimulatedClock(t *testing.T) {
	file := writeFile(t, "rules.yml", `groups:
  - name: fast
    interval: 15s
    rules:
      - record: fast_copy
        expr: vector(1)
  - name: slow
    interval: 1m
    rules:
      - alert: Always
        expr: vector(1)
`)
	run := func(start time.Time, d time.Duration) (map[string][]time.Time, *rules.Manager, *env) {
		sim := clock.NewSim(start)
		e := &env{t: t, eng: promql.NewEngine(promql.Opts{})}
		e.mem = store.NewMemory()
		rq := &recordingQuery{inner: rules.EngineQueryFunc(e.eng, e.mem), times: map[string][]time.Time{}}
		m, err := rules.NewManager(rules.ManagerOptions{Query: rq.query, Appendable: e.mem, Queryable: e.mem, Clock: sim})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Update(file); err != nil {
			t.Fatal(err)
		}
		m.Start()
		sim.Advance(d)
		m.Stop()
		return rq.times, m, e
	}
	times, m, e := run(base, 10*time.Minute)
	evals := times["vector(1)"] // both groups query vector(1)
	gs := m.Groups()
	if gs[0].Name() != "fast" || gs[1].Name() != "slow" {
		t.Fatalf("groups %s %s", gs[0].Name(), gs[1].Name())
	}
	for _, g := range gs {
		st := g.Status()
		iv := g.Interval()
		// In 10 minutes from the start: the first slot after the start,
		// then every interval: 10m/iv evaluations (the start is not a
		// slot unless offset 0, in which case the first is start+iv).
		if want := int64(10 * time.Minute / iv); st.Evaluations != want {
			t.Errorf("%s: %d evaluations in 10m, want %d", g.Name(), st.Evaluations, want)
		}
		if off := st.LastEvaluation.Sub(st.LastEvaluation.Truncate(iv)); off < 0 || off >= iv {
			t.Errorf("%s: slot offset %v outside [0, %v)", g.Name(), off, iv)
		}
		if st.LastEvaluation.After(base.Add(10*time.Minute)) || !st.LastEvaluation.After(base.Add(10*time.Minute-iv)) {
			t.Errorf("%s: last evaluation %v, want the last slot before 10m", g.Name(), st.LastEvaluation)
		}
	}
	// All evaluations of vector(1): fast every 15s and slow every 1m, at
	// fixed offsets; every time is one group's slot.
	fastOff := gs[0].Status().LastEvaluation.Sub(gs[0].Status().LastEvaluation.Truncate(15 * time.Second))
	slowOff := gs[1].Status().LastEvaluation.Sub(gs[1].Status().LastEvaluation.Truncate(time.Minute))
	nFast, nSlow := 0, 0
	for _, ts := range evals {
		switch {
		case ts.Sub(ts.Truncate(15*time.Second)) == fastOff:
			nFast++
		case ts.Sub(ts.Truncate(time.Minute)) == slowOff:
			nSlow++
		default:
			t.Errorf("evaluation at %v is no group's slot", ts)
		}
	}
	if nFast != 40 || nSlow != 10 {
		t.Errorf("%d fast and %d slow evaluations, want 40 and 10", nFast, nSlow)
	}
	// ALERTS: written from the third evaluation on (after the restore).
	end := gs[1].Status().LastEvaluation
	if got := e.query(`count_over_time(ALERTS{alertname="Always"}[1h])`, end); got != `{alertname="Always", alertstate="firing"} 8` {
		t.Errorf("ALERTS samples %q, want 8 (10 evaluations, the first two before the restore)", got)
	}

	// A manager started later evaluates at the same offsets.
	_, m2, _ := run(base.Add(7*time.Hour+13*time.Second), 5*time.Minute)
	for i, g := range m2.Groups() {
		iv := g.Interval()
		off := g.Status().LastEvaluation.Sub(g.Status().LastEvaluation.Truncate(iv))
		if want := []time.Duration{fastOff, slowOff}[i]; off != want {
			t.Errorf("%s: offset %v after a later start, want %v", g.Name(), off, want)
		}
	}
}

// A reload keeps what unchanged rules learned (a pending alert keeps its
// start, so it fires on time). The series of a rule removed from a group end
// with stale markers at the group's next evaluation; those of a removed
// group two intervals later, time for a renamed group to take them over.
func TestReloadKeepsState(t *testing.T) {
	v1 := `groups:
  - name: g
    interval: 1m
    rules:
      - alert: A
        expr: up == 0
        for: 5m
      - alert: B
        expr: up == 0
  - name: removed
    interval: 1m
    rules:
      - alert: D
        expr: up == 0
`
	v2 := `groups:
  - name: g
    interval: 1m
    rules:
      - alert: A
        expr: up == 0
        for: 5m
      - alert: C
        expr: up == 0
`
	file := writeFile(t, "rules.yml", v1)
	// Start on a slot boundary of the group so the expectations are round.
	probe := store.NewMemory()
	pm, _ := rules.NewManager(rules.ManagerOptions{Query: rules.EngineQueryFunc(promql.NewEngine(promql.Opts{}), probe)})
	if err := pm.Update(file); err != nil {
		t.Fatal(err)
	}
	start := pm.Groups()[0].EvalTimestamp(base)
	if pm.Groups()[0].Name() != "g" {
		t.Fatalf("first group %s", pm.Groups()[0].Name())
	}
	sim := clock.NewSim(start)
	mem := store.NewMemory()
	eng := promql.NewEngine(promql.Opts{})
	m, err := rules.NewManager(rules.ManagerOptions{Query: rules.EngineQueryFunc(eng, mem), Appendable: mem, Queryable: mem, Clock: sim})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Update(file); err != nil {
		t.Fatal(err)
	}
	l, _ := parseLabels("up")
	for i := 0; i <= 30; i++ {
		if err := mem.St.Append(l, start.Add(time.Duration(i)*30*time.Second).UnixMilli(), 0); err != nil {
			t.Fatal(err)
		}
	}
	m.Start()
	defer m.Stop()
	sim.Advance(3 * time.Minute) // evaluations at +1m, +2m, +3m
	a := alertingRule(t, m, "A")
	if as := a.ActiveAlerts(); len(as) != 1 || !as[0].ActiveAt.Equal(start.Add(time.Minute)) || as[0].State != rules.StatePending {
		t.Fatalf("before the reload: %+v", as)
	}
	if err := writeInto(file, v2); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	a = alertingRule(t, m, "A") // the new rule object
	if as := a.ActiveAlerts(); len(as) != 1 || !as[0].ActiveAt.Equal(start.Add(time.Minute)) {
		t.Fatalf("after the reload A lost its state: %+v", as)
	}
	sim.Advance(3 * time.Minute) // +4m .. +6m: fires at +6m (5m after +1m)
	if as := a.ActiveAlerts(); len(as) != 1 || as[0].State != rules.StateFiring || !as[0].FiredAt.Equal(start.Add(6*time.Minute)) {
		t.Errorf("A after the reload: %+v, want firing since +6m", as)
	}
	q := func(expr string, at time.Time) string {
		v, err := eng.Query(context.Background(), mem.St, expr, at)
		if err != nil {
			t.Fatal(err)
		}
		return v.String()
	}
	// B and D wrote ALERTS until +3m. B's group evaluates again at +4m
	// and ends it; D's group is gone, its series end at +5m. Until its
	// stale marker, lookback still shows a series.
	for _, c := range []struct {
		name    string
		at      time.Duration
		present bool
	}{
		{"B", 3*time.Minute + 30*time.Second, true},
		{"B", 4*time.Minute + 30*time.Second, false},
		{"D", 4*time.Minute + 30*time.Second, true},
		{"D", 5*time.Minute + 30*time.Second, false},
	} {
		got := q(`ALERTS{alertname="`+c.name+`"}`, start.Add(c.at))
		if (got != "") != c.present {
			t.Errorf("ALERTS of %s at +%v: %q, want present=%v", c.name, c.at, got, c.present)
		}
	}
	if got := q(`ALERTS{alertname="C"}`, start.Add(6*time.Minute)); !strings.Contains(got, `alertname="C"`) {
		t.Errorf("C not evaluated after the reload: %q", got)
	}
}

func writeInto(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }

// The API shapes are Prometheus's: the expected JSON is written by hand
// from Prometheus's documentation of /api/v1/rules and /api/v1/alerts.
func TestAPIShapes(t *testing.T) {
	e := newEnv(t, `groups:
  - name: system
    interval: 15s
    rules:
      - record: job:cpu:avg
        expr: avg by (job) (cpu_usage)
      - alert: HighCPU
        expr: job:cpu:avg > 0.8
        for: 1m
        keep_firing_for: 30s
        labels:
          severity: warning
        annotations:
          summary: high
`, rules.ManagerOptions{})
	e.series(`cpu_usage{job="web"}`, base, 15*time.Second, 0.9, 0.9)
	e.evalAll(base)
	e.evalAll(at(15 * time.Second))
	got, err := json.Marshal(e.mgr.RuleDiscovery(rules.RuleFilter{}))
	if err != nil {
		t.Fatal(err)
	}
	rd := e.mgr.Rules()[0].Status().EvaluationTime.Seconds()
	ad := e.mgr.Rules()[1].Status().EvaluationTime.Seconds()
	gd := e.mgr.Groups()[0].Status().EvaluationTime.Seconds()
	want := `{"groups":[{"name":"system","file":"` + e.mgr.Groups()[0].File() + `","rules":[` +
		`{"name":"job:cpu:avg","query":"avg by (job) (cpu_usage)","labels":{},"health":"ok","evaluationTime":` + num(rd) +
		`,"lastEvaluation":"2024-01-15T14:00:15Z","type":"recording"},` +
		`{"state":"pending","name":"HighCPU","query":"job:cpu:avg \u003e 0.8","duration":60,"keepFiringFor":30,` +
		`"labels":{"severity":"warning"},"annotations":{"summary":"high"},"alerts":[{"labels":{"alertname":"HighCPU","job":"web","severity":"warning"},` +
		`"annotations":{"summary":"high"},"state":"pending","activeAt":"2024-01-15T14:00:00Z","value":"9e-01"}],` +
		`"health":"ok","evaluationTime":` + num(ad) + `,"lastEvaluation":"2024-01-15T14:00:15Z","type":"alerting"}],` +
		`"interval":15,"limit":0,"evaluationTime":` + num(gd) + `,"lastEvaluation":"2024-01-15T14:00:15Z"}]}`
	if string(got) != want {
		t.Errorf("rules:\n%s\nwant:\n%s", got, want)
	}
	got, _ = json.Marshal(e.mgr.AlertDiscovery())
	if want := `{"alerts":[{"labels":{"alertname":"HighCPU","job":"web","severity":"warning"},"annotations":{"summary":"high"},` +
		`"state":"pending","activeAt":"2024-01-15T14:00:00Z","value":"9e-01"}]}`; string(got) != want {
		t.Errorf("alerts:\n%s\nwant:\n%s", got, want)
	}
	got, _ = json.Marshal(e.mgr.RuleDiscovery(rules.RuleFilter{Type: "record"}))
	if !strings.Contains(string(got), `"type":"recording"`) || strings.Contains(string(got), `"type":"alerting"`) {
		t.Errorf("type=record: %s", got)
	}
}

func num(f float64) string { b, _ := json.Marshal(f); return string(b) }
