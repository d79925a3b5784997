package main

import (
	"fmt"
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage02-delta/delta"
	"github.com/tsdb-course/stage02-delta/raw"
)

// cmdDecompress restores a raw point file and checks it against the
// checksum stored in the compressed file's header.
func cmdDecompress(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "decompress", "IN.compressed OUT.bin", stderr)
	pos, err := cli.Parse(fs, args, "IN.compressed", "OUT.bin")
	if err != nil {
		return err
	}
	return decompress(pos[0], pos[1], stdout, stderr)
}

func decompress(in, out string, stdout, stderr io.Writer) error {
	stop := cli.NewProgress(stderr, "decompressing", 0, cli.DefaultInterval).Done
	defer stop()
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	ts, vs, err := delta.Decompress(data)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if err := raw.WriteFile(out, ts, vs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Decompressed %s points\n", cli.Thousands(len(ts)))

	// Verify what is on disk now, not what is in memory: the check then
	// covers the decoder and the write.
	ts, vs, err = raw.ReadFile(out)
	if err == nil {
		err = delta.Verify(data, ts, vs)
	}
	if err != nil {
		fmt.Fprintf(stdout, "Verification: FAILED (%v)\n", err)
		return fmt.Errorf("verification failed: %w", err)
	}
	fmt.Fprintln(stdout, "Verification: PASSED (bit-exact match)")
	return nil
}
