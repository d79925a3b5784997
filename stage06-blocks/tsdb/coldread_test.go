package tsdb

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tsdb-course/stage06-blocks/chunks"
)

// coldSrcs returns n zstd-compressed cold float chunks of one series, in
// order, as chunk sources in memory.
func coldSrcs(t *testing.T, n int) []chunkSrc {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 5))
	var data []byte
	var srcs []chunkSrc
	src := &source{capT: math.MaxInt64}
	const per = 1000
	for i := range n {
		ts, vs := make([]int64, per), make([]float64, per)
		for j := range per {
			ts[j] = int64(i*per+j) * 15_000
			vs[j] = float64(r.IntN(4) * 1000) // few values: zstd finds the repeats
		}
		off := len(data)
		var err error
		if data, err = chunks.AppendCold(data, ts, vs, true, nil); err != nil {
			t.Fatal(err)
		}
		if data[off] != chunks.ColdZstd {
			t.Fatalf("chunk %d is not zstd-compressed", i)
		}
		srcs = append(srcs, chunkSrc{minT: ts[0], maxT: ts[per-1], ref: dataRef(off, len(data)-off).WithEncoding(chunks.EncFloat), src: src})
	}
	src.data = data
	return srcs
}

// TestColdReadScratchReused: reading cold zstd chunks one after the other,
// through the chunk iterator and through decodeAny with one arena, reuses
// the decoder's buffers: reading 32 chunks costs no more allocations than
// reading 4 (it cost at least one more a chunk, the zstd body's buffer).
func TestColdReadScratchReused(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not the code's under -race")
	}
	iterAllocs := func(srcs []chunkSrc) float64 {
		return testing.AllocsPerRun(5, func() {
			it := newChunkIterator(srcs, math.MinInt64, math.MaxInt64, nil)
			n := 0
			for it.Next() {
				n++
			}
			if it.Err() != nil || n != 1000*len(srcs) {
				t.Fatalf("read %d samples, %v; want %d", n, it.Err(), 1000*len(srcs))
			}
		})
	}
	anyAllocs := func(srcs []chunkSrc) float64 {
		var arena histArena
		var buf []hsample
		return testing.AllocsPerRun(5, func() {
			for i := range srcs {
				b, err := srcs[i].queryBytes()
				if err == nil {
					buf, err = decodeAny(b, buf[:0], &arena)
				}
				if err != nil || len(buf) != 1000 {
					t.Fatalf("chunk %d: %d samples, %v", i, len(buf), err)
				}
			}
		})
	}
	few, many := coldSrcs(t, 4), coldSrcs(t, 32)
	for _, c := range []struct {
		name  string
		count func([]chunkSrc) float64
	}{{"chunk iterator", iterAllocs}, {"decodeAny", anyAllocs}} {
		a, b := c.count(few), c.count(many)
		t.Logf("%s: %.0f allocations for 4 cold chunks, %.0f for 32", c.name, a, b)
		if b > a+2 {
			t.Errorf("%s: %.0f allocations for 4 cold chunks, %.0f for 32", c.name, a, b)
		}
	}
}
