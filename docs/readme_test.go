package docs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// commandTimeout bounds one pasted command; the slowest in a ```sh fence
// take a few seconds.
const commandTimeout = 3 * time.Minute

// block is a fenced code block of a README.
type block struct {
	info  string // the fence's info string: "sh", "sh server", "console", …
	line  int    // line of the opening fence
	lines []string
}

// doc is one README split into fences and the code spans outside them.
type doc struct {
	path   string
	text   []string // the lines
	blocks []block
	spans  []span
}

type span struct {
	line int
	text string
}

var fenceRE = regexp.MustCompile("^(```+|~~~+)\\s*(.*)$")

func parseDoc(path string) (doc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return doc{}, err
	}
	d := doc{path: path, text: strings.Split(string(b), "\n")}
	var cur *block
	var fence string
	for i, l := range d.text {
		if m := fenceRE.FindStringSubmatch(l); m != nil {
			if cur == nil {
				d.blocks = append(d.blocks, block{info: strings.TrimSpace(m[2]), line: i + 1})
				cur, fence = &d.blocks[len(d.blocks)-1], m[1]
				continue
			}
			if strings.HasPrefix(l, fence) && strings.TrimSpace(m[2]) == "" {
				cur = nil
				continue
			}
		}
		if cur != nil {
			cur.lines = append(cur.lines, l)
			continue
		}
		for _, s := range codeSpans(l) {
			d.spans = append(d.spans, span{i + 1, s})
		}
	}
	return d, nil
}

// codeSpans returns the `code` spans of a line of Markdown (single
// backticks; a table cell's \| is a |).
func codeSpans(l string) []string {
	var out []string
	for {
		i := strings.IndexByte(l, '`')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(l[i+1:], '`')
		if j < 0 {
			return out
		}
		out = append(out, strings.ReplaceAll(l[i+1:i+1+j], `\|`, "|"))
		l = l[i+2+j:]
	}
}

