package tsdb

import (
	"runtime"
	"slices"
	"sync"

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
// (either may be nil). sc may be nil (a cold chunk then allocates its
// scratch).
func decodeFloatAll(b []byte, ts []int64, vs []float64, sc *chunks.ColdScratch) ([]int64, []float64, error) {
	if chunks.IsCold(b) {
		return chunks.DecodeCold(b, ts, vs, sc)
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
	join int // cold chunks of fewer samples are joined, not copied
	bs   [][]byte
	ss   []model.Sample
	dsc  decodeScratch
	ts   []int64
	vs   []float64
	cts  []int64 // a small cold chunk's samples, to join
	cvs  []float64
	out  []byte
	ends []int // chunk k is out[ends[k-1]:ends[k]] (ends[-1] = 0)
	sc   chunks.ColdScratch
	cs   []block.ChunkData
}

// When compaction merges cold chunks that do not overlap, a chunk of
// fewer samples than the merge's join bound is joined with its small
// neighbours (decoded and encoded anew, up to chunks.ColdChunkSamples); a
// larger one is copied as it is. Each chunk costs its framing, its index
// entry and zstd's tables, about 100 bytes (a series at 15 s in 6 h chunks
// of 1,440 samples takes 7 % more than in chunks of 8,192), but joining
// costs what the first encoding did, at every level that joins. So a
// merge into a block that the plan merges again (below the top level of
// CompactionRanges) joins only tiny chunks (coldJoinSmall) and copies the
// rest: a sample is encoded once there, at the first cold level; the
// merge into a top-level block, where data stays until retention, joins
// every chunk under half the maximum (coldJoinTop), once. Variables so
// that a test can move them.
var (
	coldJoinSmall = chunks.ColdChunkSamples / 8
	coldJoinTop   = chunks.ColdChunkSamples / 2
)

// build returns the series' chunks in [mint, maxt) as cold chunks of at
// most chunks.ColdChunkSamples. Where the chunks do not overlap, lie inside
// the range and have no deleted samples (the rule of buildChunks), a cold
// chunk of e.join samples or more is copied as it is, as a Gorilla merge
// copies chunks, not decoded and encoded again. The other chunks (Gorilla
// ones, small cold ones, or all of them where chunks overlap or samples
// are deleted) are decoded (merged, deduplicated, deleted ones left out:
// decodeSeries) and encoded, each run of them split evenly. A series
// holding histograms is left to buildChunks (its chunks stay stage03's),
// and a run short enough for a single Gorilla chunk keeps one when that is
// smaller: a handful of samples costs less in Gorilla than in two columns
// with their framing.
func (e *coldEncoder) build(srcs []chunkSrc, mint, maxt int64) ([]block.ChunkData, error) {
	if hasHist(srcs) {
		return buildChunks(srcs, mint, maxt, false)
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
	e.out, e.cs, e.ends = e.out[:0], e.cs[:0], e.ends[:0]
	if !copyable(srcs, mint, maxt) {
		if err := e.decodeMerged(srcs, e.bs, mint, maxt); err != nil {
			return nil, err
		}
		if err := e.encode(); err != nil {
			return nil, err
		}
		return e.chunks(), nil
	}
	for i := 0; i < len(srcs); {
		if n := coldSamples(e.bs[i], e.join); n > 0 {
			e.out = append(e.out, e.bs[i]...)
			e.ends = append(e.ends, len(e.out))
			e.cs = append(e.cs, block.ChunkData{MinT: srcs[i].minT, MaxT: srcs[i].maxT, Samples: n})
			i++
			continue
		}
		j := i + 1
		for j < len(srcs) && coldSamples(e.bs[j], e.join) == 0 {
			j++
		}
		if err := e.decodeInRange(srcs[i:j], e.bs[i:j], mint, maxt); err != nil {
			return nil, err
		}
		if err := e.encode(); err != nil {
			return nil, err
		}
		i = j
	}
	return e.chunks(), nil
}

// coldSamples is the sample count of b when it is a cold chunk to copy
// (join samples or more), else 0.
func coldSamples(b []byte, join int) int {
	if !chunks.IsCold(b) {
		return 0
	}
	if n, err := chunks.ColdNumSamples(b); err == nil && n >= join {
		return n
	}
	return 0
}

// copyable says whether a series' chunks may be copied into a block of
// [mint, maxt) as they are: none overlaps another, none reaches outside
// the range, none has deleted samples.
func copyable(srcs []chunkSrc, mint, maxt int64) bool {
	if hasOverlap(srcs) {
		return false
	}
	for i := range srcs {
		c := &srcs[i]
		if c.minT < mint || c.maxT >= maxt || c.stones().Overlaps(c.minT, c.maxT) {
			return false
		}
	}
	return true
}

// chunks slices the encoded chunks out of e.out, which is done growing.
func (e *coldEncoder) chunks() []block.ChunkData {
	if len(e.cs) == 0 {
		return nil
	}
	start := 0
	for i := range e.cs {
		if e.cs[i].Data == nil {
			e.cs[i].Data = e.out[start:e.ends[i]:e.ends[i]]
		}
		start = e.ends[i]
	}
	return e.cs
}

// decodeMerged decodes the samples of srcs (bs their bytes) in [mint,
// maxt) into e.ts and e.vs: merged, deduplicated, deleted ones left out
// (decodeSeries).
func (e *coldEncoder) decodeMerged(srcs []chunkSrc, bs [][]byte, mint, maxt int64) error {
	var err error
	if e.ss, err = decodeSeries(srcs, bs, mint, maxt-1, e.ss[:0], &e.dsc); err != nil {
		return err
	}
	e.ts = slices.Grow(e.ts[:0], len(e.ss))[:len(e.ss)]
	e.vs = slices.Grow(e.vs[:0], len(e.ss))[:len(e.ss)]
	ts, vs := e.ts, e.vs[:len(e.ts)]
	for i, s := range e.ss[:len(ts)] {
		ts[i], vs[i] = s.T, s.V
	}
	return nil
}

// decodeInRange decodes chunks that copyable accepted (in order, inside
// the range, nothing deleted) straight into e.ts and e.vs, with no merge
// and no filter: Gorilla chunks by stage03's column decoder.
func (e *coldEncoder) decodeInRange(srcs []chunkSrc, bs [][]byte, mint, maxt int64) error {
	e.ts, e.vs = e.ts[:0], e.vs[:0]
	for k, b := range bs {
		if srcs[k].capT() < srcs[k].maxT { // hidden by isolation: not a block's chunk
			return e.decodeMerged(srcs, bs, mint, maxt)
		}
		var err error
		if chunks.IsCold(b) {
			e.cts, e.cvs, err = chunks.DecodeCold(b, e.cts, e.cvs, &e.dsc.cold)
			e.ts, e.vs = append(e.ts, e.cts...), append(e.vs, e.cvs...)
		} else {
			e.ts, e.vs, err = gorilla.DecodeAll(b, e.ts, e.vs)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// encode appends e.ts and e.vs to e.out as cold chunks, split evenly.
func (e *coldEncoder) encode() error {
	var err error
	if len(e.ts) == 0 {
		return nil
	}
	if len(e.ts) <= SamplesPerChunk {
		// A Gorilla chunk when that is smaller; its bytes are its own
		// (Data set: chunks leaves it as it is).
		g, err := encodeBest(e.ts, e.vs)
		if err != nil {
			return err
		}
		start := len(e.out)
		if e.out, err = chunks.AppendCold(e.out, e.ts, e.vs, true, &e.sc); err != nil {
			return err
		}
		if len(g.Data) < len(e.out)-start {
			e.out = e.out[:start]
			e.ends = append(e.ends, start)
			e.cs = append(e.cs, g)
			return nil
		}
		e.ends = append(e.ends, len(e.out))
		e.cs = append(e.cs, block.ChunkData{MinT: e.ts[0], MaxT: e.ts[len(e.ts)-1], Samples: len(e.ts)})
		return nil
	}
	k := (len(e.ts) + chunks.ColdChunkSamples - 1) / chunks.ColdChunkSamples
	for i := range k {
		a, b := i*len(e.ts)/k, (i+1)*len(e.ts)/k
		if e.out, err = chunks.AppendCold(e.out, e.ts[a:b], e.vs[a:b], true, &e.sc); err != nil {
			return err
		}
		e.ends = append(e.ends, len(e.out))
		e.cs = append(e.cs, block.ChunkData{MinT: e.ts[a], MaxT: e.ts[b-1], Samples: b - a})
	}
	return nil
}

// coldWorkers is how many goroutines encode the series of a merge into a
// cold block unless Options.CompactionWorkers says: one per core the
// process may run on, as the work is all CPU (decode, columns, zstd); not
// one per P, since a program may run more Ps than cores (stage11 does). A
// variable so that a test can compare the parallel output with the
// sequential one.
var coldWorkers = func() int { return min(runtime.GOMAXPROCS(0), runtime.NumCPU()) }

// coldBatchSeries is how many series a batch holds: enough that each
// worker has a run of series to encode between two hand-offs, few enough
// that the batch's encoded chunks stay small (a few MB at most).
const coldBatchSeries = 256

// coldBatches encodes a merge's series as cold chunks in parallel and adds
// them to the block in label order. mergeSeries hands it series one by
// one; every coldBatchSeries of them, the workers encode the batch (worker
// k takes series k, k+W, …, each with its own coldEncoder, so that an
// encoding never depends on which goroutine or batch ran it) and the
// caller's goroutine then adds the series in order: the block is byte for
// byte what one goroutine writes (TestColdParallelDeterministic).
type coldBatches struct {
	w          *block.Writer
	mint, maxt int64
	pend       []pendingSeries
	n          int
	encs       []coldEncoder
	arenas     [][]byte      // per worker: the encoded chunks of its series in the batch
	yield      func()        // the merge goroutine's, for a batch encoded on it
	newYield   func() func() // each worker goroutine's yield between series (background.go)
}

// pendingSeries is one series of a batch; its slices are reused from
// batch to batch.
type pendingSeries struct {
	lset model.Labels
	srcs []chunkSrc
	cs   []block.ChunkData // Data set from offs once the worker is done
	offs []int             // chunk k is arena[offs[k]:offs[k+1]]
	err  error
}

// newColdBatches: join is the merge's join bound (coldJoinSmall or
// coldJoinTop); a batch encoded on the merge's goroutine calls its yield
// between series, each worker goroutine one of newYield's (a second pacer
// on the same goroutine would count the first one's rests as work).
func newColdBatches(w *block.Writer, workers int, mint, maxt int64, join int, yield func(), newYield func() func()) *coldBatches {
	workers = max(workers, 1)
	cb := &coldBatches{
		w: w, mint: mint, maxt: maxt, yield: yield, newYield: newYield,
		pend:   make([]pendingSeries, coldBatchSeries),
		encs:   make([]coldEncoder, workers),
		arenas: make([][]byte, workers),
	}
	for k := range cb.encs {
		cb.encs[k].join = join
	}
	return cb
}

// srcs returns the empty source list for the next series, to append to
// and pass to add.
func (cb *coldBatches) srcs() []chunkSrc { return cb.pend[cb.n].srcs[:0] }

// add queues a series (srcs from srcs()) and encodes the batch when full.
func (cb *coldBatches) add(lset model.Labels, srcs []chunkSrc) error {
	p := &cb.pend[cb.n]
	p.lset, p.srcs = lset, srcs
	cb.n++
	if cb.n == len(cb.pend) {
		return cb.flush()
	}
	return nil
}

// flush encodes the queued series and adds them to the block in order.
func (cb *coldBatches) flush() error {
	workers := min(len(cb.encs), cb.n)
	if workers <= 1 {
		cb.work(0, 1, cb.yield)
	} else {
		var wg sync.WaitGroup
		for k := range workers {
			wg.Go(func() { cb.work(k, workers, cb.newYield()) })
		}
		wg.Wait()
	}
	for j := range cb.n {
		p := &cb.pend[j]
		if p.err != nil {
			return p.err
		}
		arena := cb.arenas[j%workers]
		for k := range p.cs {
			p.cs[k].Data = arena[p.offs[k]:p.offs[k+1]:p.offs[k+1]]
		}
		if err := cb.w.AddSeries(p.lset, p.cs); err != nil {
			return err
		}
	}
	for j := range cb.n {
		p := &cb.pend[j]
		p.lset, p.cs, p.err = model.Labels{}, p.cs[:0], nil
		clear(p.srcs) // no reference to a source outlives the batch
	}
	cb.n = 0
	return nil
}

// work encodes series k, k+workers, … of the batch into arena k. The
// chunks' bytes are recorded as offsets and sliced after the worker is
// done, as the arena may move while it grows.
func (cb *coldBatches) work(k, workers int, yield func()) {
	enc, arena := &cb.encs[k], cb.arenas[k][:0]
	for j := k; j < cb.n; j += workers {
		yield()
		p := &cb.pend[j]
		cs, err := enc.build(p.srcs, cb.mint, cb.maxt)
		p.err = err
		p.cs, p.offs = p.cs[:0], append(p.offs[:0], len(arena))
		for _, c := range cs {
			arena = append(arena, c.Data...)
			c.Data = nil
			p.cs = append(p.cs, c)
			p.offs = append(p.offs, len(arena))
		}
	}
	cb.arenas[k] = arena
}
