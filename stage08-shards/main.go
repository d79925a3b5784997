// Command stage08-shards is the demo and CLI of the time-based sharding
// stage.
//
//	go run ./stage08-shards                                  # demo in a temp dir
//	go run ./stage08-shards load --data-dir D --days 9
//	go run ./stage08-shards status --data-dir D
//	go run ./stage08-shards query --data-dir D "SELECT * FROM cpu WHERE time > '2024-01-14'"
//	go run ./stage08-shards tier --data-dir D
//	go run ./stage08-shards enforce-retention --data-dir D
package main

import (
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
)

const usageText = `usage:
  stage08-shards [demo] [--engine tsm|blocks] [--days N] [--hosts H]
                                 demo: load, status, tier, query (checked), retention, restart
  stage08-shards load   --data-dir DIR [--days N] [--hosts H] [--interval D] [--engine tsm|blocks]
                        [--shard-duration hour|day|week]
  stage08-shards status --data-dir DIR
  stage08-shards query  --data-dir DIR [--workers N] [--max-rows N] "SELECT … FROM cpu [WHERE …]"
  stage08-shards tier   --data-dir DIR [--warm-after D] [--cold-after D]
  stage08-shards enforce-retention --data-dir DIR [--retention D]

Every subcommand takes --now TIME (RFC 3339, or "wall" for the real clock;
default 2024-01-15T12:00:00Z, the guide's today) and --cold-dir DIR (default
DIR/cold). DIR holds MANIFEST and hot/<shard id>/, one engine directory per
shard. D is a Go duration or a number of days (7d). Run a subcommand with -h
for its flags.
`

const prog = "stage08-shards"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return cli.Dispatch(usageText, cli.Command{Name: "demo", Run: cmdDemo}, []cli.Command{
		{Name: "load", Run: cmdLoad},
		{Name: "status", Run: cmdStatus},
		{Name: "query", Run: cmdQuery},
		{Name: "tier", Run: cmdTier},
		{Name: "enforce-retention", Run: cmdRetention},
	}, args, stdout, stderr)
}
