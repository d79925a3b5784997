package remote

import (
	"bytes"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage11-ingest/ingest"
)

// These tests hold the codecs against Prometheus's own generated protobuf
// types (prompb, prompb/io/prometheus/write/v2): the independent encoder
// for what a Prometheus sends, and the independent decoder for what it
// reads back.

func randomLabels(r *rand.Rand, i int) [][2]string {
	ls := [][2]string{{"__name__", "metric_" + strconv.Itoa(r.IntN(5))}, {"instance", "host-" + strconv.Itoa(i)}}
	if r.IntN(2) == 0 {
		ls = append(ls, [2]string{"zone", "ü-" + strconv.Itoa(r.IntN(3))})
	}
	return ls
}

// TestDecodeV2MatchesPrometheus: requests built with Prometheus's writev2
// types and symbol table decode to the same series, samples and metadata;
// histograms and exemplars are counted.
func TestDecodeV2MatchesPrometheus(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 20 {
		st := writev2.NewSymbolTable()
		req := &writev2.Request{}
		var want []testSeries
		hists, exemplars := 0, 0
		for i := range 1 + r.IntN(40) {
			ls := randomLabels(r, i)
			var refs []uint32
			for _, l := range ls {
				refs = append(refs, st.Symbolize(l[0]), st.Symbolize(l[1]))
			}
			ts := writev2.TimeSeries{LabelsRefs: refs, Metadata: writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_COUNTER, HelpRef: st.Symbolize("help " + ls[0][1])}}
			ws := testSeries{labels: ls}
			for j := range r.IntN(4) {
				s := writev2.Sample{Timestamp: 1_700_000_000_000 + int64(j)*15_000, Value: r.NormFloat64()}
				ts.Samples = append(ts.Samples, s)
				ws.samples = append(ws.samples, [2]float64{float64(s.Timestamp), s.Value})
			}
			if r.IntN(4) == 0 {
				ts.Histograms = append(ts.Histograms, writev2.Histogram{Count: &writev2.Histogram_CountInt{CountInt: 3}, Sum: 1.5, Timestamp: 1})
				hists++
			}
			if r.IntN(4) == 0 {
				ts.Exemplars = append(ts.Exemplars, writev2.Exemplar{Value: 1, Timestamp: 2})
				exemplars++
			}
			req.Timeseries = append(req.Timeseries, ts)
			want = append(want, ws)
		}
		req.Symbols = st.Symbols()
		buf, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		var d Decoder
		var got []testSeries
		var meta []Metadata
		stats, err := d.DecodeV2(buf, func(ts *TimeSeries) error {
			got = append(got, copySeries(ts))
			// The Pairs key names the same series.
			lset, err := ingest.Pairs.Labels(ts.Key, nil)
			if err != nil {
				return err
			}
			mod, err := ts.ModelLabels()
			if err != nil || !lset.Equal(mod) {
				t.Errorf("Pairs key %v, labels %v (%v)", lset, mod, err)
			}
			return nil
		}, func(m Metadata) { meta = append(meta, m) })
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d:\n got %v\nwant %v", round, got, want)
		}
		if stats.Histograms != hists || stats.Exemplars != exemplars {
			t.Fatalf("stats %+v, want %d histograms %d exemplars", stats, hists, exemplars)
		}
		for i, m := range meta {
			if m.Type != "counter" || m.Family != want[i].labels[0][1] || m.Help != "help "+m.Family {
				t.Fatalf("metadata %d: %+v", i, m)
			}
		}
	}
}

func copySeries(ts *TimeSeries) testSeries {
	var s testSeries
	for _, l := range ts.Labels {
		s.labels = append(s.labels, [2]string{string(l.Name), string(l.Value)})
	}
	for _, p := range ts.Samples {
		s.samples = append(s.samples, [2]float64{float64(p.T), p.V})
	}
	return s
}

