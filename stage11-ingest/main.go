// Command stage11-ingest is the demo and CLI of the ingestion pipeline.
//
//	go run ./stage11-ingest                       # demo: a short bench, then a server answering a TCP and an HTTP write
//	go run ./stage11-ingest bench --writers=100 --duration=60s [--protocol line|remote|otlp] [--transport http|tcp|inproc] [--sink discard|memory|blocks]
//	go run ./stage11-ingest server --port 9090 [--data-dir DIR] [--backpressure block|reject]
package main

import (
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
)

const usageText = `usage:
  stage11-ingest [demo]          a short bench (line protocol over HTTP into a WAL-backed head),
                                 then a server on a free port answering a TCP and an HTTP write
  stage11-ingest bench  [--writers N] [--duration D] [--protocol line|remote|otlp]
                        [--transport http|tcp|inproc] [--sink discard|memory|blocks] [--data-dir DIR]
                        [--backpressure block|reject] [--hosts N] [--rounds N] [--queue chan|ring]
  stage11-ingest server [--port 9090] [--listen 127.0.0.1] [--grpc-port 4317] [--data-dir DIR]
                        [--backpressure block|reject] [--sink blocks|memory|discard]

The server answers InfluxDB line protocol on plain TCP and HTTP on the same
port (POST /write, /api/v2/write, /api/v1/write, /api/v1/otlp/v1/metrics),
OTLP over gRPC on --grpc-port. Run a subcommand with -h for its flags.
`

const prog = "stage11-ingest"

func main() {
	raiseProcs(os.Getenv("GOMAXPROCS"))
	startGCFloor(os.Getenv("GOGC"))
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return cli.Dispatch(usageText, cli.Command{Name: "demo", Run: cmdDemo}, []cli.Command{
		{Name: "bench", Run: cmdBench},
		{Name: "server", Run: cmdServer},
	}, args, stdout, stderr)
}
