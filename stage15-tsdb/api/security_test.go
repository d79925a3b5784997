package api

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage11-ingest/remote/prompbtest"
)

// adminCalls are the admin endpoints, each a request that would change or
// copy data if served.
var adminCalls = [][2]string{
	{"POST", "/api/v1/admin/tsdb/delete_series?match[]=x"},
	{"PUT", "/api/v1/admin/tsdb/delete_series?match[]=x"},
	{"POST", "/api/v1/admin/tsdb/clean_tombstones"},
	{"POST", "/api/v1/admin/tsdb/snapshot"},
	{"POST", "/api/v1/admin/snapshot"},
	{"GET", "/api/v1/admin/tsdb/snapshots"},
	{"DELETE", "/api/v1/admin/tsdb/snapshots/20240101T000000Z-0123456789abcdef"},
	{"POST", "/api/v1/admin/tsdb/compact"},
}

// TestAdminAPIOffByDefault: without EnableAdminAPI every admin endpoint
// answers 503 "admin APIs disabled" and nothing is deleted.
func TestAdminAPIOffByDefault(t *testing.T) {
	srv, db := newTestAPI(t, Options{})
	before := storedState(t, db)
	for _, c := range adminCalls {
		req, _ := http.NewRequest(c[0], srv.URL+c[1], nil)
		r := do(t, req)
		if r.code != 503 || r.body != `{"status":"error","errorType":"unavailable","error":"admin APIs disabled"}` {
			t.Errorf("%s %s: %d %s", c[0], c[1], r.code, r.body)
		}
	}
	if after := storedState(t, db); len(after) != len(before) || len(after[`x{inst="a",method="GET"}`]) != 61 {
		t.Errorf("data changed: %d series", len(after))
	}
}

// TestCrossOriginRefused: a browser's cross-origin request (what a form on
// any web page the user visits sends) cannot delete or write; the same
// request from the server's own origin, or from a non-browser client, can.
// Reads stay open to any origin.
func TestCrossOriginRefused(t *testing.T) {
	srv, db := newTestAPI(t, Options{EnableAdminAPI: true})
	deleteReq := func(hdr map[string]string, ct string, body string) result {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+q("/api/v1/admin/tsdb/delete_series", "match[]", `x{inst="b"}`), strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		return do(t, req)
	}
	for _, c := range []struct {
		name string
		hdr  map[string]string
		ct   string
		code int
	}{
		{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, "", 403},
		{"Sec-Fetch-Site same-site (another port or subdomain)", map[string]string{"Sec-Fetch-Site": "same-site"}, "", 403},
		{"Origin of another host", map[string]string{"Origin": "http://evil.example"}, "", 403},
		{"old browser form post, no Origin", nil, "application/x-www-form-urlencoded", 415},
		{"multipart form", nil, "multipart/form-data; boundary=x", 415},
		{"text/plain form", nil, "Text/Plain;charset=utf-8", 415},
	} {
		if r := deleteReq(c.hdr, c.ct, "match[]=x"); r.code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, r.code, r.body, c.code)
		}
	}
	if n := len(storedState(t, db)[`x{inst="b",method="GET"}`]); n != 61 {
		t.Fatalf("refused requests deleted samples: %d left of 61", n)
	}
	// The UI of the server itself (same origin) and curl may.
	if r := deleteReq(map[string]string{"Sec-Fetch-Site": "same-origin"}, "", ""); r.code != 204 {
		t.Fatalf("same-origin delete: %d %s", r.code, r.body)
	}
	if n := len(storedState(t, db)[`x{inst="b",method="GET"}`]); n != 0 {
		t.Fatalf("same-origin delete left %d samples", n)
	}
	// Writes from a cross-origin page are refused and store nothing.
	body := remote.Compress(nil, prompbtest.Marshal(t, []prompbtest.Series{{Labels: [][2]string{{"__name__", "evil"}}, Samples: [][2]float64{{1, 1}}}}, nil))
	for _, w := range []struct{ path, ct string }{{"/api/v1/write", "application/x-protobuf"}, {"/write", "text/plain"}} {
		b := body
		if w.path == "/write" {
			b = []byte("evil 1 1\n")
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+w.path, bytes.NewReader(b))
		req.Header.Set("Content-Type", w.ct)
		req.Header.Set("Content-Encoding", "snappy")
		req.Header.Set("Origin", "http://evil.example")
		if r := do(t, req); r.code != 403 {
			t.Errorf("cross-origin %s: %d %s", w.path, r.code, r.body)
		}
	}
	if _, ok := storedState(t, db)["evil"]; ok {
		t.Error("a cross-origin write was stored")
	}
	// Reading is open to any origin (Grafana in a browser, dashboards).
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/query", strings.NewReader("query=x&time=60"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://grafana.example")
	if r := do(t, req); r.code != 200 {
		t.Errorf("cross-origin query: %d %s", r.code, r.body)
	}
}