// TestAppendRequestV2ReadByPrometheus: what AppendRequestV2 writes,
// Prometheus's types read back as the same series.
func TestAppendRequestV2ReadByPrometheus(t *testing.T) {
	in := []SeriesV2{
		{Labels: model.MustFromStrings("__name__", "up", "job", "a"), Samples: []model.Sample{{T: 1, V: 1}, {T: 2, V: math.Inf(-1)}}, Type: 2, Help: "is it up"},
		{Labels: model.MustFromStrings("__name__", "x", "job", "a"), Samples: []model.Sample{{T: -5, V: 0.5}}},
	}
	var req writev2.Request
	if err := req.Unmarshal(AppendRequestV2(nil, in)); err != nil {
		t.Fatal(err)
	}
	for i, ts := range req.Timeseries {
		var b []string
		for _, ref := range ts.LabelsRefs {
			b = append(b, req.Symbols[ref])
		}
		lset := model.MustFromStrings(b...)
		if !lset.Equal(in[i].Labels) || len(ts.Samples) != len(in[i].Samples) {
			t.Fatalf("series %d: %v %v", i, lset, ts.Samples)
		}
		for j, s := range ts.Samples {
			if s.Timestamp != in[i].Samples[j].T || s.Value != in[i].Samples[j].V {
				t.Fatalf("series %d sample %d: %v", i, j, s)
			}
		}
	}
	if md := req.Timeseries[0].Metadata; md.Type != writev2.Metadata_METRIC_TYPE_GAUGE || req.Symbols[md.HelpRef] != "is it up" {
		t.Fatalf("metadata %+v", md)
	}
}

// TestDecodeV1HistogramsCounted: a remote write 1.0 request from
// Prometheus's prompb with native histograms decodes its samples and
// counts the histograms.
func TestDecodeV1HistogramsCounted(t *testing.T) {
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:     []prompb.Label{{Name: "__name__", Value: "h"}},
		Samples:    []prompb.Sample{{Value: 1, Timestamp: 10}},
		Histograms: []prompb.Histogram{{Count: &prompb.Histogram_CountInt{CountInt: 1}}, {Sum: 2}},
	}}}
	buf, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	st, err := d.Decode(buf, func(ts *TimeSeries) error { return nil }, nil)
	if err != nil || st.Histograms != 2 || st.Samples != 1 {
		t.Fatalf("%+v %v", st, err)
	}
}

