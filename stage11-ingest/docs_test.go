package main

import (
	"os"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/cli"
)

// TestREADMECommands runs the README's `go run ./stage11-ingest …`
// commands that need no server, shortened to a second of writing by ten
// writers (later flags win), and checks that each succeeds.
func TestREADMECommands(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("runs every README command for a second")
	}
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "go run ./stage11-ingest") {
			continue
		}
		cmd := strings.TrimSpace(strings.SplitN(line, "#", 2)[0])
		args := strings.Fields(cmd)[3:]
		if len(args) > 0 && args[0] == "server" {
			continue // a server runs until stopped: ingest/server's tests cover it
		}
		args = append(args, "--duration=1s", "--writers=10")
		if len(args) == 1 || args[0] != "bench" {
			args = append([]string{"demo"}, args...)
		}
		stdout, stderr, code := cli.Capture(run, args...)
		if code != 0 || !strings.Contains(stdout, "Total points ingested") {
			t.Errorf("%s: exit %d\n%s\n%s", cmd, code, stdout, stderr)
		}
		n++
	}
	if n < 4 {
		t.Fatalf("%d commands found in the README", n)
	}
}
