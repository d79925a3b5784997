package gorilla

import (
	"errors"
	"math"
	"testing"
)

// stepDecode is the reference decoder: one decoder.step per sample, the
// plain bit-reader functions only (no fast loop).
func stepDecode(b []byte) ([]int64, []float64, error) {
	var d decoder
	d.reset(b)
	var ts []int64
	var vs []float64
	for d.step() {
		ts = append(ts, d.t)
		vs = append(vs, d.value())
	}
	return ts, vs, d.err
}

// checkFastMatchesStep decodes b with the fast loops in batches of every
// size in sizes and with the reference, and fails unless both yield the
// same samples, bit for bit, and agree on whether the chunk is corrupt.
func checkFastMatchesStep(t *testing.T, b []byte, sizes []int) {
	t.Helper()
	wantT, wantV, wantErr := stepDecode(b)
	for _, size := range sizes {
		var d decoder
		d.reset(b)
		ts := make([]int64, size)
		vs := make([]float64, size)
		var gotT []int64
		var gotV []float64
		for {
			k := d.decode(ts, vs)
			if k == 0 {
				break
			}
			gotT = append(gotT, ts[:k]...)
			gotV = append(gotV, vs[:k]...)
		}
		if (d.err == nil) != (wantErr == nil) || (d.err != nil && !errors.Is(d.err, ErrCorrupt)) {
			t.Fatalf("batch %d: err %v, reference err %v", size, d.err, wantErr)
		}
		if len(gotT) != len(wantT) {
			t.Fatalf("batch %d: %d samples, reference %d (err %v)", size, len(gotT), len(wantT), wantErr)
		}
		for i := range wantT {
			if gotT[i] != wantT[i] || math.Float64bits(gotV[i]) != math.Float64bits(wantV[i]) {
				t.Fatalf("batch %d: sample %d: (%d, %v), reference (%d, %v)", size, i, gotT[i], gotV[i], wantT[i], wantV[i])
			}
		}
	}
}

// TestFastLoopsMatchStep: decodeXOR and decodeInt (branch-free paths,
// buffered word, tail loads, fallbacks) against the one-sample-at-a-time
// reference, on every dataset, whole and damaged: truncated at every length
// near the end and with single bits flipped.
func TestFastLoopsMatchStep(t *testing.T) {
	sizes := []int{1, 2, 3, 7, batchSize, MaxSamples}
	var chunks [][]byte
	for _, d := range datasets() {
		chunks = append(chunks, mustEncode(t, d.ts, d.vs, XOR).Bytes())
	}
	for _, d := range integerDatasets() {
		chunks = append(chunks, mustEncode(t, d.ts, d.vs, Integer).Bytes())
	}
	ts, vs := Synthetic(500, 4)
	chunks = append(chunks, mustEncode(t, ts, vs, XOR).Bytes())
	for _, b := range chunks {
		checkFastMatchesStep(t, b, sizes)
		for cut := max(0, len(b)-12); cut < len(b); cut++ {
			checkFastMatchesStep(t, b[:cut], sizes)
		}
		for bit := 16; bit < len(b)*8; bit += max(37, len(b)*8/150) {
			damaged := append([]byte(nil), b...)
			damaged[bit/8] ^= 0x80 >> (bit % 8)
			checkFastMatchesStep(t, damaged, sizes)
		}
	}
}
