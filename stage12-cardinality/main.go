// Command stage12-cardinality is the cardinality manager of stage 12 (the
// guide's `cardinality-analyzer`): it counts series with HyperLogLog,
// finds the labels behind an explosion, limits new series at stage06's
// admission hook, and forecasts the growth.
//
//	go run ./stage12-cardinality                                  # demo: a planted explosion through the limiter
//	go run ./stage12-cardinality forecast --days=30               # the demo, then its forecast only
//	go run ./stage12-cardinality analyze --data-dir DIR           # report on any stage06 data dir
//	go run ./stage12-cardinality forecast --data-dir DIR --days N # from DIR's hourly history
//	go run ./stage12-cardinality limits --data-dir DIR [--set m=N] [--default N] [--global N]
package main

import (
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
)

const prog = "stage12-cardinality"

const usageText = `usage:
  stage12-cardinality [demo] [--hours H] [--data-dir DIR]
                         demo: a workload with a planted cardinality explosion goes through the limiter
                         into a stage06 DB; prints the analysis report, the limits and a 30-day forecast
  stage12-cardinality analyze --data-dir DIR [--high N] [--top N]
                         the Cardinality Analysis Report of a stage06 data dir: the tracker saved in
                         DIR/cardinality if there is one, else one rebuilt from the stored series;
                         estimates beside the exact counts of the stored series
  stage12-cardinality forecast [--data-dir DIR] [--days N] [--limit N]
                         predicted series in N days from DIR's hourly history (without --data-dir:
                         from the demo's)
  stage12-cardinality limits --data-dir DIR [--default N] [--global N] [--set METRIC=N]...
                         the series limits in force, exact counts and dropped writes; the flags change
                         DIR/cardinality/limits.json (0: no limit)

Run a subcommand with -h for its flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return cli.Dispatch(usageText, cli.Command{Name: "demo", Run: cmdDemo}, []cli.Command{
		{Name: "analyze", Run: cmdAnalyze},
		{Name: "forecast", Run: cmdForecast},
		{Name: "limits", Run: cmdLimits},
	}, args, stdout, stderr)
}
