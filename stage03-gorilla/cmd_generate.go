package main

import (
	"fmt"
	"io"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage02-delta/raw"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
)

// cmdGenerate writes gorilla.Synthetic data (the paper's characteristics:
// regular 1 s intervals, about half the values repeating, slow changes).
func cmdGenerate(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "generate", "[--points N] [--seed S] OUT.bin", stderr)
	points := fs.Int("points", 500_000, "number of points")
	seed := fs.Uint64("seed", 1, "random seed (the same seed gives the same file)")
	files, err := cli.Parse(fs, args, "OUT.bin")
	if err != nil {
		return err
	}
	if *points < 0 {
		return cli.Usagef("generate: --points %d is negative", *points)
	}
	ts, vs := gorilla.Synthetic(*points, *seed)
	if err := raw.WriteFile(files[0], ts, vs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s points (%s bytes) to %s\n", cli.Thousands(*points), cli.Thousands(*points*raw.PointSize), files[0])
	return nil
}
