package gorilla

import (
	"math"
	"math/rand/v2"
)

// SyntheticStart is the first timestamp of Synthetic data: 2024-01-01T00:00:00Z in ms.
const SyntheticStart int64 = 1_704_067_200_000

// Synthetic returns n samples with the characteristics the paper reports
// for Facebook's monitoring data, from a fixed seed:
//
//   - regular intervals: one sample per second; 1 % of samples are a few
//     milliseconds early or late (scheduling jitter), so most
//     delta-of-deltas are zero and the rest are small;
//   - many repeats: about half the values equal their predecessor;
//   - slowly changing values: a gauge that mostly moves by small steps of a
//     quarter unit, and occasionally jumps to a new level.
func Synthetic(n int, seed uint64) ([]int64, []float64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ts := make([]int64, n)
	vs := make([]float64, n)
	v := 250.0
	for i := range n {
		ts[i] = SyntheticStart + int64(i)*1000
		if rng.IntN(100) == 0 {
			ts[i] += int64(rng.IntN(11)) - 5
		}
		switch r := rng.Float64(); {
		case r < 0.50: // repeat
		case r < 0.95: // small step
			v += float64(rng.IntN(9)-4) * 0.25
		default: // new level
			v = math.Round(rng.Float64()*4000) / 4
		}
		if v < 0 {
			v = -v
		}
		vs[i] = v
	}
	return ts, vs
}
