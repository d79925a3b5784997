package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage06-blocks/tsdb"
)

// The read handler is checked over a real stage06 DB, its answers decoded
// with Prometheus's own types (prompb, chunkenc) or, for stage03 chunks,
// with stage03 directly; the expected answer is what was written, clipped
// to the range, kept by the test in plain maps.

// histKey renders a histogram by what it counts: kind, schema, zero
// bucket, count, sum (floats by bits) and every populated bucket with its
// index, so a histogram read back in a wider layout (a recoded chunk adds
// empty buckets) or with another counter-reset hint is the same.
func histKey(h *histogram.Histogram, fh *histogram.FloatHistogram) string {
	kind := "int"
	if h != nil {
		fh = h.ToFloat()
	} else {
		kind = "float"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s s=%d zt=%x zc=%x c=%x sum=%x", kind, fh.Schema, math.Float64bits(fh.ZeroThreshold),
		math.Float64bits(fh.ZeroCount), math.Float64bits(fh.Count), math.Float64bits(fh.Sum))
	side := func(name string, spans []histogram.Span, counts []float64) {
		idx, k := int32(0), 0
		for i, s := range spans {
			if i == 0 {
				idx = s.Offset
			} else {
				idx += s.Offset
			}
			for range s.Length {
				if counts[k] != 0 {
					fmt.Fprintf(&b, " %s%d=%x", name, idx, math.Float64bits(counts[k]))
				}
				idx++
				k++
			}
		}
	}
	side("p", fh.PositiveSpans, fh.PositiveBuckets)
	side("n", fh.NegativeSpans, fh.NegativeBuckets)
	return b.String()
}

// written is a series as the test wrote it.
type written struct {
	lset    model.Labels
	floats  []model.Sample
	ts      []int64
	hists   []string // histKey per ts
	intHist []*histogram.Histogram
	fltHist []*histogram.FloatHistogram
}

const readMint, readMaxt = gorilla.SyntheticStart + 600_000, gorilla.SyntheticStart + 2_400_000

// openReadDB writes float series, integer and float histogram series and
// one series that is floats first and histograms after into a fresh DB.
func openReadDB(t *testing.T) (*tsdb.DB, []written) {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), tsdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	var ws []written
	for i := range 4 {
		w := written{lset: model.MustFromStrings("__name__", "cpu", "host", fmt.Sprint("h", i), "kind", "float")}
		for k := range 300 {
			w.floats = append(w.floats, model.Sample{T: gorilla.SyntheticStart + int64(k)*10_000 + int64(k%3), V: float64(i) + math.Sin(float64(k))})
		}
		ws = append(ws, w)
	}
	for i := range 2 {
		ts, hs := gorilla.SyntheticHistograms(200, uint64(i+1))
		ws = append(ws, written{lset: model.MustFromStrings("__name__", "latency", "host", fmt.Sprint("h", i), "kind", "int"), ts: ts, intHist: hs})
	}
	ts, fhs := gorilla.SyntheticFloatHistograms(200, 7)
	ws = append(ws, written{lset: model.MustFromStrings("__name__", "latency", "host", "f", "kind", "float_hist"), ts: ts, fltHist: fhs})
	// floats up to the middle of the range, histograms after
	ts, hs := gorilla.SyntheticHistograms(200, 9)
	mixed := written{lset: model.MustFromStrings("__name__", "mixed", "kind", "mixed")}
	for k, t := range ts {
		if k < 100 {
			mixed.floats = append(mixed.floats, model.Sample{T: t, V: float64(k)})
		} else {
			mixed.ts, mixed.intHist = append(mixed.ts, t), append(mixed.intHist, hs[k])
		}
	}
	ws = append(ws, mixed)
	app := db.Appender(context.Background())
	for i := range ws {
		w := &ws[i]
		for _, p := range w.floats {
			if _, err := app.Append(0, w.lset, p.T, p.V); err != nil {
				t.Fatal(err)
			}
		}
		for k, ts := range w.ts {
			var h *histogram.Histogram
			var fh *histogram.FloatHistogram
			if w.intHist != nil {
				h = w.intHist[k]
			} else {
				fh = w.fltHist[k]
			}
			if _, err := app.AppendHistogram(0, w.lset, ts, h, fh); err != nil {
				t.Fatal(err)
			}
			w.hists = append(w.hists, histKey(h, fh))
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return db, ws
}

// want renders what a query of the series matching keep should answer in
// [readMint, readMaxt]: one line per sample, series in label order.
func want(ws []written, keep func(model.Labels) bool) []string {
	sorted := slices.Clone(ws)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].lset.Compare(sorted[j].lset) < 0 })
	var out []string
	for _, w := range sorted {
		if !keep(w.lset) {
			continue
		}
		for _, p := range w.floats {
			if p.T >= readMint && p.T <= readMaxt {
				out = append(out, fmt.Sprintf("%s %d %x", w.lset, p.T, math.Float64bits(p.V)))
			}
		}
		for k, t := range w.ts {
			if t >= readMint && t <= readMaxt {
				out = append(out, fmt.Sprintf("%s %d %s", w.lset, t, w.hists[k]))
			}
		}
	}
	return out
}

