package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tsdb-course/stage11-ingest/ingest"
)

// TestSharedPort: the server's one port answers a line-protocol line over
// plain TCP (a single short line, as `echo … | nc` sends it: the router
// must not wait for more bytes than arrived) and HTTP requests.
func TestSharedPort(t *testing.T) {
	s, err := startServer(serverOpts{listen: "127.0.0.1", grpcPort: -1, sink: "memory", bp: ingest.Block}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second)) // the router's own timeout is 30 s
	fmt.Fprintf(c, "cpu,host=server1 usage=0.75 1703001600000000000\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); line != "OK\n" {
		t.Fatalf("TCP reply %q, %v", line, err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post("http://"+s.Addr()+"/write", "text/plain", strings.NewReader(`cpu_usage{host="server1"} 0.75 1703001600`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %s", resp.Status)
	}
	resp, err = client.Get("http://" + s.Addr() + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "points 2\n") {
		t.Fatalf("stats:\n%s", b)
	}
	for path, code := range map[string]int{"/ping": 204, "/health": 200} {
		resp, err := client.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("GET %s: %s, want %d", path, resp.Status, code)
		}
	}
}
