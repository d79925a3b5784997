package tsdb

import (
	"bytes"
	"fmt"
	"github.com/tsdb-course/stage01-memstore/model"
	"math"
	"reflect"
	"testing"

	"github.com/tsdb-course/stage02-delta/gen"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// recodeEncodeBest is the rule recode had before it skipped the XOR
// re-encode: decode, encode as XOR and (all values integers) as Integer,
// keep the smallest of the two and the chunk as it was (the chunk on a
// tie). The test holds recode to it.
func recodeEncodeBest(b []byte) (block.ChunkData, error) {
	c, err := gorilla.FromBytes(b)
	if err != nil {
		return block.ChunkData{}, err
	}
	if c.Encoding() == gorilla.Integer {
		return block.ChunkData{Data: b, Samples: c.NumSamples()}, nil
	}
	ts, vs, err := gorilla.DecodeAll(b, nil, nil)
	if err != nil {
		return block.ChunkData{}, err
	}
	out, err := encodeBest(ts, vs)
	if err != nil {
		return block.ChunkData{}, err
	}
	if len(out.Data) >= len(b) {
		out.Data = b
	}
	return out, nil
}

// headChunkBytes ingests each series of a shape into a head (one commit
// per sample, as scrapes) and returns the bytes of every float chunk the
// head holds: the full ones in the head-chunks files and the open ones,
// which is what a head cut hands to recode.
func headChunkBytes(t testing.TB, ts [][]int64, vs [][]float64) [][]byte {
	t.Helper()
	db := openDB(t, t.TempDir(), testOpts())
	defer db.Close()
	for i := range ts {
		ls := lbls("m", "i", fmt.Sprint(i))
		var ref uint64
		for k := range ts[i] {
			app := db.Appender(nil)
			var err error
			if ref, err = app.Append(ref, ls, ts[i][k], vs[i][k]); err != nil {
				t.Fatal(err)
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var out [][]byte
	var ss sourceSet
	db.head.byID.each(func(s *memSeries) bool {
		for _, c := range s.snapshot(nil, &ss, db.head.hc, math.MinInt64, math.MaxInt64, nil, false) {
			b, err := c.bytes()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, bytes.Clone(b))
		}
		return true
	})
	return out
}

// TestRecodeSameAsEncodeBest: on the head chunks of every data shape of
// the encoding table, and on values chosen to sit at the Integer
// encoding's edges, recode gives the bytes the old rule gave. What makes
// the XOR re-encode needless is checked on the way: stage03's XOR encoding
// of a head chunk's samples is the chunk, byte for byte.
func TestRecodeSameAsEncodeBest(t *testing.T) {
	var chunksSeen, integer int
	check := func(name string, b []byte) {
		t.Helper()
		ts, vs, err := gorilla.DecodeAll(b, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c, err := gorilla.FromBytes(b); err == nil && c.Encoding() == gorilla.XOR {
			x, err := gorilla.Encode(ts, vs, gorilla.XOR)
			if err != nil || !bytes.Equal(x.Bytes(), b) {
				t.Fatalf("%s: XOR encoding of a head chunk's %d samples differs from it (%v)", name, len(ts), err)
			}
		}
		want, err := recodeEncodeBest(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := recode(b, true)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(got.Data, want.Data) || got.Samples != want.Samples {
			t.Fatalf("%s: recode gives %d bytes (%d samples), the old rule %d (%d)", name, len(got.Data), got.Samples, len(want.Data), want.Samples)
		}
		chunksSeen++
		if chunks.EncodingOf(got.Data) == chunks.EncFloat && !bytes.Equal(got.Data, b) {
			integer++
		}
	}
	for _, sh := range coldShapes(t, 8) {
		ts, vs := sh.ts, sh.vs
		if len(ts) > 12 {
			ts, vs = ts[:12], vs[:12]
		}
		for i, b := range headChunkBytes(t, ts, vs) {
			check(fmt.Sprintf("%s chunk %d", sh.name, i), b)
		}
	}
	edges := map[string][]float64{
		"small ints":      {1, 2, 3, 5, 8, 13, 21, 34},
		"large ints":      {1 << 52, 1<<52 + 1, 1 << 53, -(1 << 62), 1 << 62},
		"negative zero":   {0, math.Copysign(0, -1), 0},
		"nan":             {1, math.NaN(), 2},
		"stale":           {1, math.Float64frombits(gen.StaleNaN), 2},
		"inf":             {1, math.Inf(1), 2},
		"fractions":       {0.5, 1.5, 2.25},
		"one fraction":    {1, 2, 3, 4.5, 5},
		"constant":        {7, 7, 7, 7, 7, 7, 7, 7, 7},
		"beyond int64":    {1e19, 1e19, 1e19},
		"alternating big": {0, 1e15, 0, 1e15, 0, 1e15},
	}
	for name, v := range edges {
		ts := make([]int64, len(v))
		for k := range ts {
			ts[k] = int64(k) * 15_000
		}
		for i, b := range headChunkBytes(t, [][]int64{ts}, [][]float64{v}) {
			check(fmt.Sprintf("%s chunk %d", name, i), b)
		}
	}
	// The shapes' counters are integers; recode must have re-encoded some
	// (a test that never reaches the Integer branch proves little).
	if integer == 0 || chunksSeen < 100 {
		t.Fatalf("%d chunks, %d re-encoded as Integer: the shapes did not exercise recode", chunksSeen, integer)
	}
	t.Logf("%d chunks, %d re-encoded as Integer", chunksSeen, integer)
}

// BenchmarkRecode: the head cut's per-chunk work on the counters of
// BenchmarkFootprint (all integers: the Integer form is built) and the
// gauges (fractions: it is not), recode against the rule before it
// (encodeBest: an XOR encoding as well), per sample.
func BenchmarkRecode(b *testing.B) {
	for _, sh := range coldShapes(b, 4)[2:] {
		cs := headChunkBytes(b, sh.ts, sh.vs)
		n := 0
		for _, c := range cs {
			ch, _ := gorilla.FromBytes(c)
			n += ch.NumSamples()
		}
		for _, r := range []struct {
			name string
			f    func([]byte) (block.ChunkData, error)
		}{
			{"recode", func(c []byte) (block.ChunkData, error) { return recode(c, true) }},
			{"keep", func(c []byte) (block.ChunkData, error) { return recode(c, false) }},
			{"encodeBest", recodeEncodeBest},
		} {
			b.Run(sh.name+"/"+r.name, func(b *testing.B) {
				for range b.N {
					for _, c := range cs {
						if _, err := r.f(c); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sample")
			})
		}
	}
}

// TestHeadCutKeepsEncoding: with Options.HeadCutKeepsEncoding a head cut
// copies the head's XOR chunks into the 2 h block as they are; without it
// the chunks of all-integer series become Integer chunks. The samples read
// back the same either way.
func TestHeadCutKeepsEncoding(t *testing.T) {
	const series, steps = 12, 300
	var blocks [2][]map[int64]float64
	for k, keep := range []bool{false, true} {
		opts := testOpts()
		opts.HeadCutKeepsEncoding = keep
		opts.CompactionRanges = []int64{DefaultBlockRange} // the 2 h blocks stay as cut
		db := openDB(t, t.TempDir(), opts)
		for s := range series {
			app := db.Appender(nil)
			l := model.MustFromStrings(model.MetricName, "m", "s", fmt.Sprint(s))
			var ref uint64
			for i := range steps {
				v := float64(i * s) // integers
				if s%3 == 0 {
					v += 0.25 // not integers: XOR either way
				}
				var err error
				if ref, err = app.Append(ref, l, int64(i)*Minute, v); err != nil {
					t.Fatal(err)
				}
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.FlushHead(); err != nil {
			t.Fatal(err)
		}
		var integer, xor int
		for _, b := range db.Blocks() {
			samples := map[int64]float64{}
			for _, c := range blockChunks(t, b.Dir) {
				g, err := gorilla.FromBytes(c)
				if err != nil {
					t.Fatal(err)
				}
				if g.Encoding() == gorilla.Integer {
					integer++
				} else {
					xor++
				}
				ts, vs, err := gorilla.DecodeAll(c, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				for i := range ts {
					samples[ts[i]] += vs[i] // summed over the series
				}
			}
			blocks[k] = append(blocks[k], samples)
		}
		switch {
		case keep && integer > 0:
			t.Errorf("HeadCutKeepsEncoding: %d Integer chunks in the blocks (want the head's XOR chunks as they are)", integer)
		case !keep && integer == 0:
			t.Errorf("default: no Integer chunk among %d (the all-integer series' chunks are re-encoded)", xor)
		}
		db.Close()
	}
	if !reflect.DeepEqual(blocks[0], blocks[1]) {
		t.Errorf("the blocks' samples differ with and without HeadCutKeepsEncoding")
	}
}
