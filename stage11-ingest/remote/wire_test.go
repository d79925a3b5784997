package remote

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"

	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/tsdb-course/stage11-ingest/remote/prompbtest"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The oracle of these tests is proto.Unmarshal over Prometheus's own
// schemas: the FileDescriptorProtos its prompb packages register (gzipped,
// as gogo/protobuf generates them), read with dynamicpb. Strings are read
// as bytes: proto3 wants them UTF-8, and proto.Unmarshal refuses a
// message whose strings are not, but the decoders leave that to where a
// series' labels are made (TimeSeries.ModelLabels, ingest.NewLabels), so
// that one bad series does not cost the request's others, as in
// Prometheus, whose gogo-generated decoder does not check UTF-8 either.

type gogoMessage interface{ Descriptor() ([]byte, []int) }

// prometheusSchemas builds the oracle's descriptors: prompb's types.proto
// and remote.proto, and remote write 2.0's types.proto. gogo.proto, which
// they import for options only, is left unresolved.
func prometheusSchemas(t testing.TB) *protoregistry.Files {
	t.Helper()
	files := new(protoregistry.Files)
	for _, m := range []gogoMessage{&prompb.Sample{}, &prompb.ReadRequest{}, &writev2.Request{}} {
		gz, _ := m.Descriptor()
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		fdp := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(raw, fdp); err != nil {
			t.Fatal(err)
		}
		var bytesForStrings func([]*descriptorpb.DescriptorProto)
		bytesForStrings = func(ms []*descriptorpb.DescriptorProto) {
			for _, m := range ms {
				for _, f := range m.Field {
					if f.GetType() == descriptorpb.FieldDescriptorProto_TYPE_STRING {
						f.Type = descriptorpb.FieldDescriptorProto_TYPE_BYTES.Enum()
					}
				}
				bytesForStrings(m.NestedType)
			}
		}
		bytesForStrings(fdp.MessageType)
		fd, err := protodesc.FileOptions{AllowUnresolvable: true}.New(fdp, files)
		if err != nil {
			t.Fatal(err)
		}
		if err := files.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func schema(t testing.TB, files *protoregistry.Files, name protoreflect.FullName) protoreflect.MessageDescriptor {
	t.Helper()
	d, err := files.FindDescriptorByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MessageDescriptor)
}

// unmarshalErr is proto.Unmarshal's verdict on b as a message of type md.
func unmarshalErr(md protoreflect.MessageDescriptor, b []byte) error {
	return proto.Unmarshal(b, dynamicpb.NewMessage(md))
}

// wireDecoder is one of the package's decoders, by the message it reads.
type wireDecoder struct {
	message protoreflect.FullName
	decode  func(b []byte) error
}

// wireDecoders are the decoders as the server and the cluster call them.
func wireDecoders() []wireDecoder {
	var d Decoder
	none := func(*TimeSeries) error { return nil }
	return []wireDecoder{
		{"prometheus.WriteRequest", func(b []byte) error { _, err := d.Decode(b, none, nil); return err }},
		{"io.prometheus.write.v2.Request", func(b []byte) error { _, err := d.DecodeV2(b, none, nil); return err }},
		{"prometheus.ReadRequest", func(b []byte) error { _, err := DecodeReadRequest(b); return err }},
		{"prometheus.ReadResponse", func(b []byte) error { _, err := DecodeReadResponse(b); return err }},
		{"prometheus.ChunkedReadResponse", func(b []byte) error { _, _, err := DecodeChunkedReadResponse(b); return err }},
		{"prometheus.Histogram", func(b []byte) error { _, err := DecodeHistogram(b); return err }},
	}
}

// wireMessages are one message of each type, made with Prometheus's types,
// every message type of the schemas present.
func wireMessages(t testing.TB) map[protoreflect.FullName][]byte {
	t.Helper()
	intHist := prompb.Histogram{Count: &prompb.Histogram_CountInt{CountInt: 3}, Sum: 1.5, Schema: 1,
		ZeroThreshold: 0.001, ZeroCount: &prompb.Histogram_ZeroCountInt{ZeroCountInt: 1},
		NegativeSpans: []prompb.BucketSpan{{Offset: -1, Length: 1}}, NegativeDeltas: []int64{1},
		PositiveSpans: []prompb.BucketSpan{{Offset: 1, Length: 2}}, PositiveDeltas: []int64{1, -1},
		ResetHint: prompb.Histogram_NO, Timestamp: 2}
	floatHist := prompb.Histogram{Count: &prompb.Histogram_CountFloat{CountFloat: 2.5}, Schema: -53,
		ZeroCount:     &prompb.Histogram_ZeroCountFloat{ZeroCountFloat: 0},
		NegativeSpans: []prompb.BucketSpan{{Offset: 0, Length: 1}}, NegativeCounts: []float64{0.5},
		PositiveSpans: []prompb.BucketSpan{{Length: 1}}, PositiveCounts: []float64{2}, CustomValues: []float64{1}, Timestamp: 3}
	labels := []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "job", Value: "a"}}
	series := prompb.TimeSeries{Labels: labels, Samples: []prompb.Sample{{Value: 1, Timestamp: 2}},
		Exemplars:  []prompb.Exemplar{{Labels: []prompb.Label{{Name: "trace_id", Value: "t"}}, Value: 1, Timestamp: 2}},
		Histograms: []prompb.Histogram{intHist, floatHist}}

	st := writev2.NewSymbolTable()
	refs := []uint32{st.Symbolize("__name__"), st.Symbolize("up"), st.Symbolize("job"), st.Symbolize("a")}
	v2 := &writev2.Request{Timeseries: []writev2.TimeSeries{{LabelsRefs: refs,
		Samples:    []writev2.Sample{{Value: 1, Timestamp: 2}},
		Histograms: []writev2.Histogram{{Count: &writev2.Histogram_CountInt{CountInt: 1}, PositiveSpans: []writev2.BucketSpan{{Offset: 2, Length: 1}}, PositiveDeltas: []int64{1}, Timestamp: 2}},
		Exemplars:  []writev2.Exemplar{{LabelsRefs: []uint32{st.Symbolize("trace_id"), st.Symbolize("t")}, Value: 1, Timestamp: 2}},
		Metadata:   writev2.Metadata{Type: writev2.Metadata_METRIC_TYPE_COUNTER, HelpRef: st.Symbolize("help"), UnitRef: st.Symbolize("s")}}}}
	v2.Symbols = st.Symbols()

	type marshaler interface{ Marshal() ([]byte, error) }
	out := map[protoreflect.FullName][]byte{}
	for name, m := range map[protoreflect.FullName]marshaler{
		"prometheus.WriteRequest": &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series},
			Metadata: []prompb.MetricMetadata{{Type: prompb.MetricMetadata_COUNTER, MetricFamilyName: "up", Help: "h", Unit: "u"}}},
		"io.prometheus.write.v2.Request": v2,
		"prometheus.ReadRequest": &prompb.ReadRequest{
			Queries: []*prompb.Query{{StartTimestampMs: 1000, EndTimestampMs: 2000,
				Matchers: []*prompb.LabelMatcher{{Type: prompb.LabelMatcher_NRE, Name: "job", Value: "a.*"}},
				Hints:    &prompb.ReadHints{StepMs: 15000, Func: "rate", StartMs: 900, EndMs: 2000, Grouping: []string{"job"}, By: true, RangeMs: 300000}}},
			AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{prompb.ReadRequest_STREAMED_XOR_CHUNKS, prompb.ReadRequest_SAMPLES}},
		"prometheus.ReadResponse": &prompb.ReadResponse{Results: []*prompb.QueryResult{{Timeseries: []*prompb.TimeSeries{
			{Labels: labels, Samples: series.Samples, Histograms: series.Histograms}}}}},
		"prometheus.ChunkedReadResponse": &prompb.ChunkedReadResponse{ChunkedSeries: []*prompb.ChunkedSeries{{Labels: labels,
			Chunks: []prompb.Chunk{{MinTimeMs: 1, MaxTimeMs: 2, Type: prompb.Chunk_XOR, Data: []byte{0, 1}}}}}, QueryIndex: 3},
		"prometheus.Histogram": &intHist,
	} {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// TestConsumeTag: a tag, and a value of its wire type, make a message
// proto.Unmarshal takes (as an unknown field of an empty message) exactly
// when ConsumeTag takes the tag and protowire.ConsumeFieldValue, with which
// the decoders skip what they do not read, takes the value.
func TestConsumeTag(t *testing.T) {
	value := map[protowire.Type][]byte{
		protowire.VarintType:  {0x96, 0x01},
		protowire.Fixed64Type: make([]byte, 8),
		protowire.BytesType:   {2, 'h', 'i'},
		protowire.Fixed32Type: make([]byte, 4),
	}
	const top = uint64(protowire.MaxValidNumber)
	nums := []uint64{0, 1, 15, 16, 2047, 2048, 1<<21 - 1, 1 << 21, top - 1, top, top + 1, 1<<31 - 1, 1 << 31, 1<<32 + 1, 1 << 60}
	taken, refused := 0, 0
	for _, num := range nums {
		for typ := protowire.Type(0); typ < 8; typ++ {
			tag := protowire.AppendVarint(nil, num<<3|uint64(typ))
			b := append(append([]byte(nil), tag...), value[typ]...)
			if typ == protowire.StartGroupType {
				b = append(b, protowire.AppendVarint(nil, num<<3|uint64(protowire.EndGroupType))...)
			}
			gotNum, gotTyp, n := ConsumeTag(b)
			ok := n > 0
			if ok {
				if n != len(tag) || uint64(gotNum) != num || gotTyp != typ {
					t.Fatalf("field %d type %d: ConsumeTag read %d, %d in %d bytes", num, typ, gotNum, gotTyp, n)
				}
				ok = protowire.ConsumeFieldValue(gotNum, gotTyp, b[n:]) == len(b)-n
			}
			err := proto.Unmarshal(b, &emptypb.Empty{})
			if ok != (err == nil) {
				t.Errorf("field %d type %d (% x): taken %v, proto.Unmarshal: %v", num, typ, b, ok, err)
			}
			if ok {
				taken++
			} else {
				refused++
			}
		}
	}
	// Padded tags (field 0 in two bytes, field 1 in three), cut short,
	// and none at all.
	for _, b := range [][]byte{{0x80, 0x00, 0x01}, {0x88, 0x80, 0x00, 0x01}, {0x80}} {
		num, typ, n := ConsumeTag(b)
		ok := n > 0 && protowire.ConsumeFieldValue(num, typ, b[n:]) == len(b)-n
		if err := proto.Unmarshal(b, &emptypb.Empty{}); ok != (err == nil) {
			t.Errorf("% x: taken %v, proto.Unmarshal: %v", b, ok, err)
		}
	}
	if _, _, n := ConsumeTag(nil); n >= 0 {
		t.Errorf("no tag: n = %d", n)
	}
	if taken == 0 || refused == 0 {
		t.Fatalf("%d tags taken, %d refused", taken, refused)
	}
}

// TestDecodersRefuseAsProtoUnmarshal: odd fields (prompbtest.Fields: field
// numbers 0 and above 2^29-1, every wire type, groups) put into each
// message nested in a request refuse the request for every decoder
// exactly when proto.Unmarshal refuses it.
func TestDecodersRefuseAsProtoUnmarshal(t *testing.T) {
	files := prometheusSchemas(t)
	msgs := wireMessages(t)
	for _, dec := range wireDecoders() {
		md := schema(t, files, dec.message)
		base := msgs[dec.message]
		if err := dec.decode(base); err != nil {
			t.Fatalf("%s: %v", dec.message, err)
		}
		if err := unmarshalErr(md, base); err != nil {
			t.Fatalf("%s: proto.Unmarshal: %v", dec.message, err)
		}
		places := 0
		for _, f := range prompbtest.Fields() {
			variants := prompbtest.Insert(base, md, f.Bytes)
			places = len(variants)
			for i, b := range variants {
				got, want := dec.decode(b), unmarshalErr(md, b)
				if (want != nil) != f.Refused {
					t.Fatalf("%s, %s, place %d: proto.Unmarshal: %v; the test's expectation is wrong", dec.message, f.Name, i, want)
				}
				if (got != nil) != (want != nil) {
					t.Errorf("%s, %s, place %d (% x): decoder: %v, proto.Unmarshal: %v", dec.message, f.Name, i, b, got, want)
				}
				if got != nil && !errors.Is(got, ErrInvalid) {
					t.Errorf("%s, %s: error %v does not wrap ErrInvalid", dec.message, f.Name, got)
				}
			}
		}
		if places < 3 {
			t.Fatalf("%s: only %d places to put a field", dec.message, places)
		}
	}
}

// TestReadResponseFieldThree: a QueryResult is read by the WriteRequest
// decoder, but its field 3 is unknown, not WriteRequest's metadata: bytes
// that do not decode as a MetricMetadata are skipped, as proto.Unmarshal
// skips them.
func TestReadResponseFieldThree(t *testing.T) {
	files := prometheusSchemas(t)
	md := schema(t, files, "prometheus.ReadResponse")
	notMeta := []byte{0x00, 0x01} // field 0
	qr := protowire.AppendBytes(protowire.AppendTag(nil, fieldMetadata, protowire.BytesType), notMeta)
	b := protowire.AppendBytes(protowire.AppendTag(nil, fieldResults, protowire.BytesType), qr)
	if err := unmarshalErr(md, b); err != nil {
		t.Fatalf("proto.Unmarshal: %v", err)
	}
	if res, err := DecodeReadResponse(b); err != nil || len(res) != 1 || len(res[0].Series) != 0 {
		t.Fatalf("%v, %v", res, err)
	}
	// In a WriteRequest, the same bytes are damaged metadata.
	var d Decoder
	if _, err := d.Decode(qr, func(*TimeSeries) error { return nil }, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("WriteRequest: %v", err)
	}
	if err := unmarshalErr(schema(t, files, "prometheus.WriteRequest"), qr); err == nil {
		t.Fatal("proto.Unmarshal takes the WriteRequest")
	}
}
