package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every `go run ./stage14-alerts …` command of the README's "Run it" block
// runs, in order, as pasted from the repository root (the demo's directory
// moved to a temporary one), with the exit status its comment announces;
// the commands that need a server (--url, --config) are in other blocks.
func TestReadmeCommands(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(readme)
	start := strings.Index(doc, "## Run it\n\n```sh\n")
	if start < 0 {
		t.Fatal("README has no Run it block")
	}
	block := doc[start+len("## Run it\n\n```sh\n"):]
	block = block[:strings.Index(block, "```")]
	tmp := t.TempDir() + "/alerts-demo"
	t.Chdir("..")
	argRE := regexp.MustCompile(`'[^']*'|\S+`)
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		cmd, comment, _ := strings.Cut(line, "#")
		cmd = strings.TrimSpace(strings.ReplaceAll(cmd, "/tmp/alerts-demo", tmp))
		if !strings.HasPrefix(cmd, "go run ./stage14-alerts") {
			t.Fatalf("unexpected line %q", line)
		}
		var args []string
		for _, a := range argRE.FindAllString(strings.TrimPrefix(cmd, "go run ./stage14-alerts"), -1) {
			args = append(args, strings.Trim(a, "'"))
		}
		want := 0
		if strings.Contains(comment, "exit 1") {
			want = 1
		}
		out, errOut, code := capture(args...)
		if code != want {
			t.Errorf("%s: exit %d, want %d\n%s%s", cmd, code, want, out, errOut)
		}
		n++
	}
	if n < 8 {
		t.Errorf("only %d commands in the Run it block", n)
	}
	for _, want := range []string{"ALERT FIRED: HighCPU", "Timeline:", "## Milestones", "## Performance", "| figure |", "## For the capstone"} {
		if !strings.Contains(doc, want) {
			t.Errorf("README lacks %q", want)
		}
	}
}
