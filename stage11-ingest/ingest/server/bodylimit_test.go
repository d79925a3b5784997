package server

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/tsdb-course/stage11-ingest/ingest"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// TestBodyLimitEveryEndpoint: a body over max-body-bytes, as sent or once
// decompressed (gzip, snappy), is 413 on every HTTP endpoint, in that
// protocol's error shape, and the message is ingest.Limits.BodyError's:
// the flag, its value, and the size read (a streamed body is read one byte
// past the limit, no further) or, for snappy, the size its header
// announces.
func TestBodyLimitEveryEndpoint(t *testing.T) {
	const limit = 1000
	f := newFixture(t, ingest.NewMemorySink(), Options{Limits: ingest.Limits{MaxBodyBytes: limit}}, ingest.Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 3*limit) // incompressible
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	lines := bytes.Repeat([]byte("m v=1\n"), 2*limit/6) // 2 × the limit, gzip makes it small
	zeros := make([]byte, 5*limit)
	otlpJSON := []byte(`{"resourceMetrics":[` + strings.Repeat(`{},`, limit) + `{}]}`)

	jsonMessage := func(key string) func(t *testing.T, r response) string {
		return func(t *testing.T, r response) string {
			var m map[string]string
			if err := json.Unmarshal([]byte(r.body), &m); err != nil {
				t.Fatalf("%s: %v", r.body, err)
			}
			return m[key]
		}
	}
	v2Message := func(t *testing.T, r response) string { return v2Error(t, r, 413, "request too large") }
	plain := func(t *testing.T, r response) string {
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Fatalf("Content-Type %q", ct)
		}
		return strings.TrimSuffix(r.body, "\n")
	}
	rpcStatus := func(ct string) func(t *testing.T, r response) string {
		return func(t *testing.T, r response) string {
			var st spb.Status
			var err error
			if ct == "application/json" {
				err = protojson.Unmarshal([]byte(r.body), &st)
			} else {
				err = proto.Unmarshal([]byte(r.body), &st)
			}
			if err != nil || r.header.Get("Content-Type") != ct {
				t.Fatalf("%q %s: %v", r.header.Get("Content-Type"), r.body, err)
			}
			return st.GetMessage()
		}
	}
	for _, c := range []struct {
		name, path, ct string
		body           []byte
		header         []string
		decoded        int // the size the body stands for
		exact          bool
		message        func(*testing.T, response) string
	}{
		{"v1", "/write?db=x", "text/plain", random, nil, len(random), false, jsonMessage("error")},
		{"v1 gzip", "/write?db=x", "text/plain", gz(lines), []string{"Content-Encoding", "gzip"}, len(lines), false, jsonMessage("error")},
		{"v1 text format", "/write", "text/plain", bytes.Repeat([]byte("m 1\n"), limit), nil, 4 * limit, false, jsonMessage("error")},
		{"v2", "/api/v2/write?org=o&bucket=b", "text/plain", random, nil, len(random), false, v2Message},
		{"v2 gzip", "/api/v2/write?org=o&bucket=b", "text/plain", gz(lines), []string{"Content-Encoding", "gzip"}, len(lines), false, v2Message},
		{"remote write", "/api/v1/write", "application/x-protobuf", random, []string{"Content-Encoding", "snappy"}, len(random), false, plain},
		{"remote write snappy", "/api/v1/write", "application/x-protobuf", snappy.Encode(nil, zeros), []string{"Content-Encoding", "snappy"}, len(zeros), true, plain},
		{"remote write 2.0 snappy", "/api/v1/write", "application/x-protobuf;proto=io.prometheus.write.v2.Request", snappy.Encode(nil, zeros), []string{"Content-Encoding", "snappy"}, len(zeros), true, plain},
		{"remote write JSON", "/api/v1/write", "application/json", random, nil, len(random), false, plain},
		{"OTLP protobuf", "/api/v1/otlp/v1/metrics", "application/x-protobuf", random, nil, len(random), false, rpcStatus("application/x-protobuf")},
		{"OTLP JSON gzip", "/api/v1/otlp/v1/metrics", "application/json", gz(otlpJSON), []string{"Content-Encoding", "gzip"}, len(otlpJSON), false, rpcStatus("application/json")},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.decoded <= limit {
				t.Fatal("the case is not over the limit")
			}
			r := post(t, f.url+c.path, c.ct, c.body, c.header...)
			if r.code != 413 {
				t.Fatalf("%d %s", r.code, r.body)
			}
			msg := c.message(t, r)
			m := regexp.MustCompile(`^limit max-body-bytes \(1000\) exceeded by the request body: (\d+)$`).FindStringSubmatch(msg)
			if m == nil {
				t.Fatalf("message %q, want ingest.Limits.BodyError's", msg)
			}
			got, _ := strconv.Atoi(m[1])
			if got <= limit || got > c.decoded || c.exact && got != c.decoded {
				t.Errorf("%q: the size %d, want %d < size ≤ %d (exactly %d: %v)", msg, got, limit, c.decoded, c.decoded, c.exact)
			}
		})
	}
	if got := f.sink.Series(); len(got) != 0 {
		t.Errorf("stored %v", got)
	}
}
