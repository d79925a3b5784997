package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", 125000: "125,000", 1234567: "1,234,567",
		-1: "-1", -1000: "-1,000", -999999: "-999,999", math.MinInt64: "-9,223,372,036,854,775,808",
	} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestDurationAndSig3(t *testing.T) {
	for d, want := range map[time.Duration]string{
		12300 * time.Microsecond: "12.3ms",
		1500 * time.Millisecond:  "1.5s",
		850 * time.Microsecond:   "850µs",
		120:                      "120ns",
		0:                        "0ns",
		59 * time.Second:         "59s",
		90 * time.Second:         "1m30s",
		1234 * time.Second:       "20m34s",
		2 * time.Hour:            "2h",
		5400 * time.Second:       "1h30m",
		-2 * time.Hour:           "-2h",
		61500 * time.Millisecond: "1m2s",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
	for x, want := range map[float64]string{0.0029839: "0.00298", 12: "12", 1234.5: "1235", -0.5: "-0.5", 2.0004: "2", 0: "0"} {
		if got := Sig3(x); got != want {
			t.Errorf("Sig3(%v) = %q, want %q", x, got, want)
		}
	}
	if got := Rate(1234567.8); got != "1.23M" {
		t.Errorf("Rate = %q", got)
	}
	for n, want := range map[int64]string{512: "512 B", 1536: "1.5 KiB", 3 << 30: "3.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	var usage bytes.Buffer
	newFS := func() (*flag.FlagSet, *int) {
		usage.Reset()
		fs := NewFlags("prog", "cmd", "IN OUT", &usage)
		return fs, fs.Int("n", 1, "a number")
	}
	fs, n := newFS()
	pos, err := Parse(fs, []string{"in", "--n", "5", "out"}, "IN", "OUT")
	if err != nil || !slices.Equal(pos, []string{"in", "out"}) || *n != 5 {
		t.Fatalf("flags between arguments: pos %v, n %d, err %v", pos, *n, err)
	}
	fs, _ = newFS()
	if _, err := Parse(fs, []string{"in"}, "IN", "OUT"); !errors.As(err, new(UsageError)) {
		t.Errorf("missing argument: err %v, want a UsageError", err)
	}
	fs, _ = newFS()
	if _, err := Parse(fs, []string{"--bogus", "a", "b"}, "IN", "OUT"); !errors.As(err, new(UsageError)) || usage.Len() != 0 {
		t.Errorf("unknown flag: err %v, output %q; want a UsageError and nothing printed", err, usage.String())
	}
	fs, _ = newFS()
	if _, err := Parse(fs, []string{"-h"}, "IN", "OUT"); !errors.Is(err, flag.ErrHelp) || !strings.Contains(usage.String(), "usage: prog cmd IN OUT") {
		t.Errorf("-h: err %v, usage %q", err, usage.String())
	}
	fs, _ = newFS()
	if _, err := Parse(fs, []string{"a"}); !errors.As(err, new(UsageError)) {
		t.Errorf("no names means no arguments: err %v", err)
	}
	fs, _ = newFS()
	if pos, err := Parse(fs, []string{"a", "b", "--n", "3", "c"}, "OUT", "IN..."); err != nil || !slices.Equal(pos, []string{"a", "b", "c"}) {
		t.Errorf("variadic: %v, %v", pos, err)
	}
	fs, _ = newFS()
	if _, err := Parse(fs, []string{"a"}, "OUT", "IN..."); !errors.As(err, new(UsageError)) {
		t.Errorf("variadic with too few: err %v", err)
	}
	fs, _ = newFS()
	if pos, err := Parse(fs, []string{"--n", "2"}); err != nil || len(pos) != 0 {
		t.Errorf("flags only: %v, %v", pos, err)
	}
}

func TestExit(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   int
		stderr string
	}{
		{nil, 0, ""},
		{flag.ErrHelp, 0, ""},
		{Usagef("bad %s", "thing"), 2, "error: bad thing\n"},
		{fmt.Errorf("wrapped: %w", Usagef("x")), 2, "error: wrapped: x\n"},
		{ErrReported, 1, ""},
		{errors.New("boom"), 1, "error: boom\n"},
	} {
		var b bytes.Buffer
		if code := Exit(tc.err, &b); code != tc.code || b.String() != tc.stderr {
			t.Errorf("Exit(%v) = %d, %q; want %d, %q", tc.err, code, b.String(), tc.code, tc.stderr)
		}
	}
}

type syncBuf struct {
	ch chan string
}

func (s syncBuf) Write(p []byte) (int, error) { s.ch <- string(p); return len(p), nil }

func TestProgress(t *testing.T) {
	w := syncBuf{ch: make(chan string, 100)}
	p := NewProgress(w, "loading", 1000, time.Millisecond)
	p.Add(250)
	line := <-w.ch // a tick happens within a few milliseconds
	p.Done()
	if !strings.HasPrefix(line, "loading: 250/1,000 (25%)") {
		t.Errorf("progress line %q", line)
	}
	// Quick work prints nothing.
	q := syncBuf{ch: make(chan string, 1)}
	qp := NewProgress(q, "quick", 0, time.Hour)
	qp.Done()
	qp.Done() // a second Done (a deferred one) is harmless
	if len(q.ch) != 0 {
		t.Error("a progress that ended before its first interval printed a line")
	}
}

func TestDispatch(t *testing.T) {
	var ran []string
	cmd := func(name string, err error) Command {
		return Command{Name: name, Run: func(args []string, stdout, stderr io.Writer) error {
			ran = append(ran, name+" "+strings.Join(args, " "))
			return err
		}}
	}
	def := cmd("demo", nil)
	cmds := []Command{cmd("write", nil), cmd("fail", errors.New("boom"))}
	for _, tc := range []struct {
		args   []string
		code   int
		ran    string
		stdout string
		stderr string
	}{
		{nil, 0, "demo ", "", ""},
		{[]string{"--points", "5"}, 0, "demo --points 5", "", ""},
		{[]string{"demo", "-x"}, 0, "demo -x", "", ""},
		{[]string{"write", "a", "b"}, 0, "write a b", "", ""},
		{[]string{"fail"}, 1, "fail ", "", "error: boom\n"},
		{[]string{"-h"}, 0, "", "USAGE", ""},
		{[]string{"help"}, 0, "", "USAGE", ""},
		{[]string{"nope"}, 2, "", "", "error: unknown command \"nope\" (want demo, write, fail; -h for help)\n"},
	} {
		ran = nil
		var o, e bytes.Buffer
		code := Dispatch("USAGE", def, cmds, tc.args, &o, &e)
		got := strings.Join(ran, "|")
		if code != tc.code || got != tc.ran || o.String() != tc.stdout || e.String() != tc.stderr {
			t.Errorf("Dispatch(%q) = %d, ran %q, stdout %q, stderr %q; want %d, %q, %q, %q",
				tc.args, code, got, o.String(), e.String(), tc.code, tc.ran, tc.stdout, tc.stderr)
		}
	}
	if IsTerminal(strings.NewReader("")) {
		t.Error("a strings.Reader is not a terminal")
	}
}

func TestREPL(t *testing.T) {
	exec := func(line string, w io.Writer) error {
		switch line {
		case "bad":
			return errors.New("no")
		case "quit":
			return ErrQuit
		}
		fmt.Fprintf(w, "got %s\n", line)
		return nil
	}
	var out bytes.Buffer
	err := REPL(strings.NewReader("a\nbad\nb\nquit\nc\n"), &out, REPLOptions{Prompt: "> "}, exec)
	if want := "got a\nerror: no\ngot b\n"; err != nil || out.String() != want {
		t.Errorf("piped: %q, %v; want %q", out.String(), err, want)
	}
	out.Reset()
	_ = REPL(strings.NewReader("a\n\n# c\n"), &out, REPLOptions{Prompt: "> ", Echo: true}, exec)
	if want := "> a\ngot a\ngot \ngot # c\n"; out.String() != want {
		t.Errorf("echo: %q, want %q", out.String(), want)
	}
	out.Reset()
	_ = REPL(strings.NewReader("a\n"), &out, REPLOptions{Prompt: "> ", Interactive: true}, exec)
	if want := "> got a\n> "; out.String() != want {
		t.Errorf("interactive: %q, want %q", out.String(), want)
	}
}

func TestRequire(t *testing.T) {
	fs := NewFlags("prog", "recover", "", io.Discard)
	dir := fs.String("data-dir", "", "")
	if err := Require(fs, "data-dir"); !errors.As(err, new(UsageError)) || err.Error() != "recover: --data-dir is required" {
		t.Errorf("missing: %v", err)
	}
	*dir = "/tmp/x"
	if err := Require(fs, "data-dir"); err != nil {
		t.Errorf("given: %v", err)
	}
	if err := Require(fs, "nope"); err == nil {
		t.Error("an undefined flag passed")
	}
}

func TestExistingDir(t *testing.T) {
	dir := t.TempDir()
	if err := ExistingDir(dir); err != nil {
		t.Errorf("existing: %v", err)
	}
	missing := filepath.Join(dir, "nope")
	err := ExistingDir(missing)
	if !errors.Is(err, ErrNoDir) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing: %v, want ErrNoDir naming %s", err, missing)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ExistingDir created %s", missing)
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ExistingDir(file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file: %v", err)
	}
	if code := Exit(ExistingDir(missing), io.Discard); code != 1 {
		t.Errorf("exit status %d for a missing directory, want 1", code)
	}
}
