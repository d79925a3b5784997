package gorilla

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

func checkFloatRoundTrip(t *testing.T, ts []int64, hs []*histogram.FloatHistogram, per int) []*FloatHistogramChunk {
	t.Helper()
	chunks := encodeFloatHistograms(t, ts, hs, per)
	i := 0
	for ci, c := range chunks {
		gotT, gotH := decodeFloatHistograms(t, c.Bytes())
		if len(gotT) != c.NumSamples() {
			t.Fatalf("chunk %d: %d samples decoded, header says %d", ci, len(gotT), c.NumSamples())
		}
		for k := range gotT {
			if gotT[k] != ts[i] || !sameFloatHistogram(gotH[k], hs[i]) {
				t.Fatalf("chunk %d sample %d (input %d):\n got %d %+v\nwant %d %+v", ci, k, i, gotT[k], gotH[k], ts[i], hs[i])
			}
			i++
		}
	}
	if i != len(hs) {
		t.Fatalf("%d samples decoded, %d appended", i, len(hs))
	}
	return chunks
}

// scaledFloats turns integer histograms into float ones with fractional
// counts (every count times f, a counter still).
func scaledFloats(hs []*histogram.Histogram, f float64) []*histogram.FloatHistogram {
	out := make([]*histogram.FloatHistogram, len(hs))
	for i, h := range hs {
		fh := h.ToFloat()
		fh.Count *= f
		fh.ZeroCount *= f
		for j := range fh.PositiveBuckets {
			fh.PositiveBuckets[j] *= f
		}
		for j := range fh.NegativeBuckets {
			fh.NegativeBuckets[j] *= f
		}
		out[i] = fh
	}
	return out
}

func TestFloatHistogramChunkRoundTripSynthetic(t *testing.T) {
	ts, hs := SyntheticFloatHistograms(720, 1)
	chunks := checkFloatRoundTrip(t, ts, hs, 120)
	if len(chunks) != 6 {
		t.Fatalf("%d chunks, want 6 (gauges never reset)", len(chunks))
	}
	for _, c := range chunks {
		if c.CounterResetHint() != histogram.GaugeType {
			t.Fatalf("chunk hint %v, want gauge", c.CounterResetHint())
		}
	}
}

func TestFloatHistogramChunkRoundTripRandom(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 8))
		ts, hs := randomHistograms(rng, 1+rng.IntN(200), seed%5 == 0)
		checkFloatRoundTrip(t, ts, scaledFloats(hs, 0.37), 1+rng.IntN(150))
	}
}

func TestFloatHistogramAppendable(t *testing.T) {
	base := func() *histogram.FloatHistogram {
		return &histogram.FloatHistogram{
			Schema: 1, ZeroThreshold: 0.01, ZeroCount: 2, Count: 12, Sum: 30,
			PositiveSpans:   []histogram.Span{{Offset: 2, Length: 2}, {Offset: 3, Length: 1}},
			PositiveBuckets: []float64{3, 3, 1},
			NegativeSpans:   []histogram.Span{{Offset: 0, Length: 1}},
			NegativeBuckets: []float64{1},
		}
	}
	for _, tc := range []struct {
		name  string
		gauge bool
		next  func(h *histogram.FloatHistogram)
		want  error
	}{
		{"counts up", false, func(h *histogram.FloatHistogram) { h.Count, h.PositiveBuckets[0] = 12.5, 3.5 }, nil},
		{"schema change", false, func(h *histogram.FloatHistogram) { h.Schema = 2 }, ErrLayoutChange},
		{"count down", false, func(h *histogram.FloatHistogram) { h.Count = 11.5 }, ErrCounterReset},
		{"bucket down", false, func(h *histogram.FloatHistogram) { h.PositiveBuckets[2] = 0.5 }, ErrCounterReset},
		{"used bucket removed", false, func(h *histogram.FloatHistogram) {
			h.PositiveSpans, h.PositiveBuckets = []histogram.Span{{Offset: 2, Length: 2}}, []float64{3, 3}
		}, ErrCounterReset},
		{"new buckets", false, func(h *histogram.FloatHistogram) {
			h.PositiveSpans = []histogram.Span{{Offset: 0, Length: 1}, {Offset: 1, Length: 3}, {Offset: 2, Length: 1}}
			h.PositiveBuckets = []float64{0.25, 3, 3, 4, 1}
			h.Count = 13.25
		}, nil},
		{"gauge: down and removed", true, func(h *histogram.FloatHistogram) {
			h.CounterResetHint = histogram.GaugeType
			h.PositiveSpans, h.PositiveBuckets, h.Count = []histogram.Span{{Offset: 3, Length: 1}}, []float64{0.5}, 1.5
		}, nil},
		{"gauge after counter", false, func(h *histogram.FloatHistogram) { h.CounterResetHint = histogram.GaugeType }, ErrLayoutChange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h0 := base()
			if tc.gauge {
				h0.CounterResetHint = histogram.GaugeType
			}
			c := NewFloatHistogramChunk()
			a, _ := c.Appender()
			if err := a.Append(1000, h0); err != nil {
				t.Fatal(err)
			}
			before := append([]byte(nil), c.Bytes()...)
			h1 := h0.Copy()
			tc.next(h1)
			err := a.Append(2000, h1)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				if !bytes.Equal(c.Bytes(), before) {
					t.Fatal("a refused append changed the chunk")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, got := decodeFloatHistograms(t, c.Bytes())
			if !sameFloatHistogram(got[0], h0) || !sameFloatHistogram(got[1], h1) {
				t.Fatalf("got %+v %+v", got[0], got[1])
			}
		})
	}
}

