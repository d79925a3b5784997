// Command stage02-delta is the demo and CLI of the delta-encoding stage.
//
//	go run ./stage02-delta                                   # demo in a temp dir
//	go run ./stage02-delta generate --points 125000 in.bin   # synthetic raw file
//	go run ./stage02-delta compress in.bin out.compressed
//	go run ./stage02-delta decompress out.compressed back.bin
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usageText = `usage:
  stage02-delta [--data-dir DIR] [--points N]   demo: generate, compress, decompress, verify
  stage02-delta generate [--points N] [--seed S] OUT.bin
  stage02-delta compress IN.bin OUT.compressed
  stage02-delta decompress IN.compressed OUT.bin

A .bin file is the raw point format: 16 bytes per point, int64 timestamp then
float64 value, little-endian, no header. Run a subcommand with -h for its flags.
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
	case len(args) == 0 || (len(args[0]) > 1 && args[0][0] == '-' && !isHelp(args[0])):
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
	default:
		err = errUsage{fmt.Sprintf("unknown command %q (want generate, compress or decompress; -h for help)", args[0])}
	}
	var ue errUsage
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// parseArgs parses flags wherever they appear among the positional
// arguments (the flag package stops at the first positional one) and checks
// the number of positional arguments.
func parseArgs(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stdout)
				fs.Usage()
				return nil, err
			}
			return nil, errUsage{fmt.Sprintf("%s: %v", fs.Name(), err)}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != len(names) {
		return nil, errUsage{fmt.Sprintf("%s: want %d arguments (%v), got %d; -h for help",
			fs.Name(), len(names), names, len(pos))}
	}
	return pos, nil
}

// newFlags makes a subcommand's flag set with a usage line.
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: stage02-delta %s\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}
