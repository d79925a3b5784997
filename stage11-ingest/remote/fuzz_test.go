package remote

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
	"github.com/tsdb-course/stage11-ingest/remote/prompbtest"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// FuzzDecoders: no input makes a decoder panic, every error wraps
// ErrInvalid (or is a frame's checksum or size), what a decoder takes
// proto.Unmarshal takes (over Prometheus's schemas, wire_test.go; the
// decoders refuse more: symbols, label pairs, histogram kinds), and what
// decodes as 1.0 encodes back to a request that decodes the same.
func FuzzDecoders(f *testing.F) {
	f.Add(AppendWriteRequest(nil, []Series{{Labels: model.MustFromStrings("__name__", "up", "a", "b"), Samples: []model.Sample{{T: 1, V: 2}}}}))
	f.Add(AppendWriteRequest(nil, []Series{{Labels: model.MustFromStrings("__name__", "h"), Histograms: []HistogramSample{
		{T: 1, H: &histogram.Histogram{Schema: 3, Count: 3, ZeroCount: 1, PositiveSpans: []histogram.Span{{Offset: -2, Length: 2}}, PositiveBuckets: []int64{1, 0}}},
		{T: 2, FH: &histogram.FloatHistogram{Schema: -53, Count: 1.5, CustomValues: []float64{1, 2}, PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}}, PositiveBuckets: []float64{1.5}}},
	}}}))
	f.Add(AppendRequestV2(nil, []SeriesV2{{Labels: model.MustFromStrings("__name__", "up"), Samples: []model.Sample{{T: 1, V: 2}}, Type: 1, Help: "h"}}))
	f.Add(AppendReadRequest(nil, &ReadRequest{Queries: []Query{{StartMs: 1, EndMs: 2, Matchers: []Matcher{{MatchRegexp, "a", "b"}}, Hints: &Hints{Func: "rate"}}}, Accepted: []ResponseType{1, 0}}))
	f.Add(AppendFrame(nil, AppendChunkedReadResponse(nil, []ChunkedSeries{{Labels: model.MustFromStrings("a", "b"), Chunks: []Chunk{{1, 2, ChunkStage03, []byte{0, 1}}}}}, 3)))
	// Odd tags in a request of every kind.
	msgs := wireMessages(f)
	for _, fb := range prompbtest.Fields() {
		for _, m := range msgs {
			f.Add(append(append([]byte(nil), fb.Bytes...), m...))
		}
	}
	// What a decoder takes, proto.Unmarshal must take too.
	files := prometheusSchemas(f)
	decoders := wireDecoders()
	mds := map[protoreflect.FullName]protoreflect.MessageDescriptor{}
	for _, dec := range decoders {
		mds[dec.message] = schema(f, files, dec.message)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, dec := range decoders {
			if dec.decode(b) != nil {
				continue
			}
			if err := unmarshalErr(mds[dec.message], b); err != nil {
				t.Fatalf("%s: decoded, but proto.Unmarshal refuses it: %v", dec.message, err)
			}
		}
		invalid := func(err error) {
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		}
		var d Decoder
		var series []Series
		_, err := d.Decode(b, func(ts *TimeSeries) error {
			var ls []model.Label
			for _, l := range ts.Labels {
				ls = append(ls, model.Label{Name: string(l.Name), Value: string(l.Value)})
			}
			lset, err := model.New(ls...)
			if err == nil && len(ls) == lset.Len() {
				series = append(series, Series{Labels: lset, Samples: append([]model.Sample(nil), ts.Samples...)})
			}
			return nil
		}, func(Metadata) {})
		invalid(err)
		if err == nil {
			var again []Series
			if _, err := d.Decode(AppendWriteRequest(nil, series), func(ts *TimeSeries) error {
				lset, _ := V1Format.Labels(ts.Key, nil)
				again = append(again, Series{Labels: lset, Samples: ts.Samples})
				return nil
			}, nil); err != nil || len(again) != len(series) {
				t.Fatalf("re-encoded request: %d of %d series, %v", len(again), len(series), err)
			}
		}
		_, err = d.DecodeV2(b, func(*TimeSeries) error { return nil }, func(Metadata) {})
		invalid(err)
		_, err = DecodeReadRequest(b)
		invalid(err)
		_, err = DecodeReadResponse(b)
		invalid(err)
		_, _, err = DecodeChunkedReadResponse(b)
		invalid(err)
		fr := NewFrameReader(bytes.NewReader(b), 1<<16)
		for {
			msg, err := fr.Next()
			if err == io.EOF || errors.Is(err, ErrChecksum) || errors.Is(err, ErrTooLarge) {
				break
			}
			invalid(err)
			if err != nil {
				break
			}
			_, _, err = DecodeChunkedReadResponse(msg)
			invalid(err)
			if err == nil {
				if err := unmarshalErr(mds["prometheus.ChunkedReadResponse"], msg); err != nil {
					t.Fatalf("frame decoded, but proto.Unmarshal refuses it: %v", err)
				}
			}
		}
	})
}
