package gorilla

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage01-memstore/model/histogram"
)

// FuzzHistogramChunk: any generated counter series (any schema, negative
// and positive buckets whose set grows, zero bucket, NaN observations,
// custom bounds, irregular timestamps, any chunk length) round-trips
// through integer and float histogram chunks.
func FuzzHistogramChunk(f *testing.F) {
	for _, s := range []struct {
		seed   uint64
		n, per uint8
		custom bool
	}{{1, 100, 120, false}, {2, 5, 2, false}, {3, 200, 37, true}, {4, 1, 1, false}, {5, 250, 255, false}} {
		f.Add(s.seed, s.n, s.per, s.custom)
	}
	f.Fuzz(func(t *testing.T, seed uint64, n, per uint8, custom bool) {
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		ts, hs := randomHistograms(rng, int(n), custom)
		checkRoundTrip(t, ts, hs, max(1, int(per)))
		checkFloatRoundTrip(t, ts, scaledFloats(hs, 0.3), max(1, int(per)))
	})
}

func seedHistogramChunks(f *testing.F) {
	ts, hs := SyntheticHistograms(30, 1)
	fts, fhs := SyntheticFloatHistograms(10, 1)
	rng := rand.New(rand.NewPCG(9, 9))
	rts, rhs := randomHistograms(rng, 20, false)
	cts, chs := randomHistograms(rng, 10, true)
	var seeds [][]byte
	for _, c := range encodeHistograms(f, ts, hs, 120) {
		seeds = append(seeds, c.Bytes())
	}
	for _, c := range encodeHistograms(f, rts, rhs, 120) {
		seeds = append(seeds, c.Bytes())
	}
	for _, c := range encodeHistograms(f, cts, chs, 120) {
		seeds = append(seeds, c.Bytes())
	}
	for _, c := range encodeFloatHistograms(f, fts, fhs, 120) {
		seeds = append(seeds, c.Bytes())
	}
	for _, b := range seeds {
		f.Add(b)
		f.Add(b[:len(b)/2])
		fl := append([]byte(nil), b...)
		fl[len(b)/3] ^= 0x08
		f.Add(fl)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff})
}

// FuzzHistogramIterator: arbitrary bytes never panic either iterator; an
// error wraps ErrCorrupt; a chunk the iterator accepts can be appended to,
// and what it decodes to, appended to a new chunk, decodes the same.
func FuzzHistogramIterator(f *testing.F) {
	seedHistogramChunks(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		it := NewHistogramIterator(b)
		var hs []*histogram.Histogram
		var ts []int64
		for it.Next() {
			tt, h := it.AtHistogram(nil)
			it.AtFloatHistogram(nil)
			ts, hs = append(ts, tt), append(hs, h)
		}
		if err := it.Err(); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%v does not wrap ErrCorrupt", err)
			}
		} else {
			c, err := HistogramChunkFromBytes(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Appender(); err != nil {
				t.Fatalf("iterator accepted the chunk, Appender: %v", err)
			}
			reencode(t, ts, hs)
		}
		fit := NewFloatHistogramIterator(b)
		for fit.Next() {
			fit.AtFloatHistogram(nil)
		}
		if err := fit.Err(); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v does not wrap ErrCorrupt", err)
		}
	})
}

// reencode appends decoded samples to a new chunk; if the appender takes
// them all (a fuzzed chunk may hold what it refuses: counter resets,
// invalid histograms), the new chunk must decode to the same samples.
func reencode(t *testing.T, ts []int64, hs []*histogram.Histogram) {
	c := NewHistogramChunk()
	a, _ := c.Appender()
	for i, h := range hs {
		if err := a.Append(ts[i], h); err != nil {
			return
		}
	}
	gotT, gotH := decodeHistograms(t, c.Bytes())
	if len(gotH) != len(hs) {
		t.Fatalf("re-encoded %d samples, decoded %d", len(hs), len(gotH))
	}
	for i := range hs {
		if gotT[i] != ts[i] || !sameHistogram(gotH[i], hs[i]) {
			t.Fatalf("sample %d: re-encoded %+v, decoded %+v", i, hs[i], gotH[i])
		}
	}
}
