package tsdb

import (
	"github.com/tsdb-course/stage01-memstore/model"
	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// A float chunk in a block is either a stage03 Gorilla chunk or a cold
// chunk (chunks/cold.go) that compaction writes beyond ColdLevel; both have
// the EncFloat ref bits, and the first byte tells them apart. These
// functions are the query path's and compaction's one door to both.

// numFloatSamples is the sample count in a float chunk's header (0 when
// the header is damaged: the decoder reports that).
func numFloatSamples(b []byte) int {
	if chunks.IsCold(b) {
		n, _ := chunks.ColdNumSamples(b)
		return n
	}
	return gorilla.NumSamples(b)
}

// appendFloatSamples appends every sample of float chunk b to dst. sc may
// be nil (a cold chunk then allocates its scratch).
func appendFloatSamples(b []byte, dst []model.Sample, sc *chunks.ColdScratch) ([]model.Sample, error) {
	if chunks.IsCold(b) {
		return chunks.AppendColdSamples(b, dst, sc)
	}
	return gorilla.AppendSamples(b, dst)
}

// decodeFloatAll decodes float chunk b into two columns, reusing ts and vs
// (either may be nil).
func decodeFloatAll(b []byte, ts []int64, vs []float64) ([]int64, []float64, error) {
	if chunks.IsCold(b) {
		return chunks.DecodeCold(b, ts, vs, nil)
	}
	return gorilla.DecodeAll(b, ts, vs)
}

// floatChunkIterator walks one float chunk of either form: a Gorilla chunk
// lazily, a cold chunk decoded whole on Reset (its columns cannot be read
// one sample at a time).
type floatChunkIterator struct {
	g    gorilla.Iterator
	cold bool
	ts   []int64
	vs   []float64
	i    int
	err  error
	sc   chunks.ColdScratch
}

func (it *floatChunkIterator) Reset(b []byte) {
	it.cold = chunks.IsCold(b)
	if !it.cold {
		it.g.Reset(b)
		return
	}
	it.i, it.err = -1, nil
	it.ts, it.vs, it.err = chunks.DecodeCold(b, it.ts, it.vs, &it.sc)
}

func (it *floatChunkIterator) Next() bool {
	if !it.cold {
		return it.g.Next()
	}
	if it.i+1 >= len(it.ts) {
		it.i = len(it.ts)
		return false
	}
	it.i++
	return true
}

func (it *floatChunkIterator) At() (int64, float64) {
	if !it.cold {
		return it.g.At()
	}
	return it.ts[it.i], it.vs[it.i]
}

func (it *floatChunkIterator) Err() error {
	if !it.cold {
		return it.g.Err()
	}
	return it.err
}

// coldEncoder turns a series' chunks into the cold chunks of a block. Its
// buffers are reused from series to series; the chunks it returns are
// valid until the next build.
type coldEncoder struct {
	bs  [][]byte
	ss  []model.Sample
	dsc decodeScratch
	ts  []int64
	vs  []float64
	out []byte
	sc  chunks.ColdScratch
	cs  []block.ChunkData
}

// build decodes the series' samples in [mint, maxt) (merged, deduplicated,
// deleted ones left out: decodeSeries) and encodes them as cold
// chunks of at most chunks.ColdChunkSamples, the series split evenly. A
// series holding histograms is left to buildChunks (its chunks stay
// stage03's), and so is one short enough for a single Gorilla chunk when
// that is smaller: a handful of samples costs less in Gorilla than in two
// columns with their framing.
func (e *coldEncoder) build(srcs []chunkSrc, mint, maxt int64) ([]block.ChunkData, error) {
	if hasHist(srcs) {
		return buildChunks(srcs, mint, maxt)
	}
	// The query path's bulk decoder (a damaged chunk reads as empty, as
	// in a query; compactBlocks then abandons the block).
	e.bs = e.bs[:0]
	for i := range srcs {
		b, err := srcs[i].queryBytes()
		if err != nil {
			return nil, err
		}
		e.bs = append(e.bs, b)
	}
	var err error
	if e.ss, err = decodeSeries(srcs, e.bs, mint, maxt-1, e.ss[:0], &e.dsc); err != nil {
		return nil, err
	}
	e.ts, e.vs = e.ts[:0], e.vs[:0]
	for _, s := range e.ss {
		e.ts, e.vs = append(e.ts, s.T), append(e.vs, s.V)
	}
	if len(e.ts) == 0 {
		return nil, nil
	}
	k := (len(e.ts) + chunks.ColdChunkSamples - 1) / chunks.ColdChunkSamples
	e.out, e.cs = e.out[:0], e.cs[:0]
	var ends []int
	for i := range k {
		a, b := i*len(e.ts)/k, (i+1)*len(e.ts)/k
		var err error
		if e.out, err = chunks.AppendCold(e.out, e.ts[a:b], e.vs[a:b], true, &e.sc); err != nil {
			return nil, err
		}
		ends = append(ends, len(e.out))
		e.cs = append(e.cs, block.ChunkData{MinT: e.ts[a], MaxT: e.ts[b-1], Samples: b - a})
	}
	start := 0
	for i := range e.cs {
		e.cs[i].Data = e.out[start:ends[i]:ends[i]]
		start = ends[i]
	}
	if len(e.ts) <= SamplesPerChunk {
		g, err := encodeBest(e.ts, e.vs)
		if err == nil && len(g.Data) < len(e.cs[0].Data) {
			e.cs[0] = g
		}
	}
	return e.cs, nil
}
