package wal

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// An integer histogram record byte by byte, worked out by hand from the
// format in histrecord.go.
func TestHistogramBytes(t *testing.T) {
	h := &histogram.Histogram{
		CounterResetHint: histogram.NotCounterReset,
		Schema:           -1,
		ZeroThreshold:    0.5,
		ZeroCount:        2,
		Count:            9,
		Sum:              1.0,
		PositiveSpans:    []histogram.Span{{Offset: -2, Length: 2}},
		PositiveBuckets:  []int64{3, 1},
	}
	got := AppendHistograms(nil, []RefHistogram{{Ref: 5, T: 1000, H: h}, {Ref: 4, T: 1001, H: h}})
	body := []byte{
		0x02,                         // hint NotCounterReset
		0x01,                         // schema -1, zig-zag 1
		0, 0, 0, 0, 0, 0, 0xE0, 0x3F, // zero threshold 0.5 = 0x3FE0000000000000
		0x02,                         // zero count 2
		0x09,                         // count 9
		0, 0, 0, 0, 0, 0, 0xF0, 0x3F, // sum 1.0
		0x01, 0x03, 0x02, // 1 positive span: offset -2 (zig-zag 3), length 2
		0x00,             // no negative spans
		0x02, 0x06, 0x02, // 2 positive buckets: 3 (zig-zag 6), +1 (zig-zag 2)
		0x00, // no negative buckets
		0x00, // no custom bounds
	}
	want := append([]byte{0x07, 0x02, 0x05, 0xD0, 0x0F}, body...) // type 7, 2 samples, ref0 5, t0 1000 (zig-zag 2000)
	want = append(want, 0x01, 0x02)                               // ref -1 (zig-zag 1), t +1 (zig-zag 2)
	want = append(want, body...)
	if !bytes.Equal(got, want) {
		t.Fatalf("got  % x\nwant % x", got, want)
	}
	one := append([]byte{0x07, 0x01, 0x05, 0xD0, 0x0F}, body...) // the first sample alone
	if got1 := AppendHistograms(nil, []RefHistogram{{Ref: 5, T: 1000, H: h}}); !bytes.Equal(got1, one) {
		t.Fatalf("one sample: got  % x\nwant % x", got1, one)
	}
	dec, err := DecodeHistograms(got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(dec) != 2 || dec[1].Ref != 4 || dec[1].T != 1001 || !reflect.DeepEqual(dec[1].H, h) {
		t.Fatalf("decoded %+v", dec)
	}
}

// randHistogram is a valid integer histogram with random layout and counts.
func randHistogram(r *rand.Rand) *histogram.Histogram {
	h := &histogram.Histogram{
		CounterResetHint: histogram.CounterResetHint(r.IntN(4)),
		Schema:           int32(r.IntN(13) - 4),
		ZeroThreshold:    r.Float64(),
		Sum:              r.NormFloat64() * 1e6,
	}
	side := func() ([]histogram.Span, []int64, uint64) {
		var spans []histogram.Span
		var deltas []int64
		var total uint64
		prev := int64(0)
		for i := range r.IntN(4) {
			off := int32(r.IntN(5))
			if i == 0 {
				off = int32(r.IntN(20) - 10)
			}
			l := uint32(1 + r.IntN(4))
			spans = append(spans, histogram.Span{Offset: off, Length: l})
			for range l {
				c := int64(r.IntN(1000))
				deltas = append(deltas, c-prev)
				prev = c
				total += uint64(c)
			}
		}
		return spans, deltas, total
	}
	var np, nn uint64
	h.PositiveSpans, h.PositiveBuckets, np = side()
	h.NegativeSpans, h.NegativeBuckets, nn = side()
	h.ZeroCount = uint64(r.IntN(50))
	h.Count = np + nn + h.ZeroCount + uint64(r.IntN(3))
	if r.IntN(5) == 0 {
		h.Schema = histogram.CustomBucketsSchema
		h.NegativeSpans, h.NegativeBuckets, h.ZeroCount, h.ZeroThreshold = nil, nil, 0, 0
		h.Count = np + uint64(r.IntN(3))
		max := 0
		idx := int32(0)
		for i, s := range h.PositiveSpans {
			if i == 0 && s.Offset < 0 {
				h.PositiveSpans[0].Offset = -s.Offset
			}
			idx += h.PositiveSpans[i].Offset + int32(s.Length)
		}
		max = int(idx) + 1
		for i := range max {
			h.CustomValues = append(h.CustomValues, float64(i)+0.5)
		}
	}
	return h
}

// Random batches of both kinds round-trip exactly, and every truncation of
// a record is refused with ErrCorrupt.
func TestHistogramRecordRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		var hs []RefHistogram
		var fhs []RefFloatHistogram
		for range r.IntN(5) + 1 {
			h := randHistogram(r)
			if err := h.Validate(); err != nil {
				t.Fatalf("generator: %v: %+v", err, h)
			}
			hs = append(hs, RefHistogram{Ref: r.Uint64N(1 << 40), T: r.Int64() >> r.IntN(63), H: h})
			fh := h.ToFloat()
			fh.Sum = math.NaN()
			fhs = append(fhs, RefFloatHistogram{Ref: r.Uint64N(1 << 40), T: -r.Int64N(1 << 50), FH: fh})
		}
		rec := AppendHistograms(nil, hs)
		got, err := DecodeHistograms(rec, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, hs) {
			t.Fatalf("got %+v\nwant %+v", got, hs)
		}
		frec := AppendFloatHistograms(nil, fhs)
		fgot, err := DecodeFloatHistograms(frec, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range fgot {
			if !math.IsNaN(fgot[i].FH.Sum) {
				t.Fatalf("sum %v, want NaN", fgot[i].FH.Sum)
			}
			fgot[i].FH.Sum, fhs[i].FH.Sum = 0, 0
		}
		if !reflect.DeepEqual(fgot, fhs) {
			t.Fatalf("got %+v\nwant %+v", fgot, fhs)
		}
		for _, b := range [][]byte{rec, frec} {
			for n := range len(b) {
				var err error
				if b[0] == byte(RecordHistograms) {
					_, err = DecodeHistograms(b[:n], nil)
				} else {
					_, err = DecodeFloatHistograms(b[:n], nil)
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%s cut to %d of %d bytes: %v", Type(b), n, len(b), err)
				}
			}
		}
	}
}

