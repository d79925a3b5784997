package delta

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

func TestZigZag(t *testing.T) {
	// The mapping the guide spells out, and the two ends of int64.
	cases := []struct {
		x int64
		u uint64
	}{
		{0, 0}, {-1, 1}, {1, 2}, {-2, 3}, {2, 4}, {-64, 127}, {64, 128},
		{math.MaxInt64, math.MaxUint64 - 1}, {math.MinInt64, math.MaxUint64},
	}
	for _, c := range cases {
		if got := ZigZag(c.x); got != c.u {
			t.Errorf("ZigZag(%d) = %d, want %d", c.x, got, c.u)
		}
		if got := UnZigZag(c.u); got != c.x {
			t.Errorf("UnZigZag(%d) = %d, want %d", c.u, got, c.x)
		}
	}
}

func TestZigZagMatchesEncodingBinary(t *testing.T) {
	// encoding/binary's signed varint is zig-zag followed by LEB128, so its
	// bytes must equal those of the unsigned varint of our code.
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		x := int64(r.Uint64()) >> r.IntN(64)
		if r.IntN(2) == 0 {
			x = -x
		}
		want := binary.AppendVarint(nil, x)
		got := binary.AppendUvarint(nil, ZigZag(x))
		if string(got) != string(want) {
			t.Fatalf("ZigZag(%d) = %d: varint %x, encoding/binary %x", x, ZigZag(x), got, want)
		}
		if UnZigZag(ZigZag(x)) != x {
			t.Fatalf("UnZigZag(ZigZag(%d)) = %d", x, UnZigZag(ZigZag(x)))
		}
	}
}
