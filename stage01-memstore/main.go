// Command stage01-memstore is the REPL of the course's first project: an
// in-memory time series store (see README.md).
//
//	go run ./stage01-memstore          # REPL on stdin (prompt on a terminal, silent when piped)
//	go run ./stage01-memstore demo     # the guide's session, then a million points, measured
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `usage:
  stage01-memstore              read commands from stdin (type HELP)
  stage01-memstore demo [flags] run the self-contained demo

REPL commands:
%s

demo flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stage01-memstore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	points := fs.Int("points", 1_000_000, "points the demo loads")
	series := fs.Int("series", 100, "series the demo spreads them over")
	late := fs.Float64("late", 0.01, "fraction of the demo's points that arrive out of order")
	fs.Usage = func() {
		fmt.Fprintf(stderr, usage, helpText)
		fs.PrintDefaults()
	}
	// Flags may come before or after the subcommand.
	cmd := ""
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if cmd == "" && fs.NArg() > 0 {
		cmd = fs.Arg(0)
	}
	switch cmd {
	case "":
		if err := newSession().run(stdin, stdout, isTerminal(stdin)); err != nil {
			fmt.Fprintf(stderr, "error: reading input: %v\n", err)
			return 1
		}
		return 0
	case "demo":
		if *points < 1 || *series < 1 || *series > *points || *late < 0 || *late >= 1 {
			fmt.Fprintln(stderr, "error: demo needs 1 <= --series <= --points and 0 <= --late < 1")
			return 2
		}
		demo(stdout, stderr, *points, *series, *late)
		return 0
	case "help":
		fs.Usage()
		return 0
	}
	fmt.Fprintf(stderr, "error: unknown subcommand %q (try -h)\n", cmd)
	return 2
}

// isTerminal reports whether r is an interactive terminal, to decide whether
// to print a prompt. Piped input gets only the answers, so scripts can parse them.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
