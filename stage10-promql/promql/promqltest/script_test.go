package promqltest

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tsdb-course/stage10-promql/promql"
)

// allFeatures is the engine Prometheus's own test suite runs with.
var allFeatures = promql.NewEngine(promql.Opts{Features: promql.AllFeatures})

func TestExpand(t *testing.T) {
	cases := map[string]string{
		"1":                       "1",
		"-2+4x3":                  "-2 2 6 10",
		"1-2x4":                   "1 -1 -3 -5 -7",
		"1x4":                     "1 1 1 1 1",
		"_":                       "_",
		"_x3":                     "_ _ _",
		"stale":                   "stale",
		"1e-3+1x1":                "0.001 1.001",
		"Inf":                     "+Inf",
		"-Inf":                    "-Inf",
		"{{schema:0 sum:1}}":      "h",
		"{{count:1}}x2":           "h h h",
		"{{count:0}}+{{sum:1}}x3": "h h h h",
	}
	for in, want := range cases {
		vs, err := expand(in)
		if err != nil {
			t.Errorf("expand(%q): %v", in, err)
			continue
		}
		if got := render(vs); got != want {
			t.Errorf("expand(%q) = %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"x3", "1+x", "1+2x-1", "abc", "_xq", "{{count:1}}3"} {
		if _, err := expand(bad); err == nil {
			t.Errorf("expand(%q) accepted", bad)
		}
	}
}

func render(vs []seqValue) string {
	var got []string
	for _, v := range vs {
		switch {
		case v.missing:
			got = append(got, "_")
		case v.h != nil:
			got = append(got, "h")
		case promql.IsStaleNaN(v.v):
			got = append(got, "stale")
		default:
			got = append(got, promql.FormatValue(v.v))
		}
	}
	return strings.Join(got, " ")
}

// TestSeriesLines: descriptors with quoted and Unicode names, histogram
// values with spaces inside, and the start-timestamp lines of Prometheus's
// start_timestamps.test.
func TestSeriesLines(t *testing.T) {
	for line, want := range map[string]string{
		`m{a="b"} 1 2`: `m{a="b"} 1 2`,
		`{"http.requests", "service.name"="api"} 0+60x2`:            `http.requests{service.name="api"} 0 60 120`,
		`温度{場所="東京"} 10`:                                            `温度{場所="東京"} 10`,
		`h{a="b"} {{schema:1 sum:15 count:10 buckets:[3 2]}}x1 _ 4`: `h{a="b"} h h _ 4`,
		`{__name__="x", le="+Inf"} _x2 1`:                           `x{le="+Inf"} _ _ 1`,
	} {
		ls, vs, err := parseSeriesLine(line)
		if err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		if got := ls.String() + " " + render(vs); got != want {
			t.Errorf("%s: got %s, want %s", line, got, want)
		}
	}
	for _, bad := range []string{`m{a}`, `m{a="b" c="d"} 1`, `m{a=b} 1`, `1`} {
		if _, _, err := parseSeriesLine(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	cmds, err := parseScript("load 1m\n  c{t=\"x\"}@st _ -30s-1mx2 -1ms\n  c{t=\"x\"} _ 1 2 3 4\n")
	if err != nil {
		t.Fatal(err)
	}
	if s := cmds[0].(*loadCmd).series[0]; render(s.st) != "_ -30000 -90000 -150000 -1" {
		t.Errorf("start timestamps %s", render(s.st))
	}
	for _, bad := range []string{
		"load 1m\n  c@st 1ms\n",                          // no series after it
		"load 1m\n  c@st 1ms 2ms\n  c 1\n",               // lengths differ
		"load 1m\n  c{a=\"1\"}@st 1ms\n  c{a=\"2\"} 1\n", // another series
	} {
		if _, err := parseScript(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRunReportsDiffs(t *testing.T) {
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
`, allFeatures)
	f := r.Failures()
	if r.Err != nil || len(r.Evals) != 5 || len(f) != 3 {
		t.Fatalf("evals %d, failures %+v, err %v", len(r.Evals), f, r.Err)
	}
	for _, w := range []string{`~ m{a="x"} expected 4, got 3`, `+ m{a="y"} 5`, `- m{a="z"} 5`} {
		if !strings.Contains(f[0].Failure, w) {
			t.Errorf("diff lacks %q:\n%s", w, f[0].Failure)
		}
	}
	if f[0].Line != 12 || !strings.Contains(f[1].Failure, "expected 1@0s 3@2m0s") || f[2].Failure != "expected an error, the query succeeded" {
		t.Errorf("failures: %+v", f)
	}
}

// TestExpectations: each kind of expect line, passing and failing.
func TestExpectations(t *testing.T) {
	r := Run("t", `
load 1m
  m{a="x"} 1 2 3
  m{a="y"} 5 5 5
  gauge{a="x"} 1 2 3

eval instant at 2m sort_desc(m)
  expect ordered
  m{a="y"} 5
  m{a="x"} 3

# wrong order
eval instant at 2m sort(m)
  expect ordered
  m{a="y"} 5
  m{a="x"} 3

eval instant at 2m "Foo"
  expect string "Foo"

eval instant at 2m "Foo"
  expect string "Bar"

eval instant at 2m m + on() m
  expect fail msg: found duplicate series for the match group {} on the right hand-side of the operation: [{__name__="m", a="x"}, {__name__="m", a="y"}];many-to-many matching not allowed: matching labels must be unique on one side

eval instant at 2m m + on() m
  expect fail regex: many-to-many matching not allowed

eval instant at 2m m + on() m
  expect fail regex: ^no such message$

eval instant at 2m rate(gauge[5m])
  expect info msg: PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "gauge" (1:6)
  {a="x"} 0.008333333333333333

eval instant at 2m rate(gauge[5m])
  expect no_info
  {a="x"} 0.008333333333333333

eval instant at 2m rate(gauge[5m])
  expect no_warn
  {a="x"} 0.008333333333333333

eval instant at 2m quantile(2, m)
  expect warn regex: quantile value should be between 0 and 1, got 2
  {} +Inf

eval range from 0 to 2m step 1m rate(gauge[5m])
  expect info
  {a="x"} _ 0.005 0.008333333333333333
`, allFeatures)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	var failed []int
	for _, e := range r.Failures() {
		failed = append(failed, e.Line)
	}
	if want := []int{13, 21, 30, 37}; !slices.Equal(failed, want) {
		t.Errorf("failed lines %v, want %v; %+v", failed, want, r.Failures())
	}
}

// TestRangeVectorResults: an instant eval whose result is a range vector is
// compared point by point once "expect range vector" says which timestamps
// the values stand for (the passing evals are Prometheus's own, from its
// range_queries.test; the values are the raw samples in each window).
func TestRangeVectorResults(t *testing.T) {
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

# no directive: the values have no timestamps
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
`, allFeatures)
	f := r.Failures()
	if r.Err != nil || len(r.Evals) != 7 || len(f) != 3 {
		t.Fatalf("evals %d, failures %+v, err %v", len(r.Evals), f, r.Err)
	}
	for i, want := range []string{
		"expected 2@10s 3@20s 4@30s 5@40s 7@50s\n         got 2@10s 3@20s 4@30s 5@40s 6@50s",
		"expected 3@20s 5@40s\n         got 2@10s 3@20s 4@30s 5@40s 6@50s",
		"more than the query's steps",
	} {
		if !strings.Contains(f[i].Failure, want) {
			t.Errorf("failure %d lacks %q:\n%s", i, want, f[i].Failure)
		}
	}
}

// TestLoadGivesASeriesTwice: within one load block the later line of a
// series is its definition, as in Prometheus's runner.
func TestLoadGivesASeriesTwice(t *testing.T) {
	r := Run("t", `
load 1m
  m 1 2 3
  m 7 8

eval instant at 2m m
  m 8
`, allFeatures)
	if !r.Passed() || len(r.Evals) != 1 {
		t.Fatalf("%+v %v", r.Evals, r.Err)
	}
}

// TestNativeEvalsCountedApart: an eval that expects a histogram or
// selects a series holding histogram samples (also the native histograms
// load_with_nhcb makes of classic ones) runs and is counted apart.
func TestNativeEvalsCountedApart(t *testing.T) {
	r := Run("t", `
load 1m
  floats 1 2 3
  hists {{schema:0 sum:1 count:1}}x2

eval instant at 2m floats
  floats 3

eval instant at 2m hists
  hists {{schema:0 sum:1 count:1}}

eval instant at 2m count({__name__=~".+"})
  {} 2

eval instant at 2m vector(1)
  {} {{count:1}}

clear
load_with_nhcb 1m
  req_bucket{le="1"} 1 2
  req_bucket{le="+Inf"} 2 4
  req_count 2 4

eval instant at 1m histogram_quantile(0.5, req_bucket)
  {} 1

eval instant at 1m histogram_quantile(0.5, req)
  {} 1

eval instant at 1m req_count
  req_count 4
`, allFeatures)
	var native []int
	for _, e := range r.Evals {
		if e.Native {
			native = append(native, e.Line)
		}
	}
	if want := []int{9, 12, 15, 27}; !slices.Equal(native, want) {
		t.Errorf("native evals at lines %v, want %v", native, want)
	}
	// vector(1) is no histogram: the one failure.
	if p, f, n := r.Counts(); p != 6 || f != 1 || n != 4 {
		t.Errorf("counts %d passed %d failed %d native: %+v", p, f, n, r.Failures())
	}
	if p, f := r.CountsBy(true); p != 3 || f != 1 {
		t.Errorf("native counts %d passed %d failed: %+v", p, f, r.Failures())
	}
}

// TestAtVariants: the query the runner also runs, with every selector and
// subquery not under a pinned subquery pinned to the evaluation time, and
// the times it runs it at; none for queries that read the time.
func TestAtVariants(t *testing.T) {
	r := &runner{eng: allFeatures}
	q, times := r.atVariants(`rate(x[5m]) + max_over_time(y[10m:1m] @ 30) - z offset 1m`, 60_000)
	if want := `rate(x[5m] @ 60.000) + max_over_time(y[10m:1m] @ 30.000) - z @ 60.000 offset 1m`; q != want {
		t.Errorf("variant %s, want %s", q, want)
	}
	if want := []int64{-600_000, 0, 12_000, 60_000, 600_000}; !slices.Equal(times, want) {
		t.Errorf("times %v, want %v", times, want)
	}
	if _, times := r.atVariants(`x`, 0); !slices.Equal(times, []int64{-1000, 0, 1000}) {
		t.Errorf("times at 0: %v", times)
	}
	for _, q := range []string{`time() - x`, `timestamp(x)`, `hour(x)`} {
		if _, times := r.atVariants(q, 60_000); times != nil {
			t.Errorf("%s: variants at %v", q, times)
		}
	}
}

func TestAlmostEqual(t *testing.T) {
	if !almostEqual(0.0333333, 1.0/30) || almostEqual(0.0333, 1.0/30) || !almostEqual(math.NaN(), math.NaN()) ||
		almostEqual(0, 1e-300) || almostEqual(promql.StaleNaN, math.NaN()) || !almostEqual(promql.StaleNaN, promql.StaleNaN) {
		t.Error("almostEqual")
	}
}

// FuzzScript: no script, however malformed, makes the runner panic.
func FuzzScript(f *testing.F) {
	f.Add("load 1m\n  m{a=\"b\"} 1+1x3 _ stale\n\neval instant at 1m m\n  m{a=\"b\"} 2\n")
	f.Add("eval range from 0 to 1m step 30s vector(1)\n  {} 1 1 1\n")
	f.Add("load 5m\n  {} 1\nclear\neval_fail instant at 0 x[\n")
	f.Add("load_with_nhcb 1m\n  x@st 1ms\n  x {{count:1}}x1\neval instant at 1m x\n  expect warn regex: .*\n  expect string \"a\"\n")
	f.Add("load 1m\n  h {{schema:1 sum:3 count:4 z_bucket:1 z_bucket_w:0.5 offset:-1 buckets:[1 2] n_buckets:[1]}}+{{schema:0 count:1 sum:1 buckets:[1]}}x3\n  c_bucket{le=\"1\"} 1 2\n\neval instant at 2m rate(h[5m]) * 2 + h </ 1\n  {} {{schema:0 count:1 counter_reset_hint:gauge custom_values:[1]}}\n")
	f.Add("load_with_nhcb 1m\n  c_bucket{le=\"1\"} 1 2\n  c_bucket{le=\"+Inf\"} 2 4\n  c_count 2 4\n\neval range from 0 to 1m step 1m histogram_quantile(0.5, sum(c))\n  {} 1 1\n")
	eng := promql.NewEngine(promql.Opts{MaxSamples: 10000, Features: promql.AllFeatures})
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 2000 {
			return
		}
		Run("fuzz", s, eng)
	})
}
