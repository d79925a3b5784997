package rules_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage14-alerts/rules"
	"github.com/tsdb-course/stage14-alerts/store"
)

// base is the guide's transcript's first evaluation, 14:00:00.
var base = time.Date(2024, 1, 15, 14, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// env is a manager over an in-memory store.
type env struct {
	t    *testing.T
	mem  *store.Memory
	eng  *promql.Engine
	mgr  *rules.Manager
	sent *sentLog
}

// sentLog records what the manager hands to its notifier.
type sentLog struct {
	mu     sync.Mutex
	alerts []rules.Alert
}

func (s *sentLog) notify(_ context.Context, _ string, as ...*rules.Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range as {
		s.alerts = append(s.alerts, *a)
	}
}

func (s *sentLog) take() []rules.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.alerts
	s.alerts = nil
	return out
}

func newEnv(t *testing.T, ruleFile string, opts rules.ManagerOptions) *env {
	t.Helper()
	e := &env{t: t, mem: store.NewMemory(), eng: promql.NewEngine(promql.Opts{}), sent: &sentLog{}}
	if opts.Query == nil {
		opts.Query = rules.EngineQueryFunc(e.eng, e.mem)
	}
	if opts.Appendable == nil {
		opts.Appendable = e.mem
	}
	if opts.Queryable == nil {
		opts.Queryable = e.mem
	}
	if opts.Notify == nil {
		opts.Notify = e.sent.notify
	}
	m, err := rules.NewManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.mgr = m
	if err := m.Update(writeFile(t, "rules.yml", ruleFile)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	// Evaluated by hand, as promtool does: nothing to restore first.
	for _, r := range m.AlertingRules() {
		r.SetRestored(true)
	}
	return e
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// series appends values every step from start ("_" in vals is no sample).
func (e *env) series(metric string, start time.Time, step time.Duration, vals ...float64) {
	e.t.Helper()
	l, err := parseLabels(metric)
	if err != nil {
		e.t.Fatal(err)
	}
	for i, v := range vals {
		if v != v { // NaN: a gap
			continue
		}
		if err := e.mem.St.Append(l, start.Add(time.Duration(i)*step).UnixMilli(), v); err != nil {
			e.t.Fatal(err)
		}
	}
}

func parseLabels(s string) (model.Labels, error) {
	name, rest, _ := strings.Cut(s, "{")
	pairs := []string{"__name__", name}
	rest = strings.TrimSuffix(rest, "}")
	for _, kv := range strings.Split(rest, ",") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		pairs = append(pairs, strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`))
	}
	return model.FromStrings(pairs...)
}

// evalAll evaluates every group once at ts, as the manager's schedule
// would at that slot.
func (e *env) evalAll(ts time.Time) {
	for _, g := range e.mgr.Groups() {
		g.Eval(context.Background(), ts)
	}
}

// query runs an instant query and prints the result one "labels value" per
// line, sorted.
func (e *env) query(q string, ts time.Time) string {
	e.t.Helper()
	v, err := e.eng.Query(context.Background(), e.mem.St, q, ts)
	if err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	var lines []string
	switch v := v.(type) {
	case promql.Vector:
		for _, s := range v {
			lines = append(lines, promql.MetricString(s.Metric)+" "+promql.FormatValue(s.F))
		}
	case promql.Scalar:
		lines = append(lines, promql.FormatValue(v.V))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// states prints the rule's alerts as "labels=state" sorted, or "-".
func states(r *rules.AlertingRule) string {
	var out []string
	for _, a := range r.ActiveAlerts() {
		out = append(out, a.Labels.Get("host")+"="+a.State.String())
	}
	if len(out) == 0 {
		return "-"
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func alertingRule(t *testing.T, m *rules.Manager, name string) *rules.AlertingRule {
	t.Helper()
	for _, r := range m.AlertingRules() {
		if r.Name() == name {
			return r
		}
	}
	t.Fatalf("no alerting rule %s", name)
	return nil
}
