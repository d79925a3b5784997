package compare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage14-alerts/ruletest"
)

// promtool returns the real promtool (prometheus v0.316.0), built from the
// module proxy into a cache by .ci/build-tools; without it the comparison
// skips (fails in CI).
func promtool(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", filepath.Join("..", ".ci", "build-tools"), "promtool").Output()
	if err != nil {
		msg := fmt.Sprintf("promtool could not be built from the module proxy (%v); skipping", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return strings.TrimSpace(string(out))
}

var logLines = regexp.MustCompile(`(?m)^time=\S+ level=\w+ .*\n`)

type run struct {
	stdout, stderr string
	code           int
}

// realPromtool runs promtool in dir.
func realPromtool(t *testing.T, bin, dir string, args ...string) run {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return run{o.String(), e.String(), code}
}

// ours runs stage14's ruletest the same way, in dir.
func ours(t *testing.T, dir string, args ...string) run {
	t.Helper()
	t.Chdir(dir)
	var o, e bytes.Buffer
	var code int
	switch {
	case args[0] == "check":
		opts := ruletest.CheckOptions{}
		var files []string
		for _, a := range args[2:] {
			switch a {
			case "--lint-fatal":
				opts.LintFatal = true
			case "--lint=none":
				opts.NoLint = true
			default:
				files = append(files, a)
			}
		}
		code = ruletest.CheckRules(strings.NewReader(""), &o, &e, opts, files...)
	case args[0] == "test":
		code = ruletest.TestRules(&o, &e, ruletest.TestOptions{}, args[2:]...)
	}
	return run{o.String(), e.String(), code}
}

// Rule files with every validation error Prometheus reports, and unit tests
// that pass and fail in various ways: promtool and stage14's ruletest must
// print the same lines to the same streams and exit with the same status.
func TestPromtoolAgrees(t *testing.T) {
	bin := promtool(t)
	dir := t.TempDir()
	files := map[string]string{
		"good.yml": `groups:
  - name: g
    interval: 30s
    query_offset: 1m
    limit: 5
    labels: {team: infra}
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.instance }} down ({{ $value }})"}
`,
		"empty.yml":            ``,
		"no_groups.yml":        "groups: []\n",
		"unknown_key.yml":      "groups:\n  - name: g\n    rulez: []\n",
		"unknown_rule_key.yml": "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        severity: page\n",
		"bad_duration.yml":     "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5x\n",
		"bad_interval.yml":     "groups:\n  - name: g\n    interval: 1h30\n    rules: []\n",
		"bad_limit.yml":        "groups:\n  - name: g\n    limit: many\n    rules: []\n",
		"not_yaml.yml":         "groups: [\n",
		"bad_expr.yml": `groups:
  - name: g
    rules:
      - record: r1
        expr: sum(rate(x[5m])
      - record: r2
        expr: 'foo{a="b"'
      - alert: A3
        expr: rate(x)
      - alert: A4
        expr: up + on(job) group_left(job) up
      - alert: A5
        expr: '"just a string"'
`,
		"fields.yml": `groups:
  - name: ""
    rules:
      - record: r
        alert: A
        expr: up
      - expr: up
      - record: r
      - record: "r{x}"
        expr: up
        for: 1m
        keep_firing_for: 1m
        annotations: {a: b}
  - name: dup
    labels: {__name__: x}
    rules: []
  - name: dup
    rules:
      - alert: L
        expr: up
        labels: {__name__: bad, ok: "{{ $value "}
        annotations: {summary: "{{ nosuchfunc }}", good: "{{ humanize $value }}"}
`,
		"dups.yml": `groups:
  - name: a
    rules:
      - record: r
        expr: up
      - record: r
        expr: up * 2
      - alert: X
        expr: up
        labels: {severity: page}
  - name: b
    labels: {severity: page}
    rules:
      - alert: X
        expr: down
`,
		"unit_rules.yml": `groups:
  - name: g
    interval: 1m
    rules:
      - record: job:cpu:avg
        expr: avg by (job) (cpu)
      - alert: HighCPU
        expr: job:cpu:avg > 0.8
        for: 2m
        labels: {severity: warning}
        annotations:
          summary: "{{ $labels.job }} at {{ $value | humanizePercentage }}"
          cluster: "{{ $externalLabels.cluster }}"
      - alert: Down
        expr: up == 0
        keep_firing_for: 3m
        labels: {severity: page}
`,
		"unit_pass.yml": `rule_files: [unit_rules.yml]
evaluation_interval: 1m
tests:
  - name: cpu
    interval: 1m
    external_labels: {cluster: eu}
    input_series:
      - series: 'cpu{job="web", instance="a"}'
        values: '0.5 0.9x10'
      - series: 'cpu{job="web", instance="b"}'
        values: '0.5 0.9x10'
    alert_rule_test:
      - eval_time: 2m
        alertname: HighCPU
        exp_alerts: []
      - eval_time: 3m
        alertname: HighCPU
        exp_alerts:
          - exp_labels: {job: web, severity: warning}
            exp_annotations: {summary: "web at 90%", cluster: eu}
    promql_expr_test:
      - expr: job:cpu:avg
        eval_time: 4m
        exp_samples:
          - labels: 'job:cpu:avg{job="web"}'
            value: 0.9
      - expr: count(cpu)
        eval_time: 4m
        exp_samples:
          - labels: '{}'
            value: 2
  - name: keep firing
    interval: 30s
    input_series:
      - series: 'up{job="api"}'
        values: '0 0 1 1 1 1 1 1 1 1 1 1 1 1'
    alert_rule_test:
      - eval_time: 2m
        alertname: Down
        exp_alerts:
          - exp_labels: {job: api, severity: page}
      - eval_time: 5m
        alertname: Down
        exp_alerts: []
`,
		"unit_fail.yml": `rule_files: [unit_rules.yml]
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="api"}'
        values: '0 0 0'
      - series: 'cpu{job="web"}'
        values: '0.9x5'
    alert_rule_test:
      - eval_time: 1m
        alertname: Down
        exp_alerts: []
      - eval_time: 3m
        alertname: HighCPU
        exp_alerts:
          - exp_labels: {job: web}
            exp_annotations: {summary: "wrong"}
    promql_expr_test:
      - expr: up
        eval_time: 1m
        exp_samples:
          - labels: 'up{job="api"}'
            value: 1
      - expr: nosuchmetric
        eval_time: 1m
        exp_samples:
          - labels: 'x'
            value: 1
      - expr: 'rate(up)'
        eval_time: 1m
  - name: second group
    interval: 1m
    input_series:
      - series: 'up{job="api"}'
        values: '1 1'
    promql_expr_test:
      - expr: up
        eval_time: 0m
        exp_samples: []
`,
		"unit_missing_alertname.yml": "rule_files: [unit_rules.yml]\ntests:\n  - alert_rule_test:\n      - eval_time: 1m\n",
		"unit_eval_error.yml": `rule_files: [bad_eval_rules.yml]
tests:
  - input_series:
      - series: 'up{a="1"}'
        values: '1'
      - series: 'up{a="2"}'
        values: '1'
    promql_expr_test:
      - expr: up
        eval_time: 0m
`,
		"bad_eval_rules.yml": "groups:\n  - name: g\n    rules:\n      - record: bad\n        expr: up + on() up\n",
		"unit_bad_rules.yml": "rule_files: [bad_expr.yml]\ntests: []\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stage14 := filepath.Join("..", "stage14-alerts", "testdata", "promtool")
	stage14, _ = filepath.Abs(stage14)
	cases := []struct {
		dir  string
		args []string
	}{
		{dir, []string{"check", "rules", "good.yml"}},
		{dir, []string{"check", "rules", "empty.yml", "no_groups.yml"}},
		{dir, []string{"check", "rules", "unknown_key.yml"}},
		{dir, []string{"check", "rules", "unknown_rule_key.yml"}},
		{dir, []string{"check", "rules", "bad_duration.yml"}},
		{dir, []string{"check", "rules", "bad_interval.yml"}},
		{dir, []string{"check", "rules", "bad_limit.yml"}},
		{dir, []string{"check", "rules", "not_yaml.yml"}},
		{dir, []string{"check", "rules", "bad_expr.yml"}},
		{dir, []string{"check", "rules", "fields.yml", "good.yml"}},
		{dir, []string{"check", "rules", "dups.yml"}},
		{dir, []string{"check", "rules", "--lint-fatal", "dups.yml"}},
		{dir, []string{"check", "rules", "--lint=none", "dups.yml"}},
		{dir, []string{"check", "rules", "missing.yml"}},
		{dir, []string{"test", "rules", "unit_pass.yml"}},
		{dir, []string{"test", "rules", "unit_fail.yml"}},
		{dir, []string{"test", "rules", "unit_missing_alertname.yml"}},
		{dir, []string{"test", "rules", "unit_eval_error.yml"}},
		{dir, []string{"test", "rules", "unit_bad_rules.yml"}},
		{dir, []string{"test", "rules", "unit_pass.yml", "unit_fail.yml"}},
		{stage14, []string{"check", "rules", "alerts.yml", "bad_rules.yml", "dup_rules.yml"}},
		{stage14, []string{"test", "rules", "pass_test.yml", "fail_test.yml"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			want := realPromtool(t, bin, c.dir, c.args...)
			// promtool also logs (a warning about YAML with several
			// documents); logs are not part of its output format.
			want.stderr = logLines.ReplaceAllString(want.stderr, "")
			got := ours(t, c.dir, c.args...)
			if got != want {
				t.Errorf("promtool %s:\nexit %d, stdout:\n%s\nstderr:\n%s\nours: exit %d, stdout:\n%s\nstderr:\n%s",
					strings.Join(c.args, " "), want.code, want.stdout, want.stderr, got.code, got.stdout, got.stderr)
			}
		})
	}
}
