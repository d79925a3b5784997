package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage11-ingest/remote/prompbtest"
)

// binary is the server built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stage15-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tsdb")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the server: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a server child process.
type proc struct {
	cmd     *exec.Cmd
	addr    string
	mu      sync.Mutex
	stderr  bytes.Buffer
	done    chan error    // the process' exit
	scanned chan struct{} // closed once all of stderr is read
}

// logs is what the server wrote to stderr so far.
func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

var listenRE = regexp.MustCompile(`listening=http://(127\.0\.0\.1:\d+)`)

// startServer runs `tsdb start` on a random free port of 127.0.0.1 and waits
// until it is ready.
func startServer(t *testing.T, dataDir string, extra ...string) *proc {
	t.Helper()
	p := startProc(t, dataDir, extra...)
	if err := p.waitReady(30 * time.Second); err != nil {
		t.Fatalf("%v\n%s", err, p.logs())
	}
	return p
}

// startProc runs `tsdb start` and returns once it listens (the storage
// may still be opening: /-/ready says 503 until it is).
func startProc(t *testing.T, dataDir string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"start", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, extra...)
	cmd := exec.Command(binary, args...)
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1), scanned: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		defer close(p.scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.stderr.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenRE.FindStringSubmatch(line); m != nil {
				addrc <- m[1]
			}
		}
	}()
	go func() { p.done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case p.addr = <-addrc:
	case err := <-p.done:
		<-p.scanned
		t.Fatalf("server exited: %v\n%s", err, p.logs())
	case <-time.After(30 * time.Second):
		t.Fatal("server did not print its address")
	}
	return p
}

// ready asks /-/ready once.
func (p *proc) ready() bool {
	resp, err := http.Get("http://" + p.addr + "/-/ready")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// waitReady polls /-/ready until it answers 200, or the process exits.
func (p *proc) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !p.ready() {
		select {
		case err := <-p.done:
			p.done <- err
			<-p.scanned
			return fmt.Errorf("server exited before it was ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready in %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func (p *proc) url(path string, kv ...string) string {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return "http://" + p.addr + path + "?" + v.Encode()
}

// remoteWrite sends one request and returns the status code.
func remoteWrite(client *http.Client, addr string, body []byte) (int, string, error) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/write", bytes.NewReader(remote.Compress(nil, body)))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// matrixResult decodes a query answer whose result is a matrix.
type matrixResult struct {
	Status string
	Data   struct {
		ResultType string
		Result     []struct {
			Metric map[string]string
			Values [][2]any
		}
	}
}

func getJSON(t *testing.T, u string, v any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v: %s", u, err, b)
	}
	return resp.StatusCode
}

// request i of the stream: series s0…s(n-1), one sample each at
// base + i s with value i.
func streamRequest(t *testing.T, i, n int) []byte {
	const base = 1_700_000_000_000
	ss := make([]prompbtest.Series, n)
	for s := range ss {
		ss[s] = prompbtest.Series{Labels: [][2]string{{"__name__", "stream"}, {"s", fmt.Sprint(s)}}, Samples: [][2]float64{{float64(base + int64(i)*1000), float64(i)}}}
	}
	return prompbtest.Marshal(t, ss, nil)
}

// checkStream checks that every series holds samples 0…acked-1 (and
// possibly the next ones, written but not acknowledged before a crash).
func checkStream(t *testing.T, p *proc, sel string, n, acked int) {
	t.Helper()
	var res matrixResult
	u := p.url("/api/v1/query", "query", sel+"[1h]", "time", fmt.Sprint(1_700_000_000+acked+10))
	if code := getJSON(t, u, &res); code != 200 || res.Data.ResultType != "matrix" {
		t.Fatalf("query: %d %+v", code, res)
	}
	if len(res.Data.Result) != n {
		t.Fatalf("%d series, want %d", len(res.Data.Result), n)
	}
	for _, s := range res.Data.Result {
		if len(s.Values) < acked {
			t.Fatalf("series %v: %d samples, %d acknowledged", s.Metric, len(s.Values), acked)
		}
		for i, v := range s.Values {
			ts, val := v[0].(float64), v[1].(string)
			if ts != float64(1_700_000_000+i) || val != fmt.Sprint(i) {
				t.Fatalf("series %v sample %d: [%v %q]", s.Metric, i, ts, val)
			}
		}
	}
}

// TestKill9 writes a stream of remote-write requests, kills the server with
// SIGKILL in the middle of it, restarts it, and checks that every
// acknowledged sample is there: with the default --wal.sync (interval: an
// answer waits for write(), not fsync; the OS keeps what a killed process
// wrote) and with batch (every answer fsynced). The WAL is written with
// one compression and replayed by a server started with another (the
// default snappy, then none; zstd, then snappy), as an operator switching
// the flag on an existing data directory would.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	for _, tc := range []struct {
		policy              string
		before, after       []string
		logBefore, logAfter string
	}{
		{"interval", nil, []string{"--storage.tsdb.wal-compression=false"}, "compression=snappy", "compression=none"},
		{"batch", []string{"--storage.tsdb.wal-compression-type", "zstd"}, nil, "compression=zstd", "compression=snappy"},
	} {
		policy := tc.policy
		t.Run(policy, func(t *testing.T) {
			dir := t.TempDir()
			p := startServer(t, dir, append([]string{"--wal.sync", policy}, tc.before...)...)
			if !strings.Contains(p.logs(), tc.logBefore) {
				t.Fatalf("start-up log lacks %s:\n%s", tc.logBefore, p.logs())
			}
			const series = 50
			client := &http.Client{Timeout: 10 * time.Second}
			acked := 0
			killed := false
			for i := 0; i < 3000; i++ {
				if i == 400 { // kill while the next requests are in flight
					go func() { _ = p.cmd.Process.Signal(syscall.SIGKILL) }()
					killed = true
				}
				code, body, err := remoteWrite(client, p.addr, streamRequest(t, i, series))
				if err != nil {
					if !killed {
						t.Fatalf("request %d: %v", i, err)
					}
					break
				}
				if code != http.StatusNoContent {
					t.Fatalf("request %d: %d %s", i, code, body)
				}
				acked = i + 1
			}
			<-p.done
			if acked < 400 {
				t.Fatalf("only %d requests acknowledged", acked)
			}
			p2 := startServer(t, dir, append([]string{"--wal.sync", policy}, tc.after...)...)
			if !strings.Contains(p2.logs(), tc.logAfter) {
				t.Fatalf("start-up log lacks %s:\n%s", tc.logAfter, p2.logs())
			}
			checkStream(t, p2, "stream", series, acked)
		})
	}
}

