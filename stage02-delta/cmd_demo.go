package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage02-delta/delta"
	"github.com/tsdb-course/stage02-delta/gen"
)

// cmdDemo runs generate, compress and decompress in a fresh temp dir (or
// --data-dir) and prints them as a terminal transcript, then what is inside
// the compressed file.
func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "demo", "[--data-dir DIR] [--points N]", stderr)
	dir := fs.String("data-dir", "", "directory for the demo's files (default: a new temp dir, removed afterwards)")
	points := fs.Int("points", 125_000, "number of points to generate")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *points < 0 || *points > 1<<30 {
		return cli.Usagef("--points %d out of range [0, 2^30]", *points)
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "stage02-delta-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	} else if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	in := filepath.Join(*dir, "input.bin")
	comp := filepath.Join(*dir, "output.compressed")
	back := filepath.Join(*dir, "recovered.bin")

	fmt.Fprintf(stdout, "# delta encoding demo, files in %s\n\n", *dir)
	fmt.Fprintf(stdout, "$ go run ./stage02-delta generate --points %d input.bin\n", *points)
	if err := generate(in, *points, gen.Seed, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\n$ go run ./stage02-delta compress input.bin output.compressed")
	st, err := compress(in, comp, stdout, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\n$ go run ./stage02-delta decompress output.compressed recovered.bin")
	if err := decompress(comp, back, stdout, stderr); err != nil {
		return err
	}

	fmt.Fprintln(stdout, "\n# inside output.compressed")
	fmt.Fprintf(stdout, "header      %9s bytes  magic %q, version, CRC-32C of input.bin, point count\n",
		cli.Thousands(st.HeaderBytes), delta.Magic)
	fmt.Fprintf(stdout, "timestamps  %9s bytes  first timestamp + zigzag(delta-of-delta), %s\n",
		cli.Thousands(st.TimestampBytes), st.TimestampCodec)
	fmt.Fprintf(stdout, "values      %9s bytes  mantissas x 10^-%d, zigzag(delta), %s; %d exceptions as raw bits\n",
		cli.Thousands(st.ValueBytes), st.Exponent, st.ValueCodec, st.Exceptions)
	fmt.Fprintf(stdout, "total       %9s bytes  = %.2f bytes/point (raw: 16)\n",
		cli.Thousands(st.CompressedBytes), st.BytesPerPoint())
	return nil
}
