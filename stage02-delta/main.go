// Command stage02-delta is the demo and CLI of the delta-encoding stage.
//
//	go run ./stage02-delta                                   # demo in a temp dir
//	go run ./stage02-delta generate --points 125000 in.bin   # synthetic raw file
//	go run ./stage02-delta compress in.bin out.compressed
//	go run ./stage02-delta decompress out.compressed back.bin
package main

import (
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
)

const usageText = `usage:
  stage02-delta [demo] [--data-dir DIR] [--points N]   demo: generate, compress, decompress, verify
  stage02-delta generate [--points N] [--seed S] OUT.bin
  stage02-delta compress IN.bin OUT.compressed
  stage02-delta decompress IN.compressed OUT.bin

A .bin file is the raw point format: 16 bytes per point, int64 timestamp then
float64 value, little-endian, no header. Run a subcommand with -h for its flags.
`

const prog = "stage02-delta"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status, so the CLI
// can be tested in-process.
func run(args []string, stdout, stderr io.Writer) int {
	return cli.Dispatch(usageText, cli.Command{Name: "demo", Run: cmdDemo}, []cli.Command{
		{Name: "generate", Run: cmdGenerate},
		{Name: "compress", Run: cmdCompress},
		{Name: "decompress", Run: cmdDecompress},
	}, args, stdout, stderr)
}
