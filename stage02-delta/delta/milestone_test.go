package delta

import (
	"bytes"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tsdb-course/stage02-delta/gen"
	"github.com/tsdb-course/stage02-delta/raw"
)

// Milestone 1: basic delta encoding works.
func TestMilestone1_DeltaEncoding(t *testing.T) {
	t.Run("guide example", func(t *testing.T) {
		// ORIGINAL [1000 1010 1020 1030 1040] -> DELTAS [10 10 10 10]
		// -> DELTA-OF-DELTA [10 0 0 0], zig-zagged [20 0 0 0].
		u := make([]uint64, 4)
		timestampInts(u, []int64{1000, 1010, 1020, 1030, 1040})
		if !slices.Equal(u, []uint64{20, 0, 0, 0}) {
			t.Fatalf("stored integers %v, want [20 0 0 0]", u)
		}
	})

	t.Run("matches a naive delta-of-delta", func(t *testing.T) {
		// Oracle: the two difference passes written out separately.
		r := rand.New(rand.NewPCG(7, 8))
		ts := make([]int64, 1000)
		for i := 1; i < len(ts); i++ {
			ts[i] = ts[i-1] + 10000 + int64(r.IntN(201)) - 100
		}
		deltas := make([]int64, len(ts)-1)
		for i := range deltas {
			deltas[i] = ts[i+1] - ts[i]
		}
		want := []int64{deltas[0]}
		for i := 1; i < len(deltas); i++ {
			want = append(want, deltas[i]-deltas[i-1])
		}
		u := make([]uint64, len(ts)-1)
		timestampInts(u, ts)
		for i, x := range u {
			if UnZigZag(x) != want[i] {
				t.Fatalf("integer %d = %d, want %d", i, UnZigZag(x), want[i])
			}
		}
		back := make([]int64, len(ts))
		rest, err := DecodeTimestamps(back, AppendTimestamps(nil, ts))
		if err != nil || len(rest) != 0 || !slices.Equal(back, ts) {
			t.Fatalf("running sums do not rebuild the timestamps: %v", err)
		}
	})

	t.Run("regular scrape costs a fraction of a bit", func(t *testing.T) {
		// 125,000 timestamps 10 s apart: one 10000, then 124,998 zeros.
		// Simple-8b packs 240 zeros per 8-byte word, so the column is
		// 8 (t0) + 1 (codec) + 3 (length) + 8·⌈124,999/240⌉ bytes plus at
		// most three words for the head and the tail.
		const n = 125_000
		ts := make([]int64, n)
		for i := range ts {
			ts[i] = gen.Start + int64(i)*10_000
		}
		st := roundTrip(t, ts, make([]float64, n))
		limit := 12 + 8*((n-1+239)/240+3)
		if st.TimestampBytes > limit {
			t.Fatalf("timestamp column %d bytes, want ≤ %d", st.TimestampBytes, limit)
		}
		if st.AvgTimestampDelta != 10_000 {
			t.Fatalf("average delta %v, want 10000", st.AvgTimestampDelta)
		}
	})
}

// Milestone 2: variable-length integers reduce size further.
func TestMilestone2_VariableLength(t *testing.T) {
	t.Run("varint bytes follow the 7-bit rule", func(t *testing.T) {
		// "If delta fits in 7 bits: 1 byte; in 14 bits: 2 bytes; and so on."
		for bitsNeeded := 1; bitsNeeded <= 64; bitsNeeded++ {
			v := uint64(1) << (bitsNeeded - 1)
			want := (bitsNeeded + 6) / 7
			if got := len(AppendUvarint(nil, v)); got != want {
				t.Errorf("%d-bit value: %d bytes, want %d", bitsNeeded, got, want)
			}
		}
	})

	t.Run("simple8b packs small integers below a byte each", func(t *testing.T) {
		zeros := make([]uint64, 2400)
		if got := len(AppendSimple8b(nil, zeros)); got != 80 {
			t.Errorf("2400 zeros: %d bytes, want 80 (10 words of 240)", got)
		}
		small := make([]uint64, 1500)
		for i := range small {
			small[i] = uint64(i % 16) // 4 bits: 15 per word
		}
		if got := len(AppendSimple8b(nil, small)); got != 800 {
			t.Errorf("1500 4-bit values: %d bytes, want 800 (100 words of 15)", got)
		}
	})

	t.Run("generated data: both columns far below 8 bytes per value", func(t *testing.T) {
		ts, vs := gen.Series(125_000, gen.Seed)
		st := roundTrip(t, ts, vs)
		// Fixed-width deltas would cost 64 bits each.
		if st.TimestampBitsPerDelta > 16 || st.ValueBitsPerDelta > 16 {
			t.Errorf("bits/delta: timestamps %.2f, values %.2f; want ≤ 16 each",
				st.TimestampBitsPerDelta, st.ValueBitsPerDelta)
		}
		// Target: ratio ≥ 4 on the generated data.
		r := float64(len(raw.Encode(ts, vs))) / float64(st.CompressedBytes)
		t.Logf("generated: ratio %.2f, %.3f bytes/point, bits/delta: timestamps %.2f, values %.2f",
			r, st.BytesPerPoint(), st.TimestampBitsPerDelta, st.ValueBitsPerDelta)
		if r < 4 {
			t.Errorf("compression ratio %.2f, want ≥ 4", r)
		}
	})

	t.Run("TSBS cpu-only: ratio at least 8", func(t *testing.T) {
		var rawBytes, compressed int
		for _, s := range cpuOnly(t) {
			data, _ := Compress(s.T, s.V)
			rawBytes += len(raw.Encode(s.T, s.V))
			compressed += len(data)
		}
		r := float64(rawBytes) / float64(compressed)
		t.Logf("TSBS cpu-only: %d -> %d bytes, ratio %.2f, %.3f bytes/point",
			rawBytes, compressed, r, float64(compressed)/float64(rawBytes/16))
		if r < 8 {
			t.Errorf("ratio %.2f (%d -> %d bytes), want ≥ 8", r, rawBytes, compressed)
		}
	})
}

