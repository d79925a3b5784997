package gorilla

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// checkRoundTrip encodes ts/hs in chunks of at most per samples and checks
// that decoding gives every sample back.
func checkRoundTrip(t *testing.T, ts []int64, hs []*histogram.Histogram, per int) []*HistogramChunk {
	t.Helper()
	chunks := encodeHistograms(t, ts, hs, per)
	i := 0
	var fit HistogramIterator
	for ci, c := range chunks {
		gotT, gotH := decodeHistograms(t, c.Bytes())
		fit.Reset(c.Bytes())
		if len(gotT) != c.NumSamples() {
			t.Fatalf("chunk %d: %d samples decoded, header says %d", ci, len(gotT), c.NumSamples())
		}
		for k := range gotT {
			if gotT[k] != ts[i] || !sameHistogram(gotH[k], hs[i]) {
				t.Fatalf("chunk %d sample %d (input %d):\n got %d %+v\nwant %d %+v", ci, k, i, gotT[k], gotH[k], ts[i], hs[i])
			}
			if err := gotH[k].Validate(); err != nil {
				t.Fatalf("sample %d decodes invalid: %v", i, err)
			}
			// The float view of the same sample is its ToFloat.
			fit.Next()
			_, fh := fit.AtFloatHistogram(nil)
			if !sameFloatHistogram(fh, hs[i].ToFloat()) {
				t.Fatalf("sample %d: AtFloatHistogram %+v, want %+v", i, fh, hs[i].ToFloat())
			}
			i++
		}
	}
	if i != len(hs) {
		t.Fatalf("%d samples decoded, %d appended", i, len(hs))
	}
	return chunks
}

func TestHistogramChunkRoundTripSynthetic(t *testing.T) {
	ts, hs := SyntheticHistograms(720, 1)
	chunks := checkRoundTrip(t, ts, hs, 120)
	if len(chunks) != 6 {
		t.Fatalf("%d chunks, want 6 (a counter never resets, the layout only grows)", len(chunks))
	}
	// The data adds buckets inside chunks, so some chunk was recoded: its
	// layout is wider than its first sample's.
	recoded := 0
	for ci, c := range chunks {
		_, got := decodeHistograms(t, c.Bytes())
		if !spansEqual(got[0].PositiveSpans, hs[ci*120].PositiveSpans) {
			recoded++
		}
	}
	if recoded == 0 {
		t.Fatal("no chunk was recoded: the test does not exercise new buckets")
	}
}

func TestHistogramChunkRoundTripRandom(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		ts, hs := randomHistograms(rng, 1+rng.IntN(200), seed%5 == 0)
		checkRoundTrip(t, ts, hs, 1+rng.IntN(150))
	}
}

// A sample whose spans are the chunk's comes back exactly as appended, hint
// included.
func TestHistogramChunkExact(t *testing.T) {
	h0 := &histogram.Histogram{
		CounterResetHint: histogram.CounterReset,
		Schema:           0, ZeroThreshold: 0.001, ZeroCount: 1, Count: 7, Sum: 16,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 3}, {Offset: 1, Length: 1}},
		PositiveBuckets: []int64{1, 0, 1, -1},
		NegativeSpans:   []histogram.Span{{Offset: 1, Length: 1}},
		NegativeBuckets: []int64{1},
	}
	h1 := h0.Copy()
	h1.CounterResetHint = histogram.NotCounterReset
	h1.Count, h1.Sum, h1.PositiveBuckets = 9, 19.5, []int64{1, 2, -1, -1}
	c := NewHistogramChunk()
	a, err := c.Appender()
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range []*histogram.Histogram{h0, h1} {
		if err := a.Append(int64(i)*1000, h); err != nil {
			t.Fatal(err)
		}
	}
	if c.CounterResetHint() != histogram.CounterReset {
		t.Fatalf("header hint %v", c.CounterResetHint())
	}
	if NumSamples(c.Bytes()) != 2 {
		t.Fatalf("NumSamples of the bytes: %d", NumSamples(c.Bytes()))
	}
	_, got := decodeHistograms(t, c.Bytes())
	for i, want := range []*histogram.Histogram{h0, h1} {
		if !exactHistogram(got[i], want) {
			t.Fatalf("sample %d: got %+v, want %+v", i, got[i], want)
		}
	}
}

