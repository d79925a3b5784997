package remote

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/tsdb-course/stage01-memstore/model"
)

// xorOracleSeries: sample shapes that reach every delta-of-delta bucket
// and every value case (equal, inside the window, a new window, NaN, a
// 64-bit meaningful run).
func xorOracleSeries(r *rand.Rand) [][]model.Sample {
	var out [][]model.Sample
	steps := []func(i int) int64{
		func(int) int64 { return 15000 },                                // regular
		func(int) int64 { return 15000 + r.Int64N(2000) - 1000 },        // jitter: 14 bits
		func(int) int64 { return 1 + r.Int64N(100000) },                 // 17 and 20 bits
		func(int) int64 { return 1 + r.Int64N(1<<40) },                  // 64 bits
		func(i int) int64 { return int64(1 + i%3*(1<<19)) },             // bucket edges
		func(i int) int64 { return []int64{1, 8193, 1, 65537, 1}[i%5] }, // exactly 2^(n-1) apart
	}
	values := []func(i int, prev float64) float64{
		func(int, float64) float64 { return 42 },
		func(i int, _ float64) float64 { return float64(i) },
		func(int, float64) float64 { return r.Float64() * 1e6 },
		func(_ int, prev float64) float64 { return prev + 0.25 },
		func(i int, _ float64) float64 {
			return []float64{math.NaN(), math.Inf(1), -0.0, math.MaxFloat64, 1e-300}[i%5]
		},
		func(int, float64) float64 { return math.Float64frombits(r.Uint64()) },
		func(_ int, prev float64) float64 { // low bits only: over 31 leading zeros
			return math.Float64frombits(math.Float64bits(prev) ^ uint64(r.IntN(1<<20)))
		},
	}
	for _, step := range steps {
		for _, val := range values {
			for _, n := range []int{0, 1, 2, 3, 120, 500} {
				t := r.Int64N(1<<42) - 1<<41 // negative too
				prev := 0.0
				s := make([]model.Sample, n)
				for i := range s {
					prev = val(i, prev)
					s[i] = model.Sample{T: t, V: prev}
					t += step(i)
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// TestXORChunkMatchesPrometheus: AppendXORChunk writes the bytes
// Prometheus's own chunkenc.XORChunk writes for the same samples, and
// chunkenc's iterator reads them back bit for bit.
func TestXORChunkMatchesPrometheus(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 1))
	for k, ss := range xorOracleSeries(r) {
		got, err := AppendXORChunk(nil, ss)
		if err != nil {
			t.Fatal(err)
		}
		want := chunkenc.NewXORChunk()
		app, err := want.Appender()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			app.Append(0, s.T, s.V)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("series %d (%d samples): bytes differ\n got %x\nwant %x", k, len(ss), head8(got), head8(want.Bytes()))
		}
		c, err := chunkenc.FromData(chunkenc.EncXOR, got)
		if err != nil {
			t.Fatal(err)
		}
		it := c.Iterator(nil)
		i := 0
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			if ts != ss[i].T || math.Float64bits(v) != math.Float64bits(ss[i].V) {
				t.Fatalf("series %d sample %d: %d %v, want %v", k, i, ts, v, ss[i])
			}
			i++
		}
		if it.Err() != nil || i != len(ss) {
			t.Fatalf("series %d: read %d of %d samples: %v", k, i, len(ss), it.Err())
		}
	}
	if _, err := AppendXORChunk(nil, make([]model.Sample, MaxXORSamples+1)); err != ErrChunkTooLarge {
		t.Fatalf("oversized chunk: %v", err)
	}
}

func head8(b []byte) []byte {
	if len(b) > 48 {
		return b[:48]
	}
	return b
}

// TestXORChunks: the samples are cut into chunks of 120 whose ranges and
// contents cover them exactly.
func TestXORChunks(t *testing.T) {
	ss := make([]model.Sample, 250)
	for i := range ss {
		ss[i] = model.Sample{T: int64(i) * 1000, V: float64(i)}
	}
	cs := XORChunks(ss)
	if len(cs) != 3 {
		t.Fatalf("%d chunks, want 3", len(cs))
	}
	n := 0
	for _, c := range cs {
		ch, err := chunkenc.FromData(chunkenc.EncXOR, c.Data)
		if err != nil {
			t.Fatal(err)
		}
		if c.Type != ChunkXOR || c.MinT != ss[n].T || c.MaxT != ss[n+ch.NumSamples()-1].T {
			t.Fatalf("chunk %+v at sample %d", c.MinT, n)
		}
		n += ch.NumSamples()
	}
	if n != len(ss) || XORChunks(nil) != nil {
		t.Fatalf("%d samples in chunks", n)
	}
}