func postRead(t *testing.T, url string, rr ReadRequest, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(Compress(nil, AppendReadRequest(nil, &rr))))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func promLabels(ls []prompb.Label) model.Labels {
	var out []model.Label
	for _, l := range ls {
		out = append(out, model.Label{Name: l.Name, Value: l.Value})
	}
	return model.MustFromStrings(func() []string {
		var s []string
		for _, l := range out {
			s = append(s, l.Name, l.Value)
		}
		return s
	}()...)
}

func fromPromHist(h prompb.Histogram) string {
	if h.IsFloatHistogram() {
		p := h.ToFloatHistogram()
		_, fh := normProm(nil, p)
		return histKey(nil, &histogram.FloatHistogram{Schema: fh.Schema, ZeroThreshold: fh.ZeroThreshold, ZeroCount: fh.ZeroCount,
			Count: fh.Count, Sum: fh.Sum, PositiveSpans: fromPromSpans(fh.PositiveSpans), NegativeSpans: fromPromSpans(fh.NegativeSpans),
			PositiveBuckets: fh.PositiveBuckets, NegativeBuckets: fh.NegativeBuckets})
	}
	p := h.ToIntHistogram()
	return histKey(&histogram.Histogram{Schema: p.Schema, ZeroThreshold: p.ZeroThreshold, ZeroCount: p.ZeroCount,
		Count: p.Count, Sum: p.Sum, PositiveSpans: fromPromSpans(p.PositiveSpans), NegativeSpans: fromPromSpans(p.NegativeSpans),
		PositiveBuckets: p.PositiveBuckets, NegativeBuckets: p.NegativeBuckets}, nil)
}

// sampledLines decodes a sampled answer with prompb.
func sampledLines(t *testing.T, resp *http.Response) [][]string {
	t.Helper()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-protobuf" {
		t.Fatalf("sampled answer: %s %q: %s", resp.Status, resp.Header.Get("Content-Type"), raw)
	}
	buf, err := Decompress(nil, raw, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var rr prompb.ReadResponse
	if err := rr.Unmarshal(buf); err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, qr := range rr.Results {
		var lines []string
		for _, ts := range qr.Timeseries {
			lset := promLabels(ts.Labels)
			for _, s := range ts.Samples {
				lines = append(lines, fmt.Sprintf("%s %d %x", lset, s.Timestamp, math.Float64bits(s.Value)))
			}
			for _, h := range ts.Histograms {
				lines = append(lines, fmt.Sprintf("%s %d %s", lset, h.Timestamp, fromPromHist(h)))
			}
		}
		out = append(out, lines)
	}
	return out
}