// Milestone 3: the round trip (encode -> decode) is bit-exact.
func TestMilestone3_BitExactRoundTrip(t *testing.T) {
	nanPayload := math.Float64frombits(0x7ff8_dead_beef_0001)
	signalingNaN := math.Float64frombits(0x7ff0_0000_0000_0001)
	negativeNaN := math.Float64frombits(0xfff8_0000_0000_0000)
	negZero := math.Copysign(0, -1)
	cases := []struct {
		name string
		ts   []int64
		vs   []float64
	}{
		{"empty", []int64{}, []float64{}},
		{"single point", []int64{1704067200000}, []float64{0.75}},
		{"single NaN", []int64{math.MinInt64}, []float64{nanPayload}},
		{"extreme timestamps", []int64{math.MinInt64, math.MaxInt64, math.MinInt64, 0, math.MaxInt64},
			[]float64{1, 2, 3, 4, 5}},
		{"negative and huge deltas", []int64{0, -1, 1 << 62, -(1 << 62), 3, 2, 1},
			[]float64{0, 0, 0, 0, 0, 0, 0}},
		{"special floats", []int64{1, 2, 3, 4, 5, 6, 7, 8},
			[]float64{nanPayload, signalingNaN, negativeNaN, negZero, math.Inf(1), math.Inf(-1), 0, 5e-324}},
		{"all exceptions", []int64{10, 20, 30, 40},
			[]float64{0.30000000000000004, 1.0000000000000002, math.Pi * 1e-300, math.MaxFloat64}},
		{"integers past 2^53", []int64{1, 2, 3}, []float64{1 << 53, 1<<53 + 2, -(1<<60 + 1<<10)}},
		{"mixed decimals", []int64{1, 2, 3, 4, 5}, []float64{0.75, 0.82, negZero, 1.5, 123456.789}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { roundTrip(t, c.ts, c.vs) })
	}

	t.Run("random bits", func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for range 50 {
			n := r.IntN(3000)
			ts, vs := make([]int64, n), make([]float64, n)
			for i := range ts {
				ts[i] = int64(r.Uint64())
				vs[i] = math.Float64frombits(r.Uint64())
			}
			roundTrip(t, ts, vs)
		}
	})

	t.Run("generated data", func(t *testing.T) {
		ts, vs := gen.Series(125_000, gen.Seed)
		roundTrip(t, ts, vs)
	})

	t.Run("TSBS cpu-only, every series", func(t *testing.T) {
		for _, s := range cpuOnly(t) {
			roundTrip(t, s.T, s.V)
		}
	})

	t.Run("checksum is the CRC-32C of the raw file", func(t *testing.T) {
		ts, vs := gen.Series(5000, 1)
		want := crc32.Checksum(raw.Encode(ts, vs), crc32.MakeTable(crc32.Castagnoli))
		if got := Checksum(ts, vs); got != want {
			t.Fatalf("Checksum = %08x, CRC-32C of raw bytes = %08x", got, want)
		}
		data, _ := Compress(ts, vs)
		vs[4321] = math.Nextafter(vs[4321], 10)
		if err := Verify(data, ts, vs); !errors.Is(err, ErrChecksum) {
			t.Fatalf("Verify after changing one value: %v, want ErrChecksum", err)
		}
		if err := Verify(data, ts[1:], vs[1:]); !errors.Is(err, ErrChecksum) {
			t.Fatalf("Verify with a point missing: %v, want ErrChecksum", err)
		}
	})

	t.Run("truncation is always an error", func(t *testing.T) {
		ts, vs := gen.Series(3000, 3)
		vs[10] = math.NaN()
		data, _ := Compress(ts, vs)
		for k := range len(data) {
			if _, _, err := Decompress(data[:k]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decompress of the first %d of %d bytes: %v, want ErrCorrupt", k, len(data), err)
			}
		}
		if _, _, err := Decompress(append(slices.Clone(data), 0)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("trailing byte: %v, want ErrCorrupt", err)
		}
	})

	t.Run("a flipped bit never yields wrong points", func(t *testing.T) {
		// Decompress + Verify must either fail or return exactly the
		// original: flip every bit of a small file in turn.
		ts, vs := gen.Series(400, 4)
		vs[7] = math.Inf(1)
		data, _ := Compress(ts, vs)
		for i := range len(data) * 8 {
			bad := slices.Clone(data)
			bad[i/8] ^= 1 << (i % 8)
			gotT, gotV, err := Decompress(bad)
			if err == nil {
				err = Verify(bad, gotT, gotV)
			}
			if err == nil && (!slices.Equal(gotT, ts) ||
				!bytes.Equal(raw.Encode(gotT, gotV), raw.Encode(ts, vs))) {
				t.Fatalf("bit %d flipped: wrong points accepted", i)
			}
		}
	})
}
