package delta

import (
	"math"
	"slices"
	"testing"
)

func TestAppendTimestampsGuideExample(t *testing.T) {
	// The guide: 1000, 1010, 1020, 1030, 1040 -> first 1000, deltas 10, 10,
	// 10, 10, delta-of-deltas 10, 0, 0, 0 -> zig-zag 20, 0, 0, 0. Four
	// one-byte varints beat one 8-byte Simple-8b word.
	ts := []int64{1000, 1010, 1020, 1030, 1040}
	got := AppendTimestamps(nil, ts)
	want := []byte{
		0xe8, 0x03, 0, 0, 0, 0, 0, 0, // 1000, int64 little-endian
		0x00, 0x04, // varint codec, 4 bytes
		0x14, 0x00, 0x00, 0x00, // 20, 0, 0, 0
	}
	if string(got) != string(want) {
		t.Fatalf("AppendTimestamps = % x, want % x", got, want)
	}
	back := make([]int64, len(ts))
	if rest, err := DecodeTimestamps(back, got); err != nil || len(rest) != 0 || !slices.Equal(back, ts) {
		t.Fatalf("DecodeTimestamps = %v, %v (rest %d)", back, err, len(rest))
	}
}

func TestTimestampsExtremes(t *testing.T) {
	for _, ts := range [][]int64{
		{math.MinInt64},
		{math.MaxInt64, math.MinInt64},
		{math.MinInt64, math.MaxInt64, math.MinInt64, 0, -1, math.MaxInt64, math.MaxInt64},
		{5, 4, 3, 2, 1, 0, -1}, // time going backwards
	} {
		enc := AppendTimestamps(nil, ts)
		back := make([]int64, len(ts))
		rest, err := DecodeTimestamps(back, enc)
		if err != nil || len(rest) != 0 || !slices.Equal(back, ts) {
			t.Errorf("%v: decoded %v, err %v, rest %d", ts, back, err, len(rest))
		}
	}
}
