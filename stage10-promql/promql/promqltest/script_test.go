package promqltest

import (
	"math"
	"strings"
	"testing"

	"github.com/tsdb-course/stage10-promql/promql"
)

func TestExpand(t *testing.T) {
	cases := map[string]string{
		"1":        "1",
		"-2+4x3":   "-2 2 6 10",
		"1-2x4":    "1 -1 -3 -5 -7",
		"1x4":      "1 1 1 1 1",
		"_":        "_",
		"_x3":      "_ _ _",
		"stale":    "stale",
		"1e-3+1x1": "0.001 1.001",
		"Inf":      "+Inf",
		"-Inf":     "-Inf",
	}
	for in, want := range cases {
		vs, err := expand(in)
		if err != nil {
			t.Errorf("expand(%q): %v", in, err)
			continue
		}
		var got []string
		for _, v := range vs {
			switch {
			case v.missing:
				got = append(got, "_")
			case promql.IsStaleNaN(v.v):
				got = append(got, "stale")
			default:
				got = append(got, promql.FormatValue(v.v))
			}
		}
		if strings.Join(got, " ") != want {
			t.Errorf("expand(%q) = %v, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"x3", "1+x", "1+2x-1", "abc", "_xq"} {
		if _, err := expand(bad); err == nil {
			t.Errorf("expand(%q) accepted", bad)
		}
	}
}

func TestRunReportsDiffs(t *testing.T) {
	eng := promql.NewEngine(promql.Opts{})
	r := Run("t", `
load 1m
  m{a="x"} 1 2 3
  m{a="y"} 5

# right
eval instant at 2m m
  m{a="x"} 3
  m{a="y"} 5

# wrong value, missing and extra series
eval instant at 2m m
  m{a="x"} 4
  m{a="z"} 5

eval range from 0 to 2m step 1m m{a="x"}
  m{a="x"} 1 _ 3

eval instant at 0 1 +
  expect fail

eval instant at 0 1
  expect fail
`, eng)
	if r.Err != nil || r.Evals != 5 || len(r.Failures) != 3 {
		t.Fatalf("evals %d, failures %+v, err %v", r.Evals, r.Failures, r.Err)
	}
	want := []string{`~ m{a="x"} expected 4, got 3`, `+ m{a="y"} 5`, `- m{a="z"} 5`}
	for _, w := range want {
		if !strings.Contains(r.Failures[0].Msg, w) {
			t.Errorf("diff lacks %q:\n%s", w, r.Failures[0].Msg)
		}
	}
	if r.Failures[0].Line != 12 || !strings.Contains(r.Failures[1].Msg, "expected 1 _ 3") || r.Failures[2].Msg != "expected an error, the query succeeded" {
		t.Errorf("failures: %+v", r.Failures)
	}
}

// TestRangeVectorResults: an instant eval whose result is a range vector is
// compared point by point once "expect range vector" says which timestamps
// the values stand for (the passing evals are Prometheus's own, from its
// range_queries.test; the values are the raw samples in each window).
func TestRangeVectorResults(t *testing.T) {
	eng := promql.NewEngine(promql.Opts{})
	r := Run("t", `
load 10s
  some_metric{env="a"} 1+1x5
  some_metric{env="b"} 2+2x5

eval instant at 1m some_metric[1m]
  expect range vector from 10s to 1m step 10s
  some_metric{env="a"} 2 3 4 5 6
  some_metric{env="b"} 4 6 8 10 12

# wrong value
eval instant at 1m some_metric{env="a"}[1m]
  expect range vector from 10s to 1m step 10s
  some_metric{env="a"} 2 3 4 5 7

# the samples are 10s apart: with a 20s grid, 10s, 30s, 50s are off it
eval instant at 1m some_metric{env="a"}[1m]
  expect range vector from 20s to 1m step 20s
  some_metric{env="a"} 3 5

# no directive
eval instant at 1m some_metric{env="a"}[1m]
  some_metric{env="a"} 2

clear
load 1m
  some_metric_with_stale_marker 0 1 stale 3

eval instant at 3m some_metric_with_stale_marker[3m]
  expect range vector from 1m to 3m step 60s
  some_metric_with_stale_marker{} 1 _ 3

eval instant at 1m some_nonexistent_metric[1m]
  expect range vector from 10s to 1m step 10s

# the eval time is the range's end, 3m, not 10m (at 10m the window is empty)
eval instant at 10m some_metric_with_stale_marker[1m]
  expect range vector from 2m30s to 3m step 30s
  some_metric_with_stale_marker _ 3
`, eng)
	if r.Err != nil || r.Evals != 7 || len(r.Failures) != 3 {
		t.Fatalf("evals %d, failures %+v, err %v", r.Evals, r.Failures, r.Err)
	}
	for i, want := range []string{
		"expected 2 3 4 5 7 _\n         got 2 3 4 5 6 _",
		"(off the grid: 2@10s 4@30s 6@50s)",
		`got a range vector; an "expect range vector`,
	} {
		if !strings.Contains(r.Failures[i].Msg, want) {
			t.Errorf("failure %d lacks %q:\n%s", i, want, r.Failures[i].Msg)
		}
	}
}

func TestAlmostEqual(t *testing.T) {
	if !almostEqual(0.0333333, 1.0/30) || almostEqual(0.0333, 1.0/30) || !almostEqual(math.NaN(), math.NaN()) || almostEqual(0, 1e-300) {
		t.Error("almostEqual")
	}
}

// FuzzScript: no script, however malformed, makes the runner panic.
func FuzzScript(f *testing.F) {
	f.Add("load 1m\n  m{a=\"b\"} 1+1x3 _ stale\n\neval instant at 1m m\n  m{a=\"b\"} 2\n")
	f.Add("eval range from 0 to 1m step 30s vector(1)\n  {} 1 1 1\n")
	f.Add("load 5m\n  {} 1\nclear\neval_fail instant at 0 x[\n")
	eng := promql.NewEngine(promql.Opts{MaxSamples: 10000})
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 2000 {
			return
		}
		Run("fuzz", s, eng)
	})
}
