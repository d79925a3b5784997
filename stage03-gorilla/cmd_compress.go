package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage02-delta/raw"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
)

func cmdCompress(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "compress", "[--window D] [--encoding xor|auto] IN.bin OUT.gorilla", stderr)
	window := fs.Duration("window", 2*time.Hour, "chunk length, aligned to multiples of it (timestamps are ms)")
	encoding := fs.String("encoding", "xor", "value encoding: xor (the paper's, for every chunk) or auto (integer chunks where all values are integers)")
	files, err := cli.Parse(fs, args, "IN.bin", "OUT.gorilla")
	if err != nil {
		return err
	}
	if *window < time.Millisecond {
		return cli.Usagef("compress: --window %v is shorter than 1ms", *window)
	}
	if *encoding != "xor" && *encoding != "auto" {
		return cli.Usagef("compress: --encoding %q (want xor or auto)", *encoding)
	}
	ts, vs, err := raw.ReadFile(files[0])
	if err != nil {
		return err
	}
	out, st, err := gorilla.EncodeFile(ts, vs, gorilla.FileOptions{Window: window.Milliseconds(), Auto: *encoding == "auto"})
	if err != nil {
		return err
	}
	if err := os.WriteFile(files[1], out, 0o644); err != nil {
		return err
	}
	printBreakdown(stdout, len(ts), len(out), st)
	return nil
}

// printBreakdown prints the guide's compression report for a file.
func printBreakdown(w io.Writer, points, size int, st gorilla.Stats) {
	in := points * raw.PointSize
	fmt.Fprintf(w, "Input:  %s bytes (%s timestamp-value pairs)\n", cli.Thousands(in), cli.Thousands(points))
	fmt.Fprintf(w, "Output: %*s bytes\n", len(cli.Thousands(in)), cli.Thousands(size))
	fmt.Fprintf(w, "Compression ratio: %.2fx\n\n", ratio(float64(in), float64(size)))
	if points == 0 {
		return
	}
	perPoint := func(bits int) float64 { return float64(bits) / 8 / float64(points) }
	framing := size*8 - st.TimestampBits - st.ValueBits
	fmt.Fprintln(w, "Breakdown:")
	fmt.Fprintf(w, "  Timestamps: %.2f bytes/point (delta-of-delta encoding)\n", perPoint(st.TimestampBits))
	xorValues := st.Zero.Count + st.Reuse.Count + st.NewWindow.Count
	intValues := st.IntZero.Count + st.IntDelta.Count
	label := "XOR encoding"
	if intValues > 0 {
		label = "XOR and integer encodings"
	}
	fmt.Fprintf(w, "  Values:     %.2f bytes/point (%s)\n", perPoint(st.ValueBits), label)
	avg := func(c gorilla.CodeStats) float64 { return ratio(float64(c.Bits), float64(c.Count)) }
	all := xorValues + intValues
	if xorValues > 0 {
		fmt.Fprintf(w, "    - %.1f%% compressed to 1 bit (identical to previous)\n", percent(st.Zero.Count, all))
		fmt.Fprintf(w, "    - %.1f%% compressed with '10' prefix (avg %.1f bits)\n", percent(st.Reuse.Count, all), avg(st.Reuse))
		fmt.Fprintf(w, "    - %.1f%% compressed with '11' prefix (avg %.1f bits)\n", percent(st.NewWindow.Count, all), avg(st.NewWindow))
	}
	if intValues > 0 {
		fmt.Fprintf(w, "    - %.1f%% in integer chunks unchanged (1 bit)\n", percent(st.IntZero.Count, all))
		fmt.Fprintf(w, "    - %.1f%% in integer chunks as a difference (avg %.1f bits)\n", percent(st.IntDelta.Count, all), avg(st.IntDelta))
	}
	fmt.Fprintf(w, "  Framing:    %.2f bytes/point (file header, chunk lengths and headers, padding)\n", perPoint(framing))
}
