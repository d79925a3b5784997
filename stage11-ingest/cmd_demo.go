package main

import (
	"bufio"
	"context"
	"fmt"
	"github.com/tsdb-course/stage04-wal/wal"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tsdb-course/stage01-memstore/cli"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// cmdDemo is the guide's transcript in about 20 s: a bench, then a server
// answering a TCP line and an HTTP write.
func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlags(prog, "demo", "[--duration D]", stderr)
	d := fs.Duration("duration", 12*time.Second, "how long the bench writes")
	writers := fs.Int("writers", 100, "concurrent writers")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	o := benchOpts{writers: *writers, duration: *d, protocol: "line", transport: "http", sink: "blocks", walSync: wal.SyncInterval, queue: "ring", bp: ingest.Block, hosts: 10, rounds: 10, progress: stderr}
	if err := o.check(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "$ stage11-ingest bench --writers=%d --duration=%s\n", o.writers, o.duration)
	fmt.Fprintf(stdout, "Starting ingestion benchmark...\nWriters: %d concurrent\nDuration: %s\n", o.writers, o.duration)
	fmt.Fprintf(stdout, "Protocol: line protocol over HTTP (loopback), %s points per request, into %s\n", cli.Thousands(o.hosts*o.rounds*10), sinkName(o.sink, o.walSync))
	fmt.Fprintln(stdout, procsLine(os.Getenv("GOMAXPROCS")))
	res, err := runBench(context.Background(), o)
	if err != nil {
		return err
	}
	res.print(stdout, o)

	dir, err := os.MkdirTemp("", "stage11-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := startServer(serverOpts{listen: "127.0.0.1", port: 0, grpcPort: -1, dataDir: dir, sink: "blocks", walSync: o.walSync, bp: ingest.Block}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "\n$ stage11-ingest server --port=0\nIngestion server listening on %s\nProtocol: InfluxDB line protocol compatible\n", s.Addr())

	line := "cpu,host=server1 usage=0.75 1703001600000000000"
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(c, "%s\n", line)
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("tcp reply: %w", err)
	}
	if reply != "OK\n" {
		return fmt.Errorf("tcp reply %q, want OK", reply)
	}
	host, port, _ := net.SplitHostPort(s.Addr())
	fmt.Fprintf(stdout, "\n$ echo %q | nc %s %s\n%s", line, host, port, reply)

	body := "cpu,host=server2 usage=0.5 1703001600000000000\ncpu,host=server3 usage=0.25 1703001600000000000\n"
	resp, err := http.Post("http://"+s.Addr()+"/api/v2/write?org=demo&bucket=demo", "text/plain", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("HTTP write: %s", resp.Status)
	}
	fmt.Fprintf(stdout, "\n$ curl -i -XPOST 'http://%s/api/v2/write?org=demo&bucket=demo' --data-binary @two-lines.txt\nHTTP/1.1 %s\n", s.Addr(), resp.Status)
	st := s.p.Stats()
	fmt.Fprintf(stdout, "\nThe server's sink (stage06's head and WAL, %s) holds the %d points, in %d batches.\n", walSyncText(o.walSync), st.Points, st.Batches)
	return nil
}