func TestFloatHistogramAppenderResume(t *testing.T) {
	ts, hs := SyntheticFloatHistograms(100, 9)
	want := encodeFloatHistograms(t, ts, hs, 1000)
	if len(want) != 1 {
		t.Fatalf("%d chunks", len(want))
	}
	c := NewFloatHistogramChunk()
	a, _ := c.Appender()
	for i, h := range hs {
		if i%10 == 0 && i > 0 {
			var err error
			if c, err = FloatHistogramChunkFromBytes(append([]byte(nil), c.Bytes()...)); err != nil {
				t.Fatal(err)
			}
			if a, err = c.Appender(); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Append(ts[i], h); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(c.Bytes(), want[0].Bytes()) {
		t.Fatal("resumed appender wrote different bytes")
	}
}

func TestFloatHistogramStaleAndReuse(t *testing.T) {
	ts, hs := SyntheticFloatHistograms(30, 10)
	c := NewFloatHistogramChunk()
	a, _ := c.Appender()
	for i := range 30 {
		if err := a.Append(ts[i], hs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Append(ts[29]+1, &histogram.FloatHistogram{Sum: math.Float64frombits(staleNaN)}); err != nil {
		t.Fatal(err)
	}
	if err := a.Append(ts[29]+2, hs[29]); !errors.Is(err, ErrLayoutChange) {
		t.Fatalf("after a marker: %v", err)
	}
	b := c.Bytes()
	it := NewFloatHistogramIterator(b)
	var h histogram.FloatHistogram
	pass := func() {
		it.Reset(b)
		for it.Next() {
			it.AtFloatHistogram(&h)
		}
	}
	pass()
	if !isStale(h.Sum) {
		t.Fatal("last sample is not the marker")
	}
	if n := testing.AllocsPerRun(20, pass); n != 0 && !raceEnabled {
		t.Fatalf("%v allocations per pass", n)
	}
}

func TestFloatHistogramCorrupt(t *testing.T) {
	ts, hs := SyntheticFloatHistograms(30, 11)
	b := encodeFloatHistograms(t, ts, hs, 120)[0].Bytes()
	for n := range len(b) {
		it := NewFloatHistogramIterator(b[:n])
		for it.Next() {
		}
		if !errors.Is(it.Err(), ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: %v, want ErrCorrupt", n, it.Err())
		}
	}
	for i := 0; i < len(b)*8; i += max(1, len(b)*8/400) {
		fl := append([]byte(nil), b...)
		fl[i/8] ^= 0x80 >> (i % 8)
		it := NewFloatHistogramIterator(fl)
		for it.Next() {
			it.AtFloatHistogram(nil)
		}
		if err := it.Err(); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bit %d: %v does not wrap ErrCorrupt", i, err)
		}
	}
}
