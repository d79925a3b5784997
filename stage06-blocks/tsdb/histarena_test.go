package tsdb

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// TestHistArena: what the arena hands out equals what Copy and ToFloat
// make (nil and empty slices kept apart), and each histogram is its
// own: growing or changing one leaves the others as they were.
func TestHistArena(t *testing.T) {
	var a histArena
	h := &histogram.Histogram{Schema: 1, ZeroThreshold: 0.5, ZeroCount: 2, Count: 9, Sum: 3,
		PositiveSpans: []histogram.Span{{Offset: -1, Length: 2}}, PositiveBuckets: []int64{3, 1},
		NegativeSpans: []histogram.Span{}, NegativeBuckets: []int64{}}
	fh := &histogram.FloatHistogram{Schema: histogram.CustomBucketsSchema, Count: 4, Sum: 1,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 1}}, PositiveBuckets: []float64{4}, CustomValues: []float64{1, 2}}
	var ints []*histogram.Histogram
	var floats []*histogram.FloatHistogram
	for range 1000 { // several blocks
		ints = append(ints, a.copyHistogram(h))
		floats = append(floats, a.toFloat(h), a.copyFloatHistogram(fh))
	}
	for i := range ints {
		if !reflect.DeepEqual(ints[i], h.Copy()) || !reflect.DeepEqual(floats[2*i], h.ToFloat()) || !reflect.DeepEqual(floats[2*i+1], fh.Copy()) {
			t.Fatalf("%d: %+v %+v %+v", i, ints[i], floats[2*i], floats[2*i+1])
		}
	}
	// Appends to one must not reach the next one's buckets.
	for i := 0; i < len(ints); i += 2 {
		ints[i].PositiveBuckets = append(ints[i].PositiveBuckets, 99)
		ints[i].PositiveSpans = append(ints[i].PositiveSpans, histogram.Span{Offset: 9, Length: 9})
		floats[i].PositiveBuckets = append(floats[i].PositiveBuckets, 99)
		floats[i].PositiveBuckets[0] = -1
	}
	for i := 1; i < len(ints); i += 2 {
		if !reflect.DeepEqual(ints[i], h.Copy()) {
			t.Fatalf("%d changed by its neighbour: %+v", i, ints[i])
		}
	}
	for i := 1; i < len(floats); i += 2 {
		if !reflect.DeepEqual(floats[i], fh.Copy()) {
			t.Fatalf("%d changed by its neighbour: %+v", i, floats[i])
		}
	}
}

// TestHistArenaSmallReadsPinLittle: a histogram handed out keeps its whole
// block alive, so a read of a few histograms (an instant query's lookback
// window, one series of many) must not carve them from blocks sized for
// thousands: the first blocks are small and grow as the read does.
func TestHistArenaSmallReadsPinLittle(t *testing.T) {
	var a histArena
	h := &histogram.Histogram{Schema: 1, Count: 9, Sum: 3,
		PositiveSpans: []histogram.Span{{Offset: -1, Length: 2}}, PositiveBuckets: []int64{3, 1}}
	a.copyHistogram(h)
	a.toFloat(h)
	pinned := cap(a.hs)*int(unsafe.Sizeof(histogram.Histogram{})) + cap(a.fhs)*int(unsafe.Sizeof(histogram.FloatHistogram{})) +
		cap(a.spans)*int(unsafe.Sizeof(histogram.Span{})) + 8*cap(a.ints) + 8*cap(a.floats)
	if pinned > 4<<10 {
		t.Fatalf("two histograms of two buckets hold %d bytes of blocks", pinned)
	}
	for range 10_000 { // a long read still gets large blocks
		a.copyHistogram(h)
	}
	if cap(a.hs) < 1<<12 {
		t.Fatalf("after 10,000 histograms the block holds %d", cap(a.hs))
	}
}
