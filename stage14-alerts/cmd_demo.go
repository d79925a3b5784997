package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage14-alerts/clock"
	"github.com/tsdb-course/stage14-alerts/notify"
	"github.com/tsdb-course/stage14-alerts/rulefmt"
	"github.com/tsdb-course/stage14-alerts/rules"
)

// The demo's rules: the guide's HighCPU, a flapping series that `for`
// keeps quiet, 20 instances going down in two clusters, and full disks
// under a silence.
const demoRules = `groups:
  - name: demo
    interval: 15s
    rules:
      - alert: HighCPU
        expr: avg(cpu_usage) > 0.8
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "High CPU usage detected"
      - alert: FlappyLatency
        expr: api_latency_seconds > 0.5
        for: 1m
        labels:
          severity: warning
        annotations:
          summary: "API latency above 500ms"
      - alert: InstanceDown
        expr: up == 0
        for: 30s
        labels:
          severity: critical
        annotations:
          summary: "{{ $labels.instance }} in {{ $labels.cluster }} is down"
      - alert: DiskFull
        expr: disk_free_ratio < 0.05
        for: 1m
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.instance }} has {{ $value | humanizePercentage }} of its disk left"
`

// The demo's notifier: Slack and PagerDuty for the on-call team, the ops
// webhook for InstanceDown, grouped by alert and cluster. URL is the local
// server standing in for all three.
const demoNotify = `route:
  receiver: oncall
  group_by: [alertname, cluster]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['alertname="InstanceDown"']
      receiver: ops-webhook
receivers:
  - name: oncall
    slack_configs: [{api_url: 'URL/slack', channel: '#alerts', send_resolved: true}]
    pagerduty_configs: [{routing_key: demo-routing-key, url: 'URL/pagerduty'}]
  - name: ops-webhook
    webhook_configs: [{url: 'URL/webhook'}]
`

var demoStart = time.Date(2024, 1, 15, 14, 0, 0, 0, time.UTC)

// localReceivers is one HTTP server on 127.0.0.1 standing in for Slack,
// PagerDuty and a webhook, counting what each receives.
type localReceivers struct {
	srv      *http.Server
	url      string
	mu       sync.Mutex
	requests map[string]int
	webhook  []notify.WebhookMessage
}

