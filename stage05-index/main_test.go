package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func runCLI(stdin string, args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(args, strings.NewReader(stdin), &o, &e)
	return o.String(), e.String(), code
}

func num(s string) int {
	n, _ := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	return n
}

// TestDemoShape runs the demo on 40,000 series and checks the guide's
// transcript shape, and that the counts shrink as matchers are added.
func TestDemoShape(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runCLI("", "--series", "40000", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("code %d: %s", code, errOut)
	}
	re := regexp.MustCompile(`(?s)^Building index from 40,000 series\.\.\.
  built in [\d.]+ s \([\d,]+ series/s\), \d+ bytes/series of heap

Index stats:
  Unique tag keys: 15
  Unique tag values: ([\d,]+)
  Index size: [\d.]+ MB \(bitmaps\) .*
Query: region=us-east
  Matching series: ([\d,]+)
  Query time: [\d.]+ms

Query: region=us-east AND env=production
  Matching series: ([\d,]+)
  Query time: [\d.]+ms \(intersection of 2 postings lists\)

Query: region=us-east AND env=production AND service=api
  Matching series: ([\d,]+)
  Query time: [\d.]+ms \(intersection of 3 postings lists\)

Query: instance=~"host-\.\*7\.\*3"
  Matching series: [\d,]+
  Query time: [\d.]+ms \(regex over 2,000 values\)

Throughput: [\d,]+ queries/second .*
Index file: .*index.tsix, [\d.]+ MB \(written in [\d.]+ms, opened in [\d.]+ms; same answers after opening: true\)
$`)
	m := re.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("demo output does not have the guide's shape:\n%s", out)
	}
	r, re2, re3 := num(m[2]), num(m[3]), num(m[4])
	if !(r > re2 && re2 > re3 && re3 > 0) || r < 40000/8/2 || r > 40000/8*2 {
		t.Errorf("match counts %d > %d > %d > 0 expected, region about 1/8 of 40,000", r, re2, re3)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.tsix")); err != nil {
		t.Errorf("--data-dir: %v", err)
	}
}

func TestBuildThenQueryREPL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idx.tsix")
	if _, e, code := runCLI("", "build", "--series", "5000", "--file", path); code != 0 {
		t.Fatalf("build: %d %s", code, e)
	}
	in := "region=us-east\nregion=us-east AND env=production\nregion=us-east OR env=x\n" +
		"metric{\nvalues region\nlabels\nstats\nquit\nregion=us-west\n"
	out, errOut, code := runCLI(in, "query", "--file", path)
	if code != 0 || !strings.Contains(errOut, "opened") {
		t.Fatalf("query: code %d, stderr %q", code, errOut)
	}
	counts := regexp.MustCompile(`Matching series: ([\d,]+)`).FindAllStringSubmatch(out, -1)
	if len(counts) != 2 || num(counts[0][1]) <= num(counts[1][1]) {
		t.Fatalf("want two answers, the second smaller; got %v in\n%s", counts, out)
	}
	for _, want := range []string{
		`error: col 16: expected AND or end of query, found "OR"`,
		"region=us-east OR env=x\n                 ^", // the caret under the error
		"error: col 8: expected a label name",
		"8 values: ap-northeast ap-south ca-central eu-central eu-west sa-east us-east us-west",
		"__name__ arch az cluster env handler instance job namespace os region service team tier version",
		"series 5,000, label names 15",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("REPL output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "us-west\n") && strings.Count(out, "Matching series") > 2 {
		t.Error("input after quit was answered")
	}
}

func TestCLIErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"frobnicate"}, 2, `error: unknown command "frobnicate"`},
		{[]string{"--series", "0"}, 2, "error: --series 0 out of range"},
		{[]string{"--bogus"}, 2, "error: demo: flag provided but not defined: -bogus"},
		{[]string{"build", "--series", "10"}, 2, "error: build: --file is required"},
		{[]string{"query", "--file", "/nonexistent/dir/x", "--series", "10"}, 1, "error: index:"},
		{[]string{"build", "extra"}, 2, `error: build: unexpected argument "extra"`},
	} {
		_, errOut, code := runCLI("", c.args...)
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		if code != c.code || !strings.HasPrefix(lines[len(lines)-1], c.msg) || strings.Count(errOut, "error:") != 1 {
			t.Errorf("%v: code %d, stderr %q; want %d, %q", c.args, code, errOut, c.code, c.msg)
		}
	}
	// A corrupt file is one error line too.
	path := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(path, []byte("TSIX\x01 not an index"), 0o644)
	_, errOut, code := runCLI("", "query", "--file", path)
	if code != 1 || !strings.Contains(errOut, "corrupt") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("corrupt file: code %d, stderr %q", code, errOut)
	}
	out, _, code := runCLI("", "-h")
	if code != 0 || !strings.Contains(out, "usage:") {
		t.Errorf("-h: %d %q", code, out)
	}
}
