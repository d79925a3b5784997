package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestTestSubcommand(t *testing.T) {
	var out, errb bytes.Buffer
	files, _ := filepath.Glob("testdata/*.test")
	if code := run(append([]string{"test"}, files...), nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d on the shipped scripts:\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "PASS testdata/rate.test") {
		t.Errorf("no PASS line:\n%s", out.String())
	}

	bad := filepath.Join(t.TempDir(), "bad.test")
	script := "load 1m\n  m{a=\"x\"} 1 2\n\neval instant at 1m m\n  m{a=\"x\"} 3\n\neval instant at 1m m\n  m{a=\"x\"} 2\n"
	if err := os.WriteFile(bad, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"test", bad}, nil, &out, &errb); code != 1 {
		t.Fatalf("exit %d on a failing script", code)
	}
	for _, want := range []string{"FAIL " + bad + " (1 of 2 evals failed)", "line 4: m", `~ m{a="x"} expected 3, got 2`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if code := run([]string{"test"}, nil, &out, &errb); code != 2 {
		t.Errorf("test without files: exit %d, want 2", code)
	}
	// Flags are read after the file names too.
	errb.Reset()
	if code := run([]string{"test", bad, "-h"}, nil, &out, &errb); code != 0 || !strings.Contains(errb.String(), "usage: ") {
		t.Errorf("test FILE -h: exit %d, stderr %q; want 0 and the usage", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"test", bad, "-nosuch"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "-nosuch") {
		t.Errorf("test FILE -nosuch: exit %d, stderr %q; want 2 naming the flag", code, errb.String())
	}
}

func TestRepl(t *testing.T) {
	in := strings.NewReader(strings.Join([]string{
		"http_requests_total",
		"sum by (method) (rate(http_requests_total[5m]))",
		"rate(http_requests_total)",
		"1 + 1",
		":explain rate(x[5m])",
		":at 2025-01-01T00:29:00Z",
		`up{instance="c"}`,
		":range 2025-01-01T00:00:00Z 2025-01-01T00:10:00Z 5m",
		`up{instance="a"}`,
		":bogus",
	}, "\n"))
	var out, errb bytes.Buffer
	if code := run(nil, in, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	o := out.String()
	for _, re := range []string{
		`(?m)^TYPE: instant vector\nhttp_requests_total\{method="GET", status="200"\} \d+$`,
		`(?m)^\{method="GET"\} [0-9.]+\n\{method="POST"\} [0-9.]+\nQuery time: `,
		`(?m)^error: 1:6: parse error: expected type range vector in call to function "rate", got instant vector$`,
		`(?m)^TYPE: scalar\n2$`,
		`(?m)^Call rate :: instant vector\n  MatrixSelector name="x"`,
		`(?m)^up\{instance="c"\} 1$`,
		`(?m)^TYPE: range vector \(instant vector evaluated at 3 steps\)\nup\{instance="a"\}  3 points, min 1 max 1$`,
		`(?m)^error: unknown command :bogus`,
	} {
		if !regexp.MustCompile(re).MatchString(o) {
			t.Errorf("output does not match %s:\n%s", re, o)
		}
	}
}

// TestReplFeaturesAndAnnotations: --enable-feature (repeatable, comma
// lists) opens the experimental functions; without it they are Prometheus's
// parse error. Warnings and infos follow the result with their positions.
func TestReplFeaturesAndAnnotations(t *testing.T) {
	queries := strings.Join([]string{
		"limitk(1, up)",
		"quantile(1.5, up)",
		"rate(room_temperature_celsius[5m])",
		":range 2025-01-01T00:00:00Z 2025-01-01T00:10:00Z 5m",
		"sort(up)",
	}, "\n")
	var out, errb bytes.Buffer
	if code := run(nil, strings.NewReader(queries), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, re := range []string{
		`(?m)^error: 1:1: parse error: limitk\(\) is experimental and must be enabled with --enable-feature=promql-experimental-functions$`,
		`(?m)^\{\} \+Inf\nwarning: quantile value should be between 0 and 1, got 1.5 \(1:10\)$`,
		`(?m)^info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "room_temperature_celsius" \(1:6\)$`,
		`(?m)^warning: sort is ineffective for range queries since results are always ordered by labels \(1:1\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("output does not match %s:\n%s", re, out.String())
		}
	}
	out.Reset()
	errb.Reset()
	args := []string{"--enable-feature", "promql-delayed-name-removal,nosuch", "--enable-feature=promql-experimental-functions"}
	if code := run(args, strings.NewReader("limitk(1, up)"), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !regexp.MustCompile(`(?m)^up\{instance="a"\} 1$`).MatchString(out.String()) {
		t.Errorf("limitk with the feature:\n%s", out.String())
	}
	if !strings.Contains(errb.String(), `unknown --enable-feature "nosuch"`) {
		t.Errorf("no warning about the unknown feature: %q", errb.String())
	}
}

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-h"}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), ":range") {
		t.Errorf("-h: exit %d, %q", code, out.String())
	}
	if code := run([]string{"nosuch"}, nil, &out, &errb); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}

func TestReplLoad(t *testing.T) {
	script := filepath.Join(t.TempDir(), "s.test")
	if err := os.WriteFile(script, []byte("load 1m\n  loaded{k=\"v\"} 1+1x4\n\neval instant at 0 loaded\n  loaded{k=\"v\"} 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := strings.NewReader(":load " + script + "\nloaded\nrate(loaded[3m])\n:load /nonexistent\n")
	var out, errb bytes.Buffer
	if code := run(nil, in, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	o := out.String()
	// 1 2 3 4 5 at 0…4m: evaluation moves to 4m, where the value is 5 and
	// the counter rises 1/min over the whole window.
	for _, want := range []string{
		"loaded 1 series (1 new), 5 samples; evaluating at 1970-01-01T00:04:00Z",
		"loaded{k=\"v\"} 5\n",
		"{k=\"v\"} 0.0166667\n",
		"error: open /nonexistent",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
}

// TestReplHistograms: a loaded native histogram prints in the scripts'
// notation, and functions of it as numbers.
func TestReplHistograms(t *testing.T) {
	script := filepath.Join(t.TempDir(), "h.test")
	if err := os.WriteFile(script, []byte("load 1m\n  h {{schema:0 count:2 sum:3 buckets:[1 1]}}+{{schema:0 count:2 sum:3 buckets:[1 1]}}x2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := strings.NewReader(":load " + script + "\nh\nhistogram_count(h)\n")
	var out, errb bytes.Buffer
	if code := run(nil, in, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	o := out.String()
	// Three samples at 0, 1m, 2m: the last is three times the first.
	for _, want := range []string{
		"loaded 1 series (1 new), 3 samples",
		"h {{count:6 sum:9 buckets:[3 3] counter_reset_hint:not_reset}}\n",
		"{} 6\n",
	} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
}
