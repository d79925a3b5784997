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

// TestDemo runs the demo end to end at a small scale; it checks its own
// query results against the generator and fails (exit 1) if they differ.
func TestDemo(t *testing.T) {
	out, errs, code := runCLI(t, "--points", "400000", "--series", "1000")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"[Write Phase]", "[Flush Phase - cache full]", "Created: ", "[Compaction Phase]",
		"Level 1 compaction:", "→ 000001-02.tsm (Level 2", "[Query Phase]", "Points returned: 3,600", "Check: all 3,600 points",
		"Check: all 600 points", "[Full Compaction - writes cold]"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "rejected by bloom filters") || strings.Contains(out, ", 0 key lookups rejected by bloom filters), 20 blocks") {
		t.Errorf("the late host's query should show bloom rejections:\n%s", out)
	}
}

func TestSubcommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "in.influx")
	lines := "# comment\n" +
		"cpu,host=a,region=eu usage=1.5,n=3i,ok=true,msg=\"hi\" 1000000000\n" +
		"cpu,host=b,region=us usage=2.5,n=4i,ok=false,msg=\"yo\" 1000000000\n" +
		"cpu,host=a,region=eu usage=3.5,n=5i,ok=true,msg=\"hey\" 2000000000\n"
	if err := os.WriteFile(data, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "db")
	out, errs, code := runCLI(t, "write", "--data-dir", db, "--file", data)
	if code != 0 || !strings.Contains(out, "Wrote 3 lines, 12 values") || !strings.Contains(out, "000001-01.tsm") {
		t.Fatalf("write: %d\n%s%s", code, out, errs)
	}
	out, errs, code = runCLI(t, "query", "--data-dir", db, "SELECT usage, n FROM cpu WHERE host='a'")
	if code != 0 || !strings.Contains(out, "1970-01-01T00:00:02Z\t3.5\t5") || !strings.Contains(out, "Points returned: 4") {
		t.Fatalf("query: %d\n%s%s", code, out, errs)
	}
	out, errs, code = runCLI(t, "query", "--data-dir", db, "SELECT sum(n), count(msg) FROM cpu GROUP BY time(1s)")
	if code != 0 || !strings.Contains(out, "1970-01-01T00:00:01Z\t7\t2") {
		t.Fatalf("aggregate query: %d\n%s%s", code, out, errs)
	}
	_, errs, code = runCLI(t, "query", "--data-dir", db, "SELECT * FROM cpu WHERE host=a")
	if code != 1 || !strings.Contains(errs, "error: query: column 30: tag values are single-quoted") || !strings.Contains(errs, "^") {
		t.Fatalf("bad query: %d %q", code, errs)
	}
	// a second file, then compaction
	runCLI(t, "write", "--data-dir", db, "--file", data)
	out, errs, code = runCLI(t, "compact", "--data-dir", db, "--full")
	if code != 0 || !strings.Contains(out, "Full compaction: 000001-01.tsm + 000002-01.tsm") || !strings.Contains(out, "Files: 2 before, 1 after") {
		t.Fatalf("compact: %d\n%s%s", code, out, errs)
	}
	out, errs, code = runCLI(t, "inspect", "--data-dir", db, "000001-04.tsm")
	if code != 0 || !strings.Contains(out, "Keys: 8") || !strings.Contains(out, "string   2 keys") || !strings.Contains(out, "Bloom filter:") {
		t.Fatalf("inspect: %d\n%s%s", code, out, errs)
	}
	bad := filepath.Join(dir, "bad.influx")
	os.WriteFile(bad, []byte("cpu v=1 1\ncpu v=oops 2\n"), 0o644)
	_, errs, code = runCLI(t, "write", "--data-dir", db, "--file", bad)
	if code != 1 || !strings.Contains(errs, "line 2, column 7: invalid field value") {
		t.Fatalf("bad input: %d %q", code, errs)
	}
	if _, _, code := runCLI(t, "frobnicate"); code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
}

// TestMissingDataDir: a command that reads a data directory fails on a
// missing one, naming it, and does not create it.
func TestMissingDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	for _, args := range [][]string{
		{"query", "--data-dir", dir, "SELECT * FROM cpu"},
		{"compact", "--data-dir", dir},
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
