package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/promqltest"
)

// cmdTest runs test scripts, one PASS/FAIL line per file with the failing
// expressions and their diffs.
func cmdTest(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "test", "FILE...", stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err // usage already printed; exit status 0
		}
		return cli.Usagef("test: %v", err)
	}
	files := fs.Args()
	if len(files) == 0 {
		return cli.Usagef("test: want at least one script file")
	}
	eng := promql.NewEngine(promql.Opts{})
	failed, evals := 0, 0
	for _, f := range files {
		r := promqltest.RunFile(f, eng)
		promqltest.Report(stdout, r)
		evals += r.Evals
		if !r.Passed() {
			failed++
		}
	}
	fmt.Fprintf(stdout, "%d of %d files passed, %d evals\n", len(files)-failed, len(files), evals)
	if failed > 0 {
		return cli.ErrReported
	}
	return nil
}
