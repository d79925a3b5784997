// Command stage10-promql is the PromQL engine's REPL and test runner.
//
//	go run ./stage10-promql                          # REPL over the demo data set
//	printf 'rate(http_requests_total[5m])\n' | go run ./stage10-promql
//	go run ./stage10-promql test testdata/*.test     # run PromQL test scripts
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
)

const prog = "stage10-promql"

const usage = `usage:
  stage10-promql [repl] [--seed N] [--enable-feature F,...]
                                      the REPL over a generated demo data set (reads stdin);
                                      --enable-feature takes Prometheus's PromQL features
  stage10-promql test FILE...         run PromQL test scripts (every feature on, as in
                                      Prometheus's test engine); non-zero exit on failure

REPL commands:
%s`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process, so the CLI can be tested in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var err error
	switch {
	case len(args) == 0:
		err = cmdRepl(nil, stdin, stdout, stderr)
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		fmt.Fprintf(stdout, usage, helpText)
	case args[0] == "repl":
		err = cmdRepl(args[1:], stdin, stdout, stderr)
	case args[0] == "test":
		err = cmdTest(args[1:], stdout, stderr)
	case args[0][0] == '-':
		err = cmdRepl(args, stdin, stdout, stderr)
	default:
		err = cli.Usagef("unknown subcommand %q (try -h)", args[0])
	}
	return cli.Exit(err, stderr)
}
