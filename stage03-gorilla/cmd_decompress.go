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

func cmdDecompress(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "decompress", "IN.gorilla OUT.bin", stderr)
	files, err := cli.Parse(fs, args, "IN.gorilla", "OUT.bin")
	if err != nil {
		return err
	}
	in, err := os.ReadFile(files[0])
	if err != nil {
		return err
	}
	start := time.Now()
	h, ts, vs, err := gorilla.DecodeFile(in)
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("%s: %w", files[0], err)
	}
	if err := raw.WriteFile(files[1], ts, vs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Decompressed %s points in %s\n", cli.Thousands(len(ts)), cli.Duration(elapsed))
	return verify(stdout, h, ts, vs)
}

// verify compares the checksum of the recovered raw file with the one the
// compressor stored, and prints the guide's verification line.
func verify(stdout io.Writer, h gorilla.FileHeader, ts []int64, vs []float64) error {
	if got := gorilla.RawChecksum(ts, vs); got != h.RawCRC {
		fmt.Fprintf(stdout, "Verification: FAILED (CRC-32C of the recovered raw file is %08x, the original's was %08x)\n", got, h.RawCRC)
		return cli.ErrReported
	}
	fmt.Fprintln(stdout, "Verification: PASSED")
	return nil
}
