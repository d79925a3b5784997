package delta

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// TestColumnWriter: AppendColumns writes exactly what AppendTimestamps and
// AppendValues write in either layout, reports the packed size of both
// (priced, not written, under BytePlanes; AppendPlanes a lower bound of
// it), and reuses its scratch across
// series of different lengths and shapes.
func TestColumnWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var w ColumnWriter
	for round := range 300 {
		n := 1 + rng.IntN(3000)
		if round%7 == 0 {
			n = 1 + rng.IntN(3)
		}
		ts := make([]int64, n)
		vs := make([]float64, n)
		tt := rng.Int64N(1 << 40)
		for i := range n {
			tt += 1 + rng.Int64N([]int64{1, 1000, 1 << 30}[round%3])
			ts[i] = tt
			switch round % 4 {
			case 0:
				vs[i] = float64(rng.IntN(100))
			case 1:
				vs[i] = math.Round(rng.Float64()*1e4) / 100
			case 2:
				vs[i] = rng.NormFloat64()
			default:
				vs[i] = []float64{math.NaN(), math.Inf(1), 1e300, 7}[rng.IntN(4)]
			}
		}
		for _, layout := range []Layout{Packed, BytePlanes} {
			want := AppendValuesLayout(AppendTimestampsLayout([]byte{9}, ts, layout), vs, layout)
			got, packed, err := w.AppendColumns([]byte{9}, ts, vs, layout)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("round %d layout %d: columns differ", round, layout)
			}
			wantPacked := len(AppendValues(AppendTimestamps(nil, ts), vs))
			if packed != wantPacked {
				t.Fatalf("round %d layout %d: packed size %d, want %d", round, layout, packed, wantPacked)
			}
			if layout == BytePlanes {
				// AppendPlanes: the same bytes, and a bound of the packed
				// size that no packed form goes below, close to it for
				// small integers.
				got, bound, err := w.AppendPlanes([]byte{9}, ts, vs)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("round %d: AppendPlanes differs (%v)", round, err)
				}
				if bound > wantPacked || bound < 1 {
					t.Fatalf("round %d: packed size %d, bound %d", round, wantPacked, bound)
				}
				if round%12 == 0 && n > 100 && bound*3 < wantPacked*2 {
					t.Fatalf("round %d: bound %d is far below the packed size %d", round, bound, wantPacked)
				}
			}
		}
	}
	if _, _, err := w.AppendColumns(nil, []int64{1}, nil, Packed); err == nil {
		t.Fatal("mismatched columns accepted")
	}
}