// streamedLines decodes a streamed answer: frames by hand (the format is
// three fields), messages with prompb, XOR chunks with chunkenc, stage03
// chunks with stage03. A series split over frames is joined; floats of a
// series come before its histograms, as in want.
func streamedLines(t *testing.T, resp *http.Response) ([][]string, []ChunkEncoding) {
	t.Helper()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentTypeStreamed {
		raw, _ := io.ReadAll(resp.Body)
		t.Fatalf("streamed answer: %s %q: %s", resp.Status, resp.Header.Get("Content-Type"), raw)
	}
	fr := NewFrameReader(resp.Body, 1<<24)
	type acc struct {
		lset         string
		floats, hist []string
	}
	var per [][]acc
	var encs []ChunkEncoding
	for {
		msg, err := fr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var cr prompb.ChunkedReadResponse
		if err := cr.Unmarshal(msg); err != nil {
			t.Fatal(err)
		}
		for len(per) <= int(cr.QueryIndex) {
			per = append(per, nil)
		}
		q := &per[cr.QueryIndex]
		for _, cs := range cr.ChunkedSeries {
			lset := promLabels(cs.Labels).String()
			if len(*q) == 0 || (*q)[len(*q)-1].lset != lset {
				*q = append(*q, acc{lset: lset})
			}
			a := &(*q)[len(*q)-1]
			for _, c := range cs.Chunks {
				encs = append(encs, ChunkEncoding(c.Type))
				keep := func(ts int64) bool { return ts >= readMint && ts <= readMaxt }
				switch ChunkEncoding(c.Type) {
				case ChunkXOR:
					pc, err := chunkenc.FromData(chunkenc.EncXOR, c.Data)
					if err != nil {
						t.Fatal(err)
					}
					it := pc.Iterator(nil)
					for it.Next() == chunkenc.ValFloat {
						if ts, v := it.At(); keep(ts) {
							a.floats = append(a.floats, fmt.Sprintf("%s %d %x", lset, ts, math.Float64bits(v)))
						}
					}
				case ChunkStage03:
					ss, err := gorilla.AppendSamples(c.Data, nil)
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range ss {
						if keep(p.T) {
							a.floats = append(a.floats, fmt.Sprintf("%s %d %x", lset, p.T, math.Float64bits(p.V)))
						}
					}
				case ChunkStage03Histogram:
					it := gorilla.NewHistogramIterator(c.Data)
					for it.Next() {
						if ts, h := it.AtHistogram(nil); keep(ts) {
							a.hist = append(a.hist, fmt.Sprintf("%s %d %s", lset, ts, histKey(h, nil)))
						}
					}
					if it.Err() != nil {
						t.Fatal(it.Err())
					}
				case ChunkStage03FloatHistogram:
					it := gorilla.NewFloatHistogramIterator(c.Data)
					for it.Next() {
						if ts, h := it.AtFloatHistogram(nil); keep(ts) {
							a.hist = append(a.hist, fmt.Sprintf("%s %d %s", lset, ts, histKey(nil, h)))
						}
					}
					if it.Err() != nil {
						t.Fatal(it.Err())
					}
				default:
					t.Fatalf("chunk encoding %d", c.Type)
				}
			}
		}
	}
	var out [][]string
	for _, q := range per {
		var lines []string
		for _, a := range q {
			lines = append(append(lines, a.floats...), a.hist...)
		}
		out = append(out, lines)
	}
	return out, encs
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the test expects nothing", what)
	}
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("%s: line %d of %d/%d:\n got %s\nwant %s", what, i, len(got), len(want), got[i], want[i])
			}
		}
		t.Fatalf("%s: %d lines, want %d", what, len(got), len(want))
	}
}