func startLocalReceivers() (*localReceivers, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lr := &localReceivers{url: "http://" + ln.Addr().String(), requests: map[string]int{}}
	lr.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		lr.mu.Lock()
		defer lr.mu.Unlock()
		lr.requests[r.URL.Path]++
		switch r.URL.Path {
		case "/webhook":
			var m notify.WebhookMessage
			if err := json.Unmarshal(b, &m); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			lr.webhook = append(lr.webhook, m)
		case "/pagerduty":
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"status":"success","message":"Event processed"}`))
		}
	})}
	go func() { _ = lr.srv.Serve(ln) }()
	return lr, nil
}

// demoSeries are the simulated scrapes, every 15s: the numbers the demo's
// states follow from.
func demoSeries(seconds int) map[string]func(k int) (float64, bool) {
	series := map[string]func(k int) (float64, bool){
		// 0.72, then above 0.8 from 14:00:15 to 14:07:45, then 0.55.
		`cpu_usage{host="server1"}`: func(k int) (float64, bool) {
			switch {
			case k == 0:
				return 0.72, true
			case k < 32:
				return 0.85 + 0.02*float64(k%3), true
			}
			return 0.55, true
		},
		// Crosses 0.5 every scrape: pending, gone, pending, …
		`api_latency_seconds{service="api"}`: func(k int) (float64, bool) {
			return []float64{0.9, 0.2}[k%2], true
		},
	}
	for _, cl := range []string{"eu", "us"} {
		for i := 0; i < 10; i++ {
			// Up, then down from 14:02:00.
			series[fmt.Sprintf(`up{job="node",cluster=%q,instance="%s-%02d:9100"}`, cl, cl, i)] = func(k int) (float64, bool) {
				if k < 8 {
					return 1, true
				}
				return 0, true
			}
		}
	}
	for i := 0; i < 5; i++ {
		// 30% free, then 3% from 14:03:00.
		series[fmt.Sprintf(`disk_free_ratio{cluster="us",instance="db-%02d:9100"}`, i)] = func(k int) (float64, bool) {
			if k < 12 {
				return 0.3, true
			}
			return 0.03, true
		}
	}
	return series
}

// timeline records each rule's state at each evaluation.
type timeline struct {
	names  []string
	states map[string][]byte
	counts map[string]int
	first  time.Time
}

func (tl *timeline) record(g *rules.Group, ts time.Time) {
	if tl.first.IsZero() {
		tl.first = ts
	}
	for _, r := range g.AlertingRules() {
		if _, ok := tl.states[r.Name()]; !ok {
			tl.names = append(tl.names, r.Name())
		}
		c := byte('.')
		alerts := r.ActiveAlerts()
		for _, a := range alerts {
			switch {
			case a.State == rules.StateFiring:
				c = 'F'
			case a.State == rules.StatePending && c != 'F':
				c = 'p'
			}
		}
		tl.states[r.Name()] = append(tl.states[r.Name()], c)
		tl.counts[r.Name()] = max(tl.counts[r.Name()], len(alerts))
	}
}

func (tl *timeline) print(w io.Writer, step time.Duration, notes map[string]string) {
	fmt.Fprintf(w, "\nTimeline: one column per evaluation, every %s from %s   (. inactive  p pending  F firing)\n", shortDur(step), tl.first.Format(time.TimeOnly))
	label := func(n string) string {
		if c := tl.counts[n]; c > 1 {
			return fmt.Sprintf("%s x%d", n, c)
		}
		return n
	}
	width := 0
	for _, n := range tl.names {
		width = max(width, len(label(n)))
	}
	// An axis mark every 3 minutes.
	per := int(3 * time.Minute / step)
	var axis strings.Builder
	n := len(tl.states[tl.names[0]])
	for i := 0; i < n; i += per {
		mark := tl.first.Add(time.Duration(i) * step).Format("15:04")
		axis.WriteString(mark + strings.Repeat(" ", max(per-len(mark), 1)))
	}
	fmt.Fprintf(w, "%-*s  %s\n", width, "", strings.TrimRight(axis.String(), " "))
	for _, name := range tl.names {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%-*s  %s  %s", width, label(name), tl.states[name], notes[name]), " "))
	}
}

// runDemo runs the demo on a simulated clock: seconds of alerting in well
// under a second of real time.
func runDemo(w io.Writer, dataDir string, seconds int) error {
	if seconds < 60 || seconds > 24*3600 {
		return cli.Usagef("--seconds must be between 60 and 86400")
	}
	out := &lockedWriter{w: w}
	lr, err := startLocalReceivers()
	if err != nil {
		return err
	}
	defer lr.srv.Close()

	dir := dataDir
	if dir != "" {
		// The demo writes its scrapes at fixed times: a DB that already has
		// them would refuse them as out of order.
		if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
			return cli.Usagef("the demo needs a new or empty --data-dir; %s holds %d entries", dir, len(ents))
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "stage14-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	rulesFile := filepath.Join(dir, "alerts.yml")
	if err := os.WriteFile(rulesFile, []byte(demoRules), 0o644); err != nil {
		return err
	}
	nc, err := notify.LoadConfig([]byte(strings.ReplaceAll(demoNotify, "URL", lr.url)))
	if err != nil {
		return err
	}

	sim := clock.NewSim(demoStart)
	tr := newTranscript(out, nil)
	tr.only, tr.changesOnly = map[string]bool{"HighCPU": true}, true
	tl := &timeline{states: map[string][]byte{}, counts: map[string]int{}}
	e, err := openEngine(engineOpts{
		dataDir: dir, clock: sim, interval: 15 * time.Second, notifyConfig: nc, stdout: out,
		onGroupEval: func(g *rules.Group, ts time.Time) { tr.groupEvaluated(g, ts); tl.record(g, ts) },
		onNotify:    tr.notified,
	})
	if err != nil {
		return err
	}
	defer e.close()
	tr.query = e.query

	// The scrapes, written up front: an evaluation at t reads only samples
	// at or before t.
	app := e.db.Appender(nil)
	steps := seconds/15 + 1
	nSamples := 0
	for desc, f := range demoSeries(seconds) {
		l, err := parseSeries(desc)
		if err != nil {
			return err
		}
		for k := 0; k < steps; k++ {
			if v, ok := f(k); ok {
				if _, err := app.Append(0, l, demoStart.Add(time.Duration(k)*15*time.Second).UnixMilli(), v); err != nil {
					return err
				}
				nSamples++
			}
		}
	}
	if err := app.Commit(); err != nil {
		return err
	}
	ms, _ := notify.ParseMatchers(`alertname="DiskFull"`)
	silenceID, err := e.silences.Add(notify.Silence{Matchers: notify.MatchersOf(ms), EndsAt: demoStart.Add(2 * time.Hour),
		CreatedBy: "demo", Comment: "disk cleanup in progress"})
	if err != nil {
		return err
	}

	// Groups are placed in their interval by a hash of file and name: the
	// file is named without the temporary directory so that the demo
	// evaluates at the same instants on every run.
	rgs, errs := rulefmt.ParseFile(rulesFile, false)
	if errs != nil {
		return errors.Join(errs...)
	}
	var loaded []*rules.Group
	for _, rg := range rgs.Groups {
		g, err := e.mgr.NewGroup(filepath.Base(rulesFile), rg)
		if err != nil {
			return err
		}
		loaded = append(loaded, g)
	}
	e.mgr.SetGroups(loaded...)
	printLoaded(out, e.mgr, []string{rulesFile}, "", dir)
	fmt.Fprintf(out, "Simulated clock from %s, %d scrapes of %d series written; silence %s mutes alertname=\"DiskFull\"\n",
		demoStart.Format(time.DateTime), nSamples, len(demoSeries(seconds)), silenceID[:8])
	fmt.Fprintf(out, "\n$ cat %s\n%s", filepath.Base(rulesFile), firstRule(demoRules))

	began := time.Now()
	e.mgr.Start()
	sim.AdvanceTo(demoStart.Add(time.Duration(seconds) * time.Second))
	e.mgr.Stop()
	e.disp.Stop()
	took := time.Since(began)

	lr.mu.Lock()
	defer lr.mu.Unlock()
	webhookAlerts := 0
	var groups []string
	for _, m := range lr.webhook {
		webhookAlerts += len(m.Alerts)
		groups = append(groups, "cluster="+m.GroupLabels["cluster"])
	}
	slices.Sort(groups)
	g := e.mgr.Groups()[0].Status()
	notes := map[string]string{
		"FlappyLatency": "never fires: above 0.5 every other scrape, never for 1m",
		"InstanceDown":  fmt.Sprintf("%d alerts -> %d webhook notifications", webhookAlerts, len(lr.webhook)),
		"DiskFull":      "silenced: nothing sent",
	}
	tl.print(out, 15*time.Second, notes)
	fmt.Fprintf(out, "\nLocal receivers got: webhook %d notifications (%d alerts; groups %s), Slack %d, PagerDuty %d\n",
		len(lr.webhook), webhookAlerts, strings.Join(groups, " "), lr.requests["/slack"], lr.requests["/pagerduty"])
	fmt.Fprintf(out, "%d evaluations of %d rules in %s of simulated time took %s of real time\n",
		g.Evaluations, len(e.mgr.Rules()), shortDur(time.Duration(seconds)*time.Second), cli.Duration(took))
	return nil
}

// parseSeries reads `name{a="b",…}`.
func parseSeries(s string) (model.Labels, error) {
	name, rest, _ := strings.Cut(s, "{")
	pairs := []string{model.MetricName, name}
	for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			pairs = append(pairs, k, strings.Trim(v, `"`))
		}
	}
	return model.FromStrings(pairs...)
}

// firstRule is the head of the rule file up to the second rule: the
// guide's transcript shows the HighCPU rule.
func firstRule(s string) string {
	i := strings.Index(s, "      - alert: FlappyLatency")
	return s[:i] + "      …\n"
}

// lockedWriter serializes writes from the evaluation and notification
// paths.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
