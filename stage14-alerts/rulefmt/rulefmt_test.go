package rulefmt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `groups:
  - name: system
    interval: 30s
    query_offset: 1m
    limit: 10
    labels:
      team: infra
    rules:
      - record: job:cpu_usage:avg
        expr: avg by (job) (cpu_usage)
        labels:
          source: rule
      - alert: HighCPU
        expr: job:cpu_usage:avg > 0.8
        for: 5m
        keep_firing_for: 2m
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.job }} at {{ $value | humanizePercentage }}"
`

func TestParseGood(t *testing.T) {
	g, errs := Parse([]byte(good), false)
	if errs != nil {
		t.Fatalf("errors: %v", errs)
	}
	if len(g.Groups) != 1 {
		t.Fatalf("%d groups", len(g.Groups))
	}
	grp := g.Groups[0]
	if grp.Name != "system" || time.Duration(grp.Interval) != 30*time.Second || grp.Limit != 10 ||
		grp.QueryOffset == nil || time.Duration(*grp.QueryOffset) != time.Minute || grp.Labels["team"] != "infra" {
		t.Errorf("group %+v", grp)
	}
	if len(grp.Rules) != 2 {
		t.Fatalf("%d rules", len(grp.Rules))
	}
	rec, al := grp.Rules[0], grp.Rules[1]
	if rec.Record != "job:cpu_usage:avg" || rec.Expr != "avg by (job) (cpu_usage)" || rec.Labels["source"] != "rule" {
		t.Errorf("recording rule %+v", rec)
	}
	if al.Alert != "HighCPU" || time.Duration(al.For) != 5*time.Minute || time.Duration(al.KeepFiringFor) != 2*time.Minute ||
		al.Labels["severity"] != "warning" || !strings.HasPrefix(al.Annotations["summary"], "{{ $labels.job }}") {
		t.Errorf("alerting rule %+v", al)
	}
	if g, errs := Parse(nil, false); errs != nil || len(g.Groups) != 0 {
		t.Errorf("empty file: %v %v", g, errs)
	}
}

// Each message was worked out by hand from the file: line and column of the
// node Prometheus's validation names (1-based; a missing node is 0:0), then
// its words.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, file string
		want       []string
	}{
		{"bad expression", `groups:
  - name: g
    rules:
      - alert: A
        expr: rate(x)
`, []string{`5:15: group "g", rule 1, "A": could not parse expression: 1:6: parse error: expected type range vector in call to function "rate", got instant vector`}},
		{"both record and alert", `groups:
  - name: g
    rules:
      - record: r
        alert: A
        expr: up
`, []string{`4:17: 5:16: group "g", rule 1, "A": only one of 'record' and 'alert' must be set`}},
		{"neither", `groups:
  - name: g
    rules:
      - expr: up
`, []string{`0:0: 0:0: group "g", rule 1, "": one of 'record' or 'alert' must be set`}},
		{"no expr", `groups:
  - name: g
    rules:
      - record: r
`, []string{`0:0: group "g", rule 1, "r": field 'expr' must be set in rule`}},
		{"recording rule fields", `groups:
  - name: g
    rules:
      - record: "r{a}"
        expr: up
        for: 1m
        keep_firing_for: 1m
        annotations:
          a: b
`, []string{
			`4:17: group "g", rule 1, "r{a}": invalid field 'annotations' in recording rule`,
			`4:17: group "g", rule 1, "r{a}": invalid field 'for' in recording rule`,
			`4:17: group "g", rule 1, "r{a}": invalid field 'keep_firing_for' in recording rule`,
			`4:17: group "g", rule 1, "r{a}": braces present in the recording rule name; should it be in expr?: r{a}`,
		}},
		{"labels and annotations", `groups:
  - name: g
    rules:
      - alert: A
        expr: up
        labels:
          __name__: x
          ok: "{{ $value }}"
          bad: "{{ $value "
        annotations:
          summary: "{{ nosuch }}"
`, []string{
			`group "g", rule 1, "A": invalid label name: __name__`,
			`group "g", rule 1, "A": label "bad": template: __alert_A:1: unclosed action`,
			`group "g", rule 1, "A": annotation "summary": template: __alert_A:1: function "nosuch" not defined`,
		}},
		{"group names", `groups:
  - name: ""
    rules: []
  - name: g
    rules: []
  - name: g
    rules: []
`, []string{`0:0: Groupname must not be empty`, `0:0: groupname: "g" is repeated in the same file`}},
		{"unknown field", `groups:
  - name: g
    rulez: []
`, []string{"yaml: unmarshal errors:\n  line 3: field rulez not found in type rulefmt.RuleGroup"}},
		{"bad duration: both decodes fail", `groups:
  - name: g
    rules:
      - alert: A
        expr: up
        for: 5x
`, []string{`unknown unit "x" in duration "5x"`, `unknown unit "x" in duration "5x"`}},
		{"wrong type", `groups:
  - name: g
    limit: many
`, []string{"yaml: unmarshal errors:\n  line 3: cannot unmarshal !!str `many` into int", "yaml: unmarshal errors:\n  line 3: cannot unmarshal !!str `many` into int"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := Parse([]byte(c.file), false)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestParseFileAndKinds(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(p, []byte("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up +\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs := ParseFile(p, false)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), p+`: 5:15: group "g", rule 1, "A": could not parse expression: `) {
		t.Fatalf("errs %v", errs)
	}
	if !errors.Is(errs[0], ErrInvalid) {
		t.Error("validation error is not ErrInvalid")
	}
	var re *Error
	if !errors.As(errs[0], &re) || re.Group != "g" || re.Rule != 1 || re.RuleName != "A" {
		t.Errorf("errors.As *Error: %+v", re)
	}
	if _, errs := ParseFile(filepath.Join(dir, "nope.yml"), false); len(errs) != 1 || !errors.Is(errs[0], os.ErrNotExist) {
		t.Errorf("missing file: %v", errs)
	}
	if _, errs := Parse([]byte("groups:\n  - name: g\n    extra: 1\n    rules: []\n"), true); errs != nil {
		t.Errorf("ignoreUnknownFields: %v", errs)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("groups:\n  - name: g\n    rules:\n      - expr: up\n"))
	f.Add([]byte("groups: [{name: a, rules: [{alert: x, expr: '1', labels: {a: '{{'}}]}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, errs := Parse(b, false)
		if errs == nil && g == nil {
			t.Fatal("no groups and no errors")
		}
		for _, e := range errs {
			if e == nil || e.Error() == "" {
				t.Fatalf("empty error in %q", errs)
			}
		}
	})
}
