package gorilla

import (
	"errors"
	"math"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
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
		ss := make([]model.Sample, size)
		var got []model.Sample
		for {
			k := d.decode(ss)
			if k == 0 {
				break
			}
			got = append(got, ss[:k]...)
		}
		if (d.err == nil) != (wantErr == nil) || (d.err != nil && !errors.Is(d.err, ErrCorrupt)) {
			t.Fatalf("batch %d: err %v, reference err %v", size, d.err, wantErr)
		}
		if len(got) != len(wantT) {
			t.Fatalf("batch %d: %d samples, reference %d (err %v)", size, len(got), len(wantT), wantErr)
		}
		for i := range wantT {
			if got[i].T != wantT[i] || math.Float64bits(got[i].V) != math.Float64bits(wantV[i]) {
				t.Fatalf("batch %d: sample %d: %v, reference (%d, %v)", size, i, got[i], wantT[i], wantV[i])
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

// TestAppendSamples: the public rows API against DecodeAll (columns) on
// every dataset, appending after samples already in dst (kept as they
// were), with and without room; a damaged chunk returns the same samples
// before the damage and the same error as DecodeAll.
func TestAppendSamples(t *testing.T) {
	var chunks [][]byte
	for _, d := range datasets() {
		chunks = append(chunks, mustEncode(t, d.ts, d.vs, XOR).Bytes())
	}
	for _, d := range integerDatasets() {
		chunks = append(chunks, mustEncode(t, d.ts, d.vs, Integer).Bytes())
	}
	prefix := []model.Sample{{T: -1, V: 1}, {T: -2, V: 2}}
	for ci, b := range chunks {
		for _, in := range [][]byte{b, b[:len(b)-1], b[:len(b)/2]} {
			wantT, wantV, wantErr := DecodeAll(in, nil, nil)
			for _, room := range []int{0, MaxSamples} {
				dst := append(make([]model.Sample, 0, len(prefix)+room), prefix...)
				got, err := AppendSamples(in, dst)
				if (err == nil) != (wantErr == nil) {
					t.Fatalf("chunk %d (%d bytes), room %d: err %v, DecodeAll %v", ci, len(in), room, err, wantErr)
				}
				if len(got) != len(prefix)+len(wantT) {
					t.Fatalf("chunk %d (%d bytes), room %d: %d samples, want %d", ci, len(in), room, len(got), len(prefix)+len(wantT))
				}
				if got[0] != prefix[0] || got[1] != prefix[1] {
					t.Fatalf("chunk %d: prefix changed: %v", ci, got[:2])
				}
				for i, s := range got[len(prefix):] {
					if s.T != wantT[i] || math.Float64bits(s.V) != math.Float64bits(wantV[i]) {
						t.Fatalf("chunk %d (%d bytes), room %d: sample %d: %v, DecodeAll (%d, %v)", ci, len(in), room, i, s, wantT[i], wantV[i])
					}
				}
			}
		}
	}
	if _, err := AppendSamples([]byte{1}, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("1-byte chunk: err %v, want ErrCorrupt", err)
	}
}
