// Command stage07-tsm is the demo and CLI of the TSM storage engine stage.
//
//	go run ./stage07-tsm                                  # demo: write, flush, compact, query
//	go run ./stage07-tsm write --data-dir D --file X.influx.gz
//	go run ./stage07-tsm query --data-dir D "SELECT * FROM cpu WHERE hostname='host_1'"
//	go run ./stage07-tsm compact --data-dir D [--full]
//	go run ./stage07-tsm inspect [--data-dir D] FILE.tsm
package main

import (
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
)

const usageText = `usage:
  stage07-tsm [demo] [--data-dir DIR] [--points N] [--series S] [--cache-size SIZE]
                                 demo: write, flush, level compaction, queries, full compaction
  stage07-tsm write   --data-dir DIR --file X.influx[.gz] [--batch N] [--sync always|batch|interval|none]
                      [--cache-size SIZE] [--no-flush]
  stage07-tsm query   --data-dir DIR [--now TIME] [--max-rows N] "SELECT … FROM … [WHERE …] [GROUP BY time(…)]"
  stage07-tsm compact --data-dir DIR [--full]
  stage07-tsm inspect [--data-dir DIR] [--keys N] FILE.tsm

DIR holds MANIFEST, the TSM files (NNNNNN-LL.tsm: generation, level), their
.tombstone files and the WAL (DIR/wal). SIZE is bytes or a number with
KB/MB/GB/KiB/MiB/GiB. Run a subcommand with -h for its flags.
`

const prog = "stage07-tsm"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return cli.Dispatch(usageText, cli.Command{Name: "demo", Run: cmdDemo}, []cli.Command{
		{Name: "write", Run: cmdWrite},
		{Name: "query", Run: cmdQuery},
		{Name: "compact", Run: cmdCompact},
		{Name: "inspect", Run: cmdInspect},
	}, args, stdout, stderr)
}
