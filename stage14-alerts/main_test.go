package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

func capture(args ...string) (string, string, int) {
	return cli.Capture(func(a []string, o, e io.Writer) int { return run(a, strings.NewReader(""), o, e) }, args...)
}

// The demo's story, checked against the series it writes (cmd_demo.go's
// demoSeries): HighCPU pending from the first scrape above 0.8 and firing
// 5m later, then resolved; the flapping rule never fires; 20 instances make
// 2 webhook notifications; the silenced alerts send nothing.
func TestDemo(t *testing.T) {
	out, errOut, code := capture()
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// HighCPU's evaluations, in order.
	re := regexp.MustCompile(`(?s)\[Evaluation at (\d\d:\d\d:\d\d)\]\nRule "HighCPU": avg\(cpu_usage\) = 0.72 \(below the 0.8 threshold\)\nState: inactive\n` +
		`.*\[Evaluation at (\d\d:\d\d:\d\d)\]\nRule "HighCPU": avg\(cpu_usage\) = 0\.8\d+ \(above the 0.8 threshold!\)\nState: pending \(for: 0s of 5m\)\n` +
		`.*\[Evaluation at (\d\d:\d\d:\d\d)\]\nRule "HighCPU": avg\(cpu_usage\) = 0\.8\d+ \(above the 0.8 threshold\)\nState: firing \(for: 5m >= 5m\)\n` +
		`ALERT FIRED: HighCPU\n  Labels: \{alertname=HighCPU, severity=warning\}\n  Annotations: \{summary="High CPU usage detected"\}\n` +
		`  Firing since: 2024-01-15 (\d\d:\d\d:\d\d) \(active since (\d\d:\d\d:\d\d)\)\n` +
		`.*\[Evaluation at (\d\d:\d\d:\d\d)\]\nRule "HighCPU": avg\(cpu_usage\) = 0.55 \(below the 0.8 threshold\)\nState: inactive\n`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("HighCPU's story not in the demo output:\n%s", out)
	}
	tm := func(s string) time.Time { v, _ := time.Parse(time.TimeOnly, s); return v }
	first, pending, firing, since, active, resolved := tm(m[1]), tm(m[2]), tm(m[3]), tm(m[4]), tm(m[5]), tm(m[6])
	// Scrapes are every 15s from 14:00:00 and evaluations every 15s at the
	// group's offset: the first sees 0.72 (the 14:00:00 scrape), the next
	// the first value above 0.8; firing 5m later; 0.55 from 14:08:00.
	if first.Minute() != 0 || first.Second() >= 15 || pending.Sub(first) != 15*time.Second ||
		firing.Sub(pending) != 5*time.Minute || !since.Equal(firing) || !active.Equal(pending) ||
		resolved.Sub(first) != 8*time.Minute {
		t.Errorf("times: first %v pending %v firing %v (since %v, active %v) resolved %v", m[1], m[2], m[3], m[4], m[5], m[6])
	}
	for _, want := range []string{
		"Slack #alerts: ⚠️ HighCPU - High CPU usage detected",
		"Slack #alerts: ✅ HighCPU - High CPU usage detected",
		"PagerDuty: Triggered incident",
		"PagerDuty: Resolved incident",
		"[FIRING:10] InstanceDown eu (node critical) (10 alerts)",
		"[FIRING:10] InstanceDown us (node critical) (10 alerts)",
		"Local receivers got: webhook 2 notifications (20 alerts; groups cluster=eu cluster=us), Slack 2, PagerDuty 2",
		"48 evaluations of 4 rules in 12m of simulated time",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	// The timeline: FlappyLatency alternates and never fires; DiskFull
	// fires but is silenced; InstanceDown is 20 alerts.
	rows := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == "HighCPU" || f[0] == "FlappyLatency" || f[0] == "InstanceDown" || f[0] == "DiskFull") {
			rows[f[0]] = l
		}
	}
	if r := rows["FlappyLatency"]; !strings.Contains(r, "p.p.p.p.") || strings.Contains(strings.Fields(r)[1], "F") {
		t.Errorf("FlappyLatency row %q", r)
	}
	if r := rows["DiskFull"]; !strings.Contains(r, "x5") || !strings.Contains(r, "F") || !strings.HasSuffix(r, "silenced: nothing sent") {
		t.Errorf("DiskFull row %q", r)
	}
	if r := rows["InstanceDown"]; !strings.Contains(r, "x20") || !strings.HasSuffix(r, "20 alerts -> 2 webhook notifications") {
		t.Errorf("InstanceDown row %q", r)
	}
	if strings.Contains(out, "DiskFull -") || strings.Contains(out, "DiskFull (") {
		t.Errorf("a silenced alert was sent:\n%s", out)
	}

	// The same every run, but for the directory, the port and the time.
	mask := regexp.MustCompile(`/tmp/\S+|127\.0\.0\.1:\d+|took \S+ of real time|silence \w+ mutes`)
	out2, _, _ := capture()
	if mask.ReplaceAllString(out, "X") != mask.ReplaceAllString(out2, "X") {
		t.Errorf("two demo runs differ:\n%s\n---\n%s", out, out2)
	}
}

