// Command stage05-index is the demo and REPL of the inverted-index stage.
//
//	go run ./stage05-index                          # demo: 1M series, stats, the guide's queries
//	go run ./stage05-index --series 100000          # smaller
//	go run ./stage05-index build --file idx.tsix    # write an index file of generated series
//	go run ./stage05-index query [--file idx.tsix]  # REPL: region=us-east AND env=production
package main

import (
	"flag"
	"fmt"
	"github.com/tsdb-course/stage01-memstore/cli"
	"io"
	"os"
)

const usageText = `usage:
  stage05-index [demo] [--series N] [--seed S] [--data-dir DIR]    demo: build, stats, queries, persistence
  stage05-index build [--series N] [--seed S] --file PATH   write an index file of generated series
  stage05-index query [--series N] [--seed S] [--file PATH] query REPL on stdin

query opens PATH if it exists; otherwise it builds N generated series in
memory (and writes them to PATH if one is given). It reads one query a line:

  region=us-east AND env=production          terms joined by AND: = != =~ !~
  cpu_usage{region="us-east",env=~"prod.*"}  a Prometheus selector
  labels | values NAME | stats | help | quit

Run a subcommand with -h for its flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const prog = "stage05-index"

// run is main without the process, so the CLI can be tested in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var err error
	switch {
	case len(args) == 0 || len(args[0]) > 1 && args[0][0] == '-' && !isHelp(args[0]):
		err = cmdDemo(args, stdout, stderr)
	case isHelp(args[0]) || args[0] == "help":
		fmt.Fprint(stdout, usageText)
		return 0
	case args[0] == "demo":
		err = cmdDemo(args[1:], stdout, stderr)
	case args[0] == "build":
		err = cmdBuild(args[1:], stdout, stderr)
	case args[0] == "query":
		err = cmdQuery(args[1:], stdin, stdout, stderr)
	default:
		err = cli.Usagef("unknown command %q (want build or query; -h for help)", args[0])
	}
	return cli.Exit(err, stderr)
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// dataFlags are the flags that choose the generated data.
type dataFlags struct {
	series int
	seed   uint64
}

func (d *dataFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&d.series, "series", 1_000_000, "number of generated series")
	fs.Uint64Var(&d.seed, "seed", 5, "seed of the generated data")
}

func (d *dataFlags) check() error {
	if d.series < 1 || d.series > 20_000_000 {
		return cli.Usagef("--series %d out of range [1, 20000000]", d.series)
	}
	return nil
}
