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

// TestCLI runs the guide's session on a small data dir and checks each
// output's shape and numbers against what was loaded.
func TestCLI(t *testing.T) {
	dir := t.TempDir()
	if out, errs, code := runCLI(t, "load", "--data-dir", dir, "--days", "9", "--hosts", "2"); code != 0 || !strings.Contains(out, "Wrote 244,800 points") {
		t.Fatalf("load: %d %s %s", code, out, errs)
	}
	out, _, code := runCLI(t, "status", "--data-dir", dir)
	if code != 0 || strings.Count(out, "[HOT]") != 9 || !strings.Contains(out, "Retention: 7 days") || !strings.Contains(out, "series: 20 ") {
		t.Fatalf("status: %s", out)
	}
	out, _, code = runCLI(t, "tier", "--data-dir", dir)
	if code != 0 || strings.Count(out, "→ warm") != 7 || strings.Count(out, "→ cold") != 5 {
		t.Fatalf("tier: %s", out)
	}
	out, _, code = runCLI(t, "query", "--data-dir", dir, "SELECT * FROM cpu WHERE time > '2024-01-14'")
	// 2 hosts × 10 fields × (1,440 − 1 + 720) minutes after the bound.
	if code != 0 || !strings.Contains(out, "Shards to scan: shard_2024-01-14, shard_2024-01-15") || !strings.Contains(out, "Results: 43,180 points") {
		t.Fatalf("query: %s", out)
	}
	out, _, code = runCLI(t, "enforce-retention", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "Shards to delete: shard_2024-01-07\n") || !strings.Contains(out, "(28,800 points)") {
		t.Fatalf("enforce-retention: %s", out)
	}
	out, _, _ = runCLI(t, "status", "--data-dir", dir)
	if strings.Contains(out, "shard_2024-01-07") || strings.Count(out, "[COLD]") != 5 || strings.Count(out, "[WARM]") != 2 {
		t.Fatalf("status after: %s", out)
	}
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"status"},
		{"query", "--data-dir", dir, "SELECT FROM"},
		{"load", "--data-dir", dir, "--engine", "lsm"},
		{"load", "--data-dir", dir, "--days", "0"},
		{"status", "--data-dir", dir, "--now", "yesterday"},
	} {
		_, errs, code := runCLI(t, args...)
		if code == 0 || !strings.HasPrefix(errs, "error: ") && !strings.Contains(errs, "usage") {
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
		{"query", "--data-dir", dir, "SELECT * FROM cpu"},
		{"tier", "--data-dir", dir},
		{"enforce-retention", "--data-dir", dir},
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