// A histogram that is not valid (its buckets disagree with its spans) is
// refused as corrupt: Append never logs one.
func TestHistogramRecordInvalid(t *testing.T) {
	h := &histogram.Histogram{Count: 1, PositiveSpans: []histogram.Span{{Length: 2}}, PositiveBuckets: []int64{1}}
	if _, err := DecodeHistograms(AppendHistograms(nil, []RefHistogram{{Ref: 1, H: h}}), nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
	b := AppendHistograms(nil, []RefHistogram{{Ref: 1, H: &histogram.Histogram{}}})
	b[4] = 9 // the hint byte, after type, count, ref and t
	if _, err := DecodeHistograms(b, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("hint 9: got %v, want ErrCorrupt", err)
	}
}

// A checkpoint filters histogram samples as it filters float ones: kept
// from mint on for kept series, the rest dropped.
func TestCheckpointHistograms(t *testing.T) {
	const mint = 10_000
	dir := t.TempDir()
	w := mustOpen(t, dir, Options{Sync: SyncNone})
	h := &histogram.Histogram{Count: 1, ZeroCount: 1}
	fh := h.ToFloat()
	hs := []RefHistogram{{Ref: 1, T: mint - 1, H: h}, {Ref: 1, T: mint, H: h}, {Ref: 3, T: mint + 1, H: h}}
	fhs := []RefFloatHistogram{{Ref: 2, T: mint + 7, FH: fh}, {Ref: 2, T: mint - 7, FH: fh}}
	for _, rec := range [][]byte{AppendHistograms(nil, hs), AppendFloatHistograms(nil, fhs)} {
		if err := w.Log(rec); err != nil {
			t.Fatal(err)
		}
	}
	upto, err := w.NextSegment()
	if err != nil {
		t.Fatal(err)
	}
	st, err := Checkpoint(dir, upto, func(ref uint64) bool { return ref != 3 }, mint)
	if err != nil {
		t.Fatal(err)
	}
	if st.HistogramsKept != 2 || st.HistogramsDropped != 3 || st.OtherRecords != 0 {
		t.Fatalf("stats %+v", st)
	}
	recs, _, err := readAll(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	gh, err := DecodeHistograms(recs[0], nil)
	if err != nil || len(gh) != 1 || gh[0].Ref != 1 || gh[0].T != mint {
		t.Fatalf("histograms kept %+v, %v", gh, err)
	}
	gf, err := DecodeFloatHistograms(recs[1], nil)
	if err != nil || len(gf) != 1 || gf[0].Ref != 2 || gf[0].T != mint+7 {
		t.Fatalf("float histograms kept %+v, %v", gf, err)
	}
}

func FuzzDecodeHistograms(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	f.Add(AppendHistograms(nil, []RefHistogram{{Ref: 1, T: 2, H: randHistogram(r)}, {Ref: 9, T: -2, H: randHistogram(r)}}))
	f.Add(AppendFloatHistograms(nil, []RefFloatHistogram{{Ref: 1, T: 2, FH: randHistogram(r).ToFloat()}}))
	f.Add([]byte{7, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if hs, err := DecodeHistograms(b, nil); err == nil {
			again, err := DecodeHistograms(AppendHistograms(nil, hs), nil)
			if err != nil || !reflect.DeepEqual(again, hs) {
				t.Fatalf("re-encoding does not decode back: %v", err)
			}
		}
		if fhs, err := DecodeFloatHistograms(b, nil); err == nil {
			again, err := DecodeFloatHistograms(AppendFloatHistograms(nil, fhs), nil)
			if err != nil || len(again) != len(fhs) {
				t.Fatalf("re-encoding does not decode back: %v", err)
			}
		}
	})
}
