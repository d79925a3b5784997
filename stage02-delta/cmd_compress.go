package main

import (
	"fmt"
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage02-delta/delta"
	"github.com/tsdb-course/stage02-delta/raw"
)

// cmdCompress reads a raw point file and writes its compressed form.
func cmdCompress(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "compress", "IN.bin OUT.compressed", stderr)
	pos, err := cli.Parse(fs, args, "IN.bin", "OUT.compressed")
	if err != nil {
		return err
	}
	_, err = compress(pos[0], pos[1], stdout, stderr)
	return err
}

func compress(in, out string, stdout, stderr io.Writer) (delta.Stats, error) {
	stop := cli.NewProgress(stderr, "compressing", 0, cli.DefaultInterval).Done
	ts, vs, err := raw.ReadFile(in)
	if err != nil {
		stop()
		return delta.Stats{}, err
	}
	data, st := delta.Compress(ts, vs)
	err = os.WriteFile(out, data, 0o644)
	stop()
	if err != nil {
		return st, err
	}
	width := max(len(cli.Thousands(st.RawBytes)), len(cli.Thousands(st.CompressedBytes))) + 2
	fmt.Fprintf(stdout, "Original size:   %*s bytes (%s data points)\n", width, cli.Thousands(st.RawBytes), cli.Thousands(st.Points))
	fmt.Fprintf(stdout, "Compressed size: %*s bytes\n", width, cli.Thousands(st.CompressedBytes))
	fmt.Fprintf(stdout, "Compression ratio: %.2fx\n", st.Ratio())
	tsDelta, vDelta := "n/a", "n/a" // fewer than two points have no delta
	if st.Points >= 2 {
		tsDelta, vDelta = millis(st.AvgTimestampDelta), cli.Sig3(st.AvgValueDelta)
	}
	fmt.Fprintf(stdout, "Timestamps: avg delta = %s, avg bits/delta = %.1f\n", tsDelta, st.TimestampBitsPerDelta)
	fmt.Fprintf(stdout, "Values: avg delta = %s, avg bits/delta = %.1f\n", vDelta, st.ValueBitsPerDelta)
	return st, nil
}