// TestReadHandlerAnswers: every answer type carries every sample in the
// range, floats and native histograms, for each query of a request.
func TestReadHandlerAnswers(t *testing.T) {
	db, ws := openReadDB(t)
	srv := httptest.NewServer(ReadHandler(TSDBStorage{DB: db}, ReadLimits{FrameBytes: 4096}))
	defer srv.Close()
	queries := []Query{
		{StartMs: readMint, EndMs: readMaxt, Matchers: []Matcher{{Type: MatchEqual, Name: "__name__", Value: "cpu"}}},
		{StartMs: readMint, EndMs: readMaxt, Matchers: []Matcher{{Type: MatchRegexp, Name: "kind", Value: "int|float_hist|mixed"}}},
	}
	wantQ := [][]string{
		want(ws, func(l model.Labels) bool { return l.Get("__name__") == "cpu" }),
		want(ws, func(l model.Labels) bool { return l.Get("kind") != "float" }),
	}
	stage03 := map[string]string{HeaderChunkEncodings: ChunkEncodingStage03}

	t.Run("sampled", func(t *testing.T) {
		got := sampledLines(t, postRead(t, srv.URL, ReadRequest{Queries: queries, Accepted: []ResponseType{ResponseSamples}}, nil))
		for i := range wantQ {
			sameLines(t, fmt.Sprint("query ", i), got[i], wantQ[i])
		}
	})
	t.Run("no types listed: sampled", func(t *testing.T) {
		got := sampledLines(t, postRead(t, srv.URL, ReadRequest{Queries: queries[1:]}, nil))
		sameLines(t, "query", got[0], wantQ[1])
	})
	t.Run("streamed stage03", func(t *testing.T) {
		got, encs := streamedLines(t, postRead(t, srv.URL, ReadRequest{Queries: queries,
			Accepted: []ResponseType{ResponseStreamedXORChunks, ResponseSamples}}, stage03))
		for i := range wantQ {
			sameLines(t, fmt.Sprint("query ", i), got[i], wantQ[i])
		}
		for _, e := range []ChunkEncoding{ChunkStage03, ChunkStage03Histogram, ChunkStage03FloatHistogram} {
			if !slices.Contains(encs, e) {
				t.Errorf("no chunk of encoding %#x sent", e)
			}
		}
	})
	t.Run("streamed stage03, named in a list with spaces", func(t *testing.T) {
		got, encs := streamedLines(t, postRead(t, srv.URL, ReadRequest{Queries: queries,
			Accepted: []ResponseType{ResponseStreamedXORChunks, ResponseSamples}}, map[string]string{HeaderChunkEncodings: "xor , stage03"}))
		for i := range wantQ {
			sameLines(t, fmt.Sprint("query ", i), got[i], wantQ[i])
		}
		if !slices.Contains(encs, ChunkStage03) || slices.Contains(encs, ChunkXOR) {
			t.Errorf("chunk encodings %#x sent, want stage03 ones", encs)
		}
	})
	t.Run("streamed XOR to a Prometheus client", func(t *testing.T) {
		got, encs := streamedLines(t, postRead(t, srv.URL, ReadRequest{Queries: queries[:1],
			Accepted: []ResponseType{ResponseStreamedXORChunks, ResponseSamples}}, nil))
		sameLines(t, "query", got[0], wantQ[0])
		for _, e := range encs {
			if e != ChunkXOR {
				t.Fatalf("chunk of encoding %#x to a Prometheus client", e)
			}
		}
	})
	t.Run("histograms to a Prometheus client: sampled", func(t *testing.T) {
		got := sampledLines(t, postRead(t, srv.URL, ReadRequest{Queries: queries,
			Accepted: []ResponseType{ResponseStreamedXORChunks, ResponseSamples}}, nil))
		for i := range wantQ {
			sameLines(t, fmt.Sprint("query ", i), got[i], wantQ[i])
		}
	})
	t.Run("the client's order of preference", func(t *testing.T) {
		got := sampledLines(t, postRead(t, srv.URL, ReadRequest{Queries: queries[:1],
			Accepted: []ResponseType{ResponseSamples, ResponseStreamedXORChunks}}, stage03))
		sameLines(t, "query", got[0], wantQ[0])
	})
}

