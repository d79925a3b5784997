package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/cli"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return cli.Capture(run, args...)
}

// TestCLI runs the guide's session on a small data dir and checks the
// numbers against what was loaded.
func TestCLI(t *testing.T) {
	dir := t.TempDir()
	// 40 days × 1,440 minutes × 2 series.
	if out, errs, code := runCLI(t, "load", "--data-dir", dir, "--days", "40", "--series", "2", "--interval", "1m"); code != 0 || !strings.Contains(out, "Wrote 115,200 points") {
		t.Fatalf("load: %d %s %s", code, out, errs)
	}
	out, _, code := runCLI(t, "status", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "Raw data retention: 7 days") || !strings.Contains(out, "1-hour rollups: 1 year") ||
		!strings.Contains(out, "Last 1-minute rollup: 2024-01-15 14:34:00") || !strings.Contains(out, "Last 1-day rollup: 2024-01-14 00:00:00") {
		t.Fatalf("status: %s", out)
	}
	out, _, code = runCLI(t, "query", "--data-dir", dir, "avg(cpu_usage) WHERE host='server1'", "--range=30d")
	// 30 days of one series at 1 minute: 43,200 raw points, 10,080 of them the last 7 days.
	if code != 0 || !strings.Contains(out, "raw data") || !strings.Contains(out, "1-minute rollups") ||
		!strings.Contains(out, "10,080 + 33,120 = 43,200") || !strings.Contains(out, "count=43,200, 1 series") {
		t.Fatalf("query 30d: %s", out)
	}
	out, _, code = runCLI(t, "query", "--data-dir", dir, "p99(cpu_usage)", "--range", "1y")
	if code != 0 || !strings.Contains(out, "1-hour rollups") || !strings.Contains(out, "Result: p99=") {
		t.Fatalf("query p99: %s", out)
	}
	out, _, code = runCLI(t, "write", "--data-dir", dir, "--series", "host=server1,region=us-east", "--time", "2024-01-15T10:00:30Z", "--value", "2")
	if code != 0 || !strings.Contains(out, "1 dirty window(s)") {
		t.Fatalf("write: %s", out)
	}
	out, _, code = runCLI(t, "run", "--data-dir", dir, "--clock", "2024-01-16T00:00:00Z")
	if code != 0 || !strings.Contains(out, "1m  565 new windows") || !strings.Contains(out, "1 dirty recomputed") {
		t.Fatalf("run: %s", out)
	}
	out, _, code = runCLI(t, "query", "--data-dir", dir, "max(cpu_usage)", "--range=2d", "--clock", "2024-01-16T00:00:00Z")
	if code != 0 || !strings.Contains(out, "Result: max=2 ") {
		t.Fatalf("max after the late sample: %s", out)
	}
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"status"},
		{"query", "--data-dir", dir, "median(cpu)"},
		{"query", "--data-dir", dir, "avg(cpu)", "--range", "x"},
		{"status", "--data-dir", dir, "--clock", "yesterday"},
		{"load", "--data-dir", dir, "--days", "0"},
		{"write", "--data-dir", dir, "--series", "host", "--time", "2024-01-15T10:00:00Z"},
	} {
		_, errs, code := runCLI(t, args...)
		if code == 0 || !strings.HasPrefix(errs, "error: ") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
}

// TestMissingDataDir: a command that reads a data directory fails on a
// missing one, naming it, and does not create it.
func TestMissingDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	for _, args := range [][]string{
		{"status", "--data-dir", dir},
		{"run", "--data-dir", dir},
		{"query", "--data-dir", dir, "avg(cpu_usage)"},
	} {
		_, stderr, code := runCLI(t, args...)
		if code != 1 || !strings.Contains(stderr, dir) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and a message naming %s", args, code, stderr, dir)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%v created %s", args, dir)
		}
	}
}
