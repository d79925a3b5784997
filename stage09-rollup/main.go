// Command stage09-rollup is the demo and CLI of the downsampling stage.
//
//	go run ./stage09-rollup                                   # demo in a temp dir
//	go run ./stage09-rollup load   --data-dir D --days 90
//	go run ./stage09-rollup status --data-dir D
//	go run ./stage09-rollup run    --data-dir D --clock 2024-01-16T00:00:00Z
//	go run ./stage09-rollup query  --data-dir D "avg(cpu_usage) WHERE host='server1'" --range=30d
package main

import (
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
)

const usageText = `usage:
  stage09-rollup [demo] [--days N] [--series N] [--interval D] [--data-dir DIR]
                        demo: months of data, jobs, status, routed queries, a late
                        sample recomputed, retention per tier, a chart
  stage09-rollup load   --data-dir DIR [--days N] [--series N] [--interval D]
                        write N days of cpu_usage ending at --clock, running the
                        jobs and retention once a simulated day
  stage09-rollup status --data-dir DIR
  stage09-rollup run    --data-dir DIR        process new and dirty windows, then retention
  stage09-rollup query  --data-dir DIR [--range 30d] "FUNC(metric) [WHERE l='v' [AND …]]"
                        FUNC: avg, sum, min, max, count, pN (p50, p99, p99.9)
  stage09-rollup write  --data-dir DIR --series 'host=server1' --time T --value V
                        one raw sample (a late one marks its windows dirty)

Every subcommand takes --clock TIME: RFC 3339, unix seconds, or "wall" for the
real clock (default 2024-01-15T14:35:00Z, the guide's today), so a year can
be simulated in seconds. Durations: Go syntax or days (30d, 1y = 365d).
`

const prog = "stage09-rollup"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return cli.Dispatch(usageText, cli.Command{Name: "demo", Run: cmdDemo}, []cli.Command{
		{Name: "load", Run: cmdLoad},
		{Name: "status", Run: cmdStatus},
		{Name: "run", Run: cmdRun},
		{Name: "query", Run: cmdQuery},
		{Name: "write", Run: cmdWrite},
	}, args, stdout, stderr)
}
