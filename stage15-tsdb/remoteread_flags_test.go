package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage11-ingest/remote/prompbtest"
)

// TestRemoteReadFlags: Prometheus's --storage.remote.read-* flags, and
// the remote_read section of the config file, reach POST /api/v1/read: a
// sample limit of 10 refuses a read of 20 samples with Prometheus's 400;
// a flag overrides the file, and 0 is no limit.
func TestRemoteReadFlags(t *testing.T) {
	out, _ := exec.Command(binary, "start", "-h").CombinedOutput()
	for _, f := range []string{"storage.remote.read-sample-limit int", "(default 50000000)",
		"storage.remote.read-concurrent-limit int", "(default 10)",
		"storage.remote.read-max-bytes-in-frame int", "(default 1048576)"} {
		if !bytes.Contains(out, []byte(f)) {
			t.Errorf("start -h lacks %q", f)
		}
	}
	const base = 1_700_000_000_000
	samples := make([][2]float64, 20)
	for i := range samples {
		samples[i] = [2]float64{float64(base + i*1000), float64(i)}
	}
	body := prompbtest.Marshal(t, []prompbtest.Series{{Labels: [][2]string{{"__name__", "rr"}, {"job", "a"}}, Samples: samples}}, nil)
	read := func(p *proc) (int, string) {
		t.Helper()
		if code, msg, err := remoteWrite(http.DefaultClient, p.addr, body); err != nil || code/100 != 2 {
			t.Fatalf("write: %d %s %v", code, msg, err)
		}
		rr := remote.ReadRequest{Queries: []remote.Query{{StartMs: base, EndMs: base + 20_000,
			Matchers: []remote.Matcher{{Type: remote.MatchEqual, Name: "__name__", Value: "rr"}}}}}
		resp, err := http.Post("http://"+p.addr+"/api/v1/read", "application/x-protobuf", bytes.NewReader(remote.Compress(nil, remote.AppendReadRequest(nil, &rr))))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Run("flag", func(t *testing.T) {
		p := startServer(t, t.TempDir(), "--storage.remote.read-sample-limit", "10")
		if code, msg := read(p); code != 400 || !strings.Contains(msg, "exceeded sample limit (10)") {
			t.Fatalf("%d %.200q, want 400 exceeded sample limit (10)", code, msg)
		}
	})
	t.Run("file, and a flag of 0 over it", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "tsdb.yml")
		if err := os.WriteFile(cfg, []byte("remote_read:\n  sample_limit: 10\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p := startServer(t, t.TempDir(), "--config", cfg)
		if code, msg := read(p); code != 400 || !strings.Contains(msg, "exceeded sample limit (10)") {
			t.Fatalf("file: %d %.200q, want 400 exceeded sample limit (10)", code, msg)
		}
		p = startServer(t, t.TempDir(), "--config", cfg, "--storage.remote.read-sample-limit", "0")
		if code, msg := read(p); code != 200 {
			t.Fatalf("flag 0 over the file: %d %.200q, want 200 (no limit)", code, msg)
		}
	})
}
