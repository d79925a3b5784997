package remote

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage11-ingest/remote/prompbtest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// decodeAll runs the decoder and returns what it saw, copied.
func decodeAll(t testing.TB, buf []byte) ([]testSeries, []Metadata, error) {
	var d Decoder
	var got []testSeries
	var meta []Metadata
	_, err := d.Decode(buf, func(ts *TimeSeries) error {
		var s testSeries
		for _, l := range ts.Labels {
			s.labels = append(s.labels, [2]string{string(l.Name), string(l.Value)})
		}
		for _, p := range ts.Samples {
			s.samples = append(s.samples, [2]float64{float64(p.T), p.V})
		}
		got = append(got, s)
		return nil
	}, func(m Metadata) { meta = append(meta, m) })
	return got, meta, err
}

func randomSeries(r *rand.Rand, n int) []testSeries {
	out := make([]testSeries, n)
	for i := range out {
		out[i].labels = [][2]string{{"__name__", "metric_" + strconv.Itoa(r.IntN(5))}, {"instance", "host-" + strconv.Itoa(i)}}
		if r.IntN(2) == 0 {
			out[i].labels = append(out[i].labels, [2]string{"zone", "ü-" + strconv.Itoa(r.IntN(3))})
		}
		for j := range r.IntN(4) {
			out[i].samples = append(out[i].samples, [2]float64{float64(1_700_000_000_000 + int64(j)*15_000 - int64(r.IntN(2))*1e15), r.NormFloat64() * 1e6})
		}
	}
	return out
}

func TestDecodeMatchesProtobufLibrary(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		want := randomSeries(r, 1+r.IntN(50))
		meta := []prompbtest.Meta{{Type: 1, Family: "metric_0", Help: "help text", Unit: "seconds"}, {Type: 2, Family: "g"}}
		buf := prompbtest.Marshal(t, toPB(want), meta)
		got, gotMeta, err := decodeAll(t, buf)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i := range want { // the oracle keeps nil for "no samples"
			if len(want[i].samples) == 0 {
				want[i].samples = nil
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d:\n got %v\nwant %v", round, got, want)
		}
		wantMeta := []Metadata{{"counter", "metric_0", "help text", "seconds"}, {"gauge", "g", "", ""}}
		if !reflect.DeepEqual(gotMeta, wantMeta) {
			t.Fatalf("metadata %v", gotMeta)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	in := []Series{
		{Labels: model.MustFromStrings("__name__", "up", "job", "a"), Samples: []model.Sample{{T: 1, V: 1}, {T: -5, V: math.Inf(-1)}}},
		{Labels: model.MustFromStrings("__name__", "x"), Samples: []model.Sample{{T: 1 << 50, V: 0.5}}},
	}
	buf := AppendWriteRequest(nil, in)
	// The library's view of the same bytes must agree with ours.
	got, _, err := decodeAll(t, buf)
	if err != nil {
		t.Fatal(err)
	}
	want := []testSeries{
		{labels: [][2]string{{"__name__", "up"}, {"job", "a"}}, samples: [][2]float64{{1, 1}, {-5, math.Inf(-1)}}},
		{labels: [][2]string{{"__name__", "x"}}, samples: [][2]float64{{1 << 50, 0.5}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
	// The protobuf library must read our bytes as the message it encodes
	// for the same series.
	desc := prompbtest.Descriptor(t)
	ours, lib := dynamicpb.NewMessage(desc), dynamicpb.NewMessage(desc)
	if err := proto.Unmarshal(buf, ours); err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(prompbtest.Marshal(t, toPB(want), nil), lib); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(ours, lib) {
		t.Fatalf("library reads %v, want %v", ours, lib)
	}
}

func TestDecodeMalformed(t *testing.T) {
	good := prompbtest.Marshal(t, toPB([]testSeries{{labels: [][2]string{{"__name__", "a"}}, samples: [][2]float64{{1, 2}}}}), nil)
	cases := map[string][]byte{
		"truncated":      good[:len(good)-1],
		"bad tag":        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"length too big": {0x0a, 0x7f, 0x01},
		"field 0":        {0x00, 0x01},
		"group":          {0x0b},
	}
	for name, buf := range cases {
		if _, _, err := decodeAll(t, buf); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestDecompress(t *testing.T) {
	raw := prompbtest.Marshal(t, toPB(randomSeries(rand.New(rand.NewPCG(3, 4)), 100)), nil)
	comp := Compress(nil, raw)
	out, err := Decompress(nil, comp, len(raw))
	if err != nil || string(out) != string(raw) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := Decompress(nil, comp, len(raw)-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("limit: %v", err)
	}
	if _, err := Decompress(nil, raw, 1<<30); !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
		t.Fatalf("not snappy: %v", err)
	}
	if _, err := Decompress(nil, []byte{0x05, 0x00}, 100); !errors.Is(err, ErrInvalid) {
		t.Fatalf("corrupt: %v", err)
	}
}

func TestModelLabels(t *testing.T) {
	ts := TimeSeries{Labels: []Label{{[]byte("job"), []byte("a")}, {[]byte("__name__"), []byte("up")}, {[]byte("empty"), nil}}}
	l, err := ts.ModelLabels()
	if err != nil || !l.Equal(model.MustFromStrings("__name__", "up", "job", "a")) {
		t.Fatalf("%v %v", l, err)
	}
	for _, bad := range [][]Label{
		{{[]byte("job"), []byte("a")}},
		{{[]byte("__name__"), []byte("up")}, {nil, []byte("x")}},
		{{[]byte("__name__"), []byte("up")}, {[]byte("a"), []byte("1")}, {[]byte("a"), []byte("2")}},
		{{[]byte("__name__"), []byte("up\xff")}},
	} {
		ts := TimeSeries{Labels: bad}
		if _, err := ts.ModelLabels(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzDecode: Decode does not panic, and takes only what proto.Unmarshal
// takes.
func FuzzDecode(f *testing.F) {
	f.Add(AppendWriteRequest(nil, []Series{{Labels: model.MustFromStrings("__name__", "up"), Samples: []model.Sample{{T: 1, V: 2}}}}))
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Add(wireMessages(f)["prometheus.WriteRequest"])
	md := schema(f, prometheusSchemas(f), "prometheus.WriteRequest")
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Decoder
		_, err := d.Decode(b, func(ts *TimeSeries) error { _, _ = ts.ModelLabels(); return nil }, func(Metadata) {})
		if err == nil {
			if err := unmarshalErr(md, b); err != nil {
				t.Fatalf("decoded, but proto.Unmarshal refuses it: %v", err)
			}
		}
	})
}

// testSeries is what the decoder saw, in the oracle's terms.
type testSeries struct {
	labels  [][2]string
	samples [][2]float64
}

func toPB(ss []testSeries) []prompbtest.Series {
	out := make([]prompbtest.Series, len(ss))
	for i, s := range ss {
		out[i] = prompbtest.Series{Labels: s.labels, Samples: s.samples}
	}
	return out
}
