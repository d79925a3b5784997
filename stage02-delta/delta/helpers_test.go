package delta

import (
	"math"
	"sync"
	"testing"

	"github.com/tsdb-course/stage02-delta/tsbs"
)

var (
	cpuOnlyOnce   sync.Once
	cpuOnlySeries []tsbs.Series
	cpuOnlyErr    error
)

// cpuOnly loads the TSBS cpu-only file (testdata/tsbs) once per test binary.
func cpuOnly(tb testing.TB) []tsbs.Series {
	tb.Helper()
	cpuOnlyOnce.Do(func() {
		var p string
		p, cpuOnlyErr = tsbs.Path(tsbs.CPUOnly)
		if cpuOnlyErr == nil {
			cpuOnlySeries, cpuOnlyErr = tsbs.Load(p)
		}
	})
	if cpuOnlyErr != nil {
		tb.Fatal(cpuOnlyErr)
	}
	return cpuOnlySeries
}

// sameBits compares two series bit for bit (NaN payloads and -0 included).
func sameBits(tb testing.TB, ts []int64, vs []float64, gotT []int64, gotV []float64) {
	tb.Helper()
	if len(gotT) != len(ts) || len(gotV) != len(vs) {
		tb.Fatalf("got %d timestamps and %d values, want %d", len(gotT), len(gotV), len(ts))
	}
	for i := range ts {
		if gotT[i] != ts[i] {
			tb.Fatalf("timestamp %d: got %d, want %d", i, gotT[i], ts[i])
		}
		if math.Float64bits(gotV[i]) != math.Float64bits(vs[i]) {
			tb.Fatalf("value %d: got %v (%#x), want %v (%#x)", i,
				gotV[i], math.Float64bits(gotV[i]), vs[i], math.Float64bits(vs[i]))
		}
	}
}

// roundTrip compresses, decompresses, compares and verifies the checksum.
func roundTrip(tb testing.TB, ts []int64, vs []float64) Stats {
	tb.Helper()
	data, st := Compress(ts, vs)
	if st.CompressedBytes != len(data) || st.Points != len(ts) {
		tb.Fatalf("Stats %+v for %d bytes, %d points", st, len(data), len(ts))
	}
	gotT, gotV, err := Decompress(data)
	if err != nil {
		tb.Fatalf("Decompress: %v", err)
	}
	sameBits(tb, ts, vs, gotT, gotV)
	if err := Verify(data, gotT, gotV); err != nil {
		tb.Fatalf("Verify: %v", err)
	}
	return st
}
