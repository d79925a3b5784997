package gorilla

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// Milestone 1: XOR encoding produces small bit counts.
//
// Each case is worked out by hand from IEEE 754 bit patterns; the expected
// bits are written out, not taken from the encoder. The chunk starts with
// 12.0 at t=0 and samples follow every 1000 ms, so the XOR codes begin at
// bit 16+8+64+16 = 104: header, t0 varint (1 byte), raw first value, first
// delta varint (1000 needs 2 bytes).
func TestMilestone1_XORSmallBitCounts(t *testing.T) {
	const start = 16 + 8 + 64 + 16
	cases := []struct {
		name   string
		values []float64 // after the first value, 12.0
		bits   string    // the value codes (timestamps are regular: one '0' before each code from the 3rd sample on)
	}{
		{
			// 12.0 = 0x4028000000000000; XOR with itself is 0.
			name: "repeat costs one bit", values: []float64{12}, bits: "0",
		},
		{
			// 24.0 = 0x4038000000000000; 12 ^ 24 = 0x0010000000000000:
			// 11 leading zeros, 52 trailing, 1 meaningful bit.
			// '11' + leading 01011 + length 000001 + the bit 1 = 14 bits instead of 64.
			name: "exponent step opens a 1-bit window", values: []float64{24}, bits: "11" + "01011" + "000001" + "1",
		},
		{
			// 24 -> 15 (0x402E000000000000): XOR 0x0016000000000000 = bits 52, 50, 49:
			// 11 leading, 49 trailing, 4 meaningful (1011). The trailing count
			// shrank below the window's 52, so a new window: 2+5+6+4 = 17 bits.
			// 15 -> 12: XOR 0x0006000000000000 = bits 50, 49: 13 leading, 49
			// trailing, inside the window (11, 49): '10' + the window's 4 bits 0011.
			// 12 -> 12: '0'.
			name:   "window reuse",
			values: []float64{24, 15, 12, 12},
			bits:   "11" + "01011" + "000001" + "1" + "0" + "11" + "01011" + "000100" + "1011" + "0" + "10" + "0011" + "0" + "0",
		},
		{
			// The guide's pi example in float64. First 12 -> pi
			// (0x400921FB54442D18): XOR 0x002121FB54442D18 has 10 leading
			// zeros (0x00, then 0x2 = 0010) and 3 trailing (0x18 = 00011000),
			// so 51 meaningful bits: 100001 | 0x21FB | 0x5444 | 0x2D18 less
			// its 3 trailing zeros. Then pi -> the float just below it
			// (0x400921FB54442D17): XOR 0xF has 60 leading zeros, more than 5
			// bits can hold, so 31 is stored and the window is 33 bits wide:
			// 2+5+6+33 = 46 bits.
			name:   "pi neighbour: leading zeros clamp to 31",
			values: []float64{math.Pi, math.Nextafter(math.Pi, 0)},
			bits: "11" + "01010" + "110011" + "100001" + "0010000111111011" + "0101010001000100" + "0010110100011" +
				"0" + "11" + "11111" + "100001" + "000000000000000000000000000001111",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := []int64{0}
			vs := []float64{12}
			for i, v := range tc.values {
				ts = append(ts, int64(i+1)*1000)
				vs = append(vs, v)
			}
			c := mustEncode(t, ts, vs, XOR)
			b := c.Bytes()
			if got := bitString(b, start, len(b)*8-start); got[:len(tc.bits)] != tc.bits || bytes.ContainsRune([]byte(got[len(tc.bits):]), '1') {
				t.Fatalf("value bits\n got %s\nwant %s (then zero padding)", got, tc.bits)
			}
			gotT, gotV := iterateAll(c.Iterator(nil))
			sameSamples(t, gotT, gotV, ts, vs)
		})
	}

	// On data with the paper's characteristics the average value needs a
	// small fraction of its 64 raw bits.
	t.Run("synthetic average", func(t *testing.T) {
		ts, vs := Synthetic(10000, 1)
		c := mustEncode(t, ts, vs, XOR)
		st, err := c.Stats()
		if err != nil {
			t.Fatal(err)
		}
		perValue := float64(st.ValueBits) / float64(len(vs))
		if perValue > 16 {
			t.Fatalf("values take %.1f bits each, want <= 16 of 64", perValue)
		}
		if st.Zero.Count < len(vs)*2/5 || st.Zero.Bits != st.Zero.Count {
			t.Fatalf("repeats: %+v for %d values", st.Zero, len(vs))
		}
		t.Logf("%.2f bits/value: %d repeats (1 bit), %d reuse (avg %.1f bits), %d new window (avg %.1f bits)",
			perValue, st.Zero.Count, st.Reuse.Count, float64(st.Reuse.Bits)/float64(st.Reuse.Count),
			st.NewWindow.Count, float64(st.NewWindow.Bits)/float64(st.NewWindow.Count))
	})
}

