// Command stage05-index is the demo and REPL of the inverted-index stage.
//
//	go run ./stage05-index                          # demo: 1M series, stats, the guide's queries
//	go run ./stage05-index --series 100000          # smaller
//	go run ./stage05-index build --file idx.tsix    # write an index file of generated series
//	go run ./stage05-index query [--file idx.tsix]  # REPL: region=us-east AND env=production
package main

import (
	"flag"
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
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
	query := func(args []string, stdout, stderr io.Writer) error { return cmdQuery(args, stdin, stdout, stderr) }
	return cli.Dispatch(usageText, cli.Command{Name: "demo", Run: cmdDemo}, []cli.Command{
		{Name: "build", Run: cmdBuild},
		{Name: "query", Run: query},
	}, args, stdout, stderr)
}

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
