package model

import (
	"math"
	"testing"
)

// TestFloorDiv compares with the floor of the exact quotient (float64 is
// exact for these magnitudes) and checks the window property at the int64
// extremes, where no float can be the oracle.
func TestFloorDiv(t *testing.T) {
	for a := int64(-50); a <= 50; a++ {
		for _, b := range []int64{1, 2, 3, 7, 10, -1, -3, -10} {
			if got, want := FloorDiv(a, b), int64(math.Floor(float64(a)/float64(b))); got != want {
				t.Errorf("FloorDiv(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
	}
	for _, a := range []int64{math.MinInt64, math.MinInt64 + 1, math.MaxInt64, math.MaxInt64 - 1} {
		for _, b := range []int64{2, 7, 7_200_000, math.MaxInt64} {
			q := FloorDiv(a, b)
			// a lies in [q*b, q*b + b): the remainder is in [0, b).
			if r := a - q*b; r < 0 || r >= b {
				t.Errorf("FloorDiv(%d, %d) = %d: remainder %d outside [0, %d)", a, b, q, r, b)
			}
		}
	}
}
