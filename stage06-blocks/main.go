// Command stage06-blocks is the demo and CLI of the block storage stage.
//
//	go run ./stage06-blocks                                   # demo: ingest, block, query, compaction
//	go run ./stage06-blocks ingest --data-dir D [--hours H]   # append synthetic scrapes
//	go run ./stage06-blocks query 'http_requests_total{method="GET"}[5m]' --data-dir D [--at T]
//	go run ./stage06-blocks compact --data-dir D [--flush]
//	go run ./stage06-blocks inspect --data-dir D
//	go run ./stage06-blocks repair --data-dir D [--yes]
package main

import (
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
)

const prog = "stage06-blocks"

const usageText = `usage:
  stage06-blocks [demo] [--series N] [--data-dir DIR]        demo: ingest, block creation, query, compaction
  stage06-blocks ingest --data-dir DIR [--series N] [--hours H] [--interval 15s]
                                                            append synthetic scrapes after the newest sample
  stage06-blocks query '<selector>[range]' --data-dir DIR [--at T]
                                                            evaluate a range selector at T (unix s, RFC 3339
                                                            or ms; default: the newest sample)
  stage06-blocks compact --data-dir DIR [--flush]           run due compactions (--flush: cut the whole head)
  stage06-blocks inspect --data-dir DIR                     blocks, their meta and stats; head and WAL
  stage06-blocks repair --data-dir DIR [--yes]              list the damage Open refuses or moves aside;
                                                            --yes: repair it (drops only the damage listed)

Run a subcommand with -h for its flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return cli.Dispatch(usageText, cli.Command{Name: "demo", Run: cmdDemo}, []cli.Command{
		{Name: "ingest", Run: cmdIngest},
		{Name: "query", Run: cmdQuery},
		{Name: "compact", Run: cmdCompact},
		{Name: "inspect", Run: cmdInspect},
		{Name: "repair", Run: cmdRepair},
	}, args, stdout, stderr)
}
