// Command stage15-tsdb is the capstone server and its command line.
//
//	go run ./stage15-tsdb start [--listen 127.0.0.1:9090] [--data-dir ./data] [--retention 0] [--config FILE]
//	go run ./stage15-tsdb write 'cpu_usage{host="a"} 0.75 [ts]' [--addr 127.0.0.1:9090]
//	go run ./stage15-tsdb query 'rate(x[5m])' [--time T | --start S --end E --step 60s] [--json]
//	go run ./stage15-tsdb inspect | import --file X.influx[.gz] | compact | snapshot [list | delete NAME]
//	go run ./stage15-tsdb bench-write [--series 10000] [--batch 2000] [--senders 4] [--samples N]
//	go run ./stage15-tsdb repair --data-dir ./data [--yes]
package main

import (
	"io"
	"os"

	"github.com/tsdb-course/stage01-memstore/cli"
)

const prog = "stage15-tsdb"

const usageText = `usage:
  stage15-tsdb start [--listen 127.0.0.1:9090] [--data-dir ./data] [--retention 0] [--config FILE]
                     [--web.enable-admin-api] [--web.config.file FILE]
                                              run the server (the main job); Ctrl-C stops it cleanly
  stage15-tsdb write '<metric>{labels} <value> [<unix s>]' ...   write samples to a running server
  stage15-tsdb query '<promql>' [--time T | --start S --end E --step D] [--json]
                                              run a query: a table, or the raw JSON with --json
  stage15-tsdb inspect                        server status, blocks, head, top series by label
  stage15-tsdb import --file X[.influx][.gz]  bulk import (text lines, or InfluxDB line protocol)
  stage15-tsdb compact                        start due compactions and follow them to the end (admin API)
  stage15-tsdb snapshot [--skip-head]         snapshot the data directory (admin API)
  stage15-tsdb snapshot list | delete NAME... list or delete snapshots (admin API)
  stage15-tsdb repair --data-dir DIR [--yes]  list the damage a start refuses or moves aside (server stopped);
                                              --yes: repair it, dropping only the damage listed
  stage15-tsdb bench-write [--series N] [--batch N] [--senders N] [--samples N]
                                              remote-write load generator (starts its own server
                                              unless --addr is given)

The client commands talk to --addr (default 127.0.0.1:9090). Run a subcommand with -h for its flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return cli.Dispatch(usageText, cli.Command{Name: "start", Run: cmdStart}, []cli.Command{
		{Name: "write", Run: cmdWrite},
		{Name: "query", Run: cmdQuery},
		{Name: "inspect", Run: cmdInspect},
		{Name: "import", Run: cmdImport},
		{Name: "compact", Run: cmdCompact},
		{Name: "snapshot", Run: cmdSnapshot},
		{Name: "bench-write", Run: cmdBenchWrite},
		{Name: "repair", Run: cmdRepair},
	}, args, stdout, stderr)
}