// Milestone 2: block compression achieves 10x+ over the 16-byte raw point.
//
// Graded on Synthetic data, whose paper-like characteristics are checked
// here by counting, independently of the codec: samples at regular
// 1-second intervals (jitter on a few), about half the values repeating,
// the rest moving slowly.
func TestMilestone2_BlockCompression10x(t *testing.T) {
	const n = 500_000
	ts, vs := Synthetic(n, 1)
	regular, repeats, small := 0, 0, 0
	for i := 1; i < n; i++ {
		if ts[i]-ts[i-1] == 1000 {
			regular++
		}
		if vs[i] == vs[i-1] {
			repeats++
		}
		if math.Abs(vs[i]-vs[i-1]) <= 1 {
			small++
		}
	}
	if regular < n*97/100 || repeats < n*45/100 || small < n*90/100 {
		t.Fatalf("data lacks the paper's shape: %d regular intervals, %d repeats, %d small changes of %d",
			regular, repeats, small, n)
	}

	file, _, err := EncodeFile(ts, vs, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(16*n) / float64(len(file))
	t.Logf("%d points: %d raw bytes -> %d bytes, %.2fx", n, 16*n, len(file), ratio)
	if ratio < 10 {
		t.Fatalf("compression ratio %.2fx, want >= 10x", ratio)
	}
	h, gotT, gotV, err := DecodeFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sameSamples(t, gotT, gotV, ts, vs)
	if h.RawCRC != RawChecksum(ts, vs) || h.Points != n {
		t.Fatalf("header %+v", h)
	}
}

// Milestone 3: streaming decompression works: the iterator yields every
// sample exactly, without decoding the whole chunk first.
func TestMilestone3_StreamingDecompression(t *testing.T) {
	ts, vs := Synthetic(MaxSamples, 2)
	c := mustEncode(t, ts, vs, XOR)

	t.Run("exact", func(t *testing.T) {
		gotT, gotV := iterateAll(c.Iterator(nil))
		sameSamples(t, gotT, gotV, ts, vs)
	})

	// Lazy: a chunk whose second half is garbage still yields its first
	// samples correctly; the error appears only when the iterator gets there.
	t.Run("lazy", func(t *testing.T) {
		b := append([]byte(nil), c.Bytes()...)
		half := len(b) / 2
		b = b[:half]
		it := NewIterator(b)
		n := 0
		for it.Next() {
			at, v := it.At()
			if at != ts[n] || math.Float64bits(v) != math.Float64bits(vs[n]) {
				break
			}
			n++
		}
		if n < len(ts)/3 {
			t.Fatalf("only %d samples before the cut; a streaming decoder reads about half of %d", n, len(ts))
		}
		if !errors.Is(it.Err(), ErrCorrupt) {
			t.Fatalf("truncated chunk: err %v, want ErrCorrupt", it.Err())
		}
	})

	// No materialisation: a full pass with a reused iterator allocates nothing.
	t.Run("no allocation", func(t *testing.T) {
		it := c.Iterator(nil)
		var sum float64
		allocs := testing.AllocsPerRun(5, func() {
			c.Iterator(it)
			for it.Next() {
				_, v := it.At()
				sum += v
			}
		})
		if allocs != 0 && !raceEnabled {
			t.Fatalf("iterating %d samples allocated %.0f times", len(ts), allocs)
		}
	})

	t.Run("seek", func(t *testing.T) {
		it := c.Iterator(nil)
		for _, i := range []int{0, 1, 2, 1000, 1001, 9000, len(ts) - 1} {
			if !it.SeekTo(ts[i]) {
				t.Fatalf("SeekTo(ts[%d]) = false, err %v", i, it.Err())
			}
			if at, v := it.At(); at != ts[i] || v != vs[i] {
				t.Fatalf("SeekTo(ts[%d]) at (%d,%v), want (%d,%v)", i, at, v, ts[i], vs[i])
			}
		}
		if it.SeekTo(ts[len(ts)-1] + 1) {
			t.Fatal("SeekTo past the end = true")
		}
	})
}
