package compare

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/promqltest"
)

// knownFailuresFile lists the evals of Prometheus's test suite that stage10
// does not pass yet, one "file.test:line expression" per line. It may only
// shrink: TestPrometheusConformance fails on an eval that fails without
// being listed, and on a listed eval that now passes.
const knownFailuresFile = "testdata/promql_known_failures.txt"

// conformanceTarget is the share of the suite's float evals (those not
// reading or expecting native histograms) that must pass.
const conformanceTarget = 0.99

// nativeFloor is the share of the suite's native histogram evals that
// must pass.
const nativeFloor = 0.99

// TestPrometheusConformance runs every file of Prometheus's own PromQL test
// suite (promql/promqltest/testdata of the prometheus module this module
// requires, read from the module cache) through stage10's script runner,
// with the engine settings Prometheus's test engine uses: every feature
// on, at most 10,000 samples per query. Evals that read or expect native
// histograms are counted apart, with their own pass rate.
func TestPrometheusConformance(t *testing.T) {
	dir := prometheusTestdata(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.test"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in %s: %v", dir, err)
	}
	known := readKnownFailures(t)
	eng := promql.NewEngine(promql.Opts{Features: promql.AllFeatures, MaxSamples: 10_000, Timeout: 100 * time.Second})

	var table strings.Builder
	fmt.Fprintf(&table, "\n%-28s %15s %15s\n%-28s %7s %7s %7s %7s\n", "", "float evals", "native evals", "file", "passed", "failed", "passed", "failed")
	var passed, failed, nPassed, nFailed int
	failing := map[string]promqltest.Eval{}
	for _, f := range files {
		name := filepath.Base(f)
		r := promqltest.RunFile(f, eng)
		if r.Err != nil {
			t.Errorf("%s: %v", name, r.Err)
			continue
		}
		p, fl := r.CountsBy(false)
		np, nf := r.CountsBy(true)
		passed, failed, nPassed, nFailed = passed+p, failed+fl, nPassed+np, nFailed+nf
		fmt.Fprintf(&table, "%-28s %7d %7d %7d %7d\n", name, p, fl, np, nf)
		for _, e := range r.Failures() {
			failing[fmt.Sprintf("%s:%d", name, e.Line)] = e
		}
	}
	share := float64(passed) / float64(passed+failed)
	nShare := float64(nPassed) / float64(max(1, nPassed+nFailed))
	fmt.Fprintf(&table, "%-28s %7d %7d %7d %7d\n%.2f%% of %d float evals pass, %.2f%% of %d native histogram evals",
		"total", passed, failed, nPassed, nFailed, 100*share, passed+failed, 100*nShare, nPassed+nFailed)
	t.Log(table.String())

	var unlisted, fixed []string
	for _, k := range slices.Sorted(maps.Keys(failing)) {
		if _, ok := known[k]; !ok {
			e := failing[k]
			unlisted = append(unlisted, fmt.Sprintf("%s %s\n    %s", k, e.Expr, strings.ReplaceAll(e.Failure, "\n", "\n    ")))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(known)) {
		if _, ok := failing[k]; !ok {
			fixed = append(fixed, k+" "+known[k])
		}
	}
	if len(unlisted) > 0 {
		t.Errorf("%d evals fail that %s does not list:\n%s", len(unlisted), knownFailuresFile, strings.Join(unlisted, "\n"))
	}
	if len(fixed) > 0 {
		t.Errorf("%d evals in %s pass now (or are no longer there): remove them from the list:\n%s",
			len(fixed), knownFailuresFile, strings.Join(fixed, "\n"))
	}
	if share < conformanceTarget {
		t.Errorf("%.2f%% of the float evals pass, below the target of %.0f%%", 100*share, 100*conformanceTarget)
	}
	if nShare < nativeFloor {
		t.Errorf("%.2f%% of the native histogram evals pass, below the floor of %.0f%%", 100*nShare, 100*nativeFloor)
	}
	if testing.Verbose() {
		for _, k := range slices.Sorted(maps.Keys(failing)) {
			t.Logf("known failure %s %s\n    %s", k, failing[k].Expr, strings.ReplaceAll(failing[k].Failure, "\n", "\n    "))
		}
	}
}

// prometheusTestdata is Prometheus's test suite in the module cache.
func prometheusTestdata(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/prometheus/prometheus").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/prometheus/prometheus: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "promql", "promqltest", "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("Prometheus's test suite: %v (is the module downloaded? go mod download)", err)
	}
	return dir
}

// readKnownFailures reads knownFailuresFile: "file.test:line expr" per
// line, # comments and blank lines ignored.
func readKnownFailures(t *testing.T) map[string]string {
	f, err := os.Open(knownFailuresFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, expr, _ := strings.Cut(l, " ")
		out[k] = expr
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