// commands joins a fence's lines into commands: a line ending in \ or
// inside an open quote continues on the next. Blank and comment lines go.
func commands(lines []string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range lines {
		if cur.Len() == 0 && (strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#")) {
			continue
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(l)
		s := cur.String()
		if openQuote(s) || strings.HasSuffix(s, `\`) {
			continue
		}
		out = append(out, s)
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// stripComment cuts a shell comment (a # that starts a word outside
// quotes) off a command line.
func stripComment(s string) string {
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q == 0 && c == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return s[:i]
		case q == 0 && (c == '\'' || c == '"'):
			q = c
		case q != '\'' && c == '\\':
			i++
		case c == q:
			q = 0
		}
	}
	return s
}

// openQuote reports whether s ends inside a '…' or "…" string (bash's
// rules, without expansions).
func openQuote(s string) bool {
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q == 0 && c == '#' && (i == 0 || s[i-1] == ' '):
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case q == 0 && (c == '\'' || c == '"'):
			q = c
		case q == '"' && c == '\\':
			i++
		case c == q:
			q = 0
		case q == 0 && c == '\\':
			i++
		}
	}
	return q != 0
}

// repoRoot is the directory holding go.work, above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		t.Fatalf("no go.work above docs/: %v", err)
	}
	return root
}

// readmes lists the READMEs in reading order: the top one, the stages,
// then the others.
func readmes(t *testing.T, root string) []string {
	t.Helper()
	stages, _ := filepath.Glob(filepath.Join(root, "stage*", "README.md"))
	slices.Sort(stages)
	out := append([]string{filepath.Join(root, "README.md")}, stages...)
	for _, p := range []string{"compare/README.md", "testdata/tsbs/README.md"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			out = append(out, filepath.Join(root, p))
		}
	}
	return out
}

// buildStages builds every stage's command once; it returns the directory
// holding them, one binary per stage, named after it.
func buildStages(t *testing.T, root string) string {
	t.Helper()
	mains, _ := filepath.Glob(filepath.Join(root, "stage*", "main.go"))
	args := []string{"build", "-o", t.TempDir() + "/"}
	for _, m := range mains {
		args = append(args, "./"+filepath.Base(filepath.Dir(m)))
	}
	bin := args[2]
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

var (
	goRunRE  = regexp.MustCompile(`\bgo run \./(stage\d\d-[a-z0-9]+)/?`)
	exitRE   = regexp.MustCompile(`exit status (\d+)`)
	serverRE = regexp.MustCompile(`^(curl|prometheus|docker|grafana|nc)\b|go run \./stage\d\d-[a-z0-9]+/? (start|server)\b|&\s*(#.*)?$`)
)

// TestREADMECommands runs every README's ```sh commands in order and checks
// every `go test` and `go run` the READMEs name (see the package comment).
func TestREADMECommands(t *testing.T) {
	root := repoRoot(t)
	funcs := newFuncIndex(root)
	bin := buildStages(t, root)
	long := os.Getenv("DOCS_LONG") == "1"
	for _, path := range readmes(t, root) {
		rel, _ := filepath.Rel(root, path)
		t.Run(rel, func(t *testing.T) {
			d, err := parseDoc(path)
			if err != nil {
				t.Fatal(err)
			}
			work := sandbox(t, root)
			for _, b := range d.blocks {
				kind := strings.Fields(b.info + " x")
				if kind[0] != "sh" {
					continue
				}
				for _, c := range commands(b.lines) {
					where := fmt.Sprintf("%s:%d: %s", rel, b.line, firstLine(c))
					if strings.HasPrefix(c, "go test ") {
						if err := funcs.checkGoTest(c); err != nil {
							t.Errorf("%s: %v", where, err)
						}
						continue
					}
					switch kind[1] {
					case "server":
						continue
					case "long":
						if !long {
							continue
						}
					}
					if serverRE.MatchString(c) {
						t.Errorf("%s: needs a server or another terminal: put it in a ```sh server fence", where)
						continue
					}
					runCommand(t, where, work, bin, c)
				}
			}
			for _, s := range d.spans {
				where := fmt.Sprintf("%s:%d: `%s`", rel, s.line, s.text)
				if m := goRunRE.FindStringSubmatch(s.text); m != nil && notStarted(root, m[1], d.lineText(s.line)) {
					continue
				}
				switch {
				case strings.HasPrefix(s.text, "go test "):
					if err := funcs.checkGoTest(s.text); err != nil {
						t.Errorf("%s: %v", where, err)
					}
				case strings.HasPrefix(s.text, "go run ./stage"):
					// The subcommand and flags exist: -h prints the usage
					// and exits 0 once every flag before it parsed.
					runCommand(t, where, work, bin, s.text+" -h >/dev/null")
				}
			}
		})
	}
}

// notStarted reports whether stage has no directory yet and the README
// line naming it says so: a stage to come is named, not run.
func notStarted(root, stage, line string) bool {
	if _, err := os.Stat(filepath.Join(root, stage)); err == nil {
		return false
	}
	return strings.Contains(line, "not started")
}

func (d doc) lineText(n int) string {
	if n-1 < len(d.text) {
		return d.text[n-1]
	}
	return ""
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// sandbox is a fresh directory that looks like the repository's root to a
// pasted command: a symlink to each top-level entry (read-only use), and a
// tmp/ of its own that stands for /tmp.
func sandbox(t *testing.T, root string) string {
	t.Helper()
	work := t.TempDir()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == ".git" || e.Name() == "data" {
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(work, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(work, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	return work
}

// runCommand runs one pasted command in bash in work and checks its exit
// status: 0, or the N of an "exit status N" in its comment.
func runCommand(t *testing.T, where, work, bin, c string) {
	t.Helper()
	want := 0
	if m := exitRE.FindStringSubmatch(c); m != nil {
		want, _ = strconv.Atoi(m[1])
	}
	script := strings.ReplaceAll(c, "/tmp/", filepath.Join(work, "tmp")+"/")
	script = goRunRE.ReplaceAllStringFunc(script, func(m string) string {
		return filepath.Join(bin, goRunRE.FindStringSubmatch(m)[1]) + " "
	})
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -o pipefail\n"+script)
	// Its own process group, so that a timeout stops what the command
	// started too, and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "TMPDIR="+filepath.Join(work, "tmp"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			got = 128 + int(ws.Signal()) // as bash reports a command killed by a signal
		}
	case err != nil:
		t.Errorf("%s: %v", where, err)
		return
	}
	if ctx.Err() != nil {
		t.Errorf("%s: still running after %v", where, commandTimeout)
		return
	}
	if got != want {
		tail := out.String()
		if len(tail) > 3000 {
			tail = "…" + tail[len(tail)-3000:]
		}
		t.Errorf("%s: exit status %d, want %d\n%s", where, got, want, tail)
		return
	}
	t.Logf("%s: ok in %v", where, time.Since(start).Round(time.Millisecond))
}

// funcIndex knows the Test, Benchmark, Fuzz and Example functions of every
// package directory of the repository.
type funcIndex struct {
	root  string
	cache map[string][]string // package dir → function names
}

func newFuncIndex(root string) *funcIndex {
	return &funcIndex{root: root, cache: map[string][]string{}}
}

func (x *funcIndex) funcs(dir string) []string {
	if f, ok := x.cache[dir]; ok {
		return f
	}
	var names []string
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				names = append(names, fd.Name.Name)
			}
		}
	}
	x.cache[dir] = names
	return names
}

// packages expands go test's package arguments (./dir, ./dir/..., work)
// into directories that hold Go files.
func (x *funcIndex) packages(args []string) ([]string, error) {
	var dirs []string
	for _, a := range args {
		if a == "work" {
			continue // every module: nothing to check by name
		}
		a = strings.TrimPrefix(a, "./")
		recursive := strings.HasSuffix(a, "/...")
		a = strings.TrimSuffix(strings.TrimSuffix(a, "/..."), "/")
		dir := filepath.Join(x.root, a)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("package %s: no such directory", a)
		}
		if !recursive {
			dirs = append(dirs, dir)
			continue
		}
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				if d.Name() == "testdata" {
					return filepath.SkipDir
				}
				if m, _ := filepath.Glob(filepath.Join(p, "*.go")); len(m) > 0 {
					dirs = append(dirs, p)
				}
			}
			return nil
		})
	}
	return dirs, nil
}

