package gorilla

import "testing"

// The delta-of-delta codes of timestamps.go, checked against bit strings
// written by hand. The chunk holds t0 = 0 and t1 = 10000, so the dod codes
// start at bit 16 + 8 (t0 varint) + 64 (v0) + 16 (uvarint 10000 is 2 bytes)
// + 1 (v1 repeats v0: '0'), and v2 repeats too (one '0' after the dod code).
func TestDodCodes(t *testing.T) {
	const start = 16 + 8 + 64 + 16 + 1
	cases := []struct {
		dod  int64
		bits string
	}{
		{0, "0"},
		{3, "10" + "0000011"},                        // a sample 3 ms late
		{-6, "10" + "1111010"},                       // 6 ms early: 128-6 = 122
		{64, "10" + "1000000"},                       // the paper's top of range: pattern of -64
		{-63, "10" + "1000001"},                      // 128-63 = 65
		{-64, "110" + "11111111111000000"},           // just outside: next bucket, 131072-64
		{65, "110" + "00000000001000001"},            //
		{10000, "110" + "00010011100010000"},         // one missed 10 s scrape
		{-10000, "110" + "11101100011110000"},        // 131072-10000 = 121072
		{65536, "110" + "10000000000000000"},         // top of the 17-bit bucket
		{65537, "1110" + "000000010000000000000001"}, // 24-bit bucket
		{8388608, "1110" + "100000000000000000000000"},
		{8388609, "1111" + "0000000000000000000000000000000000000000100000000000000000000001"},
		{-8388608, "1111" + "1111111111111111111111111111111111111111100000000000000000000000"},
	}
	for _, tc := range cases {
		ts := []int64{0, 10000, 20000 + tc.dod}
		c := mustEncode(t, ts, []float64{1, 1, 1}, XOR)
		b := c.Bytes()
		want := tc.bits + "0"
		if got := bitString(b, start, len(want)); got != want {
			t.Errorf("dod %d: got %s want %s", tc.dod, got, want)
		}
		if rest := bitString(b, start+len(want), len(b)*8-start-len(want)); rest != "0000000"[:len(rest)] {
			t.Errorf("dod %d: padding %s", tc.dod, rest)
		}
		gotT, gotV := iterateAll(c.Iterator(nil))
		sameSamples(t, gotT, gotV, ts, []float64{1, 1, 1})
	}
}

// The integer differences of intvalues.go, by hand. Chunk: t0 = 0 (1 byte),
// v0 = 0 (zig-zag varint, 1 byte), t1 - t0 = 1 (1 byte), so the first
// difference starts at bit 16+8+8+8 = 40.
func TestIntDeltaCodes(t *testing.T) {
	cases := []struct {
		d    int64
		bits string
	}{
		{0, "0"},
		{1, "10" + "00"},  // positive d stored as d-1
		{2, "10" + "01"},  //
		{-1, "10" + "11"}, // two's complement in 2 bits
		{-2, "10" + "10"},
		{3, "110" + "000010"},
		{-33, "1110" + "1111111011111"},
		{4096, "1110" + "0111111111111"},
		{-4096, "1110" + "1000000000000"},
		{4097, "11110" + "000000000001000000000000"},
		{1 << 40, "11111" + "0000000000000000000000010000000000000000000000000000000000000000"},
	}
	for _, tc := range cases {
		vs := []float64{0, float64(tc.d)}
		c := mustEncode(t, []int64{0, 1}, vs, Integer)
		b := c.Bytes()
		if got := bitString(b, 40, len(tc.bits)); got != tc.bits {
			t.Errorf("d %d: got %s want %s", tc.d, got, tc.bits)
		}
		gotT, gotV := iterateAll(c.Iterator(nil))
		sameSamples(t, gotT, gotV, []int64{0, 1}, vs)
	}
}

func TestBitStream(t *testing.T) {
	// Fields of every width at every alignment, read back in order.
	var w bitWriter
	w.buf = make([]byte, 1)
	type field struct {
		v uint64
		n int
	}
	var fields []field
	var ref refBits
	x := uint64(0x9e3779b97f4a7c15)
	for n := 0; n <= 64; n++ {
		for shift := 0; shift < 3; shift++ {
			x = x*6364136223846793005 + 1442695040888963407
			v := x
			if n < 64 {
				v &= 1<<uint(n) - 1
			}
			fields = append(fields, field{v, n})
			w.writeBits64(v, n)
			ref.put(v, n)
		}
	}
	if got, want := w.bytes(), packBits(ref.String()); string(got) != string(want) {
		t.Fatalf("writer bytes differ from the reference")
	}
	r := bitReader{b: w.bytes()}
	for i, f := range fields {
		if got := r.readBits64(f.n); got != f.v {
			t.Fatalf("field %d (%d bits): got %x want %x", i, f.n, got, f.v)
		}
	}
	if r.overrun() || (r.pos+7)/8 != len(w.bytes()) {
		t.Fatalf("reader at bit %d of %d bytes", r.pos, len(w.bytes()))
	}
	// Past the end: zeros and an overrun flag, no panic.
	if v := r.readBits64(64); v != 0 || !r.overrun() {
		t.Fatalf("read past end: %x overrun %v", v, r.overrun())
	}
}