// TestReadHandlerRefusals: what the handler refuses, with a status and a
// reason a person can act on.
func TestReadHandlerRefusals(t *testing.T) {
	db, _ := openReadDB(t)
	srv := httptest.NewServer(ReadHandler(TSDBStorage{DB: db}, ReadLimits{SampleLimit: 300, MaxQueries: 2}))
	defer srv.Close()
	all := Query{StartMs: readMint, EndMs: readMaxt, Matchers: []Matcher{{Type: MatchRegexp, Name: "__name__", Value: ".+"}}}
	one := Query{StartMs: readMint, EndMs: readMaxt, Matchers: []Matcher{{Type: MatchEqual, Name: "host", Value: "h1"}, {Type: MatchEqual, Name: "__name__", Value: "cpu"}}}
	for _, c := range []struct {
		name string
		rr   ReadRequest
		code int
		msg  string
	}{
		{"over the sample limit", ReadRequest{Queries: []Query{all}}, 400, "exceeded sample limit (300)"},
		{"over it in two queries", ReadRequest{Queries: []Query{one, one}}, 400, "exceeded sample limit"},
		{"too many queries", ReadRequest{Queries: []Query{one, one, one}}, 400, "3 queries, at most 2"},
		{"unknown response type", ReadRequest{Queries: []Query{one}, Accepted: []ResponseType{7}}, 400, "no supported response type"},
		{"bad regexp", ReadRequest{Queries: []Query{{StartMs: 0, EndMs: 1, Matchers: []Matcher{{Type: MatchRegexp, Name: "a", Value: "("}}}}}, 400, "matcher a=~\"(\""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := postRead(t, srv.URL, c.rr, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.code || !strings.Contains(string(body), c.msg) {
				t.Fatalf("%s: %s, want %d and %q", resp.Status, body, c.code, c.msg)
			}
		})
	}
	t.Run("the limit counts samples, not series", func(t *testing.T) {
		got := sampledLines(t, postRead(t, srv.URL, ReadRequest{Queries: []Query{one}}, nil))
		if len(got[0]) == 0 || len(got[0]) > 300 {
			t.Fatalf("%d samples", len(got[0]))
		}
	})
	t.Run("garbage", func(t *testing.T) {
		resp, err := http.Post(srv.URL, "application/x-protobuf", strings.NewReader("not snappy"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatal(resp.Status)
		}
	})
}

// TestReadHandlerNoLimit: a negative SampleLimit and Concurrency (what
// Prometheus's flags spell 0) serve what a limit refuses.
func TestReadHandlerNoLimit(t *testing.T) {
	db, _ := openReadDB(t)
	srv := httptest.NewServer(ReadHandler(TSDBStorage{DB: db}, ReadLimits{SampleLimit: -1, Concurrency: -1}))
	defer srv.Close()
	all := Query{StartMs: readMint, EndMs: readMaxt, Matchers: []Matcher{{Type: MatchRegexp, Name: "__name__", Value: ".+"}}}
	got := sampledLines(t, postRead(t, srv.URL, ReadRequest{Queries: []Query{all}}, nil))
	if len(got[0]) <= 300 {
		t.Fatalf("%d samples: the fixture must hold more than TestReadHandlerRefusals' limit", len(got[0]))
	}
}

// TestStage03ChunksRoundTrip: what Stage03Chunks encodes,
// AppendChunkSamples decodes, clipped to the range asked; a histogram run
// is cut where a counter resets.
func TestStage03ChunksRoundTrip(t *testing.T) {
	ts, hs := gorilla.SyntheticHistograms(300, 3)
	var in []HistogramSample
	var floats []model.Sample
	for k := range ts {
		if k%50 < 10 {
			floats = append(floats, model.Sample{T: ts[k], V: float64(k)})
			continue
		}
		h := hs[k]
		if k == 220 { // a counter reset: the chunk is cut before it (k%50 >= 10: a histogram)
			h = &histogram.Histogram{Schema: h.Schema, ZeroThreshold: h.ZeroThreshold, Count: 1, Sum: 1,
				PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}}, PositiveBuckets: []int64{1}}
		}
		in = append(in, HistogramSample{T: ts[k], H: h})
	}
	cs, err := Stage03Chunks(nil, floats, in)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(cs); i++ {
		if cs[i].MinT <= cs[i-1].MaxT {
			t.Fatalf("chunk %d [%d, %d] after [%d, %d]", i, cs[i].MinT, cs[i].MaxT, cs[i-1].MinT, cs[i-1].MaxT)
		}
	}
	mint, maxt := ts[25], ts[270]
	var got Series
	if err := AppendChunkSamples(&got, cs, mint, maxt); err != nil {
		t.Fatal(err)
	}
	var wantF, gotF, wantH, gotH []string
	for _, p := range floats {
		if p.T >= mint && p.T <= maxt {
			wantF = append(wantF, fmt.Sprint(p))
		}
	}
	for _, p := range got.Samples {
		gotF = append(gotF, fmt.Sprint(p))
	}
	for _, h := range in {
		if h.T >= mint && h.T <= maxt {
			wantH = append(wantH, fmt.Sprint(h.T, histKey(h.H, nil)))
		}
	}
	for _, h := range got.Histograms {
		gotH = append(gotH, fmt.Sprint(h.T, histKey(h.H, h.FH)))
	}
	sameLines(t, "floats", gotF, wantF)
	sameLines(t, "histograms", gotH, wantH)
	bad := slices.Clone(cs)
	bad[len(bad)-1].Type = ChunkXOR
	if err := AppendChunkSamples(&Series{}, bad, mint, maxt); !errors.Is(err, ErrBadChunk) {
		t.Fatalf("an XOR chunk: %v", err)
	}
}

