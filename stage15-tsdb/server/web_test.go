package server

import (
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tsdb-course/stage15-tsdb/config"
)

func startWith(t *testing.T, cfg config.Config) *Server {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	if cfg.DataDir == "" || cfg.DataDir == config.DefaultDataDir {
		cfg.DataDir = t.TempDir()
	}
	s, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(t.Context()) })
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPprofOffByDefault: /debug/pprof/ is served only with enable_pprof.
func TestPprofOffByDefault(t *testing.T) {
	s := startWith(t, config.Default())
	if code, _ := call(t, "GET", "http://"+s.Addr()+"/debug/pprof/", ""); code != 404 {
		t.Errorf("pprof without enable_pprof: %d", code)
	}
	cfg := config.Default()
	cfg.Web.EnablePprof = true
	s = startWith(t, cfg)
	if code, _ := call(t, "GET", "http://"+s.Addr()+"/debug/pprof/", ""); code != 200 {
		t.Errorf("pprof with enable_pprof: %d", code)
	}
}

// TestGzip: answers are gzip-compressed for a client that accepts it, and
// decompress to the plain answer.
func TestGzip(t *testing.T) {
	s := startWith(t, config.Default())
	base := "http://" + s.Addr()
	var lines strings.Builder
	for i := range 200 {
		fmt.Fprintf(&lines, "gz_metric{i=\"%d\"} 1 1000\n", i)
	}
	if code, body := call(t, "POST", base+"/write", lines.String()); code != 200 {
		t.Fatalf("write: %d %s", code, body)
	}
	u := base + "/api/v1/series?match[]=gz_metric"
	_, plain := call(t, "GET", u, "")
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || string(got) != plain || !strings.Contains(plain, "gz_metric") {
		t.Fatalf("gunzipped answer differs: %v\n%s\n%s", err, got, plain)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tsdb test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestWebConfigTLSAndBasicAuth: with a web configuration file in
// Prometheus's format the server speaks TLS only and answers only the
// users it lists, on every path (API, /metrics, the admin API).
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webCfg, []byte("tls_server_config:\n  cert_file: "+certFile+"\n  key_file: "+keyFile+
		"\nbasic_auth_users:\n  admin: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Web.ConfigFile, cfg.Web.EnableAdminAPI = webCfg, true
	s := startWith(t, cfg)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	get := func(scheme, path, user, pass string) int {
		req, _ := http.NewRequest("GET", scheme+"://"+s.Addr()+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		var env map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&env)
		return resp.StatusCode
	}
	for _, path := range []string{"/api/v1/query?query=1", "/metrics", "/api/v1/admin/tsdb/snapshots", "/federate?match[]=up", "/-/ready"} {
		if code := get("https", path, "", ""); code != 401 {
			t.Errorf("%s without credentials: %d, want 401", path, code)
		}
		if code := get("https", path, "admin", "wrong"); code != 401 {
			t.Errorf("%s with a wrong password: %d, want 401", path, code)
		}
		if code := get("https", path, "admin", "s3cret"); code != 200 {
			t.Errorf("%s with the password: %d, want 200", path, code)
		}
	}
	// Plain HTTP gets no answer a client could mistake for success.
	if code := get("http", "/api/v1/query?query=1", "admin", "s3cret"); code == 200 {
		t.Errorf("plain HTTP answered 200")
	}
	// A bad web config is refused at Start, before anything is served.
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("basic_auth_users:\n  admin: not-a-bcrypt-hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Web.ConfigFile, cfg.DataDir, cfg.Listen = bad, t.TempDir(), "127.0.0.1:0"
	s2, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); err == nil {
		_ = s2.Shutdown(t.Context())
		t.Error("a web config with a bad password hash was accepted")
	}
}

// TestWALReplayStatus: after start-up the replay status names the first
// and last WAL segments that were on disk, current at the last.
func TestWALReplayStatus(t *testing.T) {
	dir := t.TempDir()
	for i := range 3 { // each clean restart after a write starts a new segment
		s := startTest(t, dir)
		if code, body := call(t, "POST", "http://"+s.Addr()+"/write", fmt.Sprintf("m %d %d\n", i, i+1)); code != 200 {
			t.Fatal(body)
		}
		if err := s.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	var segs []int
	entries, _ := os.ReadDir(filepath.Join(dir, "wal"))
	for _, e := range entries {
		var n int
		if _, err := fmt.Sscanf(e.Name(), "%d", &n); err == nil {
			segs = append(segs, n)
		}
	}
	s := startTest(t, dir)
	defer s.Shutdown(t.Context())
	_, body := call(t, "GET", "http://"+s.Addr()+"/api/v1/status/walreplay", "")
	var env struct {
		Data struct{ Min, Max, Current int }
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err, body)
	}
	if len(segs) < 2 || env.Data.Min != segs[0] || env.Data.Max != segs[len(segs)-1] || env.Data.Current != env.Data.Max {
		t.Errorf("walreplay %+v, segments on disk before the start %v", env.Data, segs)
	}
}