func exactHistogram(a, b *histogram.Histogram) bool {
	return a.CounterResetHint == b.CounterResetHint && sameHistogram(a, b) &&
		spansEqual(a.PositiveSpans, b.PositiveSpans) && spansEqual(a.NegativeSpans, b.NegativeSpans) &&
		len(a.PositiveBuckets) == len(b.PositiveBuckets) && len(a.NegativeBuckets) == len(b.NegativeBuckets)
}

// An appender resumed from the chunk's bytes (as after a restart) every
// 10th sample writes the same bytes as one that never stopped.
func TestHistogramAppenderResume(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	ts, hs := randomHistograms(rng, 120, false)
	c := NewHistogramChunk()
	a, _ := c.Appender()
	n := 0
	for i, h := range hs {
		if i%10 == 0 && i > 0 {
			var err error
			if c, err = HistogramChunkFromBytes(append([]byte(nil), c.Bytes()...)); err != nil {
				t.Fatal(err)
			}
			if a, err = c.Appender(); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Append(ts[i], h); err != nil {
			if !errors.Is(err, ErrNotAppendable) {
				t.Fatal(err)
			}
			break
		}
		n++
	}
	if n < 20 {
		t.Fatalf("only %d samples fit one chunk: the test resumes too rarely", n)
	}
	want := encodeHistograms(t, ts[:n], hs[:n], 1000)[0].Bytes()
	if !bytes.Equal(c.Bytes(), want) {
		t.Fatalf("resumed appender wrote different bytes (%d vs %d)", len(c.Bytes()), len(want))
	}
}

// Appending to a chunk loaded from bytes never writes into those bytes.
func TestHistogramAppenderCopiesBytes(t *testing.T) {
	ts, hs := SyntheticHistograms(20, 2)
	b := encodeHistograms(t, ts[:10], hs[:10], 100)[0].Bytes()
	orig := append([]byte(nil), b...)
	c, err := HistogramChunkFromBytes(b[:len(b):len(b)])
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Appender()
	if err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 20; i++ {
		if err := a.Append(ts[i], hs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(b, orig) {
		t.Fatal("the caller's bytes changed")
	}
	gotT, gotH := decodeHistograms(t, c.Bytes())
	for i := range 20 {
		if gotT[i] != ts[i] || !sameHistogram(gotH[i], hs[i]) {
			t.Fatalf("sample %d differs", i)
		}
	}
}

func TestHistogramAppendable(t *testing.T) {
	base := func() *histogram.Histogram {
		return &histogram.Histogram{
			Schema: 1, ZeroThreshold: 0.01, ZeroCount: 2, Count: 12, Sum: 30,
			PositiveSpans:   []histogram.Span{{Offset: 2, Length: 2}, {Offset: 3, Length: 1}},
			PositiveBuckets: []int64{3, 0, -2}, // 3, 3, 1 at indexes 2, 3, 7
			NegativeSpans:   []histogram.Span{{Offset: 0, Length: 1}},
			NegativeBuckets: []int64{1},
		}
	}
	for _, tc := range []struct {
		name  string
		gauge bool
		next  func(h *histogram.Histogram)
		want  error // nil: appended
	}{
		{"same layout, counts up", false, func(h *histogram.Histogram) { h.Count, h.PositiveBuckets[0] = 13, 4 }, nil},
		{"schema change", false, func(h *histogram.Histogram) { h.Schema = 2 }, ErrLayoutChange},
		{"zero threshold change", false, func(h *histogram.Histogram) { h.ZeroThreshold = 0.02 }, ErrLayoutChange},
		{"count down", false, func(h *histogram.Histogram) { h.Count = 11 }, ErrCounterReset},
		{"zero count down", false, func(h *histogram.Histogram) { h.ZeroCount = 1 }, ErrCounterReset},
		{"bucket down", false, func(h *histogram.Histogram) { h.Count, h.PositiveBuckets = 13, []int64{4, -2, -1} }, ErrCounterReset},
		{"explicit reset hint", false, func(h *histogram.Histogram) { h.CounterResetHint = histogram.CounterReset }, ErrCounterReset},
		{"used bucket removed", false, func(h *histogram.Histogram) {
			h.PositiveSpans, h.PositiveBuckets, h.Count = []histogram.Span{{Offset: 2, Length: 2}}, []int64{3, 0}, 11+1
		}, ErrCounterReset},
		{"new buckets at both ends and between", false, func(h *histogram.Histogram) {
			h.PositiveSpans = []histogram.Span{{Offset: 0, Length: 1}, {Offset: 1, Length: 3}, {Offset: 2, Length: 1}, {Offset: 1, Length: 1}}
			h.PositiveBuckets = []int64{5, -2, 0, 1, -3, 2} // 5, 3, 3, 4, 1, 3 at 0, 2, 3, 4, 7, 9
			h.Count = 24
		}, nil},
		{"gauge: bucket down and removed", true, func(h *histogram.Histogram) {
			h.CounterResetHint = histogram.GaugeType
			h.PositiveSpans, h.PositiveBuckets, h.Count, h.ZeroCount = []histogram.Span{{Offset: 3, Length: 1}}, []int64{1}, 3, 1
		}, nil},
		{"gauge after counter", false, func(h *histogram.Histogram) { h.CounterResetHint = histogram.GaugeType }, ErrLayoutChange},
		{"counter after gauge", true, func(h *histogram.Histogram) { h.CounterResetHint = histogram.NotCounterReset }, ErrLayoutChange},
		{"invalid", false, func(h *histogram.Histogram) { h.PositiveBuckets = h.PositiveBuckets[:2] }, histogram.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h0 := base()
			if tc.gauge {
				h0.CounterResetHint = histogram.GaugeType
			}
			c := NewHistogramChunk()
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
				// The appender is still usable.
				if err := a.Append(3000, h0); err != nil {
					t.Fatalf("append after a refusal: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, got := decodeHistograms(t, c.Bytes())
			if !sameHistogram(got[0], h0) || !sameHistogram(got[1], h1) {
				t.Fatalf("got %+v %+v", got[0], got[1])
			}
		})
	}
}

// A bucket with count 0 in the previous sample may be missing from the
// next one: it is stored as 0, no counter reset.
func TestHistogramEmptyBucketMayGo(t *testing.T) {
	h0 := &histogram.Histogram{Schema: 0, Count: 3, Sum: 3,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 3}}, PositiveBuckets: []int64{1, -1, 2}} // 1, 0, 2
	h1 := &histogram.Histogram{Schema: 0, Count: 5, Sum: 5,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}, {Offset: 1, Length: 1}}, PositiveBuckets: []int64{2, 1}} // 2, _, 3
	c := NewHistogramChunk()
	a, _ := c.Appender()
	for i, h := range []*histogram.Histogram{h0, h1} {
		if err := a.Append(int64(i), h); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
	}
	_, got := decodeHistograms(t, c.Bytes())
	if !sameHistogram(got[1], h1) || !spansEqual(got[1].PositiveSpans, h0.PositiveSpans) {
		t.Fatalf("got %+v", got[1])
	}
}

