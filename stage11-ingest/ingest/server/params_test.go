package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// lineSec is 2023-12-19T16:00:00Z in seconds: a whole number of minutes and of
// hours, so that every precision can write it.
const lineSec = 1703001600

// lineAt is a line whose timestamp is lineSec in units of ns nanoseconds.
func lineAt(ns int64) []byte {
	return fmt.Appendf(nil, "cpu,host=a usage=0.5 %d\n", lineSec*1e9/ns)
}

// v2Error decodes an InfluxDB 2 error answer: status, Content-Type, the
// X-Platform-Error-Code header and a body of exactly {"code","message"}.
func v2Error(t *testing.T, r response, status int, code string) string {
	t.Helper()
	var body map[string]string
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.code != status || len(body) != 2 || body["code"] != code {
		t.Fatalf("answer %d %s (%v), want %d {\"code\":%q,\"message\":…}", r.code, r.body, err, status, code)
	}
	if ct, h := r.header.Get("Content-Type"), r.header.Get("X-Platform-Error-Code"); ct != "application/json; charset=utf-8" || h != code {
		t.Fatalf("Content-Type %q, X-Platform-Error-Code %q, want application/json; charset=utf-8 and %q", ct, h, code)
	}
	return body["message"]
}

// TestInfluxV2Parameters: /api/v2/write checks its parameters as
// InfluxDB 2 does (http/write_handler.go's decodeWriteRequest, then
// queryOrganization), in the same order: precision ns|us|ms|s (none: ns),
// anything else 400 "invalid"; no bucket 404 "not found". The organization
// is not checked (InfluxDB 2 wants org or orgID; 1.8's v2 endpoint ignores
// it, and the server has none). A refused write stores nothing.
func TestInfluxV2Parameters(t *testing.T) {
	const precs = "ns, us, ms or s"
	for _, c := range []struct {
		query string
		ns    int64 // nanoseconds per timestamp unit (accepted writes)
		// refusals
		status int
		code   string
		msg    []string // what the message names
	}{
		{query: "org=o&bucket=b", ns: 1},
		{query: "org=o&bucket=b&precision=ns", ns: 1},
		{query: "org=o&bucket=b&precision=us", ns: 1e3},
		{query: "org=o&bucket=b&precision=ms", ns: 1e6},
		{query: "org=o&bucket=b&precision=s", ns: 1e9},
		{query: "orgID=0123456789abcdef&bucket=b&precision=s", ns: 1e9}, // orgID instead of org
		{query: "bucket=b&org=&orgID=x&precision=s", ns: 1e9},
		// v1's precisions, and others, are refused, naming the four.
		{query: "org=o&bucket=b&precision=n", status: 400, code: "invalid", msg: []string{`"n"`, precs}},
		{query: "org=o&bucket=b&precision=u", status: 400, code: "invalid", msg: []string{`"u"`, precs}},
		{query: "org=o&bucket=b&precision=m", status: 400, code: "invalid", msg: []string{`"m"`, precs}},
		{query: "org=o&bucket=b&precision=h", status: 400, code: "invalid", msg: []string{`"h"`, precs}},
		{query: "org=o&bucket=b&precision=MS", status: 400, code: "invalid", msg: []string{`"MS"`, precs}},
		{query: "org=o&bucket=b&precision=%C2%B5", status: 400, code: "invalid", msg: []string{`"µ"`, precs}},
		// The precision is checked first, then the bucket, then the org.
		{query: "precision=h", status: 400, code: "invalid", msg: []string{precs}},
		{query: "org=o", status: 404, code: "not found", msg: []string{"bucket"}},
		{query: "org=o&bucket=&precision=s", status: 404, code: "not found", msg: []string{"bucket"}},
		{query: "orgID=0123456789abcdef&bucketID=0123456789abcdef", status: 404, code: "not found", msg: []string{"bucket"}}, // bucketID is not a write parameter
		{query: "", status: 404, code: "not found", msg: []string{"bucket"}},
		// No organization is taken, as InfluxDB 1.8's v2 endpoint takes it:
		// the server has none, and a client aimed at 1.8 may send none.
		{query: "bucket=b", ns: 1},
		{query: "bucket=b&org=&orgID=&precision=s", ns: 1e9},
	} {
		t.Run("?"+c.query, func(t *testing.T) {
			f := newFixture(t, ingest.NewMemorySink(), Options{}, ingest.Options{})
			ns := c.ns
			if ns == 0 {
				ns = 1e9
			}
			r := post(t, f.url+"/api/v2/write?"+c.query, "text/plain; charset=utf-8", lineAt(ns))
			if c.status == 0 {
				if r.code != 204 {
					t.Fatalf("%d %s", r.code, r.body)
				}
				expect(t, f.sink.Series(), map[string][]model.Sample{`cpu_usage{host="a"}`: {{T: lineSec * 1000, V: 0.5}}})
				return
			}
			msg := v2Error(t, r, c.status, c.code)
			for _, want := range c.msg {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q, want it to name %s", msg, want)
				}
			}
			if got := f.sink.Series(); len(got) != 0 {
				t.Errorf("refused, yet stored %v", got)
			}
		})
	}
}

// TestInfluxV1Parameters: /write keeps InfluxDB 1's parameters: every
// precision of v1 (n, u, ms, s, m, h, and ns, us), and no db required.
func TestInfluxV1Parameters(t *testing.T) {
	for _, c := range []struct {
		query string
		ns    int64
	}{
		{"db=x", 1}, {"db=x&precision=n", 1}, {"db=x&precision=ns", 1},
		{"db=x&precision=u", 1e3}, {"db=x&precision=us", 1e3}, {"db=x&precision=ms", 1e6},
		{"db=x&precision=s", 1e9}, {"db=x&precision=m", 60e9}, {"db=x&precision=h", 3600e9},
		{"precision=s", 1e9}, // line protocol without db
	} {
		t.Run("?"+c.query, func(t *testing.T) {
			f := newFixture(t, ingest.NewMemorySink(), Options{}, ingest.Options{})
			if r := post(t, f.url+"/write?"+c.query, "text/plain", lineAt(c.ns)); r.code != 204 {
				t.Fatalf("%d %s", r.code, r.body)
			}
			expect(t, f.sink.Series(), map[string][]model.Sample{`cpu_usage{host="a"}`: {{T: lineSec * 1000, V: 0.5}}})
		})
	}
	f := newFixture(t, ingest.NewMemorySink(), Options{}, ingest.Options{})
	r := post(t, f.url+"/write?db=x&precision=d", "text/plain", lineAt(1e9))
	var v1 map[string]string
	if err := json.Unmarshal([]byte(r.body), &v1); err != nil || r.code != 400 || len(v1) != 1 || !strings.Contains(v1["error"], `"d"`) {
		t.Fatalf("precision=d: %d %s", r.code, r.body)
	}
}
