package gorilla

import "testing"

// TestNumSamples: the header count agrees with the chunk's own count and
// with the samples DecodeAll yields, for every fill level of both
// encodings; bytes without a header count 0.
func TestNumSamples(t *testing.T) {
	for _, enc := range []Encoding{XOR, Integer} {
		c, err := NewChunk(enc)
		if err != nil {
			t.Fatal(err)
		}
		a, err := c.Appender()
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n <= 300; n++ {
			if n > 0 {
				if err := a.Append(int64(n)*15000, float64(n*n)); err != nil {
					t.Fatal(err)
				}
			}
			ts, _, err := DecodeAll(c.Bytes(), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := NumSamples(c.Bytes()); got != n || got != c.NumSamples() || got != len(ts) {
				t.Fatalf("%v, %d appended: NumSamples %d, Chunk.NumSamples %d, decoded %d", enc, n, got, c.NumSamples(), len(ts))
			}
		}
	}
	for _, b := range [][]byte{nil, {0}} {
		if got := NumSamples(b); got != 0 {
			t.Fatalf("NumSamples(%v) = %d, want 0", b, got)
		}
	}
}
