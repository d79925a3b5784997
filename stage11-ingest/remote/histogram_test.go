package remote

import (
	"math/rand/v2"
	"reflect"
	"testing"

	promhist "github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// The histogram codec is held against Prometheus's generated types and
// their conversions (prompb.FromIntHistogram, Histogram.ToIntHistogram…):
// what a Prometheus sends decodes to the same histogram, and what this
// package encodes a Prometheus decodes to the histogram it was.

// randomPromHistogram draws an integer or float histogram with every
// field set somewhere: negative schemas, custom bounds, both bucket sides,
// gaps between spans, reset hints.
func randomPromHistogram(r *rand.Rand) (*promhist.Histogram, *promhist.FloatHistogram) {
	spans := func(n int) ([]promhist.Span, int) {
		var ss []promhist.Span
		total := 0
		for i := range n {
			off := int32(r.IntN(4))
			if i == 0 {
				off = int32(r.IntN(20)) - 10
			}
			l := uint32(1 + r.IntN(4))
			ss = append(ss, promhist.Span{Offset: off, Length: l})
			total += int(l)
		}
		return ss, total
	}
	schema := int32(r.IntN(13)) - 4
	var custom []float64
	pos, npos := spans(r.IntN(4))
	neg, nneg := spans(r.IntN(3))
	if r.IntN(5) == 0 {
		schema, neg, nneg = promhist.CustomBucketsSchema, nil, 0
		for i := range npos {
			custom = append(custom, float64(i)+0.5)
		}
	}
	hint := promhist.CounterResetHint(r.IntN(4))
	if r.IntN(2) == 0 {
		h := &promhist.Histogram{CounterResetHint: hint, Schema: schema, ZeroThreshold: 0.001 * float64(r.IntN(3)),
			ZeroCount: uint64(r.IntN(10)), Count: uint64(r.IntN(1000)), Sum: r.NormFloat64() * 100,
			PositiveSpans: pos, NegativeSpans: neg, CustomValues: custom}
		for range npos {
			h.PositiveBuckets = append(h.PositiveBuckets, int64(r.IntN(21))-10)
		}
		for range nneg {
			h.NegativeBuckets = append(h.NegativeBuckets, int64(r.IntN(21))-10)
		}
		return h, nil
	}
	fh := &promhist.FloatHistogram{CounterResetHint: hint, Schema: schema, ZeroThreshold: 0.001 * float64(r.IntN(3)),
		ZeroCount: r.Float64() * 10, Count: r.Float64() * 1000, Sum: r.NormFloat64() * 100,
		PositiveSpans: pos, NegativeSpans: neg, CustomValues: custom}
	for range npos {
		fh.PositiveBuckets = append(fh.PositiveBuckets, r.Float64()*50)
	}
	for range nneg {
		fh.NegativeBuckets = append(fh.NegativeBuckets, r.Float64()*50)
	}
	return nil, fh
}

func toPromSpans(ss []histogram.Span) []promhist.Span {
	var out []promhist.Span
	for _, s := range ss {
		out = append(out, promhist.Span{Offset: s.Offset, Length: s.Length})
	}
	return out
}

// toProm converts a decoded sample to Prometheus's types, empty slices as
// nil (protobuf does not tell them apart).
func toProm(hs HistogramSample) (*promhist.Histogram, *promhist.FloatHistogram) {
	nilIfEmpty := func(v any) {
		rv := reflect.ValueOf(v).Elem()
		for i := range rv.NumField() {
			if f := rv.Field(i); f.Kind() == reflect.Slice && f.Len() == 0 {
				f.Set(reflect.Zero(f.Type()))
			}
		}
	}
	if h := hs.H; h != nil {
		p := &promhist.Histogram{CounterResetHint: promhist.CounterResetHint(h.CounterResetHint), Schema: h.Schema,
			ZeroThreshold: h.ZeroThreshold, ZeroCount: h.ZeroCount, Count: h.Count, Sum: h.Sum,
			PositiveSpans: toPromSpans(h.PositiveSpans), NegativeSpans: toPromSpans(h.NegativeSpans),
			PositiveBuckets: h.PositiveBuckets, NegativeBuckets: h.NegativeBuckets, CustomValues: h.CustomValues}
		nilIfEmpty(p)
		return p, nil
	}
	h := hs.FH
	p := &promhist.FloatHistogram{CounterResetHint: promhist.CounterResetHint(h.CounterResetHint), Schema: h.Schema,
		ZeroThreshold: h.ZeroThreshold, ZeroCount: h.ZeroCount, Count: h.Count, Sum: h.Sum,
		PositiveSpans: toPromSpans(h.PositiveSpans), NegativeSpans: toPromSpans(h.NegativeSpans),
		PositiveBuckets: h.PositiveBuckets, NegativeBuckets: h.NegativeBuckets, CustomValues: h.CustomValues}
	nilIfEmpty(p)
	return nil, p
}

func normProm(h *promhist.Histogram, fh *promhist.FloatHistogram) (*promhist.Histogram, *promhist.FloatHistogram) {
	var hs HistogramSample
	if h != nil {
		hs.H = &histogram.Histogram{CounterResetHint: histogram.CounterResetHint(h.CounterResetHint), Schema: h.Schema,
			ZeroThreshold: h.ZeroThreshold, ZeroCount: h.ZeroCount, Count: h.Count, Sum: h.Sum,
			PositiveBuckets: h.PositiveBuckets, NegativeBuckets: h.NegativeBuckets, CustomValues: h.CustomValues}
		hs.H.PositiveSpans, hs.H.NegativeSpans = fromPromSpans(h.PositiveSpans), fromPromSpans(h.NegativeSpans)
	} else {
		hs.FH = &histogram.FloatHistogram{CounterResetHint: histogram.CounterResetHint(fh.CounterResetHint), Schema: fh.Schema,
			ZeroThreshold: fh.ZeroThreshold, ZeroCount: fh.ZeroCount, Count: fh.Count, Sum: fh.Sum,
			PositiveBuckets: fh.PositiveBuckets, NegativeBuckets: fh.NegativeBuckets, CustomValues: fh.CustomValues}
		hs.FH.PositiveSpans, hs.FH.NegativeSpans = fromPromSpans(fh.PositiveSpans), fromPromSpans(fh.NegativeSpans)
	}
	return toProm(hs)
}

func fromPromSpans(ss []promhist.Span) []histogram.Span {
	var out []histogram.Span
	for _, s := range ss {
		out = append(out, histogram.Span{Offset: s.Offset, Length: s.Length})
	}
	return out
}

func sameHistogram(t *testing.T, what string, got HistogramSample, wantT int64, wh *promhist.Histogram, wfh *promhist.FloatHistogram) {
	t.Helper()
	gh, gfh := toProm(got)
	wh, wfh = normProm(wh, wfh)
	if got.T != wantT || !reflect.DeepEqual(gh, wh) || !reflect.DeepEqual(gfh, wfh) {
		t.Fatalf("%s: got t=%d %v %v, want t=%d %v %v", what, got.T, gh, gfh, wantT, wh, wfh)
	}
}

func TestHistogramsDecodeAsPrometheusEncodes(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 1))
	for round := range 200 {
		type want struct {
			t   int64
			h   *promhist.Histogram
			fh  *promhist.FloatHistogram
			ser int
		}
		var wants []want
		req1 := &prompb.WriteRequest{}
		st := writev2.NewSymbolTable()
		req2 := &writev2.Request{}
		for i := range 1 + r.IntN(5) {
			ts1 := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "h"}, {Name: "i", Value: string(rune('a' + i))}}}
			ts2 := writev2.TimeSeries{LabelsRefs: []uint32{st.Symbolize("__name__"), st.Symbolize("h"), st.Symbolize("i"), st.Symbolize(string(rune('a' + i)))}}
			for j := range r.IntN(4) {
				ts := 1_700_000_000_000 + int64(j)*15_000
				h, fh := randomPromHistogram(r)
				if h != nil {
					ts1.Histograms = append(ts1.Histograms, prompb.FromIntHistogram(ts, h))
					ts2.Histograms = append(ts2.Histograms, writev2.FromIntHistogram(0, ts, h))
				} else {
					ts1.Histograms = append(ts1.Histograms, prompb.FromFloatHistogram(ts, fh))
					ts2.Histograms = append(ts2.Histograms, writev2.FromFloatHistogram(0, ts, fh))
				}
				wants = append(wants, want{ts, h, fh, i})
			}
			req1.Timeseries = append(req1.Timeseries, ts1)
			req2.Timeseries = append(req2.Timeseries, ts2)
		}
		req2.Symbols = st.Symbols()
		b1, err := req1.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		b2, err := req2.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []struct {
			name   string
			decode func(*Decoder, func(*TimeSeries) error) (Stats, error)
		}{
			{"1.0", func(d *Decoder, fn func(*TimeSeries) error) (Stats, error) { return d.Decode(b1, fn, nil) }},
			{"2.0", func(d *Decoder, fn func(*TimeSeries) error) (Stats, error) { return d.DecodeV2(b2, fn, nil) }},
		} {
			var d Decoder
			var got []HistogramSample
			var ser []int
			n := 0
			stats, err := v.decode(&d, func(ts *TimeSeries) error {
				got = append(got, ts.Histograms...)
				for range ts.Histograms {
					ser = append(ser, n)
				}
				n++
				return nil
			})
			if err != nil {
				t.Fatalf("round %d, %s: %v", round, v.name, err)
			}
			if len(got) != len(wants) || stats.Histograms != len(wants) {
				t.Fatalf("round %d, %s: %d histograms (stats %d), want %d", round, v.name, len(got), stats.Histograms, len(wants))
			}
			for k, w := range wants {
				if ser[k] != w.ser {
					t.Fatalf("round %d, %s: histogram %d in series %d, want %d", round, v.name, k, ser[k], w.ser)
				}
				sameHistogram(t, v.name, got[k], w.t, w.h, w.fh)
			}
		}
	}
}

