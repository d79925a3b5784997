package wal

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model"
)

// The checkpoint's shortcut (passthrough.go) agrees with decoding: for
// random dense records around the cut, the samples it counts as kept are
// those decoding and filtering keep, and a record it copies whole is the
// one re-encoding the kept samples gives, byte for byte.
func TestDenseKeptAgreesWithDecoding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const mint = 10_000
	keep := func(ref uint64) bool { return ref%7 != 3 }
	whole := 0
	for iter := range 2000 {
		n := r.IntN(40)
		ss := make([]RefSample, n)
		ref, ts := uint64(r.IntN(20)), int64(mint-500+r.IntN(1000))
		if iter%3 == 0 {
			ts = mint + int64(r.IntN(100)) // every sample kept, unless its series is not
		}
		for i := range ss {
			if r.IntN(4) == 0 {
				ref = uint64(r.IntN(20))
			}
			if iter%5 == 0 {
				ref = 1 + uint64(r.IntN(2)) // series kept: whole records
			}
			ts += int64(r.IntN(30))
			v := float64(r.IntN(1000))
			switch r.IntN(3) {
			case 1:
				v /= 100
			case 2:
				v = r.Float64()
			}
			ss[i] = RefSample{Ref: ref, T: ts, V: v}
		}
		rec := AppendDenseSamples(nil, ss)
		n2, all, some, ok := denseKept(rec, keep, mint)
		if !ok || n2 != n {
			t.Fatalf("record %d: denseKept = %d, %v, %v, %v for %d valid samples", iter, n2, all, some, ok, n)
		}
		want := slices.DeleteFunc(slices.Clone(ss), func(s RefSample) bool { return s.T < mint || !keep(s.Ref) })
		// some: decode it (the timestamps straddle mint, or the series
		// differ); otherwise all or none must be what decoding keeps.
		if all && some || all && len(want) != n || !all && !some && len(want) != 0 {
			t.Fatalf("record %d: all %v, some %v; decoding keeps %d of %d", iter, all, some, len(want), n)
		}
		if all {
			whole++
			if !bytes.Equal(AppendDenseSamples(nil, want), rec) {
				t.Fatalf("record %d: copied whole, but re-encoding gives other bytes", iter)
			}
		}
	}
	// At the bound: t = mint is kept, t = mint-1 is not.
	for _, c := range []struct {
		t         int64
		all, some bool
	}{{mint, true, false}, {mint - 1, false, false}} {
		rec := AppendDenseSamples(nil, []RefSample{{1, c.t - 10, 1}, {2, c.t, 2}, {1, c.t, 3}}[1:])
		if _, all, some, ok := denseKept(rec, keep, mint); !ok || all != c.all || some != c.some {
			t.Errorf("samples at %d, mint %d: all %v, some %v, ok %v; want all %v, some %v", c.t, mint, all, some, ok, c.all, c.some)
		}
	}
	straddle := AppendDenseSamples(nil, []RefSample{{1, mint - 1, 1}, {2, mint, 2}})
	if _, all, some, ok := denseKept(straddle, keep, mint); !ok || all || !some {
		t.Errorf("samples at mint-1 and mint: all %v, some %v, ok %v; want some", all, some, ok)
	}
	if whole < 100 {
		t.Fatalf("only %d records kept whole: the test does not exercise the copy", whole)
	}
}

// A damaged record is never taken through the shortcut: denseKept and
// seriesKept refuse whatever the decoders refuse.
func TestPassThroughRefusesWhatDecodingRefuses(t *testing.T) {
	ss := []RefSample{{1, 100, 1}, {1, 110, 2.5}, {2, 100, 3}}
	dense := AppendDenseSamples(nil, ss)
	ls := model.MustFromStrings(model.MetricName, "up", "job", "api")
	series := AppendSeries(nil, []RefSeries{{Ref: 1, Labels: ls}, {Ref: 2, Labels: ls}})
	all := func(uint64) bool { return true }
	for cut := range len(dense) {
		_, derr := DecodeSamples(dense[:cut], nil)
		if _, _, _, ok := denseKept(dense[:cut], all, 0); ok && derr != nil {
			t.Errorf("dense record cut at %d: denseKept reads it, decoding says %v", cut, derr)
		}
	}
	for cut := range len(series) {
		_, derr := DecodeSeries(series[:cut], nil)
		if _, _, ok := seriesKept(series[:cut], all); ok && derr != nil {
			t.Errorf("series record cut at %d: seriesKept reads it, decoding says %v", cut, derr)
		}
	}
	// Trailing bytes, and labels out of order.
	raw := AppendDenseSamples(nil, []RefSample{{1, 100, 1.0 / 3}, {2, 100, 2}}) // values stored raw
	for i, rec := range [][]byte{dense, raw} {
		if _, _, _, ok := denseKept(append(slices.Clone(rec), 0), all, 0); ok {
			t.Errorf("record %d of 2: denseKept reads it with a trailing byte", i+1)
		}
	}
	// "zz_name_" has the length of "__name__" and sorts after "job".
	bad := bytes.Replace(series, []byte("__name__"), []byte("zz_name_"), 1)
	if _, err := DecodeSeries(bad, nil); err == nil {
		t.Fatal("test setup: the unsorted record decodes")
	}
	if _, _, ok := seriesKept(bad, all); ok {
		t.Error("seriesKept reads a record whose labels are not sorted")
	}
	n, kept, ok := seriesKept(series, func(ref uint64) bool { return ref == 2 })
	if !ok || n != 2 || kept != 1 {
		t.Errorf("seriesKept = %d, %d, %v; want 2, 1, true", n, kept, ok)
	}
}
