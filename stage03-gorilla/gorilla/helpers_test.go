package gorilla

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// dataset is one shape of input the tests run every check against.
type dataset struct {
	name string
	ts   []int64
	vs   []float64
}

// datasets returns inputs that reach every branch of the format: each dod
// bucket and its edges, repeats, window reuse, new windows, the 5-bit clamp,
// 64-bit windows, special floats, and integer differences of every size.
func datasets() []dataset {
	rng := rand.New(rand.NewPCG(7, 11))
	var out []dataset
	add := func(name string, ts []int64, vs []float64) { out = append(out, dataset{name, ts, vs}) }

	add("empty", nil, nil)
	add("one", []int64{1_700_000_000_000}, []float64{42})
	add("two", []int64{-5, 1 << 40}, []float64{1, 2})

	// dod edges: 0, ±63/64/65, 65535/65536/65537, 8388607/8388608/8388609, huge.
	dods := []int64{0, 1, -1, 63, 64, 65, -63, -64, -65, 65535, 65536, 65537, -65535, -65536,
		8388607, 8388608, 8388609, -8388607, -8388608, 1 << 40, -(1 << 40), math.MaxInt64 / 4}
	ts := []int64{0, 10000}
	for _, d := range dods {
		n := len(ts)
		ts = append(ts, ts[n-1]+(ts[n-1]-ts[n-2])+d)
	}
	vs := make([]float64, len(ts))
	for i := range vs {
		vs[i] = float64(i % 3)
	}
	add("dod-edges", ts, vs)

	special := []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64,
		math.SmallestNonzeroFloat64, -math.MaxFloat64, 1, math.Float64frombits(1), math.Float64frombits(1<<63 | 1),
		math.Pi, math.Nextafter(math.Pi, 0), 1e300, -1e-300, math.Float64frombits(0x7ff8000000000001)}
	ts = make([]int64, len(special))
	for i := range ts {
		ts[i] = int64(i) * 15000
	}
	add("special-floats", ts, special)

	n := 1000
	ts, vs = make([]int64, n), make([]float64, n)
	for i := range ts {
		ts[i] = int64(i)*1000 + rng.Int64N(200) - 100
		vs[i] = math.Float64frombits(rng.Uint64())
	}
	add("random-bits", ts, vs)

	ts, vs = make([]int64, n), make([]float64, n)
	v := 100.0
	for i := range ts {
		ts[i] = 1_704_067_200_000 + int64(i)*10000
		if rng.IntN(3) == 0 {
			v += rng.NormFloat64()
		}
		vs[i] = v
	}
	add("random-walk", ts, vs)

	// A new window for every leading-zero count from 63 down to 2, so each
	// count reaches the 5-bit field: 31 is the largest stored as itself, 32
	// the first that must be clamped (unclamped, its bit 5 would spill into
	// the control bits), 63 the largest. Before each, a one-bit XOR at bit
	// 62 opens the window (1, 62), which the next XOR (fewer trailing zeros)
	// cannot reuse. Descending, because a window of 0 or 1 leading zeros
	// would take every later XOR. Once with a low bit set (a window of
	// 64-lz bits), once with a single bit (a 1-bit window).
	for _, oneBit := range []bool{false, true} {
		ts, vs = nil, nil
		prev := uint64(0)
		put := func(x uint64) {
			prev ^= x
			ts = append(ts, int64(len(ts))*1000)
			vs = append(vs, math.Float64frombits(prev))
		}
		put(0)
		for lz := 63; lz >= 2; lz-- {
			put(1 << 62)
			x := uint64(1) << (63 - lz)
			if !oneBit {
				x |= 1
			}
			put(x)
		}
		add(fmt.Sprintf("leading-zero-edges-onebit=%v", oneBit), ts, vs)
	}

	ts, vs = Synthetic(3000, 3)
	add("synthetic", ts, vs)

	// Decreasing and wildly jumping timestamps still round-trip.
	ts, vs = make([]int64, 200), make([]float64, 200)
	for i := range ts {
		ts[i] = rng.Int64() - math.MaxInt64/2
		vs[i] = float64(rng.IntN(5))
	}
	add("unordered", ts, vs)
	return out
}

// integerDatasets are inputs the Integer encoding accepts, covering its buckets.
func integerDatasets() []dataset {
	rng := rand.New(rand.NewPCG(5, 9))
	var out []dataset
	deltas := []int64{0, 1, -1, 2, -2, 3, -3, 32, 33, -32, -33, 4096, 4097, -4096, -4097,
		8388608, 8388609, -8388608, -8388609, 1 << 50, -(1 << 50)}
	ts := make([]int64, len(deltas)+1)
	vs := make([]float64, len(deltas)+1)
	for i, d := range deltas {
		ts[i+1] = int64(i+1) * 10000
		vs[i+1] = vs[i] + float64(d)
	}
	out = append(out, dataset{"int-bucket-edges", ts, vs})
	n := 2000
	ts, vs = make([]int64, n), make([]float64, n)
	v := 50.0
	for i := range ts {
		ts[i] = int64(i) * 10000
		v += float64(rng.IntN(5) - 2)
		vs[i] = v
	}
	out = append(out, dataset{"int-walk", ts, vs})
	// Regular timestamps and differences from every bucket, each bucket's
	// edges included, far from the chunk's end: the decoders' paths for
	// dod 0 with a wider difference (counters), not only at the tail.
	ts, vs = make([]int64, n), make([]float64, n)
	v = 0
	for i := range ts {
		ts[i] = int64(i) * 15000
		half := int64(1) << []int{1, 5, 12, 23, 40}[rng.IntN(5)]
		d := rng.Int64N(2*half+1) - half
		if rng.IntN(8) == 0 {
			d = []int64{-half, half, half + 1, -half - 1}[rng.IntN(4)]
		}
		v += float64(d)
		vs[i] = v
	}
	out = append(out, dataset{"int-counter-buckets", ts, vs})
	out = append(out, dataset{"int-extremes", []int64{1, 2, 3, 4}, []float64{-(1 << 63), 1 << 62, -(1 << 63), 0}})
	return out
}

func mustEncode(t testing.TB, ts []int64, vs []float64, enc Encoding) *Chunk {
	t.Helper()
	c, err := Encode(ts, vs, enc)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return c
}

// sameSamples compares decoded samples bit for bit (NaN == NaN, -0 != 0).
func sameSamples(t *testing.T, gotT []int64, gotV []float64, wantT []int64, wantV []float64) {
	t.Helper()
	if len(gotT) != len(wantT) || len(gotV) != len(wantV) {
		t.Fatalf("got %d/%d samples, want %d", len(gotT), len(gotV), len(wantT))
	}
	for i := range wantT {
		if gotT[i] != wantT[i] || math.Float64bits(gotV[i]) != math.Float64bits(wantV[i]) {
			t.Fatalf("sample %d: got (%d, %v) want (%d, %v)", i, gotT[i], gotV[i], wantT[i], wantV[i])
		}
	}
}

// iterateAll collects what an iterator yields.
func iterateAll(it *Iterator) ([]int64, []float64) {
	var ts []int64
	var vs []float64
	for it.Next() {
		t, v := it.At()
		ts = append(ts, t)
		vs = append(vs, v)
	}
	return ts, vs
}

// bitString renders bits [from, from+n) of b as '0'/'1' characters.
func bitString(b []byte, from, n int) string {
	s := make([]byte, n)
	for i := range n {
		p := from + i
		s[i] = '0' + b[p/8]>>(7-uint(p%8))&1
	}
	return string(s)
}
