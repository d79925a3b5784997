package gen

import (
	"math"
	"testing"
)

func TestSeriesIsDeterministicAndRealistic(t *testing.T) {
	const n = 100_000
	ts, vs := Series(n, Seed)
	ts2, vs2 := Series(n, Seed)
	other, _ := Series(n, Seed+1)
	stale, gaps, jittered := 0, 0, 0
	for i := range ts {
		if ts[i] != ts2[i] || math.Float64bits(vs[i]) != math.Float64bits(vs2[i]) {
			t.Fatalf("point %d differs between two runs with the same seed", i)
		}
		if math.Float64bits(vs[i]) == StaleNaN {
			stale++
		} else if m := vs[i] * 1000; vs[i] < 0 || math.Abs(m-math.Round(m)) > 1e-6 {
			t.Fatalf("value %d = %v is not a non-negative multiple of 0.001", i, vs[i])
		}
		if i == 0 {
			continue
		}
		switch d := ts[i] - ts[i-1]; {
		case d <= 0:
			t.Fatalf("timestamps not increasing at %d", i)
		case d > 15*Interval/10:
			gaps++
		case d != Interval:
			jittered++
		}
	}
	if d := ts[0] - Start; d < -5 || d > 5 {
		t.Errorf("first timestamp %d is not Start ± 5 ms", ts[0])
	}
	// Expected: 1 gap in 1,000 points, 1 NaN in 25,000, and a jittered
	// point changes two deltas (5 % of points): generous bounds.
	if gaps < n/2000 || gaps > n/500 || stale < 1 || stale > 12 || jittered < n/20 || jittered > n/5 {
		t.Errorf("gaps %d, stale markers %d, jittered deltas %d: not the advertised shape", gaps, stale, jittered)
	}
	if other[n-1] == ts[n-1] && other[n/2] == ts[n/2] {
		t.Error("another seed gives the same timestamps")
	}
}
