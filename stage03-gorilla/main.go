// Command stage03-gorilla is the demo and CLI of the Gorilla compression stage.
//
//	go run ./stage03-gorilla                                   # demo in a temp dir
//	go run ./stage03-gorilla generate --points 500000 in.bin   # synthetic raw file
//	go run ./stage03-gorilla compress in.bin out.gorilla
//	go run ./stage03-gorilla decompress out.gorilla back.bin
//	go run ./stage03-gorilla compare in.bin                    # stage02 delta vs stage03 gorilla
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

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
	case args[0] == "compare":
		err = cmdCompare(args[1:], stdout, stderr)
	default:
		err = cli.Usagef("unknown command %q (want generate, compress, decompress or compare; -h for help)", args[0])
	}
	return cli.Exit(err, stderr)
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" }
