package rules_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage14-alerts/clock"
	"github.com/tsdb-course/stage14-alerts/notify"
	"github.com/tsdb-course/stage14-alerts/rules"
	"github.com/tsdb-course/stage14-alerts/store"
)

// benchRuleFile writes jobs groups of 10 rules each (5 recording, 5
// alerting, the usual per-service set) for jobs job00, job01, ….
func benchRuleFile(tb testing.TB, dir string, jobs int) string {
	var b strings.Builder
	b.WriteString("groups:\n")
	for j := 0; j < jobs; j++ {
		job := fmt.Sprintf("job%02d", j)
		fmt.Fprintf(&b, `  - name: %[1]s
    interval: 15s
    rules:
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total{job="%[1]s"}[5m]))
      - record: job:http_errors:rate5m
        expr: sum by (job) (rate(http_requests_total{job="%[1]s", code="500"}[5m]))
      - record: job:cpu:avg
        expr: avg by (job) (cpu{job="%[1]s"})
      - record: instance:cpu:max5m
        expr: max_over_time(cpu{job="%[1]s"}[5m])
      - record: job:up:ratio
        expr: avg by (job) (up{job="%[1]s"})
      - alert: HighErrorRate
        expr: job:http_errors:rate5m{job="%[1]s"} / job:http_requests:rate5m{job="%[1]s"} > 0.05
        for: 5m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }} errors at {{ $value | humanizePercentage }}"}
      - alert: HighCPU
        expr: job:cpu:avg{job="%[1]s"} > 0.8
        for: 10m
        labels: {severity: warning}
      - alert: InstanceDown
        expr: up{job="%[1]s"} == 0
        for: 1m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.instance }} of {{ $labels.job }} is down"}
      - alert: CPUSpike
        expr: instance:cpu:max5m{job="%[1]s"} > 0.95
        for: 2m
        labels: {severity: warning}
      - alert: TrafficDrop
        expr: job:http_requests:rate5m{job="%[1]s"} < 1
        for: 5m
        labels: {severity: warning}
`, job)
	}
	p := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// benchData writes 10,000 series (100 jobs × 25 instances × cpu, up and two
// http_requests_total counters) every 15s for 2h into a stage06 DB.
func benchData(tb testing.TB, db *tsdb.DB, start time.Time) {
	rng := rand.New(rand.NewPCG(14, 14))
	var series []model.Labels
	for j := 0; j < 100; j++ {
		for i := 0; i < 25; i++ {
			job, inst := fmt.Sprintf("job%02d", j), fmt.Sprintf("10.0.%d.%d:9100", j, i)
			series = append(series,
				model.MustFromStrings("__name__", "cpu", "job", job, "instance", inst),
				model.MustFromStrings("__name__", "up", "job", job, "instance", inst),
				model.MustFromStrings("__name__", "http_requests_total", "job", job, "instance", inst, "code", "200"),
				model.MustFromStrings("__name__", "http_requests_total", "job", job, "instance", inst, "code", "500"))
		}
	}
	counters := make([]float64, len(series))
	for step := 0; step < 480; step++ {
		app := db.Appender(context.Background())
		t := start.Add(time.Duration(step) * 15 * time.Second).UnixMilli()
		for k, l := range series {
			var v float64
			switch l.Name() {
			case "cpu":
				v = rng.Float64()
			case "up":
				v = 1
				if rng.IntN(200) == 0 {
					v = 0
				}
			default:
				counters[k] += float64(rng.IntN(100))
				v = counters[k]
			}
			if _, err := app.Append(0, l, t, v); err != nil {
				tb.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			tb.Fatal(err)
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRound: one evaluation of 1,000 rules (100 groups of 10) over
// 10,000 series in a stage06 DB, writing results and ALERTS back. The
// target is 1.5 s of CPU per round (10 % of a core at a 15s interval).
func BenchmarkRound(b *testing.B) {
	dir := b.TempDir()
	db, err := tsdb.Open(filepath.Join(dir, "db"), tsdb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Date(2024, 1, 15, 12, 0, 0, 0, time.UTC)
	benchData(b, db, start)
	st := store.NewTSDB(db)
	m, err := rules.NewManager(rules.ManagerOptions{
		Query: rules.EngineQueryFunc(promql.NewEngine(promql.Opts{}), st), Appendable: st, Queryable: st,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Update(benchRuleFile(b, dir, 100)); err != nil {
		b.Fatal(err)
	}
	for _, r := range m.AlertingRules() {
		r.SetRestored(true)
	}
	groups := m.Groups()
	if n := len(m.Rules()); n != 1000 {
		b.Fatalf("%d rules", n)
	}
	round := func(ts time.Time) {
		for _, g := range groups {
			g.Eval(context.Background(), ts)
		}
	}
	// One round first: recording rules' series exist from then on.
	round(start.Add(time.Hour))
	var samples int
	for _, g := range groups {
		samples += g.Status().Samples
	}
	for _, r := range m.Rules() {
		if err := r.Status().LastError; err != nil {
			b.Fatalf("%s: %v", r.Name(), err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		round(start.Add(time.Hour + time.Duration(i+1)*15*time.Second))
	}
	b.ReportMetric((cpuTime()-c0).Seconds()/float64(b.N), "cpu-s/round")
	b.ReportMetric(float64(samples), "samples/round")
	b.ReportMetric(1000, "rules")
}

// BenchmarkLoad10000Rules: reading, validating and building 10,000 rules
// (1,000 groups). The target is 1 s.
func BenchmarkLoad10000Rules(b *testing.B) {
	file := benchRuleFile(b, b.TempDir(), 1000)
	m, err := rules.NewManager(rules.ManagerOptions{Query: func(context.Context, string, time.Time) (promql.Vector, error) { return nil, nil }})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		groups, errs := m.LoadGroups(file)
		if errs != nil || len(groups) != 1000 {
			b.Fatalf("%d groups, %v", len(groups), errs)
		}
	}
	b.ReportMetric(10000, "rules")
}

// BenchmarkFireToWebhook: from the evaluation in which a rule starts to
// fire to a webhook on 127.0.0.1 receiving the notification, on the wall
// clock, with group_wait 100ms. The target is group_wait + 50 ms: the
// metric is the time beyond group_wait.
func BenchmarkFireToWebhook(b *testing.B) {
	got := make(chan time.Time, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- time.Now() }))
	defer hook.Close()
	const wait = 100 * time.Millisecond
	cfg, err := notify.LoadConfig([]byte("route: {receiver: r, group_by: [alertname, instance], group_wait: 100ms}\nreceivers: [{name: r, webhook_configs: [{url: '" + hook.URL + "'}]}]\n"))
	if err != nil {
		b.Fatal(err)
	}
	d, err := notify.NewDispatcher(cfg, notify.DispatcherOptions{Clock: clock.Real()})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Stop()
	mem := store.NewMemory()
	m, err := rules.NewManager(rules.ManagerOptions{
		Query: rules.EngineQueryFunc(promql.NewEngine(promql.Opts{}), mem), Appendable: mem,
		Notify: rules.SendAlerts(d, "http://bench"),
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Update(writeFile(b, "rules.yml", "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Down\n        expr: up == 0\n")); err != nil {
		b.Fatal(err)
	}
	g := m.Groups()[0]
	g.AlertingRules()[0].SetRestored(true)
	var over []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := time.Now()
		// A new instance goes down: a new alert, a new group.
		l := model.MustFromStrings("__name__", "up", "instance", fmt.Sprintf("i%d", i))
		if err := mem.St.Append(l, now.UnixMilli(), 0); err != nil {
			b.Fatal(err)
		}
		fired := time.Now()
		g.Eval(context.Background(), now)
		select {
		case at := <-got:
			over = append(over, at.Sub(fired)-wait)
		case <-time.After(10 * time.Second):
			b.Fatal("no webhook within 10s")
		}
	}
	b.StopTimer()
	slices.Sort(over)
	b.ReportMetric(float64(over[len(over)/2])/1e6, "ms-over-group_wait-median")
	b.ReportMetric(float64(over[len(over)-1])/1e6, "ms-over-group_wait-max")
}
