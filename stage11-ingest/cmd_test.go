package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestServerLocksDataDir: a second server on a data directory in use fails
// naming it, and leaves the first one's data alone; once the first is
// closed the directory can be opened again.
func TestServerLocksDataDir(t *testing.T) {
	dir := t.TempDir()
	o := serverOpts{listen: "127.0.0.1", grpcPort: -1, dataDir: dir, sink: "blocks", bp: ingest.Block}
	s1, err := startServer(o, quiet)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := startServer(o, quiet)
	if err == nil {
		s2.Close()
		s1.Close()
		t.Fatal("a second server opened the data directory of a running one")
	}
	if !errors.Is(err, tsdb.ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q: want it to say the directory is in use", err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s3, err := startServer(o, quiet)
	if err != nil {
		t.Fatalf("after the first server closed: %v", err)
	}
	s3.Close()
}

// TestServerPortInUse: a server that cannot have its port says which flag
// and does not open (replay, close) the data directory.
func TestServerPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := filepath.Join(t.TempDir(), "data")
	for _, o := range []serverOpts{
		{listen: "127.0.0.1", port: port, grpcPort: -1, dataDir: dir, sink: "blocks"},
		{listen: "127.0.0.1", grpcPort: port, dataDir: dir, sink: "blocks"},
	} {
		s, err := startServer(o, quiet)
		if err == nil {
			s.Close()
			t.Fatalf("%+v: started on a port in use", o)
		}
		flagName := "--port"
		if o.grpcPort == port {
			flagName = "--grpc-port"
		}
		if !strings.HasPrefix(err.Error(), fmt.Sprintf("%s %d", flagName, port)) {
			t.Errorf("error %q: want it to name %s", err, flagName)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the data directory was opened: %v", err)
		}
	}
}

// TestServerLimitFlags: every limit an error names is a server flag, and
// the flag sets the limit the listeners enforce.
func TestServerLimitFlags(t *testing.T) {
	var o serverOpts
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	serverFlags(fs, &o)
	for _, name := range []string{ingest.LimitBody, ingest.LimitLine, ingest.LimitLabels, ingest.LimitNameBytes, ingest.LimitValueBytes} {
		if fs.Lookup(name) == nil {
			t.Errorf("no --%s flag", name)
		}
	}
	if err := fs.Parse([]string{"--data-dir", t.TempDir(), "--grpc-port", "-1", "--port", "0", "--sink", "memory", "--max-line-bytes", "100", "--max-labels-per-series", "3"}); err != nil {
		t.Fatal(err)
	}
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	s, err := startServer(o, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "cpu,host=%s v=1 1\ncpu,a=1,b=2,c=3 v=1 1\ncpu,a=1 v=1 1\n", strings.Repeat("h", 100))
	r := bufio.NewReader(c)
	for _, want := range []string{"ERR limit max-line-bytes (100)", "ERR line 2: limit max-labels-per-series (3)", "OK"} {
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, want) {
			t.Fatalf("reply %q, %v: want %s…", line, err, want)
		}
	}
}

// TestUsageErrors: a bad flag value is a usage error (exit 2) found before
// the command prints or opens anything.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--protocol", "foo"},
		{"bench", "--transport", "udp"},
		{"bench", "--sink", "disk"},
		{"bench", "--queue", "x"},
		{"bench", "--flushers", "-1"},
		{"bench", "--protocol", "remote", "--transport", "tcp"},
		{"bench", "--duration", "0s"},
		{"demo", "--duration", "0s"},
		{"server", "--port", "65536"},
		{"server", "--grpc-port", "-2"},
		{"server", "--sink", "disk"},
		{"server", "--backpressure", "drop"},
		{"server", "--max-body-bytes", "0"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 || stdout.Len() > 0 || !strings.HasPrefix(stderr.String(), "error: ") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2, nothing, an error", args, code, stdout.String(), stderr.String())
		}
	}
}

// TestServerCloseKeepsWrites: what the server acknowledged is in the data
// directory after Close, and Close leaves it cleanly closed (no torn WAL
// tail for the next Open to cut).
func TestServerCloseKeepsWrites(t *testing.T) {
	dir := t.TempDir()
	s, err := startServer(serverOpts{listen: "127.0.0.1", grpcPort: -1, dataDir: dir, sink: "blocks", bp: ingest.Block}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	resp, err := http.Post("http://"+s.Addr()+"/write?db=x&precision=s", "text/plain", strings.NewReader(fmt.Sprintf("cpu,host=a usage=0.5 %d\n", now.Unix())))
	if err != nil {
		s.Close()
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		s.Close()
		t.Fatalf("write: %s", resp.Status)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := tsdb.Open(dir, tsdb.Options{NoBackgroundCompaction: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if tr := db.Recovery().WALTruncated; tr != nil {
		t.Errorf("WAL cut at reopen: %+v", tr)
	}
	q, err := db.Querier(0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var got []string
	ss := q.Select()
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() {
			ts, v := it.At()
			got = append(got, fmt.Sprintf("%s %d %g", ss.At().Labels(), ts, v))
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`cpu_usage{host="a"} %d 0.5`, now.UnixMilli()); len(got) != 1 || got[0] != want {
		t.Fatalf("stored %q, want %q", got, want)
	}
}
