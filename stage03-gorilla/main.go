// Command stage03-gorilla is the demo and CLI of the Gorilla compression stage.
//
//	go run ./stage03-gorilla                                   # demo in a temp dir
//	go run ./stage03-gorilla generate --points 500000 in.bin   # synthetic raw file
//	go run ./stage03-gorilla compress in.bin out.gorilla
//	go run ./stage03-gorilla decompress out.gorilla back.bin
//	go run ./stage03-gorilla compare in.bin                    # stage02 delta vs stage03 gorilla
package main

import (
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
)

const usageText = `usage:
  stage03-gorilla [demo] [--data-dir DIR] [--points N]   demo: generate, compress, decompress, verify, seek
  stage03-gorilla generate [--points N] [--seed S] OUT.bin
  stage03-gorilla compress [--window D] [--encoding xor|auto] IN.bin OUT.gorilla
  stage03-gorilla decompress IN.gorilla OUT.bin
  stage03-gorilla compare IN.bin

A .bin file is stage02's raw point format: 16 bytes per point, int64
timestamp (ms) then float64 value, little-endian, no header. Run a
subcommand with -h for its flags.
`

const prog = "stage03-gorilla"

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
		{Name: "compare", Run: cmdCompare},
	}, args, stdout, stderr)
}
