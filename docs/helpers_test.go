package docs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCommands(t *testing.T) {
	lines := []string{
		"# a comment",
		"go run ./stage01-memstore demo   # with a comment",
		"",
		`printf 'a\nb\n' \`,
		"  | go run ./stage01-memstore",
		"curl -X POST localhost:9090/write --data-binary '",
		`cpu 1 2`,
		`mem 3 4'`,
		`echo "it's # not a comment"`,
	}
	want := []string{
		"go run ./stage01-memstore demo   # with a comment",
		"printf 'a\\nb\\n' \\\n  | go run ./stage01-memstore",
		"curl -X POST localhost:9090/write --data-binary '\ncpu 1 2\nmem 3 4'",
		`echo "it's # not a comment"`,
	}
	if got := commands(lines); !slices.Equal(got, want) {
		t.Errorf("commands:\n%q\nwant\n%q", got, want)
	}
}

func TestSplitPattern(t *testing.T) {
	for p, want := range map[string][]string{
		"Query/^(range|instant)":        {"Query", "^(range|instant)"},
		"(DecodeAll|AppendSamples)/x/y": {"(DecodeAll|AppendSamples)", "x", "y"},
		`a\/b/c`:                        {`a\/b`, "c"},
		"[/]x":                          {"[/]x"},
	} {
		if got := splitPattern(p); !slices.Equal(got, want) {
			t.Errorf("splitPattern(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestSplitWords(t *testing.T) {
	got, err := splitWords(` -run '^$' -bench "Query/^(range|instant)" -count=5 ./x/... a\ b`)
	want := []string{"-run", "^$", "-bench", "Query/^(range|instant)", "-count=5", "./x/...", "a b"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("splitWords = %q, %v; want %q", got, err, want)
	}
	if _, err := splitWords(`-run 'x`); err == nil {
		t.Error("an unclosed quote passed")
	}
}

// TestCheckGoTest runs the static check on a made-up module: a command that
// names a missing package or a pattern that matches nothing fails.
func TestCheckGoTest(t *testing.T) {
	root := t.TempDir()
	for path, src := range map[string]string{
		"stage99-x/p/p_test.go": "package p\nimport \"testing\"\nfunc TestMilestone1_A(t *testing.T) {}\nfunc BenchmarkQuery(b *testing.B) {}\nfunc FuzzParse(f *testing.F) {}\n",
		"stage99-x/p/p.go":      "package p\n",
	} {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	x := newFuncIndex(root)
	for c, wantErr := range map[string]string{
		"go test ./stage99-x/...":                                         "",
		"go test -run Milestone1 ./stage99-x/...   # a comment":           "",
		"go test -run '^$' -bench 'Query/^(range|instant)' ./stage99-x/p": "",
		"go test -run x -fuzz FuzzParse -fuzztime 60s ./stage99-x/p/":     "",
		"go test work": "",
		"go test -run Milestone2 ./stage99-x/...": "matches no function",
		"go test -bench Nope ./stage99-x/p":       "matches no function",
		"go test ./stage98-y/...":                 "no such directory",
		"go test -run X":                          "no package",
	} {
		err := x.checkGoTest(c)
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("checkGoTest(%q) = %v, want %q", c, err, wantErr)
		}
	}
}

func TestStripComment(t *testing.T) {
	for in, want := range map[string]string{
		"go test ./x/...   # the demo's output": "go test ./x/...   ",
		`go test -run 'a#b' ./x # c`:            `go test -run 'a#b' ./x `,
		`echo "it's" #x`:                        `echo "it's" `,
		"a#b":                                   "a#b",
	} {
		if got := stripComment(in); got != want {
			t.Errorf("stripComment(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServerRE(t *testing.T) {
	for c, want := range map[string]bool{
		"curl localhost:9090/admin/status":                          true,
		"go run ./stage15-tsdb start --listen 127.0.0.1:9191":       true,
		"go run ./stage11-ingest server --port 9090 &":              true,
		"echo x | nc -q1 127.0.0.1 9090":                            false, // nc not first: still a client, but harmless to run
		"go run ./stage06-blocks compact --data-dir /tmp/d":         false,
		"go run ./stage15-tsdb bench-write --samples 2000000":       false,
		"go run ./stage07-tsm query --data-dir /tmp/t \"SELECT 1\"": false,
	} {
		if got := serverRE.MatchString(c); got != want {
			t.Errorf("serverRE(%q) = %v, want %v", c, got, want)
		}
	}
}
