package main

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage02-delta/delta"
	"github.com/tsdb-course/stage02-delta/raw"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
)

// cmdCompare compresses one raw file with stage02's delta codec and with
// this stage's Gorilla codec (XOR for every chunk, and auto: integer chunks
// where they fit), and prints size and speed side by side.
func cmdCompare(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "compare", "IN.bin", stderr)
	files, err := cli.Parse(fs, args, "IN.bin")
	if err != nil {
		return err
	}
	ts, vs, err := raw.ReadFile(files[0])
	if err != nil {
		return err
	}
	return compare(stdout, ts, vs)
}

func compare(w io.Writer, ts []int64, vs []float64) error {
	n := len(ts)
	type row struct {
		name           string
		size           int
		encode, decode time.Duration
	}
	var rows []row

	start := time.Now()
	dfile, _ := delta.Compress(ts, vs)
	enc := time.Since(start)
	start = time.Now()
	dts, dvs, err := delta.Decompress(dfile)
	dec := time.Since(start)
	if err != nil {
		return fmt.Errorf("stage02 delta: %w", err)
	}
	if err := same(ts, vs, dts, dvs); err != nil {
		return fmt.Errorf("stage02 delta: %w", err)
	}
	rows = append(rows, row{"stage02 delta", len(dfile), enc, dec})

	for _, opt := range []struct {
		name string
		auto bool
	}{{"stage03 gorilla (xor)", false}, {"stage03 gorilla (auto)", true}} {
		start := time.Now()
		gfile, _, err := gorilla.EncodeFile(ts, vs, gorilla.FileOptions{Auto: opt.auto})
		enc := time.Since(start)
		if err != nil {
			return err
		}
		start = time.Now()
		_, gts, gvs, err := gorilla.DecodeFile(gfile)
		dec := time.Since(start)
		if err != nil {
			return fmt.Errorf("%s: %w", opt.name, err)
		}
		if err := same(ts, vs, gts, gvs); err != nil {
			return fmt.Errorf("%s: %w", opt.name, err)
		}
		rows = append(rows, row{opt.name, len(gfile), enc, dec})
	}

	fmt.Fprintf(w, "Input: %s points (%s bytes raw)\n\n", cli.Thousands(n), cli.Thousands(n*raw.PointSize))
	fmt.Fprintf(w, "%-24s %12s %8s %12s %10s %10s\n", "codec", "bytes", "ratio", "bytes/point", "encode", "decode")
	for _, r := range rows {
		fmt.Fprintf(w, "%-24s %12s %7.2fx %12.3f %10s %10s\n", r.name, cli.Thousands(r.size),
			ratio(float64(n*raw.PointSize), float64(r.size)), ratio(float64(r.size), float64(n)),
			cli.Duration(r.encode), cli.Duration(r.decode))
	}
	fmt.Fprintln(w, "\nAll three decode to the input, bit for bit. Times are one run on this machine; see the READMEs' benchmarks for medians.")
	return nil
}

// same checks a decoded series against the original, bit for bit.
func same(ts []int64, vs []float64, gotT []int64, gotV []float64) error {
	if len(gotT) != len(ts) || len(gotV) != len(vs) {
		return fmt.Errorf("decoded %d points, want %d", len(gotT), len(ts))
	}
	for i := range ts {
		if gotT[i] != ts[i] || math.Float64bits(gotV[i]) != math.Float64bits(vs[i]) {
			return fmt.Errorf("point %d differs after decoding", i)
		}
	}
	return nil
}
