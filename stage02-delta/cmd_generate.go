package main

import (
	"fmt"
	"io"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage02-delta/gen"
	"github.com/tsdb-course/stage02-delta/raw"
)

// cmdGenerate writes a synthetic series (package gen) as a raw point file.
func cmdGenerate(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "generate", "[--points N] [--seed S] OUT.bin", stderr)
	points := fs.Int("points", 125_000, "number of points")
	seed := fs.Uint64("seed", gen.Seed, "random seed (the same seed gives the same file)")
	pos, err := cli.Parse(fs, args, "OUT.bin")
	if err != nil {
		return err
	}
	if *points < 0 || *points > 1<<30 {
		return cli.Usagef("generate: --points %d out of range [0, 2^30]", *points)
	}
	return generate(pos[0], *points, *seed, stdout, stderr)
}

func generate(path string, points int, seed uint64, stdout, stderr io.Writer) error {
	stop := cli.NewProgress(stderr, "generating", 0, cli.DefaultInterval).Done
	ts, vs := gen.Series(points, seed)
	err := raw.WriteFile(path, ts, vs)
	stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Generated %s points (%s bytes, seed %d): 10s scrapes with jitter, a 3-decimal gauge\n",
		cli.Thousands(points), cli.Thousands(points*raw.PointSize), seed)
	return nil
}