func TestPromtoolSubcommands(t *testing.T) {
	dir := filepath.Join("testdata", "promtool")
	cases := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"check", "rules", filepath.Join(dir, "alerts.yml")}, 0, "SUCCESS: 3 rules found"},
		{[]string{"check", "rules", filepath.Join(dir, "bad_rules.yml")}, 1, ""},
		{[]string{"check", "rules", filepath.Join(dir, "dup_rules.yml")}, 0, ""},
		{[]string{"check", "rules", "--lint-fatal", filepath.Join(dir, "dup_rules.yml")}, 3, ""},
		{[]string{"check", "rules", filepath.Join(dir, "dup_rules.yml"), "--lint", "none"}, 0, "SUCCESS: 2 rules found"},
		{[]string{"test", "rules", filepath.Join(dir, "pass_test.yml")}, 0, "SUCCESS"},
		{[]string{"test", "rules", filepath.Join(dir, "fail_test.yml")}, 1, ""},
		{[]string{"test", "rules"}, 2, ""},
		{[]string{"check", "nope"}, 2, ""},
	}
	for _, c := range cases {
		out, errOut, code := capture(c.args...)
		if code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("%v: exit %d (want %d)\n%s%s", c.args, code, c.code, out, errOut)
		}
	}
}

// writeDB creates a stage06 DB with cpu_usage samples every 15s.
func writeDB(t *testing.T, dir string, start time.Time, n int, v func(i int) float64, hosts ...string) {
	t.Helper()
	db, err := tsdb.Open(dir, tsdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	app := db.Appender(context.Background())
	for _, h := range hosts {
		l := model.MustFromStrings("__name__", "cpu_usage", "host", h)
		for i := 0; i < n; i++ {
			if _, err := app.Append(0, l, start.Add(time.Duration(i)*15*time.Second).UnixMilli(), v(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

const evalRules = `groups:
  - name: g
    rules:
      - record: job:cpu:max
        expr: max(cpu_usage)
        labels:
          job: web
      - alert: HighCPU
        expr: cpu_usage > 0.8
        for: 5m
      - alert: AnyCPU
        expr: cpu_usage > 0
`

func TestEval(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2024, 1, 15, 14, 0, 0, 0, time.UTC)
	// a: 0.5, 0.6, …; b: 0.9 always.
	writeDB(t, filepath.Join(dir, "db"), start, 10, func(i int) float64 { return 0.5 + 0.1*float64(i) }, "a")
	writeDB(t, filepath.Join(dir, "db"), start, 10, func(int) float64 { return 0.9 }, "b")
	rf := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rf, []byte(evalRules), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := capture("eval", "--time", "2024-01-15T14:00:30Z", "--data-dir", filepath.Join(dir, "db"), rf)
	// At 14:00:30 a is 0.7 (third scrape), b 0.9.
	want := `group "g" (` + rf + `) at 2024-01-15T14:00:30Z
  record job:cpu:max: 1 series
    job:cpu:max{job="web"} 0.9
  alert HighCPU (for 5m): 1 alert(s)
    {alertname="HighCPU", host="b"} 0.9 pending
  alert AnyCPU (for 0s): 2 alert(s)
    {alertname="AnyCPU", host="a"} 0.7 firing
    {alertname="AnyCPU", host="b"} 0.9 firing
`
	if code != 0 || out != want {
		t.Errorf("exit %d\n%s%s\nwant:\n%s", code, out, errOut, want)
	}
	if _, _, code := capture("eval", "--data-dir", dir, rf); code != 2 {
		t.Errorf("eval without --time: exit %d", code)
	}
}

func TestSilenceCLI(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := capture("silence", "add", "--data-dir", dir, "--comment", "deploy", "--author", "me", `alertname="HighCPU"`, `cluster=~"eu|us"`)
	id := strings.TrimSpace(out)
	if code != 0 || len(id) != 36 {
		t.Fatalf("add: exit %d %q %s", code, out, errOut)
	}
	out, _, _ = capture("silence", "list", "--data-dir", dir)
	if !strings.Contains(out, id) || !strings.Contains(out, `alertname="HighCPU" cluster=~"eu|us"`) || !strings.Contains(out, "active") || !strings.Contains(out, "deploy") {
		t.Errorf("list:\n%s", out)
	}
	if out, _, code := capture("silence", "expire", "--data-dir", dir, id); code != 0 || !strings.Contains(out, "expired "+id) {
		t.Errorf("expire: %d %s", code, out)
	}
	if out, _, _ := capture("silence", "list", "--data-dir", dir); strings.Contains(out, id) {
		t.Errorf("expired silence listed without --expired:\n%s", out)
	}
	if out, _, _ := capture("silence", "list", "--data-dir", dir, "--expired"); !strings.Contains(out, "expired") {
		t.Errorf("--expired:\n%s", out)
	}
	if _, errOut, code := capture("silence", "add", "--data-dir", dir, `alertname=~".*"`); code != 1 || !strings.Contains(errOut, "must not match the empty string") {
		t.Errorf("silence of everything: %d %s", code, errOut)
	}
	if _, _, code := capture("silence", "add", `a=b`); code != 2 {
		t.Errorf("without --data-dir: exit %d", code)
	}
}

// The run mode on the wall clock against a stage06 DB: evaluations every
// second print the rule and its state; the alert fires and the built-in
// notifier prints it.
func TestRunWithDataDir(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	writeDB(t, dir, now.Add(-time.Minute), 12, func(int) float64 { return 0.95 }, "a")
	rf := filepath.Join(dir, "rules.yml")
	nf := filepath.Join(dir, "notify.yml")
	_ = os.WriteFile(rf, []byte("groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Hot\n        expr: cpu_usage > 0.9\n        labels: {severity: page}\n"), 0o644)
	_ = os.WriteFile(nf, []byte("route: {receiver: out, group_by: [alertname], group_wait: 0s}\nreceivers: [{name: out, stdout_configs: [{}]}]\n"), 0o644)
	out, errOut, code := capture("--config", rf, "--data-dir", dir, "--notify-config", nf, "--for", "3500ms")
	for _, want := range []string{
		"Loading 1 alerting rule and 0 recording rules in 1 group from 1 file...",
		"Starting evaluation loop (interval: 1s) against the stage06 DB in " + dir,
		`Rule "Hot": cpu_usage{host="a"} = 0.95 (above the 0.9 threshold!)`,
		"ALERT FIRED: Hot",
		"[FIRING:1] Hot (a page) receiver=out",
		"Stopping.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q (exit %d):\n%s%s", want, code, out, errOut)
		}
	}
	if _, _, code := capture("--config", rf); code != 2 {
		t.Errorf("--config without a source: exit %d", code)
	}
}

// With --url the rules run on a server's query API (here a stand-in that
// answers like Prometheus) and alerts go to an Alertmanager's API (a
// stand-in recording what Prometheus's notifier would post).
func TestRunWithURLAndAlertmanager(t *testing.T) {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts := r.FormValue("time")
		var q string
		switch r.FormValue("query") {
		case "up == 0":
			q = `[{"metric":{"__name__":"up","job":"api","instance":"a:80"},"value":[` + ts + `,"0"]}]`
		default:
			q = `[]`
		}
		_, _ = fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":%s}}`, q)
	}))
	defer prom.Close()
	var (
		mu     sync.Mutex
		posted []map[string]any
	)
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var as []map[string]any
		_ = json.NewDecoder(r.Body).Decode(&as)
		mu.Lock()
		posted = append(posted, as...)
		mu.Unlock()
	}))
	defer am.Close()
	dir := t.TempDir()
	rf := filepath.Join(dir, "rules.yml")
	_ = os.WriteFile(rf, []byte("groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: Down\n        expr: up == 0\n"), 0o644)
	out, errOut, code := capture("--config", rf, "--url", prom.URL, "--alertmanager-url", am.URL, "--external-url", "http://rules.example", "--for", "3500ms")
	if code != 0 || !strings.Contains(out, "against the query API of "+prom.URL) || !strings.Contains(out, "ALERT FIRED: Down") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posted) == 0 {
		t.Fatal("nothing posted to the Alertmanager")
	}
	a := posted[0]
	l := a["labels"].(map[string]any)
	if l["alertname"] != "Down" || l["instance"] != "a:80" || l["job"] != "api" || a["generatorURL"] != "http://rules.example/graph?g0.expr=up+%3D%3D+0&g0.tab=1" {
		t.Errorf("posted %v", a)
	}
}

func TestShortDur(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 30 * time.Second: "30s", 5 * time.Minute: "5m", 315 * time.Second: "5m15s",
		time.Hour: "1h", 90 * time.Minute: "1h30m", 3601 * time.Second: "1h0m1s"} {
		if got := shortDur(d); got != want {
			t.Errorf("shortDur(%v) = %q, want %q", d, got, want)
		}
	}
}