// TestReadRequestMatchesPrometheus: a ReadRequest from prompb decodes to
// the same queries, and ours encodes to the same message.
func TestReadRequestMatchesPrometheus(t *testing.T) {
	pb := &prompb.ReadRequest{
		Queries: []*prompb.Query{{
			StartTimestampMs: 1000, EndTimestampMs: 2000,
			Matchers: []*prompb.LabelMatcher{{Type: prompb.LabelMatcher_EQ, Name: "__name__", Value: "up"}, {Type: prompb.LabelMatcher_NRE, Name: "job", Value: "a.*"}},
			Hints:    &prompb.ReadHints{StepMs: 15000, Func: "rate", StartMs: 900, EndMs: 2000, Grouping: []string{"job"}, By: true, RangeMs: 300000},
		}, {StartTimestampMs: -5, EndTimestampMs: 7, Matchers: []*prompb.LabelMatcher{{Type: prompb.LabelMatcher_RE, Name: "x", Value: ".+"}}}},
		AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{prompb.ReadRequest_STREAMED_XOR_CHUNKS, prompb.ReadRequest_SAMPLES},
	}
	buf, err := pb.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeReadRequest(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := ReadRequest{
		Queries: []Query{
			{StartMs: 1000, EndMs: 2000, Matchers: []Matcher{{MatchEqual, "__name__", "up"}, {MatchNotRegexp, "job", "a.*"}},
				Hints: &Hints{StepMs: 15000, Func: "rate", StartMs: 900, EndMs: 2000, Grouping: []string{"job"}, By: true, RangeMs: 300000}},
			{StartMs: -5, EndMs: 7, Matchers: []Matcher{{MatchRegexp, "x", ".+"}}},
		},
		Accepted: []ResponseType{ResponseStreamedXORChunks, ResponseSamples},
	}
	if !reflect.DeepEqual(got, want) || !got.Streamed() {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
	var back prompb.ReadRequest
	if err := back.Unmarshal(AppendReadRequest(nil, &want)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Queries, pb.Queries) || !reflect.DeepEqual(back.AcceptedResponseTypes, pb.AcceptedResponseTypes) {
		t.Fatalf("re-encoded\n%v\nwant\n%v", &back, pb)
	}
}

// TestReadResponses: the sampled answer reads back with prompb; the
// streamed one is framed as Prometheus's ChunkedReader expects (uvarint
// length, CRC-32C), each frame a ChunkedReadResponse prompb reads, whose
// stage03 chunks decode to the samples.
func TestReadResponses(t *testing.T) {
	series := []Series{
		{Labels: model.MustFromStrings("__name__", "up", "job", "a"), Samples: []model.Sample{{T: 1000, V: 1}, {T: 2000, V: 0}}},
		{Labels: model.MustFromStrings("__name__", "up", "job", "b"), Samples: []model.Sample{{T: 1000, V: math.NaN()}}},
	}
	var resp prompb.ReadResponse
	if err := resp.Unmarshal(AppendReadResponse(nil, []QueryResult{{Series: series}, {}})); err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 2 || len(resp.Results[0].Timeseries) != 2 || len(resp.Results[1].Timeseries) != 0 {
		t.Fatalf("%v", resp.String())
	}
	for i, ts := range resp.Results[0].Timeseries {
		if ts.Labels[1].Value != series[i].Labels.Get("job") || len(ts.Samples) != len(series[i].Samples) ||
			math.Float64bits(ts.Samples[0].Value) != math.Float64bits(series[i].Samples[0].V) {
			t.Fatalf("series %d: %v", i, ts)
		}
	}
	rt, err := DecodeReadResponse(AppendReadResponse(nil, []QueryResult{{Series: series}}))
	if err != nil || len(rt) != 1 || !rt[0].Series[0].Labels.Equal(series[0].Labels) || rt[0].Series[0].Samples[1] != series[0].Samples[1] {
		t.Fatalf("round trip: %v %v", rt, err)
	}

	// Streamed: one frame per series, stage03 chunks.
	var stream []byte
	for i, s := range series {
		c, err := gorilla.NewChunk(gorilla.XOR)
		if err != nil {
			t.Fatal(err)
		}
		app, err := c.Appender()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range s.Samples {
			if err := app.Append(p.T, p.V); err != nil {
				t.Fatal(err)
			}
		}
		cs := ChunkedSeries{Labels: s.Labels, Chunks: []Chunk{{MinT: s.Samples[0].T, MaxT: s.Samples[len(s.Samples)-1].T, Type: ChunkStage03, Data: c.Bytes()}}}
		stream = AppendFrame(stream, AppendChunkedReadResponse(nil, []ChunkedSeries{cs}, int64(i)))
	}
	fr := NewFrameReader(bytes.NewReader(stream), 1<<20)
	for i := 0; ; i++ {
		msg, err := fr.Next()
		if err == io.EOF {
			if i != len(series) {
				t.Fatalf("%d frames", i)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var pbc prompb.ChunkedReadResponse
		if err := pbc.Unmarshal(msg); err != nil {
			t.Fatal(err)
		}
		if pbc.QueryIndex != int64(i) || len(pbc.ChunkedSeries) != 1 || pbc.ChunkedSeries[0].Chunks[0].Type != prompb.Chunk_Encoding(ChunkStage03) {
			t.Fatalf("frame %d: %v", i, pbc.String())
		}
		got, qi, err := DecodeChunkedReadResponse(msg)
		if err != nil || qi != int64(i) || !got[0].Labels.Equal(series[i].Labels) {
			t.Fatalf("frame %d: %v %d %v", i, got, qi, err)
		}
		c, err := gorilla.FromBytes(got[0].Chunks[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		it := c.Iterator(nil)
		for j := 0; it.Next(); j++ {
			ts, v := it.At()
			if ts != series[i].Samples[j].T || math.Float64bits(v) != math.Float64bits(series[i].Samples[j].V) {
				t.Fatalf("frame %d sample %d: %d %v", i, j, ts, v)
			}
		}
	}
	// A flipped bit is caught by the CRC.
	stream[len(stream)-1] ^= 1
	fr = NewFrameReader(bytes.NewReader(stream), 1<<20)
	fr.Next()
	if _, err := fr.Next(); err != ErrChecksum {
		t.Fatalf("damaged frame: %v", err)
	}
}
