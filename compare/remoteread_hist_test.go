package compare

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	config_util "github.com/prometheus/common/config"
	pmodel "github.com/prometheus/common/model"
	promhist "github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	promremote "github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage06-blocks/tsdb"
	"github.com/tsdb-course/stage11-ingest/remote"
)

// readSample is one sample as Prometheus's client reads it: a float, or a
// histogram in float form (compacted: a recoded chunk's empty buckets do
// not count) and whether it was an integer histogram.
type readSample struct {
	t     int64
	v     float64
	fh    *promhist.FloatHistogram
	isInt bool
}

func sameReadSample(a, b readSample) bool {
	if a.t != b.t || (a.fh == nil) != (b.fh == nil) {
		return false
	}
	if a.fh == nil {
		return math.Float64bits(a.v) == math.Float64bits(b.v)
	}
	return a.isInt == b.isInt && a.fh.Equals(b.fh)
}

// readAllPrometheus reads every series matching m in [mint, maxt] with
// Prometheus's remote-read client, asking for types.
func readAllPrometheus(t *testing.T, rawURL string, types []prompb.ReadRequest_ResponseType, mint, maxt int64, m *prompb.LabelMatcher) map[string][]readSample {
	t.Helper()
	u, _ := url.Parse(rawURL)
	rc, err := promremote.NewReadClient("stage11", &promremote.ClientConfig{
		URL: &config_util.URL{URL: u}, Timeout: pmodel.Duration(10 * time.Second),
		ChunkedReadLimit: 50e6, AcceptedResponseTypes: types,
	})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := rc.Read(context.Background(), &prompb.Query{StartTimestampMs: mint, EndTimestampMs: maxt,
		Matchers: []*prompb.LabelMatcher{m}}, true)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]readSample{}
	var it chunkenc.Iterator
	for ss.Next() {
		s := ss.At()
		var kv []string
		s.Labels().Range(func(l labels.Label) { kv = append(kv, l.Name, l.Value) })
		key := model.MustFromStrings(kv...).String()
		it = s.Iterator(it)
		for vt := it.Next(); vt != chunkenc.ValNone; vt = it.Next() {
			var rs readSample
			switch vt {
			case chunkenc.ValFloat:
				rs.t, rs.v = it.At()
			case chunkenc.ValHistogram:
				var h *promhist.Histogram
				rs.t, h = it.AtHistogram(nil)
				rs.fh, rs.isInt = h.ToFloat(nil).Compact(0), true
			case chunkenc.ValFloatHistogram:
				var fh *promhist.FloatHistogram
				rs.t, fh = it.AtFloatHistogram(nil)
				rs.fh = fh.Compact(0)
			}
			got[key] = append(got[key], rs)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatalf("%v: %v", types, err)
	}
	return got
}

func checkRead(t *testing.T, what string, got, want map[string][]readSample) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the test expects nothing", what)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d series, want %d", what, len(got), len(want))
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Fatalf("%s %s: %d samples, want %d", what, k, len(g), len(w))
		}
		for i := range w {
			if !sameReadSample(g[i], w[i]) {
				t.Fatalf("%s %s sample %d: %+v, want %+v", what, k, i, g[i], w[i])
			}
		}
	}
}

// TestRemoteReadHistogramsWithPrometheusClient: Prometheus's own
// remote-read client reads stage11's read handler over a stage06 DB
// holding float, integer-histogram and float-histogram series, asking for
// the streamed answer first (which, as the query selects histograms, comes
// back sampled: Prometheus's histogram chunk layout is not written here)
// and for the sampled one only; every sample comes back, histograms with
// their kind and every bucket.
func TestRemoteReadHistogramsWithPrometheusClient(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mint, maxt := gorilla.SyntheticStart+300_000, gorilla.SyntheticStart+2_700_000
	want := map[string][]readSample{}
	keep := func(lset model.Labels, rs readSample) {
		if rs.t >= mint && rs.t <= maxt {
			want[lset.String()] = append(want[lset.String()], rs)
		}
	}
	app := db.Appender(context.Background())
	for i := range 3 {
		ts, hs := gorilla.SyntheticHistograms(240, uint64(10+i))
		lset := model.MustFromStrings("__name__", "rpc_latency", "host", fmt.Sprint("h", i))
		for k := range ts {
			if _, err := app.AppendHistogram(0, lset, ts[k], hs[k], nil); err != nil {
				t.Fatal(err)
			}
			keep(lset, readSample{t: ts[k], fh: ToPrometheus(hs[k]).ToFloat(nil).Compact(0), isInt: true})
		}
	}
	ts, fhs := gorilla.SyntheticFloatHistograms(240, 3)
	flset := model.MustFromStrings("__name__", "rpc_latency", "host", "agg")
	for k := range ts {
		if _, err := app.AppendHistogram(0, flset, ts[k], nil, fhs[k]); err != nil {
			t.Fatal(err)
		}
		keep(flset, readSample{t: ts[k], fh: FloatToPrometheus(fhs[k]).Compact(0)})
	}
	// a float series the same selector matches
	glset := model.MustFromStrings("__name__", "rpc_latency", "host", "gauge")
	for k := range 240 {
		p := model.Sample{T: gorilla.SyntheticStart + int64(k)*15_000, V: math.Cos(float64(k))}
		if _, err := app.Append(0, glset, p.T, p.V); err != nil {
			t.Fatal(err)
		}
		keep(glset, readSample{t: p.T, v: p.V})
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(remote.ReadHandler(remote.TSDBStorage{DB: db}, remote.ReadLimits{}))
	defer srv.Close()
	m := &prompb.LabelMatcher{Type: prompb.LabelMatcher_EQ, Name: "__name__", Value: "rpc_latency"}
	for _, types := range [][]prompb.ReadRequest_ResponseType{
		{prompb.ReadRequest_STREAMED_XOR_CHUNKS, prompb.ReadRequest_SAMPLES},
		{prompb.ReadRequest_SAMPLES},
	} {
		checkRead(t, fmt.Sprint(types), readAllPrometheus(t, srv.URL, types, mint, maxt, m), want)
	}
	// the float series alone streams as XOR chunks
	g := &prompb.LabelMatcher{Type: prompb.LabelMatcher_EQ, Name: "host", Value: "gauge"}
	checkRead(t, "streamed floats", readAllPrometheus(t, srv.URL, []prompb.ReadRequest_ResponseType{prompb.ReadRequest_STREAMED_XOR_CHUNKS}, mint, maxt, g),
		map[string][]readSample{glset.String(): want[glset.String()]})
}
