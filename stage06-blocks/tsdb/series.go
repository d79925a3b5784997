package tsdb

import (
	"math"
	"sync"

	"github.com/tsdb-course/stage03-gorilla/gorilla"
	"github.com/tsdb-course/stage06-blocks/block"
	"github.com/tsdb-course/stage06-blocks/chunks"
)

// SamplesPerChunk is the most samples a head chunk takes before it is cut:
// 120, as in Prometheus (two hours of 1-minute samples, 30 minutes of
// 15-second ones), where the Gorilla encoding has paid off its start-up cost
// and a query decoding a chunk for a few samples still decodes few.
const SamplesPerChunk = 120

// memSeries is one series in the head. Full chunks are in the head-chunks
// file (mmapped: only their references are in memory); the open chunk is the
// only sample data on the Go heap.
//
// mu guards every field below it. Readers copy what they need under mu
// (the references, the open chunk's bytes) and read after unlocking.
type memSeries struct {
	ref uint64 // head ref: what Append returns and the WAL names the series by
	id  uint32 // ID in the head's index

	mu sync.Mutex
	// logged: a series record for ref is in the WAL; until then, every
	// Commit that appends to the series logs one (duplicates are harmless).
	logged bool
	// dead: truncation removed the series from the head; an appender that
	// still holds it must look its labels up again.
	dead bool

	mmapped []chunks.Meta // full chunks in the head-chunks file, oldest first

	open     gorilla.Chunk    // the open chunk; valid when openN > 0
	app      gorilla.Appender // its appender
	openN    int              // samples in the open chunk
	openMinT int64
	// boundary is the end of the block range openMinT is in: a sample at or
	// after it starts a new chunk, so no chunk ever spans two blocks and
	// cutting a block from the head never re-encodes a chunk.
	boundary int64

	maxT    int64   // newest in-order sample; math.MinInt64 when none
	lastV   float64 // its value
	pending int64   // newest timestamp accepted by an uncommitted Append

	txs []tx // isolation entries (isolation.go)

	ooo    *oooSamples     // out-of-order samples, nil without any
	stones block.Intervals // deleted ranges (Delete)
}

func newMemSeries(ref uint64, id uint32) *memSeries {
	return &memSeries{ref: ref, id: id, maxT: math.MinInt64, pending: math.MinInt64}
}

// appendInOrder adds a sample newer than maxT. cut reports a chunk that
// became full (its bytes are only valid until the next append: the caller
// writes them to the head-chunks file at once, under mu).
func (s *memSeries) appendInOrder(t int64, v float64, blockRange int64, id, low uint64) (full []byte, fullMin, fullMax int64) {
	if s.openN > 0 && (s.openN >= SamplesPerChunk || t >= s.boundary) {
		full, fullMin, fullMax = s.open.Bytes(), s.openMinT, s.maxT
		s.openN = 0
	}
	if s.openN == 0 {
		// A new chunk has a buffer of its own, so full stays valid.
		c, _ := gorilla.NewChunk(gorilla.XOR) // XOR is always valid
		s.open = *c
		a, _ := s.open.Appender() // an empty owned chunk: cannot fail
		s.app = *a
		s.openMinT = t
		s.boundary = (floorDiv(t, blockRange) + 1) * blockRange
	}
	// A head chunk has at most 120 samples and any float is valid in an
	// XOR chunk: Append cannot fail.
	_ = s.app.Append(t, v)
	s.openN++
	s.maxT, s.lastV = t, v

	// Isolation: forget entries every reader sees, then record this one.
	n := 0
	for n < len(s.txs) && s.txs[n].id < low {
		n++
	}
	if n > 0 {
		s.txs = s.txs[:copy(s.txs, s.txs[n:])]
	}
	s.txs = append(s.txs, tx{id: id, t: t})
	return full, fullMin, fullMax
}

// floorDiv divides rounding towards minus infinity, so that negative
// timestamps align to block boundaries too.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// minTime is the oldest sample the series holds in memory or in the head
// chunks (in order or not); math.MaxInt64 for an empty series. Called with mu.
func (s *memSeries) minTime() int64 {
	m := int64(math.MaxInt64)
	if len(s.mmapped) > 0 {
		m = s.mmapped[0].MinT
	} else if s.openN > 0 {
		m = s.openMinT
	}
	if s.ooo != nil {
		m = min(m, s.ooo.minTime())
	}
	return m
}

// chunkSrc is one chunk a reader will iterate: either its bytes (the copy
// of an open chunk, an out-of-order chunk) or where to find them.
type chunkSrc struct {
	minT, maxT int64
	data       []byte
	ref        chunks.Ref
	blk        *block.Block       // block chunk
	hc         *chunks.HeadChunks // head chunk
	stones     block.Intervals
	capT       int64 // isolation: samples after capT are not visible
	// ooo marks an out-of-order chunk: where it and an in-order chunk have
	// the same timestamp, the in-order sample wins.
	ooo bool
}

func (c *chunkSrc) bytes() ([]byte, error) {
	switch {
	case c.data != nil:
		return c.data, nil
	case c.blk != nil:
		return c.blk.Chunk(c.ref)
	default:
		return c.hc.Chunk(c.ref)
	}
}

// snapshot appends the chunks of the series overlapping [mint, maxt] as a
// reader with snapshot st sees them.
func (s *memSeries) snapshot(dst []chunkSrc, hc *chunks.HeadChunks, mint, maxt int64, st *isoState) []chunkSrc {
	s.mu.Lock()
	defer s.mu.Unlock()
	capT := st.capFor(s.txs)
	hi := min(maxt, capT)
	for _, m := range s.mmapped {
		if m.Overlaps(mint, hi) {
			dst = append(dst, chunkSrc{minT: m.MinT, maxT: m.MaxT, ref: m.Ref, hc: hc, stones: s.stones, capT: capT})
		}
	}
	if s.openN > 0 && s.openMinT <= hi && s.maxT >= mint {
		b := s.open.Bytes()
		dst = append(dst, chunkSrc{minT: s.openMinT, maxT: s.maxT, data: append(make([]byte, 0, len(b)), b...), stones: s.stones, capT: capT})
	}
	if s.ooo != nil {
		dst = s.ooo.snapshot(dst, mint, maxt, s.stones)
	}
	return dst
}
