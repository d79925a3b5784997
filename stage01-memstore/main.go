// Command stage01-memstore is the REPL of the course's first project: an
// in-memory time series store (see README.md).
//
//	go run ./stage01-memstore          # REPL on stdin (prompt on a terminal, silent when piped)
//	go run ./stage01-memstore demo     # the guide's session, then a million points, measured
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
)

const prog = "stage01-memstore"

const usage = `usage:
  stage01-memstore              read commands from stdin (type HELP)
  stage01-memstore demo [flags] run the self-contained demo (-h for its flags)

REPL commands:
%s
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process, so the CLI can be tested in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var err error
	switch {
	case len(args) == 0:
		if err = newSession().run(stdin, stdout, cli.IsTerminal(stdin)); err != nil {
			err = fmt.Errorf("reading input: %w", err)
		}
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		fmt.Fprintf(stderr, usage, helpText)
	case args[0] == "demo":
		err = cmdDemo(args[1:], stdout, stderr)
	default:
		err = cli.Usagef("unknown subcommand %q (try -h)", args[0])
	}
	return cli.Exit(err, stderr)
}

func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "demo", "[--points N] [--series N] [--late F]", stderr)
	points := fs.Int("points", 1_000_000, "points the demo loads")
	series := fs.Int("series", 100, "series the demo spreads them over")
	late := fs.Float64("late", 0.01, "fraction of the points that arrive out of order")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *points < 1 || *series < 1 || *series > *points || *late < 0 || *late >= 1 {
		return cli.Usagef("demo needs 1 <= --series <= --points and 0 <= --late < 1")
	}
	demo(stdout, stderr, *points, *series, *late)
	return nil
}
