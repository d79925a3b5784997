// Command stage14-alerts is the alerting engine of stage 14 (the guide's
// `alerting-engine`): Prometheus rule files evaluated on stage10's engine,
// alerts through an Alertmanager of the course's own or to a real one, and
// promtool's rule checks and unit tests.
//
//	go run ./stage14-alerts                                    # demo on a simulated clock
//	go run ./stage14-alerts --config alerts.yml --data-dir D   # evaluate against a stage06 DB
//	go run ./stage14-alerts --config alerts.yml --url http://localhost:9090
//	go run ./stage14-alerts check rules alerts.yml
//	go run ./stage14-alerts test rules alerts_test.yml
//	go run ./stage14-alerts eval --time 2024-01-15T14:05:15Z --data-dir D alerts.yml
//	go run ./stage14-alerts silence add --data-dir D alertname=HighCPU
package main

import (
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
)

const prog = "stage14-alerts"

const usageText = `usage:
  stage14-alerts [--seconds N] [--data-dir DIR]        demo: a simulated clock, N seconds of alerting
  stage14-alerts --config RULES.yml (--data-dir DIR | --url URL) [flags]
                                                       evaluate rule files on the wall clock, printing each
                                                       evaluation and notification (-h for the flags)
  stage14-alerts check rules [FILE...]                 promtool check rules: validate rule files (stdin
                                                       without files); exit 1 on errors
  stage14-alerts test rules FILE...                    promtool test rules: run rule unit tests; exit 1 on
                                                       failure
  stage14-alerts eval --time T (--data-dir DIR | --url URL) FILE...
                                                       evaluate every rule of the files once at T
  stage14-alerts silence add --data-dir DIR [--duration 1h] [--comment C] MATCHER...
  stage14-alerts silence list --data-dir DIR
  stage14-alerts silence expire --data-dir DIR ID...   silences of the notifier whose state is in DIR

Run a subcommand with -h for its flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// promtool's exit statuses pass through check and test.
	switch {
	case len(args) >= 1 && args[0] == "check":
		return cmdCheck(args[1:], stdin, stdout, stderr)
	case len(args) >= 1 && args[0] == "test":
		return cmdTest(args[1:], stdout, stderr)
	}
	return cli.Dispatch(usageText, cli.Command{Name: "run", Run: cmdRun}, []cli.Command{
		{Name: "eval", Run: cmdEval},
		{Name: "silence", Run: cmdSilence},
	}, args, stdout, stderr)
}
