package main

import (
	"fmt"
	"io"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage10-promql/promql"
	"github.com/tsdb-course/stage10-promql/promql/promqltest"
)

// cmdTest runs test scripts, one PASS/FAIL line per file with the failing
// expressions and their diffs. The engine has every feature enabled, as
// Prometheus's own test engine does: its scripts use them all.
func cmdTest(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "test", "FILE...", stderr)
	// cli.Parse takes flags anywhere ("test a.test -h").
	files, err := cli.Parse(fs, args, "FILE...")
	if err != nil {
		return err // flag.ErrHelp (usage printed, status 0) or a UsageError
	}
	eng := promql.NewEngine(promql.Opts{Features: promql.AllFeatures})
	failed, evals, natives := 0, 0, 0
	for _, f := range files {
		r := promqltest.RunFile(f, eng)
		promqltest.Report(stdout, r)
		p, fl, n := r.Counts()
		evals += p + fl
		natives += n
		if !r.Passed() {
			failed++
		}
	}
	fmt.Fprintf(stdout, "%d of %d files passed, %d evals", len(files)-failed, len(files), evals)
	if natives > 0 {
		fmt.Fprintf(stdout, " (%d of them over native histograms)", natives)
	}
	fmt.Fprintln(stdout)
	if failed > 0 {
		return cli.ErrReported
	}
	return nil
}