// valueFlags are the go test flags that take a value.
var valueFlags = map[string]bool{"-run": true, "-bench": true, "-list": true, "-fuzz": true, "-count": true,
	"-benchtime": true, "-fuzztime": true, "-fuzzminimizetime": true, "-timeout": true, "-cpu": true,
	"-cpuprofile": true, "-memprofile": true, "-trace": true, "-parallel": true, "-tags": true, "-skip": true}

// checkGoTest checks a `go test` command without running it: its packages
// exist, and each pattern names at least one function of them.
func (x *funcIndex) checkGoTest(c string) error {
	args, err := splitWords(stripComment(strings.TrimPrefix(c, "go test")))
	if err != nil {
		return err
	}
	// The command ends at a comment, a pipe or a redirection.
	for i, a := range args {
		if strings.HasPrefix(a, "#") || a == "|" || a == "&&" || strings.HasPrefix(a, ">") || strings.HasPrefix(a, "2>") {
			args = args[:i]
			break
		}
	}
	patterns := map[string]string{}
	var pkgs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		switch {
		case strings.HasPrefix(a, "-") && valueFlags[name]:
			if !hasVal {
				if i+1 >= len(args) {
					return fmt.Errorf("%s without a value", a)
				}
				i++
				val = args[i]
			}
			patterns[name] = val
		case strings.HasPrefix(a, "-"):
		default:
			pkgs = append(pkgs, a)
		}
	}
	if len(pkgs) == 0 {
		return errors.New("no package named (run from the repository root with ./stageNN-name/...)")
	}
	dirs, err := x.packages(pkgs)
	if err != nil {
		return err
	}
	if len(dirs) == 0 && !slices.Contains(pkgs, "work") {
		return fmt.Errorf("no Go package in %v", pkgs)
	}
	var all []string
	for _, d := range dirs {
		all = append(all, x.funcs(d)...)
	}
	kinds := map[string][]string{
		"-run": {"Test", "Example", "Fuzz"}, "-list": {"Test", "Example", "Fuzz", "Benchmark"},
		"-bench": {"Benchmark"}, "-fuzz": {"Fuzz"},
	}
	for flag, prefixes := range kinds {
		pat, ok := patterns[flag]
		if !ok || pat == "^$" || pat == "x" && flag == "-run" {
			continue
		}
		top := splitPattern(pat)[0]
		re, err := regexp.Compile(top)
		if err != nil {
			return fmt.Errorf("%s %q: %v", flag, pat, err)
		}
		found := false
		for _, f := range all {
			for _, p := range prefixes {
				if strings.HasPrefix(f, p) && re.MatchString(f) {
					found = true
				}
			}
		}
		if !found && len(dirs) > 0 {
			return fmt.Errorf("%s %q matches no function in %v", flag, pat, pkgs)
		}
	}
	return nil
}

// splitPattern splits a -run/-bench pattern at the slashes that separate
// the levels of subtests (not those inside brackets or parentheses), as go
// test does.
func splitPattern(p string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		case '\\':
			i++
		case '/':
			if depth == 0 {
				out = append(out, p[start:i])
				start = i + 1
			}
		}
	}
	return append(out, p[start:])
}

// splitWords splits a command line into words with the shell's quoting
// rules for '…', "…" and \ (no expansions).
func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false
	r := bufio.NewReader(strings.NewReader(s))
	for {
		c, err := r.ReadByte()
		if err != nil {
			break
		}
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\'':
			in = true
			v, err := r.ReadString('\'')
			if err != nil {
				return nil, fmt.Errorf("unclosed ' in %q", s)
			}
			cur.WriteString(v[:len(v)-1])
		case c == '"':
			in = true
			for {
				d, err := r.ReadByte()
				if err != nil {
					return nil, fmt.Errorf("unclosed \" in %q", s)
				}
				if d == '"' {
					break
				}
				if d == '\\' {
					if e, err := r.ReadByte(); err == nil {
						d = e
					}
				}
				cur.WriteByte(d)
			}
		case c == '\\':
			in = true
			if e, err := r.ReadByte(); err == nil && e != '\n' {
				cur.WriteByte(e)
			}
		default:
			in = true
			cur.WriteByte(c)
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}
