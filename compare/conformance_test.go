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

// conformanceTarget is the share of the suite's evals (those not needing
// native histograms) that must pass.
const conformanceTarget = 0.99

// TestPrometheusConformance runs every file of Prometheus's own PromQL test
// suite (promql/promqltest/testdata of the prometheus module this module
// requires, read from the module cache) through stage10's script runner,
// with the engine settings Prometheus's test engine uses: every feature
// on, at most 10,000 samples per query. Evals that read or expect native
// histograms are counted apart: stage10 does not store them.
func TestPrometheusConformance(t *testing.T) {
	dir := prometheusTestdata(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.test"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in %s: %v", dir, err)
	}
	known := readKnownFailures(t)
	eng := promql.NewEngine(promql.Opts{Features: promql.AllFeatures, MaxSamples: 10_000, Timeout: 100 * time.Second})

	var table strings.Builder
	fmt.Fprintf(&table, "\n%-28s %7s %7s %7s\n", "file", "passed", "failed", "native")
	var passed, failed, native int
	failing := map[string]promqltest.Eval{}
	for _, f := range files {
		name := filepath.Base(f)
		r := promqltest.RunFile(f, eng)
		if r.Err != nil {
			t.Errorf("%s: %v", name, r.Err)
			continue
		}
		p, fl, n := r.Counts()
		passed, failed, native = passed+p, failed+fl, native+n
		fmt.Fprintf(&table, "%-28s %7d %7d %7d\n", name, p, fl, n)
		for _, e := range r.Failures() {
			failing[fmt.Sprintf("%s:%d", name, e.Line)] = e
		}
	}
	share := float64(passed) / float64(passed+failed)
	fmt.Fprintf(&table, "%-28s %7d %7d %7d   %.2f%% of %d evals pass (native histograms apart)",
		"total", passed, failed, native, 100*share, passed+failed)
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
		t.Errorf("%.2f%% of the evals pass, below the target of %.0f%%", 100*share, 100*conformanceTarget)
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
