package tsdb

import (
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// coldEncoding is one way a block may store a series' samples.
type coldEncoding struct {
	name   string
	encode func(ts []int64, vs []float64, dst []block.ChunkData, sc *chunks.ColdScratch) ([]block.ChunkData, error)
}

var coldEncodings = []coldEncoding{
	// What blocks below ColdLevel hold: 120-sample Gorilla chunks, XOR or
	// Integer, whichever is smaller (encodeBest).
	{"gorilla", func(ts []int64, vs []float64, dst []block.ChunkData, _ *chunks.ColdScratch) ([]block.ChunkData, error) {
		for len(ts) > 0 {
			k := min(len(ts), SamplesPerChunk)
			c, err := encodeBest(ts[:k], vs[:k])
			if err != nil {
				return dst, err
			}
			dst = append(dst, c)
			ts, vs = ts[k:], vs[k:]
		}
		return dst, nil
	}},
	{"cold", coldEncode(false)},
	{"cold+zstd", coldEncode(true)},
}

// coldEncode splits a series as compaction does (coldEncoder.build).
func coldEncode(compress bool) func([]int64, []float64, []block.ChunkData, *chunks.ColdScratch) ([]block.ChunkData, error) {
	return func(ts []int64, vs []float64, dst []block.ChunkData, sc *chunks.ColdScratch) ([]block.ChunkData, error) {
		k := (len(ts) + chunks.ColdChunkSamples - 1) / chunks.ColdChunkSamples
		for i := range k {
			a, b := i*len(ts)/k, (i+1)*len(ts)/k
			data, err := chunks.AppendCold(nil, ts[a:b], vs[a:b], compress, sc)
			if err != nil {
				return dst, err
			}
			dst = append(dst, block.ChunkData{MinT: ts[a], MaxT: ts[b-1], Data: data, Samples: b - a})
		}
		return dst, nil
	}
}

// BenchmarkColdEncodings: per data shape (coldShapes) and block encoding,
// the chunk bytes per sample (chunk data only: no index, no segment entry
// framing) and the time to encode and to decode them, per sample.
// Decoding is the query path's: appendFloatSamples into []model.Sample.
// One op encodes and decodes the whole shape once.
func BenchmarkColdEncodings(b *testing.B) {
	for _, sh := range coldShapes(b, 1000) {
		n := float64(sh.samples())
		for _, enc := range coldEncodings {
			b.Run("shape="+sh.name+"/enc="+enc.name, func(b *testing.B) {
				var sc chunks.ColdScratch
				var cs []block.ChunkData
				var buf []model.Sample
				var encT, decT time.Duration
				var bytes int
				for b.Loop() {
					cs, bytes = cs[:0], 0
					start := time.Now()
					for i := range sh.ts {
						var err error
						if cs, err = enc.encode(sh.ts[i], sh.vs[i], cs, &sc); err != nil {
							b.Fatal(err)
						}
					}
					encT += time.Since(start)
					start = time.Now()
					got := 0
					for _, c := range cs {
						var err error
						if buf, err = appendFloatSamples(c.Data, buf[:0], &sc); err != nil {
							b.Fatal(err)
						}
						got += len(buf)
						bytes += len(c.Data)
					}
					decT += time.Since(start)
					if got != int(n) {
						b.Fatalf("decoded %d samples of %d", got, int(n))
					}
				}
				ops := float64(b.N)
				b.ReportMetric(float64(bytes)/n, "B/sample")
				b.ReportMetric(float64(encT.Nanoseconds())/ops/n, "encode-ns/sample")
				b.ReportMetric(float64(decT.Nanoseconds())/ops/n, "decode-ns/sample")
			})
		}
	}
}
