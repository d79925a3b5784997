// Package gen makes the synthetic series that the stage 02 and 03 demos and
// benchmarks compress: a scrape every 10 s and a slowly moving gauge with
// three decimals, from a fixed seed so that every run prints the same figures.
//
// What makes it realistic, and what each part exercises in the codecs:
//
//   - timestamps on a 10 s grid in milliseconds from 2024-01-01T00:00Z, with
//     scrape jitter of a few ms on 5 % of the points (nonzero
//     delta-of-deltas) and a missed scrape once in 1,000 (a 20 s gap);
//   - values like a load average: a random walk in steps of 0.001 (a quarter
//     of the steps are zero, the rest 1 to 7 thousandths either way, so the
//     mean step is 0.003) pulled back towards 1.5, never below 0;
//   - once in 25,000 points a Prometheus staleness marker, a NaN with payload
//     2, which no decimal can represent.
package gen

import (
	"math"
	"math/rand/v2"
)

// Start is the first timestamp, 2024-01-01T00:00:00Z in Unix milliseconds.
const Start int64 = 1704067200000

// Interval is the scrape interval in milliseconds.
const Interval int64 = 10_000

// Seed is the fixed seed of the demos.
const Seed uint64 = 2

// StaleNaN is the bit pattern Prometheus writes to mark a series stale.
const StaleNaN uint64 = 0x7ff0000000000002

// Series returns n points generated from seed. The same n and seed always
// give the same points (math/rand/v2's PCG is specified bit for bit).
func Series(n int, seed uint64) (ts []int64, vs []float64) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	ts = make([]int64, n)
	vs = make([]float64, n)
	grid := Start
	milli := int64(1500) // the gauge in thousandths
	for i := range n {
		t := grid
		if r.IntN(20) == 0 {
			t += int64(r.IntN(11)) - 5 // jitter in [-5, 5] ms
		}
		ts[i] = t
		grid += Interval
		if r.IntN(1000) == 0 {
			grid += Interval // the next scrape is missed
		}

		if r.IntN(4) != 0 {
			step := int64(1 + r.IntN(7))
			// Step up with probability 1/2 at the mean, less above it.
			if r.Int64N(3000) < milli {
				step = -step
			}
			milli = max(0, milli+step)
		}
		if r.IntN(25_000) == 0 {
			vs[i] = math.Float64frombits(StaleNaN)
			continue
		}
		vs[i] = float64(milli) / 1000
	}
	return ts, vs
}