// TestStage03ChunksSharedTimestamp: a float and a histogram at the same
// timestamp (a series that changed kind, read from two overlapping
// blocks) are both encoded; Stage03Chunks once looped forever on them.
func TestStage03ChunksSharedTimestamp(t *testing.T) {
	_, hs := gorilla.SyntheticHistograms(2, 3)
	floats := []model.Sample{{T: 10, V: 1}, {T: 20, V: 2}}
	in := []HistogramSample{{T: 20, H: hs[0]}, {T: 30, H: hs[1]}}
	cs, err := Stage03Chunks(nil, floats, in)
	if err != nil {
		t.Fatal(err)
	}
	var got Series
	if err := AppendChunkSamples(&got, cs, 0, 100); err != nil {
		t.Fatal(err)
	}
	if len(got.Samples) != 2 || len(got.Histograms) != 2 {
		t.Fatalf("%d floats and %d histograms back, want 2 and 2", len(got.Samples), len(got.Histograms))
	}
}

// failingStorage fails every read, as a storage with a broken disk does.
type failingStorage struct{ err error }

func (f failingStorage) ReadSeries(context.Context, ReadQuery, func(*ReadSeries) error) error {
	return f.err
}
func (f failingStorage) HasHistograms(context.Context, ReadQuery) (bool, error) { return false, f.err }

// TestReadHandlerStorageFailure: a storage failure is the server's fault,
// a 500, in every answer type, and a bad request's a 400, as Prometheus
// answers them.
func TestReadHandlerStorageFailure(t *testing.T) {
	q := Query{StartMs: 0, EndMs: 10, Matchers: []Matcher{{Type: MatchEqual, Name: "a", Value: "b"}}}
	for _, c := range []struct {
		err  error
		code int
	}{{errors.New("disk on fire"), 500}, {fmt.Errorf("%w: bad matcher", ErrInvalid), 400}} {
		srv := httptest.NewServer(ReadHandler(failingStorage{c.err}, ReadLimits{}))
		for _, acc := range [][]ResponseType{nil, {ResponseStreamedXORChunks}} {
			for _, hdr := range []map[string]string{nil, {HeaderChunkEncodings: ChunkEncodingStage03}} {
				resp := postRead(t, srv.URL, ReadRequest{Queries: []Query{q}, Accepted: acc}, hdr)
				if resp.StatusCode != c.code {
					t.Errorf("%v, accepted %v, header %v: %s, want %d", c.err, acc, hdr, resp.Status, c.code)
				}
			}
		}
		srv.Close()
	}
}

// TestAcceptsEncoding: the chunk-encodings header is an HTTP list: names
// separated by commas, spaces around them, in one line or several.
func TestAcceptsEncoding(t *testing.T) {
	for _, c := range []struct {
		lines []string
		want  bool
	}{
		{nil, false},
		{[]string{"stage03"}, true},
		{[]string{"xor, stage03"}, true},
		{[]string{" stage03 ,xor"}, true},
		{[]string{"xor", "stage03"}, true},
		{[]string{"xor, stage033"}, false},
		{[]string{"stage03x"}, false},
	} {
		h := http.Header{}
		for _, l := range c.lines {
			h.Add(HeaderChunkEncodings, l)
		}
		if got := acceptsEncoding(h, ChunkEncodingStage03); got != c.want {
			t.Errorf("%q: %v, want %v", c.lines, got, c.want)
		}
	}
}
