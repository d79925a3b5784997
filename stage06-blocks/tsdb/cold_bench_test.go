package tsdb

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/tsdb-course/stage01-memstore/measure"
	"github.com/tsdb-course/stage05-index/index"

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

// BenchmarkQuery24hColdVsGorilla: the 24 h range query (every sample of
// 1,000 counters at 15 s, 5.76M samples, read through the querier as
// BenchmarkQueryWeek does) over the same data compacted twice: into
// Gorilla blocks (ColdLevel -1) and into cold blocks (the default). One op
// runs the query on each directory in turn, so both figures come from
// the same minutes; the figures are CPU time of the process per query
// (user + system, all threads: the read-ahead decodes on every core).
func BenchmarkQuery24hColdVsGorilla(b *testing.B) {
	const series, points = 1000, 24 * 240
	build := func(cold bool) *DB {
		opts := benchOpts()
		if !cold {
			opts.ColdLevel = -1
		}
		dir := b.TempDir()
		db, err := Open(dir, opts)
		if err != nil {
			b.Fatal(err)
		}
		refs := make([]uint64, series)
		rng := rand.New(rand.NewPCG(20, 21))
		vals := make([]float64, series)
		for k := range points {
			app := db.Appender(nil)
			for i := range series {
				vals[i] += float64(rng.IntN(100))
				l := model.MustFromStrings(model.MetricName, "requests_total", "i", strconv.Itoa(i), "job", "node")
				if refs[i], err = app.Append(refs[i], l, int64(k)*15_000, vals[i]); err != nil {
					b.Fatal(err)
				}
			}
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
			if k%240 == 239 {
				if err := db.Compact(); err != nil {
					b.Fatal(err)
				}
			}
		}
		if _, err := db.FlushHead(); err != nil {
			b.Fatal(err)
		}
		if err := db.Compact(); err != nil {
			b.Fatal(err)
		}
		var size int64
		for _, bl := range db.Blocks() {
			size += bl.Size
		}
		b.Logf("cold %v: %d blocks, %.3f B/sample", cold, len(db.Blocks()), float64(size)/float64(series*points))
		return db
	}
	dbs := []*DB{build(false), build(true)}
	for _, db := range dbs {
		defer db.Close()
	}
	query := func(db *DB) {
		q, err := db.Querier(0, int64(points)*15_000)
		if err != nil {
			b.Fatal(err)
		}
		ss := q.Select(index.MustNewMatcher(index.MatchEqual, "job", "node"))
		var it Iterator
		n := 0
		for ss.Next() {
			it = ss.At().Iterator(it)
			for it.Next() {
				n++
			}
			if err := it.Err(); err != nil {
				b.Fatal(err)
			}
		}
		q.Close()
		if n != series*points {
			b.Fatalf("%d samples, want %d", n, series*points)
		}
	}
	var cpu [2]time.Duration
	for b.Loop() {
		for i, db := range dbs {
			start := measure.CPUTime()
			query(db)
			cpu[i] += measure.CPUTime() - start
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(cpu[0]), "gorilla-cpu-ms/query")
	b.ReportMetric(ms(cpu[1]), "cold-cpu-ms/query")
	b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "cold/gorilla")
}
