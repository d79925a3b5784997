package delta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBytePlanesGuideExample(t *testing.T) {
	// The guide's timestamps again: codes 20, 0, 0, 0 all fit one byte,
	// so one plane of 4 bytes.
	ts := []int64{1000, 1010, 1020, 1030, 1040}
	got := AppendTimestampsLayout(nil, ts, BytePlanes)
	want := []byte{
		0xe8, 0x03, 0, 0, 0, 0, 0, 0, // 1000
		0x02, 0x05, // planes codec, 5 bytes
		0x01,                   // width 1
		0x14, 0x00, 0x00, 0x00, // 20, 0, 0, 0
	}
	if string(got) != string(want) {
		t.Fatalf("AppendTimestampsLayout = % x, want % x", got, want)
	}
	back := make([]int64, len(ts))
	if rest, err := DecodeTimestamps(back, got); err != nil || len(rest) != 0 || !slices.Equal(back, ts) {
		t.Fatalf("DecodeTimestamps = %v, %v (rest %d)", back, err, len(rest))
	}
	// Two-byte codes: 300 = 0x012c and 2 -> plane 0 = 2c 02, plane 1 = 01 00.
	vs := []float64{150, 151}
	got = AppendValuesLayout(nil, vs, BytePlanes)
	want = []byte{0x00, 0x02, 0x05, 0x02, 0x2c, 0x02, 0x01, 0x00, 0x00}
	if string(got) != string(want) {
		t.Fatalf("AppendValuesLayout = % x, want % x", got, want)
	}
}

// Every width from 1 to 8 bytes, exceptions and extremes: byte planes
// decode to what the packed layout decodes to, bit for bit.
func TestBytePlanesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for w := 1; w <= 8; w++ {
		n := 1 + rng.IntN(700)
		ts, vs := make([]int64, n), make([]float64, n)
		lim := uint64(1) << (8*w - 2)
		for i := range n {
			ts[i] = int64(rng.Uint64N(lim)) - int64(lim/2)
			vs[i] = float64(int64(rng.Uint64N(min(lim, 1<<52))))
			if i%31 == 3 {
				vs[i] = math.Float64frombits(0x7ff0000000000002) // staleness marker
			}
		}
		ts = append(ts, math.MinInt64, math.MaxInt64)
		vs = append(vs, math.Inf(-1), math.Copysign(0, -1))
		for _, layout := range []Layout{Packed, BytePlanes} {
			gotT, gotV := make([]int64, len(ts)), make([]float64, len(vs))
			if _, err := DecodeTimestamps(gotT, AppendTimestampsLayout(nil, ts, layout)); err != nil || !slices.Equal(gotT, ts) {
				t.Fatalf("width %d layout %d: timestamps: %v", w, layout, err)
			}
			if _, err := DecodeValues(gotV, AppendValuesLayout(nil, vs, layout)); err != nil {
				t.Fatalf("width %d layout %d: values: %v", w, layout, err)
			}
			for i := range vs {
				if math.Float64bits(gotV[i]) != math.Float64bits(vs[i]) {
					t.Fatalf("width %d layout %d: value %d = %#x, want %#x", w, layout, i, math.Float64bits(gotV[i]), math.Float64bits(vs[i]))
				}
			}
		}
	}
}

// Compress never writes planes (they are larger alone), and the decoder
// checks the width and the length.
func TestBytePlanesRejects(t *testing.T) {
	ts := []int64{0, 1, 5, 20, 21, 300}
	if c := AppendTimestamps(nil, ts); Codec(c[8]) == Planes {
		t.Fatal("packed layout chose planes")
	}
	for _, body := range [][]byte{{}, {0}, {9, 1, 2, 3, 4, 5}, {1, 1, 2, 3, 4}, {1, 1, 2, 3, 4, 5, 6}, {2, 1, 2, 3, 4, 5}} {
		col := binary.LittleEndian.AppendUint64(nil, 7)
		col = append(col, byte(Planes))
		col = AppendUvarint(col, uint64(len(body)))
		col = append(col, body...)
		if _, err := DecodeTimestamps(make([]int64, 6), col); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("planes body % x for 5 codes: %v", body, err)
		}
	}
}

func FuzzBytePlanes(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, raw []byte) {
		u := make([]uint64, len(raw)/8)
		for i := range u {
			u[i] = binary.LittleEndian.Uint64(raw[8*i:]) >> (raw[8*i] % 64)
		}
		body := appendPlanes(nil, u)
		back := make([]uint64, len(u))
		if err := decodePlanes(back, body); err != nil || !slices.Equal(back, u) {
			t.Fatalf("%v -> % x -> %v, %v", u, body, back, err)
		}
		// Arbitrary bytes as a body: an error or values, never a panic.
		decodePlanes(back, raw)
	})
}

// DecodeColumns reads the two columns in either layout, hands back what
// follows them, and refuses columns of different lengths.
func TestDecodeColumns(t *testing.T) {
	ts := []int64{10, 20, 35, 50}
	vs := []float64{1.5, math.NaN(), -2, 1e300}
	for _, layout := range []Layout{Packed, BytePlanes} {
		src := AppendValuesLayout(AppendTimestampsLayout(nil, ts, layout), vs, layout)
		src = append(src, 0xAB)
		gotT, gotV := make([]int64, 4), make([]float64, 4)
		rest, err := DecodeColumns(gotT, gotV, src)
		if err != nil || len(rest) != 1 || rest[0] != 0xAB || !slices.Equal(gotT, ts) {
			t.Fatalf("layout %d: %v %v, rest % x, %v", layout, gotT, gotV, rest, err)
		}
		for i := range vs {
			if math.Float64bits(gotV[i]) != math.Float64bits(vs[i]) {
				t.Fatalf("layout %d: value %d = %v", layout, i, gotV[i])
			}
		}
		if _, err := DecodeColumns(gotT, gotV[:3], src); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("mismatched lengths: %v", err)
		}
	}
}

// BenchmarkDecodePlanes: a byte-plane column of 8,192 integers (a cold
// chunk's worth) at widths 1, 2 and 3 decoded back; ns/value.
func BenchmarkDecodePlanes(b *testing.B) {
	for _, w := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("w%d", w), func(b *testing.B) {
			u := make([]uint64, 8192)
			for i := range u {
				u[i] = uint64(i*2654435761) & (1<<(8*w) - 1)
			}
			body := appendPlanes(nil, u)
			dst := make([]int64, len(u))
			for b.Loop() {
				if err := decodePlanes(dst, body); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(u)), "ns/value")
		})
	}
}

// TestS8bShareBound: the Simple-8b words that s8bShare sums up never
// exceed what Simple8bLen counts, on columns of every width and on
// mixtures, and come within a word of it on a column of one width.
func TestS8bShareBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 2000 {
		n := 1 + rng.IntN(400)
		u := make([]uint64, n)
		b := rng.IntN(65)
		for i := range u {
			if round%2 == 1 { // a mixture of widths
				b = rng.IntN(65)
			}
			if b > 0 {
				u[i] = 1<<(b-1) | rng.Uint64()&(1<<(b-1)-1)
			}
		}
		share := 0
		for _, x := range u {
			share += int(s8bShare[bits.Len64(x)])
		}
		bound, got := 8*((share+s8bWord-1)/s8bWord), Simple8bLen(u)
		if bound > got {
			t.Fatalf("round %d: bound %d bytes, Simple-8b %d", round, bound, got)
		}
		if round%2 == 0 && got-bound > 8*(1+n/200) {
			t.Fatalf("round %d (%d values of %d bits): bound %d bytes, Simple-8b %d", round, n, b, bound, got)
		}
	}
}
