package compare

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	config_util "github.com/prometheus/common/config"
	pmodel "github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	promremote "github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote"
	"github.com/tsdb-course/stage13-cluster/cluster"
)

// TestRemoteReadWithPrometheusClient: Prometheus's own remote-read client
// (storage/remote.ReadClient, the one a Prometheus server with a
// remote_read section runs) reads a stage13 node's /api/v1/read, streamed
// (STREAMED_XOR_CHUNKS, Prometheus's default: the node re-encodes its
// stage03 chunks as Prometheus's XOR) and sampled, and gets back every
// sample written, bit for bit, in the range asked.
func TestRemoteReadWithPrometheusClient(t *testing.T) {
	dir := t.TempDir()
	n, err := cluster.Start(cluster.Config{ID: "node-1", DataDir: filepath.Join(dir, "node-1"), Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	want := map[string][]model.Sample{}
	var series []remote.Series
	for i := range 30 {
		s := remote.Series{Labels: model.MustFromStrings("__name__", "cpu", "host", fmt.Sprint("h", i), "dc", fmt.Sprint("dc", i%3))}
		for k := range 400 {
			s.Samples = append(s.Samples, model.Sample{T: 1_000_000 + int64(k)*15_000 + int64(k%7), V: float64(i)*1.5 + math.Sin(float64(k))})
		}
		series = append(series, s)
	}
	deadline := time.Now().Add(30 * time.Second)
	for { // the single node's ring forms within a ring interval
		if _, err = n.Write(context.Background(), series); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	const mint, maxt = 2_000_000, 5_000_000
	for _, s := range series {
		if s.Labels.Get("dc") != "dc1" {
			continue
		}
		for _, p := range s.Samples {
			if p.T >= mint && p.T <= maxt {
				want[s.Labels.String()] = append(want[s.Labels.String()], p)
			}
		}
	}
	u, _ := url.Parse("http://" + n.API() + cluster.PathRead)
	for _, types := range [][]prompb.ReadRequest_ResponseType{
		{prompb.ReadRequest_STREAMED_XOR_CHUNKS, prompb.ReadRequest_SAMPLES},
		{prompb.ReadRequest_SAMPLES},
	} {
		rc, err := promremote.NewReadClient("stage13", &promremote.ClientConfig{
			URL: &config_util.URL{URL: u}, Timeout: pmodel.Duration(10 * time.Second),
			ChunkedReadLimit: 50e6, AcceptedResponseTypes: types,
		})
		if err != nil {
			t.Fatal(err)
		}
		ss, err := rc.Read(context.Background(), &prompb.Query{StartTimestampMs: mint, EndTimestampMs: maxt,
			Matchers: []*prompb.LabelMatcher{{Type: prompb.LabelMatcher_EQ, Name: "dc", Value: "dc1"}}}, true)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]model.Sample{}
		var it chunkenc.Iterator
		for ss.Next() {
			s := ss.At()
			var kv []string
			s.Labels().Range(func(l labels.Label) { kv = append(kv, l.Name, l.Value) })
			key := model.MustFromStrings(kv...).String()
			it = s.Iterator(it)
			for it.Next() == chunkenc.ValFloat {
				ts, v := it.At()
				got[key] = append(got[key], model.Sample{T: ts, V: v})
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := ss.Err(); err != nil {
			t.Fatalf("%v: %v", types, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%v: %d series, want %d", types, len(got), len(want))
		}
		for k, w := range want {
			g := got[k]
			if len(g) != len(w) {
				t.Fatalf("%v %s: %d samples, want %d", types, k, len(g), len(w))
			}
			for i := range w {
				if g[i].T != w[i].T || math.Float64bits(g[i].V) != math.Float64bits(w[i].V) {
					t.Fatalf("%v %s sample %d: %v, want %v", types, k, i, g[i], w[i])
				}
			}
		}
	}
}