// TestGracefulShutdown: SIGTERM exits 0 after closing the head; a restart
// serves the same data.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	p := startServer(t, dir)
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 20 {
		if code, body, err := remoteWrite(client, p.addr, streamRequest(t, i, 10)); err != nil || code != 204 {
			t.Fatalf("write %d: %d %s %v", i, code, body, err)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.logs())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	<-p.scanned
	if logs := p.logs(); !strings.Contains(logs, "shutdown complete") {
		t.Fatalf("log:\n%s", logs)
	}
	checkStream(t, startServer(t, dir), "stream", 10, 20)
}

// TestBadInputEveryEndpoint sends malformed requests to every endpoint of a
// real server process: each gets a 4xx answer, none crashes the server or
// loses what was stored.
func TestBadInputEveryEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	p := startServer(t, t.TempDir(), "--query.max-samples", "1000", "--web.enable-admin-api")
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 30 {
		if code, body, err := remoteWrite(client, p.addr, streamRequest(t, i, 50)); err != nil || code != 204 {
			t.Fatalf("write: %d %s %v", code, body, err)
		}
	}
	huge := bytes.Repeat([]byte("a"), 40<<20)
	for _, c := range []struct {
		method, path, ct string
		body             []byte
		code             int
	}{
		{"GET", "/api/v1/query?query=sum(", "", nil, 400},
		{"GET", "/api/v1/query?query=stream[1h]&time=1700000100", "", nil, 422}, // 50 × 30 samples > 1000
		{"GET", "/api/v1/query?query=up&time=abc", "", nil, 400},
		{"POST", "/api/v1/query", "application/x-www-form-urlencoded", []byte("query=%zz"), 400},
		{"GET", "/api/v1/query_range?query=up&start=1&end=0&step=1", "", nil, 400},
		{"GET", "/api/v1/query_range?query=up&start=0&end=1&step=-1", "", nil, 400},
		{"GET", "/api/v1/series?match[]=%7B", "", nil, 400},
		{"GET", "/api/v1/labels?end=never", "", nil, 400},
		{"GET", "/api/v1/label/s/values?match[]=x%7B", "", nil, 400},
		{"GET", "/api/v1/metadata?limit=x", "", nil, 400},
		{"GET", "/api/v1/status/tsdb?limit=-1", "", nil, 400},
		{"GET", "/api/v1/query_exemplars", "", nil, 400},
		{"POST", "/api/v1/admin/tsdb/snapshot?skip_head=maybe", "", nil, 400},
		{"POST", "/api/v1/admin/tsdb/delete_series", "", nil, 400},
		{"POST", "/api/v1/write", "application/x-protobuf", []byte{0xff, 0xff, 0xff}, 400},
		{"POST", "/api/v1/write", "application/x-protobuf", remote.Compress(nil, []byte{0x0a, 0x05, 0x0a}), 400},
		{"POST", "/api/v1/write", "application/xml", []byte("<a/>"), 415},
		{"POST", "/api/v1/write", "application/x-protobuf", huge, 413},
		{"POST", "/api/v1/write", "application/json", []byte("{"), 400},
		{"POST", "/write", "text/plain", []byte("garbage line\n"), 400},
		{"POST", "/write", "text/plain", huge, 413},
		{"GET", "/api/v1/nothing", "", nil, 404},
		{"DELETE", "/api/v1/query", "", nil, 405},
	} {
		req, _ := http.NewRequest(c.method, "http://"+p.addr+c.path, bytes.NewReader(c.body))
		if c.ct != "" {
			req.Header.Set("Content-Type", c.ct)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, resp.StatusCode, b, c.code)
		}
	}
	resp, err := http.Get("http://" + p.addr + "/-/healthy")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("not healthy after bad input: %v", err)
	}
	resp.Body.Close()
	checkStream(t, p, `stream{s="7"}`, 1, 30)
}
