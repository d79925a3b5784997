package wal

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// A samples record byte by byte, worked out by hand from the format.
func TestSamplesBytes(t *testing.T) {
	got := AppendSamples(nil, []RefSample{
		{Ref: 300, T: 1000, V: 1.0},
		{Ref: 301, T: 1000, V: 2.0},
		{Ref: 299, T: 1015, V: math.Copysign(0, -1)}, // negative zero (the constant -0.0 is +0 in Go)
	})
	want := []byte{
		0x02,       // type samples
		0x03,       // 3 samples
		0xAC, 0x02, // ref0 300 = 0b10_0101100 -> 0xAC 0x02
		0xD0, 0x0F, // t0 1000, zig-zag 2000 = 0b1111_1010000 -> 0xD0 0x0F
		0, 0, 0, 0, 0, 0, 0xF0, 0x3F, // 1.0 = 0x3FF0000000000000 LE
		0x02,                      // ref +1, zig-zag 2
		0x00,                      // t +0
		0, 0, 0, 0, 0, 0, 0, 0x40, // 2.0 = 0x4000000000000000
		0x01,                      // ref -1, zig-zag 1
		0x1E,                      // t +15, zig-zag 30
		0, 0, 0, 0, 0, 0, 0, 0x80, // -0.0: sign bit only
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got  % x\nwant % x", got, want)
	}
	dec, err := DecodeSamples(got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(dec) != 3 || dec[2].Ref != 299 || dec[2].T != 1015 || !math.Signbit(dec[2].V) {
		t.Fatalf("decoded %+v", dec)
	}
}

// Series and tombstone records byte by byte.
func TestSeriesAndTombstoneBytes(t *testing.T) {
	ls := model.MustFromStrings("job", "a", model.MetricName, "up")
	got := AppendSeries(nil, []RefSeries{{Ref: 7, Labels: ls}})
	want := []byte{0x01, 0x01, 0x07, 0x02,
		0x08, '_', '_', 'n', 'a', 'm', 'e', '_', '_', 0x02, 'u', 'p',
		0x03, 'j', 'o', 'b', 0x01, 'a'}
	if !bytes.Equal(got, want) {
		t.Fatalf("series got  % x\nwant % x", got, want)
	}
	got = AppendTombstones(nil, []Tombstone{{Ref: 1, Mint: -1, Maxt: 64}})
	want = []byte{0x03, 0x01, 0x01, 0x01, 0x80, 0x01} // zig-zag(-1)=1, zig-zag(64)=128
	if !bytes.Equal(got, want) {
		t.Fatalf("tombstones got  % x\nwant % x", got, want)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	series := []RefSeries{
		{Ref: 0, Labels: model.MustFromStrings(model.MetricName, "cpu", "host", "a")},
		{Ref: math.MaxUint64, Labels: model.MustFromStrings(model.MetricName, "ü", "x", "=,\"")},
		{Ref: 5, Labels: model.Labels{}},
	}
	gotS, err := DecodeSeries(AppendSeries(nil, series), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(gotS) != len(series) {
		t.Fatalf("%d series", len(gotS))
	}
	for i := range series {
		if gotS[i].Ref != series[i].Ref || !gotS[i].Labels.Equal(series[i].Labels) {
			t.Errorf("series %d: %v, want %v", i, gotS[i], series[i])
		}
	}
	samples := []RefSample{
		{Ref: math.MaxUint64, T: math.MinInt64, V: math.Inf(1)},
		{Ref: 0, T: math.MaxInt64, V: math.NaN()},
		{Ref: 1 << 40, T: 0, V: math.SmallestNonzeroFloat64},
	}
	gotX, err := DecodeSamples(AppendSamples(nil, samples), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range samples {
		a, b := gotX[i], samples[i]
		if a.Ref != b.Ref || a.T != b.T || math.Float64bits(a.V) != math.Float64bits(b.V) {
			t.Errorf("sample %d: %+v, want %+v", i, a, b)
		}
	}
	stones := []Tombstone{{Ref: 3, Mint: math.MinInt64, Maxt: math.MaxInt64}, {Ref: 4, Mint: 10, Maxt: 5}}
	gotT, err := DecodeTombstones(AppendTombstones(nil, stones), nil)
	if err != nil || !reflect.DeepEqual(gotT, stones) {
		t.Fatalf("tombstones %v %v", gotT, err)
	}
	for _, empty := range [][]byte{AppendSamples(nil, nil), AppendTombstones(nil, nil), AppendSeries(nil, nil)} {
		var err error
		switch Type(empty) {
		case RecordSamples:
			_, err = DecodeSamples(empty, nil)
		case RecordDeletes:
			_, err = DecodeTombstones(empty, nil)
		case RecordSeries:
			_, err = DecodeSeries(empty, nil)
		}
		if err != nil {
			t.Errorf("empty %v: %v", Type(empty), err)
		}
	}
}

// Decoding into a big enough buffer allocates nothing: replay reuses one slice.
func TestDecodeSamplesReusesBuffer(t *testing.T) {
	s := make([]RefSample, 1000)
	for i := range s {
		s[i] = RefSample{Ref: uint64(i), T: 1e12, V: float64(i)}
	}
	rec := AppendSamples(nil, s)
	buf := make([]RefSample, 0, 1000)
	allocs := testing.AllocsPerRun(20, func() {
		out, err := DecodeSamples(rec, buf)
		if err != nil || len(out) != 1000 || &out[0] != &buf[:1][0] {
			t.Fatal("bad decode or buffer not reused")
		}
	})
	if allocs != 0 {
		t.Errorf("%.0f allocations per decode, want 0", allocs)
	}
}

func TestDecodeErrors(t *testing.T) {
	samples := AppendSamples(nil, []RefSample{{1, 2, 3}, {4, 5, 6}})
	series := AppendSeries(nil, []RefSeries{{Ref: 1, Labels: model.MustFromStrings("a", "1", "b", "2")}})
	for _, tc := range []struct {
		name string
		dec  func([]byte) error
		rec  []byte
	}{
		{"samples: wrong type", decS, series},
		{"samples: cut", decS, samples[:len(samples)-1]},
		{"samples: trailing byte", decS, append(bytes.Clone(samples), 0)},
		{"samples: huge count", decS, []byte{2, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2}},
		{"samples: empty", decS, nil},
		{"series: cut", decL, series[:len(series)-1]},
		{"series: unsorted", decL, []byte{1, 1, 1, 2, 1, 'b', 1, '1', 1, 'a', 1, '2'}},
		{"series: duplicate", decL, []byte{1, 1, 1, 2, 1, 'a', 1, '1', 1, 'a', 1, '2'}},
		{"series: empty value", decL, []byte{1, 1, 1, 1, 1, 'a', 0}},
		{"series: string past end", decL, []byte{1, 1, 1, 1, 9, 'a'}},
		{"tombstones: cut", decT, AppendTombstones(nil, []Tombstone{{1, 300, 400}})[:5]},
	} {
		if err := tc.dec(tc.rec); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", tc.name, err)
		}
	}
}

func decS(b []byte) error { _, err := DecodeSamples(b, nil); return err }
func decL(b []byte) error { _, err := DecodeSeries(b, nil); return err }
func decT(b []byte) error { _, err := DecodeTombstones(b, nil); return err }
