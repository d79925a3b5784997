package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/cli"
)

func runCLI(args ...string) (stdout, stderr string, code int) { return cli.Capture(run, args...) }

// TestDemo runs the demo on 40 series (10 of them GET) and checks the
// guide's transcript shape and the numbers that follow from the data:
// 1 h at 15 s is 240 scrapes, a 2 h block holds 480 samples per series,
// and a [5m] range at 15 s returns 20 samples for each GET series.
func TestDemo(t *testing.T) {
	out, errOut, code := runCLI("--series", "40")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"Ingested 9,600 samples across 40 series",
		"Head spans 3h: flushing the oldest 2h to disk...",
		"  Time range: 1703001600 - 1703008800\n",
		"  Samples: 19,200\n",
		"Returned: 200 samples (10 series)\n",
		"Scanned: 1 block, ",
		"(level 2, in ",
		"  Time range: 1703001600 - 1703016000 (4h)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`Created block: [0-9A-Z]{26} `).MatchString(out) {
		t.Errorf("no block ULID in:\n%s", out)
	}
}

// TestSubcommands: ingest, compact, query and inspect on one directory.
func TestSubcommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	out, errOut, code := runCLI("ingest", "--data-dir", dir, "--series", "40", "--hours", "3")
	if code != 0 || !strings.Contains(out, "Ingested 28,800 samples across 40 series") {
		t.Fatalf("ingest: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI("compact", "--data-dir", dir, "--flush")
	if code != 0 || strings.Count(out, "Created block ") != 2 {
		t.Fatalf("compact --flush (3 h from a block boundary: 2 blocks): exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = runCLI("compact", "--data-dir", dir)
	if code != 0 || out != "Nothing to compact.\n" {
		t.Fatalf("second compact: exit %d %q", code, out)
	}
	// At 1 h 30 m: inside the first block.
	out, errOut, code = runCLI("query", `http_requests_total{method="GET"}[5m]`, "--data-dir", dir, "--at", "1703007000")
	if code != 0 || !strings.Contains(out, "Returned: 200 samples (10 series)") || !strings.Contains(out, `method="GET"`) {
		t.Fatalf("query: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = runCLI("query", `http_requests_total{method="PATCH"}`, "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "Returned: 0 samples (0 series)") {
		t.Fatalf("query with no match: exit %d\n%s", code, out)
	}
	out, errOut, code = runCLI("inspect", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "Blocks: 2,") || !strings.Contains(out, "Head: empty") {
		t.Fatalf("inspect: exit %d\n%s%s", code, out, errOut)
	}
	// 40 series × 480 scrapes in [0, 2 h), × 240 in [2 h, 3 h).
	if !regexp.MustCompile(`(?m)^\S+ +1703001600000 +1703008800000 +2h +19,200 +40 `).MatchString(out) ||
		!regexp.MustCompile(`(?m)^\S+ +1703008800000 +1703016000000 +2h +9,600 +40 `).MatchString(out) {
		t.Errorf("inspect: want blocks of 19,200 and 9,600 samples:\n%s", out)
	}
}

func TestHelp(t *testing.T) {
	out, _, code := runCLI("-h")
	if code != 0 || !strings.HasPrefix(out, "usage:") {
		t.Fatalf("-h: exit %d %q", code, out)
	}
	for _, cmd := range []string{"demo", "ingest", "query", "compact", "inspect"} {
		_, errOut, code := runCLI(cmd, "-h")
		if code != 0 || !strings.HasPrefix(errOut, "usage: stage06-blocks "+cmd) || !strings.Contains(errOut, "-data-dir") {
			t.Errorf("%s -h: exit %d %q", cmd, code, errOut)
		}
	}
}

// TestBadInput: one "error:" line on stderr, a non-zero exit, and the data
// directory unharmed.
func TestBadInput(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	if _, e, code := runCLI("ingest", "--data-dir", dir, "--series", "8", "--hours", "0.1"); code != 0 {
		t.Fatal(e)
	}
	before, _, _ := runCLI("inspect", "--data-dir", dir)
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	for _, args := range [][]string{
		{"frobnicate"},
		{"--series", "2"},
		{"--bogus"},
		{"ingest"},
		{"ingest", "--data-dir", dir, "--series", "0"},
		{"ingest", "--data-dir", dir, "--hours", "-1"},
		{"query", "--data-dir", dir},
		{"query", "up{", "--data-dir", dir},
		{"query", "up[5x]", "--data-dir", dir},
		{"query", "up[5m", "--data-dir", dir},
		{"query", "up", "--data-dir", dir, "--at", "yesterday"},
		{"query", "up"},
		{"compact"},
		{"compact", "--data-dir", dir, "extra"},
		{"inspect", "--data-dir", notDir},
	} {
		out, errOut, code := runCLI(args...)
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if code == 0 || len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") {
			t.Errorf("%q: exit %d, stderr %q, stdout %q", args, code, errOut, out)
		}
	}
	after, _, _ := runCLI("inspect", "--data-dir", dir)
	re := regexp.MustCompile(`replayed .* in [^)]*\)`)
	if re.ReplaceAllString(before, "") != re.ReplaceAllString(after, "") {
		t.Errorf("bad input changed the data:\nbefore %s\nafter %s", before, after)
	}
}

// TestMissingDataDir: a command that reads a data directory fails on a
// missing one, naming it, and does not create it.
func TestMissingDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	for _, args := range [][]string{
		{"query", "up", "--data-dir", dir},
		{"inspect", "--data-dir", dir},
		{"compact", "--data-dir", dir},
	} {
		_, stderr, code := runCLI(args...)
		if code != 1 || !strings.Contains(stderr, dir) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and a message naming %s", args, code, stderr, dir)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%v created %s", args, dir)
		}
	}
}