func TestHistogramsEncodeAsPrometheusDecodes(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 2))
	for round := range 200 {
		var series []Series
		for i := range 1 + r.IntN(4) {
			s := Series{Labels: model.MustFromStrings("__name__", "h", "i", string(rune('a'+i)))}
			for j := range r.IntN(4) {
				h, fh := randomPromHistogram(r)
				ph, pfh := normProm(h, fh)
				hs := HistogramSample{T: int64(j) * 1000}
				if ph != nil {
					hs.H = &histogram.Histogram{CounterResetHint: histogram.CounterResetHint(ph.CounterResetHint), Schema: ph.Schema,
						ZeroThreshold: ph.ZeroThreshold, ZeroCount: ph.ZeroCount, Count: ph.Count, Sum: ph.Sum,
						PositiveSpans: fromPromSpans(ph.PositiveSpans), NegativeSpans: fromPromSpans(ph.NegativeSpans),
						PositiveBuckets: ph.PositiveBuckets, NegativeBuckets: ph.NegativeBuckets, CustomValues: ph.CustomValues}
				} else {
					hs.FH = &histogram.FloatHistogram{CounterResetHint: histogram.CounterResetHint(pfh.CounterResetHint), Schema: pfh.Schema,
						ZeroThreshold: pfh.ZeroThreshold, ZeroCount: pfh.ZeroCount, Count: pfh.Count, Sum: pfh.Sum,
						PositiveSpans: fromPromSpans(pfh.PositiveSpans), NegativeSpans: fromPromSpans(pfh.NegativeSpans),
						PositiveBuckets: pfh.PositiveBuckets, NegativeBuckets: pfh.NegativeBuckets, CustomValues: pfh.CustomValues}
				}
				s.Histograms = append(s.Histograms, hs)
			}
			series = append(series, s)
		}
		var req prompb.WriteRequest
		if err := req.Unmarshal(AppendWriteRequest(nil, series)); err != nil {
			t.Fatalf("round %d: Prometheus cannot decode: %v", round, err)
		}
		if len(req.Timeseries) != len(series) {
			t.Fatalf("round %d: %d series, want %d", round, len(req.Timeseries), len(series))
		}
		for i, ts := range req.Timeseries {
			if len(ts.Histograms) != len(series[i].Histograms) {
				t.Fatalf("round %d series %d: %d histograms, want %d", round, i, len(ts.Histograms), len(series[i].Histograms))
			}
			for j, ph := range ts.Histograms {
				var h *promhist.Histogram
				var fh *promhist.FloatHistogram
				if ph.IsFloatHistogram() {
					fh = ph.ToFloatHistogram()
				} else {
					h = ph.ToIntHistogram()
				}
				sameHistogram(t, "encoded", series[i].Histograms[j], ph.Timestamp, h, fh)
			}
		}
	}
}

// TestHistogramDecodeErrors: damaged or contradictory messages are
// refused with ErrInvalid, never half-read.
func TestHistogramDecodeErrors(t *testing.T) {
	good := AppendHistogram(nil, HistogramSample{T: 5, H: &histogram.Histogram{Count: 2, PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{1, 0}}})
	if _, err := DecodeHistogram(good); err != nil {
		t.Fatal(err)
	}
	mixed := append([]byte(nil), good...)
	mixed = appendDoubles(mixed, fieldHPosCounts, []float64{1}) // float counts in an integer histogram
	cases := map[string][]byte{
		"truncated":                 good[:len(good)-1],
		"integer with float counts": mixed,
		"float with deltas": append(AppendHistogram(nil, HistogramSample{FH: &histogram.FloatHistogram{Count: 1}}),
			appendSint64s(nil, fieldHPosDeltas, []int64{1})...),
		"reset hint 9":              append(append([]byte(nil), good...), 14<<3, 9),
		"packed doubles of 7 bytes": append(append([]byte(nil), good...), fieldHPosCounts<<3|2, 7, 0, 0, 0, 0, 0, 0, 0),
	}
	for name, b := range cases {
		if _, err := DecodeHistogram(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}
