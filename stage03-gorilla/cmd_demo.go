package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage02-delta/raw"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
)

// cmdDemo runs the guide's "real world outcome" end to end in a temp dir:
// generate, compress, decompress, verify, then show the XOR codes of a few
// values, a streaming seek, and stage02 vs stage03 on the same data.
func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "demo", "[--data-dir DIR] [--points N]", stderr)
	dataDir := fs.String("data-dir", "", "directory for the demo's files (default: a fresh temp dir, removed afterwards)")
	points := fs.Int("points", 500_000, "number of synthetic points")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *points < 2 {
		return cli.Usagef("--points %d: the demo needs at least 2", *points)
	}
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "stage03-gorilla-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rawPath := filepath.Join(dir, "metrics.raw")
	gorPath := filepath.Join(dir, "metrics.gorilla")
	backPath := filepath.Join(dir, "recovered.raw")

	fmt.Fprintf(stdout, "Generating %s points with the paper's shape (1 s interval, ~50%% repeats, slow changes) in %s\n\n",
		cli.Thousands(*points), dir)
	ts, vs := gorilla.Synthetic(*points, 1)
	if err := raw.WriteFile(rawPath, ts, vs); err != nil {
		return err
	}

	fmt.Fprintln(stdout, "$ stage03-gorilla compress metrics.raw metrics.gorilla")
	if err := cmdCompress([]string{rawPath, gorPath}, stdout, stderr); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\n$ stage03-gorilla decompress metrics.gorilla recovered.raw")
	if err := cmdDecompress([]string{gorPath, backPath}, stdout, stderr); err != nil {
		return err
	}

	fmt.Fprintln(stdout, "\nXOR codes of a few values (section 4.1.2 of the paper):")
	xorExample(stdout, []float64{12, 12, 24, 15, 12, math.Pi, math.Nextafter(math.Pi, 0)})

	file, err := os.ReadFile(gorPath)
	if err != nil {
		return err
	}
	if err := seekDemo(stdout, file, ts); err != nil {
		return err
	}

	fmt.Fprintln(stdout, "\nstage02 delta vs stage03 gorilla on the same points:")
	if err := compare(stdout, ts, vs); err != nil {
		return err
	}
	return histogramDemo(stdout)
}

// xorExample prints the control bits and window of each value's code,
// worked out from the XOR as the paper describes it.
func xorExample(w io.Writer, vs []float64) {
	leading, trailing := -1, -1
	for i := 1; i < len(vs); i++ {
		a, b := math.Float64bits(vs[i-1]), math.Float64bits(vs[i])
		x := a ^ b
		var code string
		switch {
		case x == 0:
			code = "'0'                        1 bit"
		default:
			lz, tz := leadingZeros(x), trailingZeros(x)
			if lz > 31 {
				lz = 31
			}
			if leading >= 0 && lz >= leading && tz >= trailing {
				m := 64 - leading - trailing
				code = fmt.Sprintf("'10' + %2d bits             %d bits", m, 2+m)
			} else {
				leading, trailing = lz, tz
				m := 64 - lz - tz
				code = fmt.Sprintf("'11' lead %2d, len %2d      %d bits", lz, m, 13+m)
			}
		}
		fmt.Fprintf(w, "  %-18v -> %-18v XOR %016x  %s\n", vs[i-1], vs[i], x, code)
	}
}

func leadingZeros(x uint64) int {
	n := 0
	for ; n < 64 && x&(1<<63) == 0; n++ {
		x <<= 1
	}
	return n
}

func trailingZeros(x uint64) int {
	n := 0
	for ; n < 64 && x&1 == 0; n++ {
		x >>= 1
	}
	return n
}

// seekDemo finds one sample in the middle of the file by decoding only the
// chunk that holds it, and only up to that sample.
func seekDemo(w io.Writer, file []byte, ts []int64) error {
	_, chunks, err := gorilla.SplitFile(file)
	if err != nil {
		return err
	}
	target := ts[len(ts)/2] + 500
	for k, b := range chunks {
		c, err := gorilla.FromBytes(b)
		if err != nil {
			return err
		}
		it := c.Iterator(nil)
		start := time.Now()
		decoded := 0
		for it.Next() {
			decoded++
			if t, _ := it.At(); t >= target {
				break
			}
		}
		if it.Err() != nil {
			return it.Err()
		}
		if t, v := it.At(); decoded > 0 && t >= target {
			fmt.Fprintf(w, "\nStreaming: the first sample at or after t=%d is in chunk %d of %d:\n", target, k+1, len(chunks))
			fmt.Fprintf(w, "  t=%d (%s) v=%v, found after decoding %s of the chunk's %s samples in %s\n",
				t, time.UnixMilli(t).UTC().Format(time.RFC3339), v, cli.Thousands(decoded), cli.Thousands(c.NumSamples()),
				cli.Duration(time.Since(start)))
			return nil
		}
	}
	return fmt.Errorf("seek demo: no sample at or after %d", target)
}