// TestIngestThenCompact: ingest leaves the head to `compact`, which cuts
// it into 2 h blocks (the head keeps the last 2 h) and merges the three
// blocks that fill the 6 h range [18:00, 24:00) into one of level 2, as the
// README's sequence shows. An empty directory has nothing to query.
func TestIngestThenCompact(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	if _, errOut, code := runCLI("ingest", "--data-dir", dir, "--series", "40", "--hours", "10", "--interval", "1m"); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errOut)
	}
	out, errOut, code := runCLI("compact", "--data-dir", dir)
	if code != 0 || strings.Count(out, "Created block ") != 4 ||
		!regexp.MustCompile(`Compacted 3 blocks \(.*\) into [0-9A-Z]{26} \(level 2\): 1703008800 - 1703030400`).MatchString(out) {
		t.Fatalf("compact: exit %d\n%s%s", code, out, errOut)
	}
	empty := t.TempDir()
	_, errOut, code = runCLI("query", "up", "--data-dir", empty)
	if code != 1 || !strings.Contains(errOut, "holds no samples") {
		t.Errorf("query of an empty directory: exit %d, %q", code, errOut)
	}
}

// TestRepairCommand: a damaged WAL record makes every command refuse the
// directory, naming the damage; repair lists it and changes nothing; repair
// --yes cuts out that one record, after which the directory opens with
// every other sample.
func TestRepairCommand(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := runCLI("ingest", "--data-dir", dir, "--series", "20", "--hours", "2"); code != 0 {
		t.Fatal(errOut)
	}
	seg := filepath.Join(dir, "wal", "00000000")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLI("inspect", "--data-dir", dir)
	if code == 0 || !strings.Contains(errOut, "wal/00000000: corrupt at offset") || !strings.Contains(errOut, "nothing was changed") {
		t.Fatalf("inspect on a damaged WAL: exit %d\n%s", code, errOut)
	}
	out, errOut, code := runCLI("repair", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "wal/00000000: corrupt at offset") || !strings.Contains(out, "1 damaged record(s) lost") || !strings.Contains(out, "Nothing was changed") {
		t.Fatalf("repair (dry run): exit %d\n%s%s", code, out, errOut)
	}
	if b2, _ := os.ReadFile(seg); string(b2) != string(b) {
		t.Fatal("the dry run changed the segment")
	}
	out, errOut, code = runCLI("repair", "--data-dir", dir, "--yes")
	if code != 0 || !strings.Contains(out, "Repaired:") || !strings.Contains(out, "kept ") {
		t.Fatalf("repair --yes: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(seg + ".damaged"); err != nil {
		t.Fatalf("the original segment is not kept: %v", err)
	}
	out, errOut, code = runCLI("inspect", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "Head: 20 series") {
		t.Fatalf("inspect after the repair: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, _ := runCLI("repair", "--data-dir", dir); !strings.Contains(out, "No damage found.") {
		t.Fatalf("repair after the repair:\n%s", out)
	}
}
