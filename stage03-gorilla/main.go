// Command stage03-gorilla is the demo and CLI of the Gorilla compression stage.
//
//	go run ./stage03-gorilla                                   # demo in a temp dir
//	go run ./stage03-gorilla generate --points 500000 in.bin   # synthetic raw file
//	go run ./stage03-gorilla compress in.bin out.gorilla
//	go run ./stage03-gorilla decompress out.gorilla back.bin
//	go run ./stage03-gorilla compare in.bin                    # stage02 delta vs stage03 gorilla
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const usageText = `usage:
  stage03-gorilla [--data-dir DIR] [--points N]   demo: generate, compress, decompress, verify, seek
  stage03-gorilla generate [--points N] [--seed S] OUT.bin
  stage03-gorilla compress [--window D] [--encoding xor|auto] IN.bin OUT.gorilla
  stage03-gorilla decompress IN.gorilla OUT.bin
  stage03-gorilla compare IN.bin

A .bin file is stage02's raw point format: 16 bytes per point, int64
timestamp (ms) then float64 value, little-endian, no header. Run a
subcommand with -h for its flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errVerify marks a finished run whose verification failed: the FAILED line
// is already printed, the exit status must still be 1.
var errVerify = errors.New("verification failed")

// errUsage marks bad command-line arguments (exit status 2).
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

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
	case args[0] == "generate":
		err = cmdGenerate(args[1:], stdout, stderr)
	case args[0] == "compress":
		err = cmdCompress(args[1:], stdout, stderr)
	case args[0] == "decompress":
		err = cmdDecompress(args[1:], stdout, stderr)
	case args[0] == "compare":
		err = cmdCompare(args[1:], stdout, stderr)
	default:
		err = errUsage{fmt.Sprintf("unknown command %q (want generate, compress, decompress or compare; -h for help)", args[0])}
	}
	var ue errUsage
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errVerify):
		return 1
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// newFlags returns a flag set that prints its usage to stderr on -h and
// reports errors through run, not by exiting.
func newFlags(name, args string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: stage03-gorilla %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage{err.Error()}
	}
	if fs.NArg() != want {
		fs.Usage()
		return nil, errUsage{fmt.Sprintf("%s: want %d file argument(s), got %d", fs.Name(), want, fs.NArg())}
	}
	return fs.Args(), nil
}