func TestHistogramStaleMarker(t *testing.T) {
	stale := math.Float64frombits(staleNaN)
	ts, hs := SyntheticHistograms(3, 4)
	c := NewHistogramChunk()
	a, _ := c.Appender()
	for i := range 3 {
		if err := a.Append(ts[i], hs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Append(ts[2]+1, &histogram.Histogram{Sum: stale}); err != nil {
		t.Fatal(err)
	}
	if err := a.Append(ts[2]+2, &histogram.Histogram{Sum: stale}); err != nil {
		t.Fatal(err)
	}
	if err := a.Append(ts[2]+3, hs[2]); !errors.Is(err, ErrLayoutChange) {
		t.Fatalf("a sample after a marker: %v, want ErrLayoutChange", err)
	}
	gotT, gotH := decodeHistograms(t, c.Bytes())
	if len(gotH) != 5 || gotT[4] != ts[2]+2 || !isStale(gotH[3].Sum) || !isStale(gotH[4].Sum) || len(gotH[4].PositiveBuckets) != 0 {
		t.Fatalf("got %v %+v", gotT, gotH)
	}
	if !sameHistogram(gotH[2], hs[2]) {
		t.Fatal("sample before the markers changed")
	}
	// A chunk may start with a marker.
	c = NewHistogramChunk()
	a, _ = c.Appender()
	if err := a.Append(5, &histogram.Histogram{Sum: stale}); err != nil {
		t.Fatal(err)
	}
	if _, gotH := decodeHistograms(t, c.Bytes()); len(gotH) != 1 || !isStale(gotH[0].Sum) {
		t.Fatalf("got %+v", gotH)
	}
}

// Iterating with a destination to reuse allocates nothing per sample.
func TestHistogramIteratorReuseNoAllocs(t *testing.T) {
	ts, hs := SyntheticHistograms(120, 5)
	b := encodeHistograms(t, ts, hs, 120)[0].Bytes()
	it := NewHistogramIterator(b)
	var h histogram.Histogram
	var fh histogram.FloatHistogram
	pass := func() {
		it.Reset(b)
		for it.Next() {
			it.AtHistogram(&h)
			it.AtFloatHistogram(&fh)
		}
	}
	pass()
	if n := testing.AllocsPerRun(20, pass); n != 0 && !raceEnabled {
		t.Fatalf("%v allocations per pass, want 0", n)
	}
	// The reused destination holds the last sample, sharing nothing.
	if !sameHistogram(&h, hs[119]) {
		t.Fatal("last sample differs")
	}
}

func TestHistogramSeekTo(t *testing.T) {
	ts, hs := SyntheticHistograms(50, 6)
	b := encodeHistograms(t, ts, hs, 120)[0].Bytes()
	it := NewHistogramIterator(b)
	if !it.SeekTo(ts[10]+1) || it.AtT() != ts[11] {
		t.Fatalf("SeekTo: at %d, want %d", it.AtT(), ts[11])
	}
	if !it.SeekTo(ts[3]) || it.AtT() != ts[11] {
		t.Fatal("SeekTo moved backwards")
	}
	if _, h := it.AtHistogram(nil); !sameHistogram(h, hs[11]) {
		t.Fatal("wrong sample after SeekTo")
	}
	if it.SeekTo(ts[49] + 1) {
		t.Fatal("SeekTo past the end found a sample")
	}
}

// Every truncation and many bit flips of a valid chunk give ErrCorrupt or
// valid samples, never a panic.
func TestHistogramCorrupt(t *testing.T) {
	ts, hs := SyntheticHistograms(40, 7)
	b := encodeHistograms(t, ts, hs, 120)[0].Bytes()
	for n := range len(b) {
		it := NewHistogramIterator(b[:n])
		for it.Next() {
		}
		if !errors.Is(it.Err(), ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: %v, want ErrCorrupt", n, it.Err())
		}
	}
	for i := 0; i < len(b)*8; i += max(1, len(b)*8/400) {
		fl := append([]byte(nil), b...)
		fl[i/8] ^= 0x80 >> (i % 8)
		it := NewHistogramIterator(fl)
		for it.Next() {
			it.AtHistogram(nil)
		}
		if err := it.Err(); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bit %d: %v does not wrap ErrCorrupt", i, err)
		}
	}
	b2 := append(append([]byte(nil), b...), 0)
	it := NewHistogramIterator(b2)
	for it.Next() {
	}
	if !errors.Is(it.Err(), ErrCorrupt) {
		t.Fatal("a trailing byte was accepted")
	}
}

func TestHistogramChunkFull(t *testing.T) {
	h := &histogram.Histogram{Schema: 0, Count: 1, Sum: 1, PositiveSpans: []histogram.Span{{Length: 1}}, PositiveBuckets: []int64{1}}
	c := NewHistogramChunk()
	a, _ := c.Appender()
	for i := range MaxHistogramSamples {
		if err := a.Append(int64(i), h); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Append(MaxHistogramSamples, h); !errors.Is(err, ErrChunkFull) {
		t.Fatalf("got %v, want ErrChunkFull", err)
	}
	if n, _ := decodeHistograms(t, c.Bytes()); len(n) != MaxHistogramSamples {
		t.Fatalf("%d samples", len(n))
	}
}
