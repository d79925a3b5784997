// Command stage04-wal is the demo and CLI of the write-ahead-log stage.
//
//	go run ./stage04-wal                                        # demo: write, kill -9, recover, checkpoint
//	go run ./stage04-wal write --data-dir /tmp/w --points 1000000 [--crash-after 400000]
//	go run ./stage04-wal recover --data-dir /tmp/w [--repair]
//	go run ./stage04-wal checkpoint --data-dir /tmp/w [--mint MS] [--drop-host N]
package main

import (
	"errors"
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
)

const usageText = `usage:
  stage04-wal [demo] [--data-dir DIR] [--points N] [--crash-after M]   demo: write, crash (real SIGKILL), recover, checkpoint
  stage04-wal write --data-dir DIR [--points N] [--crash-after M] [--sync always|batch|interval|none]
                    [--appenders A] [--segment-size BYTES] [--record dense|samples] [--ack]
  stage04-wal recover --data-dir DIR [--repair]
  stage04-wal checkpoint --data-dir DIR [--mint MS] [--drop-host N]

The WAL directory holds segments 00000000, 00000001, ... (16 MiB by default)
and at most one checkpoint.NNNNNNNN. write generates a fixed workload (one
1,000-sample batch = one scrape of 1,000 series of one host per appender),
so recover can check every recovered sample against it. Run a subcommand
with -h for its flags.
`

const prog = "stage04-wal"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errVerify marks a finished run whose check failed: the reason is printed
// on stdout, the exit status must still be 1.
var errVerify = errors.New("verification failed")

// run is main without the process: it returns the exit status, so the CLI
// can be tested in-process.
func run(args []string, stdout, stderr io.Writer) int {
	return cli.Dispatch(usageText, cli.Command{Name: "demo", Run: cmdDemo}, []cli.Command{
		{Name: "write", Run: cmdWrite},
		{Name: "recover", Run: cmdRecover},
		{Name: "checkpoint", Run: cmdCheckpoint},
	}, args, stdout, stderr)
}
