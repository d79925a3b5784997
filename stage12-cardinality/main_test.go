package main

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage04-wal/wal"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage12-cardinality/cardinality"
)

func num(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	if err != nil {
		t.Fatalf("number %q: %v", s, err)
	}
	return n
}

var totalRE = regexp.MustCompile(`Total unique series: ([\d,]+)\s+\(exact ([\d,]+) (offered|stored)`)

// checkTotal: the printed estimate is within 3σ of the printed exact count.
func checkTotal(t *testing.T, out string) (est, exact int) {
	t.Helper()
	m := totalRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no total line in:\n%s", out)
	}
	est, exact = num(t, m[1]), num(t, m[2])
	if math.Abs(float64(est-exact)) > 3*cardinality.StdError*float64(exact) {
		t.Fatalf("estimate %d vs exact %d: beyond 3σ", est, exact)
	}
	return est, exact
}

// TestDemo: the demo prints the report, the limits with drops, and the
// forecast; its figures agree with each other.
func TestDemo(t *testing.T) {
	out, errOut, code := cli.Capture(run, "--hours", "12")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"Cardinality Analysis Report", "Top contributors to cardinality:",
		`CRITICAL: "user_id" creates unbounded cardinality`, `WARNING: "path" label has high cardinality`,
		"Cardinality limits:", `Metric "http_requests": 10,000 series (current: 10,000 stored`,
		"EXCEEDED", "Dropped in last hour:", "Predicted cardinality in 30 days:", "Share of all series, by metric:"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	checkTotal(t, out)
	// The writes refused equal the drops the limits section adds up.
	refused := num(t, regexp.MustCompile(`([\d,]+) writes refused`).FindStringSubmatch(out)[1])
	total := 0
	for _, m := range regexp.MustCompile(`since start: ([\d,]+)\)`).FindAllStringSubmatch(out, -1) {
		total += num(t, m[1])
	}
	if refused == 0 || refused != total {
		t.Fatalf("refused %d, dropped per metric add up to %d", refused, total)
	}
}

// TestSubcommands: demo into a data dir, then analyze, limits (reading
// and setting) and forecast on it.
func TestSubcommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, errOut, code := cli.Capture(run, "demo", "--hours", "10", "--data-dir", dir); code != 0 {
		t.Fatalf("demo: %s", errOut)
	}
	if _, errOut, code := cli.Capture(run, "demo", "--hours", "4", "--data-dir", dir); code != 1 || !strings.Contains(errOut, "not empty") {
		t.Fatalf("demo into a used dir: exit %d, %q", code, errOut)
	}
	out, errOut, code := cli.Capture(run, "analyze", "--data-dir", dir, "--high", "2000")
	if code != 0 {
		t.Fatalf("analyze: %s", errOut)
	}
	if !strings.Contains(out, "Tracker: saved in") || !strings.Contains(out, "EXCEEDED") {
		t.Fatalf("analyze output:\n%s", out)
	}
	out, errOut, code = cli.Capture(run, "forecast", "--data-dir", dir, "--days", "7", "--limit", "1000")
	if code != 0 || !strings.Contains(out, "Predicted cardinality in 7 days:") || !strings.Contains(out, "WARNING: Exceeds recommended limit of 1,000") {
		t.Fatalf("forecast: %d %s\n%s", code, errOut, out)
	}
	out, errOut, code = cli.Capture(run, "limits", "--data-dir", dir, "--set", "http_requests=5000", "--global", "50000")
	if code != 0 || !strings.Contains(out, "Limits saved") {
		t.Fatalf("limits --set: %d %s\n%s", code, errOut, out)
	}
	lim, ok, err := cardinality.LoadLimiter(filepath.Join(dir, "cardinality"), cardinality.Limits{}, cardinality.LimiterOptions{})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if l := lim.Limits(); l.For("http_requests") != 5000 || l.Global != 50000 || l.Default != defaultMetricLimit {
		t.Fatalf("limits after --set: %+v", l)
	}
	if _, errOut, code := cli.Capture(run, "limits", "--data-dir", dir, "--set", "x"); code != 2 || !strings.HasPrefix(errOut, "error: ") {
		t.Fatalf("bad --set: exit %d %q", code, errOut)
	}
}

// TestAnalyzePlainDir: a stage06 data dir written without the limiter
// (no tracker saved): analyze rebuilds the tracker from the stored series
// and prints exact counts that match what was written.
func TestAnalyzePlainDir(t *testing.T) {
	dir := t.TempDir()
	db, err := tsdb.Open(dir, tsdb.Options{WALSync: wal.SyncNone, NoBackgroundCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	app := db.Appender(nil)
	const n = 5000
	for i := range n {
		ls := model.MustFromStrings("__name__", fmt.Sprint("m", i%2), "session_id", fmt.Sprint(i))
		if _, err := app.Append(0, ls, demoStart.UnixMilli(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := cli.Capture(run, "analyze", "--data-dir", dir, "--high", "1000")
	if code != 0 {
		t.Fatalf("analyze: %s", errOut)
	}
	if !strings.Contains(out, "rebuilt from the 5,000 stored series") || !strings.Contains(out, `"session_id" creates unbounded cardinality`) {
		t.Fatalf("output:\n%s", out)
	}
	if _, exact := checkTotal(t, out); exact != n {
		t.Fatalf("exact %d, want %d", exact, n)
	}
	if _, errOut, code := cli.Capture(run, "forecast", "--data-dir", dir); code != 1 || !strings.Contains(errOut, "need at least two hourly snapshots") {
		t.Fatalf("forecast without history: exit %d %q", code, errOut)
	}
}

func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"analyze"}, 2, "--data-dir is required"},
		{[]string{"analyze", "--data-dir", filepath.Join(t.TempDir(), "none")}, 1, "no such directory"},
		{[]string{"forecast", "--days", "0"}, 2, "--days"},
		{[]string{"--hours", "1"}, 2, "--hours"},
		{[]string{"nope"}, 2, "unknown command"},
	} {
		_, errOut, code := cli.Capture(run, c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want %d and one line with %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}
