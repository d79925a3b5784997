// Command stage02-delta is the demo and CLI of the delta-encoding stage.
//
//	go run ./stage02-delta                                   # demo in a temp dir
//	go run ./stage02-delta generate --points 125000 in.bin   # synthetic raw file
//	go run ./stage02-delta compress in.bin out.compressed
//	go run ./stage02-delta decompress out.compressed back.bin
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

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
	var err error
	switch {
	case len(args) == 0 || (strings.HasPrefix(args[0], "-") && !isHelp(args[0])):
		err = cmdDemo(args, stdout, stderr)
	case isHelp(args[0]) || args[0] == "help":
		fmt.Fprint(stdout, usageText)
		return 0
	case args[0] == "demo":
		err = cmdDemo(args[1:], stdout, stderr)
	case args[0] == "generate":
		err = cmdGenerate(args[1:], stdout, stderr)
	case args[0] == "compress":
		err = cmdCompress(args[1:], stdout, stderr)
	case args[0] == "decompress":
		err = cmdDecompress(args[1:], stdout, stderr)
	default:
		err = cli.Usagef("unknown command %q (want generate, compress or decompress; -h for help)", args[0])
	}
	return cli.Exit(err, stderr)
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" }
