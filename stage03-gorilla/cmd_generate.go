package main

import (
	"fmt"
	"io"

	"github.com/tsdb-course/stage02-delta/raw"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
)

// cmdGenerate writes gorilla.Synthetic data (the paper's characteristics:
// regular 1 s intervals, about half the values repeating, slow changes).
func cmdGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("generate", "[--points N] [--seed S] OUT.bin", stderr)
	points := fs.Int("points", 500_000, "number of points")
	seed := fs.Uint64("seed", 1, "random seed (the same seed gives the same file)")
	files, err := parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *points < 0 {
		return errUsage{fmt.Sprintf("generate: --points %d is negative", *points)}
	}
	ts, vs := gorilla.Synthetic(*points, *seed)
	if err := raw.WriteFile(files[0], ts, vs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s points (%s bytes) to %s\n", thousands(*points), thousands(*points*raw.PointSize), files[0])
	return nil
}
