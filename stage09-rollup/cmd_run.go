package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage09-rollup/rollup"
)

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "run", "--data-dir DIR", stderr)
	var c common
	c.register(fs)
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	e, err := c.open("run", false, nil)
	if err != nil {
		return err
	}
	defer e.Close()
	return runJobs(stdout, e)
}

// runJobs runs the jobs, then retention (in that order: a window must be
// rolled up before its source expires), and prints what both did.
func runJobs(w io.Writer, e *rollup.Engine) error {
	rep, err := e.Run(context.Background())
	if err != nil {
		return err
	}
	dels, err := e.EnforceRetention()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Rollup jobs at %s:\n", stamp(rep.Now))
	printRun(w, rep, dels)
	return nil
}
