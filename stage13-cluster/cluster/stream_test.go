package cluster

import (
	"bytes"
	"context"
	"io"
	"math"
	"net/http"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage05-index/index"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// TestStreamedRead: a node's remote read answers streamed stage03 chunks
// (as stored where they can be) and samples alike, and both read back as
// exactly what the node's own storage holds in the range asked: over
// several chunks per series, a series with out-of-order samples (its
// chunks overlap) and one with a deletion inside a chunk (both sent
// re-encoded), ranges that cut chunks.
func TestStreamedRead(t *testing.T) {
	c := newCluster(t, 1, 1, nil)
	n := c.any()
	series := genSeries(20, 300, 1_000_000, 1) // 300 samples: 3 chunks each
	if _, err := n.Write(context.Background(), series); err != nil {
		t.Fatal(err)
	}
	ooo := remote.Series{Labels: series[3].Labels}
	for k := range 50 {
		ooo.Samples = append(ooo.Samples, model.Sample{T: 1_000_000 + int64(k)*10_000 + 5_000, V: -float64(k)})
	}
	if _, err := n.Write(context.Background(), []remote.Series{ooo}); err != nil {
		t.Fatal(err)
	}
	if err := n.DB().Delete(1_500_000, 1_600_000, index.MustNewMatcher(index.MatchEqual, "host", "server5")); err != nil {
		t.Fatal(err)
	}
	me := Meta{ID: n.ID(), API: n.API()}
	for _, r := range [][2]int64{{tsdb.MinTimestamp, tsdb.MaxTimestamp}, {1_234_567, 2_345_678}, {3_990_000, 3_990_000}, {0, 10}} {
		want, _, err := readLocal(n.DB(), r[0], r[1], nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, sampled := range []bool{false, true} {
			got, err := (&HTTPTransport{Client: http.DefaultClient, Sampled: sampled}).Read(context.Background(), me, r[0], r[1], nil)
			if err != nil {
				t.Fatal(err)
			}
			sameSeries(t, got, want)
		}
	}

	// On the wire: stage03 chunks as stored to a client that reads them,
	// Prometheus's XOR chunks to one that does not say so.
	for _, stage03 := range []bool{true, false} {
		body := remote.Compress(nil, remote.AppendReadRequest(nil, &remote.ReadRequest{
			Queries:  []remote.Query{{StartMs: tsdb.MinTimestamp, EndMs: tsdb.MaxTimestamp, Matchers: []remote.Matcher{{Type: remote.MatchEqual, Name: "host", Value: "server7"}}}},
			Accepted: []remote.ResponseType{remote.ResponseStreamedXORChunks},
		}))
		req, _ := http.NewRequest(http.MethodPost, "http://"+n.API()+PathRead, bytes.NewReader(body))
		if stage03 {
			req.Header.Set(remote.HeaderChunkEncodings, remote.ChunkEncodingStage03)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != remote.ContentTypeStreamed {
			t.Fatalf("content type %q", ct)
		}
		msg, err := remote.NewFrameReader(bytes.NewReader(raw), 1<<20).Next()
		if err != nil {
			t.Fatal(err)
		}
		cs, _, err := remote.DecodeChunkedReadResponse(msg)
		if err != nil || len(cs) != 1 {
			t.Fatalf("%d series, %v", len(cs), err)
		}
		want := remote.ChunkXOR
		if stage03 {
			want = remote.ChunkStage03
		}
		for _, ch := range cs[0].Chunks {
			if ch.Type != want {
				t.Fatalf("stage03 %v: chunk type %d, want %d", stage03, ch.Type, want)
			}
		}
		if len(cs[0].Chunks) < 3 {
			t.Fatalf("%d chunks for 300 samples", len(cs[0].Chunks))
		}
	}
}

// sameSeries compares two answers series by series, sample by sample.
func sameSeries(t *testing.T, got, want []remote.Series) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d series, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Labels.Equal(want[i].Labels) || len(got[i].Samples) != len(want[i].Samples) {
			t.Fatalf("series %d: %s with %d samples, want %s with %d", i, got[i].Labels, len(got[i].Samples), want[i].Labels, len(want[i].Samples))
		}
		for k, p := range want[i].Samples {
			q := got[i].Samples[k]
			if q.T != p.T || math.Float64bits(q.V) != math.Float64bits(p.V) {
				t.Fatalf("%s sample %d: %v, want %v", want[i].Labels, k, q, p)
			}
		}
	}
}
