package ruletest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The expected outputs below were written by hand from promtool's source
// (cmd/promtool/main.go checkRules, unittest.go) and the files in
// testdata/promtool; compare/ checks the same files against the real
// promtool binary.

func run(t *testing.T, f func(stdout, stderr *bytes.Buffer) int) (string, string, int) {
	t.Helper()
	var o, e bytes.Buffer
	code := f(&o, &e)
	return o.String(), e.String(), code
}

func chdirTestdata(t *testing.T) {
	t.Helper()
	t.Chdir(filepath.Join("..", "testdata", "promtool"))
}

func TestCheckRules(t *testing.T) {
	chdirTestdata(t)
	out, errOut, code := run(t, func(o, e *bytes.Buffer) int { return CheckRules(nil, o, e, CheckOptions{}, "alerts.yml") })
	if code != 0 || out != "Checking alerts.yml\n  SUCCESS: 3 rules found\n\n" || errOut != "" {
		t.Errorf("good file: %d %q %q", code, out, errOut)
	}

	out, errOut, code = run(t, func(o, e *bytes.Buffer) int {
		return CheckRules(nil, o, e, CheckOptions{}, "bad_rules.yml", "alerts.yml")
	})
	wantErr := `  FAILED:
bad_rules.yml: 0:0: group "broken", rule 1, "NoExpr": field 'expr' must be set in rule
bad_rules.yml: 5:17: group "broken", rule 2, "job:up{x}": invalid field 'for' in recording rule
bad_rules.yml: 5:17: group "broken", rule 2, "job:up{x}": braces present in the recording rule name; should it be in expr?: job:up{x}
bad_rules.yml: 9:15: group "broken", rule 3, "BadExpr": could not parse expression: 1:6: parse error: expected type range vector in call to function "rate", got instant vector
bad_rules.yml: group "broken", rule 3, "BadExpr": annotation "summary": template: __alert_BadExpr:1: unclosed action
bad_rules.yml: 0:0: groupname: "broken" is repeated in the same file
bad_rules.yml: 14:17: 15:16: group "broken", rule 1, "A": only one of 'record' and 'alert' must be set
`
	// A file that fails validation gets no blank line after it; the next
	// file is still checked.
	if code != 1 || out != "Checking bad_rules.yml\nChecking alerts.yml\n  SUCCESS: 3 rules found\n\n" || errOut != wantErr {
		t.Errorf("bad file: exit %d\nstdout %q\nstderr:\n%s\nwant:\n%s", code, out, errOut, wantErr)
	}

	// Duplicates are a lint problem: reported, exit 0 unless fatal.
	wantLint := "  FAILED:\nlint error 1 duplicate rule(s) found.\nMetric: job:up:sum\nLabel(s):\n\tteam: x\nMight cause inconsistency while recording expressions\n"
	out, errOut, code = run(t, func(o, e *bytes.Buffer) int { return CheckRules(nil, o, e, CheckOptions{}, "dup_rules.yml") })
	if code != 0 || out != "Checking dup_rules.yml\n\n" || errOut != wantLint {
		t.Errorf("duplicates: exit %d stdout %q stderr %q", code, out, errOut)
	}
	if _, _, code = run(t, func(o, e *bytes.Buffer) int {
		return CheckRules(nil, o, e, CheckOptions{LintFatal: true}, "dup_rules.yml")
	}); code != 3 {
		t.Errorf("--lint-fatal: exit %d, want 3", code)
	}
	out, _, code = run(t, func(o, e *bytes.Buffer) int {
		return CheckRules(nil, o, e, CheckOptions{NoLint: true}, "dup_rules.yml")
	})
	if code != 0 || out != "Checking dup_rules.yml\n  SUCCESS: 2 rules found\n\n" {
		t.Errorf("--lint=none: %d %q", code, out)
	}

	stdin := strings.NewReader("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n")
	out, _, code = run(t, func(o, e *bytes.Buffer) int { return CheckRules(stdin, o, e, CheckOptions{}) })
	if code != 0 || out != "Checking standard input\n  SUCCESS: 1 rules found\n\n" {
		t.Errorf("stdin: %d %q", code, out)
	}
}

func TestTestRules(t *testing.T) {
	chdirTestdata(t)
	out, errOut, code := run(t, func(o, e *bytes.Buffer) int { return TestRules(o, e, TestOptions{}, "pass_test.yml") })
	if code != 0 || out != "Processing test file: pass_test.yml\n  SUCCESS\n\n" || errOut != "" {
		t.Errorf("passing tests: exit %d\n%s%s", code, out, errOut)
	}

	out, errOut, code = run(t, func(o, e *bytes.Buffer) int { return TestRules(o, e, TestOptions{}, "fail_test.yml") })
	wantErr := `  FAILED:
    name: wrong expectations,
    alertname: InstanceDown, time: 4m, 
        exp:[
            0:
              Labels:{alertname="InstanceDown", instance="a:9100", job="node", severity="critical"}
              Annotations:{summary="a:9100 of node is down"}
            ], 
        got:[
            0:
              Labels:{alertname="InstanceDown", instance="a:9100", job="node", severity="page"}
              Annotations:{summary="a:9100 of node is down"}
            ]
    expr: "up", time: 1m,
        exp: {__name__="up", instance="a:9100", job="node"} 2E+00
        got: {__name__="up", instance="a:9100", job="node"} 1E+00
`
	// One blank stdout line per error, then one for the file.
	if code != 1 || out != "Processing test file: fail_test.yml\n\n\n\n" || errOut != wantErr {
		t.Errorf("failing tests: exit %d\nstdout %q\nstderr:\n%s\nwant:\n%s", code, out, errOut, wantErr)
	}

	// --run selects groups by name: nothing matches, nothing fails.
	out, _, code = run(t, func(o, e *bytes.Buffer) int {
		return TestRules(o, e, TestOptions{Run: []string{"^nomatch$"}}, "fail_test.yml")
	})
	if code != 0 || !strings.Contains(out, "SUCCESS") {
		t.Errorf("--run: %d %q", code, out)
	}
}

func TestTestRulesErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("r.yml", "groups:\n  - name: g\n    rules:\n      - record: bad\n        expr: up + on() up\n")
	cases := map[string]string{
		"missing alertname": "rule_files: [r.yml]\ntests:\n  - alert_rule_test:\n      - eval_time: 1m\n",
		"evaluation error":  "rule_files: [r.yml]\ntests:\n  - input_series:\n      - series: up{a=\"1\"}\n        values: 1\n      - series: up{a=\"2\"}\n        values: 1\n    promql_expr_test:\n      - expr: up\n        eval_time: 0\n",
		"repeated order":    "rule_files: [r.yml]\ngroup_eval_order: [g, g]\ntests: []\n",
		"unknown field":     "rule_files: [r.yml]\nnosuch: 1\n",
	}
	want := map[string]string{
		"missing alertname": "an item under alert_rule_test misses required attribute alertname at eval_time 1m\n",
		"evaluation error":  "    rule: bad, time: 0s, err: ",
		"repeated order":    "group name repeated in evaluation order: g\n",
		"unknown field":     "field nosuch not found in type ruletest.unitTestFile",
	}
	for name, content := range cases {
		p := write(strings.ReplaceAll(name, " ", "_")+".yml", content)
		_, errOut, code := run(t, func(o, e *bytes.Buffer) int { return TestRules(o, e, TestOptions{}, p) })
		if code != 1 || !strings.Contains(errOut, want[name]) {
			t.Errorf("%s: exit %d stderr %q, want it to contain %q", name, code, errOut, want[name])
		}
	}
}
